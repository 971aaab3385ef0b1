/**
 * The release analysis queries of a model endpoint, run by promtool on synthetic series of the model
 * server's own metrics: a healthy version passes both conditions, a failing one fails the right one.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { analysisMetrics } from "../../../constructs/model-endpoint/analysis";
import { onPath } from "../../helpers/tools";

const promtool = onPath("promtool");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-analysis-"));

function promtoolTest(doc: unknown): string {
  const file = path.join(dir, `t${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  try {
    return execFileSync(promtool, ["test", "rules", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`promtool test rules failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

const labels = (version: string, status: string, route = "/predict") =>
  `{model="iris-classifier",version="${version}",route="${route}",status="${status}"}`;
const bucket = (version: string, le: string) =>
  `model_server_request_duration_seconds_bucket{model="iris-classifier",version="${version}",route="/predict",le="${le}"}`;
// Per minute: version 2 answers 600 requests, none 5xx, all within 10 ms; version 3 answers 600 of which
// 60 are 5xx (10 %), and 3 % take more than 0.5 s (p99 above 0.25 s).
const series = [
  { series: `model_server_requests_total${labels("2", "200")}`, values: "0+600x10" },
  { series: `model_server_requests_total${labels("2", "422")}`, values: "0+6x10" },
  { series: `model_server_requests_total${labels("3", "200")}`, values: "0+540x10" },
  { series: `model_server_requests_total${labels("3", "500")}`, values: "0+60x10" },
  ...[
    ["0.01", 606],
    ["0.25", 606],
    ["0.5", 606],
    ["+Inf", 606],
  ].map(([le, n]) => ({ series: bucket("2", le as string), values: `0+${n}x10` })),
  ...[
    ["0.01", 500],
    ["0.25", 582],
    ["0.5", 582],
    ["+Inf", 600],
  ].map(([le, n]) => ({ series: bucket("3", le as string), values: `0+${n}x10` })),
];

/** `query` compared with its threshold: one sample (value 1) when it passes, none when it fails. */
const passes = (query: string, max: number) => `(${query}) <= bool ${max}`;

describe("release analysis queries (promtool, synthetic series)", () => {
  const [good, goodP99] = analysisMetrics("iris-classifier", "2");
  const [bad, badP99] = analysisMetrics("iris-classifier", "3");

  it("a healthy version passes: no 5xx (422s are the callers' errors), p99 within 10 ms", () => {
    promtoolTest({
      rule_files: [],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: series,
          promql_expr_test: [
            { expr: good.query, eval_time: "5m", exp_samples: [{ labels: "{}", value: 0 }] },
            { expr: passes(good.query, good.max), eval_time: "5m", exp_samples: [{ labels: "{}", value: 1 }] },
            { expr: passes(goodP99.query, goodP99.max), eval_time: "5m", exp_samples: [{ labels: "{}", value: 1 }] },
          ],
        },
      ],
    });
  });

  it("a failing version fails both: 10 % 5xx and p99 above 0.25 s", () => {
    promtoolTest({
      rule_files: [],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: series,
          promql_expr_test: [
            { expr: bad.query, eval_time: "5m", exp_samples: [{ labels: "{}", value: 0.1 }] },
            { expr: passes(bad.query, bad.max), eval_time: "5m", exp_samples: [{ labels: "{}", value: 0 }] },
            { expr: passes(badP99.query, badP99.max), eval_time: "5m", exp_samples: [{ labels: "{}", value: 0 }] },
          ],
        },
      ],
    });
  });

  it("the test can fail: claiming the failing version passes is rejected by promtool", () => {
    expect(() =>
      promtoolTest({
        rule_files: [],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: series,
            promql_expr_test: [{ expr: passes(bad.query, bad.max), eval_time: "5m", exp_samples: [{ labels: "{}", value: 1 }] }],
          },
        ],
      }),
    ).toThrow(/promtool test rules failed/);
  });
});
