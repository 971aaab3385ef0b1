/**
 * The platform's Grafana dashboards, built as Grafana dashboard JSON models (schemaVersion 39). The
 * construct ships each one in a ConfigMap labelled for Grafana's dashboard sidecar; the tests parse every
 * PromQL expression below with promtool, and docs/monitoring.md shows each dashboard's panel layout.
 *
 * Expressions use fixed `[5m]` windows (not Grafana's `$__rate_interval`) so that they are plain PromQL a
 * real parser can check, and so that the dashboards agree with the alert rules.
 */
import { promString, selector } from "./rules";

/** Grafana's unit ids used below. */
export type Unit = "reqps" | "percentunit" | "percent" | "s" | "bytes" | "short" | "none" | "cores" | "iops";

/** One query of a panel. */
export interface PanelTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
}

/**
 * One query of a CloudWatch panel (Grafana's CloudWatchMetricsQuery: a metric search built in the query
 * editor's builder mode, on the data source's default region).
 */
export interface CloudWatchTarget {
  readonly refId: string;
  readonly queryMode: "Metrics";
  /** 0: metric search (not Metrics Insights, which only looks back three hours). */
  readonly metricQueryType: 0;
  /** 0: builder mode. */
  readonly metricEditorMode: 0;
  readonly id: string;
  readonly region: "default";
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly matchExact: true;
  readonly statistic: "Average" | "Minimum" | "Maximum" | "Sum";
  /** Seconds, or "auto" (Grafana picks it from the time range). */
  readonly period: string;
  readonly expression: "";
  /** The series' name in the legend. */
  readonly label: string;
}

interface PanelBase {
  readonly id: number;
  readonly type: "timeseries" | "stat";
  readonly title: string;
  readonly description: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly fieldConfig: { readonly defaults: { readonly unit: Unit; readonly min?: number }; readonly overrides: readonly unknown[] };
  readonly options: Record<string, unknown>;
  /** A relative time range of the panel's own (Grafana's "relative time"), e.g. "30d". @default the dashboard's */
  readonly timeFrom?: string;
}

/** A panel that queries Prometheus with PromQL. */
export interface PrometheusPanel extends PanelBase {
  readonly datasource: { readonly type: "prometheus"; readonly uid: string };
  readonly targets: readonly PanelTarget[];
}

/** A panel that queries CloudWatch metrics. */
export interface CloudWatchPanel extends PanelBase {
  readonly datasource: { readonly type: "cloudwatch"; readonly uid: string };
  readonly targets: readonly CloudWatchTarget[];
}

/** One panel, as Grafana's dashboard model writes it (the fields the platform uses). */
export type Panel = PrometheusPanel | CloudWatchPanel;

/** The name a query's series gets in the legend. */
export function legendOf(t: PanelTarget | CloudWatchTarget): string {
  return "expr" in t ? t.legendFormat : t.label;
}

/** A Grafana dashboard JSON model. */
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly timezone: "utc";
  readonly schemaVersion: number;
  readonly version: number;
  readonly editable: boolean;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly templating: { readonly list: readonly unknown[] };
  readonly annotations: { readonly list: readonly unknown[] };
  readonly panels: readonly Panel[];
}

/** What the dashboards look at. */
export interface DashboardTargets {
  /** Namespace of the tracking server, its Jobs and the proxy. */
  readonly workloadNamespace: string;
  readonly trackingNamespace: string;
  /** Prometheus job of the tracking server (its Service's name). */
  readonly trackingJob: string;
  readonly proxyNamespace: string;
  /** Prometheus job of the proxy's metrics endpoint (its Service's name). */
  readonly proxyJob: string;
  /** Namespace of Prometheus' PVCs and its PVC name prefix. */
  readonly prometheusNamespace: string;
  readonly prometheusPvcPrefix: string;
  /** Grafana data source uid of Prometheus (kube-prometheus-stack's is `prometheus`). */
  readonly datasourceUid: string;
}

const W = 24;

/** Lays panels out in rows of the given widths; each row has the given height. */
export class Layout {
  private y = 0;
  private id = 1;
  constructor(private readonly datasourceUid: string) {}

  row(h: number, panels: Omit<PrometheusPanel, "id" | "gridPos" | "datasource">[]): PrometheusPanel[] {
    const w = Math.floor(W / panels.length);
    const out = panels.map((p, i) => ({
      ...p,
      id: this.id++,
      gridPos: { x: i * w, y: this.y, w, h },
      datasource: { type: "prometheus" as const, uid: this.datasourceUid },
    }));
    this.y += h;
    return out;
  }
}

export const targets = (...list: [expr: string, legend: string][]): PanelTarget[] =>
  list.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat }));

export const stat = (
  title: string,
  description: string,
  unit: Unit,
  expr: string,
): Omit<PrometheusPanel, "id" | "gridPos" | "datasource"> => ({
  type: "stat",
  title,
  description,
  targets: targets([expr, title]),
  fieldConfig: { defaults: { unit }, overrides: [] },
  options: { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "value", graphMode: "area" },
});

export const series = (
  title: string,
  description: string,
  unit: Unit,
  ...list: [expr: string, legend: string][]
): Omit<PrometheusPanel, "id" | "gridPos" | "datasource"> => ({
  type: "timeseries",
  title,
  description,
  targets: targets(...list),
  fieldConfig: { defaults: { unit, min: 0 }, overrides: [] },
  options: { legend: { displayMode: "table", placement: "bottom", calcs: ["mean", "max", "lastNotNull"] }, tooltip: { mode: "multi" } },
});

/** A dashboard around its panels; `options` changes the refresh interval and the default time range. */
export function dashboard(
  uid: string,
  title: string,
  description: string,
  panels: Panel[],
  options: { refresh?: string; from?: string } = {},
): Dashboard {
  return {
    uid,
    title,
    description,
    tags: ["mlflow", "mlflow-platform"],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: options.refresh ?? "1m",
    time: { from: options.from ?? "now-6h", to: "now" },
    templating: { list: [] },
    annotations: { list: [] },
    panels,
  };
}

/** The MLflow tracking server's traffic: requests, errors and latency. */
function trackingDashboard(t: DashboardTargets): Dashboard {
  const sel = selector({ namespace: t.trackingNamespace, job: t.trackingJob });
  const sel5xx = selector({ namespace: t.trackingNamespace, job: t.trackingJob }, 'status=~"5.."');
  const sel4xx5xx = selector({ namespace: t.trackingNamespace, job: t.trackingJob }, 'status=~"4..|5.."');
  const rate = `sum(rate(mlflow_http_request_total${sel}[5m]))`;
  const q = (quantile: number, by = "le") =>
    `histogram_quantile(${quantile}, sum by (${by}) (rate(mlflow_http_request_duration_seconds_bucket${sel}[5m])))`;
  const l = new Layout(t.datasourceUid);
  return dashboard(
    "mlflow-tracking",
    "MLflow / Tracking server",
    "Requests, errors and latency of the MLflow tracking server, from its /metrics (prometheus-flask-exporter). MLflow's exporter labels requests by method, status and MLflow version, not by path.",
    [
      ...l.row(4, [
        stat("Requests per second", "All requests answered by the tracking server (health and version probes excluded).", "reqps", rate),
        stat(
          "5xx ratio",
          "Share of responses that were server errors over the last 5 minutes.",
          "percentunit",
          `sum(rate(mlflow_http_request_total${sel5xx}[5m])) / ${rate}`,
        ),
        stat("p95 latency", "95th percentile of request duration over the last 5 minutes.", "s", q(0.95)),
        stat("Replicas answering", "Tracking-server pods whose /metrics answered the last scrape.", "short", `sum(up${sel})`),
      ]),
      ...l.row(8, [
        series("Requests by status", "Request rate per HTTP status code.", "reqps", [
          `sum by (status) (rate(mlflow_http_request_total${sel}[5m]))`,
          "{{status}}",
        ]),
        series("Requests by method", "Request rate per HTTP method (GET reads, POST writes and searches).", "reqps", [
          `sum by (method) (rate(mlflow_http_request_total${sel}[5m]))`,
          "{{method}}",
        ]),
      ]),
      ...l.row(8, [
        series("Latency percentiles", "p50, p95 and p99 of request duration.", "s", [q(0.5), "p50"], [q(0.95), "p95"], [q(0.99), "p99"]),
        series(
          "p95 latency by method and status",
          "Which kind of request is slow (artifact uploads through the server are long POST/PUTs).",
          "s",
          [q(0.95, "le, method, status"), "{{method}} {{status}}"],
        ),
      ]),
      ...l.row(8, [
        series("Client and server errors", "4xx (client) and 5xx (server) responses per status.", "reqps", [
          `sum by (status) (rate(mlflow_http_request_total${sel4xx5xx}[5m]))`,
          "{{status}}",
        ]),
        series(
          "Trace ingestion (OTLP)",
          "OTLP trace export requests per second and their p95 duration.",
          "short",
          [`sum(rate(mlflow_otlp_request_duration_seconds_count${sel}[5m]))`, "requests/s"],
          [`histogram_quantile(0.95, sum by (le) (rate(mlflow_otlp_request_duration_seconds_bucket${sel}[5m])))`, "p95 seconds"],
        ),
      ]),
    ],
  );
}

/** OAuth2 Proxy: traffic and sign-in outcomes. */
function proxyDashboard(t: DashboardTargets): Dashboard {
  const sel = selector({ namespace: t.proxyNamespace, job: t.proxyJob });
  const code = (re: string) => selector({ namespace: t.proxyNamespace, job: t.proxyJob }, `code=~${promString(re)}`);
  const rate = `sum(rate(oauth2_proxy_requests_total${sel}[5m]))`;
  const q = (quantile: number) =>
    `histogram_quantile(${quantile}, sum by (le) (rate(oauth2_proxy_response_duration_seconds_bucket${sel}[5m])))`;
  const l = new Layout(t.datasourceUid);
  return dashboard(
    "mlflow-sign-in",
    "MLflow / Sign-in proxy",
    "Traffic through OAuth2 Proxy (every request to MLflow passes it) and the outcome of authentication.",
    [
      ...l.row(4, [
        stat("Requests per second", "All requests answered by the proxy.", "reqps", rate),
        stat(
          "Refused ratio",
          "Share of requests answered 401 or 403 (not signed in, token invalid, not allowed).",
          "percentunit",
          `sum(rate(oauth2_proxy_requests_total${code("401|403")}[5m])) / ${rate}`,
        ),
        stat("p95 latency", "95th percentile of the proxy's response time (includes MLflow's time).", "s", q(0.95)),
        stat("Replicas answering", "Proxy pods whose metrics port answered the last scrape.", "short", `sum(up${sel})`),
      ]),
      ...l.row(8, [
        series(
          "Authentication outcomes",
          "Allowed (2xx/3xx, sign-in redirects included), refused (401/403) and failed (5xx: MLflow unreachable or erroring).",
          "reqps",
          [`sum(rate(oauth2_proxy_requests_total${code("2..|3..")}[5m]))`, "allowed"],
          [`sum(rate(oauth2_proxy_requests_total${code("401|403")}[5m]))`, "refused"],
          [`sum(rate(oauth2_proxy_requests_total${code("5..")}[5m]))`, "failed"],
        ),
        series("Responses by code", "Request rate per HTTP status code.", "reqps", [
          `sum by (code) (rate(oauth2_proxy_requests_total${sel}[5m]))`,
          "{{code}}",
        ]),
      ]),
      ...l.row(8, [
        series(
          "Latency percentiles",
          "p50, p95 and p99 of the proxy's response time.",
          "s",
          [q(0.5), "p50"],
          [q(0.95), "p95"],
          [q(0.99), "p99"],
        ),
        series("Requests in flight", "Requests being served right now, summed over replicas.", "short", [
          `sum(oauth2_proxy_requests_in_flight${sel})`,
          "in flight",
        ]),
      ]),
    ],
  );
}

/** Pods of the platform: CPU, memory, restarts and the Jobs. */
function podsDashboard(t: DashboardTargets): Dashboard {
  const ns = { namespace: t.workloadNamespace };
  const containers = selector(ns, 'container!=""');
  const pvc = selector({ namespace: t.prometheusNamespace }, `persistentvolumeclaim=~${promString(`${t.prometheusPvcPrefix}.*`)}`);
  const l = new Layout(t.datasourceUid);
  return dashboard(
    "mlflow-pods",
    "MLflow / Pods and jobs",
    "CPU, memory and restarts of every pod in the MLflow namespace (tracking server, proxy, migration Job, GC CronJob), and Prometheus' own volume.",
    [
      ...l.row(8, [
        series("CPU by pod", "CPU cores used per pod.", "cores", [
          `sum by (pod) (rate(container_cpu_usage_seconds_total${containers}[5m]))`,
          "{{pod}}",
        ]),
        series("Memory by pod", "Working-set memory per pod (what the OOM killer compares with the limit).", "bytes", [
          `sum by (pod) (container_memory_working_set_bytes${containers})`,
          "{{pod}}",
        ]),
      ]),
      ...l.row(8, [
        series(
          "Memory use of the limit",
          "Working set divided by the memory limit, per pod: near 100% means an OOM kill is close.",
          "percentunit",
          [
            `sum by (pod) (container_memory_working_set_bytes${containers}) / sum by (pod) (kube_pod_container_resource_limits${selector(ns, 'resource="memory"')})`,
            "{{pod}}",
          ],
        ),
        series("Container restarts (1h)", "Restarts per container over the last hour.", "short", [
          `sum by (pod, container) (increase(kube_pod_container_status_restarts_total${selector(ns)}[1h]))`,
          "{{pod}}/{{container}}",
        ]),
      ]),
      ...l.row(8, [
        series(
          "Waiting containers by reason",
          "Containers that are not running, by reason (CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError...).",
          "short",
          [`sum by (reason) (kube_pod_container_status_waiting_reason${selector(ns)})`, "{{reason}}"],
        ),
        series("Pods not ready", "Pods whose Ready condition is false.", "short", [
          `sum by (pod) (kube_pod_status_ready${selector(ns, 'condition="false"')})`,
          "{{pod}}",
        ]),
      ]),
      ...l.row(8, [
        series(
          "Jobs",
          "Succeeded and failed Jobs (database migration and garbage collection).",
          "short",
          [`sum by (job_name) (kube_job_status_succeeded${selector(ns)})`, "{{job_name}} succeeded"],
          [`sum by (job_name) (kube_job_failed${selector(ns)})`, "{{job_name}} failed"],
        ),
        series("Since last successful GC", "Time since each CronJob last succeeded.", "s", [
          `time() - max by (cronjob) (kube_cronjob_status_last_successful_time${selector(ns)})`,
          "{{cronjob}}",
        ]),
        series("Prometheus volume used", "Used share of Prometheus' volume (alert PrometheusVolumeFillingUp).", "percentunit", [
          `kubelet_volume_stats_used_bytes${pvc} / kubelet_volume_stats_capacity_bytes${pvc}`,
          "{{persistentvolumeclaim}}",
        ]),
      ]),
    ],
  );
}

/** The platform's dashboards. */
export function buildDashboards(t: DashboardTargets): Dashboard[] {
  return [trackingDashboard(t), proxyDashboard(t), podsDashboard(t)];
}

/** Every PromQL expression of a dashboard, with where it comes from (CloudWatch panels have none). */
export function dashboardExpressions(d: Dashboard): { panel: string; refId: string; expr: string }[] {
  return d.panels.filter(isPrometheusPanel).flatMap((p) => p.targets.map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })));
}

/** True for a panel that queries Prometheus. */
export function isPrometheusPanel(p: Panel): p is PrometheusPanel {
  return p.datasource.type === "prometheus";
}
