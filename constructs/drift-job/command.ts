/**
 * The scheduled drift job of one served model (`mlflow-platform drift`, runtime/src/mlflow_platform/drift)
 * as one pure value: what the DriftJob CronJob runs and what the end-to-end harness runs for real.
 *
 * It reads the model's inference log (S3, its own role: list and get under the model's log prefix only),
 * the training reference of the released version (MLflow, in-cluster: the tracking server's NetworkPolicy
 * admits `driftJobPodLabels`), logs a monitoring run there and alerts through the registry events
 * service's channels (Slack, Discord, e-mail: the same Secrets).
 */
import { INFERENCE_LOG_PREFIX } from "../core/inference-log";
import { MLFLOW_ENV, trackingServerAddress, trackingServerUrl } from "../tracking-server/mlflow-command";
import { EVENTS_ENV, type RegistryEventsEnvironment, registryEventsSecretRefs } from "../registry-events/command";
import { RUNTIME_IMAGE_DEFAULT } from "../model-retention/command";
import type { ContainerCommand, EnvVar } from "../core/command-types";
import { podSelectorLabels } from "../core/labels";

/** A served model's drift settings (config/inference.ts's `drift` is one). */
export interface DriftSettings {
  readonly enabled: boolean;
  readonly schedule: string;
  readonly windowHours: number;
  readonly psiThreshold: number;
  readonly pValue: number;
  readonly minRecords: number;
}

/** What the drift jobs read of an environment (an EnvironmentConfig is one). */
export interface DriftEnvironment extends RegistryEventsEnvironment {
  /** AWS environments only: the S3 client's region. */
  readonly aws?: { readonly region: string };
  readonly serving: {
    readonly models: Readonly<Record<string, { readonly inferenceLog: { readonly enabled: boolean }; readonly drift: DriftSettings }>>;
    readonly releases: Readonly<Partial<Record<string, { readonly version: string }>>>;
  };
  readonly registry: { readonly retention: { readonly image?: string } };
}

/** Environment variable with the alert channels (non-secret options), as JSON. */
export const DRIFT_CHANNELS_ENV = "MLFLOW_PLATFORM_DRIFT_CHANNELS";

/** Name of a model's drift CronJob and service account (a DNS label of at most 52 characters). */
export function driftJobName(config: DriftEnvironment, modelName: string): string {
  return `${config.project}-drift-${modelName}`.slice(0, 52).replace(/-+$/, "");
}

/** Labels of every drift job's pods (the tracking server's NetworkPolicy admits them). */
export function driftJobPodLabels(config: Pick<DriftEnvironment, "project" | "name">): Record<string, string> {
  return podSelectorLabels("mlflow", `${config.project}-${config.name}`, "drift-job");
}

/**
 * `mlflow-platform drift --model-name <m> --model-version <v> --bucket <b> ...` for a released model, or
 * `--source <store>` (gs://, wasbs://) instead of the S3 bucket on another cloud.
 */
export function driftCommand(inputs: {
  readonly config: DriftEnvironment;
  readonly modelName: string;
  /** The S3 bucket of the log. One of bucketName and source. */
  readonly bucketName?: string;
  /** The log's store on another cloud: `gs://<bucket>` or `wasbs://<container>@<account>.blob.core.windows.net`. */
  readonly source?: string;
  readonly prefix?: string;
}): ContainerCommand {
  const { config, modelName } = inputs;
  if ((inputs.bucketName === undefined) === (inputs.source === undefined))
    throw new Error(`driftCommand: serving.models.${modelName}: give the log's S3 bucketName or its source, not both`);
  const model = config.serving.models[modelName];
  const release = config.serving.releases[modelName];
  if (!model || !release)
    throw new Error(`driftCommand: serving.models.${modelName} has no release; the drift job compares a released version`);
  const d = model.drift;
  const e = config.events;
  const channels: Record<string, unknown> = {};
  const env: EnvVar[] = [
    { name: "HOME", value: "/tmp" },
    { name: "TMPDIR", value: "/tmp" },
    { name: "PYTHONUNBUFFERED", value: "1" },
    { name: "MLFLOW_DISABLE_TELEMETRY", value: "true" },
    ...(config.aws ? [{ name: "AWS_DEFAULT_REGION", value: config.aws.region }] : []),
    { name: MLFLOW_ENV.trackingUri, value: trackingServerUrl(trackingServerAddress(config)) },
  ];
  if (e.enabled) {
    const refs = registryEventsSecretRefs(config).channels;
    if (e.slack && refs.slack) {
      channels.slack = {};
      env.push({ name: EVENTS_ENV.slack, secretKeyRef: { ...refs.slack } });
    }
    if (e.discord && refs.discord) {
      channels.discord = {};
      env.push({ name: EVENTS_ENV.discord, secretKeyRef: { ...refs.discord } });
    }
    if (e.email) {
      channels.email = {
        smtpHost: e.email.smtpHost,
        smtpPort: e.email.smtpPort,
        startTls: e.email.startTls,
        from: e.email.from,
        to: e.email.to,
        ...(e.email.username ? { username: e.email.username } : {}),
      };
      if (refs.smtp) env.push({ name: EVENTS_ENV.smtp, secretKeyRef: { ...refs.smtp } });
    }
  }
  if (Object.keys(channels).length > 0) env.push({ name: DRIFT_CHANNELS_ENV, value: JSON.stringify(channels) });
  return {
    image: config.registry.retention.image ?? RUNTIME_IMAGE_DEFAULT,
    command: ["mlflow-platform"],
    args: [
      "drift",
      "--model-name",
      modelName,
      "--model-version",
      release.version,
      ...(inputs.source !== undefined ? ["--source", inputs.source] : ["--bucket", inputs.bucketName!]),
      "--prefix",
      inputs.prefix ?? INFERENCE_LOG_PREFIX,
      "--window-hours",
      String(d.windowHours),
      "--psi-threshold",
      String(d.psiThreshold),
      "--p-value",
      String(d.pValue),
      "--min-records",
      String(d.minRecords),
    ],
    env,
  };
}

/**
 * Whether any configured model may get a drift CronJob (logging its inputs, drift on), released or not:
 * what the tracking server's and the namespace's network policies admit. It does not depend on a release,
 * so a model's first release changes only that model's own objects (the CronJob), never the platform's.
 */
export function driftJobsConfigured(config: Pick<DriftEnvironment, "serving">): boolean {
  return Object.values(config.serving.models).some((m) => m.inferenceLog.enabled && m.drift.enabled);
}

/** The served models that get a drift CronJob: released, logging their inputs, drift on. */
export function driftJobModels(config: DriftEnvironment): string[] {
  return Object.entries(config.serving.models)
    .filter(([name, m]) => config.serving.releases[name] && m.inferenceLog.enabled && m.drift.enabled)
    .map(([name]) => name);
}
