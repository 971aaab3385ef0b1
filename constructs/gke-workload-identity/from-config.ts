/**
 * Maps a GCP environment's configuration onto the GkeWorkloadIdentity props of the tracking server and of each
 * model server.
 */
import { createHash } from "crypto";
import type { GcpEnvironmentConfig } from "../../config/gcp";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";
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

/**
 * A Google service account id (6-30 characters, unique in the project) for one of an environment's per-model
 * workloads: `<kind>-<model, cut to fit>-<6 hex of a hash of project, environment, kind and model>`, so two
 * environments in one project, or two long model names with a common start, never share an account.
 */
export function perModelServiceAccountId(config: Pick<GcpEnvironmentConfig, "project" | "name">, kind: string, modelName: string): string {
  const hash = createHash("sha256").update(`${config.project}/${config.name}/${kind}/${modelName}`).digest("hex").slice(0, 6);
  const room = 30 - kind.length - hash.length - 2;
  const name = modelName.slice(0, room).replace(/-+$/, "");
  return `${kind}-${name}-${hash}`;
}

/**
 * The GkeWorkloadIdentity props of a served model's server on GKE: its own Google service account, bound to the
 * server's Kubernetes service account (`modelServerName`), that may only create objects under the model's log.
 */
export function modelServerIdentityProps(
  config: GcpEnvironmentConfig,
  modelName: string,
  deps: Pick<GkeWorkloadIdentityProps, "bucketName" | "serviceAccountName" | "dependsOn">,
): GkeWorkloadIdentityProps {
  return {
    projectId: config.gcp.projectId,
    accountId: perModelServiceAccountId(config, "model", modelName),
    namespace: config.serving.namespace,
    prefix: `${INFERENCE_LOG_PREFIX}/model=${modelName}`,
    access: "create-objects",
    description: `Model server ${modelName} of ${config.project}-${config.name}: writes its inference log`,
    ...deps,
  };
}

/** GkeWorkloadIdentity of a model server ("model_identity_<model>"). */
export const MODEL_SERVER_IDENTITY_FIELDS: PropFieldMap = {
  ...WORKLOAD_IDENTITY_FIELDS,
  accountId: "serving.models",
  namespace: "serving.namespace",
  prefix: null,
};
