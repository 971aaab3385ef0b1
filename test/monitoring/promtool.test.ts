/**
 * Real tools check what the Monitoring construct deploys: the rules file rendered from the construct's
 * own rule objects goes through `promtool check rules` and `promtool test rules` (every alert fires on a
 * synthetic failure and stays quiet on healthy series), every dashboard expression is parsed by promtool,
 * and the Alertmanager configuration goes through `amtool check-config`.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { onPath } from "../helpers/tools";
import { synthMonitoring } from "./fixtures";
import {
  ALERT_NAMES,
  REGISTRY_EVENTS_ALERT_NAMES,
  ROLLOUTS_CONTROLLER_ALERT_NAMES,
  allRules,
  type AlertRule,
} from "../../constructs/monitoring/rules";
import { argoRolloutsMetricsService } from "../../constructs/argo-rollouts";
import { dashboardExpressions } from "../../constructs/monitoring/dashboards";

const promtool = onPath("promtool");
const amtool = onPath("amtool");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-monitoring-"));

/** Runs a tool; returns its output, or throws with the output when it fails. */
function run(tool: string, args: string[]): string {
  try {
    return execFileSync(tool, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number };
    throw new Error(`${path.basename(tool)} ${args.join(" ")} exited ${err.status}:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

/** Writes a JSON document (valid YAML) and returns its path. */
function write(name: string, doc: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

// The thresholds of these tests are the defaults; a second construct below uses configured ones.
const { monitoring } = synthMonitoring();
const rules = allRules(monitoring.ruleGroups);
const rule = (name: string): AlertRule => {
  const r = rules.find((x) => x.alert === name);
  if (!r) throw new Error(`no rule ${name}`);
  return r;
};
const rulesFile = write("rules.yaml", { groups: monitoring.ruleGroups });

/** The annotations Prometheus renders for `rule` on a series with `labels` (the rules use only $labels). */
function rendered(r: AlertRule, labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.annotations)) {
    out[k] = v.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, l: string) => labels[l] ?? "");
  }
  return out;
}

interface Case {
  name: string;
  alert: string;
  series: { series: string; values: string }[];
  evalTime: string;
  /** Labels of the firing alert beyond the rule's own; undefined = must not fire. */
  fires?: Record<string, string>;
}

const MLFLOW = 'namespace="mlflow",job="mlflow"';
const PROXY = 'namespace="mlflow",job="oauth2-proxy"';
const KSM = 'job="kube-state-metrics",namespace="mlflow"';
const PVC =
  'namespace="monitoring",persistentvolumeclaim="prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0"';
const buckets = (sel: string, perBucket: Record<string, string>) =>
  Object.entries(perBucket).map(([le, values]) => ({ series: `mlflow_http_request_duration_seconds_bucket{${sel},le="${le}"}`, values }));
const traffic = { series: `mlflow_http_request_total{${MLFLOW},method="GET",status="200"}`, values: "0+60x40" };

const cases: Case[] = [
  {
    name: "tracking server: every replica fails its scrape",
    alert: "MlflowTrackingServerDown",
    evalTime: "10m",
    series: [{ series: `up{${MLFLOW},pod="mlflow-0"}`, values: "0x15" }],
    fires: {},
  },
  {
    name: "tracking server: no target at all (no ready replica)",
    alert: "MlflowTrackingServerDown",
    evalTime: "10m",
    series: [{ series: `up{${PROXY},pod="proxy-0"}`, values: "1x15" }],
    fires: {},
  },
  {
    name: "tracking server: one replica answers",
    alert: "MlflowTrackingServerDown",
    evalTime: "10m",
    series: [
      { series: `up{${MLFLOW},pod="mlflow-0"}`, values: "0x15" },
      { series: `up{${MLFLOW},pod="mlflow-1"}`, values: "1x15" },
    ],
  },

  {
    name: "5xx: 10% of 1.1 req/s",
    alert: "MlflowHighErrorRatio",
    evalTime: "25m",
    series: [traffic, { series: `mlflow_http_request_total{${MLFLOW},method="POST",status="500"}`, values: "0+6x40" }],
    fires: {},
  },
  {
    name: "5xx: 1.6% of requests",
    alert: "MlflowHighErrorRatio",
    evalTime: "25m",
    series: [traffic, { series: `mlflow_http_request_total{${MLFLOW},method="POST",status="500"}`, values: "0+1x40" }],
  },
  {
    name: "5xx: half of a trickle (below the traffic floor)",
    alert: "MlflowHighErrorRatio",
    evalTime: "25m",
    series: [
      { series: `mlflow_http_request_total{${MLFLOW},method="GET",status="200"}`, values: "0+1x40" },
      { series: `mlflow_http_request_total{${MLFLOW},method="POST",status="500"}`, values: "0+1x40" },
    ],
  },

  {
    name: "p95: every request takes 2.5-5 s",
    alert: "MlflowHighLatencyP95",
    evalTime: "25m",
    series: [traffic, ...buckets(MLFLOW, { "0.5": "0x40", "2.5": "0x40", "5.0": "0+60x40", "10.0": "0+60x40", "+Inf": "0+60x40" })],
    fires: {},
  },
  {
    name: "p95: every request under 0.5 s",
    alert: "MlflowHighLatencyP95",
    evalTime: "25m",
    series: [traffic, ...buckets(MLFLOW, { "0.5": "0+60x40", "2.5": "0+60x40", "5.0": "0+60x40", "10.0": "0+60x40", "+Inf": "0+60x40" })],
  },
  {
    name: "p99: every request takes 5-10 s",
    alert: "MlflowHighLatencyP99",
    evalTime: "25m",
    series: [traffic, ...buckets(MLFLOW, { "0.5": "0x40", "2.5": "0x40", "5.0": "0x40", "10.0": "0+60x40", "+Inf": "0+60x40" })],
    fires: {},
  },
  {
    name: "p99: requests take 2.5-5 s (p99 4.975 s, below 5 s)",
    alert: "MlflowHighLatencyP99",
    evalTime: "25m",
    series: [traffic, ...buckets(MLFLOW, { "0.5": "0x40", "2.5": "0x40", "5.0": "0+60x40", "10.0": "0+60x40", "+Inf": "0+60x40" })],
  },

  {
    name: "proxy: its metrics port is down",
    alert: "OAuth2ProxyDown",
    evalTime: "10m",
    series: [{ series: `up{${PROXY},pod="proxy-0"}`, values: "0x15" }],
    fires: {},
  },
  { name: "proxy: answers", alert: "OAuth2ProxyDown", evalTime: "10m", series: [{ series: `up{${PROXY},pod="proxy-0"}`, values: "1x15" }] },

  {
    name: "auth failures: 2 refusals per second",
    alert: "OAuth2ProxyAuthFailuresHigh",
    evalTime: "20m",
    series: [{ series: `oauth2_proxy_requests_total{${PROXY},code="401"}`, values: "0+120x30" }],
    fires: {},
  },
  {
    name: "auth failures: 0.5 refusals per second",
    alert: "OAuth2ProxyAuthFailuresHigh",
    evalTime: "20m",
    series: [
      { series: `oauth2_proxy_requests_total{${PROXY},code="403"}`, values: "0+30x30" },
      { series: `oauth2_proxy_requests_total{${PROXY},code="200"}`, values: "0+600x30" },
    ],
  },

  {
    name: "crash loop: waiting in CrashLoopBackOff",
    alert: "MlflowPodCrashLooping",
    evalTime: "20m",
    series: [
      {
        series: `kube_pod_container_status_waiting_reason{${KSM},pod="mlflow-abc",container="mlflow",reason="CrashLoopBackOff"}`,
        values: "1x30",
      },
    ],
    fires: { job: "kube-state-metrics", pod: "mlflow-abc", container: "mlflow", reason: "CrashLoopBackOff" },
  },
  {
    name: "crash loop: recovered",
    alert: "MlflowPodCrashLooping",
    evalTime: "20m",
    series: [
      {
        series: `kube_pod_container_status_waiting_reason{${KSM},pod="mlflow-abc",container="mlflow",reason="CrashLoopBackOff"}`,
        values: "0x30",
      },
    ],
  },
  {
    name: "crash loop: another namespace",
    alert: "MlflowPodCrashLooping",
    evalTime: "20m",
    series: [
      {
        series:
          'kube_pod_container_status_waiting_reason{job="kube-state-metrics",namespace="other",pod="x",container="x",reason="CrashLoopBackOff"}',
        values: "1x30",
      },
    ],
  },

  {
    name: "migration Job failed",
    alert: "MlflowMigrationJobFailed",
    evalTime: "5m",
    series: [
      { series: `kube_job_failed{${KSM},job_name="mlflow-db-upgrade-3-17-2",condition="true"}`, values: "1x10" },
      {
        series: `kube_job_owner{${KSM},job_name="mlflow-db-upgrade-3-17-2",owner_kind="<none>",owner_name="<none>",owner_is_controller="<none>"}`,
        values: "1x10",
      },
    ],
    fires: { job: "kube-state-metrics", job_name: "mlflow-db-upgrade-3-17-2", condition: "true" },
  },
  {
    name: "migration alert ignores a failed GC run",
    alert: "MlflowMigrationJobFailed",
    evalTime: "5m",
    series: [
      { series: `kube_job_failed{${KSM},job_name="mlflow-gc-29000000",condition="true"}`, values: "1x10" },
      {
        series: `kube_job_owner{${KSM},job_name="mlflow-gc-29000000",owner_kind="CronJob",owner_name="mlflow-gc",owner_is_controller="true"}`,
        values: "1x10",
      },
    ],
  },

  {
    name: "GC run failed today",
    alert: "MlflowGcJobFailed",
    evalTime: "5m",
    series: [
      { series: `kube_job_failed{${KSM},job_name="mlflow-gc-29000000",condition="true"}`, values: "1x10" },
      {
        series: `kube_job_owner{${KSM},job_name="mlflow-gc-29000000",owner_kind="CronJob",owner_name="mlflow-gc",owner_is_controller="true"}`,
        values: "1x10",
      },
      { series: `kube_job_status_start_time{${KSM},job_name="mlflow-gc-29000000"}`, values: "0x10" },
    ],
    fires: { job: "kube-state-metrics", job_name: "mlflow-gc-29000000", condition: "true" },
  },
  {
    name: "GC run failed more than a day ago",
    alert: "MlflowGcJobFailed",
    evalTime: "5m",
    series: [
      { series: `kube_job_failed{${KSM},job_name="mlflow-gc-28990000",condition="true"}`, values: "1x10" },
      {
        series: `kube_job_owner{${KSM},job_name="mlflow-gc-28990000",owner_kind="CronJob",owner_name="mlflow-gc",owner_is_controller="true"}`,
        values: "1x10",
      },
      { series: `kube_job_status_start_time{${KSM},job_name="mlflow-gc-28990000"}`, values: "-100000x10" },
    ],
  },
  {
    name: "GC alert ignores a failed migration Job",
    alert: "MlflowGcJobFailed",
    evalTime: "5m",
    series: [
      { series: `kube_job_failed{${KSM},job_name="mlflow-db-upgrade-3-17-2",condition="true"}`, values: "1x10" },
      {
        series: `kube_job_owner{${KSM},job_name="mlflow-db-upgrade-3-17-2",owner_kind="<none>",owner_name="<none>",owner_is_controller="<none>"}`,
        values: "1x10",
      },
      { series: `kube_job_status_start_time{${KSM},job_name="mlflow-db-upgrade-3-17-2"}`, values: "0x10" },
    ],
  },

  {
    name: "Prometheus volume 90% full",
    alert: "PrometheusVolumeFillingUp",
    evalTime: "20m",
    series: [
      { series: `kubelet_volume_stats_used_bytes{job="kubelet",${PVC}}`, values: "90x30" },
      { series: `kubelet_volume_stats_capacity_bytes{job="kubelet",${PVC}}`, values: "100x30" },
    ],
    fires: { job: "kubelet", persistentvolumeclaim: PVC.split('persistentvolumeclaim="')[1].slice(0, -1) },
  },
  {
    name: "Prometheus volume half full",
    alert: "PrometheusVolumeFillingUp",
    evalTime: "20m",
    series: [
      { series: `kubelet_volume_stats_used_bytes{job="kubelet",${PVC}}`, values: "50x30" },
      { series: `kubelet_volume_stats_capacity_bytes{job="kubelet",${PVC}}`, values: "100x30" },
    ],
  },
];

function testGroup(c: Case) {
  const r = rule(c.alert);
  const expAlerts =
    c.fires === undefined
      ? []
      : [
          {
            exp_labels: { ...c.fires, ...r.labels },
            exp_annotations: rendered(r, { ...c.fires, ...r.labels }),
          },
        ];
  return {
    name: c.name,
    interval: "1m",
    input_series: c.series,
    alert_rule_test: [{ eval_time: c.evalTime, alertname: c.alert, exp_alerts: expAlerts }],
  };
}

describe("alert rules (promtool)", () => {
  it("renders every alert of the runbook, each with severity, summary, description and runbook link", () => {
    expect(rules.map((r) => r.alert)).toEqual([...ALERT_NAMES]);
    for (const r of rules) {
      expect(["critical", "warning"]).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      expect(r.annotations.description.length).toBeGreaterThan(20);
      expect(r.annotations.runbook_url).toBe(`docs/monitoring.md#${r.alert.toLowerCase()}`);
    }
  });

  it("passes promtool check rules", () => {
    const out = run(promtool, ["check", "rules", rulesFile]);
    expect(out).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it("has a firing and a quiet unit test for every alert", () => {
    for (const name of ALERT_NAMES) {
      expect(cases.filter((c) => c.alert === name && c.fires !== undefined).length).toBeGreaterThanOrEqual(1);
      expect(cases.filter((c) => c.alert === name && c.fires === undefined).length).toBeGreaterThanOrEqual(1);
    }
  });

  it.each(cases.map((c) => [c.name, c] as const))("promtool test rules: %s", (_, c) => {
    const testFile = write(`test-${cases.indexOf(c)}.yaml`, { rule_files: [rulesFile], evaluation_interval: "1m", tests: [testGroup(c)] });
    expect(run(promtool, ["test", "rules", testFile])).toMatch(/SUCCESS/);
  });

  it("fails promtool test rules when an expectation is wrong (the harness can fail)", () => {
    const c = cases.find((x) => x.alert === "MlflowHighErrorRatio" && x.fires === undefined)!;
    const wrong = { ...c, fires: {} };
    const testFile = write("test-wrong.yaml", { rule_files: [rulesFile], evaluation_interval: "1m", tests: [testGroup(wrong)] });
    expect(() => run(promtool, ["test", "rules", testFile])).toThrow(/FAILED|expected/i);
  });

  it("uses configured thresholds: a 3% error ratio fires at errorRatio 0.02, not at the default 0.05", () => {
    const tuned = synthMonitoring({ thresholds: { errorRatio: 0.02 } }).monitoring;
    const tunedFile = write("rules-tuned.yaml", { groups: tuned.ruleGroups });
    const series = [traffic, { series: `mlflow_http_request_total{${MLFLOW},method="POST",status="500"}`, values: "0+2x40" }];
    const tunedRule = allRules(tuned.ruleGroups).find((r) => r.alert === "MlflowHighErrorRatio")!;
    expect(tunedRule.annotations.description).toContain("More than 2%");
    const group = (fires: boolean) => ({
      name: "3% errors",
      interval: "1m",
      input_series: series,
      alert_rule_test: [
        {
          eval_time: "25m",
          alertname: "MlflowHighErrorRatio",
          exp_alerts: fires ? [{ exp_labels: { ...tunedRule.labels }, exp_annotations: rendered(tunedRule, {}) }] : [],
        },
      ],
    });
    expect(run(promtool, ["test", "rules", write("tuned.yaml", { rule_files: [tunedFile], tests: [group(true)] })])).toMatch(/SUCCESS/);
    expect(run(promtool, ["test", "rules", write("default.yaml", { rule_files: [rulesFile], tests: [group(false)] })])).toMatch(/SUCCESS/);
  });
});

describe("registry events alert rules (promtool)", () => {
  const service = {
    namespace: "mlflow",
    serviceName: "mlflow-registry-events",
    port: 8080,
    portName: "http",
    podLabels: { a: "b" },
    serviceLabels: { a: "b" },
    metricsPath: "/metrics",
  };
  const withEvents = synthMonitoring({ registryEvents: { service, behindSeconds: 300 } }).monitoring;
  const group = withEvents.ruleGroups.find((g) => g.name === "mlflow-registry-events")!;
  const file = write("rules-events.yaml", { groups: [group] });
  const EV = 'namespace="mlflow",job="mlflow-registry-events"';
  const evCases: Case[] = [
    {
      name: "events: no target",
      alert: "MlflowRegistryEventsDown",
      evalTime: "10m",
      series: [{ series: `up{${MLFLOW}}`, values: "1x15" }],
      fires: {},
    },
    { name: "events: up", alert: "MlflowRegistryEventsDown", evalTime: "10m", series: [{ series: `up{${EV}}`, values: "1x15" }] },
    // The last successful pass stays at t=0 while time moves on: behind after 300 s (+2m for).
    {
      name: "events: reconciliation stuck",
      alert: "MlflowRegistryEventsBehind",
      evalTime: "10m",
      series: [{ series: `mlflow_events_reconcile_last_success_timestamp_seconds{${EV}}`, values: "0x15" }],
      fires: {},
    },
    {
      name: "events: reconciliation keeps up",
      alert: "MlflowRegistryEventsBehind",
      evalTime: "10m",
      series: [{ series: `mlflow_events_reconcile_last_success_timestamp_seconds{${EV}}`, values: "0+60x15" }],
    },
    {
      name: "events: slack failing",
      alert: "MlflowRegistryEventsDeliveryFailing",
      evalTime: "10m",
      series: [{ series: `mlflow_events_notifications_total{${EV},channel="slack",result="failed"}`, values: "0 0 1 1 2 2 3 3 3 3 3 3" }],
      fires: { channel: "slack" },
    },
    {
      name: "events: deliveries fine",
      alert: "MlflowRegistryEventsDeliveryFailing",
      evalTime: "10m",
      series: [{ series: `mlflow_events_notifications_total{${EV},channel="slack",result="sent"}`, values: "0+1x12" }],
    },
    {
      name: "events: forged deliveries",
      alert: "MlflowRegistryEventsWebhookRefused",
      evalTime: "10m",
      series: [{ series: `mlflow_events_webhook_deliveries_total{${EV},result="bad_signature"}`, values: "0 0 0 5 5 5 5 5 5 5 5 5" }],
      fires: {},
    },
    {
      name: "events: only accepted deliveries",
      alert: "MlflowRegistryEventsWebhookRefused",
      evalTime: "10m",
      series: [{ series: `mlflow_events_webhook_deliveries_total{${EV},result="accepted"}`, values: "0+3x12" }],
    },
    {
      name: "events: webhook never declared",
      alert: "MlflowRegistryEventsWebhookMissing",
      evalTime: "15m",
      series: [{ series: `mlflow_events_webhook_registered{${EV}}`, values: "0x20" }],
      fires: {},
    },
    {
      name: "events: webhook declared",
      alert: "MlflowRegistryEventsWebhookMissing",
      evalTime: "15m",
      series: [{ series: `mlflow_events_webhook_registered{${EV}}`, values: "1x20" }],
    },
    {
      name: "events: a forged state tag",
      alert: "MlflowRegistryEventsStateRejected",
      evalTime: "10m",
      series: [{ series: `mlflow_events_state_rejected_total{${EV},reason="invalid"}`, values: "0 0 0 1 1 1 1 1 1 1 1 1" }],
      fires: { reason: "invalid" },
    },
    {
      name: "events: only its own state",
      alert: "MlflowRegistryEventsStateRejected",
      evalTime: "10m",
      series: [{ series: `mlflow_events_state_rejected_total{${EV},reason="invalid"}`, values: "0x12" }],
    },
  ];
  const evRule = (name: string) => group.rules.find((r) => r.alert === name)!;

  it("adds the six alerts, the ServiceMonitor, and links to docs/registry-events.md", () => {
    expect(group.rules.map((r) => r.alert)).toEqual([...REGISTRY_EVENTS_ALERT_NAMES]);
    for (const r of group.rules) expect(r.annotations.runbook_url).toBe(`docs/registry-events.md#${r.alert.toLowerCase()}`);
    expect(withEvents.resources.map((x: any) => x.metadata.name)).toContain("mlflow-registry-events");
    expect(monitoring.ruleGroups.some((g) => g.name === "mlflow-registry-events")).toBe(false);
  });

  it("passes promtool check rules", () => {
    expect(run(promtool, ["check", "rules", file])).toMatch(new RegExp(`SUCCESS: ${group.rules.length} rules found`));
  });

  it("has a firing and a quiet case for every alert", () => {
    for (const name of REGISTRY_EVENTS_ALERT_NAMES) {
      expect(evCases.filter((c) => c.alert === name && c.fires !== undefined).length).toBe(1);
      expect(evCases.filter((c) => c.alert === name && c.fires === undefined).length).toBe(1);
    }
  });

  it.each(evCases.map((c) => [c.name, c] as const))("promtool test rules: %s", (_, c) => {
    const r = evRule(c.alert);
    const exp =
      c.fires === undefined ? [] : [{ exp_labels: { ...c.fires, ...r.labels }, exp_annotations: rendered(r, { ...c.fires, ...r.labels }) }];
    const t = {
      name: c.name,
      interval: "1m",
      input_series: c.series,
      alert_rule_test: [{ eval_time: c.evalTime, alertname: c.alert, exp_alerts: exp }],
    };
    expect(
      run(promtool, [
        "test",
        "rules",
        write(`test-ev-${evCases.indexOf(c)}.yaml`, { rule_files: [file], evaluation_interval: "1m", tests: [t] }),
      ]),
    ).toMatch(/SUCCESS/);
  });
});

describe("Argo Rollouts controller: scrape and alert rule (promtool)", () => {
  const controller = argoRolloutsMetricsService("argo-rollouts");
  const withController = synthMonitoring({ rolloutsController: controller }).monitoring;
  const group = withController.ruleGroups.find((g) => g.name === "argo-rollouts-controller")!;
  const file = write("rules-rollouts.yaml", { groups: [group] });
  const AR = 'namespace="argo-rollouts",job="argo-rollouts-metrics"';
  const arCases: Case[] = [
    {
      name: "rollouts: every replica fails its scrape",
      alert: "ArgoRolloutsControllerDown",
      evalTime: "10m",
      series: [
        { series: `up{${AR},pod="argo-rollouts-0"}`, values: "0x15" },
        { series: `up{${AR},pod="argo-rollouts-1"}`, values: "0x15" },
      ],
      fires: {},
    },
    {
      name: "rollouts: no target at all (not scraped, or no ready replica)",
      alert: "ArgoRolloutsControllerDown",
      evalTime: "10m",
      series: [{ series: `up{${MLFLOW}}`, values: "1x15" }],
      fires: {},
    },
    {
      name: "rollouts: the leader answers, the standby does not",
      alert: "ArgoRolloutsControllerDown",
      evalTime: "10m",
      series: [
        { series: `up{${AR},pod="argo-rollouts-0"}`, values: "1x15" },
        { series: `up{${AR},pod="argo-rollouts-1"}`, values: "0x15" },
      ],
    },
    {
      name: "rollouts: down for 3 minutes only",
      alert: "ArgoRolloutsControllerDown",
      evalTime: "10m",
      series: [{ series: `up{${AR},pod="argo-rollouts-0"}`, values: "1x6 0x3 1x6" }],
    },
  ];

  it("scrapes the controller's metrics Service by its labels and port name, and links the alert to docs/monitoring.md", () => {
    expect(group.rules.map((r) => r.alert)).toEqual([...ROLLOUTS_CONTROLLER_ALERT_NAMES]);
    for (const r of group.rules) expect(r.annotations.runbook_url).toBe(`docs/monitoring.md#${r.alert.toLowerCase()}`);
    const sm = withController.resources.find(
      (x: any) => x.kind === "ServiceMonitor" && x.metadata.name === "argo-rollouts-controller",
    ) as any;
    expect(sm.spec).toEqual({
      namespaceSelector: { matchNames: ["argo-rollouts"] },
      selector: {
        matchLabels: {
          "app.kubernetes.io/name": "argo-rollouts",
          "app.kubernetes.io/instance": "argo-rollouts",
          "app.kubernetes.io/component": "rollouts-controller",
        },
      },
      endpoints: [{ port: "metrics", path: "/metrics", scheme: "http", interval: "30s", scrapeTimeout: "10s" }],
    });
    // The rule is in the deployed PrometheusRule; without a controller there is neither scrape nor rule.
    const deployed = withController.resources.find((x: any) => x.kind === "PrometheusRule") as any;
    expect(deployed.spec.groups.map((g: any) => g.name)).toContain("argo-rollouts-controller");
    expect(monitoring.ruleGroups.some((g) => g.name === "argo-rollouts-controller")).toBe(false);
    expect(monitoring.resources.some((x: any) => x.metadata.name === "argo-rollouts-controller")).toBe(false);
  });

  it("passes promtool check rules", () => {
    expect(run(promtool, ["check", "rules", file])).toMatch(new RegExp(`SUCCESS: ${group.rules.length} rules found`));
  });

  it("has a firing and a quiet case for every alert", () => {
    for (const name of ROLLOUTS_CONTROLLER_ALERT_NAMES) {
      expect(arCases.filter((c) => c.alert === name && c.fires !== undefined).length).toBeGreaterThanOrEqual(1);
      expect(arCases.filter((c) => c.alert === name && c.fires === undefined).length).toBeGreaterThanOrEqual(1);
    }
  });

  it.each(arCases.map((c) => [c.name, c] as const))("promtool test rules: %s", (_, c) => {
    const r = group.rules.find((x) => x.alert === c.alert)!;
    const exp =
      c.fires === undefined ? [] : [{ exp_labels: { ...c.fires, ...r.labels }, exp_annotations: rendered(r, { ...c.fires, ...r.labels }) }];
    const t = {
      name: c.name,
      interval: "1m",
      input_series: c.series,
      alert_rule_test: [{ eval_time: c.evalTime, alertname: c.alert, exp_alerts: exp }],
    };
    expect(
      run(promtool, [
        "test",
        "rules",
        write(`test-ar-${arCases.indexOf(c)}.yaml`, { rule_files: [file], evaluation_interval: "1m", tests: [t] }),
      ]),
    ).toMatch(/SUCCESS/);
  });
});

describe("dashboards (promtool)", () => {
  const exprs = monitoring.dashboards.flatMap((d) => dashboardExpressions(d).map((e) => ({ ...e, dashboard: d.uid })));

  it("has queries on every panel", () => {
    for (const d of monitoring.dashboards) for (const p of d.panels) expect(p.targets.length).toBeGreaterThan(0);
    expect(exprs.length).toBeGreaterThan(25);
  });

  it("parses every dashboard expression with promtool (each wrapped in a recording rule)", () => {
    const file = write("dashboards.yaml", {
      groups: [{ name: "dashboard-expressions", rules: exprs.map((e, i) => ({ record: `dashboard:expr:${i}`, expr: e.expr })) }],
    });
    const out = run(promtool, ["check", "rules", file]);
    expect(out).toMatch(new RegExp(`SUCCESS: ${exprs.length} rules found`));
  });

  it("promtool rejects a broken expression (the check can fail)", () => {
    const file = write("broken.yaml", { groups: [{ name: "x", rules: [{ record: "x:y", expr: "sum(rate(foo[5m])" }] }] });
    expect(() => run(promtool, ["check", "rules", file])).toThrow(/parse error|unclosed/i);
  });
});

describe("alertmanager configuration (amtool)", () => {
  const variants: [string, Parameters<typeof synthMonitoring>[0]][] = [
    [
      "slack and email with SMTP auth",
      {
        slack: { channel: "#mlflow-alerts", webhookSecretName: "alertmanager-slack" },
        email: {
          to: ["ml-platform@example.com", "oncall@example.com"],
          from: "alertmanager@example.com",
          smarthost: "email-smtp.eu-west-1.amazonaws.com:587",
          authUsername: "AKIAEXAMPLE",
          authPasswordSecretName: "alertmanager-smtp",
        },
      },
    ],
    ["email only", { email: { to: ["ml-platform@example.com"], from: "alertmanager@example.com", smarthost: "smtp.example.com:25" } }],
    ["slack only", { slack: { channel: "mlflow-alerts", webhookSecretName: "alertmanager-slack" } }],
    ["discord only", { discord: { webhookSecretName: "alertmanager-discord" } }],
    [
      "slack, discord and email",
      {
        slack: { channel: "#mlflow-alerts", webhookSecretName: "alertmanager-slack" },
        discord: { webhookSecretName: "alertmanager-discord" },
        email: { to: ["ml-platform@example.com"], from: "alertmanager@example.com", smarthost: "smtp.example.com:587" },
      },
    ],
    ["no channel", {}],
  ];

  /**
   * Debian's amtool 0.25 knows discord_configs but not yet `webhook_url_file` (Alertmanager 0.26+, which
   * kube-prometheus-stack deploys): for the check only, the file becomes a placeholder URL.
   */
  const forAmtool025 = (config: unknown) =>
    JSON.parse(
      JSON.stringify(config).replace(/"webhook_url_file":"[^"]*"/g, '"webhook_url":"https://discord.invalid/api/webhooks/0/placeholder"'),
    );

  it.each(variants)("amtool check-config accepts it: %s", (name, props) => {
    const config = forAmtool025(synthMonitoring(props).monitoring.alertmanagerConfig!);
    const file = write(`alertmanager-${name.replace(/\W+/g, "-")}.yaml`, config);
    expect(run(amtool, ["check-config", file])).toMatch(/SUCCESS/);
  });

  it("amtool rejects a receiver that does not exist (the check can fail)", () => {
    const config = structuredClone(synthMonitoring(variants[0][1]).monitoring.alertmanagerConfig!);
    config.route.routes![0].receiver = "nobody";
    expect(() => run(amtool, ["check-config", write("alertmanager-broken.yaml", config)])).toThrow(/undefined receiver|nobody/);
  });

  it("sends critical and warning alerts to Discord too, reading its URL from the mounted Secret", () => {
    const { monitoring } = synthMonitoring(variants[4][1]);
    const receivers = Object.fromEntries(monitoring.alertmanagerConfig!.receivers.map((r) => [r.name, r]));
    for (const name of ["critical", "warning"]) {
      expect(receivers[name].discord_configs).toEqual([
        expect.objectContaining({ webhook_url_file: "/etc/alertmanager/secrets/alertmanager-discord/url", send_resolved: true }),
      ]);
    }
    expect(receivers.critical.email_configs).toHaveLength(1);
    expect(JSON.stringify(monitoring.alertmanagerConfig)).not.toMatch(/"webhook_url":/);
    expect((monitoring.stackValues as any).alertmanager.alertmanagerSpec.secrets).toContain("alertmanager-discord");
  });

  it("amtool rejects a Discord receiver without its URL (the check can fail)", () => {
    const config = structuredClone(synthMonitoring(variants[3][1]).monitoring.alertmanagerConfig!);
    delete (config.receivers[1].discord_configs![0] as Record<string, unknown>).webhook_url_file;
    expect(() => run(amtool, ["check-config", write("alertmanager-discord-broken.yaml", config)])).toThrow(/webhook_url|missing|discord/i);
  });

  it("routes a critical alert to Slack and e-mail, a warning to Slack, Watchdog nowhere", () => {
    const file = write("alertmanager-routes.yaml", synthMonitoring(variants[0][1]).monitoring.alertmanagerConfig);
    const route = (labels: string[]) => run(amtool, ["config", "routes", "test", "--config.file", file, ...labels]).trim();
    expect(route(["alertname=MlflowTrackingServerDown", "severity=critical", "namespace=mlflow"])).toBe("critical");
    expect(route(["alertname=MlflowHighLatencyP95", "severity=warning", "namespace=mlflow"])).toBe("warning");
    expect(route(["alertname=Watchdog", "severity=none"])).toBe("null");
  });
});
