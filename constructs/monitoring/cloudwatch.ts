/**
 * The RDS and S3 figures in Grafana: a CloudWatch data source for the installed Grafana, the IAM policy
 * its role needs (read metrics, nothing else), and the dashboard "MLflow / Database and artifacts".
 *
 * CloudWatch metric APIs (GetMetricData, GetMetricStatistics, ListMetrics) have no resource-level
 * permissions: IAM only accepts `"Resource": "*"` for them. The policy narrows what it can with the
 * global `aws:RequestedRegion` condition key instead, and grants no other service (no CloudWatch Logs,
 * no alarms, no EC2 or tagging APIs, no sts:AssumeRole).
 */
import { dashboard, type CloudWatchPanel, type CloudWatchTarget, type Dashboard, type Unit } from "./dashboards";

/** The only AWS actions Grafana's role may perform: reading CloudWatch metrics. */
export const GRAFANA_CLOUDWATCH_ACTIONS = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"] as const;

/** The uid of the provisioned CloudWatch data source, which the dashboard's panels name. */
export const CLOUDWATCH_DATASOURCE_UID = "cloudwatch";

/** The S3 storage classes the artifact store uses (its lifecycle moves objects to Standard-IA and Glacier Instant Retrieval). */
export const ARTIFACT_STORAGE_TYPES = [
  ["StandardStorage", "Standard"],
  ["StandardIAStorage", "Standard-IA"],
  ["GlacierInstantRetrievalStorage", "Glacier Instant Retrieval"],
] as const;

/** The IAM policy document of Grafana's role. */
export function grafanaCloudWatchPolicy(region: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadCloudWatchMetrics",
        Effect: "Allow",
        Action: [...GRAFANA_CLOUDWATCH_ACTIONS],
        // CloudWatch metric APIs support no resource-level permissions: "*" is the only valid resource.
        Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": region } },
      },
    ],
  };
}

/**
 * The data source, as an entry of Grafana's provisioning file (kube-prometheus-stack writes
 * `grafana.additionalDataSources` into the datasources ConfigMap its sidecar loads). `authType: default`
 * is the AWS SDK's default chain: the pod's EKS Pod Identity or IRSA credentials. No keys, ever.
 */
export function cloudWatchDatasource(uid: string, region: string): Record<string, unknown> {
  return {
    name: "CloudWatch",
    type: "cloudwatch",
    uid,
    access: "proxy",
    isDefault: false,
    editable: false,
    jsonData: { authType: "default", defaultRegion: region },
  };
}

/** What the dashboard looks at. */
export interface CloudWatchDashboardTargets {
  /** The backend store's DB instance identifier (dimension DBInstanceIdentifier). */
  readonly dbInstanceIdentifier: string;
  /** Its read replica's identifier, if there is one. */
  readonly dbReplicaIdentifier?: string;
  /** The artifact bucket (dimension BucketName). */
  readonly bucketName: string;
  /** The CloudWatch data source's uid. */
  readonly datasourceUid: string;
}

type Statistic = CloudWatchTarget["statistic"];
type PanelSpec = Omit<CloudWatchPanel, "id" | "gridPos" | "datasource">;
type Query = [metric: string, statistic: Statistic, dimensions: Record<string, string>, label: string];

const W = 24;

/** One target per query, refIds A, B, C... */
function cwTargets(namespace: string, period: string, list: Query[]): CloudWatchTarget[] {
  return list.map(([metricName, statistic, dimensions, label], i) => ({
    refId: String.fromCharCode(65 + i),
    queryMode: "Metrics",
    metricQueryType: 0,
    metricEditorMode: 0,
    id: "",
    region: "default",
    namespace,
    metricName,
    dimensions,
    matchExact: true,
    statistic,
    period,
    expression: "",
    label,
  }));
}

const rds = (list: Query[]) => cwTargets("AWS/RDS", "auto", list);
// S3 storage metrics are written once a day: a shorter period finds no data points.
const s3 = (list: Query[]) => cwTargets("AWS/S3", "86400", list);

const stat = (title: string, description: string, unit: Unit, targets: CloudWatchTarget[]): PanelSpec => ({
  type: "stat",
  title,
  description,
  targets,
  fieldConfig: { defaults: { unit }, overrides: [] },
  options: { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "value", graphMode: "area" },
});

const series = (
  title: string,
  description: string,
  unit: Unit,
  targets: CloudWatchTarget[],
  extra: Partial<PanelSpec> = {},
): PanelSpec => ({
  type: "timeseries",
  title,
  description,
  targets,
  fieldConfig: { defaults: { unit, min: 0 }, overrides: [] },
  options: { legend: { displayMode: "table", placement: "bottom", calcs: ["mean", "max", "lastNotNull"] }, tooltip: { mode: "multi" } },
  ...extra,
});

/** "MLflow / Database and artifacts": the backend store's RDS metrics and the artifact bucket's daily S3 storage metrics. */
export function buildCloudWatchDashboard(t: CloudWatchDashboardTargets): Dashboard {
  const primary = { DBInstanceIdentifier: t.dbInstanceIdentifier };
  const replica = t.dbReplicaIdentifier ? { DBInstanceIdentifier: t.dbReplicaIdentifier } : undefined;
  /** The same metric on the primary and, when there is one, the replica. */
  const both = (metric: string, statistic: Statistic): Query[] => [
    [metric, statistic, primary, "primary"],
    ...(replica ? [[metric, statistic, replica, "replica"] as Query] : []),
  ];
  const datasource = { type: "cloudwatch" as const, uid: t.datasourceUid };
  let y = 0;
  let id = 1;
  /** One row of panels filling the grid's width (the first panels get the remainder: 5 panels are 5, 5, 5, 5, 4 wide). */
  const row = (h: number, specs: PanelSpec[]): CloudWatchPanel[] => {
    let x = 0;
    const out = specs.map((p, i) => {
      const w = Math.floor(W / specs.length) + (i < W % specs.length ? 1 : 0);
      const panel = { ...p, id: id++, gridPos: { x, y, w, h }, datasource };
      x += w;
      return panel;
    });
    y += h;
    return out;
  };
  const bucket = (storageType: string) => ({ BucketName: t.bucketName, StorageType: storageType });

  return dashboard(
    "mlflow-data",
    "MLflow / Database and artifacts",
    "The backend store's PostgreSQL (RDS) and the artifact bucket (S3), from CloudWatch. The RDS figures are those of the backend store's CloudWatch alarms; S3 reports storage once a day.",
    [
      ...row(4, [
        stat(
          "DB CPU",
          "CPU use of the database instance (alarm above 80% for 15 minutes by default).",
          "percent",
          rds([["CPUUtilization", "Average", primary, "CPU"]]),
        ),
        stat(
          "DB free storage",
          "Free storage of the database instance; storage autoscaling grows it up to database.maxAllocatedStorageGb.",
          "bytes",
          rds([["FreeStorageSpace", "Minimum", primary, "free storage"]]),
        ),
        stat(
          "DB freeable memory",
          "Memory the database instance can still use.",
          "bytes",
          rds([["FreeableMemory", "Minimum", primary, "freeable memory"]]),
        ),
        stat(
          "DB connections",
          "Open connections to the database instance (tracking-server workers, migration Job, gc CronJob).",
          "short",
          rds([["DatabaseConnections", "Maximum", primary, "connections"]]),
        ),
        ...(replica
          ? [
              stat(
                "Replica lag",
                "How far the read replica is behind the primary (only with database.readReplica).",
                "s",
                rds([["ReplicaLag", "Maximum", replica, "lag"]]),
              ),
            ]
          : []),
      ]),
      ...row(8, [
        series("CPU utilisation", "Average CPU use of the primary (and the replica).", "percent", rds(both("CPUUtilization", "Average"))),
        series(
          "Connections",
          "Open database connections of the primary (and the replica).",
          "short",
          rds(both("DatabaseConnections", "Maximum")),
        ),
      ]),
      ...row(8, [
        series(
          "Free storage space",
          "Lowest free storage per period; a steady fall means autoscaling will grow the volume (or has reached its ceiling).",
          "bytes",
          rds(both("FreeStorageSpace", "Minimum")),
        ),
        series(
          "Freeable memory",
          "Lowest freeable memory per period; low memory pushes PostgreSQL to disk and slows searches.",
          "bytes",
          rds(both("FreeableMemory", "Minimum")),
        ),
      ]),
      ...row(8, [
        series(
          "Read and write latency",
          "Average time per disk read and write on the primary.",
          "s",
          rds([
            ["ReadLatency", "Average", primary, "read"],
            ["WriteLatency", "Average", primary, "write"],
          ]),
        ),
        series(
          "Read and write IOPS",
          "Disk reads and writes per second on the primary.",
          "iops",
          rds([
            ["ReadIOPS", "Average", primary, "read"],
            ["WriteIOPS", "Average", primary, "write"],
          ]),
        ),
        ...(replica
          ? [
              series(
                "Replica lag over time",
                "Seconds the read replica is behind (alarm above 300 s for 15 minutes by default).",
                "s",
                rds([["ReplicaLag", "Maximum", replica, "lag"]]),
              ),
            ]
          : []),
      ]),
      ...row(8, [
        series(
          "Artifact bucket size by storage class",
          "Bytes stored per storage class, daily (the lifecycle moves old artifacts to Standard-IA, then Glacier Instant Retrieval).",
          "bytes",
          s3(ARTIFACT_STORAGE_TYPES.map(([type, label]) => ["BucketSizeBytes", "Average", bucket(type), label] as Query)),
          { timeFrom: "30d" },
        ),
        series(
          "Objects in the artifact bucket",
          "Number of objects (all storage classes, noncurrent versions included), daily.",
          "short",
          s3([["NumberOfObjects", "Average", bucket("AllStorageTypes"), "objects"]]),
          { timeFrom: "30d" },
        ),
      ]),
    ],
    // CloudWatch is billed per metric requested: refresh less often than the Prometheus dashboards.
    { refresh: "5m", from: "now-24h" },
  );
}
