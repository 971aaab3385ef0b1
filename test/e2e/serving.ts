/**
 * Model serving in the end-to-end run: the registered example model becomes the model
 * server's files by the steps of images/model-server/Dockerfile (run into a directory: Docker is not
 * available here), and the ModelEndpoint's synthesized container command serves it.
 */
import { createHash, createHmac } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { envConfig, synthJson } from "../helpers/synth";
import { TOOLS_DIR } from "../helpers/tools";
import { type Ctx, need } from "./context";
import { LocalDeployment, type AddressRule } from "./lib/deployment";
import { LOOPBACK, freePort, request, sleep, waitForHttp, type HttpResponse } from "./lib/net";
import { serviceRule } from "./lib/deployment";
import { USER_EMAIL } from "./deploy";
import { runSync, tail } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { workloads, type Workload } from "./lib/workloads";
import { promSum } from "./workflow";

/** The image's files, built from the Dockerfile's instructions into `root` (its `/`). */
export interface ModelImage {
  readonly context: string;
  readonly root: string;
  /** The image's environment (ENV), paths under `root`. */
  readonly env: Record<string, string>;
  readonly entrypoint: string[];
  readonly bytes: number;
  /** A stand-in for the pushed image's digest: sha256 over the context (what decides the layers). */
  readonly digest: string;
  readonly version: string;
}

const MODEL = "iris-classifier";
const ROW = [5.1, 3.5, 1.4, 0.2];
/** Limits the run sets through the configuration (serving.models), so that they are reached quickly. */
const LIMITS = { maxConcurrency: 2, callerRate: 1, callerBurst: 5, maxUploadsPerCaller: 2 };

let image: ModelImage | undefined;
/** The model image step 4a built (the inference-observability step serves it again). */
export function builtModelImage(): ModelImage | undefined {
  return image;
}

function dirBytes(p: string): number {
  let n = 0;
  for (const e of fs.readdirSync(p, { withFileTypes: true })) {
    const f = path.join(p, e.name);
    if (e.isDirectory()) n += dirBytes(f);
    else if (e.isFile()) n += fs.statSync(f).size;
  }
  return n;
}

function filesDigest(h: ReturnType<typeof createHash>, p: string, rel = ""): void {
  const st = fs.statSync(p);
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(p).sort()) filesDigest(h, path.join(p, e), `${rel}/${e}`);
  } else {
    h.update(`${rel}\0`);
    h.update(fs.readFileSync(p));
  }
}

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; arg: string; raw: string }[] {
  const out: { op: string; arg: string; raw: string }[] = [];
  let cur = "";
  for (const line of text.split("\n")) {
    if (!cur && (/^\s*#/.test(line) || !line.trim())) continue;
    if (line.endsWith("\\")) {
      cur += line.slice(0, -1) + " ";
      continue;
    }
    cur += line;
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(cur);
    if (m) out.push({ op: m[1].toUpperCase(), arg: m[2].trim(), raw: cur.trim() });
    cur = "";
  }
  return out;
}

/**
 * Runs the Dockerfile's instructions into `root` as a builder would into a layer: COPY from the context,
 * RUN with bash, ENV and ARG substituted; every container path under /opt is `root`/opt here. Layers up
 * to the model's COPY are reused when their inputs are unchanged (as a build cache would), the model's
 * files are copied every time.
 */
function buildImage(
  ctx: Ctx,
  contextDir: string,
): { root: string; env: Record<string, string>; entrypoint: string[]; reused: boolean; base: string; user: string } {
  const dockerfile = fs.readFileSync(path.join(contextDir, "Dockerfile"), "utf8");
  const steps = instructions(dockerfile);
  const modelCopy = (s: { op: string; arg: string }) => s.op === "COPY" && /^(model\/|model-info\.json)\s/.test(s.arg);
  const h = createHash("sha256");
  for (const s of steps) {
    h.update(`${s.raw}\n`);
    if (s.op === "COPY" && !modelCopy(s)) filesDigest(h, path.join(contextDir, s.arg.split(/\s+/)[0]));
  }
  const root = path.join(TOOLS_DIR, "model-images", h.digest("hex").slice(0, 16));
  const reused = fs.existsSync(path.join(root, ".built"));
  if (!reused) {
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
  }
  const remap = (s: string) => s.replace(/(?<![\w/.-])\/opt\//g, `${root}/opt/`).replace(/(?<![\w/.-])\/opt(?=$|[\s:'"])/g, `${root}/opt`);
  // The base image's interpreter: here the local Python of the same minor version.
  const shim = path.join(ctx.runDir, "base-image-bin");
  fs.mkdirSync(shim, { recursive: true });
  const python3 = runSync(["bash", "-c", "command -v python3"]).trim();
  if (!fs.existsSync(path.join(shim, "python"))) fs.symlinkSync(python3, path.join(shim, "python"));
  const args: Record<string, string> = {};
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let base = "";
  let user = "";
  const subst = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => args[a ?? b] ?? env[a ?? b] ?? m);
  for (const s of steps) {
    switch (s.op) {
      case "ARG": {
        const [k, v] = s.arg.split("=");
        args[k] = v ?? "";
        break;
      }
      case "FROM":
        base = subst(s.arg);
        break;
      case "ENV":
        for (const m of s.arg.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = remap(subst(m[2]));
        break;
      case "COPY": {
        if (reused && !modelCopy(s)) break;
        const [src, dst] = s.arg.split(/\s+/);
        const to = remap(dst);
        fs.rmSync(to.endsWith("/") ? to : to, { recursive: true, force: true });
        fs.mkdirSync(path.dirname(to.replace(/\/$/, "")), { recursive: true });
        fs.cpSync(path.join(contextDir, src), to.replace(/\/$/, ""), { recursive: true });
        break;
      }
      case "RUN": {
        if (reused) break;
        const cmd = remap(s.arg);
        const out = runSync(["bash", "-euo", "pipefail", "-c", cmd], {
          env: { ...env, PATH: `${env.PATH ?? ""}:${shim}`, HOME: path.join(ctx.runDir, "build-home") },
          cwd: root,
        });
        if (out.trim()) ctx.report.info(`  RUN output: ${out.trim().split("\n").slice(-3).join(" | ")}`);
        break;
      }
      case "USER":
        user = s.arg;
        break;
      case "EXPOSE":
        break;
      case "ENTRYPOINT":
        entrypoint = JSON.parse(s.arg);
        break;
      case "CMD":
        break;
      default:
        throw new Error(
          `Dockerfile instruction ${s.op} is not one the harness runs (keep to ARG, FROM, ENV, COPY, RUN, USER, EXPOSE, ENTRYPOINT, CMD)`,
        );
    }
    if (s.op === "RUN" && !reused && steps.slice(steps.indexOf(s) + 1).every((x) => x.op !== "RUN"))
      fs.writeFileSync(path.join(root, ".built"), "");
  }
  return { root, env, entrypoint, reused, base, user };
}

/** Installed size of a distribution set in the tools virtualenv (what `pip install` would lay down). */
function installedBytes(python: string, requirements: string[]): { bytes: number; packages: number } {
  const script = `
import importlib.metadata as m, json, re, sys
from packaging.requirements import Requirement
todo = [Requirement(r).name for r in sys.argv[1:]]
seen, total = set(), 0
while todo:
    n = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if n in seen: continue
    try: d = m.distribution(n)
    except m.PackageNotFoundError: continue
    seen.add(n)
    for f in d.files or []:
        try: total += f.locate().stat().st_size
        except OSError: pass
    for r in d.requires or []:
        req = Requirement(r)
        if req.marker is None or req.marker.evaluate({"extra": ""}): todo.append(req.name)
print(json.dumps({"bytes": total, "packages": len(seen)}))`;
  return JSON.parse(runSync([python, "-c", script, ...requirements]));
}

export async function modelImage(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const name = need(ctx.modelName, "the registered model");
  const alb = need(ctx.alb, "the load balancer stand-in").url;
  const context = path.join(ctx.runDir, "model-context");
  const bin = path.join(path.dirname(tools.python), "mlflow-platform");
  const started = Date.now();
  // A release pipeline's step: the model through the proxy, with the pipeline's token.
  const r = await ctx.procs.run("build-context", [bin, "serve", "build-context", "--model-uri", `models:/${name}/1`, "--output", context], {
    cwd: ctx.repoRoot,
    // PYTHONPATH: this checkout's runtime, whatever another clone last installed into the shared virtualenv.
    env: {
      PATH: `${path.dirname(tools.python)}:/usr/bin:/bin`,
      PYTHONPATH: path.join(ctx.repoRoot, "runtime", "src"),
      HOME: path.join(ctx.runDir, "pipeline-home"),
      LANG: "C.UTF-8",
      MLFLOW_TRACKING_URI: alb,
      MLFLOW_TRACKING_TOKEN: need(ctx.token, "token"),
    },
    timeoutMs: 300_000,
  });
  if (r.code !== 0)
    throw new Error(`mlflow-platform serve build-context exited ${r.code}:\n${tail(path.join(ctx.procs.logDir, "build-context.log"))}`);
  const info = JSON.parse(fs.readFileSync(path.join(context, "model-info.json"), "utf8"));
  const lock = fs.readFileSync(path.join(context, "requirements.lock"), "utf8").trim().split("\n");
  report.check(
    "build-context wrote the model, its locked requirements, the server and the Dockerfile",
    fs.existsSync(path.join(context, "model", "MLmodel")) &&
      lock.every((l) => /==\S+ --hash=sha256:[a-f0-9]{64}$/.test(l)) &&
      fs.existsSync(path.join(context, "runtime", "src", "mlflow_platform", "serving", "app.py")),
    `models:/${name}/1 -> ${context}: version ${info.version}, Python ${info.python}, ${lock.length} packages locked by sha256 (mlflow-skinny ${lock.find((l) => l.startsWith("mlflow-skinny=="))?.split(" ")[0] ?? "missing"}), in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const reqs = fs.readFileSync(path.join(context, "requirements.txt"), "utf8");
  report.check(
    "the image installs the model's own pinned requirements, mlflow as mlflow-skinny, no nginx",
    /^mlflow-skinny==/m.test(reqs) &&
      !/^mlflow==/m.test(reqs) &&
      !/nginx/i.test(fs.readFileSync(path.join(context, "Dockerfile"), "utf8").replace(/^#.*$/gm, "")),
    reqs
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .join(", "),
  );

  await buildModelImage(ctx, context, String(info.version));

  // What inference needs, nothing else: MLflow's inferred requirements list what the training process had
  // imported (a test runner among them); the build context drops test and development tools.
  const site = fs
    .readdirSync(path.join(need(image, "the model image").root, "opt", "venv", "lib"))
    .map((v) => path.join(image!.root, "opt", "venv", "lib", v, "site-packages"));
  const devTools = ["pytest", "_pytest", "IPython", "hypothesis", "black", "ruff", "mypy"].filter((d) =>
    site.some((sp) => fs.existsSync(path.join(sp, d))),
  );
  const modelReqs = fs
    .readFileSync(path.join(context, "model", "requirements.txt"), "utf8")
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"));
  report.check(
    "the image installs no test or development tool (pytest, IPython, linters), whatever the model's inferred requirements list",
    devTools.length === 0 && !/^pytest/m.test(reqs) && Array.isArray(info.requirements_dropped),
    `the model's requirements.txt: ${modelReqs.join(", ")}; dropped from the image: ${info.requirements_dropped?.length ? info.requirements_dropped.join(", ") : "none"}; in the image's site-packages: ${devTools.length ? devTools.join(", ") : "no pytest, IPython, hypothesis, black, ruff, mypy"}`,
  );
  const openapi = JSON.parse(fs.readFileSync(path.join(context, "openapi.json"), "utf8"));
  report.check(
    "build-context writes the server's OpenAPI 3.1 document beside the image, from the model's signature",
    openapi.openapi === "3.1.0" && openapi.components.schemas.Row.minItems === 4 && Object.keys(openapi.paths).includes("/invocations"),
    `${path.join(context, "openapi.json")}: ${Object.keys(openapi.paths).join(", ")}; a row is ${JSON.stringify(openapi.components.schemas.Row)}`,
  );
}

/** Runs the Dockerfile's steps on a build context and estimates the image's size against build-docker's. */
export async function buildModelImage(ctx: Ctx, context: string, version: string): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const reqs = fs.readFileSync(path.join(context, "requirements.txt"), "utf8");
  const t = Date.now();
  const built = buildImage(ctx, context);
  const h = createHash("sha256");
  filesDigest(h, context);
  const bytes = dirBytes(path.join(built.root, "opt"));
  image = { context, root: built.root, env: built.env, entrypoint: built.entrypoint, bytes, digest: `sha256:${h.digest("hex")}`, version };
  report.check(
    "the Dockerfile's steps ran into a directory (Docker is not available here)",
    fs.existsSync(path.join(built.root, "opt", "venv", "bin", "mlflow-platform")) &&
      fs.existsSync(path.join(built.root, "opt", "model", "MLmodel")),
    `FROM ${built.base} (local Python stands in), USER ${built.user}, ENTRYPOINT ${JSON.stringify(built.entrypoint)}; ${built.reused ? "dependency and server layers reused (same inputs), model layer copied" : "every layer built"} in ${((Date.now() - t) / 1000).toFixed(1)} s; ${built.root}/opt holds ${mb(bytes)}`,
  );
  report.check("the image runs as a non-root user", /^\d+(:\d+)?$/.test(built.user) && !built.user.startsWith("0"), `USER ${built.user}`);

  // Size, estimated from the layers (no Docker here): ours = base + /opt; build-docker = base + nginx +
  // full mlflow and the model's requirements (measured from the tools virtualenv) + apt lists.
  const BASE = 125e6; // python:3.11-slim-bookworm, uncompressed (Docker Hub lists ~45 MB compressed)
  const NGINX_AND_APT = 60e6; // nginx + its libraries and the apt lists left in the layer that installed them
  const full = installedBytes(tools.python, [
    "mlflow",
    ...reqs.split("\n").filter((l) => l && !l.startsWith("#") && !l.startsWith("mlflow-skinny")),
  ]);
  const ours = BASE + bytes;
  const theirs = BASE + NGINX_AND_APT + full.bytes;
  report.info(
    `image size, estimated from the layers (Docker is not available): this image ~${mb(ours)} (base ~${mb(BASE)} + /opt ${mb(bytes)}); \`mlflow models build-docker\` for the same model ~${mb(theirs)} (base ~${mb(BASE)} + nginx and apt lists ~${mb(NGINX_AND_APT)} + mlflow with its ${full.packages} dependencies and the model's requirements ${mb(full.bytes)}, measured in the tools virtualenv)`,
  );
  report.check(
    "the image is smaller than what mlflow models build-docker would produce",
    ours < theirs,
    `~${mb(ours)} vs ~${mb(theirs)} (${(theirs / ours).toFixed(1)}x)`,
  );
}

/** The model server Deployment of a stack, found by its labels. */
function modelWorkload(all: Workload[]): Workload {
  const found = all.filter(
    (w) =>
      w.kind === "Deployment" &&
      w.podLabels["app.kubernetes.io/component"] === "model-server" &&
      w.podLabels["mlflow-platform/model"] === MODEL,
  );
  if (found.length !== 1) throw new Error(`expected one model-server Deployment for ${MODEL}, found ${found.length}`);
  return found[0];
}

interface Tally {
  [routeStatus: string]: number;
}

export async function modelServer(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const img = need(image, "the model image");
  const oidc = need(ctx.oidc, "the OpenID provider");
  // The release a pipeline would write into config/releases/dev.json after pushing the image.
  const overrides = {
    auth: { localTestProfile: true, issuerUrl: oidc.issuer },
    // The ingress exposure: an OAuth2 Proxy per model in front of the server (serving.exposure).
    serving: {
      models: { [MODEL]: LIMITS },
      releases: { [MODEL]: { version: img.version, imageDigest: img.digest } },
      exposure: "ingress" as const,
      ingress: { domain: "models.example.com" },
    },
  };
  const json = synthJson(envConfig("dev", overrides)) as any;
  const wl = modelWorkload(workloads(json));
  const container = wl.containers[0];
  report.info(`${wl.address}: image ${container.command.image}`);
  const dep = new LocalDeployment(json, new TerraformValues(json, () => undefined), {}, path.join(ctx.runDir, "mounts"));
  const optRule: AddressRule = {
    why: "the image's files (built into a directory)",
    apply: (v) => v.replace(/^\/opt(?=\/|$)/, `${img.root}/opt`),
  };
  const port = await freePort();
  const adminPort = await freePort();
  const lp = dep.render(wl, container, {
    binaries: { "mlflow-platform": path.join(img.root, "opt", "venv", "bin", "mlflow-platform") },
    ports: { http: port, metrics: adminPort },
    rules: [optRule],
  });
  // The access log holds callers as HMAC-SHA256 of their JSON form under the server's key (the Secret's value).
  const key = lp.env.MODEL_SERVER_INFERENCE_LOG_KEY ?? "";
  if (key.length < 32) throw new Error("the model server's HMAC key (MODEL_SERVER_INFERENCE_LOG_KEY, from its Secret) is not set");
  const hashed = (caller: string) => createHmac("sha256", key).update(JSON.stringify(caller)).digest("hex");
  report.info(`${lp.name}: as Kubernetes runs it: ${lp.synthesized.argv.join(" ")}`);
  for (const c of lp.changes) report.info(`  local change ${c.where}: ${c.from} -> ${c.to} (${c.why})`);

  const base = `http://${LOOPBACK}:${port}`;
  const admin = `http://${LOOPBACK}:${adminPort}`;
  const tally: Tally = {};
  const count = (route: string, r: HttpResponse) => {
    tally[`${route} ${r.status}`] = (tally[`${route} ${r.status}`] ?? 0) + 1;
    return r;
  };
  const token = need(ctx.token, "token");
  // The header the server keys callers on, as synthesized (the gateway overwrites it from the token).
  const callerHeader = container.command.args[container.command.args.indexOf("--caller-header") + 1];
  const post = async (route: string, body: string | Buffer, caller = "app-a@example.com", headers: Record<string, string> = {}) =>
    count(
      route,
      await request(`${base}${route}`, {
        method: "POST",
        body,
        headers: { "Content-Type": "application/json", [callerHeader]: caller, Authorization: `Bearer ${token}`, ...headers },
        caller: "probe",
      }),
    );

  // ── Readiness: false until the model is loaded ──
  const started = Date.now();
  const proc = ctx.procs.start("model-endpoint", lp.argv, { env: { ...img.env, LANG: "C.UTF-8", ...lp.env } });
  const seen: number[] = [];
  let early: HttpResponse | undefined;
  while (Date.now() - started < 300_000) {
    if (proc.exit) throw new Error(`the model server exited (${proc.exit.code}):\n${tail(proc.logFile)}`);
    const r = await request(`${base}/ping`, { caller: "probe", timeoutMs: 2000 }).catch(() => undefined);
    if (r) {
      if (seen[seen.length - 1] !== r.status) seen.push(r.status);
      if (r.status === 503 && !early) early = await post("/predict", JSON.stringify({ data: ROW }));
      if (r.status === 200) break;
    }
    await sleep(50);
  }
  report.check(
    "readiness (/ping) stays false until the model is loaded; a prediction meanwhile gets 503",
    seen[0] === 503 && seen[seen.length - 1] === 200 && early?.status === 503,
    `/ping answered ${seen.join(" -> ")} over ${((Date.now() - started) / 1000).toFixed(1)} s; POST /predict while loading: ${early?.status} ${early?.body.slice(0, 80)}`,
  );

  // ── The contract: the served OpenAPI document is the one written beside the image (limits added) ──
  const servedDoc = await request(`${base}/openapi.json`, { caller: "probe" });
  const doc = servedDoc.status === 200 ? JSON.parse(servedDoc.body) : {};
  const written = JSON.parse(fs.readFileSync(path.join(img.context, "openapi.json"), "utf8"));
  report.check(
    "GET /openapi.json serves the document written beside the image, with the server's limits",
    servedDoc.status === 200 &&
      JSON.stringify(doc.paths) === JSON.stringify(written.paths) &&
      JSON.stringify(doc.components) === JSON.stringify(written.components) &&
      doc.info?.["x-limits"]?.maxConcurrencyPerPod === LIMITS.maxConcurrency,
    `${servedDoc.status}; limits ${JSON.stringify(doc.info?.["x-limits"])}`,
  );

  // ── The workflow's call ──
  const p = await post("/predict", JSON.stringify({ data: ROW }));
  const answer = JSON.parse(p.body);
  report.check(
    `POST /predict {"data": ${JSON.stringify(ROW)}} answers setosa, naming the model, version and a request id`,
    p.status === 200 &&
      answer.labels?.[0] === "setosa" &&
      answer.model === MODEL &&
      answer.version === img.version &&
      /^[0-9a-f]{32}$/.test(answer.request_id) &&
      p.headers["x-request-id"] === answer.request_id,
    `${p.status} ${p.body}`,
  );
  const rows = await post("/predict", JSON.stringify({ data: [ROW, [6.7, 3.0, 5.2, 2.3]] }));
  report.check(
    "POST /predict with a list of rows answers one prediction per row",
    rows.status === 200 && JSON.stringify(JSON.parse(rows.body).labels) === '["setosa","virginica"]',
    `${rows.status} ${rows.body}`,
  );

  // ── The release smoke test: the Rollout's pre-promotion Job, its synthesized command run for real ──
  await smokeTest(ctx, json, img, base, (status) => {
    tally[`/predict ${status}`] = (tally[`/predict ${status}`] ?? 0) + 1;
  });

  // ── MLflow's /invocations, parsed by MLflow's own code ──
  for (const [fmt, body] of [
    ["inputs", { inputs: [ROW] }],
    ["dataframe_split", { dataframe_split: { columns: ["0", "1", "2", "3"], data: [ROW] } }],
    ["dataframe_records", { dataframe_records: [{ 0: ROW[0], 1: ROW[1], 2: ROW[2], 3: ROW[3] }] }],
    ["instances", { instances: [ROW] }],
  ] as const) {
    const r = await post("/invocations", JSON.stringify(body), "app-b@example.com");
    report.check(
      `POST /invocations {${fmt}} predicts setosa`,
      r.status === 200 && JSON.stringify(JSON.parse(r.body)) === '{"predictions":[0]}',
      `${r.status} ${r.body.slice(0, 200)}`,
    );
  }

  // ── Authentication in front of the model: the gateway's synthesized command, the real oauth2-proxy ──
  await modelGateway(
    ctx,
    json,
    dep,
    port,
    proc.logFile,
    (route, status) => {
      tally[`${route} ${status}`] = (tally[`${route} ${status}`] ?? 0) + 1;
    },
    hashed,
  );

  // ── Bad input: 4xx naming the problem, never 500, and the server keeps serving ──
  const bad: [string, string, number, RegExp][] = [
    ["a body that is not JSON", "{not json", 400, /not JSON/],
    ["the wrong number of features", JSON.stringify({ data: [5.1, 3.5, 1.4] }), 422, /3 features; the model expects 4/],
    ["a string where a number belongs", JSON.stringify({ data: [5.1, "wide", 1.4, 0.2] }), 422, /"wide" is a string; expected a number/],
  ];
  for (const [what, body, status, words] of bad) {
    const r = await post("/predict", body, "app-c@example.com");
    const message = (() => {
      try {
        return String(JSON.parse(r.body).message);
      } catch {
        return r.body;
      }
    })();
    report.check(
      `/predict with ${what}: ${status} naming the problem`,
      r.status === status && words.test(message),
      `${r.status} ${r.body.slice(0, 200)}`,
    );
  }
  const inv = await post("/invocations", JSON.stringify({ inputs: [[5.1, "wide", 1.4, 0.2]] }), "app-c@example.com");
  report.check(
    "/invocations with a string where a number belongs: 4xx, not 500",
    inv.status >= 400 && inv.status < 500,
    `${inv.status} ${inv.body.slice(0, 160)}`,
  );
  // Hostile bodies any caller can send: each a 4xx naming the problem, none in the 5xx series that canary
  // analysis and alerts read.
  const hostile: [string, string, string, RegExp][] = [
    ["/predict", "an integer of 401 digits", `{"data":[1${"0".repeat(400)},1,1,1]}`, /out of range/],
    ["/invocations", "an integer of 401 digits", `{"inputs":[[1${"0".repeat(400)},1,1,1]]}`, /out of range/],
    ["/predict", "arrays nested 5,000 deep", `{"data":${"[".repeat(5000)}${"]".repeat(5000)}}`, /nested too deeply/],
    ["/invocations", "arrays nested 5,000 deep", `{"inputs":${"[".repeat(5000)}${"]".repeat(5000)}}`, /nested too deeply|deeper than/],
    ["/invocations", "arrays nested 100,000 deep", `${"[".repeat(100_000)}${"]".repeat(100_000)}`, /nested too deeply|deeper than/],
  ];
  for (const [i, [route, what, body, words]] of hostile.entries()) {
    const r = await post(route, body, `hostile-${i}@example.com`);
    const message = (() => {
      try {
        return String(JSON.parse(r.body).message);
      } catch {
        return r.body;
      }
    })();
    report.check(
      `${route} with ${what}: a 4xx naming the problem, not a 500`,
      r.status >= 400 && r.status < 500 && words.test(message),
      `${r.status} ${r.body.slice(0, 160)}`,
    );
  }
  const big = await hugeBody(port, "/predict", 100 * 1024 * 1024, callerHeader);
  // The server answers 413 as soon as the declared length is over the limit and then closes; a client
  // still writing may get a reset instead of the answer (no lingering close: seen in about one run in
  // three). The reset counts only when the server's access log shows the 413 for exactly that request.
  await sleep(200);
  const bigLogged =
    big.status === 0 &&
    fs
      .readFileSync(proc.logFile, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{") && l.includes('"request_id"'))
      .map((l) => JSON.parse(l))
      .some((l) => l.caller === hashed("app-big@example.com") && l.status === 413);
  count("/predict", bigLogged ? { ...big, status: 413 } : big);
  report.check(
    "/predict with a 100 MB body: refused with 413 naming the limit (read back; or, while the client still wrote, reset after the 413 the server logged)",
    (big.status === 413 && /accepts at most \d+/.test(big.body)) || bigLogged,
    `${big.status === 413 ? "413 read back" : bigLogged ? "reset after the server's logged 413" : "no 413"}: ${big.status} ${big.body.slice(0, 160)}; ${(big.sent / 1e6).toFixed(1)} MB sent before the answer`,
  );
  const after = await post("/predict", JSON.stringify({ data: ROW }), "app-f@example.com");
  report.check(
    "the server keeps serving after the bad inputs",
    after.status === 200 && proc.exit === undefined,
    `${after.status} ${after.body}`,
  );

  // ── Slow uploads: a body is read before a prediction slot is taken, under its own deadline and a per-caller cap ──
  const bodyTimeout = Number(container.command.args[container.command.args.indexOf("--body-timeout") + 1]);
  const uploadCap = Number(container.command.args[container.command.args.indexOf("--max-uploads-per-caller") + 1]);
  const t0Slow = Date.now();
  const trickling: { answer: Promise<HttpResponse> }[] = [];
  for (let i = 0; i <= uploadCap; i++) {
    trickling.push(await slowRequest(port, "slowpoke@example.com", callerHeader));
    await sleep(30); // the server has taken this body's upload place before the next arrives
  }
  await sleep(300);
  const meanwhile = await post("/predict", JSON.stringify({ data: ROW }), "patient@example.com");
  const trickled = await Promise.all(trickling.map((t) => t.answer));
  const slowSeconds = (Date.now() - t0Slow) / 1000;
  trickled.forEach((r) => count("/predict", r));
  const timedOut = trickled.filter((r) => r.status === 408 && /did not arrive within/.test(r.body)).length;
  const capped = trickled.filter((r) => r.status === 429 && /too_many_uploads/.test(r.body)).length;
  report.check(
    `slow uploads hold no prediction slot: while one caller trickles ${uploadCap + 1} bodies (the pod takes ${LIMITS.maxConcurrency} predictions at once), another caller is served at once`,
    meanwhile.status === 200 && timedOut === uploadCap && capped === 1,
    `patient@example.com: ${meanwhile.status}; slowpoke@example.com: ${timedOut} x 408 after the ${bodyTimeout} s body deadline, ${capped} x 429 too_many_uploads (at most ${uploadCap} bodies at once per caller); ${slowSeconds.toFixed(1)} s`,
  );

  // ── Overload: more predictions at once than the pod's limit ──
  const heavy = JSON.stringify({ data: Array.from({ length: 20_000 }, () => ROW) });
  const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => post("/predict", heavy, `burst-${i}@example.com`)));
  const over = burst.find((r) => r.status === 429);
  report.check(
    `overload: with more predictions at once than the pod's limit (${LIMITS.maxConcurrency}) the rest get 429 with Retry-After, the others are served`,
    over !== undefined &&
      Number(over.headers["retry-after"]) >= 1 &&
      /concurrent/.test(over.body) &&
      burst.every((r) => r.status === 200 || r.status === 429),
    `12 requests of 20,000 rows at once: ${burst.map((r) => r.status).join(",")}; ${over ? `429 Retry-After ${over.headers["retry-after"]}: ${over.body.slice(0, 100)}` : "no 429"}`,
  );

  // ── Per-caller limit, keyed on the caller identity the gateway sets ──
  const greedy: number[] = [];
  for (let i = 0; i < LIMITS.callerBurst + 3; i++)
    greedy.push((await post("/predict", JSON.stringify({ data: ROW }), "greedy@example.com")).status);
  const limited = await post("/predict", JSON.stringify({ data: ROW }), "greedy@example.com");
  const other = await post("/predict", JSON.stringify({ data: ROW }), "patient@example.com");
  report.check(
    "a caller over its limit gets 429 while another caller is still served",
    greedy.includes(429) && limited.status === 429 && other.status === 200 && /greedy@example.com is over its limit/.test(limited.body),
    `greedy@example.com (burst ${LIMITS.callerBurst}, ${LIMITS.callerRate}/s): ${greedy.join(",")},${limited.status} (Retry-After ${limited.headers["retry-after"]}); patient@example.com: ${other.status}`,
  );

  // ── Metrics count exactly the requests made, by status ──
  const m = await request(`${admin}/metrics`, { caller: "scrape" });
  const mismatches: string[] = [];
  const served: string[] = [];
  for (const route of ["/predict", "/invocations"]) {
    const statuses = new Set([
      ...Object.keys(tally)
        .filter((k) => k.startsWith(`${route} `))
        .map((k) => k.split(" ")[1]),
      ...[
        ...m.body.matchAll(
          new RegExp(`^model_server_requests_total\\{[^}]*route="${route.replace("/", "\\/")}"[^}]*status="(\\d+)"`, "gm"),
        ),
      ].map((x) => x[1]),
    ]);
    for (const status of statuses) {
      const got = promSum(
        m.body,
        "model_server_requests_total",
        (l) => l.route === route && l.status === status && l.model === MODEL && l.version === img.version,
      ).sum;
      const want = tally[`${route} ${status}`] ?? 0;
      served.push(`${route} ${status}: ${got}`);
      if (got !== want) mismatches.push(`${route} ${status}: metrics ${got}, made ${want}`);
    }
  }
  const histogram = promSum(m.body, "model_server_request_duration_seconds_count").sum;
  const made = Object.values(tally).reduce((a, b) => a + b, 0);
  report.check(
    "/metrics counts exactly the requests made, by route and status",
    m.status === 200 && mismatches.length === 0 && histogram === made,
    `${mismatches.length ? `mismatch: ${mismatches.join("; ")}` : served.join(", ")}; latency histogram count ${histogram} of ${made} requests`,
  );

  // ── One JSON access log line per request; never a credential ──
  const log = fs.readFileSync(proc.logFile, "utf8");
  const lines = log
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes('"request_id"'))
    .map((l) => JSON.parse(l));
  report.check(
    "one JSON access log line per request (request id, caller, model version, status, latency)",
    lines.length === made &&
      lines.every((l) => l.request_id && l.caller && l.version === img.version && l.status && typeof l.latency_ms === "number"),
    `${lines.length} lines for ${made} requests; e.g. ${JSON.stringify(lines.find((l) => l.caller === hashed("patient@example.com")))}`,
  );
  const addresses = ["patient@example.com", "greedy@example.com", "app-a@example.com", "slowpoke@example.com", USER_EMAIL];
  report.check(
    "the access log holds each caller as an HMAC of its id, never the address",
    addresses.every((a) => !log.includes(a)) &&
      lines.some((l) => l.caller === hashed("greedy@example.com")) &&
      lines.every((l) => l.caller === "anonymous" || /^[0-9a-f]{64}$/.test(l.caller)),
    `callers ${addresses.join(", ")}: none in the log; greedy@example.com logged as ${hashed("greedy@example.com").slice(0, 16)}... (HMAC-SHA256, the server's key from its Secret)`,
  );
  report.check(
    "the access log never holds the Authorization header or a token",
    !log.includes(token) && !/bearer/i.test(log),
    `every request carried Authorization: Bearer <token>; log ${proc.logFile}: no token`,
  );

  // ── Graceful shutdown: not ready at once, still serving while draining, then a clean exit ──
  process.kill(proc.pid, "SIGTERM");
  await sleep(300);
  const ping = await request(`${base}/ping`, { caller: "probe" });
  const during = await post("/predict", JSON.stringify({ data: ROW }), "app-e@example.com");
  const t0 = Date.now();
  while (!proc.exit && Date.now() - t0 < 30_000) await sleep(100);
  // uvicorn re-raises the SIGTERM it caught once it has shut down, so the exit is "by SIGTERM" (or 0).
  const clean = proc.exit !== undefined && (proc.exit.code === 0 || proc.exit.signal === "SIGTERM");
  report.check(
    "SIGTERM: /ping answers 503 at once, requests are still served while draining, then the server stops",
    ping.status === 503 && during.status === 200 && clean,
    `/ping ${ping.status} ${ping.body}; POST /predict ${during.status}; exited ${proc.exit ? `(code ${proc.exit.code}, signal ${proc.exit.signal}) after ${((Date.now() - t0) / 1000 + 0.3).toFixed(1)} s` : "not within 30 s"}`,
  );
  await ctx.procs.stop(proc);
}

/**
 * The model gateway (exposure "ingress"): its Deployment's synthesized command, run with the real
 * oauth2-proxy in front of the running model server, the Service address swapped for the server's port.
 * Refused without a token and with bad ones; served with a valid one, the caller being the token's
 * e-mail whatever the client claims. A token the proxy lets through without an allowed identity (neither
 * e-mail nor subject, or a subject that is no address) is refused by the model server itself (403), and
 * the model's /metrics and /health are not reachable through the gateway (they are on the admin port).
 */
async function modelGateway(
  ctx: Ctx,
  json: any,
  dep: LocalDeployment,
  serverPort: number,
  serverLogFile: string,
  reached: (route: string, status: number) => void,
  hashed: (caller: string) => string,
): Promise<void> {
  const { report } = ctx;
  const oidc = need(ctx.oidc, "the OpenID provider");
  const tools = need(ctx.tools, "tools");
  const all = workloads(json);
  const gws = all.filter((w) => w.kind === "Deployment" && w.podLabels["app.kubernetes.io/component"] === "model-gateway");
  if (gws.length !== 1) throw new Error(`expected one model gateway Deployment, found ${gws.length}`);
  const gw = gws[0];
  const svc = dep.services.find(
    (s) =>
      s.selector && Object.entries(s.selector).every(([k, v]) => modelWorkload(all).podLabels[k] === v) && !s.name.endsWith("-preview"),
  );
  if (!svc) throw new Error("no Service selects the model server");
  const config = envConfig("dev");
  const vpcRules: AddressRule[] = config.ingress.vpcCidrs.map((cidr) => ({
    why: "addresses the load balancer sends from (the VPC)",
    apply: (v: string) =>
      v
        .split(",")
        .map((x) => (x === cidr ? `${LOOPBACK}/32` : x))
        .join(","),
  }));
  const ports = { http: await freePort(), metrics: await freePort() };
  const lp = dep.render(gw, gw.containers[0], {
    binaries: { "/bin/oauth2-proxy": tools.oauth2Proxy },
    ports,
    rules: [serviceRule(svc, 80, serverPort), ...vpcRules],
  });
  report.info(`${lp.name}: as Kubernetes runs it: ${lp.synthesized.argv.join(" ")} (env: ${Object.keys(lp.synthesized.env).join(", ")})`);
  for (const c of lp.changes) report.info(`  local change ${c.where}: ${c.from} -> ${c.to} (${c.why})`);
  const proc = ctx.procs.start("model-gateway", lp.argv, { env: { PATH: "/usr/bin:/bin", ...lp.env } });
  const gwBase = `http://${LOOPBACK}:${ports.http}`;
  await waitForHttp(`${gwBase}/ready`, proc, 30_000, 200);
  const body = JSON.stringify({ data: ROW });
  const call = (headers: Record<string, string>) =>
    request(`${gwBase}/predict`, { method: "POST", body, headers: { "Content-Type": "application/json", ...headers } });
  const logBefore = fs.readFileSync(serverLogFile, "utf8").split("\n").length;

  const spoof = { "X-Forwarded-Email": "admin@example.com", "X-Forwarded-User": "admin", "X-Caller-Id": "admin" };
  const ok = await call({ Authorization: `Bearer ${need(ctx.token, "token")}`, ...spoof });
  reached("/predict", ok.status);
  report.check(
    "through the model gateway, a valid token is served: POST /predict answers setosa",
    ok.status === 200 && JSON.parse(ok.body).labels?.[0] === "setosa",
    `${ok.status} ${ok.body.slice(0, 160)}`,
  );
  const refused: [string, Record<string, string>][] = [
    ["without a token", {}],
    ["with a token signed by another key", { Authorization: `Bearer ${await oidc.mint({ key: "other" })}` }],
    ["with an expired token", { Authorization: `Bearer ${await oidc.mint({ ttl: -60 })}` }],
    ["with a token for another audience", { Authorization: `Bearer ${await oidc.mint({ aud: "some-other-client" })}` }],
    [
      "with a token from outside the allowed e-mail domains",
      { Authorization: `Bearer ${await oidc.mint({ email: "mallory@evil.example" })}` },
    ],
    ["with spoofed identity headers and no token", spoof],
  ];
  for (const [what, headers] of refused) {
    const r = await call(headers);
    report.check(
      `through the model gateway, a call ${what} is refused`,
      r.status === 401 || r.status === 403,
      `POST /predict: ${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 100)}`,
    );
  }
  // What oauth2-proxy lets through (its domain check is skipped without an e-mail claim): the model server
  // refuses it itself, naming why, and never predicts.
  const noIdentity: [string, string][] = [
    ["with neither e-mail nor subject", await oidc.mint({ omit: ["email", "sub", "preferred_username"] })],
    ["without e-mail, whose subject is no address", await oidc.mint({ omit: ["email"], sub: "svc-no-mail" })],
  ];
  for (const [what, t] of noIdentity) {
    const r = await call({ Authorization: `Bearer ${t}`, ...spoof });
    if (r.status === 403 && /"error": "forbidden"/.test(r.body)) reached("/predict", 403);
    report.check(
      `through the model gateway, an issuer-signed token ${what} is refused (403), not predicted`,
      r.status === 403 && !/predictions/.test(r.body),
      `POST /predict: ${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 140)}${/"error": "forbidden"/.test(r.body) ? " (refused by the model server: the proxy let it through)" : " (refused by the proxy)"}`,
    );
  }
  // The model's metrics (per-feature histograms of every caller) and health (load errors): not through the gateway.
  const token = need(ctx.token, "token");
  const probes = await Promise.all(
    ["/metrics", "/health"].map((p) => request(`${gwBase}${p}`, { headers: { Authorization: `Bearer ${token}` } })),
  );
  for (const r of probes) if (r.status === 404) reached("other", 404); // answered (and counted) by the model server
  report.check(
    "through the model gateway, with a valid token, the model's /metrics and /health are not served (404: they are on the admin port, Prometheus and the kubelet only)",
    probes.every((r) => r.status === 404 && !/model_server_|"alive"/.test(r.body)),
    probes.map((r, i) => `GET ${["/metrics", "/health"][i]}: ${r.status} ${r.body.slice(0, 80)}`).join("; "),
  );
  await ctx.procs.stop(proc);
  const serverLog = fs
    .readFileSync(serverLogFile, "utf8")
    .split("\n")
    .slice(logBefore - 1)
    .filter((l) => l.startsWith("{") && l.includes('"request_id"'))
    .map((l) => JSON.parse(l));
  const predictions = serverLog.filter((l) => l.route === "/predict");
  const served = predictions.filter((l) => l.status === 200);
  const refusedByServer = predictions.filter((l) => l.status === 403);
  report.check(
    "no refused call was served by the model; the served one ran as the token's e-mail, not the spoofed header",
    served.length === 1 && served[0].caller === hashed(USER_EMAIL) && predictions.length === served.length + refusedByServer.length,
    `${predictions.length} POST /predict reached the server while the gateway was up: ${served.length} served as ${served.map((l) => l.caller.slice(0, 12)).join(", ")}... (the HMAC of ${USER_EMAIL}; the client claimed admin@example.com), ${refusedByServer.length} refused by the server itself (403)`,
  );
}

/** The smoke test Job of the model's Rollout (AnalysisTemplate in the endpoint's chart values). */
function smokeJobContainer(json: any): { image: string; command: string[]; args: string[]; env: { name: string; value: string }[] } {
  const found: any[] = [];
  for (const r of Object.values(json.resource?.helm_release ?? {}) as any[]) {
    for (const v of r.values ?? []) {
      let doc: any;
      try {
        doc = JSON.parse(v);
      } catch {
        continue;
      }
      for (const o of doc.resources ?? []) {
        if (o.kind !== "AnalysisTemplate") continue;
        for (const m of o.spec?.metrics ?? []) {
          const c = m.provider?.job?.spec?.template?.spec?.containers?.[0];
          if (c && o.metadata?.labels?.["mlflow-platform/model"] === MODEL) found.push(c);
        }
      }
    }
  }
  if (found.length !== 1)
    throw new Error(
      `expected one smoke-test Job in the ${MODEL} endpoint's AnalysisTemplates, found ${found.length} (is serving.delivery.strategy rollingUpdate?)`,
    );
  return found[0];
}

/**
 * Runs the Rollout's smoke Job command against the server (the preview Service's address swapped for the
 * local server's), and once more expecting another version, which must fail: the check can fail.
 */
async function smokeTest(ctx: Ctx, json: any, img: ModelImage, base: string, counted: (status: number) => void): Promise<void> {
  const { report } = ctx;
  const c = smokeJobContainer(json);
  const urlAt = c.args.indexOf("--url");
  const preview = c.args[urlAt + 1];
  if (urlAt < 0 || !/^http:\/\/[a-z0-9-]+-preview\.[a-z0-9-]+\.svc$/.test(preview))
    throw new Error(`the smoke Job does not call a preview Service: ${c.args.join(" ")}`);
  if (!c.image.endsWith(`@${img.digest}`)) throw new Error(`the smoke Job runs ${c.image}, not the released image (${img.digest})`);
  const bin = path.join(img.root, "opt", "venv", "bin", c.command[0]);
  const argv = (args: string[]) => [bin, ...c.command.slice(1), ...args.map((a) => (a === preview ? base : a))];
  const env = {
    ...img.env,
    LANG: "C.UTF-8",
    ...Object.fromEntries(c.env.map((e) => [e.name, e.name === "HOME" || e.name === "TMPDIR" ? ctx.runDir : e.value])),
  };
  report.info(`smoke Job, as the Rollout runs it: ${[...c.command, ...c.args].join(" ")}`);
  report.info(`  local change --url: ${preview} -> ${base} (the preview Service: here the one server)`);
  const pass = await ctx.procs.run("smoke-test", argv(c.args), { env, timeoutMs: 60_000 });
  counted(200);
  const wrongVersion = c.args.map((a, i) => (c.args[i - 1] === "--expect-version" ? "999" : a));
  const fail = await ctx.procs.run("smoke-test-wrong-version", argv(wrongVersion), { env, timeoutMs: 60_000 });
  counted(200);
  const line = (out: string) =>
    out
      .split("\n")
      .find((l) => l.startsWith('{"smoke"'))
      ?.trim() ?? out.trim().slice(-300);
  report.check(
    "the Rollout's pre-promotion smoke test (its synthesized Job command) passes against the new version: POST /predict answers setosa",
    pass.code === 0 && /"smoke": "pass"/.test(pass.output) && /"labels": \["setosa"\]/.test(pass.output),
    `exit ${pass.code}: ${line(pass.output)}`,
  );
  report.check(
    "the same smoke test fails (exit 1, so the analysis fails and the Rollout aborts) when the answer names another version",
    fail.code === 1 && /"smoke": "fail"/.test(fail.output) && /expected '999'/.test(fail.output),
    `exit ${fail.code}: ${line(fail.output)}`,
  );
}

/** POSTs a body of `size` bytes, streaming it until the server answers; resolves with the answer. */
function hugeBody(port: number, route: string, size: number, callerHeader: string): Promise<HttpResponse & { sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request(
      {
        host: LOOPBACK,
        port,
        path: route,
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json", "Content-Length": String(size), [callerHeader]: "app-big@example.com" },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), sent });
          req.destroy();
        });
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (answered) return;
      // A reset before the answer was read is a failure (status 0): the server must not close under the client.
      if (e.code === "ECONNRESET" || e.code === "EPIPE")
        resolve({ status: 0, headers: {}, body: `connection reset by the server (${e.code})`, sent });
      else reject(e);
    });
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const pump = () => {
      while (!answered && sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      if (sent >= size) req.end();
    };
    pump();
  });
}

/** A request whose body never completes (10 of its bytes are sent): resolves with the server's answer when it closes. */
async function slowRequest(port: number, caller: string, callerHeader: string): Promise<{ answer: Promise<HttpResponse> }> {
  const body = JSON.stringify({ data: ROW });
  const socket = net.connect(port, LOOPBACK);
  await new Promise<void>((r, j) => {
    socket.once("connect", () => r());
    socket.once("error", j);
  });
  socket.write(
    `POST /predict HTTP/1.1\r\nHost: model\r\nContent-Type: application/json\r\n${callerHeader}: ${caller}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
  );
  const answer = new Promise<HttpResponse>((resolve) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      // A 429 comes while the body is still "arriving": the server does not close; this client does.
      if (/\r\n\r\n[\s\S]*\}$/.test(Buffer.concat(chunks).toString("utf8"))) socket.end();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      resolve({
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? 0),
        headers: {},
        body: raw.split("\r\n\r\n").slice(1).join("\r\n\r\n"),
      });
    });
  });
  return { answer };
}
