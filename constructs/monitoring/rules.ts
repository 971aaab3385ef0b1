/**
 * The platform's Prometheus alerting rules, built as plain objects. The same objects are deployed (in a
 * PrometheusRule through the monitoring chart) and rendered to a rules file that `promtool check rules`
 * and `promtool test rules` verify in test/monitoring/.
 *
 * Metric names were checked against the real processes: MLflow 3.17.2 with `--expose-prometheus`
 * (prometheus-flask-exporter with the `mlflow` prefix: `mlflow_http_request_total{method,status}`,
 * `mlflow_http_request_duration_seconds_bucket{method,status,mlflow_version}`; there is no path label,
 * MLflow groups by version) and oauth2-proxy 7.15.6 with `--metrics-address`
 * (`oauth2_proxy_requests_total{code}`, `oauth2_proxy_response_duration_seconds_bucket{method}`).
 * Kubernetes state comes from kube-state-metrics (`kube_job_failed` is what kube-prometheus-stack's own
 * KubeJobFailed uses: a Job whose Failed condition is set, not a Job that merely retried a pod) and the
 * kubelet's volume statistics, both scraped by kube-prometheus-stack.
 */
import type { IConstruct } from "constructs";
import { PropError } from "../core/prop-error";

/** Severity label on every alert; Alertmanager routes on it. */
export type Severity = "critical" | "warning";

/** The thresholds alerts fire at (config.monitoring.thresholds). */
export interface AlertThresholds {
  /** Share of tracking-server responses that are 5xx (0-1). */
  readonly errorRatio: number;
  /** 95th percentile request latency, seconds. */
  readonly latencyP95Seconds: number;
  /** 99th percentile request latency, seconds. */
  readonly latencyP99Seconds: number;
  /** Rate of 401/403 answers from the proxy, per second. */
  readonly authFailuresPerSecond: number;
  /** Used share of Prometheus' volume, percent. */
  readonly volumeFullPercent: number;
  /** Below this request rate (per second) ratio and latency alerts stay quiet: a few requests are no signal. */
  readonly minRequestsPerSecond: number;
}

/** Default thresholds (the same as config/schema.ts's defaults, plus the traffic floor). */
export const DEFAULT_THRESHOLDS: AlertThresholds = {
  errorRatio: 0.05,
  latencyP95Seconds: 2,
  latencyP99Seconds: 5,
  authFailuresPerSecond: 1,
  volumeFullPercent: 85,
  minRequestsPerSecond: 0.05,
};

/** One alerting rule, exactly as Prometheus reads it. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: Severity } & Readonly<Record<string, string>>;
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

/** A rule group. */
export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly AlertRule[];
}

/** Where the metrics come from: the scrape jobs and namespaces the rules select. */
export interface RuleTargets {
  /** Namespace of the tracking server, its Jobs, CronJob and the proxy. */
  readonly workloadNamespace: string;
  /** Prometheus job of the tracking server (the Service's name, as a ServiceMonitor names it). */
  readonly trackingJob: string;
  /** Namespace of the tracking server's Service. */
  readonly trackingNamespace: string;
  /** Prometheus job of the proxy's metrics endpoint (the proxy Service's name). */
  readonly proxyJob: string;
  /** Namespace of the proxy's Service. */
  readonly proxyNamespace: string;
  /** Namespace of Prometheus' own PersistentVolumeClaims. */
  readonly prometheusNamespace: string;
  /** Prefix of Prometheus' PVC names (kube-prometheus-stack: `prometheus-`). */
  readonly prometheusPvcPrefix: string;
  /** Where the runbook lives; each alert links `<base>#<alert name in lower case>`. */
  readonly runbookBaseUrl: string;
}

/** A PromQL string literal (double-quoted, escaped). */
export function promString(value: string): string {
  return JSON.stringify(value);
}

/** A label matcher list such as `{namespace="mlflow",job="mlflow"}`. */
export function selector(labels: Record<string, string>, extra = ""): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${promString(v)}`);
  if (extra) parts.push(extra);
  return `{${parts.join(",")}}`;
}

/** A number as PromQL writes it (no exponent for the thresholds we use). */
function num(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

/** The names of the alerts, in the order they appear in the rules file and the runbook. */
export const ALERT_NAMES = [
  "MlflowTrackingServerDown",
  "MlflowHighErrorRatio",
  "MlflowHighLatencyP95",
  "MlflowHighLatencyP99",
  "OAuth2ProxyDown",
  "OAuth2ProxyAuthFailuresHigh",
  "MlflowPodCrashLooping",
  "MlflowMigrationJobFailed",
  "MlflowGcJobFailed",
  "PrometheusVolumeFillingUp",
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

/**
 * Builds the platform's alerting rules. Throws when a threshold is outside its range, naming it.
 */
export function buildRuleGroups(t: RuleTargets, thresholds: AlertThresholds, scope: IConstruct | string = "Monitoring"): RuleGroup[] {
  validateThresholds(thresholds, scope);
  const mlflow = { namespace: t.trackingNamespace, job: t.trackingJob };
  const proxy = { namespace: t.proxyNamespace, job: t.proxyJob };
  const ns = { namespace: t.workloadNamespace };
  const runbook = (name: AlertName) => `${t.runbookBaseUrl}#${name.toLowerCase()}`;
  const rule = (
    alert: AlertName,
    severity: Severity,
    forDuration: string,
    expr: string,
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity, namespace: alert === "PrometheusVolumeFillingUp" ? t.prometheusNamespace : t.workloadNamespace },
    annotations: { summary, description, runbook_url: runbook(alert) },
  });

  const requests = `sum(rate(mlflow_http_request_total${selector(mlflow)}[5m]))`;
  const errors = `sum(rate(mlflow_http_request_total${selector(mlflow, 'status=~"5.."')}[5m]))`;
  const busy = `${requests} > ${num(thresholds.minRequestsPerSecond)}`;
  const quantile = (q: number) =>
    `histogram_quantile(${q}, sum by (le) (rate(mlflow_http_request_duration_seconds_bucket${selector(mlflow)}[5m])))`;

  const tracking: AlertRule[] = [
    rule(
      "MlflowTrackingServerDown",
      "critical",
      "5m",
      `absent(up${selector(mlflow)} == 1)`,
      "The MLflow tracking server is down",
      `No replica of the tracking server (Service ${t.trackingJob} in ${t.trackingNamespace}) has answered a scrape of its metrics for 5 minutes: the server is down, has no ready replica, or is not scraped.`,
    ),
    rule(
      "MlflowHighErrorRatio",
      "critical",
      "10m",
      `(${errors} / ${requests}) > ${num(thresholds.errorRatio)} and ${busy}`,
      "The MLflow tracking server answers many requests with 5xx",
      `More than ${num(thresholds.errorRatio * 100)}% of the tracking server's responses have been 5xx errors for 10 minutes.`,
    ),
    rule(
      "MlflowHighLatencyP95",
      "warning",
      "10m",
      `${quantile(0.95)} > ${num(thresholds.latencyP95Seconds)} and ${busy}`,
      "MLflow requests are slow (p95)",
      `The 95th percentile of the tracking server's request latency has been above ${num(thresholds.latencyP95Seconds)} s for 10 minutes.`,
    ),
    rule(
      "MlflowHighLatencyP99",
      "warning",
      "10m",
      `${quantile(0.99)} > ${num(thresholds.latencyP99Seconds)} and ${busy}`,
      "MLflow requests are slow (p99)",
      `The 99th percentile of the tracking server's request latency has been above ${num(thresholds.latencyP99Seconds)} s for 10 minutes.`,
    ),
  ];

  const signIn: AlertRule[] = [
    rule(
      "OAuth2ProxyDown",
      "critical",
      "5m",
      `absent(up${selector(proxy)} == 1)`,
      "The sign-in proxy in front of MLflow is down",
      `No replica of OAuth2 Proxy (Service ${t.proxyJob} in ${t.proxyNamespace}) has answered a scrape of its metrics port for 5 minutes: nobody can reach MLflow.`,
    ),
    rule(
      "OAuth2ProxyAuthFailuresHigh",
      "warning",
      "10m",
      `sum(rate(oauth2_proxy_requests_total${selector(proxy, 'code=~"401|403"')}[5m])) > ${num(thresholds.authFailuresPerSecond)}`,
      "Many requests to MLflow are refused by the sign-in proxy",
      `OAuth2 Proxy has answered more than ${num(thresholds.authFailuresPerSecond)} requests per second with 401 or 403 for 10 minutes: expired or wrong tokens in a pipeline, a misconfigured identity provider, or someone probing.`,
    ),
  ];

  const workloads: AlertRule[] = [
    rule(
      "MlflowPodCrashLooping",
      "warning",
      "10m",
      `max_over_time(kube_pod_container_status_waiting_reason${selector(ns, 'reason="CrashLoopBackOff"')}[5m]) >= 1`,
      "A pod of the MLflow platform is crash-looping",
      "Container {{ $labels.container }} of pod {{ $labels.pod }} has been in CrashLoopBackOff for 10 minutes.",
    ),
    rule(
      "MlflowMigrationJobFailed",
      "critical",
      "1m",
      `(kube_job_failed${selector(ns)} > 0) unless on (namespace, job_name) kube_job_owner${selector(ns, 'owner_kind="CronJob"')}`,
      "The MLflow database migration Job failed",
      "Job {{ $labels.job_name }} (mlflow db upgrade) has failed (its backoff limit is spent): the database schema may be behind the server version, and new tracking-server pods will refuse to start.",
    ),
    rule(
      "MlflowGcJobFailed",
      "warning",
      "1m",
      `(kube_job_failed${selector(ns)} > 0) and on (namespace, job_name) kube_job_owner${selector(ns, 'owner_kind="CronJob"')} and on (namespace, job_name) (time() - kube_job_status_start_time${selector(ns)} < 86400)`,
      "The MLflow garbage-collection run failed",
      "Job {{ $labels.job_name }} (mlflow gc, started by a CronJob in the last 24 hours) failed: deleted runs and their artifacts are not being purged.",
    ),
    rule(
      "PrometheusVolumeFillingUp",
      "warning",
      "15m",
      `100 * kubelet_volume_stats_used_bytes${selector({ namespace: t.prometheusNamespace }, `persistentvolumeclaim=~${promString(`${t.prometheusPvcPrefix}.*`)}`)}` +
        ` / kubelet_volume_stats_capacity_bytes${selector({ namespace: t.prometheusNamespace }, `persistentvolumeclaim=~${promString(`${t.prometheusPvcPrefix}.*`)}`)}` +
        ` > ${num(thresholds.volumeFullPercent)}`,
      "Prometheus' volume is filling up",
      `Volume {{ $labels.persistentvolumeclaim }} is more than ${num(thresholds.volumeFullPercent)}% full: when it is full Prometheus stops ingesting and alerting goes blind.`,
    ),
  ];

  return [
    { name: "mlflow-tracking-server", rules: tracking },
    { name: "mlflow-sign-in", rules: signIn },
    { name: "mlflow-workloads", rules: workloads },
  ];
}

function validateThresholds(t: AlertThresholds, scope: IConstruct | string): void {
  const check = (field: keyof AlertThresholds, ok: boolean, expected: string) => {
    if (!ok) throw new PropError(scope, `thresholds.${field}`, t[field], expected);
  };
  check("errorRatio", t.errorRatio > 0 && t.errorRatio < 1, "a ratio between 0 and 1 (0.05 = 5%)");
  check("latencyP95Seconds", t.latencyP95Seconds > 0, "a positive number of seconds");
  check("latencyP99Seconds", t.latencyP99Seconds > 0, "a positive number of seconds");
  check(
    "latencyP99Seconds",
    t.latencyP99Seconds >= t.latencyP95Seconds,
    `at least latencyP95Seconds (${t.latencyP95Seconds}): the p99 is never below the p95`,
  );
  check("authFailuresPerSecond", t.authFailuresPerSecond > 0, "a positive rate per second");
  check("volumeFullPercent", t.volumeFullPercent > 0 && t.volumeFullPercent < 100, "a percentage between 0 and 100");
  check("minRequestsPerSecond", t.minRequestsPerSecond >= 0, "zero or a positive rate per second");
}

/** Every alerting rule of the groups, flattened. */
export function allRules(groups: readonly RuleGroup[]): AlertRule[] {
  return groups.flatMap((g) => g.rules);
}

/** The registry events service's alerts; their runbook is docs/registry-events.md. */
export const REGISTRY_EVENTS_ALERT_NAMES = [
  "MlflowRegistryEventsDown",
  "MlflowRegistryEventsBehind",
  "MlflowRegistryEventsDeliveryFailing",
  "MlflowRegistryEventsWebhookRefused",
  "MlflowRegistryEventsWebhookMissing",
  "MlflowRegistryEventsStateRejected",
] as const;
export type RegistryEventsAlertName = (typeof REGISTRY_EVENTS_ALERT_NAMES)[number];

/** What the registry events rules watch. */
export interface RegistryEventsRuleTargets {
  /** Namespace of the service. */
  readonly namespace: string;
  /** Prometheus job (the Service's name). */
  readonly job: string;
  /** Reconciliation failing for longer than this (seconds) is "behind" (config.events.behindSeconds). */
  readonly behindSeconds: number;
  /** Where the runbook lives; each alert links `<base>#<alert name in lower case>`. */
  readonly runbookBaseUrl: string;
}

/**
 * The registry events service's rules: down, behind the registry (reconciliation not succeeding),
 * failing deliveries to a channel, refused webhook deliveries (forged, replayed, stale), and its
 * webhook missing from MLflow. Metric names are the service's (runtime/src/mlflow_platform/events/service.py).
 */
export function buildRegistryEventsRuleGroup(t: RegistryEventsRuleTargets, scope: IConstruct | string = "Monitoring"): RuleGroup {
  if (!(Number.isInteger(t.behindSeconds) && t.behindSeconds >= 60)) {
    throw new PropError(scope, "registryEvents.behindSeconds", t.behindSeconds, "a whole number of seconds of at least 60");
  }
  const sel = selector({ namespace: t.namespace, job: t.job });
  const rule = (
    alert: RegistryEventsAlertName,
    severity: Severity,
    forDuration: string,
    expr: string,
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity, namespace: t.namespace },
    annotations: { summary, description, runbook_url: `${t.runbookBaseUrl}#${alert.toLowerCase()}` },
  });
  return {
    name: "mlflow-registry-events",
    rules: [
      rule(
        "MlflowRegistryEventsDown",
        "critical",
        "5m",
        `absent(up${sel} == 1)`,
        "The registry events service is down",
        `The registry events service (Service ${t.job} in ${t.namespace}) has not answered a scrape for 5 minutes: MLflow's webhooks are lost meanwhile; its reconciliation will notify them when it is back.`,
      ),
      rule(
        "MlflowRegistryEventsBehind",
        "warning",
        "2m",
        `(time() - max(mlflow_events_reconcile_last_success_timestamp_seconds${sel})) > ${num(t.behindSeconds)}`,
        "The registry events service is behind the registry",
        `No reconciliation pass has succeeded for more than ${num(t.behindSeconds)} s: stage transitions and lost webhooks are not being notified (the tracking server unreachable, or a pass slower than the interval).`,
      ),
      rule(
        "MlflowRegistryEventsDeliveryFailing",
        "warning",
        "0m",
        `sum by (namespace, channel) (increase(mlflow_events_notifications_total${selector({ namespace: t.namespace, job: t.job }, 'result="failed"')}[15m])) > 0`,
        "Notifications to a channel are failing",
        "Messages to {{ $labels.channel }} failed after every retry in the last 15 minutes (a revoked webhook URL or token, the channel's outage, or the egress policy); the other channels were told.",
      ),
      rule(
        "MlflowRegistryEventsWebhookRefused",
        "warning",
        "0m",
        `sum by (namespace) (increase(mlflow_events_webhook_deliveries_total${selector({ namespace: t.namespace, job: t.job }, 'result=~"bad_signature|stale|duplicate|malformed"')}[15m])) > 0`,
        "Webhook deliveries were refused",
        "Deliveries with a wrong signature, a timestamp outside the window, or a delivery id seen before reached the service in the last 15 minutes: a forged or replayed request, clock skew between the pods, or a webhook secret that changed without a restart of the service.",
      ),
      rule(
        "MlflowRegistryEventsWebhookMissing",
        "warning",
        "10m",
        `max(mlflow_events_webhook_registered${sel}) < 1`,
        "The registry events webhook is not declared in MLflow",
        "The service has not been able to create or update its webhook for 10 minutes: changes reach it only through reconciliation (slower).",
      ),
      rule(
        "MlflowRegistryEventsStateRejected",
        "warning",
        "0m",
        `sum by (namespace, reason) (increase(mlflow_events_state_rejected_total${sel}[15m])) > 0`,
        "Someone else wrote the registry events service's state",
        "A platform.events.notified tag the service did not write ({{ $labels.reason }}: forged, removed, or an older value put back) was found in the last 15 minutes. The service compared against what it notified instead, so nothing was hidden; find who wrote the tag (someone may have tried to hide a promotion). Expected once after upgrading from unsigned state tags.",
      ),
    ],
  };
}

/** The Argo Rollouts controller's alerts; their runbook is docs/monitoring.md. */
export const ROLLOUTS_CONTROLLER_ALERT_NAMES = ["ArgoRolloutsControllerDown"] as const;
export type RolloutsControllerAlertName = (typeof ROLLOUTS_CONTROLLER_ALERT_NAMES)[number];

/** What the Argo Rollouts controller's rule watches. */
export interface RolloutsControllerRuleTargets {
  /** Namespace of the controller and its metrics Service. */
  readonly namespace: string;
  /** Prometheus job of its metrics (the metrics Service's name, as a ServiceMonitor names it). */
  readonly job: string;
  /** Where the runbook lives; each alert links `<base>#<alert name in lower case>`. */
  readonly runbookBaseUrl: string;
}

/**
 * The Argo Rollouts controller's rule: down. Without it no blue-green or canary release progresses,
 * no analysis runs, and a failing canary is neither aborted nor rolled back: its share of traffic stays on
 * the bad version until someone notices.
 */
export function buildRolloutsControllerRuleGroup(t: RolloutsControllerRuleTargets): RuleGroup {
  const sel = selector({ namespace: t.namespace, job: t.job });
  const alert: RolloutsControllerAlertName = "ArgoRolloutsControllerDown";
  return {
    name: "argo-rollouts-controller",
    rules: [
      {
        alert,
        expr: `absent(up${sel} == 1)`,
        for: "5m",
        labels: { severity: "critical", namespace: t.namespace },
        annotations: {
          summary: "The Argo Rollouts controller is down",
          description: `No replica of the Argo Rollouts controller (Service ${t.job} in ${t.namespace}) has answered a scrape of its metrics for 5 minutes: model releases do not progress, their analyses do not run, and a failing canary is neither aborted nor rolled back.`,
          runbook_url: `${t.runbookBaseUrl}#${alert.toLowerCase()}`,
        },
      },
    ],
  };
}
