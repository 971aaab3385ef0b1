/**
 * The model release pipeline's scripts against the end-to-end platform, in the order
 * .github/workflows/release-model.yml and release-environment.yml run them: resolve (MLflow REST
 * through the proxy, the pipeline's token), gates (the registry tool), image contents (the build context
 * step 4a made and the image built from it), release change (config/releases/<env>.json, on a copy),
 * deploy (the ModelEndpoint's synthesized command, from the changed release file), smoke test, record
 * (tag and alias on the model version), and the automatic rollback after a failed smoke test.
 *
 * What stands in for GitHub and AWS: the order of the steps and the "stop on a refusal" are the
 * workflow's `needs`/`if` (here: this function), the image push is the directory step 4a built (its
 * digest a hash of the context), and "deploy" starts the model server from the stack synthesized with the
 * changed release file. The scripts themselves are the compiled ones the workflows call.
 */
import * as fs from "fs";
import * as path from "path";
import { registryGates } from "../../config/registry";
import { envConfig, synthJson } from "../helpers/synth";
import { type Ctx, need } from "./context";
import { LocalDeployment, type AddressRule } from "./lib/deployment";
import { json as getJson, freePort } from "./lib/net";
import type { Managed } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { workloads } from "./lib/workloads";
import { builtModelImage } from "./serving";

const MODEL = "iris-classifier";
/** The environment whose release file the run changes (a copy of it): the one the e2e deploys. */
const ENV = "dev";

interface StepResult {
  code: number | null;
  output: string;
  json?: any;
}

export async function releasePipeline(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const config = need(ctx.config, "config");
  const alb = need(ctx.alb, "the load balancer stand-in").url;
  const token = need(ctx.token, "the pipeline token");
  const oidc = need(ctx.oidc, "the OpenID provider");
  const img = need(builtModelImage(), "the model image (step 4a)");
  if (need(ctx.modelName, "the registered model") !== MODEL)
    throw new Error(`expected the workflow's model ${MODEL}, got ${ctx.modelName}`);

  // A copy of the repository's release files: the run changes the copy, never the checkout.
  const work = path.join(ctx.runDir, "release-pipeline");
  fs.mkdirSync(path.join(work, "config", "releases"), { recursive: true });
  for (const f of fs.readdirSync(path.join(ctx.repoRoot, "config", "releases")).filter((x) => x.endsWith(".json"))) {
    fs.copyFileSync(path.join(ctx.repoRoot, "config", "releases", f), path.join(work, "config", "releases", f));
  }
  const releaseFile = path.join(work, "config", "releases", `${ENV}.json`);
  const gatesFile = path.join(work, "gates.json");
  fs.writeFileSync(gatesFile, JSON.stringify(registryGates(config.registry)));
  const bin = path.dirname(tools.python);
  const env = {
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
    HOME: path.join(ctx.runDir, "pipeline-home"),
    LANG: "C.UTF-8",
    // This checkout's runtime (build-context), whatever another clone last installed into the shared virtualenv.
    PYTHONPATH: path.join(ctx.repoRoot, "runtime", "src"),
    MLFLOW_TRACKING_URI: alb,
    MLFLOW_TRACKING_TOKEN: token,
    MLFLOW_PLATFORM_REGISTRY_GATES: gatesFile,
  };
  let n = 0;
  // The release scripts run in the copy (they edit its config/releases); build-context reads the
  // repository's images/ and runtime/ (the workflow runs it from the checkout's root).
  const step = async (name: string, argv: string[], cwd = work): Promise<StepResult> => {
    const r = await ctx.procs.run(`release-${String(++n).padStart(2, "0")}-${name}`, argv, { env, cwd, timeoutMs: 300_000 });
    const lines = r.output.trim().split("\n");
    const line = [...lines].reverse().find((l) => l.startsWith("{") || l === "null");
    let parsed: unknown;
    try {
      parsed = line === undefined ? undefined : JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    // A pretty-printed document (the registry tool's --json): from its last opening "{" line to the end.
    const open = lines.lastIndexOf("{");
    if (parsed === undefined && open >= 0) {
      try {
        parsed = JSON.parse(lines.slice(open).join("\n"));
      } catch {
        parsed = undefined;
      }
    }
    return { ...r, json: parsed };
  };
  const script = (name: string, ...args: string[]) =>
    step(name, [process.execPath, path.join(ctx.repoRoot, "dist", "scripts", "ci", `${name}.js`), ...args]);
  const registryCheck = (version: string, to: string) =>
    step(`gates-${to}`, [
      path.join(bin, "mlflow-platform"),
      "registry",
      "check",
      "--model",
      MODEL,
      "--version",
      version,
      "--to",
      to,
      "--json",
    ]);
  const short = (r: StepResult) =>
    (r.json !== undefined ? JSON.stringify(r.json) : r.output.trim().split("\n").slice(-2).join(" / ")).slice(0, 300);
  const aliases = async () =>
    Object.fromEntries(
      (
        (
          await getJson<any>(`${alb}/api/2.0/mlflow/registered-models/get?name=${MODEL}`, {
            method: "GET",
            headers: { Authorization: `Bearer ${token}` },
          })
        ).registered_model.aliases ?? []
      ).map((a: any) => [a.alias, String(a.version)]),
    );
  const eventFile = (version: string) => {
    const f = path.join(work, `event-v${version}.json`);
    fs.writeFileSync(
      f,
      JSON.stringify({ action: "mlflow.model_version.created", client_payload: { event: "model_version.created", model: MODEL, version } }),
    );
    return f;
  };

  // ── "Deploy": the ModelEndpoint of the stack synthesized with the release file's content ──
  let running: Managed | undefined;
  let port = 0;
  const deploy = async (): Promise<string> => {
    if (running) {
      await ctx.procs.stop(running);
      running = undefined;
    }
    const releases = JSON.parse(fs.readFileSync(releaseFile, "utf8"));
    const release = releases[MODEL];
    // Only the image step 4a built exists in this "registry": any other digest cannot be pulled.
    if (release.imageDigest !== img.digest)
      return `no image ${release.imageDigest.slice(0, 19)}... in the repository: nothing starts (as ImagePullBackOff)`;
    const json = synthJson(
      envConfig(ENV, {
        auth: { localTestProfile: true, issuerUrl: oidc.issuer },
        serving: { models: { [MODEL]: {} }, releases: { [MODEL]: release } },
      }),
    ) as any;
    const found = workloads(json).filter(
      (w) =>
        w.kind === "Deployment" &&
        w.podLabels["app.kubernetes.io/component"] === "model-server" &&
        w.podLabels["mlflow-platform/model"] === MODEL,
    );
    if (found.length !== 1) throw new Error(`expected one model-server workload for ${MODEL}, found ${found.length}`);
    const dep = new LocalDeployment(json, new TerraformValues(json, () => undefined), {}, path.join(ctx.runDir, "mounts-release"));
    const optRule: AddressRule = {
      why: "the image's files (built into a directory)",
      apply: (v) => v.replace(/^\/opt(?=\/|$)/, `${img.root}/opt`),
    };
    port = await freePort();
    const lp = dep.render(found[0], found[0].containers[0], {
      binaries: { "mlflow-platform": path.join(img.root, "opt", "venv", "bin", "mlflow-platform") },
      ports: { http: port, metrics: await freePort() },
      rules: [optRule],
    });
    running = ctx.procs.start(`release-model-endpoint-v${release.version}`, lp.argv, { env: { ...img.env, LANG: "C.UTF-8", ...lp.env } });
    return `${found[0].address} v${release.version} from ${found[0].containers[0].command.image.split("/").pop()}`;
  };
  const example = path.join(img.context, "model", "serving_input_example.json");
  const smokeData = fs.existsSync(example) ? ["--example-file", example] : ["--data", "[5.1, 3.5, 1.4, 0.2]"];
  const smoke = (version: string, timeout: number) =>
    script(
      "smoke-test",
      "--url",
      `http://127.0.0.1:${port}`,
      "--model",
      MODEL,
      "--version",
      version,
      ...smokeData,
      "--timeout",
      String(timeout),
    );

  try {
    // ── The pipeline's first job, as release-model.yml orders it: resolve, gates, and only then the build ──
    const gatesOf = (r: StepResult) => (r.json?.gates ?? []).map((g: any) => `${g.gate} ${g.result}`).join(", ") || short(r);
    const firstJob = async (version: string, gate: string) => {
      const resolved = await script("resolve-version", "--event", eventFile(version));
      if (resolved.code !== 0 || resolved.json?.release !== true) return { resolved, stoppedAt: "resolve" };
      const gates = await registryCheck(version, gate);
      if (gates.code !== 0) return { resolved, gates, stoppedAt: "gates" };
      const context = path.join(work, `ctx-v${version}`);
      const built = await step(
        "build-context",
        [path.join(bin, "mlflow-platform"), "serve", "build-context", "--model-uri", `models:/${MODEL}/${version}`, "--output", context],
        ctx.repoRoot,
      );
      return { resolved, gates, built, context, stoppedAt: built.code === 0 ? undefined : "build" };
    };

    // ── A version refused by a gate stops before anything is built or changed ──
    const releaseBefore = fs.readFileSync(releaseFile, "utf8");
    const j0 = await firstJob("2", "production");
    report.check(
      "a version refused by a gate stops the pipeline: no build context, no release change",
      j0.resolved.json?.release === true &&
        j0.stoppedAt === "gates" &&
        j0.gates?.code === 3 &&
        fs.readFileSync(releaseFile, "utf8") === releaseBefore &&
        !fs.existsSync(path.join(work, "ctx-v2")),
      `resolve: version ${j0.resolved.json?.version}; gates (production): exit ${j0.gates?.code}, ${j0.gates ? gatesOf(j0.gates) : "not run"}; stopped at ${j0.stoppedAt}; release file unchanged, no build context`,
    );

    // ── The release of version 1 ──
    const j1 = await firstJob("1", "staging");
    const r1 = j1.resolved;
    report.check(
      "1. resolve: the event's version read through the proxy with the pipeline's token",
      r1.code === 0 && r1.json?.release === true && r1.json?.version === "1" && r1.json?.modelUri === `models:/${MODEL}/1`,
      short(r1),
    );
    if (
      !report.check(
        "2. gates: the registry tool's staging gates pass (exit 0)",
        j1.gates?.code === 0,
        `exit ${j1.gates?.code}: ${j1.gates ? gatesOf(j1.gates) : "not run"}`,
      )
    )
      return;
    if (!j1.context || j1.stoppedAt) throw new Error(`build-context failed: ${j1.built ? short(j1.built) : "not run"}`);
    const info = JSON.parse(fs.readFileSync(path.join(j1.context, "model-info.json"), "utf8"));
    const lock = fs.readFileSync(path.join(j1.context, "requirements.lock"), "utf8").trim().split("\n");
    const sameLock = fs.readFileSync(path.join(img.context, "requirements.lock"), "utf8").trim() === lock.join("\n");
    report.check(
      "3. image contents: the build context of that version (model, requirements locked by sha256, server, Dockerfile), the same lock as the image step 4a built and runs non-root",
      String(info.version) === "1" &&
        fs.existsSync(path.join(j1.context, "model", "MLmodel")) &&
        fs.existsSync(path.join(j1.context, "Dockerfile")) &&
        lock.every((l) => /--hash=sha256:[a-f0-9]{64}$/.test(l)) &&
        sameLock &&
        img.version === "1",
      `models:/${MODEL}/${info.version} -> ${j1.context}: ${lock.length} packages by sha256, lock ${sameLock ? "identical to" : "DIFFERENT from"} step 4a's; the image (step 4a's directory, standing in for the pushed image) digest ${img.digest.slice(0, 19)}...`,
    );
    const c1 = await script("release-file", "set", "--env", ENV, "--model", MODEL, "--version", "1", "--digest", img.digest);
    const file1 = JSON.parse(fs.readFileSync(releaseFile, "utf8"));
    report.check(
      "4. release change: config/releases/<env>.json names the version and the image digest",
      c1.code === 0 && file1[MODEL]?.version === "1" && file1[MODEL]?.imageDigest === img.digest,
      `${short(c1)}`,
    );
    const d1 = await deploy();
    report.info(`deploy: ${d1}`);
    const s1 = await smoke("1", 180);
    report.check(
      "5. smoke test: POST /predict on the released server answers the released version",
      s1.code === 0 && s1.json?.ok === true,
      short(s1),
    );
    const rec = await script(
      "record-deployment",
      "record",
      "--model",
      MODEL,
      "--version",
      "1",
      "--env",
      ENV,
      "--digest",
      img.digest,
      "--run-url",
      "e2e",
    );
    const al1 = await aliases();
    report.check(
      "6. record: alias deployed-<env> and the tag platform.deployed.<env> on the version",
      rec.code === 0 && al1[`deployed-${ENV}`] === "1",
      `${short(rec)}; aliases ${JSON.stringify(al1)}`,
    );

    // ── A release whose pods never answer: the smoke test fails, the pipeline rolls back ──
    const bogus = `sha256:${"0".repeat(64)}`;
    const c2 = await script("release-file", "set", "--env", ENV, "--model", MODEL, "--version", "2", "--digest", bogus);
    const previous = c2.json?.previous;
    const d2 = await deploy();
    const s2 = await smoke("2", 5);
    report.check(
      "7a. a failed release: the smoke test fails (exit 1)",
      c2.code === 0 && s2.code === 1 && s2.json?.ok === false,
      `deploy: ${d2}; smoke: ${short(s2)}`,
    );
    const back = await script(
      "release-file",
      "set",
      "--env",
      ENV,
      "--model",
      MODEL,
      "--version",
      String(previous?.version),
      "--digest",
      String(previous?.imageDigest),
    );
    const d3 = await deploy();
    const s3 = await smoke(String(previous?.version), 180);
    const rb = await script("record-deployment", "rolled-back", "--model", MODEL, "--version", "2", "--env", ENV, "--run-url", "e2e");
    const al3 = await aliases();
    const v2 = (
      await getJson<any>(`${alb}/api/2.0/mlflow/model-versions/get?name=${MODEL}&version=2`, {
        method: "GET",
        headers: { Authorization: `Bearer ${token}` },
      })
    ).model_version;
    report.check(
      "7b. rollback: the release file back to the previous entry, that version answers again, the failure recorded on version 2",
      back.code === 0 &&
        JSON.parse(fs.readFileSync(releaseFile, "utf8"))[MODEL].version === "1" &&
        s3.code === 0 &&
        rb.code === 0 &&
        al3[`deployed-${ENV}`] === "1" &&
        (v2.tags ?? []).some((t: any) => t.key === `platform.rolled-back.${ENV}`),
      `release file -> v${previous?.version}; deploy: ${d3}; smoke: ${short(s3)}; aliases ${JSON.stringify(al3)}`,
    );
    const manual = await script("record-deployment", "previous", "--model", MODEL, "--env", ENV);
    report.check(
      "manual rollback: with one recorded deployment there is nothing earlier to return to",
      manual.code === 0 && manual.json === null,
      `record-deployment previous: ${manual.output.trim().split("\n").pop()}`,
    );
  } finally {
    if (running) await ctx.procs.stop(running);
  }
}
