/**
 * Terraform tracks resources by address (`<type>.<name>`), and cdktf derives the name from the construct
 * path. Renaming a construct id therefore plans a destroy-and-create: for the resources below that would
 * delete a database, a bucket, a KMS key (and everything it encrypted) or regenerate credentials.
 * This test pins their addresses so that no refactoring can change them silently. If you must rename,
 * keep the address with `overrideLogicalId` or add a `moved` block, then update this list.
 */
import { makeUniqueId } from "cdktf/lib/private/unique";
import type { EnvironmentConfig } from "../../config";
import { configured, envConfig, resourcesOf, synthJson, SHIPPED } from "../helpers/synth";

const STATEFUL = [
  "aws_s3_bucket.artifact_store_bucket_C02EB893",
  "aws_kms_key.artifact_store_key_31B6A7C9",
  "aws_db_instance.backend_store_instance_60939B9B",
  "aws_kms_key.backend_store_key_13C7DEBA",
  "aws_secretsmanager_secret.backend_store_secret_F5C8D6F2",
  "random_string.backend_store_username_ADE0806D",
  "random_password.backend_store_password_7AE0D899",
  "random_bytes.auth_proxy_cookie_seed_88C0E709",
  "random_string.monitoring_grafana_admin_user_9095B17C",
  "random_password.monitoring_grafana_admin_password_EB499E4E",
  "helm_release.monitoring_kube_prometheus_stack_6ECF8D6E",
  "helm_release.monitoring_resources_77E46151",
  "kubernetes_namespace_v1.namespace",
  "kubernetes_namespace_v1.monitoring_namespace_64E21CF9",
];
/** Where the registry events service is on: its webhook signing secret and MLflow's webhook-secret encryption key. */
const EVENTS_STATEFUL = [
  "random_bytes.registry_events_encryption_key_17E3F29A",
  "random_password.registry_events_signing_secret_D982D3D6",
  // The key the events service signs its state tags with: a new one makes every state "first seen".
  "random_password.registry_events_state_key_4994AF61",
];
/** Where training is on: Argo's release (its CRDs hold every workflow), the pipeline's release, their namespaces. */
const TRAINING_STATEFUL = [
  "helm_release.training_argo_workflows_0AB761BF",
  "helm_release.training_pipeline_9B2CC9F4",
  "kubernetes_namespace_v1.training_argo_namespace_C1672DA0",
  "kubernetes_namespace_v1.training_namespace_3947BF90",
];
/** Where models are served with Argo Rollouts installed: the controller's release (its CRDs hold every Rollout) and namespace. */
const ROLLOUTS_STATEFUL = ["helm_release.argo_rollouts_release_22A54294", "kubernetes_namespace_v1.argo_rollouts_namespace_EC4895C1"];
/** With the apiGateway exposure: the access logs' key. */
const API_STATEFUL = ["aws_kms_key.model_api_log_key_4329C797"];
/** Optional parts of the stores and the load balancer controller. */
const OPTIONAL = {
  readReplica: ["aws_db_instance.backend_store_replica_72B61595"],
  accessLogging: ["aws_s3_bucket.artifact_store_log_bucket_49B7FBF5"],
  replication: ["aws_s3_bucket.artifact_store_replica_bucket_7820C06D", "aws_kms_key.artifact_store_replica_key_29EC0094"],
  loadBalancerController: ["helm_release.load_balancer_controller_release_229A8F5C"],
};
/**
 * What each served model adds, by construct path (the address is cdktf's id of that path, so renaming a
 * construct id changes it here too): the image repository and its key always; once released, its chart
 * (ServiceMonitor, Rollout, analysis), and with inference logging the HMAC key's seed.
 */
function modelAddresses(config: EnvironmentConfig): string[] {
  const out: string[] = [];
  for (const [model, m] of Object.entries(config.serving.models)) {
    const id = `model_${model.replace(/-/g, "_")}`;
    out.push(`aws_ecr_repository.${makeUniqueId([id, "repository"])}`, `aws_kms_key.${makeUniqueId([id, "kms_key"])}`);
    if (!config.serving.releases[model]) continue;
    out.push(`helm_release.${makeUniqueId([id, "custom_resources"])}`);
    if (m.inferenceLog.enabled) out.push(`random_bytes.${makeUniqueId([id, "inference_log_key_seed"])}`);
  }
  return out;
}
const STATEFUL_TYPES = [
  ...new Set(
    [
      ...STATEFUL,
      ...EVENTS_STATEFUL,
      ...TRAINING_STATEFUL,
      ...ROLLOUTS_STATEFUL,
      ...API_STATEFUL,
      ...Object.values(OPTIONAL).flat(),
      "aws_ecr_repository",
      "random_bytes",
    ].map((a) => a.split(".")[0]),
  ),
];

describe.each(SHIPPED)("stack %s: addresses of resources that hold data or credentials", (name) => {
  const config = configured(name);
  const json = synthJson(config);
  const present = STATEFUL_TYPES.flatMap((t) => Object.keys(resourcesOf(json, t)).map((n) => `${t}.${n}`));

  it("are exactly the pinned ones (a changed address would destroy and recreate them)", () => {
    const s = config.serving;
    const serving = Object.keys(s.models).length > 0;
    const pinned = [
      ...STATEFUL,
      ...modelAddresses(config),
      ...(serving && s.namespace !== config.mlflow.namespace ? ["kubernetes_namespace_v1.serving_namespace"] : []),
      ...(serving && s.delivery.strategy !== "rollingUpdate" && s.delivery.controller === "install" ? ROLLOUTS_STATEFUL : []),
      ...(serving && s.exposure === "apiGateway" ? API_STATEFUL : []),
      ...(config.events.enabled ? EVENTS_STATEFUL : []),
      ...(config.training.enabled ? TRAINING_STATEFUL.filter((a) => config.training.argo.mode === "install" || !a.includes("argo")) : []),
      ...(config.database.readReplica ? OPTIONAL.readReplica : []),
      ...(config.artifacts.accessLogging ? OPTIONAL.accessLogging : []),
      ...(config.artifacts.replicationRegion ? OPTIONAL.replication : []),
      ...(config.ingress.installLoadBalancerController ? OPTIONAL.loadBalancerController : []),
    ];
    expect(present.sort()).toEqual(pinned.sort());
  });

  it("production's data-holding resources refuse to be destroyed", () => {
    const guarded = ["aws_s3_bucket", "aws_db_instance", "aws_kms_key", "aws_secretsmanager_secret"];
    for (const address of STATEFUL.filter((a) => guarded.includes(a.split(".")[0]))) {
      const [type, resourceName] = address.split(".");
      expect(resourcesOf(json, type)[resourceName].lifecycle?.prevent_destroy === true).toBe(config.production);
    }
  });
});

describe("optional stateful resources keep stable addresses too", () => {
  it("read replica, access-log bucket, replica bucket and its key", () => {
    const json = synthJson(
      envConfig("prod", { database: { readReplica: true }, artifacts: { accessLogging: true, replicationRegion: "eu-central-1" } }),
    );
    expect(Object.keys(resourcesOf(json, "aws_db_instance")).sort()).toEqual([
      "backend_store_instance_60939B9B",
      "backend_store_replica_72B61595",
    ]);
    expect(Object.keys(resourcesOf(json, "aws_s3_bucket")).sort()).toEqual([
      "artifact_store_bucket_C02EB893",
      "artifact_store_log_bucket_49B7FBF5",
      "artifact_store_replica_bucket_7820C06D",
    ]);
    expect(Object.keys(resourcesOf(json, "aws_kms_key")).sort()).toEqual([
      "artifact_store_key_31B6A7C9",
      "artifact_store_replica_key_29EC0094",
      "backend_store_key_13C7DEBA",
    ]);
  });
});
