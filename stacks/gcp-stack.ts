import { Fn, GcsBackend, LocalBackend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { DataGoogleClientConfig } from "@cdktf/provider-google/lib/data-google-client-config";
import { DataGoogleContainerCluster } from "@cdktf/provider-google/lib/data-google-container-cluster";
import { DataGoogleProject } from "@cdktf/provider-google/lib/data-google-project";
import { DataGoogleComputeNetwork } from "@cdktf/provider-google/lib/data-google-compute-network";
import { KmsKeyRing } from "@cdktf/provider-google/lib/kms-key-ring";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { gcpLabels, type GcpEnvironmentConfig } from "../config/gcp";
import { GcsArtifactStore } from "../constructs/gcs-artifact-store";
import { gcsArtifactStoreProps } from "../constructs/gcs-artifact-store/from-config";
import { CloudSqlStore } from "../constructs/cloud-sql-store";
import { cloudSqlStoreProps } from "../constructs/cloud-sql-store/from-config";
import { GkeWorkloadIdentity } from "../constructs/gke-workload-identity";
import { modelServerIdentityProps, trackingWorkloadIdentityProps } from "../constructs/gke-workload-identity/from-config";
import { ArtifactRegistry } from "../constructs/artifact-registry";
import { artifactRegistryProps } from "../constructs/artifact-registry/from-config";
import { GcpCiIdentities } from "../constructs/gcp-ci-identities";
import { gcpCiIdentitiesProps } from "../constructs/gcp-ci-identities/from-config";
import { TrackingServer } from "../constructs/tracking-server";
import { trackingServerProps } from "../constructs/tracking-server/from-config";
import { authProxyPodLabelsOf } from "../constructs/auth-proxy/from-config";
import { modelRetentionPodLabels } from "../constructs/model-retention/command";
import { GcpModelRetention } from "../constructs/model-retention";
import { gcpModelRetentionProps } from "../constructs/model-retention/from-config";
import { gkeCloudFlows } from "../constructs/network-policies/from-config";
import { ArgoRollouts } from "../constructs/argo-rollouts";
import { argoRolloutsProps } from "../constructs/argo-rollouts/from-config";
import { installsRolloutsController } from "../config/serving";
import { ModelEndpoint, modelServerName } from "../constructs/model-endpoint";
import { gatewayModelGatewayFromConfig, gcpModelEndpointProps } from "../constructs/model-endpoint/from-config";
import { GcpDriftJob } from "../constructs/drift-job";
import { driftJobModels, driftJobPodLabels, driftJobsConfigured } from "../constructs/drift-job/command";
import { gcpDriftJobProps } from "../constructs/drift-job/from-config";
import { gatewayFront, trainingNamespaces } from "./gateway-front";
import { Training } from "../constructs/training";
import { argoArtifactPrefix, cloudTrainingProps, gkeTrainingIdentityProps } from "../constructs/training/from-config";
import { cloudRegistryEvents, GKE_METADATA_CIDRS } from "./cloud-events";
import { gcpSecretCopy } from "../constructs/registry-events/copy-from-gcp";
import { managedLabels, RESTRICTED_POD_SECURITY } from "../constructs/core/labels";
import { applyPolicies, takePolicyCheckedJson } from "../policies";
import { GCP_CI_IDENTITIES_ID } from "../policies/iam/administered";
import { TERRAFORM_REQUIRED_VERSION } from "./mlflow-stack";

/**
 * One GCP environment, in its own Terraform state: Google's stores and identities (Cloud Storage, Cloud SQL,
 * Cloud KMS, Workload Identity, Artifact Registry) below the same Kubernetes half as an AWS stack (the
 * tracking server with a gs:// artifact destination, the proxy, the HTTPRoute, monitoring, default-deny
 * network policies), and the served models (Artifact Registry images, the inference log into the artifact bucket,
 * drift jobs), reached in-cluster. The features this stack cannot deploy yet are refused by the configuration
 * (config/gcp.ts), so what synthesizes is complete.
 */
export class GcpMlflowStack extends TerraformStack {
  readonly config: GcpEnvironmentConfig;
  readonly namespace: NamespaceV1;

  constructor(scope: Construct, config: GcpEnvironmentConfig) {
    super(scope, `${config.project}-${config.name}`);
    this.config = config;
    const g = config.gcp;
    this.addOverride("terraform.required_version", TERRAFORM_REQUIRED_VERSION);

    // ── State and providers ─────────────────────────────────────────────
    if (config.state.backend === "gcs") {
      new GcsBackend(this, { bucket: config.state.bucket, prefix: config.state.prefix.replaceAll("{env}", config.name) });
    } else {
      new LocalBackend(this, { path: config.state.path.replaceAll("{env}", config.name) });
    }
    const google = new GoogleProvider(this, "google", { project: g.projectId, region: g.region, addTerraformAttributionLabel: false });
    // As an override: cdktf writes a provider's map keys in snake_case ("cost-center" would become "cost_center").
    google.addOverride("default_labels", gcpLabels(config));
    // The kubernetes and helm providers authenticate with the caller's short-lived Google access token,
    // never a kubeconfig file.
    const client = new DataGoogleClientConfig(this, "client");
    const cluster = new DataGoogleContainerCluster(this, "gke_cluster", { name: g.clusterName, location: g.clusterLocation ?? g.region });
    const host = `https://${cluster.endpoint}`;
    const clusterCaCertificate = Fn.base64decode(cluster.masterAuth.get(0).clusterCaCertificate);
    new KubernetesProvider(this, "kubernetes", { host, clusterCaCertificate, token: client.accessToken });
    new HelmProvider(this, "helm", { kubernetes: { host, clusterCaCertificate, token: client.accessToken } });
    new RandomProvider(this, "random");
    const project = new DataGoogleProject(this, "project", { projectId: g.projectId });
    const network = new DataGoogleComputeNetwork(this, "network", { name: g.network, project: g.projectId });

    this.namespace = new NamespaceV1(this, "namespace", {
      metadata: { name: config.mlflow.namespace, labels: { ...managedLabels(config.project), ...RESTRICTED_POD_SECURITY } },
    });

    // ── Stores and identity ──────────────────────────────────────────────
    // One key ring per environment; each store has its own key in it. (Cloud KMS never deletes a key ring:
    // a destroyed stack leaves it, empty of enabled keys.)
    const keyRing = new KmsKeyRing(this, "key_ring", {
      name: `${config.project}-${config.name}`,
      location: g.region,
      project: g.projectId,
    });
    const artifactStore = new GcsArtifactStore(this, "gcs_artifact_store", gcsArtifactStoreProps(config, { keyRingId: keyRing.id }));
    const backendStore = new CloudSqlStore(
      this,
      "cloud_sql_store",
      cloudSqlStoreProps(config, {
        projectNumber: project.number,
        networkId: network.id,
        keyRingId: keyRing.id,
        namespace: this.namespace.metadata.name,
      }),
    );
    const identity = new GkeWorkloadIdentity(
      this,
      "workload_identity",
      trackingWorkloadIdentityProps(config, {
        bucketName: artifactStore.contract.bucketName,
        prefix: artifactStore.prefix,
        dependsOn: [artifactStore.bucket],
      }),
    );
    const registry = new ArtifactRegistry(
      this,
      "artifact_registry",
      artifactRegistryProps(config, { projectNumber: project.number, keyRingId: keyRing.id }),
    );
    // GitHub Actions' identities, applied by an administrator (npm run bootstrap): only with a ci section.
    const ciProps = gcpCiIdentitiesProps(config);
    if (ciProps) new GcpCiIdentities(this, GCP_CI_IDENTITIES_ID, ciProps);
    // Synth-time policy checks over everything in this stack (policies/index.ts): the GCP rules and the cloud-neutral ones.
    applyPolicies(this);

    // ── Registry events (events.enabled): before the tracking server, which reads the encryption key it generates ──
    const registryEvents = cloudRegistryEvents(this, config, {
      namespace: this.namespace,
      copySecret: gcpSecretCopy,
      metadataCidrs: GKE_METADATA_CIDRS,
    });

    // ── Tracking server, proxy and route ─────────────────────────────────
    const trackingServer = new TrackingServer(
      this,
      "tracking_server",
      trackingServerProps(config, {
        artifactStore: artifactStore.contract,
        backendStore: backendStore.contract,
        identity: identity.contract,
        authProxyPodLabels: authProxyPodLabelsOf(config),
        // The retention and drift jobs call the tracking server's API in-cluster: its NetworkPolicy admits their pods.
        apiClientPodLabels: [modelRetentionPodLabels(config), ...(driftJobsConfigured(config) ? [driftJobPodLabels(config)] : [])],
        dependsOn: [
          this.namespace,
          backendStore.kubernetesSecret,
          identity.serviceAccount,
          ...(registryEvents ? [registryEvents.generatedSecret] : []),
        ],
      }),
    );

    // ── Model retention: its own Google service account, allowed to set object metadata under the prefix ──
    new GcpModelRetention(
      this,
      "model_retention",
      gcpModelRetentionProps(config, {
        artifactStore: artifactStore.contract,
        bucketName: artifactStore.contract.bucketName,
        artifactPrefix: artifactStore.prefix,
        dependsOn: [this.namespace],
        storeDependsOn: [artifactStore.bucket],
      }),
    );

    // ── Model serving: one ModelEndpoint per served model, reached in-cluster (serving.exposure "none") ──
    // Each logging model's server runs as its own Google service account, which may only create objects under the
    // model's inference log; each drift job as another, which may only list and read them.
    const cloud = gkeCloudFlows(config.ingress.vpcCidrs);
    const namePrefix = `${config.project}-${config.name}`;
    const models = Object.keys(config.serving.models);
    const servingNamespace =
      models.length === 0 || config.serving.namespace === config.mlflow.namespace
        ? undefined
        : new NamespaceV1(this, "serving_namespace", {
            metadata: { name: config.serving.namespace, labels: { ...managedLabels(config.project), ...RESTRICTED_POD_SECURITY } },
          });
    // Blue-green / canary releases need the Argo Rollouts controller and its CRDs before the first Rollout.
    const rollouts =
      models.length > 0 && installsRolloutsController(config)
        ? new ArgoRollouts(this, "argo_rollouts", argoRolloutsProps(config))
        : undefined;
    const identities: Record<string, { contract: GkeWorkloadIdentity["contract"]; readyWith: GkeWorkloadIdentity["serviceAccount"][] }> =
      {};
    for (const modelName of models.filter((m) => config.serving.models[m].inferenceLog.enabled)) {
      const modelIdentity = new GkeWorkloadIdentity(
        this,
        `model_identity_${modelName.replace(/-/g, "_")}`,
        modelServerIdentityProps(config, modelName, {
          bucketName: artifactStore.contract.bucketName,
          serviceAccountName: modelServerName(namePrefix, modelName),
          dependsOn: [artifactStore.bucket],
        }),
      );
      identities[modelName] = { contract: modelIdentity.contract, readyWith: [modelIdentity.serviceAccount] };
    }
    const endpoints = gcpModelEndpointProps(config, namePrefix, {
      registryUrl: registry.url,
      bucketName: artifactStore.contract.bucketName,
      identities,
      cloud,
    });
    for (const [modelName, props] of Object.entries(endpoints)) {
      const endpoint = new ModelEndpoint(this, `model_${modelName.replace(/-/g, "_")}`, {
        ...props,
        dependsOn: [servingNamespace ?? this.namespace, ...(rollouts ? [rollouts.release] : [])],
      });
      // serving.exposure "ingress": the model's own OAuth2 Proxy behind an HTTPRoute on the environment's Gateway.
      gatewayModelGatewayFromConfig(this, config, namePrefix, modelName, endpoint);
      // Scheduled drift detection of the released version, beside the tracking server it logs to.
      if (driftJobModels(config).includes(modelName))
        new GcpDriftJob(
          this,
          `drift_${modelName.replace(/-/g, "_")}`,
          gcpDriftJobProps(config, modelName, {
            bucketName: artifactStore.contract.bucketName,
            dependsOn: [this.namespace],
            storeDependsOn: [artifactStore.bucket],
          }),
        );
    }

    // ── Training pipelines: Argo Workflows and the WorkflowTemplate; the pods' own Google service account may read and
    // write Argo's prefix of the bucket (archived step logs) and nothing else. The steps reach MLflow through the
    // Gateway and the proxy with their projected token, as on AWS. ──
    const training = config.training.enabled
      ? new Training(
          this,
          "training",
          cloudTrainingProps(config, {
            artifacts: { kind: "gcs", bucketName: artifactStore.contract.bucketName, prefix: argoArtifactPrefix(config) },
            identity: new GkeWorkloadIdentity(
              this,
              "training_identity",
              gkeTrainingIdentityProps(config, { bucketName: artifactStore.contract.bucketName, dependsOn: [artifactStore.bucket] }),
            ).contract,
          }),
        )
      : undefined;
    gatewayFront(this, config, {
      namespace: this.namespace,
      trackingServer: trackingServer.contract,
      registryEvents: registryEvents?.contract,
      cloud,
      // The models' namespace, and the training namespace and Argo's (install mode): default-deny there too.
      namespaces: [
        ...(servingNamespace ? [[config.serving.namespace, servingNamespace] as const] : []),
        ...(rollouts ? [[config.serving.delivery.controllerNamespace, rollouts.namespace] as const] : []),
        ...trainingNamespaces(config, training),
      ],
    });
  }

  /** As MlflowStack's: the JSON the policy pack checked, resolved once. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- cdktf's own signature
  override toTerraform(): any {
    return takePolicyCheckedJson(this) ?? super.toTerraform();
  }
}
