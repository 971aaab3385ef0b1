/**
 * Maps an environment's configuration (`artifacts`, the retention job's archive, the served models' inference
 * logs) onto the ArtifactStore construct's props: the one place that knows which field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";
import { keyAdministratorArns } from "../../config/ci";
import { ARCHIVE_TAG } from "../model-retention/command";
import type { ArtifactStoreProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The ArtifactStore props of an environment. */
export function artifactStoreProps(config: EnvironmentConfig): ArtifactStoreProps {
  const artifactCfg = config.artifacts;
  return {
    bucketName: artifactCfg.bucketName ?? `${config.project}-${config.name}-artifacts-${config.aws.accountId}`,
    prefix: artifactCfg.prefix,
    forceDestroy: artifactCfg.forceDestroy,
    preventDestroy: config.production,
    lifecycle: {
      transitionToInfrequentAccessDays: artifactCfg.transitionToInfrequentAccessDays,
      transitionToGlacierIrDays: artifactCfg.transitionToGlacierIrDays,
      expireDays: artifactCfg.expireDays,
      noncurrentVersionsToKeep: artifactCfg.noncurrentVersionsToKeep,
      noncurrentExpireDays: artifactCfg.noncurrentExpireDays,
      noncurrentMaxDays: artifactCfg.noncurrentMaxDays,
      abortIncompleteMultipartUploadDays: artifactCfg.abortIncompleteMultipartUploadDays,
    },
    // The model-retention job's tag: a colder class after the grace period, deletion only if configured.
    archive: {
      tag: ARCHIVE_TAG,
      transitionDays: config.registry.retention.graceDays,
      storageClass: config.registry.retention.storageClass,
      expireDays: config.registry.retention.deleteAfterDays,
    },
    // Inference logs of the served models: expire as each model's configuration says.
    expiringPrefixes: Object.entries(config.serving.models)
      .filter(([, m]) => m.inferenceLog.enabled)
      .map(([name, m]) => ({
        id: `inference-log-${name}`,
        prefix: `${INFERENCE_LOG_PREFIX}/model=${name}`,
        days: m.inferenceLog.expireDays,
      })),
    accessLogging: artifactCfg.accessLogging,
    replicationRegion: artifactCfg.replicationRegion,
    region: config.aws.region,
    accountId: config.aws.accountId,
    keyAdministratorArns: keyAdministratorArns(config),
  };
}

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
