/**
 * Maps an Azure environment's configuration (`artifacts`, `azure`) onto the BlobArtifactStore construct's props.
 */
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import type { BlobArtifactStoreProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

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
  deleteRetentionDays: null,
  containerDeleteRetentionDays: null,
  preventDestroy: "artifacts.forceDestroy",
  tags: "tags",
  dependsOn: null,
};
