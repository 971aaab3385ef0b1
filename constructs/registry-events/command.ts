/**
 * The registry events service's container command (`mlflow-platform events serve`), and the few
 * environment variables the tracking server needs so that its webhooks can reach the service. Pure
 * values: `constructs/registry-events/index.ts` turns them into a Deployment; the end-to-end harness runs
 * the same values as local processes.
 *
 * Non-secret settings travel as one JSON document (`MLFLOW_EVENTS_CONFIG`); each secret is its own
 * variable filled from a Kubernetes Secret reference. See docs/registry-events.md.
 */
import type { SecretKeyRef } from "../core/contracts";
import { type TrackingServerLocation, trackingServerAddress, trackingServerUrl } from "../tracking-server/mlflow-command";
import type { ContainerCommand, EnvVar } from "../core/command-types";
import { podSelectorLabels } from "../core/labels";

/**
 * A secret by reference, never a value (config/events.ts's `secretRefSchema`): an operator's Kubernetes Secret, or a
 * secret in the environment's cloud the stack copies into the Secret `managedChannelSecretName` (AWS Secrets
 * Manager, Google Secret Manager, Azure Key Vault).
 */
export type SecretSource =
  | { readonly source: "kubernetes"; readonly secretName: string; readonly key: string }
  | { readonly source: "secrets-manager"; readonly secretArn: string }
  | { readonly source: "secret-manager"; readonly secret: string; readonly version: "latest" | number }
  | {
      readonly source: "key-vault";
      readonly vaultId?: string;
      readonly vaultName?: string;
      readonly resourceGroupName?: string;
      readonly secretName: string;
      readonly version?: string;
    };
/** A secret the stack copies from its cloud's store (every source but "kubernetes"). */
export type CloudSecretSource = Exclude<SecretSource, { readonly source: "kubernetes" }>;

/** A webhook channel (Slack, Discord): where its URL comes from and the event kinds it gets. */
export interface WebhookChannelSettings {
  readonly webhookUrl: SecretSource;
  readonly events: readonly string[];
}

/** The service's settings (config/events.ts's `events` section is one). */
export interface RegistryEventsSettings {
  readonly enabled: boolean;
  readonly image?: string;
  readonly port: number;
  readonly reconcileSeconds: number;
  readonly maxAgeSeconds: number;
  readonly replayWindowSeconds: number;
  readonly behindSeconds: number;
  readonly watchedTags: readonly string[];
  readonly retry: { readonly attempts: number; readonly backoffSeconds: number; readonly keepSeconds: number };
  readonly slack?: WebhookChannelSettings;
  readonly discord?: WebhookChannelSettings;
  readonly email?: {
    readonly smtpHost: string;
    readonly smtpPort: number;
    readonly startTls: boolean;
    readonly username?: string;
    readonly password?: SecretSource;
    readonly from: string;
    readonly to: readonly string[];
    readonly events: readonly string[];
  };
  readonly github?: {
    readonly repository: string;
    readonly apiUrl: string;
    readonly token: SecretSource;
    readonly events: readonly string[];
  };
}

/** What the service's command reads of an environment (an EnvironmentConfig is one). */
export interface RegistryEventsEnvironment extends TrackingServerLocation {
  readonly name: string;
  readonly events: RegistryEventsSettings;
}

/** Path MLflow posts deliveries to. */
export const EVENTS_WEBHOOK_PATH = "/webhooks/mlflow";
export const EVENTS_HEALTH_PATH = "/healthz";
export const EVENTS_READY_PATH = "/readyz";
export const EVENTS_METRICS_PATH = "/metrics";
/** Name of the container port (and the Service port). */
export const EVENTS_PORT_NAME = "http";

/** The events MLflow's webhook subscribes to: every registry event MLflow 3.17 fires. */
export const MLFLOW_WEBHOOK_EVENTS = [
  "registered_model.created",
  "model_version.created",
  "model_version_tag.set",
  "model_version_tag.deleted",
  "model_version_alias.created",
  "model_version_alias.deleted",
] as const;

/** Environment variables of the service (runtime/src/mlflow_platform/events/settings.py). */
export const EVENTS_ENV = {
  config: "MLFLOW_EVENTS_CONFIG",
  webhookSecret: "MLFLOW_EVENTS_WEBHOOK_SECRET",
  stateKey: "MLFLOW_EVENTS_STATE_KEY",
  slack: "MLFLOW_EVENTS_SLACK_URL",
  discord: "MLFLOW_EVENTS_DISCORD_URL",
  github: "MLFLOW_EVENTS_GITHUB_TOKEN",
  smtp: "MLFLOW_EVENTS_SMTP_PASSWORD",
} as const;

/** Name of the service's Deployment, Service, ServiceAccount and NetworkPolicy. */
export function registryEventsName(config: RegistryEventsEnvironment): string {
  return `${config.project}-registry-events`;
}

/**
 * The Secret the stack generates: the webhook's signing secret, MLflow's webhook-secret encryption key, and
 * the key the service signs its state tags with (only the service's pod reads it; the tracking server gets
 * the encryption key alone).
 */
export function generatedSecretName(config: RegistryEventsEnvironment): string {
  return `${registryEventsName(config)}-webhook`;
}
export const SIGNING_SECRET_KEY = "signing-secret";
export const ENCRYPTION_KEY_KEY = "encryption-key";
export const STATE_KEY_KEY = "state-key";

/** The Secret the stack fills from the cloud's secret store (channels whose secret is not `source: kubernetes`). */
export function managedChannelSecretName(config: RegistryEventsEnvironment): string {
  return `${registryEventsName(config)}-channels`;
}

/** Labels of the service's pods (its Deployment's selector, and the peer other NetworkPolicies admit). */
export function registryEventsPodLabels(config: RegistryEventsEnvironment): Record<string, string> {
  return podSelectorLabels("mlflow-registry-events", `${config.project}-${config.name}`, "registry-events");
}

/** The URL MLflow's webhook posts to: the service's in-cluster name (plain HTTP; see docs/registry-events.md). */
export function registryEventsWebhookUrl(config: RegistryEventsEnvironment): string {
  return `http://${registryEventsName(config)}.${config.mlflow.namespace}.svc.cluster.local:${config.events.port}${EVENTS_WEBHOOK_PATH}`;
}

/** The channel secrets, by the key the service reads them under. */
export type ChannelSecret = "slack" | "discord" | "github" | "smtp";

/** The configured secret references of the channels, by channel. */
export function channelSecretSources(config: RegistryEventsEnvironment): Partial<Record<ChannelSecret, SecretSource>> {
  const e = config.events;
  const out: Partial<Record<ChannelSecret, SecretSource>> = {};
  if (e.slack) out.slack = e.slack.webhookUrl;
  if (e.discord) out.discord = e.discord.webhookUrl;
  if (e.github) out.github = e.github.token;
  if (e.email?.password) out.smtp = e.email.password;
  return out;
}

/** Where each secret is read from: the operator's Secret, or the one the construct fills from the cloud's secret store. */
export interface RegistryEventsSecretRefs {
  readonly webhookSecret: SecretKeyRef;
  readonly encryptionKey: SecretKeyRef;
  readonly stateKey: SecretKeyRef;
  readonly channels: Partial<Record<ChannelSecret, SecretKeyRef>>;
}

export function registryEventsSecretRefs(config: RegistryEventsEnvironment): RegistryEventsSecretRefs {
  const channels: Partial<Record<ChannelSecret, SecretKeyRef>> = {};
  for (const [channel, src] of Object.entries(channelSecretSources(config)) as [ChannelSecret, SecretSource][]) {
    channels[channel] =
      src.source === "kubernetes" ? { name: src.secretName, key: src.key } : { name: managedChannelSecretName(config), key: channel };
  }
  return {
    webhookSecret: { name: generatedSecretName(config), key: SIGNING_SECRET_KEY },
    encryptionKey: { name: generatedSecretName(config), key: ENCRYPTION_KEY_KEY },
    stateKey: { name: generatedSecretName(config), key: STATE_KEY_KEY },
    channels,
  };
}

/** The non-secret settings document (`MLFLOW_EVENTS_CONFIG`). */
export function registryEventsSettings(config: RegistryEventsEnvironment): Record<string, unknown> {
  const e = config.events;
  const channels: Record<string, unknown> = {};
  if (e.slack) channels.slack = { events: e.slack.events };
  if (e.discord) channels.discord = { events: e.discord.events };
  if (e.email) {
    channels.email = {
      events: e.email.events,
      smtpHost: e.email.smtpHost,
      smtpPort: e.email.smtpPort,
      startTls: e.email.startTls,
      from: e.email.from,
      to: e.email.to,
      ...(e.email.username ? { username: e.email.username } : {}),
    };
  }
  if (e.github) channels.github = { events: e.github.events, repository: e.github.repository, apiUrl: e.github.apiUrl };
  return {
    trackingUri: trackingServerUrl(trackingServerAddress(config)),
    host: "0.0.0.0",
    port: e.port,
    webhook: {
      name: `${registryEventsName(config)}-${config.name}`,
      url: registryEventsWebhookUrl(config),
      events: [...MLFLOW_WEBHOOK_EVENTS],
    },
    reconcileSeconds: e.reconcileSeconds,
    maxAgeSeconds: e.maxAgeSeconds,
    replayWindowSeconds: e.replayWindowSeconds,
    behindSeconds: e.behindSeconds,
    watchedTags: e.watchedTags,
    retry: e.retry,
    channels,
  };
}

/** `mlflow-platform events serve` with its settings and secret references. */
export function registryEventsCommand(
  config: RegistryEventsEnvironment,
  secrets: RegistryEventsSecretRefs = registryEventsSecretRefs(config),
): ContainerCommand {
  const e = config.events;
  if (!e.image) throw new Error("events.image is not set: the registry events service needs the runtime image (MLflow + mlflow-platform)");
  const ref = (name: string, r: SecretKeyRef): EnvVar => ({ name, secretKeyRef: { name: r.name, key: r.key } });
  const env: EnvVar[] = [
    { name: "HOME", value: "/tmp" },
    { name: "TMPDIR", value: "/tmp" },
    { name: "PYTHONUNBUFFERED", value: "1" },
    { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
    { name: "MLFLOW_DISABLE_TELEMETRY", value: "true" },
    { name: "DO_NOT_TRACK", value: "true" },
    { name: EVENTS_ENV.config, value: JSON.stringify(registryEventsSettings(config)) },
    ref(EVENTS_ENV.webhookSecret, secrets.webhookSecret),
    ref(EVENTS_ENV.stateKey, secrets.stateKey),
  ];
  for (const channel of ["slack", "discord", "github", "smtp"] as const) {
    const r = secrets.channels[channel];
    if (r) env.push(ref(EVENTS_ENV[channel], r));
  }
  return {
    image: e.image,
    command: ["mlflow-platform"],
    args: ["events", "serve"],
    env,
    ports: { [EVENTS_PORT_NAME]: e.port },
  };
}
