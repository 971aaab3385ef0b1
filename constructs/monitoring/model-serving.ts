/**
 * Rules and the "Model serving" dashboard of the model servers: traffic, errors,
 * latency by version, 429s, inputs drifting from the training reference (population stability index per
 * feature, as recording rules over the servers' own series) and the inference log's dropped records.
 *
 * The PSI of a feature over the last hour, from two series the server exports
 * (runtime/src/mlflow_platform/serving/observability.py):
 *
 *   w_b = increase(model_server_feature_values_total{bin=b}[1h]) / increase(all bins)[1h]
 *   r_b = model_server_feature_reference_fraction{bin=b}
 *   PSI = sum_b (max(w_b, 1e-4) - max(r_b, 1e-4)) * ln(max(w_b, 1e-4) / max(r_b, 1e-4))
 *
 * The same formula and floor as the drift job (runtime/src/mlflow_platform/drift/stats.py).
 */
import type { IConstruct } from "constructs";
import { PropError } from "../core/prop-error";
import { Layout, dashboard, series, stat, type Dashboard } from "./dashboards";
import { promString, selector, type AlertRule, type Severity } from "./rules";

/** One recording rule. */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

/** A rule group with recording and alerting rules. */
export interface ModelServingRuleGroup {
  readonly name: string;
  readonly rules: readonly (RecordingRule | AlertRule)[];
}

/** The alerts, in the order of their runbook sections in docs/monitoring.md. */
export const MODEL_SERVING_ALERT_NAMES = [
  "ModelServerHighErrorRatio",
  "ModelServerHighLatencyP99",
  "ModelServerNoTraffic",
  "ModelInputDrift",
  "ModelInferenceLogDropping",
] as const;
export type ModelServingAlertName = (typeof MODEL_SERVING_ALERT_NAMES)[number];

/** Fewer rows of a feature in the PSI window: no drift alert (a handful of rows is no distribution). */
export const DRIFT_MIN_ROWS = 100;
/** The floor of a fraction in the PSI (an empty bin would make it infinite); the drift job uses the same. */
export const PSI_EPSILON = 0.0001;

/** What the model-serving rules watch. */
export interface ModelServingTargets {
  /** Namespace of the model servers (`serving.namespace`). */
  readonly namespace: string;
  /** The served models with their PSI thresholds (`serving.models.<m>.drift.psiThreshold`). */
  readonly models: readonly { readonly name: string; readonly psiThreshold: number }[];
  /** Share of 5xx answers that alerts (0-1). */
  readonly errorRatio: number;
  /** p99 latency that alerts, seconds. */
  readonly latencyP99Seconds: number;
  /** Below this request rate per second, ratio and latency alerts stay quiet. */
  readonly minRequestsPerSecond: number;
  /** Where the runbook lives; each alert links `<base>#<alert name in lower case>`. */
  readonly runbookBaseUrl: string;
  /** Grafana data source uid of Prometheus. @default "prometheus" */
  readonly datasourceUid?: string;
}

const n = (x: number) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(12))));

/** The recording rules and alerts. Throws when a threshold is out of range, naming it. */
export function buildModelServingRuleGroups(t: ModelServingTargets, scope: IConstruct | string = "Monitoring"): ModelServingRuleGroup[] {
  for (const m of t.models) {
    if (!(typeof m.psiThreshold === "number" && Number.isFinite(m.psiThreshold) && m.psiThreshold > 0)) {
      throw new PropError(scope, `modelServing.models[${m.name}].psiThreshold`, m.psiThreshold, "a number above 0, such as 0.2");
    }
  }
  const ns = { namespace: t.namespace };
  const sel = (extra = "") => selector(ns, extra);
  const rule = (
    alert: ModelServingAlertName,
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
  const by = "namespace, model, version, feature";
  const e = n(PSI_EPSILON);
  const w = `clamp_min(model_server:feature_window_fraction:1h${sel()}, ${e})`;
  const r = `clamp_min(model_server:feature_reference_fraction${sel()}, ${e})`;
  const requests = (extra = "") =>
    `sum by (namespace, model, version) (rate(model_server_requests_total${sel(`route=~"/predict|/invocations"${extra ? `,${extra}` : ""}`)}[5m]))`;
  const busy = `${requests()} > ${n(t.minRequestsPerSecond)}`;
  const drift =
    t.models.length === 0
      ? `model_server:feature_psi:1h${sel()} > 0.2`
      : t.models.map((m) => `model_server:feature_psi:1h${selector({ ...ns, model: m.name })} > ${n(m.psiThreshold)}`).join(" or ");
  return [
    {
      name: "model-serving-drift-recording",
      rules: [
        {
          record: "model_server:feature_window_fraction:1h",
          expr: `sum by (${by}, bin) (increase(model_server_feature_values_total${sel()}[1h])) / ignoring (bin) group_left sum by (${by}) (increase(model_server_feature_values_total${sel()}[1h]))`,
        },
        { record: "model_server:feature_rows:1h", expr: `sum by (${by}) (increase(model_server_feature_values_total${sel()}[1h]))` },
        {
          record: "model_server:feature_reference_fraction",
          expr: `max by (${by}, bin) (model_server_feature_reference_fraction${sel()})`,
        },
        { record: "model_server:feature_psi:1h", expr: `sum by (${by}) ((${w} - ${r}) * ln(${w} / ${r}))` },
      ],
    },
    {
      name: "model-serving",
      rules: [
        rule(
          "ModelServerHighErrorRatio",
          "critical",
          "10m",
          `(${requests('status=~"5.."')} / ${requests()}) > ${n(t.errorRatio)} and ${busy}`,
          "A model server answers many predictions with 5xx",
          `More than ${n(t.errorRatio * 100)}% of the prediction requests to {{ $labels.model }} version {{ $labels.version }} have failed with 5xx for 10 minutes.`,
        ),
        rule(
          "ModelServerHighLatencyP99",
          "warning",
          "10m",
          `histogram_quantile(0.99, sum by (namespace, model, version, le) (rate(model_server_request_duration_seconds_bucket${sel('route=~"/predict|/invocations"')}[5m]))) > ${n(t.latencyP99Seconds)} and ${busy}`,
          "Predictions are slow (p99)",
          `The 99th percentile latency of {{ $labels.model }} version {{ $labels.version }} has been above ${n(t.latencyP99Seconds)} s for 10 minutes.`,
        ),
        rule(
          "ModelServerNoTraffic",
          "warning",
          "30m",
          `sum by (namespace, model) (rate(model_server_requests_total${sel('route=~"/predict|/invocations"')}[15m])) == 0 and on (namespace, model) sum by (namespace, model) (model_server_ready${sel()}) > 0`,
          "A served model receives no predictions",
          "{{ $labels.model }} has ready replicas but has answered no prediction request for 30 minutes: the gateway path, its NetworkPolicy or the callers are broken (or the model is no longer used).",
        ),
        rule(
          "ModelInputDrift",
          "warning",
          "15m",
          `(${drift}) and on (${by}) model_server:feature_rows:1h${sel()} >= ${DRIFT_MIN_ROWS}`,
          "A model's inputs drift away from its training data",
          'The population stability index of feature {{ $labels.feature }} of {{ $labels.model }} version {{ $labels.version }} over the last hour is {{ $value | printf "%.2f" }}, above the configured threshold, for 15 minutes.',
        ),
        rule(
          "ModelInferenceLogDropping",
          "warning",
          "5m",
          `sum by (namespace, model, version) (increase(model_server_inference_log_requests_total${sel('outcome=~"dropped_.*"')}[10m])) > 0`,
          "Inference log records are being dropped",
          "{{ $labels.model }} version {{ $labels.version }} dropped inference log records in the last 10 minutes (the bucket is slow, unreachable or refuses writes): predictions are unaffected, the log and the drift job miss them.",
        ),
      ],
    },
  ];
}

/** Every alert of the groups. */
export function modelServingAlerts(groups: readonly ModelServingRuleGroup[]): AlertRule[] {
  return groups.flatMap((g) => g.rules.filter((x): x is AlertRule => "alert" in x));
}

/** The "Model serving" dashboard. */
export function buildModelServingDashboard(t: ModelServingTargets): Dashboard {
  const sel = (extra = "") => selector({ namespace: t.namespace }, extra);
  const routes = 'route=~"/predict|/invocations"';
  const rate = (extra = "") =>
    `sum by (model, version) (rate(model_server_requests_total${sel(extra ? `${routes},${extra}` : routes)}[5m]))`;
  const q = (quantile: number) =>
    `histogram_quantile(${quantile}, sum by (model, version, le) (rate(model_server_request_duration_seconds_bucket${sel(routes)}[5m])))`;
  const l = new Layout(t.datasourceUid ?? "prometheus");
  return dashboard(
    "mlflow-model-serving",
    "MLflow / Model serving",
    "The model servers (mlflow-platform serve): throughput, error ratio, latency by version, 429s, predictions by class, input drift per feature against the training reference (PSI over the last hour) and the inference log.",
    [
      ...l.row(4, [
        stat(
          "Predictions per second",
          "Prediction requests answered, all models.",
          "reqps",
          `sum(rate(model_server_requests_total${sel(routes)}[5m]))`,
        ),
        stat(
          "5xx ratio",
          "Share of prediction requests answered with a server error.",
          "percentunit",
          `sum(rate(model_server_requests_total${sel(`${routes},status=~"5.."`)}[5m])) / sum(rate(model_server_requests_total${sel(routes)}[5m]))`,
        ),
        stat(
          "Max feature PSI",
          "Highest population stability index of any feature over the last hour (0.1: watch, 0.2: drift).",
          "none",
          `max(model_server:feature_psi:1h${sel()})`,
        ),
        stat(
          "Log records dropped (1h)",
          "Requests whose inference log records were dropped in the last hour.",
          "short",
          `sum(increase(model_server_inference_log_requests_total${sel('outcome=~"dropped_.*"')}[1h]))`,
        ),
      ]),
      ...l.row(8, [
        series("Throughput by version", "Prediction requests per second by model and version.", "reqps", [
          rate(),
          "{{model}} v{{version}}",
        ]),
        series("Error ratio by version", "Share of 5xx answers by model and version.", "percentunit", [
          `${rate('status=~"5.."')} / ${rate()}`,
          "{{model}} v{{version}}",
        ]),
      ]),
      ...l.row(8, [
        series(
          "Latency by version",
          "p50, p95 and p99 of prediction latency by model and version.",
          "s",
          [q(0.5), "p50 {{model}} v{{version}}"],
          [q(0.95), "p95 {{model}} v{{version}}"],
          [q(0.99), "p99 {{model}} v{{version}}"],
        ),
        series("429s", "Requests refused by the per-caller limit or the pod's concurrency limit.", "reqps", [
          rate('status="429"'),
          "{{model}} v{{version}}",
        ]),
      ]),
      ...l.row(8, [
        series(
          "Drift per feature (PSI, 1h)",
          "Population stability index of each input feature against the training reference, over the last hour.",
          "none",
          [`model_server:feature_psi:1h${sel()}`, "{{model}} v{{version}} {{feature}}"],
        ),
        series("Predictions by class", "Predicted rows per second by class (or value range).", "short", [
          `sum by (model, version, class) (rate(model_server_predictions_total${sel()}[5m]))`,
          "{{model}} v{{version}} {{class}}",
        ]),
      ]),
      ...l.row(8, [
        series(
          "Inference log",
          "Requests by what happened to their log records: written, not sampled, dropped (queue full, sink error).",
          "short",
          [`sum by (model, outcome) (rate(model_server_inference_log_requests_total${sel()}[5m]))`, "{{model}} {{outcome}}"],
        ),
      ]),
    ],
  );
}

/** Every rule expression with a name, for promtool to parse. */
export function modelServingExpressions(groups: readonly ModelServingRuleGroup[]): { name: string; expr: string }[] {
  return groups.flatMap((g) => g.rules.map((x) => ({ name: "alert" in x ? x.alert : x.record, expr: x.expr })));
}

export { promString };
