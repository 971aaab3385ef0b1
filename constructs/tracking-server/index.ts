/**
 * The MLflow tracking server on Kubernetes, wired to the backend store (PostgreSQL) and the artifact
 * store (S3) through their contracts.
 *
 * Creates, in `namespace` (which must already exist):
 * - the ServiceAccount bound to the AWS identity (no Kubernetes API token is mounted into pods);
 * - a migration Job running `mlflow db upgrade`, named after the MLflow version so an upgrade runs a
 *   new one; Terraform waits for it to succeed before it touches the Deployment;
 * - a Deployment running `mlflow server` (proxied artifacts, host check and CORS for the public
 *   hostname, Prometheus metrics), hardened to the "restricted" Pod Security Standard;
 * - a Service, a PodDisruptionBudget (when at least two replicas run) and a HorizontalPodAutoscaler
 *   (when the replica range allows scaling);
 * - a CronJob running `mlflow gc` on the configured schedule, as the same identity;
 * - the NetworkPolicy of the tracking server: its port accepts only the authenticating proxy, the
 *   Prometheus pods of the monitoring namespace and the gc job. This construct is the one place that
 *   decides it;
 * - with teams (`access`): the access policy's ConfigMap and its sync Job (constructs/access), run after
 *   the migration Job and before the rollout; the server then runs MLflow's auth app with workspaces.
 *
 * The container commands come from `constructs/tracking-server/mlflow-command.ts`, the single source the end-to-end
 * harness runs too. No secret value is ever written: the database password is a Secret reference.
 */
import { PropError } from "../core/prop-error";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { parseCpu, parseMemory } from "../core/quantity";
import {
  GRACEFUL_SHUTDOWN_SECONDS,
  HEALTH_PATH,
  METRICS_PATH,
  PROMETHEUS_DIR,
  TMP_DIR,
  type MlflowCommandInputs,
  allowedHosts,
  corsAllowedOrigins,
  dbUpgradeCommand,
  inClusterHostnames,
  gcCommand,
  mlflowImage,
  trackingServerCommand,
  trackingServerName,
  trackingServerUrl,
  uvicornOpts,
} from "./mlflow-command";
import { trackingGuardChecksum, trackingGuardConfigMapName, trackingGuardVolume } from "./guard-command";
import { TrackingGuard } from "./guard";
import { TeamAccess } from "../access";
import { ACCESS_POLICY_KEY, ACCESS_POLICY_VOLUME, accessPolicyConfigMapName } from "../access/access-command";
import { ACCESS_POLICY_DIR, type AccessPolicy, accessPolicyHash } from "../access/policy";
import type { ContainerCommand } from "../core/command-types";
import type {
  ArtifactStoreContract,
  BackendStoreContract,
  SecretKeyRef,
  TrackingIdentityContract,
  TrackingServerContract,
} from "../core/contracts";
import { DNS_LABEL } from "../core/names";
import { PYTHON_SITE_DIR, SITECUSTOMIZE_KEY, TCP_NODELAY_SITECUSTOMIZE } from "../core/tcp-nodelay";
import {
  PROMETHEUS_OPERATOR_POD_LABELS,
  containerResources,
  httpGetProbe,
  labelSelectorProblem,
  prometheusPeer,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  toK8sEnv,
  topologySpread,
} from "../core/pod-spec";
import { podSelectorLabels } from "../core/labels";

/** Name of the Service port (and container port) serving the API, the UI and `/metrics`. */
export const TRACKING_PORT_NAME = "http";

const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
/** An image with an explicit tag or digest in its last path segment. */
const PINNED_IMAGE = /^[^\s@]+(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$/;

/** Resources of one container, as Kubernetes quantities. */
export interface ContainerResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

/**
 * Props of {@link TrackingServer}. Nothing here is the environment's configuration: the mapping from
 * configuration lives in one place, `constructs/tracking-server/from-config.ts`.
 */
export interface TrackingServerProps {
  /**
   * Name of the Deployment, Service, PodDisruptionBudget, autoscaler and NetworkPolicy (the Job and the
   * CronJob add suffixes).
   * @default "mlflow-tracking"
   */
  readonly name?: string;

  /**
   * The `app.kubernetes.io/instance` label of every resource, part of the pod selectors: unique per
   * installation in the namespace, such as "mlflow-prod". A DNS label.
   */
  readonly instance: string;

  /**
   * The `app.kubernetes.io/part-of` label.
   * @default "mlflow"
   */
  readonly partOf?: string;

  /** Namespace of every resource (it must already exist; pass it in `dependsOn`). A DNS label. */
  readonly namespace: string;

  /** The exact MLflow version (x.y.z): the image tag, the version label and the migration Job's name. */
  readonly version: string;

  /**
   * Image override with an exact tag or digest (never `latest`).
   * @default `ghcr.io/mlflow/mlflow:v<version>-full`
   */
  readonly image?: string;

  /**
   * Port the server (API, UI, `/metrics`) listens on: 1024-65535.
   * @default 5000
   */
  readonly port?: number;

  /**
   * Server worker processes per pod (`--workers`), at least 1.
   * @default 2
   */
  readonly workers?: number;

  /**
   * Replica range. Autoscaling on CPU between `min` and `max` when `max` > `min`.
   * @default { min: 2, max: 2 }
   */
  readonly replicas?: { readonly min: number; readonly max: number };

  /**
   * Average CPU utilisation (percent of the request) the autoscaler aims for: 10-100.
   * @default 70
   */
  readonly targetCpuUtilizationPercent?: number;

  /**
   * Requests and limits of every container (server, migration, gc). The memory limit must be at least
   * the request.
   * @default requests { cpu: "250m", memory: "1Gi" }, limits { memory: "2Gi" }
   */
  readonly resources?: ContainerResources;

  /** The public hostname clients use (through the load balancer): accepted Host header and CORS origin. */
  readonly publicHostname: string;

  /**
   * Host headers accepted besides the public hostname, the in-cluster names and MLflow's defaults.
   * @default []
   */
  readonly extraAllowedHosts?: readonly string[];

  /**
   * E-mail domains an identity must belong to: the guard MLflow's app runs inside refuses (403) a request
   * to the public hostname whose `X-Forwarded-Email` (set by the proxy from the verified token) is not an
   * address in one of them. Required unless `allowAnyEmailDomain`.
   */
  readonly allowedEmailDomains: readonly string[];
  /**
   * Any e-mail domain passes the guard (the proxy's group allow-list decides alone). A named choice,
   * never the result of an empty list.
   * @default false
   */
  readonly allowAnyEmailDomain?: boolean;
  /**
   * In-cluster workloads' service-account subjects (`system:serviceaccount:<ns>:<name>`) the guard admits
   * besides e-mail addresses: the ones the proxy admits by their projected tokens.
   * @default []
   */
  readonly workloadIdentities?: readonly string[];

  /**
   * CIDR blocks pods and probes come from, accepted as Host headers when outside the private ranges
   * (e.g. 100.64.0.0/10 with custom networking).
   * @default []
   */
  readonly podCidrs?: readonly string[];

  /**
   * Idle timeout of the load balancer in front, in seconds: the server's keep-alive outlasts it and the
   * proxy's idle connections.
   * @default 60
   */
  readonly clientIdleTimeoutSeconds?: number;

  /**
   * Extra uvicorn options appended to the derived ones (last wins).
   * @default none
   */
  readonly extraUvicornOpts?: string;

  /**
   * Set TCP_NODELAY on the server's connections: a ConfigMap with a small `sitecustomize.py`
   * (`constructs/core/tcp-nodelay.ts`) mounted read-only and put on PYTHONPATH. Without it, with
   * `workers` > 1, every response on a kept-alive connection (the proxy keeps its connections to MLflow
   * alive) waits about 40 ms for the client's delayed ACK. Turn off only for an image that brings its
   * own `sitecustomize` module (this one would shadow it). See docs/runtime.md.
   * @default true
   */
  readonly tcpNoDelay?: boolean;

  /**
   * Garbage collection: when the CronJob runs (five-field cron, UTC) and how long a deleted run is kept
   * before it is hard-deleted (days, at least 1).
   * @default { schedule: "30 3 * * *", olderThanDays: 30 }
   */
  readonly gc?: { readonly schedule: string; readonly olderThanDays: number };

  /** Where artifacts go (`--artifacts-destination`). Required. */
  readonly artifactStore: ArtifactStoreContract;

  /** The PostgreSQL database and the Kubernetes Secret with its credentials (in the same namespace). Required. */
  readonly backendStore: BackendStoreContract;

  /**
   * The cloud identity: the ServiceAccount this construct creates, with these annotations (IRSA's, GKE Workload
   * Identity's, Azure Workload Identity's), and the labels its pods carry (`podLabels`: Azure's webhook selects on them). Required.
   */
  readonly identity: TrackingIdentityContract;

  /**
   * Labels selecting the authenticating proxy's pods: the only application traffic the NetworkPolicy
   * admits. Use `authProxyPodLabels(partOf)` from `constructs/auth-proxy/oauth2-proxy-command.ts`. Must not be
   * empty (an empty selector would admit every pod of the namespace).
   */
  readonly authProxyPodLabels: Record<string, string>;

  /**
   * Namespace of the Prometheus that scrapes `/metrics`, selected by `kubernetes.io/metadata.name`.
   * Only its pods matching `prometheusPodLabels` are admitted, not the whole namespace.
   * @default "monitoring"
   */
  readonly monitoringNamespace?: string;

  /**
   * Labels of the Prometheus pods (in `monitoringNamespace`) that may scrape `/metrics`. Nothing else of
   * the monitoring namespace (Grafana, Alertmanager, exporters) reaches the tracking server's
   * unauthenticated API. Must not be empty.
   * @default { "app.kubernetes.io/name": "prometheus" } (what the Prometheus Operator puts on its pods)
   */
  readonly prometheusPodLabels?: Record<string, string>;

  /**
   * Labels of other in-cluster jobs that call the tracking server's API directly, like gc (the
   * model-retention CronJob: `modelRetentionPodLabels(config)`). Each must be a non-empty selector.
   * @default []
   */
  readonly apiClientPodLabels?: readonly Record<string, string>[];

  /**
   * Registry webhooks to an in-cluster receiver, such as the registry events service: the Secret key
   * (in `namespace`) holding the encryption key of webhook secrets, shared by every worker and replica.
   * When set, MLflow's webhook guard also admits plain-HTTP receivers at private addresses (the
   * NetworkPolicies bound where a webhook can go). Admit the receiver's pods with `apiClientPodLabels`.
   * @default none (MLflow's defaults: https and public addresses only, a key per process)
   */
  readonly webhookEncryptionKey?: SecretKeyRef;

  /**
   * The only URLs a registry webhook may post to (the registry events service's receiver): the tracking
   * server's guard refuses any other destination, and any webhook write that comes through the proxy.
   * @default [] (no webhook can be created)
   */
  readonly webhookUrls?: readonly string[];

  /**
   * Create the NetworkPolicy. Enforced only when the VPC CNI's network policy support is enabled. Required
   * with `access`: the guard treats callers on the in-cluster names as the platform's own.
   * @default true
   */
  readonly networkPolicy?: boolean;

  /**
   * Teams: the access policy document (`accessPolicy(...)`, constructs/access/policy.ts). The server then
   * runs MLflow's auth app with workspaces inside the guard (`--app-name platform-auth`), and a sync Job
   * (constructs/access) applies the policy before each rollout. Unset: no workspaces, no per-team permissions.
   * @default none
   */
  readonly access?: AccessPolicy;

  /**
   * Scale between `replicas.min` and `replicas.max` on CPU with a HorizontalPodAutoscaler (needs
   * metrics-server). Without it the Deployment runs `replicas.min` replicas.
   * @default true when `replicas.max` > `replicas.min`
   */
  readonly autoscaling?: boolean;

  /**
   * Spread replicas across availability zones strictly (`DoNotSchedule`) rather than preferably
   * (`ScheduleAnyway`). Spreading across nodes is always preferred.
   * @default false
   */
  readonly strictZoneSpread?: boolean;

  /**
   * User and group id the containers run as. The official image declares no user (it would run as
   * root), so a numeric non-root id is set explicitly.
   * @default 10001
   */
  readonly runAsUser?: number;

  /**
   * Size limit of the writable `/tmp` volume. Proxied artifact uploads are buffered there, so it
   * bounds the largest artifact a client can upload in one request.
   * @default "4Gi"
   */
  readonly tmpSizeLimit?: string;

  /**
   * How long Terraform waits for the migration Job to finish before it fails the apply.
   * @default 20
   */
  readonly migrationTimeoutMinutes?: number;

  /**
   * Seconds after which a gc run is killed.
   * @default 3600
   */
  readonly gcDeadlineSeconds?: number;

  /**
   * Resources every resource of this construct waits for: the namespace (pass it, or the first apply
   * may create the Service or the NetworkPolicy before it), and what the pods need before they start,
   * such as the database Secret or the Pod Identity association.
   * @default []
   */
  readonly dependsOn?: ITerraformDependable[];
}

/** Defaults of {@link TrackingServerProps}, exported for documentation and tests. */
export const TRACKING_SERVER_DEFAULTS = {
  partOf: "mlflow",
  port: 5000,
  workers: 2,
  replicas: { min: 2, max: 2 },
  targetCpuUtilizationPercent: 70,
  resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi" } },
  clientIdleTimeoutSeconds: 60,
  gc: { schedule: "30 3 * * *", olderThanDays: 30 },
  monitoringNamespace: "monitoring",
} as const;

/** The props with their defaults applied. */
interface Resolved {
  readonly name: string;
  readonly instance: string;
  readonly partOf: string;
  readonly namespace: string;
  readonly version: string;
  readonly image: string;
  readonly port: number;
  readonly workers: number;
  readonly replicas: { readonly min: number; readonly max: number };
  readonly targetCpuUtilizationPercent: number;
  readonly resources: ContainerResources;
  readonly gc: { readonly schedule: string; readonly olderThanDays: number };
  readonly monitoringNamespace: string;
}

function resolve(props: TrackingServerProps): Resolved {
  const d = TRACKING_SERVER_DEFAULTS;
  const partOf = props.partOf ?? d.partOf;
  return {
    name: props.name ?? trackingServerName(partOf),
    instance: props.instance,
    partOf,
    namespace: props.namespace,
    version: props.version,
    image: mlflowImage(props),
    port: props.port ?? d.port,
    workers: props.workers ?? d.workers,
    replicas: props.replicas ?? d.replicas,
    targetCpuUtilizationPercent: props.targetCpuUtilizationPercent ?? d.targetCpuUtilizationPercent,
    resources: props.resources ?? d.resources,
    gc: props.gc ?? d.gc,
    monitoringNamespace: props.monitoringNamespace ?? d.monitoringNamespace,
  };
}

/**
 * The values the MLflow commands are computed from, for these props: the one derivation the construct
 * and anyone else who wants the same commands (the e2e harness, tests) use.
 */
export function mlflowCommandInputs(props: TrackingServerProps): MlflowCommandInputs {
  const r = resolve(props);
  const address = { serviceName: r.name, namespace: r.namespace, port: r.port };
  return {
    image: r.image,
    port: r.port,
    workers: r.workers,
    allowedHosts: allowedHosts({
      ...address,
      publicHostname: props.publicHostname,
      extraAllowedHosts: props.extraAllowedHosts,
      podCidrs: props.podCidrs,
    }),
    corsAllowedOrigins: corsAllowedOrigins(props.publicHostname),
    uvicornOpts: uvicornOpts({
      clientIdleTimeoutSeconds: props.clientIdleTimeoutSeconds ?? TRACKING_SERVER_DEFAULTS.clientIdleTimeoutSeconds,
      extra: props.extraUvicornOpts,
    }),
    gcOlderThanDays: r.gc.olderThanDays,
    trackingUri: trackingServerUrl(address),
    backendStore: props.backendStore,
    artifactStore: props.artifactStore,
    webhookEncryptionKey: props.webhookEncryptionKey,
    tcpNoDelayConfigMap: (props.tcpNoDelay ?? true) ? tcpNoDelayConfigMapName(r.name) : undefined,
    access: props.access ? { policyConfigMapName: accessPolicyConfigMapName(r.name) } : undefined,
    guard: {
      configMapName: trackingGuardConfigMapName(r.name),
      publicHosts: [props.publicHostname, ...(props.extraAllowedHosts ?? [])],
      internalHosts: inClusterHostnames(address),
      allowedEmailDomains: props.allowedEmailDomains,
      allowAnyEmailDomain: props.allowAnyEmailDomain,
      workloadIdentities: props.workloadIdentities,
      webhookUrls: props.webhookUrls,
    },
  };
}

/** Name of the ConfigMap with the TCP_NODELAY module, for the tracking server named `name`. */
export function tcpNoDelayConfigMapName(name: string): string {
  return `${name}-python-site`;
}

/** The recommended labels common to every resource of the tracking server. */
function commonLabels(r: Resolved, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "mlflow",
    "app.kubernetes.io/instance": r.instance,
    "app.kubernetes.io/version": r.version,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": r.partOf,
    "app.kubernetes.io/managed-by": "cdktf",
  };
}

/** Labels that select the pods of one component. Stable across versions (a Deployment's selector is immutable). */
function selectorLabels(instance: string, component: string): Record<string, string> {
  return podSelectorLabels("mlflow", instance, component);
}

/** Labels selecting the tracking server's pods (`instance`: the `instance` prop). */
export function trackingServerPodLabels(instance: string): Record<string, string> {
  return selectorLabels(instance, "tracking-server");
}

/** Labels selecting the gc CronJob's pods (admitted by the tracking server's NetworkPolicy). */
export function gcPodLabels(instance: string): Record<string, string> {
  return selectorLabels(instance, "garbage-collection");
}

/** Labels selecting the migration Job's pods. */
export function migrationPodLabels(instance: string): Record<string, string> {
  return selectorLabels(instance, "db-migration");
}

/** Labels selecting the access sync Job's pods (teams only). */
export function accessSyncPodLabels(instance: string): Record<string, string> {
  return selectorLabels(instance, "access-sync");
}

/**
 * Name of the migration Job: it changes with the MLflow version (and with an image override), so an
 * upgrade creates, and waits for, a new Job instead of finding the old one complete.
 */
export function migrationJobName(props: Pick<TrackingServerProps, "name" | "partOf" | "version" | "image">): string {
  const version = props.version.replaceAll(".", "-");
  const base = `${props.name ?? trackingServerName(props.partOf ?? TRACKING_SERVER_DEFAULTS.partOf)}-db-upgrade-${version}`;
  return props.image ? `${base}-${shortHash(props.image)}` : base;
}

/** A short, stable hash (FNV-1a, 32 bit, base 36) for names. */
function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** Synth-time checks of what the construct relies on, naming the prop and how to fix it. */
function validate(scope: Construct, props: TrackingServerProps, r: Resolved): void {
  const { artifactStore, backendStore, identity } = props;
  if (!/^3\.\d+\.\d+$/.test(r.version)) throw new PropError(scope, "version", r.version, 'an exact MLflow 3.x version such as "3.17.2"');
  if (!DNS_LABEL.test(r.instance))
    throw new PropError(scope, "instance", r.instance, "a DNS label such as \"mlflow-prod\" (lower-case letters, digits, '-')");
  if (!DNS_LABEL.test(r.name)) throw new PropError(scope, "name", r.name, 'a DNS label such as "mlflow-tracking"');
  if (!Number.isInteger(r.workers) || r.workers < 1)
    throw new PropError(scope, "workers", r.workers, "a whole number of at least 1 (server worker processes per pod)");
  for (const k of ["min", "max"] as const) {
    if (!Number.isInteger(r.replicas[k]) || r.replicas[k] < 1)
      throw new PropError(scope, `replicas.${k}`, r.replicas[k], "a whole number of at least 1");
  }
  if (r.replicas.min > r.replicas.max)
    throw new PropError(scope, "replicas.min", r.replicas.min, `at most replicas.max (${r.replicas.max}); raise max or lower min`);
  if (!Number.isInteger(r.targetCpuUtilizationPercent) || r.targetCpuUtilizationPercent < 10 || r.targetCpuUtilizationPercent > 100) {
    throw new PropError(scope, "targetCpuUtilizationPercent", r.targetCpuUtilizationPercent, "a whole number from 10 to 100");
  }
  const res = r.resources;
  const reqMem = parseMemory(res.requests.memory);
  const limMem = parseMemory(res.limits.memory);
  if (reqMem === undefined) throw new PropError(scope, "resources.requests.memory", res.requests.memory, 'a memory quantity such as "1Gi"');
  if (limMem === undefined) throw new PropError(scope, "resources.limits.memory", res.limits.memory, 'a memory quantity such as "2Gi"');
  if (limMem < reqMem)
    throw new PropError(scope, "resources.limits.memory", res.limits.memory, `at least the memory request (${res.requests.memory})`);
  if (parseCpu(res.requests.cpu) === undefined)
    throw new PropError(scope, "resources.requests.cpu", res.requests.cpu, 'a CPU quantity such as "250m"');
  if (res.limits.cpu !== undefined && !(parseCpu(res.limits.cpu)! >= parseCpu(res.requests.cpu)!)) {
    throw new PropError(scope, "resources.limits.cpu", res.limits.cpu, `at least the CPU request (${res.requests.cpu}), or no CPU limit`);
  }
  if (!PINNED_IMAGE.test(r.image) || /:latest$/.test(r.image)) {
    throw new PropError(
      scope,
      props.image ? "image" : "version",
      props.image ?? props.version,
      'an image reference with an exact tag or digest, such as "ghcr.io/mlflow/mlflow:v3.17.2-full" or "repo/mlflow@sha256:<64 hex>"',
    );
  }
  if (!Number.isInteger(r.gc.olderThanDays) || r.gc.olderThanDays < 1) {
    throw new PropError(
      scope,
      "gc.olderThanDays",
      r.gc.olderThanDays,
      "a whole number of days of at least 1 (gc must never delete runs the moment they are deleted)",
    );
  }
  if (!/^(\S+\s+){4}\S+$/.test(r.gc.schedule))
    throw new PropError(scope, "gc.schedule", r.gc.schedule, 'a five-field cron schedule such as "30 3 * * *"');
  if (!Number.isInteger(r.port) || r.port < 1024 || r.port > 65535)
    throw new PropError(scope, "port", r.port, "an unprivileged port from 1024 to 65535");
  if (!DNS_LABEL.test(r.namespace)) throw new PropError(scope, "namespace", r.namespace, "a Kubernetes namespace name");
  if (!DNS_SUBDOMAIN.test(props.publicHostname))
    throw new PropError(scope, "publicHostname", props.publicHostname, 'a DNS name such as "mlflow.example.com" (no scheme, port or path)');
  if (
    props.clientIdleTimeoutSeconds !== undefined &&
    !(Number.isInteger(props.clientIdleTimeoutSeconds) && props.clientIdleTimeoutSeconds >= 1)
  ) {
    throw new PropError(
      scope,
      "clientIdleTimeoutSeconds",
      props.clientIdleTimeoutSeconds,
      "a whole number of seconds of at least 1 (the load balancer's idle timeout)",
    );
  }

  // MLflow's S3, Cloud Storage and Azure Blob artifact repositories: the bucket name rules of each (S3's, GCS's with
  // '_'), and Azure's container and storage account names in a wasbs:// URI (TLS: never wasb://).
  if (
    !/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]|wasbs:\/\/[a-z0-9](-?[a-z0-9]){2,62}@[a-z0-9]{3,24}\.blob\.core\.windows\.net)(\/.*)?$/.test(
      artifactStore.destinationUri,
    ) &&
    !isToken(artifactStore.destinationUri)
  ) {
    throw new PropError(
      scope,
      "artifactStore.destinationUri",
      artifactStore.destinationUri,
      "an s3://<bucket>/<prefix>, gs://<bucket>/<prefix> or wasbs://<container>@<account>.blob.core.windows.net/<prefix> URI",
    );
  }
  if (!Number.isInteger(backendStore.port) && !isToken(backendStore.port))
    throw new PropError(scope, "backendStore.port", backendStore.port, "a port number");
  const cred = backendStore.credentials;
  for (const [k, v] of [
    ["secretName", cred.secretName],
    ["usernameKey", cred.usernameKey],
    ["passwordKey", cred.passwordKey],
  ] as const) {
    if (!v)
      throw new PropError(
        scope,
        `backendStore.credentials.${k}`,
        v,
        "a non-empty name (the Kubernetes Secret holding the database credentials, and its keys)",
      );
  }
  if (!DNS_SUBDOMAIN.test(identity.serviceAccountName))
    throw new PropError(scope, "identity.serviceAccountName", identity.serviceAccountName, "a Kubernetes service account name");
  const identityLabels = identity.podLabels ?? {};
  if (Object.keys(identityLabels).length > 0) {
    const problem = labelSelectorProblem(identityLabels);
    if (problem)
      throw new PropError(scope, "identity.podLabels", identityLabels, `the labels the identity needs on its pods; it ${problem}`);
    const own = Object.keys(identityLabels).filter((k) => k.startsWith("app.kubernetes.io/"));
    if (own.length > 0)
      throw new PropError(
        scope,
        "identity.podLabels",
        identityLabels,
        `labels of the identity's own (such as "azure.workload.identity/use"), not ${own.join(", ")}: the app.kubernetes.io/ labels select the tracking server's pods`,
      );
  }

  if (props.allowAnyEmailDomain !== true && (props.allowedEmailDomains ?? []).length === 0) {
    throw new PropError(
      scope,
      "allowedEmailDomains",
      props.allowedEmailDomains,
      "at least one e-mail domain, or allowAnyEmailDomain: true as an explicit choice (the guard would admit nobody on the public hostname)",
    );
  }
  for (const w of props.workloadIdentities ?? []) {
    if (!/^system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+$/.test(w))
      throw new PropError(
        scope,
        "workloadIdentities",
        props.workloadIdentities,
        "service-account subjects such as system:serviceaccount:ml-pipelines:training-pipeline",
      );
  }
  if ((props.allowedEmailDomains ?? []).includes("*")) {
    throw new PropError(
      scope,
      "allowedEmailDomains",
      props.allowedEmailDomains,
      'domains such as "example.com": set allowAnyEmailDomain: true instead of "*"',
    );
  }
  if (Object.keys(props.authProxyPodLabels).length === 0) {
    throw new PropError(
      scope,
      "authProxyPodLabels",
      props.authProxyPodLabels,
      "the labels of the authenticating proxy's pods; an empty selector would admit every pod",
    );
  }
  const own = [trackingServerPodLabels(r.instance), gcPodLabels(r.instance), migrationPodLabels(r.instance)];
  if (own.some((labels) => Object.entries(props.authProxyPodLabels).every(([k, v]) => labels[k] === v))) {
    throw new PropError(
      scope,
      "authProxyPodLabels",
      props.authProxyPodLabels,
      "labels that select only the proxy, not the tracking server's own pods",
    );
  }
  for (const [i, labels] of (props.apiClientPodLabels ?? []).entries()) {
    const problem = labelSelectorProblem(labels);
    if (problem) throw new PropError(scope, `apiClientPodLabels[${i}]`, labels, `the labels of a job's or service's pods; it ${problem}`);
  }
  const key = props.webhookEncryptionKey;
  if (key && !(DNS_SUBDOMAIN.test(key.name) && key.key)) {
    throw new PropError(
      scope,
      "webhookEncryptionKey",
      key,
      "a Secret name and key in the tracking server's namespace (the registry events service's webhook-secret encryption key)",
    );
  }
  if (!DNS_LABEL.test(r.monitoringNamespace))
    throw new PropError(scope, "monitoringNamespace", r.monitoringNamespace, "a Kubernetes namespace name");
  if (props.prometheusPodLabels !== undefined) {
    const problem = labelSelectorProblem(props.prometheusPodLabels);
    if (problem)
      throw new PropError(
        scope,
        "prometheusPodLabels",
        props.prometheusPodLabels,
        `the labels of the Prometheus pods, such as {"app.kubernetes.io/name": "prometheus"}; it ${problem}`,
      );
  }
  if (props.runAsUser !== undefined && (!Number.isInteger(props.runAsUser) || props.runAsUser < 1)) {
    throw new PropError(scope, "runAsUser", props.runAsUser, "a non-zero user id (the restricted Pod Security Standard forbids root)");
  }
  if (props.tmpSizeLimit !== undefined && parseMemory(props.tmpSizeLimit) === undefined)
    throw new PropError(scope, "tmpSizeLimit", props.tmpSizeLimit, 'a quantity such as "4Gi"');
  if (props.migrationTimeoutMinutes !== undefined && !(props.migrationTimeoutMinutes >= 1))
    throw new PropError(scope, "migrationTimeoutMinutes", props.migrationTimeoutMinutes, "at least 1");
  if (props.gcDeadlineSeconds !== undefined && !(Number.isInteger(props.gcDeadlineSeconds) && props.gcDeadlineSeconds >= 60)) {
    throw new PropError(scope, "gcDeadlineSeconds", props.gcDeadlineSeconds, "a whole number of seconds of at least 60");
  }
  if (props.access && props.networkPolicy === false) {
    throw new PropError(
      scope,
      "networkPolicy",
      props.networkPolicy,
      "true with access (teams): the guard treats every caller on the in-cluster names as the platform's own administrator identity, which only the NetworkPolicy keeps to the platform's jobs",
    );
  }
}

function isToken(v: unknown): boolean {
  return typeof v === "string" ? v.includes("${TfToken[") : typeof v === "number" && v < -1e15;
}

/**
 * The tracking server, its migrations, its garbage collection and its network boundary.
 *
 * @example
 * const trackingServer = new TrackingServer(this, "tracking-server", {
 *   instance: "mlflow-prod", namespace: "mlflow", version: "3.17.2", publicHostname: "mlflow.example.com",
 *   artifactStore: artifactStore.contract, backendStore: backendStore.contract,
 *   identity: identity.contract, authProxyPodLabels: authProxyPodLabels("mlflow"),
 * });
 * // In this app: new TrackingServer(this, "tracking-server", trackingServerProps(config, { ... })).
 */
export class TrackingServer extends Construct {
  /** What the proxy and monitoring need. */
  readonly contract: TrackingServerContract;
  readonly serviceAccount: ServiceAccountV1;
  readonly migrationJob: JobV1;
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
  readonly gcCronJob: CronJobV1;
  readonly podDisruptionBudget?: PodDisruptionBudgetV1;
  readonly autoscaler?: HorizontalPodAutoscalerV2;
  readonly networkPolicy?: NetworkPolicyV1;
  /** With teams: the access policy and its sync Job. */
  readonly access?: TeamAccess;

  constructor(scope: Construct, id: string, props: TrackingServerProps) {
    super(scope, id);
    const m = resolve(props);
    validate(this, props, m);
    const { identity } = props;
    const namespace = m.namespace;
    const name = m.name;
    const uid = String(props.runAsUser ?? 10001);
    const monitoringNamespace = m.monitoringNamespace;
    const prometheusPodLabels = props.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS;
    const autoscaling = props.autoscaling ?? m.replicas.max > m.replicas.min;
    const inputs = mlflowCommandInputs(props);

    this.serviceAccount = new ServiceAccountV1(this, "service-account", {
      metadata: {
        name: identity.serviceAccountName,
        namespace,
        labels: commonLabels(m, "tracking-server"),
        annotations: Object.keys(identity.serviceAccountAnnotations).length > 0 ? { ...identity.serviceAccountAnnotations } : undefined,
      },
      automountServiceAccountToken: false,
      dependsOn: props.dependsOn,
    });

    // ── Pod template pieces shared by the Deployment, the Job and the CronJob ──
    const podSecurityContext = restrictedPodSecurityContext(uid, { fsGroup: true });
    const containerSecurityContext = restrictedContainerSecurityContext(uid);
    const tmpVolume = { name: "tmp", emptyDir: { sizeLimit: props.tmpSizeLimit ?? "4Gi" } };
    const tmpMount = { name: "tmp", mountPath: TMP_DIR };
    const resources = containerResources(m.resources);
    const container = (containerName: string, cmd: ContainerCommand) => ({
      name: containerName,
      image: cmd.image,
      imagePullPolicy: "IfNotPresent",
      command: [...cmd.command],
      args: [...cmd.args],
      env: cmd.env.map(toK8sEnv),
      workingDir: TMP_DIR,
      securityContext: containerSecurityContext,
    });
    const jobPodSpec = (containerName: string, cmd: ContainerCommand) => ({
      serviceAccountName: this.serviceAccount.metadata.name,
      automountServiceAccountToken: false,
      restartPolicy: "Never",
      securityContext: podSecurityContext,
      container: [{ ...container(containerName, cmd), resources, volumeMount: [tmpMount] }],
      volume: [tmpVolume],
    });
    const dependsOn = [this.serviceAccount, ...(props.dependsOn ?? [])];
    // The labels the cloud identity needs on the pods that run as its service account (Azure Workload Identity's
    // webhook injects the token only into labelled pods); the construct's own labels come last, so they always select.
    const identityPodLabels = identity.podLabels ?? {};

    // ── Migrations: once per version, before the rollout ──
    const migrationLabels = { ...commonLabels(m, "db-migration"), ...migrationPodLabels(m.instance) };
    const migrationTimeout = `${props.migrationTimeoutMinutes ?? 20}m`;
    this.migrationJob = new JobV1(this, "db-upgrade", {
      metadata: { name: migrationJobName(props), namespace, labels: migrationLabels },
      spec: {
        backoffLimit: 2,
        // Never ttlSecondsAfterFinished: Kubernetes would delete the Job and the next plan recreate it.
        activeDeadlineSeconds: (props.migrationTimeoutMinutes ?? 20) * 60,
        template: {
          metadata: { labels: { ...identityPodLabels, ...migrationLabels } },
          spec: jobPodSpec("db-upgrade", dbUpgradeCommand(inputs)),
        },
      },
      waitForCompletion: true,
      timeouts: { create: migrationTimeout, update: migrationTimeout },
      dependsOn,
    });

    // ── The server ──
    const serverCmd = trackingServerCommand(inputs);
    // The TCP_NODELAY module the server's command puts on PYTHONPATH: a ConfigMap, mounted read-only.
    const pythonSite = inputs.tcpNoDelayConfigMap
      ? new ConfigMapV1(this, "python-site", {
          metadata: { name: inputs.tcpNoDelayConfigMap, namespace, labels: commonLabels(m, "tracking-server") },
          data: { [SITECUSTOMIZE_KEY]: TCP_NODELAY_SITECUSTOMIZE },
          dependsOn: props.dependsOn,
        })
      : undefined;
    const pythonSiteVolumes = pythonSite
      ? [
          {
            name: "python-site",
            configMap: {
              name: inputs.tcpNoDelayConfigMap,
              items: [{ key: SITECUSTOMIZE_KEY, path: SITECUSTOMIZE_KEY }],
              defaultMode: "0444",
            },
          },
        ]
      : [];
    const pythonSiteMounts = pythonSite ? [{ name: "python-site", mountPath: PYTHON_SITE_DIR, readOnly: true }] : [];
    // The guard MLflow's app runs inside (identity re-checked, no internals in 5xx): a ConfigMap mounted read-only.
    const guardName = inputs.guard?.configMapName ?? trackingGuardConfigMapName(name);
    const withAccess = props.access !== undefined;
    const guard = new TrackingGuard(this, "guard", {
      name: guardName,
      namespace,
      labels: commonLabels(m, "tracking-server"),
      access: withAccess || undefined,
      dependsOn: props.dependsOn,
    });
    const guardVolume = trackingGuardVolume(guardName, { access: withAccess });
    // Teams: the policy and its sync Job, after the migrations (the auth tables live in the same database)
    // and before the rollout (a new server must find its workspaces and roles).
    if (props.access) {
      this.access = new TeamAccess(this, "access", {
        name,
        namespace,
        policy: props.access,
        image: m.image,
        backendStore: props.backendStore,
        guardConfigMapName: guardName,
        serviceAccountName: identity.serviceAccountName,
        podLabels: accessSyncPodLabels(m.instance),
        labels: commonLabels(m, "access-sync"),
        runAsUser: props.runAsUser,
        dependsOn: [this.migrationJob, guard.configMap, ...dependsOn],
      });
    }
    const accessVolumes = props.access
      ? [
          {
            name: ACCESS_POLICY_VOLUME,
            configMap: {
              name: accessPolicyConfigMapName(name),
              items: [{ key: ACCESS_POLICY_KEY, path: ACCESS_POLICY_KEY }],
              defaultMode: "0444",
            },
          },
        ]
      : [];
    const accessMounts = props.access ? [{ name: ACCESS_POLICY_VOLUME, mountPath: ACCESS_POLICY_DIR, readOnly: true }] : [];
    const podLabels = trackingServerPodLabels(m.instance);
    const serverLabels = { ...commonLabels(m, "tracking-server"), ...podLabels };
    const probe = (periodSeconds: number, failureThreshold: number) =>
      httpGetProbe({ path: HEALTH_PATH, port: TRACKING_PORT_NAME, periodSeconds, timeoutSeconds: 5, failureThreshold });
    const preStopSeconds = 10;
    // Count only pods of the same revision, so a rollout's surge pod is not pushed aside by old ones.
    const spread = (topologyKey: string, whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway") =>
      topologySpread(topologyKey, whenUnsatisfiable, podLabels, ["pod-template-hash"]);
    this.deployment = new DeploymentV1(this, "deployment", {
      metadata: { name, namespace, labels: serverLabels },
      spec: {
        replicas: String(m.replicas.min),
        revisionHistoryLimit: 5,
        selector: { matchLabels: podLabels },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "1", maxUnavailable: "0" } },
        template: {
          metadata: {
            labels: { ...identityPodLabels, ...serverLabels },
            annotations: {
              "kubectl.kubernetes.io/default-container": "mlflow",
              "mlflow-platform/tracking-guard-sha256": trackingGuardChecksum({ access: withAccess }),
              // A changed policy rolls the pods, so no process keeps an outdated one.
              ...(props.access ? { "mlflow-platform/access-policy-sha256": accessPolicyHash(props.access) } : {}),
            },
          },
          spec: {
            serviceAccountName: this.serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            securityContext: podSecurityContext,
            terminationGracePeriodSeconds: preStopSeconds + GRACEFUL_SHUTDOWN_SECONDS + 5,
            topologySpreadConstraint: [
              spread("topology.kubernetes.io/zone", (props.strictZoneSpread ?? false) ? "DoNotSchedule" : "ScheduleAnyway"),
              spread("kubernetes.io/hostname", "ScheduleAnyway"),
            ],
            container: [
              {
                ...container("mlflow", serverCmd),
                port: Object.entries(serverCmd.ports ?? {}).map(([portName, containerPort]) => ({
                  name: portName,
                  containerPort,
                  protocol: "TCP",
                })),
                resources,
                // The first start of a new pod may take a while (imports, connection to the database).
                startupProbe: probe(5, 60),
                readinessProbe: probe(10, 3),
                livenessProbe: probe(20, 3),
                // Let the Service and the proxy stop sending traffic before uvicorn starts draining.
                lifecycle: { preStop: [{ exec: { command: ["sleep", String(preStopSeconds)] } }] },
                volumeMount: [
                  tmpMount,
                  { name: "prometheus", mountPath: PROMETHEUS_DIR },
                  guardVolume.mount,
                  ...pythonSiteMounts,
                  ...accessMounts,
                ],
              },
            ],
            volume: [
              tmpVolume,
              { name: "prometheus", emptyDir: { sizeLimit: "256Mi" } },
              guardVolume.volume,
              ...pythonSiteVolumes,
              ...accessVolumes,
            ],
          },
        },
      },
      waitForRollout: true,
      // The autoscaler owns the replica count once it exists.
      lifecycle: autoscaling ? { ignoreChanges: ["spec[0].replicas"] } : undefined,
      // A new MLflow version rolls out only after its migration Job has succeeded.
      // With teams, only after the policy is applied.
      dependsOn: [
        this.migrationJob,
        guard.configMap,
        ...dependsOn,
        ...(pythonSite ? [pythonSite] : []),
        ...(this.access ? [this.access.syncJob, this.access.policyConfigMap] : []),
      ],
    });

    const serviceLabels = { ...commonLabels(m, "tracking-server"), ...podLabels };
    this.service = new ServiceV1(this, "service", {
      metadata: { name, namespace, labels: serviceLabels },
      spec: {
        type: "ClusterIP",
        selector: podLabels,
        port: [{ name: TRACKING_PORT_NAME, port: m.port, targetPort: TRACKING_PORT_NAME, protocol: "TCP" }],
      },
      dependsOn: props.dependsOn,
    });

    if (m.replicas.min >= 2) {
      this.podDisruptionBudget = new PodDisruptionBudgetV1(this, "pdb", {
        metadata: { name, namespace, labels: serverLabels },
        spec: { maxUnavailable: "1", selector: { matchLabels: podLabels } },
        dependsOn: props.dependsOn,
      });
    }

    if (autoscaling) {
      this.autoscaler = new HorizontalPodAutoscalerV2(this, "hpa", {
        metadata: { name, namespace, labels: serverLabels },
        spec: {
          minReplicas: m.replicas.min,
          maxReplicas: m.replicas.max,
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.deployment.metadata.name },
          metric: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: m.targetCpuUtilizationPercent } },
            },
          ],
          behavior: {
            scaleDown: [{ stabilizationWindowSeconds: 300, selectPolicy: "Max", policy: [{ type: "Pods", value: 1, periodSeconds: 60 }] }],
          },
        },
        dependsOn: props.dependsOn,
      });
    }

    // ── Garbage collection ──
    const gcLabels = { ...commonLabels(m, "garbage-collection"), ...gcPodLabels(m.instance) };
    this.gcCronJob = new CronJobV1(this, "gc", {
      metadata: { name: `${name}-gc`, namespace, labels: gcLabels },
      spec: {
        schedule: m.gc.schedule,
        timezone: "Etc/UTC",
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels: gcLabels },
          spec: {
            backoffLimit: 1,
            activeDeadlineSeconds: props.gcDeadlineSeconds ?? 3600,
            // Jobs of a CronJob are not Terraform's: letting Kubernetes clean them up is safe.
            ttlSecondsAfterFinished: "86400",
            template: {
              metadata: { labels: { ...identityPodLabels, ...gcLabels } },
              spec: jobPodSpec("gc", gcCommand(inputs)),
            },
          },
        },
      },
      // gc of a new version runs against the migrated schema.
      dependsOn: [this.migrationJob, ...dependsOn],
    });

    // ── Who may talk to the tracking server ──
    if (props.networkPolicy ?? true) {
      this.networkPolicy = new NetworkPolicyV1(this, "network-policy", {
        metadata: { name, namespace, labels: serverLabels },
        spec: {
          podSelector: { matchLabels: podLabels },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { ...props.authProxyPodLabels } } },
                // Prometheus only: the rest of the monitoring namespace must not bypass the proxy.
                prometheusPeer(monitoringNamespace, prometheusPodLabels),
                { podSelector: { matchLabels: gcPodLabels(m.instance) } },
                // Other in-cluster API clients: the model-retention job, the registry events service.
                ...(props.apiClientPodLabels ?? []).map((labels) => ({ podSelector: { matchLabels: { ...labels } } })),
              ],
              ports: [{ port: String(m.port), protocol: "TCP" }],
            },
          ],
        },
        dependsOn: props.dependsOn,
      });
    }

    this.contract = {
      namespace,
      serviceName: name,
      port: m.port,
      portName: TRACKING_PORT_NAME,
      podLabels,
      serviceLabels,
      metricsPath: METRICS_PATH,
    };
  }
}
