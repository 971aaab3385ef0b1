/**
 * The safety net behind the schema. The schema mirrors every check a construct makes on values that come
 * from configuration (sharing the rule functions of constructs/aws-limits.ts), so a configuration it
 * accepts builds. Should a construct still refuse a prop while an environment's stack is built, the
 * PropError reaches the user as a configuration problem: the construct that refused it is found by its
 * path, and the configuration field behind the prop in the {@link PropFieldMap} its from-config mapping
 * declares (longest listed prefix of the prop). No message text is parsed.
 */
import type { KubernetesEnvironment } from "../config/kubernetes-half";
import { GCS_ARTIFACT_STORE_FIELDS } from "../constructs/gcs-artifact-store/from-config";
import { CLOUD_SQL_STORE_FIELDS } from "../constructs/cloud-sql-store/from-config";
import { MODEL_SERVER_IDENTITY_FIELDS, WORKLOAD_IDENTITY_FIELDS } from "../constructs/gke-workload-identity/from-config";
import { ARTIFACT_REGISTRY_FIELDS } from "../constructs/artifact-registry/from-config";
import { GCP_CI_IDENTITIES_FIELDS } from "../constructs/gcp-ci-identities/from-config";
import { KEY_VAULT_FIELDS } from "../constructs/key-vault/from-config";
import { BLOB_ARTIFACT_STORE_FIELDS } from "../constructs/blob-artifact-store/from-config";
import { POSTGRES_FLEXIBLE_STORE_FIELDS } from "../constructs/postgres-flexible-store/from-config";
import { AKS_WORKLOAD_IDENTITY_FIELDS, MODEL_SERVER_AKS_IDENTITY_FIELDS } from "../constructs/aks-workload-identity/from-config";
import { CONTAINER_REGISTRY_FIELDS } from "../constructs/container-registry/from-config";
import { AZURE_CI_IDENTITIES_FIELDS } from "../constructs/azure-ci-identities/from-config";

/** What these functions read of an environment of either cloud. */
type StackOwner = Pick<KubernetesEnvironment, "name" | "project" | "serving"> & { readonly cloud: "aws" | "gcp" | "azure" };
import { fieldOfProp, PropError, type PropFieldMap } from "../constructs/core/prop-error";
import { AUTH_PROXY_FIELDS, OAUTH2_PROXY_COMMAND_FIELDS } from "../constructs/auth-proxy/from-config";
import { CI_ROLES_FIELDS } from "../constructs/ci-roles/from-config";
import { MLFLOW_INGRESS_FIELDS } from "../constructs/ingress/from-config";
import {
  MODEL_API_FIELDS,
  gcpModelEndpointFields,
  modelEndpointFields,
  gatewayModelGatewayFields,
  modelGatewayFields,
} from "../constructs/model-endpoint/from-config";
import { MONITORING_FIELDS } from "../constructs/monitoring/from-config";
import { NETWORK_POLICIES_FIELDS } from "../constructs/network-policies/from-config";
import { REGISTRY_EVENTS_FIELDS } from "../constructs/registry-events/from-config";
import { TRACKING_SERVER_FIELDS } from "../constructs/tracking-server/from-config";
import {
  AKS_TRAINING_IDENTITY_FIELDS,
  GKE_TRAINING_IDENTITY_FIELDS,
  TRAINING_FIELDS,
  TRAINING_ROLE_FIELDS,
} from "../constructs/training/from-config";
import { ARGO_ROLLOUTS_FIELDS } from "../constructs/argo-rollouts/from-config";
import { ARTIFACT_STORE_FIELDS } from "../constructs/artifact-store/from-config";
import { BACKEND_STORE_FIELDS } from "../constructs/backend-store/from-config";
import { WORKLOAD_BOUNDARY_FIELDS } from "../constructs/ci-roles/from-config";
import { azureDriftJobFields, driftJobFields, gcpDriftJobFields } from "../constructs/drift-job/from-config";
import { LOAD_BALANCER_CONTROLLER_FIELDS } from "../constructs/load-balancer-controller/from-config";
import {
  AZURE_MODEL_RETENTION_FIELDS,
  GCP_MODEL_RETENTION_FIELDS,
  MODEL_RETENTION_FIELDS,
} from "../constructs/model-retention/from-config";
import { TRACKING_IDENTITY_FIELDS } from "../constructs/tracking-server/from-config";
import { ACCESS_POLICY_FIELDS, TEAM_ACCESS_FIELDS } from "../constructs/access/from-config";

/** The construct id of a model's construct: `model_iris_classifier` for "iris-classifier" (stacks/mlflow-stack.ts). */
const perModel = (prefix: string, modelName: string) => `${prefix}_${modelName.replace(/-/g, "_")}`;

/**
 * The field map of every construct an environment's stack builds, by its path below the stack (the ids of
 * stacks/mlflow-stack.ts), and of the commands that name their errors after themselves.
 */
export function stackFieldMaps(config: StackOwner): Record<string, PropFieldMap> {
  const maps: Record<string, PropFieldMap> = {
    artifact_store: ARTIFACT_STORE_FIELDS,
    backend_store: BACKEND_STORE_FIELDS,
    tracking_identity: TRACKING_IDENTITY_FIELDS,
    workload_boundary: WORKLOAD_BOUNDARY_FIELDS,
    registry_events: REGISTRY_EVENTS_FIELDS,
    tracking_server: TRACKING_SERVER_FIELDS,
    "tracking_server/access": TEAM_ACCESS_FIELDS,
    model_retention: MODEL_RETENTION_FIELDS,
    training: TRAINING_FIELDS,
    "training/role": TRAINING_ROLE_FIELDS,
    auth_proxy: AUTH_PROXY_FIELDS,
    load_balancer_controller: LOAD_BALANCER_CONTROLLER_FIELDS,
    ingress: MLFLOW_INGRESS_FIELDS,
    monitoring: MONITORING_FIELDS,
    argo_rollouts: ARGO_ROLLOUTS_FIELDS,
    model_api: MODEL_API_FIELDS,
    network_policies: NETWORK_POLICIES_FIELDS,
    ci_roles: CI_ROLES_FIELDS,
    // Commands name their errors after themselves (they are no construct).
    oauth2ProxyCommand: OAUTH2_PROXY_COMMAND_FIELDS,
    accessPolicy: ACCESS_POLICY_FIELDS,
  };
  if (config.cloud === "gcp") {
    // A GCP stack's own constructs (stacks/gcp-stack.ts); their fields are config/gcp.ts's.
    Object.assign(maps, {
      gcs_artifact_store: GCS_ARTIFACT_STORE_FIELDS,
      cloud_sql_store: CLOUD_SQL_STORE_FIELDS,
      workload_identity: WORKLOAD_IDENTITY_FIELDS,
      artifact_registry: ARTIFACT_REGISTRY_FIELDS,
      model_retention: GCP_MODEL_RETENTION_FIELDS,
      ci_identities: GCP_CI_IDENTITIES_FIELDS,
      training_identity: GKE_TRAINING_IDENTITY_FIELDS,
    });
  }
  if (config.cloud === "azure") {
    // An Azure stack's own constructs (stacks/azure-stack.ts); their fields are config/azure.ts's.
    Object.assign(maps, {
      key_vault: KEY_VAULT_FIELDS,
      blob_artifact_store: BLOB_ARTIFACT_STORE_FIELDS,
      postgres_flexible_store: POSTGRES_FLEXIBLE_STORE_FIELDS,
      workload_identity: AKS_WORKLOAD_IDENTITY_FIELDS,
      container_registry: CONTAINER_REGISTRY_FIELDS,
      ci_identities: AZURE_CI_IDENTITIES_FIELDS,
      model_retention: AZURE_MODEL_RETENTION_FIELDS,
      training_identity: AKS_TRAINING_IDENTITY_FIELDS,
    });
  }
  for (const modelName of Object.keys(config.serving.models)) {
    maps[perModel("model", modelName)] = modelEndpointFields(modelName);
    maps[perModel("model_gateway", modelName)] = modelGatewayFields(modelName);
    maps[perModel("drift", modelName)] = driftJobFields(modelName);
  }
  if (config.cloud === "gcp")
    for (const modelName of Object.keys(config.serving.models))
      Object.assign(maps, {
        [perModel("model", modelName)]: gcpModelEndpointFields(modelName),
        [perModel("model_identity", modelName)]: MODEL_SERVER_IDENTITY_FIELDS,
        [perModel("drift", modelName)]: gcpDriftJobFields(modelName),
      });
  if (config.cloud === "azure")
    // An Azure stack's per-model constructs: the server's own identity and the drift job on AKS.
    for (const modelName of Object.keys(config.serving.models)) {
      maps[perModel("drift", modelName)] = azureDriftJobFields(modelName);
      maps[`${perModel("model", modelName)}_identity`] = MODEL_SERVER_AKS_IDENTITY_FIELDS;
    }
  // A GKE or AKS stack's model gateways are behind the environment's Gateway, not an ALB.
  if (config.cloud === "gcp" || config.cloud === "azure")
    for (const modelName of Object.keys(config.serving.models))
      maps[perModel("model_gateway", modelName)] = gatewayModelGatewayFields(modelName);
  return maps;
}

/** The stack's name, as stacks/mlflow-stack.ts names it. */
const stackOf = (config: StackOwner) => `${config.project}-${config.name}`;

/** The map of the construct at `constructPath` (or of its closest mapped ancestor), with the construct's path below the stack. */
function mapOf(config: StackOwner, constructPath: string): { readonly id: string; readonly map: PropFieldMap } | undefined {
  const maps = stackFieldMaps(config);
  const stack = stackOf(config);
  const relative = constructPath.startsWith(`${stack}/`) ? constructPath.slice(stack.length + 1) : constructPath;
  const segments = relative.split("/");
  for (let n = segments.length; n > 0; n--) {
    const id = segments.slice(0, n).join("/");
    if (Object.prototype.hasOwnProperty.call(maps, id)) return { id, map: maps[id] };
  }
  return undefined;
}

/**
 * The configuration field behind a PropError raised while building `config`'s stack: a field, null when
 * the stack set the prop itself, undefined when no map lists the prop (or the construct).
 */
export function fieldOfPropError(config: StackOwner, err: PropError): string | null | undefined {
  const found = mapOf(config, err.constructPath);
  if (!found) return undefined;
  const entry = fieldOfProp(found.map, err.prop);
  if (!entry) return undefined;
  if (entry.field === null) return null;
  // "*" in a field stands for the keys of the prop's brackets, in order (modelServing.models[iris].x).
  const keys = [...err.prop.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]);
  return entry.field.replace(/\*/g, () => keys.shift() ?? "*");
}

/** One problem line for an error raised while building `config`'s stack, in the style of the configuration's own. */
export function stackErrorProblem(config: StackOwner, err: unknown): string {
  const env = `environment "${config.name}"`;
  const where = `refused while building stack ${stackOf(config)}`;
  if (!(err instanceof PropError)) {
    return `${env}: configuration: ${where}: ${err instanceof Error ? err.message : String(err)}`;
  }
  const field = fieldOfPropError(config, err);
  if (field) return `${env}: field ${field}: ${where}: ${err.message}`;
  if (field === null) {
    return `${env}: ${where}: ${err.message} (the stack sets ${err.prop} itself, from no single configuration field: a bug in stacks/ or a from-config mapping)`;
  }
  return `${env}: ${where}: ${err.message} (no configuration field is mapped to prop ${err.prop} of ${err.constructPath}: add it to the construct's PropFieldMap)`;
}
