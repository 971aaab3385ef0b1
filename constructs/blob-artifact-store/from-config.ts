/**
 * Maps an Azure environment's configuration (`artifacts`, `azure`) onto the BlobArtifactStore construct's props.
 */
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import type { BlobArtifactArchiveProps, BlobArtifactStoreProps } from ".";
import { ARCHIVE_TAG } from "../model-retention/command";
import type { PropFieldMap } from "../core/prop-error";
import { INFERENCE_LOG_PREFIX } from "../core/inference-log";

/**
 * The access tier for each of `registry.retention.storageClass`'s (S3's names): Cool and Cold have STANDARD_IA's and
 * GLACIER_IR's 30- and 90-day minimums and read online; S3's offline classes become the offline Archive tier.
 */
export const AZURE_ARCHIVE_TIER: Record<
  AzureEnvironmentConfig["registry"]["retention"]["storageClass"],
  NonNullable<BlobArtifactArchiveProps["tier"]>
> = {
  STANDARD_IA: "Cool",
  GLACIER_IR: "Cold",
  GLACIER: "Archive",
  DEEP_ARCHIVE: "Archive",
};

/** The BlobArtifactStore props of an Azure environment; the stack passes the key and what must exist first. */
export function blobArtifactStoreProps(
  config: AzureEnvironmentConfig,
  deps: Pick<BlobArtifactStoreProps, "key" | "dependsOn">,
): BlobArtifactStoreProps {
  const a = config.artifacts;
  return {
    storageAccountName: azureResourceNames(config).storageAccount,
    resourceGroupName: config.azure.resourceGroupName,
    location: config.azure.location,
    // The nodes' subnet (service endpoint Microsoft.Storage) is the only network the account's firewall admits.
    subnetIds: [config.azure.clusterSubnetId],
    containerName: a.containerName,
    prefix: a.prefix,
    // Destroying a storage account deletes its blobs: unless forceDestroy says they may go, Terraform refuses to
    // destroy the account at all (the meaning forceDestroy: false has for S3 and Cloud Storage).
    preventDestroy: config.production || !a.forceDestroy,
    lifecycle: {
      transitionToInfrequentAccessDays: a.transitionToInfrequentAccessDays,
      transitionToGlacierIrDays: a.transitionToGlacierIrDays,
      expireDays: a.expireDays,
      noncurrentExpireDays: a.noncurrentExpireDays,
    },
    // The model-retention job's blob index tag: a cooler tier after the grace period, deletion only if configured.
    archive: {
      tag: ARCHIVE_TAG,
      transitionDays: config.registry.retention.graceDays,
      tier: AZURE_ARCHIVE_TIER[config.registry.retention.storageClass],
      expireDays: config.registry.retention.deleteAfterDays,
    },
    // Inference logs of the served models: deleted as each model's configuration says (the S3 store's rule).
    expiringPrefixes: Object.entries(config.serving.models)
      .filter(([, m]) => m.inferenceLog.enabled)
      .map(([name, m]) => ({
        id: `inference-log-${name}`,
        prefix: `${INFERENCE_LOG_PREFIX}/model=${name}`,
        days: m.inferenceLog.expireDays,
      })),
    tags: azureTags(config),
    ...deps,
  };
}

/** BlobArtifactStore ("blob_artifact_store"). */
export const BLOB_ARTIFACT_STORE_FIELDS: PropFieldMap = {
  storageAccountName: "artifacts.storageAccountName",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  key: null,
  subnetIds: "azure.clusterSubnetId",
  allowedCidrs: null,
  containerName: "artifacts.containerName",
  prefix: "artifacts.prefix",
  replicationType: null,
  lifecycle: "artifacts",
  "archive.tag": null,
  "archive.transitionDays": "registry.retention.graceDays",
  "archive.tier": "registry.retention.storageClass",
  "archive.expireDays": "registry.retention.deleteAfterDays",
  expiringPrefixes: "serving.models",
  deleteRetentionDays: null,
  containerDeleteRetentionDays: null,
  preventDestroy: "artifacts.forceDestroy",
  tags: "tags",
  dependsOn: null,
};
