/**
 * Maps an Azure environment's configuration (`database`, `azure`) onto the PostgresFlexibleStore construct's props.
 */
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import type { PostgresFlexibleStoreProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The PostgresFlexibleStore props of an Azure environment; the stack passes the key and the namespace. */
export function postgresFlexibleStoreProps(
  config: AzureEnvironmentConfig,
  deps: Pick<PostgresFlexibleStoreProps, "key" | "namespace">,
): PostgresFlexibleStoreProps {
  const d = config.database;
  return {
    serverName: azureResourceNames(config).postgresServer,
    resourceGroupName: config.azure.resourceGroupName,
    location: config.azure.location,
    delegatedSubnetId: config.azure.databaseSubnetId,
    virtualNetworkId: config.azure.virtualNetworkId,
    engineVersion: d.engineVersion,
    skuName: d.skuName,
    storageMb: d.storageMb,
    autoGrow: d.autoGrow,
    zone: d.zone,
    highAvailability: d.highAvailability,
    standbyZone: d.standbyZone,
    backupRetentionDays: d.backupRetentionDays,
    geoRedundantBackup: d.geoRedundantBackup,
    maintenance: { dayOfWeek: d.maintenanceDay, startHour: d.maintenanceHour },
    databaseName: d.name,
    slowStatementMs: d.slowStatementMs,
    preventDestroy: d.deletionProtection,
    tags: azureTags(config),
    ...deps,
  };
}

/** PostgresFlexibleStore ("postgres_flexible_store"). */
export const POSTGRES_FLEXIBLE_STORE_FIELDS: PropFieldMap = {
  serverName: "name",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  delegatedSubnetId: "azure.databaseSubnetId",
  virtualNetworkId: "azure.virtualNetworkId",
  key: null,
  namespace: "mlflow.namespace",
  engineVersion: "database.engineVersion",
  skuName: "database.skuName",
  storageMb: "database.storageMb",
  autoGrow: "database.autoGrow",
  zone: "database.zone",
  highAvailability: "database.highAvailability",
  standbyZone: "database.standbyZone",
  backupRetentionDays: "database.backupRetentionDays",
  geoRedundantBackup: "database.geoRedundantBackup",
  geoBackupKey: null,
  geoBackupLocation: null,
  "maintenance.dayOfWeek": "database.maintenanceDay",
  "maintenance.startHour": "database.maintenanceHour",
  databaseName: "database.name",
  slowStatementMs: "database.slowStatementMs",
  secretName: null,
  preventDestroy: "database.deletionProtection",
  tags: "tags",
};
