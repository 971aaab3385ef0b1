/**
 * Maps a GCP environment's configuration onto the tracking server's GkeWorkloadIdentity props.
 */
import type { GcpEnvironmentConfig } from "../../config/gcp";
import type { GkeWorkloadIdentityProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The Kubernetes service account the tracking server, its migration Job and its gc run as (the AWS stack's name too). */
export const TRACKING_SERVICE_ACCOUNT = "mlflow";

/** The tracking server's GkeWorkloadIdentity props: its own Google service account, on the artifact prefix only. */
export function trackingWorkloadIdentityProps(
  config: GcpEnvironmentConfig,
  deps: Pick<GkeWorkloadIdentityProps, "bucketName" | "prefix" | "dependsOn">,
): GkeWorkloadIdentityProps {
  return {
    projectId: config.gcp.projectId,
    // "<project>-<env>-mlflow", within the 30 characters a service account id may have.
    accountId: `${config.project}-${config.name}`.slice(0, 23).replace(/-+$/, "") + "-mlflow",
    namespace: config.mlflow.namespace,
    serviceAccountName: TRACKING_SERVICE_ACCOUNT,
    description: `MLflow tracking server of ${config.project}-${config.name}`,
    ...deps,
  };
}

/** GkeWorkloadIdentity ("workload_identity"). */
export const WORKLOAD_IDENTITY_FIELDS: PropFieldMap = {
  projectId: "gcp.projectId",
  accountId: "name",
  namespace: "mlflow.namespace",
  serviceAccountName: null,
  bucketName: "artifacts.bucketName",
  prefix: "artifacts.prefix",
  access: null,
  customRoleId: null,
  description: null,
  dependsOn: null,
};
