/**
 * The configuration field behind each prop stacks/mlflow-stack.ts sets inline, from configuration, on
 * the constructs it builds without a from-config module (null: derived names, the stack's wiring,
 * construct defaults). The from-config modules declare theirs beside their mapping; stacks/prop-errors.ts
 * reports a construct's refusal against these fields. Keep each map next to its construct's block of
 * mlflow-stack.ts in mind: a prop the stack starts to set from configuration belongs here.
 */
import type { PropFieldMap } from "../constructs/core/prop-error";

/** ArtifactStore ("artifact_store"). */
export const ARTIFACT_STORE_FIELDS: PropFieldMap = {
  bucketName: "artifacts.bucketName",
  prefix: "artifacts.prefix",
  forceDestroy: "artifacts.forceDestroy",
  preventDestroy: "production",
  lifecycle: "artifacts",
  "archive.tag": null,
  "archive.transitionDays": "registry.retention.graceDays",
  "archive.storageClass": "registry.retention.storageClass",
  "archive.expireDays": "registry.retention.deleteAfterDays",
  expiringPrefixes: "serving.models",
  accessLogging: "artifacts.accessLogging",
  accessLogRetentionDays: null,
  kmsDeletionWindowDays: null,
  replicationRegion: "artifacts.replicationRegion",
  region: "aws.region",
  accountId: "aws.accountId",
  keyAdministratorArns: "ci.deployRoleName",
};

/** BackendStore ("backend_store"). */
export const BACKEND_STORE_FIELDS: PropFieldMap = {
  identifier: "name",
  accountId: "aws.accountId",
  keyAdministratorArns: "ci.deployRoleName",
  region: "aws.region",
  namespace: "mlflow.namespace",
  vpcId: null,
  subnetIds: "cluster.privateSubnetIds",
  clientSecurityGroupId: "cluster.clientSecurityGroupId",
  engineVersion: "database.engineVersion",
  instanceClass: "database.instanceClass",
  allocatedStorageGb: "database.allocatedStorageGb",
  maxAllocatedStorageGb: "database.maxAllocatedStorageGb",
  multiAz: "database.multiAz",
  deletionProtection: "database.deletionProtection",
  finalSnapshot: "database.finalSnapshot",
  backupRetentionDays: "database.backupRetentionDays",
  preventDestroy: "production",
  readReplica: "database.readReplica",
  databaseName: "database.name",
  backupWindow: "database.backupWindow",
  maintenanceWindow: "database.maintenanceWindow",
  monitoringIntervalSeconds: "database.monitoringIntervalSeconds",
  slowStatementMs: "database.slowStatementMs",
  logRetentionDays: "production",
  alarmEmails: "notifications.emails",
  alarmWebhookUrl: "notifications.webhookUrl",
  performanceInsightsRetentionDays: null,
  secretName: null,
};

/** TrackingIdentity ("tracking_identity"), and the WorkloadRole it is made of. */
export const TRACKING_IDENTITY_FIELDS: PropFieldMap = {
  mode: "identity.mode",
  clusterName: "cluster.name",
  namespace: "mlflow.namespace",
  roleName: "name",
  accountId: "aws.accountId",
  region: "aws.region",
  oidcProviderArn: "cluster.oidcProviderArn",
  artifacts: null,
  artifactPrefix: "artifacts.prefix",
  serviceAccountName: null,
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};

/** WorkloadBoundary ("workload_boundary"). */
export const WORKLOAD_BOUNDARY_FIELDS: PropFieldMap = {
  name: "name",
  bucketNames: "artifacts.bucketName",
  region: "aws.region",
};

/** The props of an API client CronJob built on constructs/api-client-cron-job.ts (its WorkloadRole included). */
const API_CLIENT_CRON_JOB_FIELDS: PropFieldMap = {
  namespace: "mlflow.namespace",
  name: "project",
  command: null,
  podLabels: null,
  labels: null,
  bucketArn: null,
  clusterName: "cluster.name",
  accountId: "aws.accountId",
  region: "aws.region",
  roleName: "name",
  identityMode: "identity.mode",
  oidcProviderArn: "cluster.oidcProviderArn",
  serviceAccountName: null,
  deadlineSeconds: null,
  runAsUser: null,
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};

/** ModelRetention ("model_retention"). */
export const MODEL_RETENTION_FIELDS: PropFieldMap = {
  ...API_CLIENT_CRON_JOB_FIELDS,
  schedule: "registry.retention.schedule",
  artifactPrefix: "artifacts.prefix",
};

/** DriftJob ("drift_<model>") of `modelName`. */
export function driftJobFields(modelName: string): PropFieldMap {
  return {
    ...API_CLIENT_CRON_JOB_FIELDS,
    name: "project",
    schedule: `serving.models.${modelName}.drift.schedule`,
    kmsKeyArn: null,
    logPrefix: null,
  };
}

/** LoadBalancerController ("load_balancer_controller"), and its WorkloadRole. */
export const LOAD_BALANCER_CONTROLLER_FIELDS: PropFieldMap = {
  clusterName: "cluster.name",
  region: "aws.region",
  vpcId: null,
  accountId: "aws.accountId",
  identityMode: "identity.mode",
  oidcProviderArn: "cluster.oidcProviderArn",
  roleName: "name",
  replicas: null,
  chartVersion: null,
  namespace: null,
  serviceAccountName: null,
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};

/** ArgoRollouts ("argo_rollouts"). */
export const ARGO_ROLLOUTS_FIELDS: PropFieldMap = {
  namespace: "serving.delivery.controllerNamespace",
  labels: "project",
  chartVersion: null,
  replicas: null,
};
