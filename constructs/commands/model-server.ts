/**
 * The model server's container command (`mlflow-platform serve`, runtime/src/mlflow_platform/serving) as one
 * pure value: what the ModelEndpoint's Deployment runs and what the end-to-end harness runs for real.
 * The image (images/model-server/Dockerfile) holds the model at MODEL_DIR and the server on PATH.
 */
import type { ContainerCommand, EnvVar } from "./types";

/** Where the image puts the model (images/model-server/Dockerfile: `COPY model/ /opt/model/`). */
export const MODEL_DIR = "/opt/model";
/** The container port and its name (Service, probes and ServiceMonitor select it by name). */
export const MODEL_SERVER_PORT = 8080;
export const MODEL_SERVER_PORT_NAME = "http";
/** Readiness (200 once the model is loaded, 503 while loading or draining) and liveness. */
export const READY_PATH = "/ping";
export const LIVE_PATH = "/health";
export const METRICS_PATH = "/metrics";
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
  readonly classNames: readonly string[];
  /** Names of the model's input features, in order (records, metrics and drift name features by them). */
  readonly featureNames?: readonly string[];
  /** Input/output logging (issue 14); absent: nothing is logged and the server calls nothing. */
  readonly inferenceLog?: ModelServerInferenceLog;
}

/** Environment variable of the HMAC key of `hash` rules (from a Secret; never an argument). */
export const INFERENCE_LOG_KEY_ENV = "MODEL_SERVER_INFERENCE_LOG_KEY";

/** What the server's inference logger is started with. */
export interface ModelServerInferenceLog {
  /** Bucket of the log (the artifact bucket). */
  readonly bucketName: string;
  /** Key prefix of the log: records go under `<prefix>/model=<name>/version=<v>/date=.../hour=.../`. */
  readonly prefix: string;
  /** AWS region of the bucket. */
  readonly region: string;
  /** Share of successful requests logged, 0-1. */
  readonly sampling: number;
  /** Request fields beside the features that are logged (under the rules). */
  readonly contextFields: readonly string[];
  /** Obfuscation rules, as the server reads them (serving/obfuscation.py). */
  readonly rules: readonly Record<string, unknown>[];
  readonly batchRecords: number;
  readonly flushSeconds: number;
  /** The Secret key holding the HMAC key. */
  readonly keySecret: { readonly name: string; readonly key: string };
}

/** `mlflow-platform serve` with every limit spelled out (no default hidden in the image). */
export function modelServerCommand(i: ModelServerCommandInputs): ContainerCommand {
  return {
    image: i.image,
    command: ["mlflow-platform", "serve"],
    args: [
      "--model-dir", MODEL_DIR,
      "--model-name", i.modelName,
      "--model-version", i.modelVersion,
      "--host", "0.0.0.0",
      "--port", String(MODEL_SERVER_PORT),
      "--max-concurrency", String(i.maxConcurrency),
      "--max-body-bytes", String(i.maxBodyBytes),
      "--caller-header", i.callerHeader,
      "--caller-rate", String(i.callerRate),
      "--caller-burst", String(i.callerBurst),
      "--request-timeout", String(i.requestTimeoutSeconds),
      "--keep-alive-timeout", String(KEEP_ALIVE_SECONDS),
      "--drain-seconds", String(DRAIN_SECONDS),
      "--graceful-shutdown-seconds", String(GRACEFUL_SHUTDOWN_SECONDS),
      ...(i.classNames.length ? ["--class-names", i.classNames.join(",")] : []),
      ...(i.featureNames?.length ? ["--feature-names", i.featureNames.join(",")] : []),
      ...inferenceLogArgs(i.inferenceLog),
    ],
    env: [
      { name: "HOME", value: TMP_DIR },
      { name: "TMPDIR", value: TMP_DIR },
      ...inferenceLogEnv(i.inferenceLog),
    ],
    ports: { [MODEL_SERVER_PORT_NAME]: MODEL_SERVER_PORT },
  };
}

function inferenceLogArgs(l: ModelServerInferenceLog | undefined): string[] {
  if (!l) return [];
  return [
    "--inference-log-bucket", l.bucketName,
    "--inference-log-prefix", l.prefix,
    "--inference-log-sampling", String(l.sampling),
    "--inference-log-batch", String(l.batchRecords),
    "--inference-log-flush-seconds", String(l.flushSeconds),
    ...(l.contextFields.length ? ["--inference-log-context-fields", l.contextFields.join(",")] : []),
    ...(l.rules.length ? ["--inference-log-rules", JSON.stringify(l.rules)] : []),
  ];
}

function inferenceLogEnv(l: ModelServerInferenceLog | undefined): EnvVar[] {
  if (!l) return [];
  return [
    { name: "AWS_DEFAULT_REGION", value: l.region },
    { name: INFERENCE_LOG_KEY_ENV, secretKeyRef: { name: l.keySecret.name, key: l.keySecret.key } },
  ];
}
