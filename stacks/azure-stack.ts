import { AzurermBackend, Fn, LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import type { Construct } from "constructs";
import { AzurermProvider } from "@cdktf/provider-azurerm/lib/provider";
import { DataAzurermClientConfig } from "@cdktf/provider-azurerm/lib/data-azurerm-client-config";
import { DataAzurermKubernetesCluster } from "@cdktf/provider-azurerm/lib/data-azurerm-kubernetes-cluster";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { azureResourceNames, type AzureEnvironmentConfig } from "../config/azure";
import { KeyVault } from "../constructs/key-vault";
import { keyVaultProps } from "../constructs/key-vault/from-config";
import { BlobArtifactStore } from "../constructs/blob-artifact-store";
import { blobArtifactStoreProps } from "../constructs/blob-artifact-store/from-config";
import { PostgresFlexibleStore } from "../constructs/postgres-flexible-store";
import { postgresFlexibleStoreProps } from "../constructs/postgres-flexible-store/from-config";
import { AzureContainerRegistry } from "../constructs/container-registry";
import { containerRegistryProps } from "../constructs/container-registry/from-config";
import { AksWorkloadIdentity } from "../constructs/aks-workload-identity";
import { trackingAksIdentityProps } from "../constructs/aks-workload-identity/from-config";
import { TrackingServer } from "../constructs/tracking-server";
import { trackingServerProps } from "../constructs/tracking-server/from-config";
import { authProxyPodLabelsOf } from "../constructs/auth-proxy/from-config";
import { modelRetentionPodLabels } from "../constructs/model-retention/command";
import { AzureModelRetention } from "../constructs/model-retention";
import { azureModelRetentionProps } from "../constructs/model-retention/from-config";
import { aksCloudFlows } from "../constructs/network-policies/from-config";
import { gatewayFront, trainingNamespaces } from "./gateway-front";
import { Training } from "../constructs/training";
import { aksTrainingIdentityProps, argoArtifactPrefix, cloudTrainingProps } from "../constructs/training/from-config";
import { cloudRegistryEvents, AKS_METADATA_CIDRS } from "./cloud-events";
import { azureSecretCopy } from "../constructs/registry-events/copy-from-azure";
import { managedLabels, RESTRICTED_POD_SECURITY } from "../constructs/core/labels";
import { AzureCiIdentities } from "../constructs/azure-ci-identities";
import { azureCiIdentitiesProps } from "../constructs/azure-ci-identities/from-config";
import { applyPolicies, takePolicyCheckedJson } from "../policies";
import { CI_IDENTITIES_ID } from "../policies/iam/administered";
import { TERRAFORM_REQUIRED_VERSION } from "./mlflow-stack";
import { ModelEndpoint } from "../constructs/model-endpoint";
import { gatewayModelGatewayFromConfig, inferenceLogSettings, modelServerProps } from "../constructs/model-endpoint/from-config";
import { modelServerAksIdentityProps } from "../constructs/aks-workload-identity/from-config";
import { AzureDriftJob } from "../constructs/drift-job";
import { azureDriftJobProps } from "../constructs/drift-job/from-config";
import { driftJobModels, driftJobPodLabels, driftJobsConfigured } from "../constructs/drift-job/command";
import { ArgoRollouts } from "../constructs/argo-rollouts";
import { argoRolloutsProps } from "../constructs/argo-rollouts/from-config";
import { installsRolloutsController } from "../config/serving";
import { INFERENCE_LOG_PREFIX } from "../constructs/core/inference-log";

/**
 * The application id of "Azure Kubernetes Service AAD Server", the audience of the Microsoft Entra ID tokens an
 * AKS cluster with Entra ID integration accepts (what `kubelogin` asks for).
 */
export const AKS_ENTRA_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630";

/** The Terraform variable the Kubernetes and Helm providers authenticate with (docs/azure.md#first-deploy). */
export const AKS_TOKEN_VARIABLE = "aks_access_token";

/**
 * One Azure environment, in its own Terraform state: Azure's stores and identities (Blob Storage, PostgreSQL flexible
 * server, Key Vault, workload identity, Container Registry) below the same Kubernetes half as an AWS stack (the tracking server with a
 * wasbs:// artifact destination, the proxy, the HTTPRoute, monitoring, default-deny network policies). The features
 * this stack cannot deploy yet are refused by the configuration (config/azure.ts), so what synthesizes is complete.
 */
export class AzureMlflowStack extends TerraformStack {
  readonly config: AzureEnvironmentConfig;
  readonly namespace: NamespaceV1;

  constructor(scope: Construct, config: AzureEnvironmentConfig) {
    super(scope, `${config.project}-${config.name}`);
    this.config = config;
    const az = config.azure;
    this.addOverride("terraform.required_version", TERRAFORM_REQUIRED_VERSION);

    // ── State and providers ─────────────────────────────────────────────
    if (config.state.backend === "azurerm") {
      new AzurermBackend(this, {
        resourceGroupName: config.state.resourceGroupName,
        storageAccountName: config.state.storageAccountName,
        containerName: config.state.containerName,
        key: config.state.key.replaceAll("{env}", config.name),
        // Microsoft Entra ID, not the account's shared key: the state account may (and should) have shared keys off.
        useAzureadAuth: true,
      });
    } else {
      new LocalBackend(this, { path: config.state.path.replaceAll("{env}", config.name) });
    }
    // How Terraform signs in (Azure CLI, a managed identity, GitHub's OIDC token) is the environment's: ARM_* variables.
    new AzurermProvider(this, "azurerm", {
      subscriptionId: az.subscriptionId,
      tenantId: az.tenantId,
      // The artifact account has shared keys off: its data plane is reached with Entra ID too.
      storageUseAzuread: true,
      features: [
        {
          // Never purge: a vault with purge protection cannot be purged anyway, and its keys encrypt the stores' data.
          keyVault: [{ purgeSoftDeleteOnDestroy: false, purgeSoftDeletedKeysOnDestroy: false }],
          // The artifact account's firewall denies Terraform's network: its container and lifecycle policy go through
          // Azure Resource Manager, and the provider must not read queue or static-website properties from the data plane.
          storage: [{ dataPlaneAvailable: false }],
        },
      ],
    });
    const client = new DataAzurermClientConfig(this, "client");
    const cluster = new DataAzurermKubernetesCluster(this, "aks_cluster", {
      name: az.clusterName,
      resourceGroupName: az.clusterResourceGroupName ?? az.resourceGroupName,
    });
    // The kubernetes and helm providers authenticate with a Microsoft Entra ID access token for AKS (the cluster has
    // local accounts off: its kube_config holds no credential), passed in as a sensitive variable. No exec plugin
    // (kubelogin) on the machine that runs Terraform, and nothing long-lived in the configuration or the state.
    const token = new TerraformVariable(this, AKS_TOKEN_VARIABLE, {
      type: "string",
      sensitive: true,
      description: `A Microsoft Entra ID access token for the AKS cluster: az account get-access-token --resource ${AKS_ENTRA_SERVER_APP_ID} --query accessToken -o tsv`,
    });
    if (config.ci) {
      // In the pipelines the plan identity plans and the deploy identity applies that saved plan: the token is
      // given again at apply time (an ephemeral variable is kept out of the plan file), so the apply reaches the
      // cluster as the deploy identity, not with the plan identity's token, expired by then.
      token.addOverride("ephemeral", true);
    }
    const kubeConfig = cluster.kubeConfig.get(0);
    const host = kubeConfig.host;
    const clusterCaCertificate = Fn.base64decode(kubeConfig.clusterCaCertificate);
    new KubernetesProvider(this, "kubernetes", { host, clusterCaCertificate, token: token.stringValue });
    new HelmProvider(this, "helm", { kubernetes: { host, clusterCaCertificate, token: token.stringValue } });
    new RandomProvider(this, "random");

    this.namespace = new NamespaceV1(this, "namespace", {
      metadata: { name: config.mlflow.namespace, labels: { ...managedLabels(config.project), ...RESTRICTED_POD_SECURITY } },
    });

    // GitHub Actions' identities, applied by an administrator (npm run bootstrap): only with a ci section.
    const ciProps = azureCiIdentitiesProps(config, { clusterId: cluster.id });
    const ci = ciProps ? new AzureCiIdentities(this, CI_IDENTITIES_ID, ciProps) : undefined;

    // ── Stores and identity ──────────────────────────────────────────────
    // One vault per environment; each store has its own key in it. Terraform's own identity administers the keys;
    // with CI that is the deploy identity, named as such: the plan identity, which makes the plan the deploy
    // identity applies, would otherwise put itself in the plan as the keys' administrator.
    const keyAdministrator = ci ? ci.deployIdentity.principalId : client.objectId;
    const keyVault = new KeyVault(this, "key_vault", keyVaultProps(config, { keyAdministratorPrincipalIds: [keyAdministrator] }));
    const artifactStore = new BlobArtifactStore(
      this,
      "blob_artifact_store",
      blobArtifactStoreProps(config, { key: keyVault.keyFor("artifacts_key", "mlflow-artifacts"), dependsOn: [keyVault.vault] }),
    );
    const backendStore = new PostgresFlexibleStore(
      this,
      "postgres_flexible_store",
      postgresFlexibleStoreProps(config, {
        key: keyVault.keyFor("database_key", "mlflow-database"),
        namespace: this.namespace.metadata.name,
      }),
    );
    const identity = new AksWorkloadIdentity(
      this,
      "workload_identity",
      trackingAksIdentityProps(config, {
        oidcIssuerUrl: cluster.oidcIssuerUrl,
        containerScope: artifactStore.contract.containerScope,
        containerName: artifactStore.contract.bucketName,
        prefix: artifactStore.prefix,
        dependsOn: [artifactStore.container],
      }),
    );
    // The model images' registry: the cluster's kubelet identity pulls from it, through its private endpoint.
    const registry = new AzureContainerRegistry(
      this,
      "container_registry",
      containerRegistryProps(config, {
        key: keyVault.keyFor("images_key", "mlflow-images"),
        pullPrincipalIds: [cluster.kubeletIdentity.get(0).objectId],
      }),
    );
    // Synth-time policy checks over everything in this stack (policies/index.ts): the Azure rules and the cloud-neutral ones.
    applyPolicies(this);

    // ── Registry events (events.enabled): before the tracking server, which reads the encryption key it generates ──
    const registryEvents = cloudRegistryEvents(this, config, {
      namespace: this.namespace,
      copySecret: (src) => azureSecretCopy(src, az.resourceGroupName),
      metadataCidrs: AKS_METADATA_CIDRS,
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
          identity.identity,
          ...(registryEvents ? [registryEvents.generatedSecret] : []),
        ],
      }),
    );

    // ── Model retention: its own managed identity, allowed to list blobs and set their index tags under the prefix ──
    new AzureModelRetention(
      this,
      "model_retention",
      azureModelRetentionProps(config, {
        artifactStore: artifactStore.contract,
        oidcIssuerUrl: cluster.oidcIssuerUrl,
        containerScope: artifactStore.contract.containerScope,
        containerName: artifactStore.contract.bucketName,
        artifactPrefix: artifactStore.prefix,
        dependsOn: [this.namespace],
        storeDependsOn: [artifactStore.container],
      }),
    );

    // ── Model serving, reached in the cluster (serving.exposure "none"): one ModelEndpoint per served model ──
    const cloud = aksCloudFlows(config.ingress.vpcCidrs);
    const stackName = `${config.project}-${config.name}`;
    // The log's store: the artifact container (the log's prefix is beside MLflow's, never under it).
    const store = `wasbs://${artifactStore.contract.bucketName}@${azureResourceNames(config).storageAccount}.blob.core.windows.net`;
    const servingNamespaces: [string, NamespaceV1][] = [];
    const endpoints = Object.entries(modelServerProps(config, stackName));
    if (endpoints.length > 0) {
      const servingNamespace =
        config.serving.namespace === config.mlflow.namespace
          ? this.namespace
          : new NamespaceV1(this, "serving_namespace", {
              metadata: { name: config.serving.namespace, labels: { ...managedLabels(config.project), ...RESTRICTED_POD_SECURITY } },
            });
      if (servingNamespace !== this.namespace) servingNamespaces.push([config.serving.namespace, servingNamespace]);
      // Blue-green / canary releases need the Argo Rollouts controller and its CRDs before the first Rollout.
      const rollouts = installsRolloutsController(config) ? new ArgoRollouts(this, "argo_rollouts", argoRolloutsProps(config)) : undefined;
      if (rollouts) servingNamespaces.push([config.serving.delivery.controllerNamespace, rollouts.namespace]);
      for (const [modelName, props] of endpoints) {
        const id = modelName.replace(/-/g, "_");
        // The server's own identity: it may only create blobs under its model's log prefix.
        const logIdentity = config.serving.models[modelName].inferenceLog.enabled
          ? new AksWorkloadIdentity(
              this,
              `model_${id}_identity`,
              modelServerAksIdentityProps(config, modelName, {
                oidcIssuerUrl: cluster.oidcIssuerUrl,
                containerScope: artifactStore.contract.containerScope,
                containerName: artifactStore.contract.bucketName,
                dependsOn: [artifactStore.container],
              }),
            )
          : undefined;
        const endpoint = new ModelEndpoint(this, `model_${id}`, {
          ...props,
          // The cluster's kubelet identity has AcrPull on the registry (above).
          imageRepository: { repositoryUrl: `${registry.loginServer}/${stackName}/${modelName}` },
          inferenceLog: logIdentity
            ? {
                destination: store,
                prefix: INFERENCE_LOG_PREFIX,
                identity: logIdentity.contract,
                egress: [cloud.apis, ...cloud.credentials],
                readyWith: [logIdentity.identity],
                ...inferenceLogSettings(config, modelName),
              }
            : undefined,
          dependsOn: [servingNamespace, ...(rollouts ? [rollouts.release] : [])],
        });
        // serving.exposure "ingress": the model's own OAuth2 Proxy behind an HTTPRoute on the environment's Gateway.
        gatewayModelGatewayFromConfig(this, config, stackName, modelName, endpoint);
        // Scheduled drift detection of the released version, as its own identity that may only read the model's log.
        if (driftJobModels(config).includes(modelName))
          new AzureDriftJob(
            this,
            `drift_${id}`,
            azureDriftJobProps(config, modelName, {
              source: store,
              oidcIssuerUrl: cluster.oidcIssuerUrl,
              containerScope: artifactStore.contract.containerScope,
              containerName: artifactStore.contract.bucketName,
              dependsOn: [this.namespace],
              storeDependsOn: [artifactStore.container],
            }),
          );
      }
    }

    // ── Training pipelines: Argo Workflows and the WorkflowTemplate; the pods' own managed identity may read and write
    // Argo's prefix of the container (archived step logs) and nothing else, and every step's pod carries workload
    // identity's label. The steps reach MLflow through the Gateway and the proxy with their projected token, as on AWS. ──
    const training = config.training.enabled
      ? new Training(
          this,
          "training",
          cloudTrainingProps(config, {
            artifacts: {
              kind: "azure",
              endpoint: `https://${artifactStore.contract.storageAccountName}.blob.core.windows.net`,
              container: artifactStore.contract.bucketName,
              prefix: argoArtifactPrefix(config),
            },
            identity: new AksWorkloadIdentity(
              this,
              "training_identity",
              aksTrainingIdentityProps(config, {
                oidcIssuerUrl: cluster.oidcIssuerUrl,
                containerScope: artifactStore.contract.containerScope,
                containerName: artifactStore.contract.bucketName,
                dependsOn: [artifactStore.container],
              }),
            ).contract,
          }),
        )
      : undefined;
    gatewayFront(this, config, {
      namespace: this.namespace,
      trackingServer: trackingServer.contract,
      registryEvents: registryEvents?.contract,
      cloud,
      // The models' namespaces, and the training namespace and Argo's (install mode): default-deny there too.
      namespaces: [...servingNamespaces, ...trainingNamespaces(config, training)],
    });
  }

  /** As MlflowStack's: the JSON the policy pack checked, resolved once. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- cdktf's own signature
  override toTerraform(): any {
    return takePolicyCheckedJson(this) ?? super.toTerraform();
  }
}
