/**
 * The model server's container command (`mlflow-platform serve`, runtime/src/mlflow_platform/serving) as one
 * pure value: what the ModelEndpoint's Deployment runs and what the end-to-end harness runs for real.
 * The image (images/model-server/Dockerfile) holds the model at MODEL_DIR and the server on PATH.
 */
import type { ContainerCommand, EnvVar } from "../core/command-types";
import { PropError } from "../core/prop-error";

/** Where the image puts the model (images/model-server/Dockerfile: `COPY model/ /opt/model/`). */
export const MODEL_DIR = "/opt/model";
/** The container port and its name (Service, probes and ServiceMonitor select it by name). */
export const MODEL_SERVER_PORT = 8080;
export const MODEL_SERVER_PORT_NAME = "http";
/**
 * The admin port: `/health` and `/metrics` are served there only, so the gateway (which reaches the
 * traffic port) never passes a caller's request for the per-feature histograms of every caller or the
 * model's load error. Prometheus and the kubelet use it; the NetworkPolicy admits only Prometheus to it.
 */
export const MODEL_SERVER_METRICS_PORT = 9090;
export const MODEL_SERVER_METRICS_PORT_NAME = "metrics";
/**
 * Readiness (200 once the model is loaded, 503 while loading or draining; traffic port) and liveness (admin port).
 * The server also answers the platform's `/readyz` and `/healthz`, but the probes stay on `/ping` (MLflow's scoring
 * protocol) and `/health`: they are rendered for whatever image a release names, rollbacks included, and an image
 * built before those paths existed answers only these two.
 */
export const READY_PATH = "/ping";
export const LIVE_PATH = "/health";
export const METRICS_PATH = "/metrics";
/** The OpenAPI 3.1 document of the server's routes, from the model's signature (traffic port). */
export const OPENAPI_PATH = "/openapi.json";
/** The header both gateways overwrite with the verified token's groups. */
export const GROUPS_HEADER = "X-Forwarded-Groups";
/** Seconds a request body gets to arrive (no prediction slot is held meanwhile): the default of serving.models.<m>.bodyTimeoutSeconds. */
export const BODY_TIMEOUT_SECONDS = 10;
/** Request bodies one caller may be sending at once: the default of serving.models.<m>.maxUploadsPerCaller. */
export const MAX_UPLOADS_PER_CALLER = 8;
/** Writable scratch space (an emptyDir): the root filesystem is read-only. */
export const TMP_DIR = "/tmp";
/** Seconds after SIGTERM the server keeps answering while /ping says 503 (endpoints catch up). */
export const DRAIN_SECONDS = 5;
/** Seconds in-flight requests then get to finish. */
export const GRACEFUL_SHUTDOWN_SECONDS = 20;
/**
 * Idle keep-alive of the server, above the 60 s idle timeout of the load balancer in front, so the
 * server never closes a connection the load balancer is about to reuse (a 502 race otherwise).
 */
export const KEEP_ALIVE_SECONDS = 75;

/** What the command is computed from. */
export interface ModelServerCommandInputs {
  /** Image by digest: `<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<hex>`. */
  readonly image: string;
  /** Registered model name and version the image was built from (reported in answers, logs and metrics). */
  readonly modelName: string;
  readonly modelVersion: string;
  readonly maxConcurrency: number;
  readonly maxBodyBytes: number;
  /** The header the gateway sets (overwrites) with the authenticated caller. */
  readonly callerHeader: string;
  readonly callerRate: number;
  readonly callerBurst: number;
  readonly requestTimeoutSeconds: number;
  /** Seconds a body gets to arrive. @default BODY_TIMEOUT_SECONDS */
  readonly bodyTimeoutSeconds?: number;
  /** Bodies one caller may be sending at once. @default MAX_UPLOADS_PER_CALLER */
  readonly maxUploadsPerCaller?: number;
  readonly classNames: readonly string[];
  /** Names of the model's input features, in order (records, metrics and drift name features by them). */
  readonly featureNames?: readonly string[];
  /** Input/output logging; absent: nothing is logged and the server calls nothing. */
  readonly inferenceLog?: ModelServerInferenceLog;
  /**
   * Who may call: the caller header must hold an address in an allowed domain (and, with groups, the
   * groups header one of them), as the gateway verified it. Absent: any caller the NetworkPolicy admits
   * (no platform gateway sets an identity; exposure `none`).
   */
  readonly identity?: ModelServerIdentity;
  /**
   * The Secret key of the server's HMAC key: caller ids in the access log are its HMAC (and the inference
   * log's hash rules use it). Absent: the server makes a key of its own at start (hashes then differ per pod).
   */
  readonly keySecret?: { readonly name: string; readonly key: string };
}

/** The allow-lists of the model server (the same lists the gateway's oauth2-proxy applies). */
export interface ModelServerIdentity {
  readonly allowedEmailDomains: readonly string[];
  readonly allowedGroups: readonly string[];
  /** Any e-mail domain (the groups decide): the named choice `auth.allowAnyEmailDomain`. @default false */
  readonly allowAnyEmailDomain?: boolean;
  /** Caller ids admitted without the rule: the release's smoke test Job (never an address). @default [] */
  readonly internalCallers?: readonly string[];
}

/** Environment variable of the server's HMAC key: access-log callers and `hash` rules (from a Secret; never an argument). */
export const INFERENCE_LOG_KEY_ENV = "MODEL_SERVER_INFERENCE_LOG_KEY";

/** What the server's inference logger is started with. */
export interface ModelServerInferenceLog {
  /** S3 bucket of the log (the artifact bucket), with its AWS `region`; or `destination` instead. */
  readonly bucketName?: string;
  /**
   * The log's store on any cloud, instead of `bucketName`: `gs://<bucket>` or
   * `wasbs://<container>@<account>.blob.core.windows.net` (the server's `--inference-log-destination`).
   */
  readonly destination?: string;
  /** Key prefix of the log: records go under `<prefix>/model=<name>/version=<v>/date=.../hour=.../`. */
  readonly prefix: string;
  /** AWS region of the bucket (with `bucketName`). */
  readonly region?: string;
  /** Share of successful requests logged, 0-1. */
  readonly sampling: number;
  /** Request fields beside the features that are logged (under the rules). */
  readonly contextFields: readonly string[];
  /** Obfuscation rules, as the server reads them (serving/obfuscation.py). */
  readonly rules: readonly Record<string, unknown>[];
  readonly batchRecords: number;
  readonly flushSeconds: number;
}

/** `mlflow-platform serve` with every limit spelled out (no default hidden in the image). */
export function modelServerCommand(i: ModelServerCommandInputs): ContainerCommand {
  const id = i.identity;
  if (id) {
    if (id.allowedEmailDomains.length === 0 && !id.allowAnyEmailDomain)
      throw new PropError(
        "modelServerCommand",
        "identity.allowedEmailDomains",
        id.allowedEmailDomains,
        "at least one domain, or allowAnyEmailDomain: true: say who may call the model (access is denied by default)",
      );
    if (id.allowAnyEmailDomain && id.allowedGroups.length === 0)
      throw new PropError(
        "modelServerCommand",
        "identity.allowedGroups",
        id.allowedGroups,
        "at least one group with allowAnyEmailDomain (else every account of the issuer could call the model)",
      );
    if (id.allowedEmailDomains.includes("*"))
      throw new PropError(
        "modelServerCommand",
        "identity.allowedEmailDomains",
        id.allowedEmailDomains,
        'domains without "*": set allowAnyEmailDomain: true instead (a named choice)',
      );
    for (const c of id.internalCallers ?? [])
      if (c.includes("@") || !/^[\x21-\x7e]+$/.test(c))
        throw new PropError(
          "modelServerCommand",
          "identity.internalCallers",
          c,
          "plain ids, never an address (a token's e-mail could be one)",
        );
  }
  return {
    image: i.image,
    command: ["mlflow-platform", "serve"],
    args: [
      "--model-dir",
      MODEL_DIR,
      "--model-name",
      i.modelName,
      "--model-version",
      i.modelVersion,
      "--host",
      "0.0.0.0",
      "--port",
      String(MODEL_SERVER_PORT),
      "--max-concurrency",
      String(i.maxConcurrency),
      "--max-body-bytes",
      String(i.maxBodyBytes),
      "--caller-header",
      i.callerHeader,
      "--caller-rate",
      String(i.callerRate),
      "--caller-burst",
      String(i.callerBurst),
      "--request-timeout",
      String(i.requestTimeoutSeconds),
      "--body-timeout",
      String(i.bodyTimeoutSeconds ?? BODY_TIMEOUT_SECONDS),
      "--max-uploads-per-caller",
      String(i.maxUploadsPerCaller ?? MAX_UPLOADS_PER_CALLER),
      "--admin-port",
      String(MODEL_SERVER_METRICS_PORT),
      "--keep-alive-timeout",
      String(KEEP_ALIVE_SECONDS),
      "--drain-seconds",
      String(DRAIN_SECONDS),
      "--graceful-shutdown-seconds",
      String(GRACEFUL_SHUTDOWN_SECONDS),
      ...(i.classNames.length ? ["--class-names", i.classNames.join(",")] : []),
      ...(i.featureNames?.length ? ["--feature-names", i.featureNames.join(",")] : []),
      ...inferenceLogArgs(i.inferenceLog),
      ...(id
        ? [
            ...(id.allowedEmailDomains.length ? ["--allowed-email-domains", id.allowedEmailDomains.join(",")] : []),
            ...(id.allowAnyEmailDomain ? ["--any-email-domain"] : []),
            ...(id.allowedGroups.length ? ["--allowed-groups", id.allowedGroups.join(",")] : []),
            "--groups-header",
            GROUPS_HEADER,
            ...(id.internalCallers?.length ? ["--internal-callers", id.internalCallers.join(",")] : []),
          ]
        : []),
    ],
    env: [
      { name: "HOME", value: TMP_DIR },
      { name: "TMPDIR", value: TMP_DIR },
      ...inferenceLogEnv(i.inferenceLog),
      ...(i.keySecret ? [{ name: INFERENCE_LOG_KEY_ENV, secretKeyRef: { name: i.keySecret.name, key: i.keySecret.key } }] : []),
    ],
    ports: { [MODEL_SERVER_PORT_NAME]: MODEL_SERVER_PORT, [MODEL_SERVER_METRICS_PORT_NAME]: MODEL_SERVER_METRICS_PORT },
  };
}

function inferenceLogArgs(l: ModelServerInferenceLog | undefined): string[] {
  if (!l) return [];
  if ((l.bucketName === undefined) === (l.destination === undefined))
    throw new PropError(
      "modelServerCommand",
      "inferenceLog.destination",
      l.destination,
      "either an S3 bucketName or a destination, not both",
    );
  return [
    ...(l.destination !== undefined ? ["--inference-log-destination", l.destination] : ["--inference-log-bucket", l.bucketName!]),
    "--inference-log-prefix",
    l.prefix,
    "--inference-log-sampling",
    String(l.sampling),
    "--inference-log-batch",
    String(l.batchRecords),
    "--inference-log-flush-seconds",
    String(l.flushSeconds),
    ...(l.contextFields.length ? ["--inference-log-context-fields", l.contextFields.join(",")] : []),
    ...(l.rules.length ? ["--inference-log-rules", JSON.stringify(l.rules)] : []),
  ];
}

function inferenceLogEnv(l: ModelServerInferenceLog | undefined): EnvVar[] {
  // The AWS SDK's region; other clouds' clients need none.
  if (!l || l.region === undefined) return [];
  return [{ name: "AWS_DEFAULT_REGION", value: l.region }];
}
