/**
 * Maps an environment's configuration (config.training, the registry gates, the artifact store) onto the
 * Training construct's props: the one place where configuration meets the construct.
 */
import type { EnvironmentConfig } from "../../config";
import { registryGates } from "../../config/registry";
import type { TrainingStep as ConfiguredStep } from "../../config/training";
import type { ArtifactStoreContract } from "../core/contracts";
import { type TrainingStep, trainingStepCommands, trainingWorkflowParameters } from "./command";
import type { TrainingProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { trainingWorkspace } from "../access/from-config";
import { managedLabels } from "../core/labels";

/** Argo's artifacts (archived step logs) live under this prefix of the artifact bucket, beside MLflow's. */
export function argoArtifactPrefix(config: EnvironmentConfig): string {
  return `${config.artifacts.prefix}-argo`;
}

/**
 * The gates the pipeline's gates step runs: the registry's gates for the model and target, without the
 * manual approval (a person approves later, in the release pipeline's `promote`; the pipeline only says
 * the automated gates pass). Everything else (metrics, tags, signature, input example) is as configured.
 */
export function pipelineGates(config: EnvironmentConfig) {
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

/** The Training props of an enabled environment (throws when training is off: check config.training.enabled first). */
export function trainingProps(config: EnvironmentConfig, stackName: string, deps: { artifactStore: ArtifactStoreContract }): TrainingProps {
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
    steps: trainingStepCommands(config, trainingWorkspace(config)),
    resources: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, v.resources])),
    parameters: trainingWorkflowParameters(config),
    schedule: t.schedule,
    tokenAudience: t.identity.audience,
    stepDeadlineSeconds: t.stepDeadlineSeconds,
    gatesJson: JSON.stringify(pipelineGates(config), null, 2),
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
