import { Testing, TerraformOutput, TerraformStack } from "cdktf";
import {
  AUTOSCALING_FREE_PERCENT,
  BackendStore,
  defaultMaxConnections,
  instanceClassMemoryGiB,
  storageAutoscales,
  type BackendStoreProps,
} from "../../../constructs/backend-store";
import { ConfigError } from "../../../config/load";
import { envConfig, resourcesOf, synthJson, type TfJson } from "../../helpers/synth";
import { parameterGroupProblems, POSTGRES_PARAMETER_DEFAULTS } from "../../../constructs/core/aws-limits";
import { venvPythonRun } from "../../helpers/mlflow-tool";

const byPrefix = (json: TfJson, type: string, prefix: string) => {
  const found = Object.entries(resourcesOf(json, type)).filter(([k]) => k.startsWith(prefix + "_"));
  if (found.length !== 1) throw new Error(`expected one ${type} named ${prefix}_*, found ${found.length}`);
  return found[0][1];
};
const ref = (json: TfJson, type: string, prefix: string, attr: string) => {
  const name = Object.keys(resourcesOf(json, type)).find((k) => k.startsWith(prefix + "_"));
  return `\${${type}.${name}.${attr}}`;
};
/** The database alarms (other issues may add alarms of their own to the stack). */
const alarms = (json: TfJson) =>
  Object.fromEntries(
    Object.values(resourcesOf(json, "aws_cloudwatch_metric_alarm"))
      .filter((a) => a.namespace === "AWS/RDS")
      .map((a) => [a.alarm_name, a]),
  );

const BASE: BackendStoreProps = {
  identifier: "mlflow-test",
  accountId: "123456789012",
  region: "eu-west-1",
  namespace: "mlflow",
  vpcId: "vpc-0123456789abcdef0",
  subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
  clientSecurityGroupId: "sg-0123456789abcdef0",
};
function synthStore(props: Partial<BackendStoreProps> = {}): { json: TfJson; store: BackendStore; stack: TerraformStack } {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  const store = new BackendStore(stack, "db", { ...BASE, ...props });
  return { json: JSON.parse(Testing.synth(stack)) as TfJson, store, stack };
}

const EXPECTED = {
  dev: {
    instance_class: "db.t4g.micro",
    allocated_storage: 20,
    max_allocated_storage: 50,
    multi_az: false,
    deletion_protection: false,
    skip_final_snapshot: true,
    backup_retention_period: 1,
  },
  staging: {
    instance_class: "db.t4g.small",
    allocated_storage: 20,
    max_allocated_storage: 100,
    multi_az: false,
    deletion_protection: true,
    skip_final_snapshot: false,
    backup_retention_period: 7,
  },
  prod: {
    instance_class: "db.r7g.large",
    allocated_storage: 100,
    max_allocated_storage: 1000,
    multi_az: true,
    deletion_protection: true,
    skip_final_snapshot: false,
    backup_retention_period: 14,
  },
} as Record<string, Record<string, unknown>>;

// Exact values of the fixture's environments (the policies check every configured environment's database).
describe.each(Object.keys(EXPECTED))("backend store in the fixture's %s", (env) => {
  const config = envConfig(env);
  const json = synthJson(config);
  const db = byPrefix(json, "aws_db_instance", "backend_store_instance");

  it("sizes, protects and backs up the instance per environment", () => {
    expect(db).toMatchObject(EXPECTED[env]);
    expect(db.final_snapshot_identifier).toBe(env === "dev" ? undefined : `mlflow-${env}-final`);
    expect(db.lifecycle?.prevent_destroy).toBe(env === "prod" ? true : undefined);
    expect(db.delete_automated_backups).toBe(env !== "prod");
  });

  it("is PostgreSQL 17 with minor auto-upgrades, encrypted gp3 storage with its own KMS key, and private", () => {
    expect(db).toMatchObject({
      identifier: `mlflow-${env}`,
      engine: "postgres",
      engine_version: "17",
      auto_minor_version_upgrade: true,
      allow_major_version_upgrade: false,
      storage_type: "gp3",
      storage_encrypted: true,
      kms_key_id: ref(json, "aws_kms_key", "backend_store_key", "arn"),
      publicly_accessible: false,
      port: 5432,
      db_name: "mlflow",
      ca_cert_identifier: "rds-ca-rsa2048-g1",
      copy_tags_to_snapshot: true,
      db_subnet_group_name: ref(json, "aws_db_subnet_group", "backend_store_subnets", "name"),
      vpc_security_group_ids: [ref(json, "aws_security_group", "backend_store_security_group", "id")],
    });
    expect(byPrefix(json, "aws_kms_key", "backend_store_key")).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30 });
  });

  it("has Performance Insights, enhanced monitoring, log exports to encrypted log groups, and the configured windows", () => {
    expect(db).toMatchObject({
      performance_insights_enabled: true,
      performance_insights_kms_key_id: ref(json, "aws_kms_key", "backend_store_key", "arn"),
      performance_insights_retention_period: 7,
      monitoring_interval: 60,
      monitoring_role_arn: ref(json, "aws_iam_role", "backend_store_monitoring_role", "arn"),
      enabled_cloudwatch_logs_exports: ["postgresql", "upgrade"],
      backup_window: "02:00-03:00",
      maintenance_window: "sun:04:00-sun:05:00",
    });
    const groups = Object.values(resourcesOf(json, "aws_cloudwatch_log_group")).filter((g) => g.name.startsWith("/aws/rds/"));
    expect(groups.map((g) => g.name).sort()).toEqual([
      `/aws/rds/instance/mlflow-${env}/postgresql`,
      `/aws/rds/instance/mlflow-${env}/upgrade`,
    ]);
    for (const g of groups)
      expect(g).toMatchObject({
        retention_in_days: env === "prod" ? 90 : 30,
        kms_key_id: ref(json, "aws_kms_key", "backend_store_key", "arn"),
      });
    expect(db.depends_on).toHaveLength(2);
    const role = byPrefix(json, "aws_iam_role", "backend_store_monitoring_role");
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal).toEqual({ Service: "monitoring.rds.amazonaws.com" });
    expect(byPrefix(json, "aws_iam_role_policy_attachment", "backend_store_monitoring_policy").policy_arn).toBe(
      "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
    );
  });

  it("logs statements slower than a second in its parameter group, and names no engine default (TLS 1.2+ is required by PostgreSQL 17's)", () => {
    const pg = byPrefix(json, "aws_db_parameter_group", "backend_store_parameters");
    expect(pg.family).toBe("postgres17");
    // rds.force_ssl=1 and ssl_min_protocol_version=TLSv1.2 are postgres17's defaults: named, every plan would show them again.
    expect(pg.parameter).toEqual([{ name: "log_min_duration_statement", value: "1000" }]);
    expect(parameterGroupProblems(pg.family, pg.parameter)).toEqual([]);
    expect(pg.lifecycle).toEqual({ create_before_destroy: true });
    expect(db.parameter_group_name).toBe(ref(json, "aws_db_parameter_group", "backend_store_parameters", "name"));
  });

  it("admits 5432 only from the cluster's security group, and nothing leaves", () => {
    const sg = byPrefix(json, "aws_security_group", "backend_store_security_group");
    expect(sg.vpc_id).toBe("${data.aws_eks_cluster.eks_cluster.vpc_config[0].vpc_id}");
    expect(sg.ingress).toBeUndefined();
    expect(sg.egress).toBeUndefined();
    const rules = Object.values(resourcesOf(json, "aws_vpc_security_group_ingress_rule")).filter(
      (r) => r.security_group_id === ref(json, "aws_security_group", "backend_store_security_group", "id"),
    );
    expect(rules).toEqual([
      {
        security_group_id: ref(json, "aws_security_group", "backend_store_security_group", "id"),
        description: "PostgreSQL from the EKS cluster's security group",
        ip_protocol: "tcp",
        from_port: 5432,
        to_port: 5432,
        referenced_security_group_id: "${data.aws_eks_cluster.eks_cluster.vpc_config[0].cluster_security_group_id}",
      },
    ]);
    const mine = ref(json, "aws_security_group", "backend_store_security_group", "id");
    expect(Object.values(resourcesOf(json, "aws_vpc_security_group_egress_rule")).filter((r) => r.security_group_id === mine)).toEqual([]);
  });

  it("places the database in the cluster VPC's internal subnets when none are configured", () => {
    const lookup = Object.values(json.data?.aws_subnets ?? {});
    expect(lookup).toEqual([
      {
        filter: [
          { name: "vpc-id", values: ["${data.aws_eks_cluster.eks_cluster.vpc_config[0].vpc_id}"] },
          { name: "tag:kubernetes.io/role/internal-elb", values: ["1"] },
        ],
      },
    ]);
    expect(byPrefix(json, "aws_db_subnet_group", "backend_store_subnets").subnet_ids).toMatch(
      /^\$\{data\.aws_subnets\.backend_store_private_subnets_[0-9A-F]+\.ids\}$/,
    );
  });

  it("generates URL-safe credentials and keeps them in KMS-encrypted Secrets Manager and a Kubernetes Secret, never literally", () => {
    expect(byPrefix(json, "random_password", "backend_store_password")).toEqual({
      length: 40,
      special: true,
      override_special: "-_",
      min_lower: 2,
      min_upper: 2,
      min_numeric: 2,
    });
    expect(byPrefix(json, "random_string", "backend_store_username")).toEqual({
      length: 10,
      lower: true,
      upper: false,
      numeric: true,
      special: false,
    });
    const password = ref(json, "random_password", "backend_store_password", "result");
    const username = `mlflow${ref(json, "random_string", "backend_store_username", "result")}`;
    expect(db.password).toBe(password);
    expect(db.username).toBe(username);
    expect(byPrefix(json, "aws_secretsmanager_secret", "backend_store_secret")).toMatchObject({
      name_prefix: `mlflow-${env}-db-credentials-`,
      kms_key_id: ref(json, "aws_kms_key", "backend_store_key", "arn"),
      recovery_window_in_days: env === "prod" ? 30 : 7,
    });
    const value = byPrefix(json, "aws_secretsmanager_secret_version", "backend_store_secret_value").secret_string as string;
    expect(value.startsWith("${jsonencode(")).toBe(true);
    expect(value).toContain(password.slice(2, -1));
    const secret = byPrefix(json, "kubernetes_secret_v1", "backend_store_kubernetes_secret");
    expect(secret).toEqual({
      metadata: {
        name: "mlflow-db-credentials",
        namespace: "${kubernetes_namespace_v1.namespace.metadata[0].name}",
        labels: { "app.kubernetes.io/component": "backend-store", "app.kubernetes.io/managed-by": "cdktf" },
      },
      type: "Opaque",
      data: { username, password },
    });
  });

  it("alarms on CPU, free storage, freeable memory and connections to an encrypted topic with the configured subscribers", () => {
    const topic = byPrefix(json, "aws_sns_topic", "backend_store_alarm_topic");
    expect(topic).toEqual({ name: `mlflow-${env}-db-alarms`, kms_master_key_id: ref(json, "aws_kms_key", "backend_store_key", "arn") });
    const topicArn = ref(json, "aws_sns_topic", "backend_store_alarm_topic", "arn");
    const a = alarms(json);
    expect(Object.keys(a).sort()).toEqual([
      `mlflow-${env}-connections`,
      `mlflow-${env}-cpu`,
      `mlflow-${env}-free-storage`,
      `mlflow-${env}-freeable-memory`,
    ]);
    for (const alarm of Object.values(a)) {
      // No data (while the instance is created, for one) is not a breach: "breaching" paged everyone then.
      expect(alarm).toMatchObject({
        namespace: "AWS/RDS",
        dimensions: { DBInstanceIdentifier: `mlflow-${env}` },
        alarm_actions: [topicArn],
        ok_actions: [topicArn],
        period: 300,
        treat_missing_data: "notBreaching",
      });
    }
    expect(a[`mlflow-${env}-cpu`]).toMatchObject({
      metric_name: "CPUUtilization",
      comparison_operator: "GreaterThanThreshold",
      threshold: 80,
      evaluation_periods: 3,
    });
    const storage = EXPECTED[env].allocated_storage as number;
    // Storage autoscaling (on in every fixture environment) starts at 10% free: the alarm sits at half that,
    // where it means autoscaling has not kept up or is at its ceiling; at 10% it fired on every step.
    expect(a[`mlflow-${env}-free-storage`]).toMatchObject({
      metric_name: "FreeStorageSpace",
      statistic: "Minimum",
      comparison_operator: "LessThanThreshold",
      threshold: Math.floor(storage * 1024 ** 3 * 0.05),
    });
    expect(a[`mlflow-${env}-free-storage`].threshold).toBeLessThan((storage * 1024 ** 3 * AUTOSCALING_FREE_PERCENT) / 100);
    expect(a[`mlflow-${env}-free-storage`].alarm_description).toMatch(/under the 10% at which storage autoscaling starts/);
    const memory = { dev: 1, staging: 2, prod: 16 }[env]!;
    expect(a[`mlflow-${env}-freeable-memory`]).toMatchObject({
      metric_name: "FreeableMemory",
      threshold: Math.floor(memory * 1024 ** 3 * 0.1),
    });
    expect(a[`mlflow-${env}-connections`]).toMatchObject({
      metric_name: "DatabaseConnections",
      threshold: Math.floor(defaultMaxConnections(memory) * 0.8),
    });
    const subs = Object.values(resourcesOf(json, "aws_sns_topic_subscription")).filter((x) => x.topic_arn === topicArn);
    expect(subs).toEqual(config.notifications.emails.map((endpoint) => ({ topic_arn: topicArn, protocol: "email", endpoint })));
    const policy = JSON.parse(byPrefix(json, "aws_sns_topic_policy", "backend_store_alarm_topic_policy").policy);
    expect(policy.Statement[0]).toMatchObject({
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: "sns:Publish",
      Condition: { StringEquals: { "aws:SourceAccount": config.aws.accountId } },
    });
  });

  it("lets CloudWatch use the key for the alarm topic and CloudWatch Logs only for this database's log groups", () => {
    const key = JSON.parse(byPrefix(json, "aws_kms_key", "backend_store_key").policy);
    const sid = (s: string) => key.Statement.find((x: Record<string, unknown>) => x.Sid === s);
    expect(sid("AccountAdministersKeyThroughIam").Principal).toEqual({ AWS: `arn:aws:iam::${config.aws.accountId}:root` });
    expect(sid("CloudWatchAlarmsPublishToEncryptedTopic")).toMatchObject({
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
    });
    expect(sid("CloudWatchLogsEncryptDatabaseLogs").Condition).toEqual({
      ArnLike: {
        "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${config.aws.region}:${config.aws.accountId}:log-group:/aws/rds/instance/${config.project}-${env}/*`,
      },
    });
  });

  it("has no read replica by default", () => {
    expect(Object.keys(resourcesOf(json, "aws_db_instance"))).toHaveLength(1);
  });
});

describe("backend store options", () => {
  it("creates an encrypted, private read replica with its own alarms, exposed in the contract", () => {
    const json = synthJson(envConfig("prod", { database: { readReplica: true } }));
    const replica = byPrefix(json, "aws_db_instance", "backend_store_replica");
    expect(replica).toMatchObject({
      identifier: "mlflow-prod-replica",
      replicate_source_db: ref(json, "aws_db_instance", "backend_store_instance", "identifier"),
      storage_encrypted: true,
      publicly_accessible: false,
      multi_az: false,
      backup_retention_period: 0,
      skip_final_snapshot: true,
      instance_class: "db.r7g.large",
      performance_insights_enabled: true,
      lifecycle: { prevent_destroy: true },
    });
    expect(replica.password).toBeUndefined();
    expect(replica.username).toBeUndefined();
    const a = alarms(json);
    expect(a["mlflow-prod-replica-replica-lag"]).toMatchObject({
      metric_name: "ReplicaLag",
      threshold: 300,
      dimensions: { DBInstanceIdentifier: "mlflow-prod-replica" },
    });
    expect(a["mlflow-prod-replica-replica-cpu"]).toMatchObject({ metric_name: "CPUUtilization" });

    const { store, stack } = synthStore({ readReplica: true });
    new TerraformOutput(stack, "replica_host", { value: store.contract.readReplicaHost });
    const out = JSON.parse(Testing.synth(stack)) as TfJson;
    expect(out.output?.replica_host.value).toMatch(/^\$\{aws_db_instance\.db_replica_[0-9A-F]+\.address\}$/);
  });

  it("exposes host, port, database and the Secret's name and keys in its contract, and the alarm topic", () => {
    const { store, stack } = synthStore();
    expect(store.contract.port).toBe(5432);
    expect(store.contract.database).toBe("mlflow");
    expect(store.contract.readReplicaHost).toBeUndefined();
    expect(store.contract.credentials).toEqual({ secretName: "mlflow-db-credentials", usernameKey: "username", passwordKey: "password" });
    new TerraformOutput(stack, "host", { value: store.contract.host });
    new TerraformOutput(stack, "topic", { value: store.alarmTopicArn });
    new TerraformOutput(stack, "secret", { value: store.secretArn });
    const json = JSON.parse(Testing.synth(stack)) as TfJson;
    expect(json.output?.host.value).toMatch(/^\$\{aws_db_instance\.db_instance_[0-9A-F]+\.address\}$/);
    expect(json.output?.topic.value).toMatch(/^\$\{aws_sns_topic\.db_alarm_topic_[0-9A-F]+\.arn\}$/);
    expect(json.output?.secret.value).toMatch(/^\$\{aws_secretsmanager_secret\.db_secret_[0-9A-F]+\.arn\}$/);
  });

  it("uses configured subnets and client security group instead of looking them up", () => {
    const json = synthJson(
      envConfig("staging", {
        cluster: {
          privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
          clientSecurityGroupId: "sg-0bbbbbbbbbbbbbbb1",
        },
      }),
    );
    expect(json.data?.aws_subnets).toBeUndefined();
    expect(byPrefix(json, "aws_db_subnet_group", "backend_store_subnets").subnet_ids).toEqual([
      "subnet-0aaaaaaaaaaaaaaa1",
      "subnet-0aaaaaaaaaaaaaaa2",
    ]);
    const rule = Object.values(resourcesOf(json, "aws_vpc_security_group_ingress_rule")).find((r) => r.from_port === 5432)!;
    expect(rule.referenced_security_group_id).toBe("sg-0bbbbbbbbbbbbbbb1");
  });

  it("subscribes a webhook, and derives thresholds for unknown classes from fixed fallbacks", () => {
    const { json } = synthStore({
      alarmWebhookUrl: "https://events.example.com/sns",
      alarmEmails: ["a@example.com", "b@example.com"],
      instanceClass: "db.x2g.large",
    });
    const subs = Object.values(resourcesOf(json, "aws_sns_topic_subscription"));
    expect(subs.map((s) => [s.protocol, s.endpoint])).toEqual([
      ["email", "a@example.com"],
      ["email", "b@example.com"],
      ["https", "https://events.example.com/sns"],
    ]);
    const a = alarms(json);
    expect(a["mlflow-test-freeable-memory"].threshold).toBe(256 * 1024 ** 2);
    expect(a["mlflow-test-connections"].threshold).toBe(100);
  });

  it("turns enhanced monitoring off without a role, and keeps an exact engine version without auto-upgrades", () => {
    const { json } = synthStore({ monitoringIntervalSeconds: 0, autoMinorVersionUpgrade: false, engineVersion: "16.4" });
    const db = byPrefix(json, "aws_db_instance", "db_instance");
    expect(db.monitoring_interval).toBe(0);
    expect(db.monitoring_role_arn).toBeUndefined();
    expect(resourcesOf(json, "aws_iam_role")).toEqual({});
    expect(db.engine_version).toBe("16.4");
    expect(db.auto_minor_version_upgrade).toBe(false);
    expect(byPrefix(json, "aws_db_parameter_group", "db_parameters").family).toBe("postgres16");
  });

  it.each([
    [
      "13",
      [
        { name: "rds.force_ssl", value: "1" },
        { name: "log_min_duration_statement", value: "1000" },
      ],
    ],
    [
      "14",
      [
        { name: "rds.force_ssl", value: "1" },
        { name: "log_min_duration_statement", value: "1000" },
      ],
    ],
    ["15", [{ name: "log_min_duration_statement", value: "1000" }]],
    ["16", [{ name: "log_min_duration_statement", value: "1000" }]],
  ])(
    "PostgreSQL %s: TLS is required (by the parameter group where the engine's default does not), and no parameter repeats a default",
    (major, parameters) => {
      const { json } = synthStore({ engineVersion: major });
      const pg = byPrefix(json, "aws_db_parameter_group", "db_parameters");
      expect(pg.parameter).toEqual(parameters);
      expect(parameterGroupProblems(pg.family, pg.parameter)).toEqual([]);
      // Required either way: named where the default is off, by the default from 15 on.
      expect(
        pg.parameter.find((p: any) => p.name === "rds.force_ssl")?.value ??
          POSTGRES_PARAMETER_DEFAULTS["rds.force_ssl"].value(Number(major)),
      ).toBe("1");
    },
  );

  it("the engine-default rule flags a parameter equal to its family's default, and one it has no row for", () => {
    expect(parameterGroupProblems("postgres17", [{ name: "rds.force_ssl", value: "1" }]).join()).toMatch(
      /rds.force_ssl = 1 is the postgres17 default: every plan would show its apply_method again/,
    );
    expect(parameterGroupProblems("postgres14", [{ name: "rds.force_ssl", value: "1" }])).toEqual([]);
    expect(parameterGroupProblems("postgres17", [{ name: "ssl_min_protocol_version", value: "TLSv1.2" }]).join()).toMatch(
      /is the postgres17 default/,
    );
    expect(parameterGroupProblems("postgres17", [{ name: "work_mem", value: "65536" }]).join()).toMatch(
      /work_mem: no engine default recorded for it/,
    );
  });

  it("without storage autoscaling (a ceiling under 110% of the allocation) the free-storage alarm sits at 10%; a replica without lag data keeps its state", () => {
    const { json } = synthStore({ allocatedStorageGb: 100, maxAllocatedStorageGb: 105, readReplica: true });
    const a = alarms(json);
    expect(storageAutoscales(100, 105)).toBe(false);
    expect(storageAutoscales(100, 110)).toBe(true);
    expect(a["mlflow-test-free-storage"].threshold).toBe(Math.floor(100 * 1024 ** 3 * 0.1));
    expect(a["mlflow-test-free-storage"].alarm_description).toMatch(/no storage autoscaling/);
    const lag = Object.values(a).find((x: any) => x.metric_name === "ReplicaLag") as any;
    expect(lag.treat_missing_data).toBe("missing");
    expect(
      Object.values(a)
        .filter((x: any) => x.metric_name !== "ReplicaLag")
        .every((x: any) => x.treat_missing_data === "notBreaching"),
    ).toBe(true);
  });

  it("knows the memory of common classes", () => {
    expect(instanceClassMemoryGiB("db.t4g.micro")).toBe(1);
    expect(instanceClassMemoryGiB("db.t4g.small")).toBe(2);
    expect(instanceClassMemoryGiB("db.m7g.2xlarge")).toBe(32);
    expect(instanceClassMemoryGiB("db.r7g.large")).toBe(16);
    expect(instanceClassMemoryGiB("db.r6i.4xlarge")).toBe(128);
    expect(instanceClassMemoryGiB("db.x2g.large")).toBeUndefined();
    expect(defaultMaxConnections(1)).toBe(101);
    expect(defaultMaxConnections(1024)).toBe(5000);
  });
});

describe("backend store validation", () => {
  it.each<[string, Partial<BackendStoreProps>, RegExp]>([
    [
      "an instance class that is not an RDS class",
      { instanceClass: "t3.micro" },
      /test\/db: instanceClass is "t3.micro": expected an RDS instance class such as "db.t4g.micro" or "db.r7g.large"/,
    ],
    [
      "backup retention above the RDS limit",
      { backupRetentionDays: 36 },
      /backupRetentionDays is 36: expected a whole number from 0 to 35/,
    ],
    ["negative backup retention", { backupRetentionDays: -1 }, /backupRetentionDays is -1: expected a whole number from 0 to 35/],
    [
      "a storage maximum below the allocated size",
      { allocatedStorageGb: 100, maxAllocatedStorageGb: 50 },
      /maxAllocatedStorageGb is 50: expected at least allocatedStorageGb \(100\)/,
    ],
    ["storage below the RDS minimum", { allocatedStorageGb: 10 }, /allocatedStorageGb is 10: expected a whole number from 20 to 65536/],
    [
      "a replica without backups",
      { readReplica: true, backupRetentionDays: 0 },
      /backupRetentionDays is .*: expected at least 1 when readReplica is on/,
    ],
    ["an old engine", { engineVersion: "12.22" }, /engineVersion is .*: expected PostgreSQL 13 or later/],
    [
      "a malformed engine version",
      { engineVersion: "17.x" },
      /engineVersion is "17\.x": expected a PostgreSQL major version such as "17", or an exact major\.minor such as "17\.6"/,
    ],
    [
      "an exact minor with automatic minor upgrades",
      { engineVersion: "17.6", autoMinorVersionUpgrade: true },
      /engineVersion is .*: expected a major version only \(such as "17"\) when autoMinorVersionUpgrade is on/,
    ],
    [
      "a major only without automatic minor upgrades",
      { engineVersion: "17", autoMinorVersionUpgrade: false },
      /engineVersion is "17": expected the exact minor/,
    ],
    ["an invalid identifier", { identifier: "MLflow_DB" }, /identifier is .*: expected 2-55 lower-case letters/],
    [
      "a monitoring interval RDS does not offer",
      { monitoringIntervalSeconds: 20 },
      /monitoringIntervalSeconds is 20: expected one of 0, 1, 5, 10, 15, 30, 60/,
    ],
    [
      "a maintenance window overlapping the backup window",
      { backupWindow: "03:00-04:00", maintenanceWindow: "tue:03:30-tue:04:30" },
      /maintenanceWindow is .*: expected a window that does not overlap the daily backup window 03:00-04:00/,
    ],
    [
      "a maintenance window overlapping a backup window across midnight",
      { backupWindow: "23:30-00:30", maintenanceWindow: "mon:00:00-mon:01:00" },
      /does not overlap the daily backup window 23:30-00:30/,
    ],
    [
      "a single subnet",
      { subnetIds: ["subnet-0123456789abcdef0"] },
      /subnetIds is \["subnet-0123456789abcdef0"\]: expected at least two subnets/,
    ],
    ["a log retention CloudWatch does not offer", { logRetentionDays: 10 }, /logRetentionDays is .*: expected a CloudWatch Logs retention/],
    ["a plain-HTTP webhook", { alarmWebhookUrl: "http://hooks.example.com" }, /alarmWebhookUrl is .*: expected an https:\/\/ URL/],
  ])("rejects %s at synth", (_what, props, message) => {
    expect(() => synthStore(props)).toThrow(message);
  });

  it("accepts adjacent, non-overlapping windows", () => {
    expect(() => synthStore({ backupWindow: "02:00-03:00", maintenanceWindow: "sun:03:00-sun:04:00" })).not.toThrow();
  });

  it("reports bad database settings in the environment configuration, naming environment, field and range", () => {
    expect(() => envConfig("prod", { database: { backupRetentionDays: 40 } })).toThrow(ConfigError);
    expect(() => envConfig("prod", { database: { backupRetentionDays: 40 } })).toThrow(
      /environment "prod": field database\.backupRetentionDays = 40: expected days: a whole number from 0 to 35/,
    );
    expect(() => envConfig("dev", { database: { instanceClass: "m5.large" } })).toThrow(
      /environment "dev": field database\.instanceClass = "m5\.large": expected an RDS instance class/,
    );
    expect(() => envConfig("staging", { database: { allocatedStorageGb: 200, maxAllocatedStorageGb: 100 } })).toThrow(
      /environment "staging": field database\.maxAllocatedStorageGb = 100: expected at least allocatedStorageGb \(200\)/,
    );
  });
});

describe("credentials inside a connection URI (real SQLAlchemy from the tools venv)", () => {
  it("round-trips every character the password generator may use without escaping", async () => {
    // Every character random_password can emit with override_special "-_".
    const password = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const script = [
      "import sys",
      "from sqlalchemy.engine import make_url",
      "u = make_url(f'postgresql+psycopg2://mlflowab12cd34ef:{sys.argv[1]}@db.internal:5432/mlflow')",
      "print(u.username); print(u.password); print(u.host); print(u.port); print(u.database)",
    ].join("\n");
    const run = await venvPythonRun(script, [password]);
    expect(run.code).toBe(0);
    expect(run.output.trim().split("\n")).toEqual(["mlflowab12cd34ef", password, "db.internal", "5432", "mlflow"]);
    // Starting the venv's Python and importing SQLAlchemy takes 4-5 s on a loaded 2-core machine: jest's 5 s
    // default made this a timing test (it failed in the fork check under load); this is no speed target.
  }, 60_000);
});
