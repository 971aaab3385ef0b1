/**
 * The release analysis of a model endpoint, from the model server's own metrics: the error
 * ratio and the p99 latency of one model version. These are the queries an Argo Rollouts
 * AnalysisTemplate runs against Prometheus during a blue-green or canary release (./delivery.ts, with the
 * version as the template's `{{args.version}}`); they are tested with promtool on synthetic series that pass and that fail
 * (test/constructs/model-endpoint/analysis.test.ts).
 */

/** Thresholds a new version must meet. */
export interface AnalysisThresholds {
  /** Highest share of 5xx answers. @default 0.01 */
  readonly maxErrorRatio?: number;
  /** Highest p99 latency in seconds. @default 0.25 */
  readonly maxP99Seconds?: number;
  /** Rate window. @default "2m" */
  readonly window?: string;
}

/** Label matchers of one model version (values are escaped for PromQL). */
function matchers(model: string, version: string): string {
  const q = (v: string) => JSON.stringify(v);
  return `model=${q(model)},version=${q(version)}`;
}

/** The share of 5xx answers of `model` at `version` (0 when there is no traffic). */
export function errorRatioQuery(model: string, version: string, window = "2m"): string {
  const m = matchers(model, version);
  return `(sum(rate(model_server_requests_total{${m},status=~"5.."}[${window}])) or vector(0)) / clamp_min(sum(rate(model_server_requests_total{${m}}[${window}])), 1e-9)`;
}

/** The p99 latency in seconds of `model` at `version`, both prediction routes together. */
export function p99Query(model: string, version: string, window = "2m"): string {
  return `histogram_quantile(0.99, sum by (le) (rate(model_server_request_duration_seconds_bucket{${matchers(model, version)}}[${window}])))`;
}

/** The two analysis metrics with their success conditions, as an AnalysisTemplate lists them. */
export function analysisMetrics(model: string, version: string, t: AnalysisThresholds = {}) {
  const window = t.window ?? "2m";
  return [
    {
      name: "error-ratio",
      query: errorRatioQuery(model, version, window),
      successCondition: `result[0] <= ${t.maxErrorRatio ?? 0.01}`,
      max: t.maxErrorRatio ?? 0.01,
    },
    {
      name: "p99-latency",
      query: p99Query(model, version, window),
      successCondition: `result[0] <= ${t.maxP99Seconds ?? 0.25}`,
      max: t.maxP99Seconds ?? 0.25,
    },
  ];
}
