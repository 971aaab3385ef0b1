/**
 * Starts a real etcd and kube-apiserver (built by scripts/install-tools.sh from the Go module proxy)
 * on loopback, for the Kubernetes API check: self-signed certificate (openssl), static token
 * authentication, RBAC authorization, the admission plugins a cluster runs (PodSecurity with
 * "restricted" as the default level), free ports, and all data in a temporary directory.
 * Both processes run in their own process group and are stopped by PID (the group's id).
 */
import { execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { KubeClient } from "./client";

/** Environment variable naming the file with the running server's ClusterInfo (set by global-setup.ts). */
export const CLUSTER_ENV = "KUBE_CHECK_CLUSTER";

/** What a test needs to reach the server (JSON-serializable: jest's globalSetup hands it to workers). */
export interface ClusterInfo {
  url: string;
  token: string;
  caFile: string;
  dir: string;
  /** Process-group ids (= PIDs of the leaders) of etcd and kube-apiserver. */
  pids: number[];
  /** The server's version string, e.g. v1.34.4. */
  version: string;
}

export function kubeBin(tools: string, name: "kube-apiserver" | "etcd" | "helm-render"): string {
  const file = path.join(tools, "bin", name);
  if (!fs.existsSync(file))
    throw new Error(
      `${name} not found at ${file}: run \`bash scripts/install-tools.sh\` (it builds kube-apiserver, etcd and helm-render from the Go module proxy)`,
    );
  return file;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The Pod Security defaults of namespaces without pod-security labels: restricted, everywhere. */
const ADMISSION_CONFIG = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: restricted
      enforce-version: latest
      audit: restricted
      audit-version: latest
      warn: restricted
      warn-version: latest
    exemptions: {usernames: [], runtimeClasses: [], namespaces: []}
`;

/** Admission plugins: the default set of the version, PodSecurity named explicitly. */
const ADMISSION_PLUGINS = [
  "NamespaceLifecycle",
  "LimitRanger",
  "ServiceAccount",
  "PodSecurity",
  "Priority",
  "DefaultTolerationSeconds",
  "DefaultStorageClass",
  "StorageObjectInUseProtection",
  "PersistentVolumeClaimResize",
  "RuntimeClass",
  "DefaultIngressClass",
  "MutatingAdmissionPolicy",
  "MutatingAdmissionWebhook",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionWebhook",
  "ResourceQuota",
].filter((p) => p !== "MutatingAdmissionPolicy"); // alpha in 1.34: enabling it needs a feature gate

export async function startCluster(tools: string, log: (msg: string) => void = () => undefined): Promise<ClusterInfo> {
  const apiserver = kubeBin(tools, "kube-apiserver");
  const etcd = kubeBin(tools, "etcd");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-check-"));
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];

  // Serving certificate (self-signed, for 127.0.0.1) and the service-account signing key.
  const cert = path.join(dir, "apiserver.crt");
  const key = path.join(dir, "apiserver.key");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=kube-apiserver",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { stdio: "ignore" },
  );
  const sa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, "sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }));
  fs.writeFileSync(path.join(dir, "sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));
  const token = crypto.randomBytes(24).toString("hex");
  fs.writeFileSync(path.join(dir, "tokens.csv"), `${token},kube-check-admin,kube-check-admin,"system:masters"\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, "admission.yaml"), ADMISSION_CONFIG);

  const pids: number[] = [];
  const started = (cmd: string, args: string[], logName: string) => {
    const out = fs.openSync(path.join(dir, logName), "a");
    // detached: its own process group, so stopCluster can signal the whole group by its id.
    const child = spawn(cmd, args, { detached: true, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    if (!child.pid) throw new Error(`could not start ${cmd}`);
    child.unref();
    pids.push(child.pid);
    return child;
  };
  try {
    started(
      etcd,
      [
        "--name",
        "kube-check",
        "--data-dir",
        path.join(dir, "etcd"),
        "--listen-client-urls",
        `http://127.0.0.1:${etcdClient}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${etcdClient}`,
        "--listen-peer-urls",
        `http://127.0.0.1:${etcdPeer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${etcdPeer}`,
        "--initial-cluster",
        `kube-check=http://127.0.0.1:${etcdPeer}`,
        // Throw-away data: no fsync; large requests, as Argo Workflows' full CRDs are over 1.5 MiB.
        "--unsafe-no-fsync",
        "--max-request-bytes",
        String(8 * 1024 * 1024),
        "--log-level",
        "warn",
      ],
      "etcd.log",
    );
    started(
      apiserver,
      [
        "--etcd-servers",
        `http://127.0.0.1:${etcdClient}`,
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--secure-port",
        String(apiPort),
        "--tls-cert-file",
        cert,
        "--tls-private-key-file",
        key,
        "--cert-dir",
        path.join(dir, "certs"),
        "--token-auth-file",
        path.join(dir, "tokens.csv"),
        "--anonymous-auth=false",
        "--authorization-mode",
        "RBAC",
        "--enable-admission-plugins",
        ADMISSION_PLUGINS.join(","),
        "--admission-control-config-file",
        path.join(dir, "admission.yaml"),
        "--service-account-issuer",
        "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file",
        path.join(dir, "sa.pub"),
        "--service-account-signing-key-file",
        path.join(dir, "sa.key"),
        "--service-cluster-ip-range",
        "10.96.0.0/16",
        "--profiling=false",
        "--v",
        "1",
      ],
      "kube-apiserver.log",
    );
    const info: ClusterInfo = { url: `https://127.0.0.1:${apiPort}`, token, caFile: cert, dir, pids, version: "" };
    const client = new KubeClient(info);
    info.version = await waitReady(client, dir, 180_000);
    log(`kube-check: kube-apiserver ${info.version} ready at ${info.url} (data in ${dir})`);
    return info;
  } catch (err) {
    stopCluster({ pids, dir, keep: true });
    throw err;
  }
}

async function waitReady(client: KubeClient, dir: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await client.request("GET", "/readyz");
      if (r.status === 200) {
        const v = await client.request("GET", "/version");
        return (JSON.parse(v.body) as { gitVersion: string }).gitVersion;
      }
      last = `${r.status} ${r.body.slice(0, 300)}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const tail = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").slice(-15).join("\n") : "");
  throw new Error(
    `kube-apiserver not ready after ${timeoutMs / 1000} s (last: ${last})\n--- kube-apiserver.log\n${tail(path.join(dir, "kube-apiserver.log"))}\n--- etcd.log\n${tail(path.join(dir, "etcd.log"))}`,
  );
}

/** Stops both processes by process group (SIGTERM, then SIGKILL) and removes the data directory. */
export function stopCluster(info: Pick<ClusterInfo, "pids" | "dir"> & { keep?: boolean }): void {
  for (const pid of [...info.pids].reverse()) {
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 5000;
  for (const pid of info.pids) {
    while (Date.now() < deadline && alive(pid)) execFileSync("sleep", ["0.1"]);
    if (alive(pid)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  if (!info.keep && process.env.KUBE_CHECK_KEEP !== "1") fs.rmSync(info.dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
