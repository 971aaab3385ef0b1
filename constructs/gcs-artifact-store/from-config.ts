/**
 * Maps a GCP environment's configuration (`artifacts`, `gcp`) onto the GcsArtifactStore construct's props:
 * the one place that knows which field becomes which prop.
 */
import { gcpArtifactBucketName, gcpLabels, type GcpEnvironmentConfig } from "../../config/gcp";
import type { GcsArtifactStoreProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

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
  keyRotationDays: null,
  labels: "tags",
  dependsOn: null,
};
