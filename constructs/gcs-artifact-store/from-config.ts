/**
 * Maps a GCP environment's configuration (`artifacts`, `gcp`) onto the GcsArtifactStore construct's props:
 * the one place that knows which field becomes which prop.
 */
import { gcpArtifactBucketName, gcpLabels, type GcpEnvironmentConfig } from "../../config/gcp";
import type { GcsArtifactArchiveProps, GcsArtifactStoreProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";

/**
 * The Cloud Storage class for each of `registry.retention.storageClass`'s (S3's names): NEARLINE and COLDLINE have
 * STANDARD_IA's and GLACIER_IR's 30- and 90-day minimums; S3's offline classes become ARCHIVE (365 days, still read in
 * milliseconds: Cloud Storage has no offline class).
 */
export const GCS_ARCHIVE_CLASS: Record<
  GcpEnvironmentConfig["registry"]["retention"]["storageClass"],
  NonNullable<GcsArtifactArchiveProps["storageClass"]>
> = {
  STANDARD_IA: "NEARLINE",
  GLACIER_IR: "COLDLINE",
  GLACIER: "ARCHIVE",
  DEEP_ARCHIVE: "ARCHIVE",
};

/** The GcsArtifactStore props of a GCP environment. */
export function gcsArtifactStoreProps(config: GcpEnvironmentConfig, deps: Pick<GcsArtifactStoreProps, "keyRingId">): GcsArtifactStoreProps {
  const a = config.artifacts;
  return {
    bucketName: a.bucketName ?? gcpArtifactBucketName(config),
    projectId: config.gcp.projectId,
    location: config.gcp.region,
    prefix: a.prefix,
    forceDestroy: a.forceDestroy,
    preventDestroy: config.production,
    lifecycle: {
      transitionToInfrequentAccessDays: a.transitionToInfrequentAccessDays,
      transitionToGlacierIrDays: a.transitionToGlacierIrDays,
      expireDays: a.expireDays,
      noncurrentVersionsToKeep: a.noncurrentVersionsToKeep,
      noncurrentExpireDays: a.noncurrentExpireDays,
      noncurrentMaxDays: a.noncurrentMaxDays,
      abortIncompleteMultipartUploadDays: a.abortIncompleteMultipartUploadDays,
    },
    // The model-retention job's Custom-Time: a colder class after the grace period, deletion only if configured.
    archive: {
      transitionDays: config.registry.retention.graceDays,
      storageClass: GCS_ARCHIVE_CLASS[config.registry.retention.storageClass],
      expireDays: config.registry.retention.deleteAfterDays,
    },
    // Inference logs of the served models: deleted as each model's configuration says.
    expiringPrefixes: Object.entries(config.serving.models)
      .filter(([, m]) => m.inferenceLog.enabled)
      .map(([name, m]) => ({
        id: `inference-log-${name}`,
        prefix: `${INFERENCE_LOG_PREFIX}/model=${name}`,
        days: m.inferenceLog.expireDays,
      })),
    labels: gcpLabels(config),
    ...deps,
  };
}

/** GcsArtifactStore ("gcs_artifact_store"). */
export const GCS_ARTIFACT_STORE_FIELDS: PropFieldMap = {
  bucketName: "artifacts.bucketName",
  projectId: "gcp.projectId",
  location: "gcp.region",
  keyRingId: null,
  prefix: "artifacts.prefix",
  forceDestroy: "artifacts.forceDestroy",
  preventDestroy: "production",
  lifecycle: "artifacts",
  "archive.transitionDays": "registry.retention.graceDays",
  "archive.storageClass": "registry.retention.storageClass",
  "archive.expireDays": "registry.retention.deleteAfterDays",
  expiringPrefixes: "serving.models",
  keyRotationDays: null,
  labels: "tags",
  dependsOn: null,
};
