/**
 * `npm run test:e2e`: runs what the dev stack would deploy, for real, on loopback, and walks the MLflow
 * workflow through it. See docs/e2e.md.
 *
 * Steps run in order; a step that throws is a failure with its reason, and every later step is
 * reported as failed ("not run") rather than skipped. Every process started is stopped at the end,
 * on failure, on Ctrl-C and on SIGTERM. The last line is `N passed, N failed`; the exit code is 1
 * when anything failed.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Ctx } from "./context";
import { realBrowser } from "./browser";
import { databaseAndBucket, identityProvider, migrate, render, startProxy, startTracking, synthesize, tools } from "./deploy";
import type { LocalProcess } from "./lib/deployment";
import { Processes } from "./lib/processes";
import { registryGatesFlow } from "./registry-gates";
import { retention } from "./retention";
import { mlflowRunProject, trainingPipeline } from "./training";
import { Report, describe } from "./lib/report";
import { keepAliveLatency, memory } from "./runtime";
import { proxyDrain } from "./drain";
import { modelImage, modelServer } from "./serving";
import { inferenceObservability } from "./inference";
import { fuzzModelServer } from "./fuzz";
import { releasePipeline } from "./release";
import {
  eventsByWebhook,
  eventsFuzz,
  eventsHostileInput,
  eventsProcesses,
  eventsRefusals,
  eventsRestart,
  startRegistryEvents,
  stopEventsStandIns,
  webhookDestinations,
} from "./registry-events";
import { internalErrors } from "./errors";
import { teamsBefore, teamsIsolation, teamsProcesses, teamsPromotions, teamsRevocation, teamsSpoofing, teamsUpgrade } from "./teams";
import { azureBlobStore } from "./azure";
import { gcsStore } from "./gcs";
import { azureRetention } from "./azure-retention";
import { azureServing } from "./azure-serving";
import {
  artifactsInBucket,
  browserSignIn,
  garbageCollection,
  metrics,
  negativeChecks,
  onlyThroughProxy,
  registry,
  serve,
  signIn,
  train,
} from "./workflow";

async function main(): Promise<number> {
  const report = new Report();
  const repoRoot = path.resolve(__dirname, "..", "..", "..");
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-e2e-"));
  const procs = new Processes(path.join(runDir, "logs"));
  const ctx: Ctx = { report, procs, runDir, repoRoot, forwarders: [], refusals: {} };
  console.log(`mlflow-platform end-to-end run; logs and synthesized stack in ${runDir}`);

  let rendered: Awaited<ReturnType<typeof render>> | undefined;
  const processes = (): LocalProcess[] =>
    rendered
      ? [rendered.migration, rendered.tracking, rendered.proxy, rendered.gc, rendered.retention, ...eventsProcesses(), ...teamsProcesses()]
      : [];
  const r = () => {
    if (!rendered) throw new Error("cannot run: the stack's commands were not rendered (an earlier step failed)");
    return rendered;
  };
  const steps: [string, () => Promise<void>][] = [
    ["Tools (installed or reused, pinned versions)", () => tools(ctx)],
    ["OpenID provider (mockoidc)", () => identityProvider(ctx)],
    ["Synthesize the dev stack (local test profile) and read its workloads", () => synthesize(ctx)],
    [
      "Render the workloads' commands for loopback",
      async () => {
        rendered = await render(ctx);
      },
    ],
    ["PostgreSQL and S3 stand-ins, as the commands name them", () => databaseAndBucket(ctx, r())],
    ["Migration Job's command (before the server, as the stack orders it)", () => migrate(ctx, r().migration)],
    ["Tracking server Deployment's command", () => startTracking(ctx, r().tracking)],
    ["OAuth2 Proxy Deployment's command, behind the load balancer stand-in", () => startProxy(ctx, r().proxy)],
    ["Sign in (pipeline token)", () => signIn(ctx)],
    ["Refused without a valid identity", () => negativeChecks(ctx)],
    ["Browser sign-in (single sign-on)", () => browserSignIn(ctx)],
    ["1. Training script through the proxy", () => train(ctx)],
    ["A real browser (Chromium): sign in, the run and its loss chart, a write from the UI", () => realBrowser(ctx)],
    ["2. Artifacts in the bucket, under the stack's prefix", () => artifactsInBucket(ctx)],
    ["2a. Errors carry no internals: a missing artifact through the proxy", () => internalErrors(ctx)],
    ["3. Model registry via REST (aliases, stages)", () => registry(ctx)],
    ["3a. Registry events service's command, with Slack, Discord, GitHub and SMTP stand-ins", () => startRegistryEvents(ctx, r().dnsRules)],
    ["3b. Registry events: MLflow's webhooks reach every channel exactly once", () => eventsByWebhook(ctx)],
    ["3c. Registry events: forged, replayed and altered deliveries are refused", () => eventsRefusals(ctx)],
    [
      "3c-2. Registry events: a state set ahead, a line break, channel markup and oversized bodies from a signed-in user",
      () => eventsHostileInput(ctx),
    ],
    [
      "3c-3. MLflow's webhook API: only the events service can make MLflow post registry events, and only to itself",
      () => webhookDestinations(ctx),
    ],
    ["3c-4. Registry events: schema-driven fuzzing (Schemathesis) of the running service, then it still notifies", () => eventsFuzz(ctx)],
    [
      "3d. Registry events: stopped while a version is created and staged, each event exactly once after the restart",
      () => eventsRestart(ctx),
    ],
    ["3e. Registry tool: gates, approval by a second identity, promotion, rollback, history", () => registryGatesFlow(ctx)],
    ["4. Model serving from models:/<name>@production", () => serve(ctx)],
    ["4a. Model image: build context from models:/<name>/1, the Dockerfile's steps into a directory", () => modelImage(ctx)],
    ["4b. ModelEndpoint's command: /predict, /invocations, limits, bad input, metrics, logs, shutdown", () => modelServer(ctx)],
    ["4b'. Schema-driven fuzzing of the ModelEndpoint's command against its OpenAPI document (Schemathesis)", () => fuzzModelServer(ctx)],
    [
      "4c. Inference observability: logged inputs under obfuscation rules, the drift CronJob's command, the sink down",
      () => inferenceObservability(ctx, r().dnsRules),
    ],
    [
      "4d. Model release pipeline's scripts in order: resolve, gates, image contents, release change, smoke test, record, rollback",
      () => releasePipeline(ctx),
    ],
    ["5. Metrics of the tracking server and the proxy", () => metrics(ctx)],
    ["Runtime: tracking server memory (PSS of the pod's processes) vs its limit", () => memory(ctx)],
    ["Runtime: kept-alive vs fresh-connection latency", () => keepAliveLatency(ctx)],
    ["Runtime: a proxy pod drains before it stops (SIGTERM while requests flow)", () => proxyDrain(ctx)],
    ["6. Garbage collection CronJob's command", () => garbageCollection(ctx, r().gc)],
    [
      "7. Model retention CronJob's command (N newest + alias holders kept, the rest tagged for archival)",
      () => retention(ctx, r().retention),
    ],
    ["8. MLproject: mlflow run examples -e train --env-manager local, through the proxy", () => mlflowRunProject(ctx)],
    [
      "9. Training pipeline: the WorkflowTemplate's steps in order, as the pipeline's service account (projected token)",
      () => trainingPipeline(ctx),
    ],
    [
      "10a. Teams: the stack WITHOUT teams on a fresh database, populated through its proxy (an installation before the upgrade)",
      () => teamsBefore(ctx),
    ],
    [
      "10b. Teams: the upgrade: the teams stack's migration Job, access sync Job and tracking server on that database",
      () => teamsUpgrade(ctx),
    ],
    ["10c. Teams: team A cannot list, read or write team B's experiments, runs, artifacts or models", () => teamsIsolation(ctx)],
    [
      "10d. Teams: protected promotions (aliases, stages, platform.* tags, approval, four-eyes), enforced by the server",
      () => teamsPromotions(ctx),
    ],
    ["10e. Teams: identity and group headers a client sends gain nothing", () => teamsSpoofing(ctx)],
    [
      "10f. Teams: a group removed from configuration, the stack re-synthesized, the sync Job's command re-run: access revoked",
      () => teamsRevocation(ctx),
    ],
    ["Clients only ever talk to the proxy; no secret in arguments", () => onlyThroughProxy(ctx, processes())],
    ["11. GCP stack: tracking server, model, gc, retention, model serving and drift against fake-gcs-server (gs://)", () => gcsStore(ctx)],
    ["12. Azure stack: tracking server, model served and gc against Azurite (wasbs://)", () => azureBlobStore(ctx)],
    ["12b. Azure stack: the model-retention CronJob against Azurite (wasbs://)", () => azureRetention(ctx)],
    ["12c. Azure stack: the model server's inference log and the drift job against Azurite (wasbs://)", () => azureServing(ctx)],
  ];
  // Steps up to and including this one start the platform: without them nothing later can run.
  const platformSteps = 8;
  // E2E_ONLY=<regular expression>: the platform's steps, then only the steps whose title matches (a
  // shorter loop while working on some steps; the whole run remains the proof).
  const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : undefined;
  if (only) {
    const kept = steps.filter(([title], i) => i < platformSteps || only.test(title));
    report.info(
      `E2E_ONLY=${process.env.E2E_ONLY}: ${kept.length - platformSteps} of ${steps.length - platformSteps} steps after the platform's`,
    );
    steps.splice(0, steps.length, ...kept);
  }

  try {
    for (let i = 0; i < steps.length; i++) {
      const [title, body] = steps[i];
      if (procs.interrupted) {
        for (const [later] of steps.slice(i)) report.fail(later, `not run: interrupted by ${procs.interrupted}`);
        break;
      }
      report.step(title);
      try {
        await body();
      } catch (err) {
        report.fail(title, describe(err));
        if (i < platformSteps) {
          for (const [later] of steps.slice(i + 1)) report.fail(later, `not run: "${title}" failed`);
          break;
        }
      }
    }
  } finally {
    report.step("Cleanup");
    for (const f of ctx.forwarders) await f.close();
    await stopEventsStandIns();
    const times = await procs.stopAll();
    const left = procs.survivors();
    const slow = times.filter((t) => t.ms >= 500).map((t) => `${t.name} ${(t.ms / 1000).toFixed(1)} s`);
    report.check(
      "every process the harness started has stopped",
      left.length === 0,
      left.length
        ? `still running: ${left.join(", ")}`
        : `${times.length} process groups gone${slow.length ? ` (slowest: ${slow.join(", ")})` : ""}`,
    );
  }
  if (procs.interrupted) report.fail("run", `interrupted by ${procs.interrupted}`);
  // A failed run keeps its logs, data and synthesized stack for inspection; a passing one cleans up
  // (E2E_KEEP=1 keeps it anyway).
  const keep = report.failed > 0 || process.env.E2E_KEEP === "1";
  if (!keep) fs.rmSync(runDir, { recursive: true, force: true });
  report.info(
    `total ${report.seconds().toFixed(1)} s; ${keep ? `logs in ${path.join(runDir, "logs")}` : `run directory ${runDir} removed (E2E_KEEP=1 keeps it)`}`,
  );
  if (report.failures.length > 0) {
    console.log("\nFailures:");
    for (const f of report.failures) console.log(`  - ${f.split("\n")[0]}`);
  }
  console.log(`\n${report.summary()}`);
  if (procs.interrupted) return procs.interrupted === "SIGINT" ? 130 : 143;
  return report.failed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    console.log("\n0 passed, 1 failed");
    process.exitCode = 1;
  },
);
