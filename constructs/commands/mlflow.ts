/**
 * The MLflow processes the platform runs, each as one pure value (image, command, args, env): the
 * tracking server, the schema migration (`mlflow db upgrade`) and the garbage collection
 * (`mlflow gc`). `constructs/tracking-server.ts` turns them into a Deployment, a Job and a CronJob;
 * the end-to-end harness runs the very same values as local processes, swapping only addresses.
 *
 * Stable API (the e2e harness depends on these names):
 *   mlflowImage, trackingServerName, trackingServerUrl, allowedHosts, corsAllowedOrigins,
 *   backendStoreEnv, trackingServerCommand, dbUpgradeCommand, gcCommand, MLFLOW_ENV, and the
 *   path constants below.
 *
 * Secrets. The database password is never part of any string we build: it is handed to the
 * process as `PGPASSWORD` (a Kubernetes Secret reference), which libpq (under psycopg2, under
 * SQLAlchemy) reads when the connection URI carries no password. So the backend store URI,
 * `postgresql+psycopg2://$(MLFLOW_DB_USER)@<host>:<port>/<db>?sslmode=require`, holds no secret, can
 * be passed as a command-line argument (`mlflow db upgrade URL` takes it positionally, `mlflow gc`
 * has no environment variable for it) without the password ever reaching a process's argv
 * (/proc/<pid>/cmdline), and needs no URL-encoding of whatever characters the password contains.
 */
import type { EnvironmentConfig } from "../../config";
import type { ArtifactStoreContract, BackendStoreContract } from "../contracts";
import { UPSTREAM_IDLE_CONNECTION_SECONDS } from "./oauth2-proxy";
import { registryEventsSecretRefs, trackingServerWebhookEnv } from "./registry-events";
import { TRACKING_GUARD_APP_NAME, trackingGuardEnv, trackingGuardMountedFiles } from "./tracking-guard";
import type { ContainerCommand, EnvVar } from "./types";

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

/** What the three commands are computed from: the environment plus the stores' contracts. */
export interface MlflowCommandInputs {
  readonly config: EnvironmentConfig;
  readonly backendStore: BackendStoreContract;
  readonly artifactStore: Pick<ArtifactStoreContract, "destinationUri">;
}

/** The image every MLflow process runs: `config.mlflow.image`, else `ghcr.io/mlflow/mlflow:v<version>-full`. */
export function mlflowImage(config: EnvironmentConfig): string {
  return config.mlflow.image ?? `${MLFLOW_IMAGE_REPOSITORY}:v${config.mlflow.version}-full`;
}

/** Name of the tracking server's Deployment, Service and ServiceAccount-independent resources. */
export function trackingServerName(config: EnvironmentConfig): string {
  return `${config.project}-tracking`;
}

/** Every name under which the tracking server's Service is reachable inside the cluster. */
export function inClusterHostnames(config: EnvironmentConfig): string[] {
  const svc = trackingServerName(config);
  const ns = config.mlflow.namespace;
  return [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`];
}

/** The tracking server's in-cluster URL (fully qualified Service name and port). */
export function trackingServerUrl(config: EnvironmentConfig): string {
  return `http://${trackingServerName(config)}.${config.mlflow.namespace}.svc.cluster.local:${config.mlflow.port}`;
}

/**
 * MLflow's default Host patterns (loopback and private address ranges, from mlflow.server.security_utils),
 * kept because `--allowed-hosts` replaces them: Prometheus scrapes pods by IP and kubelet probes by IP.
 */
const MLFLOW_DEFAULT_HOSTS = [
  "localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[[]::1]:*",
  "10.*", "192.168.*", ...Array.from({ length: 16 }, (_, i) => `172.${16 + i}.*`), "fc00:*", "fd00:*",
];

/**
 * The Host headers the server accepts (`--allowed-hosts`): the public hostname with and without its
 * port (mlflow/mlflow#22095), every in-cluster Service name with and without the port, the
 * configured extras, and MLflow's own defaults. Anything else gets 403 "Invalid Host header".
 */
export function allowedHosts(config: EnvironmentConfig): string[] {
  const port = config.mlflow.port;
  const hosts = [
    config.hostname, `${config.hostname}:443`,
    ...inClusterHostnames(config).flatMap((h) => [h, `${h}:${port}`]),
    ...config.mlflow.extraAllowedHosts,
    ...MLFLOW_DEFAULT_HOSTS,
    // Pod IPs outside the private ranges (e.g. 100.64.0.0/10 with VPC CNI custom networking).
    ...config.ingress.vpcCidrs.flatMap((cidr) => cidrHostPattern(cidr) ?? []),
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
export function corsAllowedOrigins(config: EnvironmentConfig): string[] {
  return [`https://${config.hostname}`];
}

/** `--uvicorn-opts`: keep-alive longer than any client's idle connections, graceful shutdown, then the configured extras (last wins). */
export function uvicornOpts(config: EnvironmentConfig): string {
  const opts = [
    // The proxy in front reuses idle connections to MLflow for up to 90 s (Go's default), and the load
    // balancer's idle timeout bounds the rest of the path: the server must not close a connection before
    // either, or a request racing the close gets a 502.
    `--timeout-keep-alive ${Math.max(config.ingress.idleTimeoutSeconds, UPSTREAM_IDLE_CONNECTION_SECONDS) + 5}`,
    `--timeout-graceful-shutdown ${GRACEFUL_SHUTDOWN_SECONDS}`,
  ];
  if (config.mlflow.uvicornOpts) opts.push(config.mlflow.uvicornOpts.trim());
  return opts.join(" ");
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
  const { config, backendStore, artifactStore } = inputs;
  const args = [
    "server",
    "--backend-store-uri", `$(${MLFLOW_ENV.backendStoreUri})`,
  ];
  if (backendStore.readReplicaHost) args.push("--read-replica-backend-store-uri", `$(${MLFLOW_ENV.readReplicaUri})`);
  args.push(
    "--serve-artifacts",
    "--artifacts-destination", artifactStore.destinationUri,
    "--host", "0.0.0.0",
    "--port", String(config.mlflow.port),
    "--workers", String(config.mlflow.workers),
    "--allowed-hosts", allowedHosts(config).join(","),
    "--cors-allowed-origins", corsAllowedOrigins(config).join(","),
    "--expose-prometheus", PROMETHEUS_DIR,
    "--uvicorn-opts", uvicornOpts(config),
    // MLflow's app wrapped by the platform's guard: identity re-checked, no internals in 5xx (tracking-guard.ts).
    "--app-name", TRACKING_GUARD_APP_NAME,
  );
  return {
    image: mlflowImage(config),
    command: ["mlflow"],
    args,
    env: [
      ...commonEnv(), ...backendStoreEnv(backendStore),
      ...jobExecutionEnv(),
      // Registry webhooks to the in-cluster events service (only when it is deployed).
      ...(config.events.enabled ? trackingServerWebhookEnv(registryEventsSecretRefs(config)) : []),
      ...trackingGuardEnv(config, inClusterHostnames(config)),
    ],
    files: trackingGuardMountedFiles(config),
    ports: { http: config.mlflow.port },
  };
}

/**
 * The schema migration: `mlflow db upgrade <URL>`. Creates the tables of an empty database, or
 * upgrades an existing one to the image's version. The URL is positional (the CLI reads no
 * environment variable for it); it carries no password (see the module comment).
 */
export function dbUpgradeCommand(inputs: Omit<MlflowCommandInputs, "artifactStore">): ContainerCommand {
  const { config, backendStore } = inputs;
  return {
    image: mlflowImage(config),
    command: ["mlflow"],
    args: ["db", "upgrade", `$(${MLFLOW_ENV.backendStoreUri})`],
    env: [...commonEnv(), ...backendStoreEnv(backendStore)],
  };
}

/**
 * Garbage collection: `mlflow gc` hard-deletes runs (and experiments, logged models) that were
 * deleted more than `config.mlflow.gc.olderThanDays` days ago, with their artifacts. Proxied
 * artifacts (`mlflow-artifacts:` URIs) are deleted through the tracking server, hence
 * MLFLOW_TRACKING_URI.
 */
export function gcCommand(inputs: MlflowCommandInputs): ContainerCommand {
  const { config, backendStore, artifactStore } = inputs;
  return {
    image: mlflowImage(config),
    command: ["mlflow"],
    args: [
      "gc",
      "--older-than", `${config.mlflow.gc.olderThanDays}d`,
      "--backend-store-uri", `$(${MLFLOW_ENV.backendStoreUri})`,
      "--artifacts-destination", artifactStore.destinationUri,
    ],
    env: [
      ...commonEnv(),
      ...backendStoreEnv(backendStore),
      { name: MLFLOW_ENV.trackingUri, value: trackingServerUrl(config) },
    ],
  };
}
