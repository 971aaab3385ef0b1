/**
 * Schema-driven fuzzing of the model server (Schemathesis, test/e2e/lib/schemathesis.ts): the
 * ModelEndpoint's synthesized command serving the example model, fuzzed against the OpenAPI document it
 * serves itself. Inputs are generated from the document (its examples, boundary cases, random data);
 * every answer must be documented (status, content type, headers, body schema) and none may be a 5xx;
 * afterwards the server still serves and its metrics hold no 5xx. The caller header is the one the
 * gateway would set from a verified token (the server's identity rule is on, as behind the gateway).
 * Limits are raised so that the fuzzer meets the model rather than the per-caller limit.
 */
import * as path from "path";
import { envConfig, synthJson } from "../helpers/synth";
import { type Ctx, need } from "./context";
import { LocalDeployment, type AddressRule } from "./lib/deployment";
import { LOOPBACK, freePort, request, waitForHttp } from "./lib/net";
import { fuzz } from "./lib/schemathesis";
import { TerraformValues } from "./lib/terraform";
import { workloads } from "./lib/workloads";
import { builtModelImage } from "./serving";
import { promSum } from "./workflow";

const MODEL = "iris-classifier";

export async function fuzzModelServer(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const img = need(builtModelImage(), "the model image (step 4a)");
  const oidc = need(ctx.oidc, "the OpenID provider");
  const tools = need(ctx.tools, "tools");
  const overrides = {
    auth: { localTestProfile: true, issuerUrl: oidc.issuer },
    serving: {
      models: { [MODEL]: { callerRate: 100_000, callerBurst: 100_000 } },
      releases: { [MODEL]: { version: img.version, imageDigest: img.digest } },
      exposure: "ingress" as const,
      ingress: { domain: "models.example.com" },
    },
  };
  const json = synthJson(envConfig("dev", overrides)) as any;
  const wl = workloads(json).find(
    (w) =>
      w.kind === "Deployment" &&
      w.podLabels["app.kubernetes.io/component"] === "model-server" &&
      w.podLabels["mlflow-platform/model"] === MODEL,
  );
  if (!wl) throw new Error(`no model-server Deployment for ${MODEL} in the synthesized stack`);
  const container = wl.containers[0];
  const dep = new LocalDeployment(json, new TerraformValues(json, () => undefined), {}, path.join(ctx.runDir, "mounts"));
  const optRule: AddressRule = {
    why: "the image's files (built into a directory)",
    apply: (v) => v.replace(/^\/opt(?=\/|$)/, `${img.root}/opt`),
  };
  const ports = { http: await freePort(), metrics: await freePort() };
  const lp = dep.render(wl, container, {
    binaries: { "mlflow-platform": path.join(img.root, "opt", "venv", "bin", "mlflow-platform") },
    ports,
    rules: [optRule],
  });
  report.info(`${lp.name}: as Kubernetes runs it: ${lp.synthesized.argv.join(" ")}`);
  const proc = ctx.procs.start("model-endpoint-fuzzed", lp.argv, { env: { ...img.env, LANG: "C.UTF-8", ...lp.env } });
  const base = `http://${LOOPBACK}:${ports.http}`;
  const admin = `http://${LOOPBACK}:${ports.metrics}`;
  await waitForHttp(`${base}/ping`, proc, 300_000, 200);
  const callerHeader = container.command.args[container.command.args.indexOf("--caller-header") + 1];
  const identity = { [callerHeader]: "fuzz@example.com" };

  const r = await fuzz(ctx.procs, "schemathesis-model-server", {
    st: path.join(path.dirname(tools.python), "st"),
    schemaUrl: `${base}/openapi.json`,
    headers: identity,
    maxExamples: Number(process.env.FUZZ_MAX_EXAMPLES ?? 100),
  });
  report.info(
    `schemathesis (model server): ${r.operations.tested}/${r.operations.selected} operations, ${r.generated} inputs generated, ${r.failures} with a failed check, ${r.errors} errored, in ${r.seconds.toFixed(1)} s (report ${r.report})`,
  );
  const after = await request(`${base}/predict`, {
    method: "POST",
    caller: "probe",
    headers: { "Content-Type": "application/json", ...identity },
    body: JSON.stringify({ data: [5.1, 3.5, 1.4, 0.2] }),
  });
  const metrics = (await request(`${admin}/metrics`, { caller: "scrape" })).body;
  const fiveXX = promSum(metrics, "model_server_requests_total", (l) => l.status.startsWith("5")).sum;
  const answered = promSum(metrics, "model_server_requests_total").sum;
  report.check(
    "Schemathesis fuzzing of the model server against its own OpenAPI document: no 5xx, every answer as documented",
    r.code === 0 &&
      r.generated > 0 &&
      r.failures === 0 &&
      r.errors === 0 &&
      r.operations.tested === r.operations.selected &&
      r.operations.selected >= 4,
    `${r.generated} inputs generated over ${r.operations.tested}/${r.operations.selected} operations (examples, coverage, fuzzing; seed ${process.env.FUZZ_SEED ?? 1}), failures ${r.failures}, errors ${r.errors}${r.problems.length ? `: ${r.problems.slice(0, 3).join(" | ")}` : ""}; exit ${r.code}`,
  );
  report.check(
    "after the fuzzing the server still serves, and its metrics count no 5xx",
    after.status === 200 && proc.exit === undefined && fiveXX === 0 && answered > 0,
    `POST /predict ${after.status}; model_server_requests_total: ${answered} answers, ${fiveXX} of them 5xx`,
  );
  await ctx.procs.stop(proc);
}
