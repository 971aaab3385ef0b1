/**
 * Maps a GCP environment's configuration (`database`, `gcp`) onto the CloudSqlStore construct's props.
 */
import { gcpLabels, type GcpEnvironmentConfig } from "../../config/gcp";
import type { CloudSqlStoreProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The CloudSqlStore props of a GCP environment; the stack passes what it looked up or created. */
export function cloudSqlStoreProps(
  config: GcpEnvironmentConfig,
  deps: Pick<CloudSqlStoreProps, "projectNumber" | "networkId" | "keyRingId" | "namespace">,
): CloudSqlStoreProps {
  const d = config.database;
  return {
    instanceId: `${config.project}-${config.name}`,
    projectId: config.gcp.projectId,
    region: config.gcp.region,
    zones: config.gcp.zones,
    engineVersion: d.engineVersion,
    tier: d.tier,
    edition: d.edition,
    diskSizeGb: d.diskSizeGb,
    diskAutoresizeLimitGb: d.diskAutoresizeLimitGb,
    highAvailability: d.highAvailability,
    deletionProtection: d.deletionProtection,
    backupRetentionDays: d.backupRetentionDays,
    pointInTimeRecoveryDays: d.pointInTimeRecoveryDays,
    backupStartTime: d.backupStartTime,
    maintenance: { day: d.maintenanceDay, hour: d.maintenanceHour },
    databaseName: d.name,
    slowStatementMs: d.slowStatementMs,
    labels: gcpLabels(config),
    ...deps,
  };
}

/** CloudSqlStore ("cloud_sql_store"). */
export const CLOUD_SQL_STORE_FIELDS: PropFieldMap = {
  instanceId: "name",
  projectId: "gcp.projectId",
  projectNumber: null,
  region: "gcp.region",
  zones: "gcp.zones",
  networkId: "gcp.network",
  keyRingId: null,
  namespace: "mlflow.namespace",
  engineVersion: "database.engineVersion",
  tier: "database.tier",
  edition: "database.edition",
  diskSizeGb: "database.diskSizeGb",
  diskAutoresizeLimitGb: "database.diskAutoresizeLimitGb",
  highAvailability: "database.highAvailability",
  deletionProtection: "database.deletionProtection",
  backupRetentionDays: "database.backupRetentionDays",
  pointInTimeRecoveryDays: "database.pointInTimeRecoveryDays",
  backupStartTime: "database.backupStartTime",
  "maintenance.day": "database.maintenanceDay",
  "maintenance.hour": "database.maintenanceHour",
  sslMode: null,
  databaseName: "database.name",
  slowStatementMs: "database.slowStatementMs",
  secretName: null,
  labels: "tags",
};
