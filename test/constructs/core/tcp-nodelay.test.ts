/**
 * The TCP_NODELAY module of the tracking server (keep-alive latency): the command mounts it
 * and names it on PYTHONPATH, and under uvicorn `--workers 2` (the venv's, the version MLflow runs) every
 * connection a worker accepts has TCP_NODELAY with it and not without it. The check reads the option on
 * the worker's own sockets, so it needs no timing; the e2e measures the latency it removes.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { trackingServerCommand } from "../../../constructs/tracking-server/mlflow-command";
import { PYTHON_SITE_DIR, SITECUSTOMIZE_KEY, TCP_NODELAY_SITECUSTOMIZE } from "../../../constructs/core/tcp-nodelay";
import { mlflowCommandInputs } from "../../../constructs/tracking-server";
import { trackingServerProps } from "../../../constructs/tracking-server/from-config";
import { authProxyPodLabels } from "../../../constructs/auth-proxy/oauth2-proxy-command";
import { envConfig } from "../../helpers/synth";
import { freePort } from "../../helpers/oidc-stub";
import { venvPython } from "../../helpers/tools";

const deps = {
  artifactStore: {
    bucketName: "b",
    bucketArn: "arn:aws:s3:::b",
    destinationUri: "s3://b/p",
    kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/k",
  },
  backendStore: { host: "db", port: 5432, database: "mlflow", credentials: { secretName: "s", usernameKey: "u", passwordKey: "p" } },
  identity: { serviceAccountName: "mlflow", roleArn: "arn:aws:iam::111111111111:role/r", serviceAccountAnnotations: {} },
  authProxyPodLabels: authProxyPodLabels("mlflow"),
};

describe("the tracking server command carries the module", () => {
  it("mounts it from the ConfigMap and puts its directory on PYTHONPATH", () => {
    const cmd = trackingServerCommand(mlflowCommandInputs(trackingServerProps(envConfig("dev"), deps)));
    // PYTHONPATH also names the tracking guard's directory (tracking-guard.ts).
    expect(cmd.env.find((e) => e.name === "PYTHONPATH")).toMatchObject({
      value: expect.stringMatching(new RegExp(`(^|:)${PYTHON_SITE_DIR}(:|$)`)),
    });
    expect(cmd.files).toContainEqual({
      path: `${PYTHON_SITE_DIR}/${SITECUSTOMIZE_KEY}`,
      configMapKeyRef: { name: "mlflow-tracking-python-site", key: SITECUSTOMIZE_KEY },
    });
  });

  it("leaves both out when turned off", () => {
    const cmd = trackingServerCommand(mlflowCommandInputs({ ...trackingServerProps(envConfig("dev"), deps), tcpNoDelay: false }));
    expect(cmd.env.find((e) => e.name === "PYTHONPATH") ?? { value: "" }).not.toMatchObject({
      value: expect.stringContaining(PYTHON_SITE_DIR),
    });
    expect((cmd.files ?? []).map((f) => f.path)).not.toContain(`${PYTHON_SITE_DIR}/${SITECUSTOMIZE_KEY}`);
  });
});

/** An ASGI app that answers with its pid and TCP_NODELAY of every connection its process accepted on `port`. */
const APP = `
import json, os, socket

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    port = int(os.environ["PROBE_PORT"])
    nodelay = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            dup = os.dup(int(fd))
        except OSError:
            continue
        try:
            s = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        try:
            if s.type == socket.SOCK_STREAM and s.family == socket.AF_INET and s.getsockname()[1] == port:
                try:
                    s.getpeername()
                except OSError:
                    continue  # the listening socket
                nodelay.append(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        finally:
            s.close()
    body = json.dumps({"pid": os.getpid(), "nodelay": nodelay}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
`;

async function probe(withModule: boolean): Promise<{ supervisor: number; answers: { pid: number; nodelay: number[] }[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodelay-"));
  fs.writeFileSync(path.join(dir, "probe_app.py"), APP);
  const site = path.join(dir, "site");
  fs.mkdirSync(site);
  if (withModule) fs.writeFileSync(path.join(site, SITECUSTOMIZE_KEY), TCP_NODELAY_SITECUSTOMIZE);
  const port = await freePort();
  const child: ChildProcess = spawn(
    venvPython(),
    ["-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1", "--port", String(port), "--log-level", "warning", "probe_app:app"],
    {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: site, PROBE_PORT: String(port) },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const get = (agent: http.Agent | false) =>
    new Promise<{ pid: number; nodelay: number[] }>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => {
            try {
              resolve(JSON.parse(body));
            } catch {
              reject(new Error(`the probe answered ${res.statusCode} ${body.slice(0, 200)}\n${stderr}`));
            }
          });
        })
        .on("error", reject);
    });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await get(false);
        break;
      } catch (e) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`uvicorn did not start: ${String(e)}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // Fresh connections (spread over both workers) and kept-alive ones.
    const kept = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await get(false), await get(kept));
    kept.destroy();
    return { supervisor: child.pid!, answers };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("under uvicorn --workers 2 (what MLflow starts)", () => {
  it("without the module, the workers' connections have no TCP_NODELAY (the cause of the 40 ms wait)", async () => {
    const { supervisor, answers } = await probe(false);
    expect(answers.every((a) => a.pid !== supervisor)).toBe(true);
    expect(answers.flatMap((a) => a.nodelay)).toContain(0);
    expect(answers.flatMap((a) => a.nodelay)).not.toContain(1);
  }, 120_000);

  it("with the module, every connection every worker accepted has TCP_NODELAY", async () => {
    const { supervisor, answers } = await probe(true);
    const pids = new Set(answers.map((a) => a.pid));
    expect(pids.has(supervisor)).toBe(false);
    expect(answers.every((a) => a.nodelay.length > 0 && a.nodelay.every((v) => v === 1))).toBe(true);
    // Whichever worker accepts, the option comes from the one listening socket they share (Linux copies
    // it to each accepted connection); which of the two answers is the kernel's choice.
  }, 120_000);
});
