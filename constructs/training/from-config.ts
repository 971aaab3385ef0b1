/**
 * Maps an environment's configuration (config.training, the registry gates, the artifact store) onto the
 * Training construct's props: the one place where configuration meets the construct.
 */
import type { EnvironmentConfig } from "../../config";
import { registryGates } from "../../config/registry";
import type { TrainingStep as ConfiguredStep } from "../../config/training";
import type { PodIdentityContract, S3ArtifactStoreContract } from "../core/contracts";
import type { KubernetesEnvironment } from "../../config/kubernetes-half";
import type { GcpEnvironmentConfig } from "../../config/gcp";
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import type { GkeWorkloadIdentityProps } from "../gke-workload-identity";
import type { AksWorkloadIdentityProps } from "../aks-workload-identity";
import { type TrainingStep, trainingStepCommands, trainingWorkflowParameters } from "./command";
import type { AzureBlobTrainingArtifacts, GcsTrainingArtifacts, TrainingProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { trainingWorkspace } from "../access/from-config";
import { managedLabels } from "../core/labels";

/** Argo's artifacts (archived step logs) live under this prefix of the artifact bucket, beside MLflow's. */
export function argoArtifactPrefix(config: { readonly artifacts: { readonly prefix: string } }): string {
  return `${config.artifacts.prefix}-argo`;
}

/**
 * The gates the pipeline's gates step runs: the registry's gates for the model and target, without the
 * manual approval (a person approves later, in the release pipeline's `promote`; the pipeline only says
 * the automated gates pass). Everything else (metrics, tags, signature, input example) is as configured.
 */
export function pipelineGates(config: Pick<EnvironmentConfig, "registry">) {
  const gates = registryGates(config.registry);
  const noApproval = <T extends { approval: { required: boolean; groups: string[] } }>(set: T): T => ({
    ...set,
    approval: { ...set.approval, required: false },
  });
  return {
    ...gates,
    defaults: Object.fromEntries(Object.entries(gates.defaults).map(([t, s]) => [t, noApproval(s)])),
    models: Object.fromEntries(
      Object.entries(gates.models).map(([m, per]) => [m, Object.fromEntries(Object.entries(per).map(([t, s]) => [t, noApproval(s)]))]),
    ),
  };
}

/** What an enabled environment's Training props are on every cloud: all but the artifact repository and the identity. */
function commonTrainingProps(config: KubernetesEnvironment, workspace: string | undefined): Omit<TrainingProps, "artifacts" | "identity"> {
  const t = config.training;
  if (!t.enabled || !t.identity || !t.steps)
    throw new Error(
      `environment "${config.name}": training is not enabled (or misses identity/steps): the schema should have refused this`,
    );
  const steps = t.steps;
  return {
    namespace: t.namespace,
    labels: managedLabels(config.project),
    argo:
      t.argo.mode === "install"
        ? {
            namespace: t.argo.namespace,
            chartVersion: t.argo.chartVersion,
            sso: {
              issuerUrl: config.auth.issuerUrl,
              secretName: t.argo.ssoSecretName,
              redirectUrl: `https://${t.argo.uiHostname}/oauth2/callback`,
            },
          }
        : undefined,
    // With teams, every step works in its team's workspace (the one its identity has a role in).
    steps: trainingStepCommands(config, workspace),
    resources: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, v.resources])),
    parameters: trainingWorkflowParameters(config),
    schedule: t.schedule,
    tokenAudience: t.identity.audience,
    stepDeadlineSeconds: t.stepDeadlineSeconds,
    gatesJson: JSON.stringify(pipelineGates(config), null, 2),
  };
}

/** The Training props of an enabled environment (throws when training is off: check config.training.enabled first). */
export function trainingProps(
  config: EnvironmentConfig,
  stackName: string,
  deps: { artifactStore: S3ArtifactStoreContract },
): TrainingProps {
  return {
    ...commonTrainingProps(config, trainingWorkspace(config)),
    artifacts: {
      bucketName: deps.artifactStore.bucketName,
      bucketArn: deps.artifactStore.bucketArn,
      kmsKeyArn: deps.artifactStore.kmsKeyArn,
      region: config.aws.region,
      prefix: argoArtifactPrefix(config),
    },
    identity: {
      mode: config.identity.mode,
      clusterName: config.cluster.name,
      accountId: config.aws.accountId,
      region: config.aws.region,
      roleName: `${stackName}-training`,
      oidcProviderArn: config.cluster.oidcProviderArn,
    },
  };
}

/** The Kubernetes service account of the pipeline's pods (Training's default name; the proxy admits its tokens). */
export const TRAINING_SERVICE_ACCOUNT = "training-pipeline";

/**
 * The Training props of an enabled GCP or Azure environment: Argo's artifact repository in the environment's bucket or
 * container under {@link argoArtifactPrefix}, and the pods' identity the stack made ({@link gkeTrainingIdentityProps},
 * {@link aksTrainingIdentityProps}).
 */
export function cloudTrainingProps(
  config: GcpEnvironmentConfig | AzureEnvironmentConfig,
  deps: { artifacts: GcsTrainingArtifacts | AzureBlobTrainingArtifacts; identity: PodIdentityContract },
): TrainingProps {
  // With teams, every step works in its team's workspace (the one its identity has a role in), as on AWS.
  return { ...commonTrainingProps(config, trainingWorkspace(config)), name: TRAINING_SERVICE_ACCOUNT, ...deps };
}

/** The pipeline pods' Google service account: read-write on Argo's prefix of the artifact bucket, nothing else. */
export function gkeTrainingIdentityProps(
  config: GcpEnvironmentConfig,
  deps: Pick<GkeWorkloadIdentityProps, "bucketName" | "dependsOn">,
): GkeWorkloadIdentityProps {
  return {
    projectId: config.gcp.projectId,
    // "<project>-<env>-training", within the 30 characters a service account id may have.
    accountId: `${config.project}-${config.name}`.slice(0, 21).replace(/-+$/, "") + "-training",
    namespace: config.training.namespace,
    serviceAccountName: TRAINING_SERVICE_ACCOUNT,
    prefix: argoArtifactPrefix(config),
    access: "read-write",
    description: `Argo Workflows' artifacts of the training pipeline of ${config.project}-${config.name}`,
    ...deps,
  };
}

/** The pipeline pods' managed identity: read-write on Argo's prefix of the artifact container, nothing else. */
export function aksTrainingIdentityProps(
  config: AzureEnvironmentConfig,
  deps: Pick<AksWorkloadIdentityProps, "oidcIssuerUrl" | "containerScope" | "containerName" | "dependsOn">,
): AksWorkloadIdentityProps {
  return {
    name: `${azureResourceNames(config).stack}-training`,
    resourceGroupName: config.azure.resourceGroupName,
    location: config.azure.location,
    namespace: config.training.namespace,
    serviceAccountName: TRAINING_SERVICE_ACCOUNT,
    prefix: argoArtifactPrefix(config),
    access: "read-write",
    tags: azureTags(config),
    ...deps,
  };
}

// The command module names the steps itself (it may not import configuration): the two lists must agree,
// or this fails to compile.
type SameSteps = [TrainingStep] extends [ConfiguredStep] ? ([ConfiguredStep] extends [TrainingStep] ? true : false) : false;
export const TRAINING_STEPS_AGREE: SameSteps = true;

/** The configuration field behind each Training prop {@link trainingProps} sets (null: derived or default). */
export const TRAINING_FIELDS: PropFieldMap = {
  namespace: "training.namespace",
  name: null,
  "argo.namespace": "training.argo.namespace",
  "argo.chartVersion": "training.argo.chartVersion",
  "argo.sso.issuerUrl": "auth.issuerUrl",
  "argo.sso.secretName": "training.argo.ssoSecretName",
  "argo.sso.redirectUrl": "training.argo.uiHostname",
  steps: "training.steps",
  resources: "training.steps",
  schedule: "training.schedule",
  tokenAudience: "training.identity.audience",
  stepDeadlineSeconds: "training.stepDeadlineSeconds",
  "artifacts.prefix": "artifacts.prefix",
  artifacts: null,
  "artifacts.endpoint": null,
  identity: null,
  "identity.mode": "identity.mode",
  "identity.clusterName": "cluster.name",
  "identity.accountId": "aws.accountId",
  "identity.region": "aws.region",
  "identity.roleName": "name",
  "identity.oidcProviderArn": "cluster.oidcProviderArn",
};

/** The same for the pipeline's WorkloadRole (the construct's child "role"), whose props come from `identity`. */
export const TRAINING_ROLE_FIELDS: PropFieldMap = {
  mode: "identity.mode",
  clusterName: "cluster.name",
  namespace: "training.namespace",
  serviceAccountName: null,
  roleName: "name",
  accountId: "aws.accountId",
  region: "aws.region",
  oidcProviderArn: "cluster.oidcProviderArn",
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};

/** The pipeline pods' GkeWorkloadIdentity ("training_identity" of a GCP stack). */
export const GKE_TRAINING_IDENTITY_FIELDS: PropFieldMap = {
  projectId: "gcp.projectId",
  accountId: "name",
  namespace: "training.namespace",
  serviceAccountName: null,
  bucketName: "artifacts.bucketName",
  prefix: "artifacts.prefix",
  access: null,
  customRoleId: null,
  description: null,
  dependsOn: null,
};

/** The pipeline pods' AksWorkloadIdentity ("training_identity" of an Azure stack). */
export const AKS_TRAINING_IDENTITY_FIELDS: PropFieldMap = {
  name: "name",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  oidcIssuerUrl: "azure.clusterName",
  namespace: "training.namespace",
  serviceAccountName: null,
  containerScope: null,
  containerName: "artifacts.containerName",
  prefix: "artifacts.prefix",
  access: null,
  roleDefinition: null,
  tags: "tags",
  dependsOn: null,
};
