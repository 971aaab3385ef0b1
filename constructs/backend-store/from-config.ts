/**
 * Maps an environment's configuration (`database`, `notifications`) onto the BackendStore construct's props:
 * the one place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import { keyAdministratorArns } from "../../config/ci";
import type { BackendStoreProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** What the stack passes besides the configuration: names and the cluster's network. */
export type BackendStoreDependencies = Pick<
  BackendStoreProps,
  "identifier" | "namespace" | "vpcId" | "subnetIds" | "clientSecurityGroupId"
>;

/** The BackendStore props of an environment. */
export function backendStoreProps(config: EnvironmentConfig, deps: BackendStoreDependencies): BackendStoreProps {
  const dbCfg = config.database;
  return {
    identifier: deps.identifier,
    accountId: config.aws.accountId,
    keyAdministratorArns: keyAdministratorArns(config),
    region: config.aws.region,
    namespace: deps.namespace,
    vpcId: deps.vpcId,
    subnetIds: deps.subnetIds,
    clientSecurityGroupId: deps.clientSecurityGroupId,
    engineVersion: dbCfg.engineVersion,
    instanceClass: dbCfg.instanceClass,
    allocatedStorageGb: dbCfg.allocatedStorageGb,
    maxAllocatedStorageGb: dbCfg.maxAllocatedStorageGb,
    multiAz: dbCfg.multiAz,
    deletionProtection: dbCfg.deletionProtection,
    finalSnapshot: dbCfg.finalSnapshot,
    backupRetentionDays: dbCfg.backupRetentionDays,
    preventDestroy: config.production,
    readReplica: dbCfg.readReplica,
    databaseName: dbCfg.name,
    backupWindow: dbCfg.backupWindow,
    maintenanceWindow: dbCfg.maintenanceWindow,
    monitoringIntervalSeconds: dbCfg.monitoringIntervalSeconds,
    slowStatementMs: dbCfg.slowStatementMs,
    logRetentionDays: config.production ? 90 : 30,
    alarmEmails: config.notifications.emails,
    alarmWebhookUrl: config.notifications.webhookUrl,
  };
}

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
