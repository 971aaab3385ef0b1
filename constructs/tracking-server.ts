/**
 * The MLflow tracking server on Kubernetes, wired to the backend store (PostgreSQL) and the artifact
 * store (S3) through their contracts.
 *
 * Creates, in the environment's namespace (`config.mlflow.namespace`, which must already exist):
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
 *   decides it.
 *
 * The container commands come from `constructs/commands/mlflow.ts`, the single source the end-to-end
 * harness runs too. No secret value is ever written: the database password is a Secret reference.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { EnvironmentConfig } from "../config";
import { parseCpu, parseMemory } from "../config/quantity";
import {
  GRACEFUL_SHUTDOWN_SECONDS, HEALTH_PATH, METRICS_PATH, PROMETHEUS_DIR, TMP_DIR,
  dbUpgradeCommand, gcCommand, mlflowImage, trackingServerCommand, trackingServerName,
} from "./commands/mlflow";
import { registryEventsPodLabels } from "./commands/registry-events";
import { trackingGuardChecksum, trackingGuardConfigMapName, trackingGuardVolume } from "./commands/tracking-guard";
import { TrackingGuard } from "./tracking-guard";
import type { ContainerCommand } from "./commands/types";
import type { ArtifactStoreContract, BackendStoreContract, TrackingIdentityContract, TrackingServerContract } from "./contracts";
import { DNS_LABEL } from "./names";
import {
  PROMETHEUS_OPERATOR_POD_LABELS, containerResources, httpGetProbe, labelSelectorProblem, prometheusPeer,
  restrictedContainerSecurityContext, restrictedPodSecurityContext, toK8sEnv, topologySpread,
} from "./pod-spec";

/** Name of the Service port (and container port) serving the API, the UI and `/metrics`. */
export const TRACKING_PORT_NAME = "http";

const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
/** An image with an explicit tag or digest in its last path segment. */
const PINNED_IMAGE = /^[^\s@]+(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$/;

/** Props of {@link TrackingServer}. */
export interface TrackingServerProps {
  /**
   * The environment. Read: `project`, `name`, `hostname`, `production`, `mlflow.*` (version, image,
   * namespace, port, workers, uvicornOpts, replicas, targetCpuUtilizationPercent, resources,
   * extraAllowedHosts, gc), `ingress.idleTimeoutSeconds`, `monitoring.namespace`.
   */
  readonly config: EnvironmentConfig;

  /** Where artifacts go (`--artifacts-destination`). Required. */
  readonly artifactStore: ArtifactStoreContract;

  /** The PostgreSQL database and the Kubernetes Secret with its credentials (in the same namespace). Required. */
  readonly backendStore: BackendStoreContract;

  /** The AWS identity: the ServiceAccount this construct creates, with these annotations. Required. */
  readonly identity: TrackingIdentityContract;

  /**
   * Labels selecting the authenticating proxy's pods: the only application traffic the NetworkPolicy
   * admits. Use `authProxyPodLabels(config)` from `constructs/commands/oauth2-proxy.ts`. Must not be
   * empty (an empty selector would admit every pod of the namespace).
   */
  readonly authProxyPodLabels: Record<string, string>;

  /**
   * Namespace of the Prometheus that scrapes `/metrics`, selected by `kubernetes.io/metadata.name`.
   * Only its pods matching `prometheusPodLabels` are admitted, not the whole namespace.
   * @default config.monitoring.namespace
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
   * Create the NetworkPolicy. Enforced only when the VPC CNI's network policy support is enabled.
   * @default true
   */
  readonly networkPolicy?: boolean;

  /**
   * Scale between `mlflow.replicas.min` and `.max` on CPU with a HorizontalPodAutoscaler (needs
   * metrics-server). Without it the Deployment runs `mlflow.replicas.min` replicas.
   * @default true when `mlflow.replicas.max` > `mlflow.replicas.min`
   */
  readonly autoscaling?: boolean;

  /**
   * Spread replicas across availability zones strictly (`DoNotSchedule`) rather than preferably
   * (`ScheduleAnyway`). Spreading across nodes is always preferred.
   * @default config.production
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

/** The recommended labels common to every resource of the tracking server. */
function commonLabels(config: EnvironmentConfig, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "mlflow",
    "app.kubernetes.io/instance": `${config.project}-${config.name}`,
    "app.kubernetes.io/version": config.mlflow.version,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": config.project,
    "app.kubernetes.io/managed-by": "cdktf",
  };
}

/** Labels that select the pods of one component. Stable across versions (a Deployment's selector is immutable). */
function selectorLabels(config: EnvironmentConfig, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "mlflow",
    "app.kubernetes.io/instance": `${config.project}-${config.name}`,
    "app.kubernetes.io/component": component,
  };
}

/** Labels selecting the tracking server's pods. */
export function trackingServerPodLabels(config: EnvironmentConfig): Record<string, string> {
  return selectorLabels(config, "tracking-server");
}

/** Labels selecting the gc CronJob's pods (admitted by the tracking server's NetworkPolicy). */
export function gcPodLabels(config: EnvironmentConfig): Record<string, string> {
  return selectorLabels(config, "garbage-collection");
}

/** Labels selecting the migration Job's pods. */
export function migrationPodLabels(config: EnvironmentConfig): Record<string, string> {
  return selectorLabels(config, "db-migration");
}

/**
 * Name of the migration Job: it changes with the MLflow version (and with an image override), so an
 * upgrade creates, and waits for, a new Job instead of finding the old one complete.
 */
export function migrationJobName(config: EnvironmentConfig): string {
  const version = config.mlflow.version.replaceAll(".", "-");
  const base = `${trackingServerName(config)}-db-upgrade-${version}`;
  return config.mlflow.image ? `${base}-${shortHash(config.mlflow.image)}` : base;
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

function fail(field: string, value: unknown, expected: string): never {
  throw new Error(`TrackingServer: ${field} = ${JSON.stringify(value)}: expected ${expected}`);
}

/** Synth-time checks of what the construct relies on, naming the field and how to fix it. */
function validate(props: TrackingServerProps): void {
  const { config, artifactStore, backendStore, identity } = props;
  const m = config.mlflow;
  if (!Number.isInteger(m.workers) || m.workers < 1) fail("config.mlflow.workers", m.workers, "a whole number of at least 1 (server worker processes per pod)");
  for (const k of ["min", "max"] as const) {
    if (!Number.isInteger(m.replicas[k]) || m.replicas[k] < 1) fail(`config.mlflow.replicas.${k}`, m.replicas[k], "a whole number of at least 1");
  }
  if (m.replicas.min > m.replicas.max) fail("config.mlflow.replicas.min", m.replicas.min, `at most config.mlflow.replicas.max (${m.replicas.max}); raise max or lower min`);
  const reqMem = parseMemory(m.resources.requests.memory);
  const limMem = parseMemory(m.resources.limits.memory);
  if (reqMem === undefined) fail("config.mlflow.resources.requests.memory", m.resources.requests.memory, "a memory quantity such as \"1Gi\"");
  if (limMem === undefined) fail("config.mlflow.resources.limits.memory", m.resources.limits.memory, "a memory quantity such as \"2Gi\"");
  if (limMem < reqMem) fail("config.mlflow.resources.limits.memory", m.resources.limits.memory, `at least the memory request (${m.resources.requests.memory})`);
  if (parseCpu(m.resources.requests.cpu) === undefined) fail("config.mlflow.resources.requests.cpu", m.resources.requests.cpu, "a CPU quantity such as \"250m\"");
  if (m.resources.limits.cpu !== undefined && !(parseCpu(m.resources.limits.cpu)! >= parseCpu(m.resources.requests.cpu)!)) {
    fail("config.mlflow.resources.limits.cpu", m.resources.limits.cpu, `at least the CPU request (${m.resources.requests.cpu}), or no CPU limit`);
  }
  const image = mlflowImage(config);
  if (!PINNED_IMAGE.test(image) || /:latest$/.test(image)) {
    fail(m.image ? "config.mlflow.image" : "config.mlflow.version", m.image ?? m.version, "an image reference with an exact tag or digest, such as \"ghcr.io/mlflow/mlflow:v3.17.2-full\" or \"repo/mlflow@sha256:<64 hex>\"");
  }
  if (!Number.isInteger(m.gc.olderThanDays) || m.gc.olderThanDays < 1) {
    fail("config.mlflow.gc.olderThanDays", m.gc.olderThanDays, "a whole number of days of at least 1 (gc must never delete runs the moment they are deleted)");
  }
  if (!/^(\S+\s+){4}\S+$/.test(m.gc.schedule)) fail("config.mlflow.gc.schedule", m.gc.schedule, "a five-field cron schedule such as \"30 3 * * *\"");
  if (!Number.isInteger(m.port) || m.port < 1024 || m.port > 65535) fail("config.mlflow.port", m.port, "an unprivileged port from 1024 to 65535");
  if (!DNS_LABEL.test(m.namespace)) fail("config.mlflow.namespace", m.namespace, "a Kubernetes namespace name");

  if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(artifactStore.destinationUri) && !isToken(artifactStore.destinationUri)) {
    fail("artifactStore.destinationUri", artifactStore.destinationUri, "an s3://<bucket>/<prefix> URI");
  }
  if (!Number.isInteger(backendStore.port) && !isToken(backendStore.port)) fail("backendStore.port", backendStore.port, "a port number");
  const cred = backendStore.credentials;
  for (const [k, v] of [["secretName", cred.secretName], ["usernameKey", cred.usernameKey], ["passwordKey", cred.passwordKey]] as const) {
    if (!v) fail(`backendStore.credentials.${k}`, v, "a non-empty name (the Kubernetes Secret holding the database credentials, and its keys)");
  }
  if (!DNS_SUBDOMAIN.test(identity.serviceAccountName)) fail("identity.serviceAccountName", identity.serviceAccountName, "a Kubernetes service account name");

  if (Object.keys(props.authProxyPodLabels).length === 0) {
    fail("authProxyPodLabels", props.authProxyPodLabels, "the labels of the authenticating proxy's pods (authProxyPodLabels(config)); an empty selector would admit every pod");
  }
  const own = [trackingServerPodLabels(config), gcPodLabels(config), migrationPodLabels(config)];
  if (own.some((labels) => Object.entries(props.authProxyPodLabels).every(([k, v]) => labels[k] === v))) {
    fail("authProxyPodLabels", props.authProxyPodLabels, "labels that select only the proxy, not the tracking server's own pods");
  }
  for (const [i, labels] of (props.apiClientPodLabels ?? []).entries()) {
    const problem = labelSelectorProblem(labels);
    if (problem) fail(`apiClientPodLabels[${i}]`, labels, `the labels of a job's pods, such as modelRetentionPodLabels(config); it ${problem}`);
  }
  const monitoring = props.monitoringNamespace ?? config.monitoring.namespace;
  if (!DNS_LABEL.test(monitoring)) fail("monitoringNamespace", monitoring, "a Kubernetes namespace name");
  if (props.prometheusPodLabels !== undefined) {
    const problem = labelSelectorProblem(props.prometheusPodLabels);
    if (problem) fail("prometheusPodLabels", props.prometheusPodLabels, `the labels of the Prometheus pods, such as {"app.kubernetes.io/name": "prometheus"}; it ${problem}`);
  }
  if (props.runAsUser !== undefined && (!Number.isInteger(props.runAsUser) || props.runAsUser < 1)) {
    fail("runAsUser", props.runAsUser, "a non-zero user id (the restricted Pod Security Standard forbids root)");
  }
  if (props.tmpSizeLimit !== undefined && parseMemory(props.tmpSizeLimit) === undefined) fail("tmpSizeLimit", props.tmpSizeLimit, "a quantity such as \"4Gi\"");
  if (props.migrationTimeoutMinutes !== undefined && !(props.migrationTimeoutMinutes >= 1)) fail("migrationTimeoutMinutes", props.migrationTimeoutMinutes, "at least 1");
  if (props.gcDeadlineSeconds !== undefined && !(Number.isInteger(props.gcDeadlineSeconds) && props.gcDeadlineSeconds >= 60)) {
    fail("gcDeadlineSeconds", props.gcDeadlineSeconds, "a whole number of seconds of at least 60");
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
 *   config, artifactStore: artifactStore.contract, backendStore: backendStore.contract,
 *   identity: identity.contract, authProxyPodLabels: authProxyPodLabels(config),
 * });
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

  constructor(scope: Construct, id: string, props: TrackingServerProps) {
    super(scope, id);
    validate(props);
    const { config, artifactStore, backendStore, identity } = props;
    const m = config.mlflow;
    const namespace = m.namespace;
    const name = trackingServerName(config);
    const uid = String(props.runAsUser ?? 10001);
    const monitoringNamespace = props.monitoringNamespace ?? config.monitoring.namespace;
    const prometheusPodLabels = props.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS;
    const autoscaling = props.autoscaling ?? m.replicas.max > m.replicas.min;
    const inputs = { config, backendStore, artifactStore };

    this.serviceAccount = new ServiceAccountV1(this, "service-account", {
      metadata: {
        name: identity.serviceAccountName,
        namespace,
        labels: commonLabels(config, "tracking-server"),
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

    // ── Migrations: once per version, before the rollout ──
    const migrationLabels = { ...commonLabels(config, "db-migration"), ...migrationPodLabels(config) };
    const migrationTimeout = `${props.migrationTimeoutMinutes ?? 20}m`;
    this.migrationJob = new JobV1(this, "db-upgrade", {
      metadata: { name: migrationJobName(config), namespace, labels: migrationLabels },
      spec: {
        backoffLimit: 2,
        // Never ttlSecondsAfterFinished: Kubernetes would delete the Job and the next plan recreate it.
        activeDeadlineSeconds: (props.migrationTimeoutMinutes ?? 20) * 60,
        template: {
          metadata: { labels: migrationLabels },
          spec: jobPodSpec("db-upgrade", dbUpgradeCommand(inputs)),
        },
      },
      waitForCompletion: true,
      timeouts: { create: migrationTimeout, update: migrationTimeout },
      dependsOn,
    });

    // ── The server ──
    const serverCmd = trackingServerCommand(inputs);
    // The guard MLflow's app runs inside (identity re-checked, no internals in 5xx): a ConfigMap mounted read-only.
    const guard = new TrackingGuard(this, "guard", {
      name: trackingGuardConfigMapName(config), namespace, labels: commonLabels(config, "tracking-server"), dependsOn: props.dependsOn,
    });
    const guardVolume = trackingGuardVolume(config);
    const podLabels = trackingServerPodLabels(config);
    const serverLabels = { ...commonLabels(config, "tracking-server"), ...podLabels };
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
            labels: serverLabels,
            annotations: { "kubectl.kubernetes.io/default-container": "mlflow", "mlflow-platform/tracking-guard-sha256": trackingGuardChecksum() },
          },
          spec: {
            serviceAccountName: this.serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            securityContext: podSecurityContext,
            terminationGracePeriodSeconds: preStopSeconds + GRACEFUL_SHUTDOWN_SECONDS + 5,
            topologySpreadConstraint: [
              spread("topology.kubernetes.io/zone", (props.strictZoneSpread ?? config.production) ? "DoNotSchedule" : "ScheduleAnyway"),
              spread("kubernetes.io/hostname", "ScheduleAnyway"),
            ],
            container: [{
              ...container("mlflow", serverCmd),
              port: Object.entries(serverCmd.ports ?? {}).map(([portName, containerPort]) => ({ name: portName, containerPort, protocol: "TCP" })),
              resources,
              // The first start of a new pod may take a while (imports, connection to the database).
              startupProbe: probe(5, 60),
              readinessProbe: probe(10, 3),
              livenessProbe: probe(20, 3),
              // Let the Service and the proxy stop sending traffic before uvicorn starts draining.
              lifecycle: { preStop: [{ exec: { command: ["sleep", String(preStopSeconds)] } }] },
              volumeMount: [tmpMount, { name: "prometheus", mountPath: PROMETHEUS_DIR }, guardVolume.mount],
            }],
            volume: [tmpVolume, { name: "prometheus", emptyDir: { sizeLimit: "256Mi" } }, guardVolume.volume],
          },
        },
      },
      waitForRollout: true,
      // The autoscaler owns the replica count once it exists.
      lifecycle: autoscaling ? { ignoreChanges: ["spec[0].replicas"] } : undefined,
      // A new MLflow version rolls out only after its migration Job has succeeded.
      dependsOn: [this.migrationJob, guard.configMap, ...dependsOn],
    });

    const serviceLabels = { ...commonLabels(config, "tracking-server"), ...podLabels };
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
          metric: [{
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: m.targetCpuUtilizationPercent } },
          }],
          behavior: {
            scaleDown: [{ stabilizationWindowSeconds: 300, selectPolicy: "Max", policy: [{ type: "Pods", value: 1, periodSeconds: 60 }] }],
          },
        },
        dependsOn: props.dependsOn,
      });
    }

    // ── Garbage collection ──
    const gcLabels = { ...commonLabels(config, "garbage-collection"), ...gcPodLabels(config) };
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
              metadata: { labels: gcLabels },
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
          ingress: [{
            from: [
              { podSelector: { matchLabels: { ...props.authProxyPodLabels } } },
              // Prometheus only: the rest of the monitoring namespace must not bypass the proxy.
              prometheusPeer(monitoringNamespace, prometheusPodLabels),
              { podSelector: { matchLabels: gcPodLabels(config) } },
              ...(props.apiClientPodLabels ?? []).map((labels) => ({ podSelector: { matchLabels: { ...labels } } })),
              // The registry events service reads the registry (reconciliation) and declares its webhook.
              ...(config.events.enabled ? [{ podSelector: { matchLabels: registryEventsPodLabels(config) } }] : []),
            ],
            ports: [{ port: String(m.port), protocol: "TCP" }],
          }],
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
