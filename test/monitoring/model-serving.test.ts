/**
 * The model servers' rules checked by promtool: the PSI recording rules and the drift alert on
 * series taken from the real server's /metrics after a batch like the training data and a shifted batch
 * (test/monitoring/fixtures/model-serving-series.json, written by scripts/model-serving-series.py), and
 * every other alert on synthetic series that fire and that stay quiet.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { onPath } from "../helpers/tools";
import {
  MODEL_SERVING_ALERT_NAMES,
  PSI_EPSILON,
  buildModelServingDashboard,
  buildModelServingRuleGroups,
  modelServingAlerts,
  modelServingExpressions,
  type ModelServingTargets,
} from "../../constructs/monitoring/model-serving";
import { dashboardExpressions } from "../../constructs/monitoring/dashboards";
import type { AlertRule } from "../../constructs/monitoring/rules";

const promtool = onPath("promtool");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-serving-rules-"));
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "model-serving-series.json"), "utf8")) as {
  model: string;
  version: string;
  scrapes: { normal: Record<string, number>; shifted: Record<string, number> };
};

function run(args: string[]): string {
  try {
    return execFileSync(promtool, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number };
    throw new Error(`promtool ${args.join(" ")} exited ${err.status}:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}
const write = (name: string, doc: unknown) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, JSON.stringify(doc, null, 2));
  return f;
};

const NS = "models";
const targets: ModelServingTargets = {
  namespace: NS,
  models: [{ name: fixture.model, psiThreshold: 0.2 }],
  errorRatio: 0.05,
  latencyP99Seconds: 5,
  minRequestsPerSecond: 0.05,
  runbookBaseUrl: "docs/monitoring.md",
};
const groups = buildModelServingRuleGroups(targets);
const alerts = modelServingAlerts(groups);
const rulesFile = write("rules.yaml", { groups });
const alert = (name: string): AlertRule => alerts.find((a) => a.alert === name)!;
const rendered = (r: AlertRule, labels: Record<string, string>, value = "") =>
  Object.fromEntries(
    Object.entries(r.annotations).map(([k, v]) => [
      k,
      v.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, l: string) => labels[l] ?? "").replace(/\{\{ \$value \| printf "%\.2f" \}\}/g, value),
    ]),
  );

/** The fixture's series with the server's target labels added (namespace, pod), as Prometheus stores them. */
function fixtureSeries(): { series: string; values: string }[] {
  const keys = Object.keys(fixture.scrapes.shifted);
  return keys.map((k) => {
    const withTarget = k.replace("{", `{namespace="${NS}",pod="iris-0",`);
    const n = fixture.scrapes.normal[k] ?? 0;
    const s = fixture.scrapes.shifted[k];
    // 1-minute samples: 0 for an hour, the counters after the normal batch for an hour, then after the shifted one.
    return { series: withTarget, values: k.startsWith("model_server_feature_reference_fraction") ? `${s}x179` : `0x59 ${n}x59 ${s}x59` };
  });
}

/** The PSI of a feature computed here from the fixture (the same formula), to check promtool's and print %.2f. */
function psiOf(feature: string, from: "zero" | "normal", to: "normal" | "shifted"): number {
  const counts: Record<string, number> = {};
  const refs: Record<string, number> = {};
  for (const [k, v] of Object.entries(fixture.scrapes.shifted)) {
    const f = /feature="([^"]+)"/.exec(k)![1];
    const bin = /bin="([^"]+)"/.exec(k)![1];
    if (f !== feature) continue;
    if (k.startsWith("model_server_feature_reference_fraction")) {
      refs[bin] = v;
      continue;
    }
    const end = to === "shifted" ? v : fixture.scrapes.normal[k];
    counts[bin] = end - (from === "normal" ? fixture.scrapes.normal[k] : 0);
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  let psi = 0;
  for (const bin of Object.keys(refs)) {
    const w = Math.max(counts[bin] / total, PSI_EPSILON);
    const r = Math.max(refs[bin], PSI_EPSILON);
    psi += (w - r) * Math.log(w / r);
  }
  return psi;
}

describe("model-serving rules (promtool)", () => {
  it("passes promtool check rules, every alert with a runbook link", () => {
    const count = groups.reduce((n, g) => n + g.rules.length, 0);
    expect(run(["check", "rules", rulesFile])).toMatch(new RegExp(`SUCCESS: ${count} rules found`));
    expect(alerts.map((a) => a.alert)).toEqual([...MODEL_SERVING_ALERT_NAMES]);
    for (const a of alerts) expect(a.annotations.runbook_url).toBe(`docs/monitoring.md#${a.alert.toLowerCase()}`);
  });

  it("the fixture holds the real server's series of the four iris features in every bin", () => {
    const features = new Set(Object.keys(fixture.scrapes.shifted).map((k) => /feature="([^"]+)"/.exec(k)![1]));
    expect([...features].sort()).toEqual(["petal_length", "petal_width", "sepal_length", "sepal_width"]);
    const rows = Object.entries(fixture.scrapes.normal)
      .filter(([k]) => k.startsWith("model_server_feature_values_total") && k.includes('feature="petal_length"'))
      .reduce((a, [, v]) => a + v, 0);
    expect(rows).toBe(150);
    // Sanity of the data itself (not of the rules): the normal batch is close to the reference, the shifted petal length far.
    for (const f of features) expect(psiOf(f, "zero", "normal")).toBeLessThan(0.2);
    expect(psiOf("petal_length", "normal", "shifted")).toBeGreaterThan(1);
    for (const f of ["sepal_length", "sepal_width", "petal_width"]) expect(psiOf(f, "normal", "shifted")).toBeLessThan(0.2);
  });

  it("PSI recording rules: no feature over 0.2 after the normal batch; only petal length after the shifted one", () => {
    const series = fixtureSeries();
    const doc = {
      rule_files: [rulesFile],
      evaluation_interval: "1m",
      tests: [
        {
          name: "psi from the real server's series",
          interval: "1m",
          input_series: series,
          promql_expr_test: [
            { expr: `count(model_server:feature_psi:1h{namespace="${NS}"})`, eval_time: "100m", exp_samples: [{ labels: "{}", value: 4 }] },
            { expr: `count(model_server:feature_psi:1h{namespace="${NS}"} > 0.2)`, eval_time: "100m", exp_samples: [] },
            {
              expr: `count(model_server:feature_psi:1h{namespace="${NS}"} > 0.2)`,
              eval_time: "170m",
              exp_samples: [{ labels: "{}", value: 1 }],
            },
            {
              expr: `count(model_server:feature_psi:1h{namespace="${NS}",feature="petal_length"} > 1)`,
              eval_time: "170m",
              exp_samples: [{ labels: "{}", value: 1 }],
            },
          ],
          alert_rule_test: [
            { eval_time: "100m", alertname: "ModelInputDrift", exp_alerts: [] },
            {
              eval_time: "170m",
              alertname: "ModelInputDrift",
              exp_alerts: [
                (() => {
                  const r = alert("ModelInputDrift");
                  const labels = { ...r.labels, model: fixture.model, version: fixture.version, feature: "petal_length" };
                  return {
                    exp_labels: labels,
                    exp_annotations: rendered(r, labels, psiOf("petal_length", "normal", "shifted").toFixed(2)),
                  };
                })(),
              ],
            },
          ],
        },
      ],
    };
    expect(run(["test", "rules", write("drift.yaml", doc)])).toMatch(/SUCCESS/);
  });

  it("fails promtool when drift is expected after the normal batch (the harness can fail)", () => {
    const r = alert("ModelInputDrift");
    const labels = { ...r.labels, model: fixture.model, version: fixture.version, feature: "petal_length" };
    const doc = {
      rule_files: [rulesFile],
      evaluation_interval: "1m",
      tests: [
        {
          name: "wrong",
          interval: "1m",
          input_series: fixtureSeries(),
          alert_rule_test: [
            {
              eval_time: "100m",
              alertname: "ModelInputDrift",
              exp_alerts: [{ exp_labels: labels, exp_annotations: rendered(r, labels, "1.00") }],
            },
          ],
        },
      ],
    };
    expect(() => run(["test", "rules", write("drift-wrong.yaml", doc)])).toThrow(/FAILED|expected/i);
  });

  const sel = `namespace="${NS}",model="iris",version="3"`;
  const ok = { series: `model_server_requests_total{${sel},route="/predict",status="200"}`, values: "0+60x60" };
  const cases: {
    name: string;
    alert: string;
    series: { series: string; values: string }[];
    evalTime: string;
    fires?: Record<string, string>;
  }[] = [
    {
      name: "10% 5xx",
      alert: "ModelServerHighErrorRatio",
      evalTime: "30m",
      series: [ok, { series: `model_server_requests_total{${sel},route="/predict",status="500"}`, values: "0+6x60" }],
      fires: { model: "iris", version: "3" },
    },
    {
      name: "1% 5xx",
      alert: "ModelServerHighErrorRatio",
      evalTime: "30m",
      series: [ok, { series: `model_server_requests_total{${sel},route="/predict",status="500"}`, values: "0+0.6x60" }],
    },
    {
      name: "p99 above 5 s",
      alert: "ModelServerHighLatencyP99",
      evalTime: "30m",
      fires: { model: "iris", version: "3" },
      series: [
        ok,
        ...[
          ["1.0", "0x60"],
          ["10.0", "0+60x60"],
          ["+Inf", "0+60x60"],
        ].map(([le, v]) => ({ series: `model_server_request_duration_seconds_bucket{${sel},route="/predict",le="${le}"}`, values: v })),
      ],
    },
    {
      name: "p99 under 1 s",
      alert: "ModelServerHighLatencyP99",
      evalTime: "30m",
      series: [
        ok,
        ...[
          ["1.0", "0+60x60"],
          ["10.0", "0+60x60"],
          ["+Inf", "0+60x60"],
        ].map(([le, v]) => ({ series: `model_server_request_duration_seconds_bucket{${sel},route="/predict",le="${le}"}`, values: v })),
      ],
    },
    {
      name: "ready, no predictions for 45 minutes",
      alert: "ModelServerNoTraffic",
      evalTime: "60m",
      fires: { model: "iris" },
      series: [
        { series: `model_server_requests_total{${sel},route="/predict",status="200"}`, values: "5x70" },
        { series: `model_server_ready{${sel},pod="a"}`, values: "1x70" },
      ],
    },
    {
      name: "ready and predicting",
      alert: "ModelServerNoTraffic",
      evalTime: "60m",
      series: [ok, { series: `model_server_ready{${sel},pod="a"}`, values: "1x70" }],
    },
    {
      name: "log records dropped (sink down)",
      alert: "ModelInferenceLogDropping",
      evalTime: "20m",
      fires: { model: "iris", version: "3" },
      series: [{ series: `model_server_inference_log_requests_total{${sel},outcome="dropped_sink_error"}`, values: "0+5x30" }],
    },
    {
      name: "log records written",
      alert: "ModelInferenceLogDropping",
      evalTime: "20m",
      series: [
        { series: `model_server_inference_log_requests_total{${sel},outcome="written"}`, values: "0+5x30" },
        { series: `model_server_inference_log_requests_total{${sel},outcome="dropped_sink_error"}`, values: "0x30" },
      ],
    },
  ];

  it("has a firing and a quiet test for every alert", () => {
    for (const name of MODEL_SERVING_ALERT_NAMES.filter((n) => n !== "ModelInputDrift")) {
      expect(cases.some((c) => c.alert === name && c.fires)).toBe(true);
      expect(cases.some((c) => c.alert === name && !c.fires)).toBe(true);
    }
  });

  it.each(cases.map((c) => [`${c.alert}: ${c.name}`, c] as const))("promtool test rules: %s", (_n, c) => {
    const r = alert(c.alert);
    const exp = c.fires ? [{ exp_labels: { ...r.labels, ...c.fires }, exp_annotations: rendered(r, { ...r.labels, ...c.fires }) }] : [];
    const doc = {
      rule_files: [rulesFile],
      evaluation_interval: "1m",
      tests: [
        {
          name: c.name,
          interval: "1m",
          input_series: c.series,
          alert_rule_test: [{ eval_time: c.evalTime, alertname: c.alert, exp_alerts: exp }],
        },
      ],
    };
    expect(run(["test", "rules", write(`case-${cases.indexOf(c)}.yaml`, doc)])).toMatch(/SUCCESS/);
  });

  it("refuses a PSI threshold that is not a number, naming it", () => {
    expect(() => buildModelServingRuleGroups({ ...targets, models: [{ name: "m", psiThreshold: Number("high") }] })).toThrow(
      /psiThreshold is NaN: expected a number above 0/,
    );
  });

  it("every dashboard and rule expression parses (promtool)", () => {
    const exprs = [
      ...dashboardExpressions(buildModelServingDashboard(targets)).map((e) => ({ name: `${e.panel} ${e.refId}`, expr: e.expr })),
      ...modelServingExpressions(groups),
    ];
    const file = write("exprs.yaml", {
      groups: [{ name: "parse", rules: exprs.map((e, i) => ({ record: `parse:expr_${i}`, expr: e.expr })) }],
    });
    expect(run(["check", "rules", file])).toMatch(/SUCCESS/);
    const d = buildModelServingDashboard(targets);
    expect(d.title).toBe("MLflow / Model serving");
    for (const t of [
      "Throughput by version",
      "Error ratio by version",
      "Latency by version",
      "429s",
      "Drift per feature (PSI, 1h)",
      "Log records dropped (1h)",
    ]) {
      expect(d.panels.map((p) => p.title)).toContain(t);
    }
  });
});

describe("docs: the model-serving runbook and dashboard", () => {
  const root = path.join(__dirname, "..", "..");
  const monitoringDoc = fs.readFileSync(path.join(root, "docs", "monitoring.md"), "utf8");
  const doc = fs.readFileSync(path.join(root, "docs", "inference-observability.md"), "utf8");
  it.each([...MODEL_SERVING_ALERT_NAMES])("docs/monitoring.md has a runbook section and a table row for %s", (name) => {
    expect(monitoringDoc).toContain(`\n### ${name}\n`);
    expect(monitoringDoc).toMatch(new RegExp(`\\n\\| ${name} \\| (critical|warning) \\|`));
  });
  it("docs/inference-observability.md shows the dashboard's panel table and current picture", () => {
    const { dashboardLayoutSvg, dashboardPanelTable } =
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require("../../constructs/monitoring/layout") as typeof import("../../constructs/monitoring/layout");
    const d = buildModelServingDashboard({ ...targets, models: [{ name: "iris-classifier", psiThreshold: 0.2 }] });
    expect(doc).toContain(dashboardPanelTable(d));
    expect(fs.readFileSync(path.join(root, "docs", "monitoring", "mlflow-model-serving.svg"), "utf8")).toBe(dashboardLayoutSvg(d));
  });
});
