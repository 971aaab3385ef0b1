/**
 * Maps a GCP environment's configuration onto the ArtifactRegistry construct's props (the model images' repository).
 */
import { gcpLabels, type GcpEnvironmentConfig } from "../../config/gcp";
import type { ArtifactRegistryProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The ArtifactRegistry props of a GCP environment: `<project>-<env>-models` in its region. */
export function artifactRegistryProps(
  config: GcpEnvironmentConfig,
  deps: Pick<ArtifactRegistryProps, "projectNumber" | "keyRingId">,
): ArtifactRegistryProps {
  return {
    repositoryId: `${config.project}-${config.name}-models`,
    projectId: config.gcp.projectId,
    location: config.gcp.region,
    preventDestroy: config.production,
    labels: gcpLabels(config),
    ...deps,
  };
}

/** ArtifactRegistry ("artifact_registry"). */
export const ARTIFACT_REGISTRY_FIELDS: PropFieldMap = {
  repositoryId: "name",
  projectId: "gcp.projectId",
  projectNumber: null,
  location: "gcp.region",
  keyRingId: null,
  untaggedDays: null,
  preventDestroy: "production",
  labels: "tags",
};
