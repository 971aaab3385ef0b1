/**
 * The MLflow processes the platform runs, each as one pure value (image, command, args, env): the
 * tracking server, the schema migration (`mlflow db upgrade`) and the garbage collection
 * (`mlflow gc`). `constructs/tracking-server/index.ts` turns them into a Deployment, a Job and a CronJob;
 * the end-to-end harness runs the very same values as local processes, swapping only addresses.
 *
 * Stable API (the e2e harness depends on these names):
 *   mlflowImage, trackingServerName, trackingServerUrl, allowedHosts, corsAllowedOrigins,
 *   backendStoreEnv, trackingServerCommand, dbUpgradeCommand, gcCommand, accessSyncCommand, MLFLOW_ENV,
 *   and the path constants below.
 *
 * Secrets. The database password is never part of any string we build: it is handed to the
 * process as `PGPASSWORD` (a Kubernetes Secret reference), which libpq (under psycopg2, under
 * SQLAlchemy) reads when the connection URI carries no password. So the backend store URI,
 * `postgresql+psycopg2://$(MLFLOW_DB_USER)@<host>:<port>/<db>?sslmode=require`, holds no secret, can
 * be passed as a command-line argument (`mlflow db upgrade URL` takes it positionally, `mlflow gc`
 * has no environment variable for it) without the password ever reaching a process's argv
 * (/proc/<pid>/cmdline), and needs no URL-encoding of whatever characters the password contains.
 */
import type { ArtifactStoreContract, BackendStoreContract, SecretKeyRef } from "../core/contracts";
import { UPSTREAM_IDLE_CONNECTION_SECONDS } from "../auth-proxy/oauth2-proxy-command";
import { PYTHON_SITE_DIR, sitecustomizeFile } from "../core/tcp-nodelay";
import {
  ACCESS_MODULE,
  TRACKING_AUTH_APP_NAME,
  TRACKING_GUARD_APP_NAME,
  TRACKING_GUARD_DIR,
  type TrackingGuardSettings,
  trackingGuardEnv,
  trackingGuardMountedFiles,
} from "./guard-command";
import type { ContainerCommand, EnvVar } from "../core/command-types";
import { PropError } from "../core/prop-error";
import { type AccessCommandSettings, accessPolicyMountedFile, accessServerEnv, workspacesEnv } from "../access/access-command";
import { ACCESS_POLICY_ENV, ACCESS_POLICY_PATH } from "../access/policy";

/** The official image repository; `-full` tags (MLflow >= 3.9) add psycopg2, boto3 and the Prometheus exporter. */
export const MLFLOW_IMAGE_REPOSITORY = "ghcr.io/mlflow/mlflow";

/** Writable scratch space (an emptyDir in Kubernetes): HOME, TMPDIR, proxied upload buffers. */
export const TMP_DIR = "/tmp";
/** The prometheus_client multiprocess directory behind `--expose-prometheus` (an emptyDir in Kubernetes). */
export const PROMETHEUS_DIR = "/var/run/mlflow/prometheus";
/** The path Prometheus scrapes, on the server's own port. */
export const METRICS_PATH = "/metrics";
/** The health endpoint (exempt from MLflow's host check). */
export const HEALTH_PATH = "/health";

/** Environment variable names shared by the three processes. */
export const MLFLOW_ENV = {
  /** Database user name (Secret reference); expanded into the URIs below. */
  dbUser: "MLFLOW_DB_USER",
  /** Database password (Secret reference), read by libpq; never expanded into any string. */
  dbPasswordVar: "PGPASSWORD",
  /** `postgresql+psycopg2://$(MLFLOW_DB_USER)@host:port/db?sslmode=require`; also read natively by `mlflow server`. */
  backendStoreUri: "MLFLOW_BACKEND_STORE_URI",
  /** Same, for the read replica (only when the environment has one). */
  readReplicaUri: "MLFLOW_READ_REPLICA_BACKEND_STORE_URI",
  /** The in-cluster tracking server URL, which `mlflow gc` needs to resolve proxied `mlflow-artifacts:` URIs. */
  trackingUri: "MLFLOW_TRACKING_URI",
} as const;

/**
 * What the three commands are computed from: narrow values, no environment configuration. The mapping
 * from configuration lives in `constructs/tracking-server/from-config.ts`; the TrackingServer construct
 * derives these from its props with `mlflowCommandInputs`.
 */
export interface MlflowCommandInputs {
  /** Image with an exact tag or digest (see {@link mlflowImage}). */
  readonly image: string;
  /** Port the server listens on. */
  readonly port: number;
  /** Server worker processes (`--workers`). */
  readonly workers: number;
  /** Host headers the server accepts (`--allowed-hosts`; see {@link allowedHosts}). */
  readonly allowedHosts: readonly string[];
  /** Origins allowed to make state-changing calls (`--cors-allowed-origins`). */
  readonly corsAllowedOrigins: readonly string[];
  /** `--uvicorn-opts` (see {@link uvicornOpts}). */
  readonly uvicornOpts: string;
  /** `mlflow gc --older-than <days>d`. */
  readonly gcOlderThanDays: number;
  /** The in-cluster tracking server URL `mlflow gc` resolves proxied artifacts through (see {@link trackingServerUrl}). */
  readonly trackingUri: string;
  readonly backendStore: BackendStoreContract;
  readonly artifactStore: Pick<ArtifactStoreContract, "destinationUri">;
  /**
   * Registry webhooks to an in-cluster receiver (the registry events service): the Secret key holding
   * the encryption key of webhook secrets, shared by every worker and replica. Unset: no webhook settings.
   */
  readonly webhookEncryptionKey?: SecretKeyRef;
  /**
   * The ConfigMap holding the TCP_NODELAY module (`constructs/core/tcp-nodelay.ts`): the server
   * mounts it and puts it on PYTHONPATH. Unset: the server runs without it (a kept-alive connection then
   * waits ~40 ms per response when `workers` > 1).
   */
  readonly tcpNoDelayConfigMap?: string;
  /**
   * The guard MLflow's app runs inside (`--app-name platform-guard`, see tracking-guard.ts): identity
   * re-checked on the public hostname, no internals in 5xx bodies. Unset: MLflow's app alone.
   */
  readonly guard?: TrackingGuardSettings;
  /**
   * Teams (constructs/access): the server runs MLflow's auth app with workspaces inside the guard
   * (`--app-name platform-auth`, which needs `guard`), reading the policy from this ConfigMap; gc runs across
   * every workspace. Unset: no workspaces, no authorization beyond the proxy and the guard.
   */
  readonly access?: AccessCommandSettings;
}

/** The image every MLflow process runs: `image`, else `ghcr.io/mlflow/mlflow:v<version>-full`. */
export function mlflowImage(opts: { readonly version: string; readonly image?: string }): string {
  return opts.image ?? `${MLFLOW_IMAGE_REPOSITORY}:v${opts.version}-full`;
}

/** Name of the tracking server's Deployment, Service and other resources: `<project>-tracking`. */
export function trackingServerName(project: string): string {
  return `${project}-tracking`;
}

/** Where a Service lives: what the in-cluster names and URL are built from. */
export interface ServiceAddress {
  readonly serviceName: string;
  readonly namespace: string;
  readonly port: number;
}

/** Every name under which the tracking server's Service is reachable inside the cluster. */
/** What locating an environment's tracking server reads of it (an EnvironmentConfig is one). */
export interface TrackingServerLocation {
  readonly project: string;
  readonly mlflow: { readonly namespace: string; readonly port: number };
}

/**
 * Where an environment's tracking server answers inside the cluster (its Service name, namespace and
 * port): what the other in-cluster clients (registry events, model retention, drift) are pointed at.
 */
export function trackingServerAddress(env: TrackingServerLocation): ServiceAddress {
  return { serviceName: trackingServerName(env.project), namespace: env.mlflow.namespace, port: env.mlflow.port };
}

/**
 * What the tracking server needs when registry events are on: MLflow's SSRF guard admits the in-cluster HTTP
 * receiver (its private address and plain HTTP; the NetworkPolicies bound where a webhook can go, see
 * docs/registry-events.md), and one encryption key for webhook secrets shared by every worker and
 * replica (without it each process generates its own and cannot read the others' secrets).
 */
export function trackingServerWebhookEnv(secrets: { readonly encryptionKey: SecretKeyRef }): EnvVar[] {
  return [
    { name: "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", value: "true" },
    { name: "MLFLOW_WEBHOOK_ALLOWED_SCHEMES", value: "http,https" },
    { name: "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY", secretKeyRef: { name: secrets.encryptionKey.name, key: secrets.encryptionKey.key } },
    // Each server process caches the webhook list per event (default 60 s): a shorter cache lets a
    // webhook the service (re)declares at start-up take effect within seconds, for one indexed query.
    { name: "MLFLOW_WEBHOOK_CACHE_TTL", value: "10" },
  ];
}

export function inClusterHostnames(svc: Pick<ServiceAddress, "serviceName" | "namespace">): string[] {
  const { serviceName: s, namespace: ns } = svc;
  return [s, `${s}.${ns}`, `${s}.${ns}.svc`, `${s}.${ns}.svc.cluster.local`];
}

/** The tracking server's in-cluster URL (fully qualified Service name and port). */
export function trackingServerUrl(svc: ServiceAddress): string {
  return `http://${svc.serviceName}.${svc.namespace}.svc.cluster.local:${svc.port}`;
}

/**
 * MLflow's default Host patterns (loopback and private address ranges, from mlflow.server.security_utils),
 * kept because `--allowed-hosts` replaces them: Prometheus scrapes pods by IP and kubelet probes by IP.
 */
const MLFLOW_DEFAULT_HOSTS = [
  "localhost",
  "localhost:*",
  "127.0.0.1",
  "127.0.0.1:*",
  "[::1]",
  "[[]::1]:*",
  "10.*",
  "192.168.*",
  ...Array.from({ length: 16 }, (_, i) => `172.${16 + i}.*`),
  "fc00:*",
  "fd00:*",
];

/** What {@link allowedHosts} is computed from. */
export interface AllowedHostsInputs extends ServiceAddress {
  /** The public hostname (behind the load balancer). */
  readonly publicHostname: string;
  /** Further Host headers to accept. */
  readonly extraAllowedHosts?: readonly string[];
  /** CIDR blocks pods and probes come from (the VPC's), for addresses outside the private ranges. */
  readonly podCidrs?: readonly string[];
}

/**
 * The Host headers the server accepts (`--allowed-hosts`): the public hostname with and without its
 * port (mlflow/mlflow#22095), every in-cluster Service name with and without the port, the
 * configured extras, and MLflow's own defaults. Anything else gets 403 "Invalid Host header".
 */
export function allowedHosts(inputs: AllowedHostsInputs): string[] {
  const { port, publicHostname } = inputs;
  const hosts = [
    publicHostname,
    `${publicHostname}:443`,
    ...inClusterHostnames(inputs).flatMap((h) => [h, `${h}:${port}`]),
    ...(inputs.extraAllowedHosts ?? []),
    ...MLFLOW_DEFAULT_HOSTS,
    // Pod IPs outside the private ranges (e.g. 100.64.0.0/10 with VPC CNI custom networking).
    ...(inputs.podCidrs ?? []).flatMap((cidr) => cidrHostPattern(cidr) ?? []),
  ];
  return [...new Set(hosts)];
}

/**
 * A Host pattern covering a CIDR block, widened to its octet boundary ("100.64.0.0/10" -> "100.*");
 * none for blocks wider than /8, which would admit nearly any host.
 */
export function cidrHostPattern(cidr: string): string | undefined {
  const [ip, bits] = cidr.split("/");
  const keep = Math.min(3, Math.floor(Number(bits) / 8));
  return keep >= 1 ? `${ip.split(".").slice(0, keep).join(".")}.*` : undefined;
}

/**
 * Origins allowed to make state-changing API calls (`--cors-allowed-origins`). Browsers send an
 * Origin header even on same-origin POSTs, and MLflow blocks every non-localhost origin by default,
 * so without this the UI behind the ingress could read but not write.
 */
export function corsAllowedOrigins(publicHostname: string): string[] {
  return [`https://${publicHostname}`];
}

/**
 * `--uvicorn-opts`: keep-alive longer than any client's idle connections, graceful shutdown, then the
 * extras (last wins). `clientIdleTimeoutSeconds` is the load balancer's idle timeout.
 */
export function uvicornOpts(opts: { readonly clientIdleTimeoutSeconds: number; readonly extra?: string }): string {
  const out = [
    // The proxy in front reuses idle connections to MLflow for up to 90 s (Go's default), and the load
    // balancer's idle timeout bounds the rest of the path: the server must not close a connection before
    // either, or a request racing the close gets a 502.
    `--timeout-keep-alive ${Math.max(opts.clientIdleTimeoutSeconds, UPSTREAM_IDLE_CONNECTION_SECONDS) + 5}`,
    `--timeout-graceful-shutdown ${GRACEFUL_SHUTDOWN_SECONDS}`,
  ];
  if (opts.extra) out.push(opts.extra.trim());
  return out.join(" ");
}

/** How long uvicorn lets in-flight requests finish after SIGTERM. */
export const GRACEFUL_SHUTDOWN_SECONDS = 30;

function postgresUri(host: string, backendStore: BackendStoreContract): string {
  return `postgresql+psycopg2://$(${MLFLOW_ENV.dbUser})@${host}:${backendStore.port}/${backendStore.database}?sslmode=require`;
}

/**
 * The environment that connects a process to the backend store: user and password from the
 * Secret (references), then the URIs built from them. Order matters: `$(VAR)` only sees earlier
 * variables.
 */
export function backendStoreEnv(backendStore: BackendStoreContract): EnvVar[] {
  const { secretName, usernameKey, passwordKey } = backendStore.credentials;
  const env: EnvVar[] = [
    { name: MLFLOW_ENV.dbUser, secretKeyRef: { name: secretName, key: usernameKey } },
    { name: MLFLOW_ENV.dbPasswordVar, secretKeyRef: { name: secretName, key: passwordKey } },
    { name: MLFLOW_ENV.backendStoreUri, value: postgresUri(backendStore.host, backendStore) },
  ];
  if (backendStore.readReplicaHost) {
    env.push({ name: MLFLOW_ENV.readReplicaUri, value: postgresUri(backendStore.readReplicaHost, backendStore) });
  }
  return env;
}

/** Environment every MLflow process gets regardless of role. */
function commonEnv(): EnvVar[] {
  return [
    // A non-root user without a passwd entry has no home: point HOME and TMPDIR at the writable volume.
    { name: "HOME", value: TMP_DIR },
    { name: "TMPDIR", value: TMP_DIR },
    { name: "PYTHONUNBUFFERED", value: "1" },
    { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
    // No usage telemetry from inside the platform.
    { name: "MLFLOW_DISABLE_TELEMETRY", value: "true" },
    { name: "DO_NOT_TRACK", value: "true" },
  ];
}

/**
 * MLflow's job execution off (3.17 turns it on by default). It runs a job runner and several huey
 * consumer processes in every server pod for the GenAI features only (scorers, GenAI evaluation, prompt
 * optimisation, online scoring and trace archival as periodic tasks): measured in the e2e, an idle pod
 * holds about 1.2-1.3 GiB PSS with it (13 processes) and about 0.6 GiB without (5), and its periodic
 * tasks would run once per replica. docs/runtime.md has the figures and what turning it off loses.
 */
export function jobExecutionEnv(): EnvVar[] {
  return [
    { name: "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", value: "false" },
    { name: "MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS", value: "false" },
  ];
}

/**
 * The tracking server: `mlflow server` on 0.0.0.0, with proxied artifacts to S3, the host check and
 * CORS configured for the public hostname, Prometheus metrics on `/metrics`, and the read replica
 * when there is one.
 */
export function trackingServerCommand(inputs: MlflowCommandInputs): ContainerCommand {
  const { backendStore, artifactStore, access } = inputs;
  if (access && !inputs.guard)
    throw new PropError("trackingServerCommand", "access", access, "the guard too: the platform-auth app runs inside it");
  const fileOptions = { access: access !== undefined };
  const pythonPath = [...(inputs.guard ? [TRACKING_GUARD_DIR] : []), ...(inputs.tcpNoDelayConfigMap ? [PYTHON_SITE_DIR] : [])];
  const args = ["server", "--backend-store-uri", `$(${MLFLOW_ENV.backendStoreUri})`];
  if (backendStore.readReplicaHost) args.push("--read-replica-backend-store-uri", `$(${MLFLOW_ENV.readReplicaUri})`);
  args.push(
    "--serve-artifacts",
    "--artifacts-destination",
    artifactStore.destinationUri,
    "--host",
    "0.0.0.0",
    "--port",
    String(inputs.port),
    "--workers",
    String(inputs.workers),
    "--allowed-hosts",
    inputs.allowedHosts.join(","),
    "--cors-allowed-origins",
    inputs.corsAllowedOrigins.join(","),
    "--expose-prometheus",
    PROMETHEUS_DIR,
    "--uvicorn-opts",
    inputs.uvicornOpts,
    // MLflow's app wrapped by the platform's guard: identity re-checked, no internals in 5xx (tracking-guard.ts);
    // with teams, MLflow's auth app with workspaces inside the same guard.
    ...(inputs.guard ? ["--app-name", access ? TRACKING_AUTH_APP_NAME : TRACKING_GUARD_APP_NAME] : []),
  );
  return {
    image: inputs.image,
    command: ["mlflow"],
    args,
    env: [
      ...commonEnv(),
      ...backendStoreEnv(backendStore),
      ...jobExecutionEnv(),
      // Registry webhooks to the in-cluster events service (only when it is deployed).
      ...(inputs.webhookEncryptionKey ? trackingServerWebhookEnv({ encryptionKey: inputs.webhookEncryptionKey }) : []),
      ...(inputs.guard ? trackingGuardEnv(inputs.guard) : []),
      ...(access ? accessServerEnv() : []),
      // The mounted Python directories: the guard's (an `mlflow.app` entry point) and the TCP_NODELAY
      // module's (sitecustomize, see tcp-nodelay.ts).
      ...(pythonPath.length > 0 ? [{ name: "PYTHONPATH", value: pythonPath.join(":") }] : []),
    ],
    files: [
      ...(inputs.guard ? trackingGuardMountedFiles(inputs.guard.configMapName, fileOptions) : []),
      ...(access ? [accessPolicyMountedFile(access.policyConfigMapName)] : []),
      ...(inputs.tcpNoDelayConfigMap ? [sitecustomizeFile(inputs.tcpNoDelayConfigMap)] : []),
    ],
    ports: { http: inputs.port },
  };
}

/**
 * The schema migration: `mlflow db upgrade <URL>`. Creates the tables of an empty database, or
 * upgrades an existing one to the image's version. The URL is positional (the CLI reads no
 * environment variable for it); it carries no password (see the module comment).
 */
export function dbUpgradeCommand(inputs: Pick<MlflowCommandInputs, "image" | "backendStore">): ContainerCommand {
  const { backendStore } = inputs;
  return {
    image: inputs.image,
    command: ["mlflow"],
    args: ["db", "upgrade", `$(${MLFLOW_ENV.backendStoreUri})`],
    env: [...commonEnv(), ...backendStoreEnv(backendStore)],
  };
}

/**
 * Garbage collection: `mlflow gc` hard-deletes runs (and experiments, logged models) that were
 * deleted more than `gcOlderThanDays` days ago, with their artifacts. Proxied
 * artifacts (`mlflow-artifacts:` URIs) are deleted through the tracking server, hence
 * MLFLOW_TRACKING_URI.
 */
export function gcCommand(
  inputs: Pick<MlflowCommandInputs, "image" | "gcOlderThanDays" | "trackingUri" | "backendStore" | "artifactStore" | "access">,
): ContainerCommand {
  const { backendStore, artifactStore } = inputs;
  // With workspaces, gc without a workspace would clean the default one only.
  const workspaces = inputs.access !== undefined;
  return {
    image: inputs.image,
    command: ["mlflow"],
    args: [
      "gc",
      "--older-than",
      `${inputs.gcOlderThanDays}d`,
      "--backend-store-uri",
      `$(${MLFLOW_ENV.backendStoreUri})`,
      "--artifacts-destination",
      artifactStore.destinationUri,
      ...(workspaces ? ["--all-workspaces"] : []),
    ],
    env: [
      ...commonEnv(),
      ...backendStoreEnv(backendStore),
      { name: MLFLOW_ENV.trackingUri, value: inputs.trackingUri },
      ...(workspaces ? workspacesEnv() : []),
    ],
  };
}

/**
 * The access sync (teams only): `python -m mlflow_platform_access sync --policy <file>` in the MLflow image,
 * with the backend store environment of the migration Job. It applies the policy document with MLflow's own
 * stores: the auth database's migrations, the teams' workspaces, the `platform.*` roles (creating, updating and
 * deleting: removing a group from configuration revokes its access), the platform's internal admin user.
 * Idempotent; run before each rollout (constructs/access). The access module comes from the guard's ConfigMap.
 */
export function accessSyncCommand(
  inputs: Pick<MlflowCommandInputs, "image" | "backendStore" | "access"> & {
    readonly guard?: Pick<TrackingGuardSettings, "configMapName">;
  },
): ContainerCommand {
  const { access, guard } = inputs;
  if (!access)
    throw new PropError("accessSyncCommand", "access", access, "the access settings (teams on): there is nothing to sync without them");
  if (!guard) throw new PropError("accessSyncCommand", "guard", guard, "the guard's settings: its ConfigMap carries the access module");
  return {
    image: inputs.image,
    command: ["python"],
    args: ["-m", ACCESS_MODULE, "sync", "--policy", ACCESS_POLICY_PATH],
    env: [
      ...commonEnv(),
      ...backendStoreEnv(inputs.backendStore),
      ...workspacesEnv(),
      { name: ACCESS_POLICY_ENV, value: ACCESS_POLICY_PATH },
      { name: "PYTHONPATH", value: TRACKING_GUARD_DIR },
    ],
    files: [...trackingGuardMountedFiles(guard.configMapName, { access: true }), accessPolicyMountedFile(access.policyConfigMapName)],
  };
}
