/**
 * The backend store: the RDS PostgreSQL instance that holds MLflow's experiments, runs, metrics and
 * model registry, with its KMS key, network isolation, generated credentials (Secrets Manager and a
 * Kubernetes Secret), optional read replica, and CloudWatch alarms to an SNS topic.
 */
import { Construct } from "constructs";
import { Fn, Token } from "cdktf";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { DataAwsSubnets } from "@cdktf/provider-aws/lib/data-aws-subnets";
import { DbSubnetGroup } from "@cdktf/provider-aws/lib/db-subnet-group";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { DbParameterGroup } from "@cdktf/provider-aws/lib/db-parameter-group";
import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { Password } from "@cdktf/provider-random/lib/password";
import { StringResource } from "@cdktf/provider-random/lib/string-resource";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import type { BackendStoreContract } from "../core/contracts";
import { partitionOf } from "../core/aws";
import { POSTGRES_MIN_MAJOR, postgresParameters, rdsWindowProblems } from "../core/aws-limits";
import { stackKeyPolicy } from "../core/kms-key-policy";
import { PropError } from "../core/prop-error";
import { EMAIL } from "../core/names";

/** RDS instance classes: db.<family>.<size>, e.g. db.t4g.micro, db.r7g.2xlarge. */
export const RDS_INSTANCE_CLASS = /^db\.[a-z][a-z0-9-]*\.(micro|small|medium|large|xlarge|\d{1,2}xlarge|metal(-\d+xl)?)$/;
const IDENTIFIER = /^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$/;
const DB_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const MONITORING_INTERVALS = [0, 1, 5, 10, 15, 30, 60];
const PORT = 5432;
const GIB = 1024 ** 3;

/** Alarm thresholds. */
export interface BackendAlarmThresholds {
  /** Average CPU above this percentage for 15 minutes. @default 80 */
  readonly cpuPercent?: number;
  /**
   * Free storage below this percentage of the allocated storage. @default 5 with storage autoscaling (half
   * of where autoscaling starts: the alarm means autoscaling has not kept up, is cooling off or is at its
   * ceiling), 10 without (maxAllocatedStorageGb below 110% of allocatedStorageGb)
   */
  readonly freeStoragePercent?: number;
  /** Freeable memory below this many bytes for 15 minutes. @default 10% of the instance class's memory (256 MiB for an unknown class) */
  readonly freeableMemoryBytes?: number;
  /** Connections above this count for 15 minutes. @default 80% of PostgreSQL's default max_connections for the class (100 for an unknown class) */
  readonly connections?: number;
  /** Read replica lag above this many seconds for 15 minutes. @default 300 */
  readonly replicaLagSeconds?: number;
}

/** Props of {@link BackendStore}. */
export interface BackendStoreProps {
  /** RDS instance identifier (lower-case letters, digits, '-'), also the prefix of every other name. Required. */
  readonly identifier: string;
  /** AWS account id: it scopes the KMS key policy's service principals. Required. */
  readonly accountId: string;
  /**
   * IAM roles that administer the database's key through its key policy (the CI deploy role), roles of this
   * account (constructs/core/kms-key-policy.ts). @default [] (the account's IAM policies decide)
   */
  readonly keyAdministratorArns?: readonly string[];
  /** AWS region of the instance (CloudWatch Logs' service principal is regional). Required. */
  readonly region: string;
  /** Kubernetes namespace that receives the credentials Secret (pass the namespace resource's name so the Secret depends on it). Required. */
  readonly namespace: string;
  /** VPC of the EKS cluster. Required. */
  readonly vpcId: string;
  /**
   * Private subnets (at least two, in different AZs) for the DB subnet group.
   * @default - the subnets of `vpcId` tagged `kubernetes.io/role/internal-elb=1`, looked up at plan time
   */
  readonly subnetIds?: string[];
  /** The only security group admitted on port 5432 (the cluster's node or pod security group). Required. */
  readonly clientSecurityGroupId: string;
  /**
   * PostgreSQL version: either a major only (`"17"`: RDS picks the current minor at creation and
   * applies minor upgrades in the maintenance window, with no drift in Terraform), or an exact
   * major.minor (`"17.6"`: nothing upgrades it; it needs `autoMinorVersionUpgrade: false`, otherwise
   * RDS would upgrade the minor and every plan would try to downgrade it back).
   * @default "17"
   */
  readonly engineVersion?: string;
  /**
   * Apply minor engine upgrades in the maintenance window: true for a major-only `engineVersion`,
   * false for an exact one (any other combination is refused).
   * @default - true when `engineVersion` is a major only, false when it names a minor
   */
  readonly autoMinorVersionUpgrade?: boolean;
  /** RDS instance class. @default "db.t4g.micro" */
  readonly instanceClass?: string;
  /** Allocated gp3 storage in GiB (20-65536). @default 20 */
  readonly allocatedStorageGb?: number;
  /** Storage autoscaling ceiling in GiB, at least `allocatedStorageGb`. @default 100 */
  readonly maxAllocatedStorageGb?: number;
  /** A standby in another AZ. @default false */
  readonly multiAz?: boolean;
  /** RDS deletion protection. @default true */
  readonly deletionProtection?: boolean;
  /** Take a final snapshot (`<identifier>-final`) when the instance is destroyed. @default true */
  readonly finalSnapshot?: boolean;
  /** Automated backup retention in days (0-35; 0 disables backups). @default 7 */
  readonly backupRetentionDays?: number;
  /** Terraform `prevent_destroy` on the instance, its key, its secret and the replica. @default true */
  readonly preventDestroy?: boolean;
  /** A read replica (`--read-replica-backend-store-uri`). Needs backups (retention >= 1). @default false */
  readonly readReplica?: boolean;
  /** Database name. @default "mlflow" */
  readonly databaseName?: string;
  /** Daily backup window, UTC hh:mm-hh:mm. @default "02:00-03:00" */
  readonly backupWindow?: string;
  /** Weekly maintenance window, UTC ddd:hh:mm-ddd:hh:mm; must not overlap the backup window. @default "sun:04:00-sun:05:00" */
  readonly maintenanceWindow?: string;
  /** Enhanced monitoring interval in seconds (0, 1, 5, 10, 15, 30, 60; 0 turns it off). @default 60 */
  readonly monitoringIntervalSeconds?: number;
  /** Log statements slower than this many milliseconds (log_min_duration_statement). @default 1000 */
  readonly slowStatementMs?: number;
  /** Days the exported PostgreSQL logs are kept in CloudWatch Logs. @default 30 */
  readonly logRetentionDays?: number;
  /** Performance Insights retention in days (7 is free; 31-731 in months are paid). @default 7 */
  readonly performanceInsightsRetentionDays?: number;
  /** Name of the Kubernetes Secret with the credentials. @default "mlflow-db-credentials" */
  readonly secretName?: string;
  /** E-mail addresses subscribed to the alarm topic (each confirms by mail). @default [] */
  readonly alarmEmails?: string[];
  /** HTTPS endpoint subscribed to the alarm topic. @default - none */
  readonly alarmWebhookUrl?: string;
  /** Alarm thresholds. @default - see {@link BackendAlarmThresholds} */
  readonly alarmThresholds?: BackendAlarmThresholds;
}

/** Memory in GiB of common RDS classes, or undefined when the class is not in the table. */
export function instanceClassMemoryGiB(instanceClass: string): number | undefined {
  const m = /^db\.([a-z]+)(\d+)[a-z0-9-]*\.(micro|small|medium|large|xlarge|(\d{1,2})xlarge)$/.exec(instanceClass);
  if (!m) return undefined;
  const [, family, , size, multiple] = m;
  const perSize: Record<string, Record<string, number>> = {
    t: { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16 },
    m: { large: 8, xlarge: 16 },
    r: { large: 16, xlarge: 32 },
  };
  const table = perSize[family];
  if (!table) return undefined;
  if (multiple !== undefined) {
    if (family === "t") return multiple === "2" ? 32 : undefined;
    return table.xlarge * Number(multiple);
  }
  return table[size];
}

/**
 * Where RDS storage autoscaling starts a modification: free space at or below this percentage of the
 * allocated storage for five minutes (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html).
 * A free-storage alarm at the same level would fire at every autoscaling step.
 */
export const AUTOSCALING_FREE_PERCENT = 10;

/** Storage autoscaling is on when the ceiling is at least 10% above the allocated storage (RDS's minimum for max_allocated_storage). */
export function storageAutoscales(allocatedGb: number, maxAllocatedGb: number): boolean {
  return maxAllocatedGb * 10 >= allocatedGb * 11;
}

/** RDS PostgreSQL's default max_connections: LEAST(DBInstanceClassMemory / 9531392, 5000), with ~10% of memory reserved by the OS. */
export function defaultMaxConnections(memoryGiB: number): number {
  return Math.min(Math.floor((memoryGiB * GIB * 0.9) / 9531392), 5000);
}

/** The props with their defaults applied. */
function settingsOf(props: BackendStoreProps) {
  return {
    engineVersion: props.engineVersion ?? "17",
    autoMinorVersionUpgrade: props.autoMinorVersionUpgrade ?? !(props.engineVersion ?? "17").includes("."),
    instanceClass: props.instanceClass ?? "db.t4g.micro",
    allocatedStorageGb: props.allocatedStorageGb ?? 20,
    maxAllocatedStorageGb: props.maxAllocatedStorageGb ?? 100,
    multiAz: props.multiAz ?? false,
    deletionProtection: props.deletionProtection ?? true,
    finalSnapshot: props.finalSnapshot ?? true,
    backupRetentionDays: props.backupRetentionDays ?? 7,
    preventDestroy: props.preventDestroy ?? true,
    readReplica: props.readReplica ?? false,
    databaseName: props.databaseName ?? "mlflow",
    backupWindow: props.backupWindow ?? "02:00-03:00",
    maintenanceWindow: props.maintenanceWindow ?? "sun:04:00-sun:05:00",
    monitoringIntervalSeconds: props.monitoringIntervalSeconds ?? 60,
    slowStatementMs: props.slowStatementMs ?? 1000,
    logRetentionDays: props.logRetentionDays ?? 30,
    performanceInsightsRetentionDays: props.performanceInsightsRetentionDays ?? 7,
    secretName: props.secretName ?? "mlflow-db-credentials",
    alarmEmails: props.alarmEmails ?? [],
    keyAdministratorArns: props.keyAdministratorArns ?? [],
  };
}
type Settings = ReturnType<typeof settingsOf>;

/** Names and values derived from the props that several sections use. */
interface Derived {
  /** The instance identifier (the prefix of every name). */
  readonly id_: string;
  /** The engine's major version. */
  readonly major: string;
  readonly partition: string;
  /** Terraform's lifecycle of what must not be destroyed by a plan. */
  readonly lifecycle?: { readonly preventDestroy: boolean };
  /** Where RDS writes the instance's logs. */
  readonly logGroupPrefix: string;
}

/**
 * A private, encrypted RDS PostgreSQL instance for MLflow, reachable on 5432 from one security group.
 *
 * Creates: a KMS key (rotation on) for storage, Performance Insights, the secret, the log groups and
 * the alarm topic; a security group admitting only the client group on 5432 (no egress); a DB subnet
 * group; a parameter group forcing TLS >= 1.2 and logging slow statements; the instance (gp3,
 * autoscaling, backups, Performance Insights, enhanced monitoring, log exports, copy tags to
 * snapshots); generated credentials (URL-safe), stored in Secrets Manager and in a Kubernetes Secret;
 * optionally a read replica; CPU, storage, memory and connection alarms to an encrypted SNS topic.
 */
export class BackendStore extends Construct {
  /** What the tracking server needs. */
  readonly contract: BackendStoreContract;
  /** The SNS topic the database alarms publish to (monitoring can send its own alerts there). */
  readonly alarmTopicArn: string;
  /** The Secrets Manager secret with username, password, host, port and dbname (JSON). */
  readonly secretArn: string;
  readonly instance: DbInstance;
  readonly replica?: DbInstance;
  readonly securityGroup: SecurityGroup;
  readonly kmsKey: KmsKey;
  /** The Kubernetes Secret with the database credentials (what the tracking server's pods mount). */
  readonly kubernetesSecret: SecretV1;

  constructor(scope: Construct, id: string, props: BackendStoreProps) {
    super(scope, id);
    const p = settingsOf(props);
    this.validate(props, p);
    const major = p.engineVersion.split(".")[0];
    const d: Derived = {
      id_: props.identifier,
      major,
      partition: partitionOf(props.region),
      lifecycle: p.preventDestroy ? { preventDestroy: true } : undefined,
      logGroupPrefix: `/aws/rds/instance/${props.identifier}`,
    };

    this.kmsKey = this.createKey(props, p, d);
    const { subnetGroup, securityGroup } = this.createNetwork(props, d);
    this.securityGroup = securityGroup;
    const parameters = this.createParameterGroup(p, d);
    const monitoringRole = this.createMonitoringRole(props, p, d);
    const logGroups = this.createLogGroups(p, d);
    const { user, password } = this.createCredentials();
    ({ instance: this.instance, replica: this.replica } = this.createInstances(p, d, {
      subnetGroup,
      parameters,
      monitoringRole,
      logGroups,
      user,
      password,
    }));
    ({ secretArn: this.secretArn, kubernetesSecret: this.kubernetesSecret } = this.storeCredentials(props, p, d, user, password));
    this.alarmTopicArn = this.createAlarms(props, p, d);

    this.contract = {
      host: this.instance.address,
      port: PORT,
      database: p.databaseName,
      ...(this.replica ? { readReplicaHost: this.replica.address } : {}),
      credentials: { secretName: p.secretName, usernameKey: "username", passwordKey: "password" },
    };
  }

  /** KMS key: the instance, Performance Insights, the secret, the log groups and the topic. */
  private createKey(props: BackendStoreProps, p: Settings, d: Derived): KmsKey {
    const { id_, partition, lifecycle, logGroupPrefix } = d;
    const key = new KmsKey(this, "key", {
      description: `Encrypts the MLflow database ${id_}, its secret, logs and alarm topic`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      lifecycle,
      policy: stackKeyPolicy({
        partition,
        accountId: props.accountId,
        administratorArns: p.keyAdministratorArns,
        scope: this,
        extra: [
          {
            Sid: "CloudWatchAlarmsPublishToEncryptedTopic",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
            Resource: "*",
            Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
          },
          {
            Sid: "CloudWatchLogsEncryptDatabaseLogs",
            Effect: "Allow",
            Principal: { Service: `logs.${props.region}.amazonaws.com` },
            Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            Resource: "*",
            Condition: {
              ArnLike: {
                "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${props.region}:${props.accountId}:log-group:${logGroupPrefix}/*`,
              },
            },
          },
        ],
      }),
    });
    new KmsAlias(this, "key_alias", { name: `alias/${id_}-db`, targetKeyId: key.keyId });
    return key;
  }

  /** Network: private subnets, one client security group, nothing else. */
  private createNetwork(props: BackendStoreProps, d: Derived): { subnetGroup: DbSubnetGroup; securityGroup: SecurityGroup } {
    const { id_ } = d;
    const subnetIds =
      props.subnetIds && props.subnetIds.length > 0
        ? props.subnetIds
        : new DataAwsSubnets(this, "private_subnets", {
            filter: [
              { name: "vpc-id", values: [props.vpcId] },
              { name: "tag:kubernetes.io/role/internal-elb", values: ["1"] },
            ],
          }).ids;
    const subnetGroup = new DbSubnetGroup(this, "subnets", {
      name: `${id_}-db`,
      description: `Private subnets of the MLflow database ${id_}`,
      subnetIds,
    });
    const securityGroup = new SecurityGroup(this, "security_group", {
      name: `${id_}-db`,
      description: `MLflow database ${id_}: PostgreSQL from the cluster only`,
      vpcId: props.vpcId,
      revokeRulesOnDelete: true,
    });
    new VpcSecurityGroupIngressRule(this, "ingress_from_cluster", {
      securityGroupId: securityGroup.id,
      description: "PostgreSQL from the EKS cluster's security group",
      ipProtocol: "tcp",
      fromPort: PORT,
      toPort: PORT,
      referencedSecurityGroupId: props.clientSecurityGroupId,
    });
    return { subnetGroup, securityGroup };
  }

  /** TLS only, and the slow statement log. */
  private createParameterGroup(p: Settings, d: Derived): DbParameterGroup {
    const { id_, major } = d;
    const parameters = new DbParameterGroup(this, "parameters", {
      namePrefix: `${id_}-pg${major}-`,
      family: `postgres${major}`,
      description: `MLflow database ${id_}: TLS only, slow statement log`,
      // What the database must do; the values that are already the engine's defaults (TLS required from
      // PostgreSQL 15, TLS 1.2 at least from 13) are left out, or every plan would show them again.
      parameter: postgresParameters(Number(major), {
        "rds.force_ssl": "1",
        ssl_min_protocol_version: "TLSv1.2",
        log_min_duration_statement: String(p.slowStatementMs),
      }),
      lifecycle: { createBeforeDestroy: true },
    });
    return parameters;
  }

  /** Enhanced monitoring's role, when it is on. */
  private createMonitoringRole(props: BackendStoreProps, p: Settings, d: Derived): IamRole | undefined {
    const { id_, partition } = d;
    const monitoringRole =
      p.monitoringIntervalSeconds > 0
        ? new IamRole(this, "monitoring_role", {
            name: `${id_}-rds-monitoring`,
            description: `Enhanced monitoring of the MLflow database ${id_}`,
            assumeRolePolicy: JSON.stringify({
              Version: "2012-10-17",
              Statement: [
                {
                  Effect: "Allow",
                  Principal: { Service: "monitoring.rds.amazonaws.com" },
                  Action: "sts:AssumeRole",
                  Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
                },
              ],
            }),
          })
        : undefined;
    if (monitoringRole) {
      new IamRolePolicyAttachment(this, "monitoring_policy", {
        role: monitoringRole.name,
        policyArn: `arn:${partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole`,
      });
    }
    return monitoringRole;
  }

  /** The instance's log groups: created before it, so that RDS writes into encrypted groups with a retention. */
  private createLogGroups(p: Settings, d: Derived): CloudwatchLogGroup[] {
    const { logGroupPrefix } = d;
    const logGroups = ["postgresql", "upgrade"].map(
      (log) =>
        new CloudwatchLogGroup(this, `log_group_${log}`, {
          name: `${logGroupPrefix}/${log}`,
          retentionInDays: p.logRetentionDays,
          kmsKeyId: this.kmsKey.arn,
        }),
    );
    return logGroups;
  }

  /** Credentials: generated, URL-safe (they sit inside a postgresql:// URI). */
  private createCredentials(): { user: string; password: Password } {
    const username = new StringResource(this, "username", { length: 10, lower: true, upper: false, numeric: true, special: false });
    const password = new Password(this, "password", {
      length: 40,
      special: true,
      overrideSpecial: "-_",
      minLower: 2,
      minUpper: 2,
      minNumeric: 2,
    });
    const user = `mlflow${username.result}`;
    return { user, password };
  }

  /** The instance and, when asked, its read replica. */
  private createInstances(
    p: Settings,
    d: Derived,
    deps: {
      subnetGroup: DbSubnetGroup;
      parameters: DbParameterGroup;
      monitoringRole?: IamRole;
      logGroups: CloudwatchLogGroup[];
      user: string;
      password: Password;
    },
  ): { instance: DbInstance; replica?: DbInstance } {
    const { id_, lifecycle } = d;
    const { subnetGroup, parameters, monitoringRole, logGroups, user, password } = deps;
    const common = {
      instanceClass: p.instanceClass,
      storageType: "gp3",
      storageEncrypted: true,
      kmsKeyId: this.kmsKey.arn,
      maxAllocatedStorage: p.maxAllocatedStorageGb,
      publiclyAccessible: false,
      vpcSecurityGroupIds: [this.securityGroup.id],
      parameterGroupName: parameters.name,
      port: PORT,
      autoMinorVersionUpgrade: p.autoMinorVersionUpgrade,
      allowMajorVersionUpgrade: false,
      caCertIdentifier: "rds-ca-rsa2048-g1",
      copyTagsToSnapshot: true,
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: this.kmsKey.arn,
      performanceInsightsRetentionPeriod: p.performanceInsightsRetentionDays,
      monitoringInterval: p.monitoringIntervalSeconds,
      monitoringRoleArn: monitoringRole?.arn,
      enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
      maintenanceWindow: p.maintenanceWindow,
      deletionProtection: p.deletionProtection,
    };

    const instance = new DbInstance(this, "instance", {
      ...common,
      identifier: id_,
      engine: "postgres",
      engineVersion: p.engineVersion,
      allocatedStorage: p.allocatedStorageGb,
      dbName: p.databaseName,
      username: user,
      password: password.result,
      dbSubnetGroupName: subnetGroup.name,
      multiAz: p.multiAz,
      backupRetentionPeriod: p.backupRetentionDays,
      backupWindow: p.backupWindow,
      skipFinalSnapshot: !p.finalSnapshot,
      finalSnapshotIdentifier: p.finalSnapshot ? `${id_}-final` : undefined,
      deleteAutomatedBackups: !p.preventDestroy,
      dependsOn: logGroups,
      lifecycle,
    });

    let replica: DbInstance | undefined;
    if (p.readReplica) {
      replica = new DbInstance(this, "replica", {
        ...common,
        identifier: `${id_}-replica`,
        replicateSourceDb: instance.identifier,
        multiAz: false,
        backupRetentionPeriod: 0,
        skipFinalSnapshot: true,
        lifecycle,
      });
    }
    return { instance, replica };
  }

  /** Where the credentials live: Secrets Manager (KMS) and the tracking server's namespace. */
  private storeCredentials(
    props: BackendStoreProps,
    p: Settings,
    d: Derived,
    user: string,
    password: Password,
  ): { secretArn: string; kubernetesSecret: SecretV1 } {
    const { id_, lifecycle } = d;
    const secret = new SecretsmanagerSecret(this, "secret", {
      namePrefix: `${id_}-db-credentials-`,
      description: `Credentials of the MLflow database ${id_}`,
      kmsKeyId: this.kmsKey.arn,
      recoveryWindowInDays: p.preventDestroy ? 30 : 7,
      lifecycle,
    });
    new SecretsmanagerSecretVersion(this, "secret_value", {
      secretId: secret.id,
      secretString: Fn.jsonencode({
        engine: "postgres",
        host: this.instance.address,
        port: PORT,
        dbname: p.databaseName,
        username: user,
        password: password.result,
      }),
    });
    const kubernetesSecret = new SecretV1(this, "kubernetes_secret", {
      metadata: {
        name: p.secretName,
        namespace: props.namespace,
        labels: { "app.kubernetes.io/component": "backend-store", "app.kubernetes.io/managed-by": "cdktf" },
      },
      type: "Opaque",
      data: { username: user, password: password.result },
    });
    return { secretArn: secret.arn, kubernetesSecret };
  }

  /** The alarm topic, its subscriptions and the alarms; returns the topic's ARN. */
  private createAlarms(props: BackendStoreProps, p: Settings, d: Derived): string {
    const { id_ } = d;
    const topic = new SnsTopic(this, "alarm_topic", {
      name: `${id_}-db-alarms`,
      kmsMasterKeyId: this.kmsKey.arn,
    });
    new SnsTopicPolicy(this, "alarm_topic_policy", {
      arn: topic.arn,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "CloudWatchAlarmsPublish",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Resource: topic.arn,
            Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
          },
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "sns:Publish",
            Resource: topic.arn,
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    });
    p.alarmEmails.forEach(
      (email, i) => new SnsTopicSubscription(this, `alarm_email_${i}`, { topicArn: topic.arn, protocol: "email", endpoint: email }),
    );
    if (props.alarmWebhookUrl) {
      new SnsTopicSubscription(this, "alarm_webhook", { topicArn: topic.arn, protocol: "https", endpoint: props.alarmWebhookUrl });
    }

    const t = props.alarmThresholds ?? {};
    const memoryGiB = instanceClassMemoryGiB(p.instanceClass);
    const autoscaling = storageAutoscales(p.allocatedStorageGb, p.maxAllocatedStorageGb);
    const thresholds = {
      cpu: t.cpuPercent ?? 80,
      freeStorage: Math.floor(
        (p.allocatedStorageGb * GIB * (t.freeStoragePercent ?? (autoscaling ? AUTOSCALING_FREE_PERCENT / 2 : 10))) / 100,
      ),
      memory: t.freeableMemoryBytes ?? (memoryGiB ? Math.floor(memoryGiB * GIB * 0.1) : 256 * 1024 ** 2),
      connections: t.connections ?? (memoryGiB ? Math.floor(defaultMaxConnections(memoryGiB) * 0.8) : 100),
      replicaLag: t.replicaLagSeconds ?? 300,
    };
    // Missing data is not a breach for any of these: a high CPU, low memory or storage, many connections
    // or a lag are measured, not inferred from silence (while the instance is created there is none, and
    // "breaching" paged everyone then). A replica without lag data keeps its state ("missing"): it has
    // none until replication starts, and an instance that stops reporting is RDS's own event to tell.
    const alarm = (
      name: string,
      instanceId: string,
      spec: {
        metric: string;
        statistic: string;
        comparison: string;
        threshold: number;
        periods: number;
        what: string;
        missing?: "notBreaching" | "missing";
      },
    ) =>
      new CloudwatchMetricAlarm(this, `alarm_${name}`, {
        alarmName: `${instanceId}-${name.replaceAll("_", "-")}`,
        alarmDescription: `MLflow database ${instanceId}: ${spec.what}`,
        namespace: "AWS/RDS",
        metricName: spec.metric,
        dimensions: { DBInstanceIdentifier: instanceId },
        statistic: spec.statistic,
        period: 300,
        evaluationPeriods: spec.periods,
        comparisonOperator: spec.comparison,
        threshold: spec.threshold,
        treatMissingData: spec.missing ?? "notBreaching",
        alarmActions: [topic.arn],
        okActions: [topic.arn],
      });
    alarm("cpu", id_, {
      metric: "CPUUtilization",
      statistic: "Average",
      comparison: "GreaterThanThreshold",
      threshold: thresholds.cpu,
      periods: 3,
      what: `CPU above ${thresholds.cpu}% for 15 minutes`,
    });
    alarm("free_storage", id_, {
      metric: "FreeStorageSpace",
      statistic: "Minimum",
      comparison: "LessThanThreshold",
      threshold: thresholds.freeStorage,
      periods: 1,
      what: autoscaling
        ? `free storage below ${thresholds.freeStorage} bytes, under the ${AUTOSCALING_FREE_PERCENT}% at which storage autoscaling starts: it has not kept up, is cooling off, or is at its ceiling of ${p.maxAllocatedStorageGb} GiB (raise database.maxAllocatedStorageGb)`
        : `free storage below ${thresholds.freeStorage} bytes (no storage autoscaling: raise database.allocatedStorageGb)`,
    });
    alarm("freeable_memory", id_, {
      metric: "FreeableMemory",
      statistic: "Average",
      comparison: "LessThanThreshold",
      threshold: thresholds.memory,
      periods: 3,
      what: `freeable memory below ${thresholds.memory} bytes for 15 minutes`,
    });
    alarm("connections", id_, {
      metric: "DatabaseConnections",
      statistic: "Maximum",
      comparison: "GreaterThanThreshold",
      threshold: thresholds.connections,
      periods: 3,
      what: `more than ${thresholds.connections} connections for 15 minutes`,
    });
    if (this.replica) {
      alarm("replica_cpu", `${id_}-replica`, {
        metric: "CPUUtilization",
        statistic: "Average",
        comparison: "GreaterThanThreshold",
        threshold: thresholds.cpu,
        periods: 3,
        what: `replica CPU above ${thresholds.cpu}% for 15 minutes`,
      });
      alarm("replica_lag", `${id_}-replica`, {
        metric: "ReplicaLag",
        statistic: "Maximum",
        comparison: "GreaterThanThreshold",
        threshold: thresholds.replicaLag,
        periods: 3,
        what: `replica more than ${thresholds.replicaLag} s behind for 15 minutes`,
        missing: "missing",
      });
    }
    return topic.arn;
  }

  private validate(
    props: BackendStoreProps,
    p: Required<
      Omit<
        BackendStoreProps,
        | "identifier"
        | "accountId"
        | "region"
        | "namespace"
        | "vpcId"
        | "subnetIds"
        | "clientSecurityGroupId"
        | "alarmWebhookUrl"
        | "alarmThresholds"
      >
    >,
  ): void {
    const whole = (field: string, value: number, min: number, max: number) => {
      if (!Number.isInteger(value) || value < min || value > max)
        throw new PropError(this, field, value, `a whole number from ${min} to ${max}`);
    };
    if (!Token.isUnresolved(props.identifier) && (!IDENTIFIER.test(props.identifier) || props.identifier.length > 55)) {
      throw new PropError(
        this,
        "identifier",
        props.identifier,
        `2-55 lower-case letters, digits or single '-', starting with a letter and not ending with '-' (room is left for "-replica");`,
      );
    }
    if (!/^\d{2}(\.\d{1,2})?$/.test(p.engineVersion))
      throw new PropError(
        this,
        "engineVersion",
        p.engineVersion,
        `a PostgreSQL major version such as "17", or an exact major.minor such as "17.6"`,
      );
    if (p.autoMinorVersionUpgrade && p.engineVersion.includes(".")) {
      throw new PropError(
        this,
        "engineVersion",
        p.engineVersion,
        `a major version only (such as "${p.engineVersion.split(".")[0]}") when autoMinorVersionUpgrade is on: RDS upgrades the minor and Terraform would try to downgrade it back;`,
      );
    }
    if (!p.autoMinorVersionUpgrade && !p.engineVersion.includes(".")) {
      throw new PropError(
        this,
        "engineVersion",
        p.engineVersion,
        `the exact minor (such as "${p.engineVersion}.6") when autoMinorVersionUpgrade is off, or nothing would ever upgrade the instance`,
      );
    }
    if (Number(p.engineVersion.split(".")[0]) < POSTGRES_MIN_MAJOR)
      throw new PropError(
        this,
        "engineVersion",
        p.engineVersion,
        `PostgreSQL ${POSTGRES_MIN_MAJOR} or later (older majors are out of RDS standard support)`,
      );
    if (!RDS_INSTANCE_CLASS.test(p.instanceClass))
      throw new PropError(this, "instanceClass", p.instanceClass, `an RDS instance class such as "db.t4g.micro" or "db.r7g.large"`);
    whole("allocatedStorageGb", p.allocatedStorageGb, 20, 65536);
    whole("maxAllocatedStorageGb", p.maxAllocatedStorageGb, 20, 65536);
    if (p.maxAllocatedStorageGb < p.allocatedStorageGb) {
      throw new PropError(this, "maxAllocatedStorageGb", p.maxAllocatedStorageGb, `at least allocatedStorageGb (${p.allocatedStorageGb})`);
    }
    whole("backupRetentionDays", p.backupRetentionDays, 0, 35);
    if (p.readReplica && p.backupRetentionDays < 1)
      throw new PropError(
        this,
        "backupRetentionDays",
        p.backupRetentionDays,
        "at least 1 when readReplica is on (RDS needs backups to create a replica)",
      );
    if (!DB_NAME.test(p.databaseName))
      throw new PropError(
        this,
        "databaseName",
        p.databaseName,
        `a PostgreSQL identifier (lower-case letters, digits, '_', starting with a letter)`,
      );
    if (!MONITORING_INTERVALS.includes(p.monitoringIntervalSeconds))
      throw new PropError(this, "monitoringIntervalSeconds", p.monitoringIntervalSeconds, `one of ${MONITORING_INTERVALS.join(", ")}`);
    whole("slowStatementMs", p.slowStatementMs, 0, 3600000);
    if (
      ![1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653].includes(
        p.logRetentionDays,
      )
    ) {
      throw new PropError(
        this,
        "logRetentionDays",
        p.logRetentionDays,
        `a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)`,
      );
    }
    if (!(
      p.performanceInsightsRetentionDays === 7 ||
      p.performanceInsightsRetentionDays === 731 ||
      (p.performanceInsightsRetentionDays % 31 === 0 &&
        p.performanceInsightsRetentionDays >= 31 &&
        p.performanceInsightsRetentionDays <= 713)
    )) {
      throw new PropError(
        this,
        "performanceInsightsRetentionDays",
        p.performanceInsightsRetentionDays,
        `7, 731 or a multiple of 31 up to 713`,
      );
    }
    if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(p.secretName))
      throw new PropError(this, "secretName", p.secretName, `a Kubernetes object name (lower-case letters, digits, '-', '.')`);

    for (const problem of rdsWindowProblems(p.backupWindow, p.maintenanceWindow)) {
      throw new PropError(
        this,
        problem.field,
        problem.field === "backupWindow" ? p.backupWindow : p.maintenanceWindow,
        `${problem.expected}`,
      );
    }
    for (const [i, email] of p.alarmEmails.entries()) {
      if (!EMAIL.test(email)) throw new PropError(this, `alarmEmails[${i}]`, email, `an e-mail address`);
    }
    if (props.alarmWebhookUrl !== undefined && !/^https:\/\/[^\s/]+/.test(props.alarmWebhookUrl)) {
      // A webhook URL carries its credential (a Slack or Teams hook): never shown.
      throw new PropError(this, "alarmWebhookUrl", props.alarmWebhookUrl, "an https:// URL", { secret: true });
    }
    if (props.subnetIds && props.subnetIds.length === 1)
      throw new PropError(
        this,
        "subnetIds",
        props.subnetIds,
        "at least two subnets in different availability zones (an RDS requirement), or none to look them up",
      );
  }
}
