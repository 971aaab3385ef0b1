/**
 * The RDS and S3 figures in Grafana: the CloudWatch data source, Grafana's IAM role (Pod Identity or
 * IRSA), the least-privilege policy and the "MLflow / Database and artifacts" dashboard, over the
 * synthesized JSON of the construct alone and of the environment stacks.
 */
import { configured, resourcesOf, envConfig, synthJson, type TfJson } from "../../helpers/synth";
import { authProxy, synthMonitoring, trackingServer } from "../../monitoring/fixtures";
import { monitoringProps } from "../../../constructs/monitoring/from-config";
import { GRAFANA_SERVICE_ACCOUNT, type CloudWatchOptions, type MonitoringProps } from "../../../constructs/monitoring";
import { GRAFANA_CLOUDWATCH_ACTIONS, buildCloudWatchDashboard } from "../../../constructs/monitoring/cloudwatch";
import { dashboardExpressions } from "../../../constructs/monitoring/dashboards";
import { allRules as allPolicies } from "../../../policies";

const OIDC_ARN = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
const cloudWatch: CloudWatchOptions = {
  region: "eu-west-1",
  dbInstanceIdentifier: "mlflow-dev",
  dbReplicaIdentifier: "mlflow-dev-replica",
  bucketName: "mlflow-dev-artifacts-111111111111",
  clusterName: "ml-dev",
  accountId: "111111111111",
  roleName: "mlflow-dev-grafana-cloudwatch",
};

const kpsRelease = (json: TfJson) =>
  Object.entries<any>(resourcesOf(json, "helm_release")).find(([k]) => k.startsWith("monitoring_kube_prometheus_stack_"))![1];
const grafanaValues = (json: TfJson) => JSON.parse(kpsRelease(json).values[0]).grafana;
const only = (json: TfJson, type: string) => {
  const all = Object.entries<any>(resourcesOf(json, type));
  expect(all).toHaveLength(1);
  return all[0];
};
const dashboardOf = (json: TfJson, uid: string) => {
  const map = Object.values<any>(resourcesOf(json, "kubernetes_config_map_v1")).find((m) => m.metadata.name === `dashboard-${uid}`);
  return map ? { map, model: JSON.parse(map.data[`${uid}.json`]) } : undefined;
};
const allTargets = (model: any) => model.panels.flatMap((p: any) => p.targets.map((t: any) => ({ panel: p.title, ...t })));

describe("CloudWatch in Grafana, EKS Pod Identity (default)", () => {
  const { json, monitoring } = synthMonitoring({ cloudWatch });
  const g = grafanaValues(json);
  const [roleName, role] = only(json, "aws_iam_role");
  const [, policy] = only(json, "aws_iam_role_policy");

  it("provisions a CloudWatch data source with the SDK's default credentials and the environment's region", () => {
    expect(g.additionalDataSources).toEqual([
      {
        name: "CloudWatch",
        type: "cloudwatch",
        uid: "cloudwatch",
        access: "proxy",
        isDefault: false,
        editable: false,
        jsonData: { authType: "default", defaultRegion: "eu-west-1" },
      },
    ]);
    // No keys anywhere: Grafana may only use the pod's own credentials and assume no other role.
    expect(JSON.stringify(g.additionalDataSources)).not.toMatch(/secureJsonData|accessKey|secretKey|assumeRoleArn/);
    expect(g["grafana.ini"].aws).toEqual({ allowed_auth_providers: "default", assume_role_enabled: false });
  });

  it("names Grafana's service account explicitly, without an IRSA annotation", () => {
    expect(GRAFANA_SERVICE_ACCOUNT).toBe("grafana");
    expect(g.serviceAccount).toEqual({ create: true, name: "grafana", annotations: {} });
  });

  it("allows exactly the CloudWatch metric reads, in the environment's region only", () => {
    expect(policy.role).toBe(`\${aws_iam_role.${roleName}.id}`);
    const doc = JSON.parse(policy.policy);
    expect(doc.Statement).toHaveLength(1);
    const [s] = doc.Statement;
    expect(s.Effect).toBe("Allow");
    expect(s.Action).toEqual(["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]);
    expect([...GRAFANA_CLOUDWATCH_ACTIONS]).toEqual(s.Action);
    // CloudWatch metric APIs accept no resource ARNs: "*" is the only valid resource, narrowed by region.
    expect(s.Resource).toBe("*");
    expect(s.Condition).toEqual({ StringEquals: { "aws:RequestedRegion": "eu-west-1" } });
    for (const action of s.Action) expect(action).toMatch(/^cloudwatch:(Get|List)/);
  });

  it("trusts only Grafana's service account in the monitoring namespace on this cluster", () => {
    expect(role.name).toBe("mlflow-dev-grafana-cloudwatch");
    const [trust] = JSON.parse(role.assume_role_policy).Statement;
    expect(trust.Principal).toEqual({ Service: "pods.eks.amazonaws.com" });
    expect(trust.Action).toEqual(["sts:AssumeRole", "sts:TagSession"]);
    expect(trust.Condition.StringEquals).toEqual({
      "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-west-1:111111111111:cluster/ml-dev",
      "aws:RequestTag/kubernetes-namespace": "monitoring",
      "aws:RequestTag/kubernetes-service-account": "grafana",
    });
  });

  it("associates the role with Grafana's service account, and installs Grafana only after the association and the policy", () => {
    const [assocName, assoc] = only(json, "aws_eks_pod_identity_association");
    expect(assoc).toEqual({
      cluster_name: "ml-dev",
      namespace: "monitoring",
      service_account: "grafana",
      role_arn: `\${aws_iam_role.${roleName}.arn}`,
    });
    const [policyName] = only(json, "aws_iam_role_policy");
    expect(kpsRelease(json).depends_on).toEqual(
      expect.arrayContaining([`aws_eks_pod_identity_association.${assocName}`, `aws_iam_role_policy.${policyName}`]),
    );
    expect(monitoring.grafanaPodIdentityAssociation).toBeDefined();
  });

  it("ships the dashboard for the sidecar; every RDS query names the DB instance, every S3 query the bucket and a storage type", () => {
    const d = dashboardOf(json, "mlflow-data")!;
    expect(d.map.metadata.labels.grafana_dashboard).toBe("1");
    expect(d.model.title).toBe("MLflow / Database and artifacts");
    for (const p of d.model.panels) expect(p.datasource).toEqual({ type: "cloudwatch", uid: "cloudwatch" });
    const targets = allTargets(d.model);
    for (const t of targets) {
      expect(t).toMatchObject({ queryMode: "Metrics", region: "default", matchExact: true, metricQueryType: 0, metricEditorMode: 0 });
      if (t.namespace === "AWS/RDS") {
        expect(Object.keys(t.dimensions)).toEqual(["DBInstanceIdentifier"]);
        expect(["mlflow-dev", "mlflow-dev-replica"]).toContain(t.dimensions.DBInstanceIdentifier);
        expect(t.period).toBe("auto");
      } else {
        expect(t.namespace).toBe("AWS/S3");
        expect(Object.keys(t.dimensions).sort()).toEqual(["BucketName", "StorageType"]);
        expect(t.dimensions.BucketName).toBe("mlflow-dev-artifacts-111111111111");
        expect(t.period).toBe("86400"); // daily storage metrics
      }
    }
    const rdsMetrics = new Set(targets.filter((t: any) => t.namespace === "AWS/RDS").map((t: any) => t.metricName));
    expect([...rdsMetrics].sort()).toEqual([
      "CPUUtilization",
      "DatabaseConnections",
      "FreeStorageSpace",
      "FreeableMemory",
      "ReadIOPS",
      "ReadLatency",
      "ReplicaLag",
      "WriteIOPS",
      "WriteLatency",
    ]);
    // Replica lag is a metric of the replica, never of the primary.
    for (const t of targets.filter((x: any) => x.metricName === "ReplicaLag"))
      expect(t.dimensions.DBInstanceIdentifier).toBe("mlflow-dev-replica");
    const s3 = targets.filter((t: any) => t.namespace === "AWS/S3").map((t: any) => `${t.metricName}/${t.dimensions.StorageType}`);
    expect(s3.sort()).toEqual([
      "BucketSizeBytes/GlacierInstantRetrievalStorage",
      "BucketSizeBytes/StandardIAStorage",
      "BucketSizeBytes/StandardStorage",
      "NumberOfObjects/AllStorageTypes",
    ]);
  });

  it("keeps CloudWatch queries out of the PromQL that promtool checks", () => {
    const model = monitoring.dashboards.find((d) => d.uid === "mlflow-data")!;
    expect(dashboardExpressions(model)).toEqual([]);
    expect(monitoring.dashboards.map((d) => d.uid)).toEqual(["mlflow-tracking", "mlflow-sign-in", "mlflow-pods", "mlflow-data"]);
  });

  it("passes every synth-time policy rule (MLF-IAM-1 included: the role has no S3 permission at all)", () => {
    // MLF-IAM-2 (the permissions boundary) is the stack's: it puts the boundary on every role (test/policies/shipped-stacks.test.ts).
    expect(
      allPolicies()
        .filter((p) => p.id !== "MLF-IAM-2")
        .flatMap((p) => p.check(json as any)),
    ).toEqual([]);
  });
});

describe("CloudWatch in Grafana, IRSA", () => {
  const { json } = synthMonitoring({ cloudWatch: { ...cloudWatch, identityMode: "irsa", oidcProviderArn: OIDC_ARN } });
  const [roleName, role] = only(json, "aws_iam_role");

  it("annotates Grafana's service account with the role and creates no association", () => {
    expect(grafanaValues(json).serviceAccount).toEqual({
      create: true,
      name: "grafana",
      annotations: { "eks.amazonaws.com/role-arn": `\${aws_iam_role.${roleName}.arn}` },
    });
    expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
  });

  it("trusts the cluster's OIDC provider for system:serviceaccount:monitoring:grafana only", () => {
    const [trust] = JSON.parse(role.assume_role_policy).Statement;
    expect(trust.Principal).toEqual({ Federated: OIDC_ARN });
    expect(trust.Action).toBe("sts:AssumeRoleWithWebIdentity");
    expect(trust.Condition.StringEquals).toEqual({
      "oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub": "system:serviceaccount:monitoring:grafana",
      "oidc.eks.eu-west-1.amazonaws.com/id/ABC123:aud": "sts.amazonaws.com",
    });
  });
});

describe("CloudWatch dashboard without a read replica", () => {
  it("has no replica panels and no query of a replica", () => {
    const model = buildCloudWatchDashboard({ dbInstanceIdentifier: "db", bucketName: "bucket", datasourceUid: "cw" });
    const titles = model.panels.map((p) => p.title);
    expect(titles).not.toContain("Replica lag");
    expect(titles).not.toContain("Replica lag over time");
    const dims = model.panels.flatMap((p) => p.targets.map((t) => ("dimensions" in t ? t.dimensions.DBInstanceIdentifier : undefined)));
    expect(dims.filter((d) => d !== undefined && d !== "db")).toEqual([]);
    for (const p of model.panels) expect(p.datasource.uid).toBe("cw");
  });
});

describe("CloudWatch and the monitoring mode", () => {
  const deps = { trackingServer, authProxy, dbInstanceIdentifier: "mlflow-dev", artifactBucketName: "mlflow-dev-artifacts-111111111111" };

  it("existing mode is unchanged: no data source, no role, no fourth dashboard", () => {
    const props = monitoringProps(envConfig("dev", { monitoring: { mode: "existing" } }), deps);
    expect(props.cloudWatch).toBeUndefined();
    const { json } = synthMonitoring(props);
    expect(resourcesOf(json, "aws_iam_role")).toEqual({});
    expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
    // The "Model serving" dashboard exists where the environment serves models; no CloudWatch one.
    const serving = Object.keys(envConfig("dev").serving.models).length > 0 ? ["dashboard-mlflow-model-serving"] : [];
    expect(
      Object.values<any>(resourcesOf(json, "kubernetes_config_map_v1"))
        .map((m) => m.metadata.name)
        .sort(),
    ).toEqual([...serving, "dashboard-mlflow-pods", "dashboard-mlflow-sign-in", "dashboard-mlflow-tracking"]);
  });

  it("install mode takes region, identity mode, cluster and account from the configuration", () => {
    const config = envConfig("dev");
    expect(monitoringProps(config, deps).cloudWatch).toEqual({
      region: config.aws.region,
      dbInstanceIdentifier: "mlflow-dev",
      dbReplicaIdentifier: undefined,
      bucketName: "mlflow-dev-artifacts-111111111111",
      identityMode: config.identity.mode,
      clusterName: config.cluster.name,
      accountId: config.aws.accountId,
      oidcProviderArn: config.cluster.oidcProviderArn,
      roleName: `${config.project}-dev-grafana-cloudwatch`,
    });
  });

  it("without the database and bucket from the stack there is no CloudWatch dashboard", () => {
    expect(monitoringProps(envConfig("dev"), { trackingServer, authProxy }).cloudWatch).toBeUndefined();
  });
});

describe("CloudWatch in the environment stacks", () => {
  const dbRef = /^\$\{aws_db_instance\.backend_store_instance_[A-F0-9]+\.identifier\}$/;

  it.each(["dev", "staging", "prod"])("%s: the dashboard queries the backend store's instance and the artifact bucket", (name) => {
    const config = configured(name);
    const json = synthJson(config);
    const targets = allTargets(dashboardOf(json, "mlflow-data")!.model);
    const primary = targets.filter((t: any) => t.namespace === "AWS/RDS" && t.metricName !== "ReplicaLag");
    expect(primary.length).toBeGreaterThan(0);
    for (const t of primary.filter((x: any) => x.label !== "replica")) expect(t.dimensions.DBInstanceIdentifier).toMatch(dbRef);
    const bucket = resourcesOf(json, "aws_s3_bucket");
    const artifactBucket = Object.entries<any>(bucket).find(([k]) => k.startsWith("artifact_store_bucket_"))![1].bucket;
    for (const t of targets.filter((x: any) => x.namespace === "AWS/S3")) expect(t.dimensions.BucketName).toBe(artifactBucket);
    expect(grafanaValues(json).additionalDataSources[0].jsonData.defaultRegion).toBe(config.aws.region);
  });

  it("with a read replica, the replica panels query the replica instance", () => {
    const json = synthJson(envConfig("dev", { database: { readReplica: true, backupRetentionDays: 7 } }));
    const lag = allTargets(dashboardOf(json, "mlflow-data")!.model).filter((t: any) => t.metricName === "ReplicaLag");
    expect(lag.length).toBe(2);
    for (const t of lag)
      expect(t.dimensions.DBInstanceIdentifier).toMatch(/^\$\{aws_db_instance\.backend_store_replica_[A-F0-9]+\.identifier\}$/);
  });

  it("with IRSA, the Grafana role trusts the cluster's OIDC provider and no Grafana association exists", () => {
    const json = synthJson(envConfig("dev", { identity: { mode: "irsa" }, cluster: { oidcProviderArn: OIDC_ARN } }));
    expect(Object.keys(resourcesOf(json, "aws_eks_pod_identity_association")).filter((k) => k.startsWith("monitoring_"))).toEqual([]);
    expect(grafanaValues(json).serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toMatch(
      /^\$\{aws_iam_role\.monitoring_grafana_role_[A-F0-9]+\.arn\}$/,
    );
  });

  it("in existing mode the stack has no Grafana role and no CloudWatch dashboard", () => {
    const json = synthJson(envConfig("dev", { monitoring: { mode: "existing" } }));
    expect(Object.keys(resourcesOf(json, "aws_iam_role")).filter((k) => k.startsWith("monitoring_"))).toEqual([]);
    expect(dashboardOf(json, "mlflow-data")).toBeUndefined();
  });
});

describe("CloudWatch validation at synth", () => {
  const cases: [string, Partial<MonitoringProps>, RegExp][] = [
    [
      "CloudWatch in existing mode",
      { mode: "existing", cloudWatch },
      /cloudWatch is "mlflow-dev": expected no CloudWatch data source in "existing" mode/,
    ],
    ["a bad region", { cloudWatch: { ...cloudWatch, region: "Ireland" } }, /cloudWatch\.region is "Ireland": expected an AWS region/],
    [
      "IRSA without an OIDC provider",
      { cloudWatch: { ...cloudWatch, identityMode: "irsa" } },
      /cloudWatch\.oidcProviderArn is unset: expected the cluster's IAM OIDC provider ARN/,
    ],
    [
      "a role name too long",
      { cloudWatch: { ...cloudWatch, roleName: "r".repeat(65) } },
      /cloudWatch\.roleName is "r{65}": expected 1-64 characters/,
    ],
    [
      "a bucket name with capitals",
      { cloudWatch: { ...cloudWatch, bucketName: "Artifacts" } },
      /cloudWatch\.bucketName is "Artifacts": expected the artifact bucket's name/,
    ],
    [
      "a DB identifier with underscores",
      { cloudWatch: { ...cloudWatch, dbInstanceIdentifier: "mlflow_dev" } },
      /cloudWatch\.dbInstanceIdentifier is "mlflow_dev": expected an RDS instance identifier/,
    ],
    [
      "a short account id",
      { cloudWatch: { ...cloudWatch, accountId: "1234" } },
      /cloudWatch\.accountId is "1234": expected a 12-digit AWS account id/,
    ],
  ];
  it.each(cases)("refuses %s, naming the field", (_, props, message) => {
    expect(() => synthMonitoring(props)).toThrow(message);
  });
});
