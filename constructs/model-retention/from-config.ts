/**
 * Maps an environment's configuration (`registry.retention`, the cluster's identity) onto the ModelRetention
 * construct's props: the one place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { ArtifactStoreContract } from "../core/contracts";
import type { ModelRetentionProps } from ".";
import { modelRetentionPodLabels, retentionCommand } from "./command";

/** The ModelRetention props of an environment; `namePrefix` is the stack's name (the IAM role's prefix). */
export function modelRetentionProps(
  config: EnvironmentConfig, namePrefix: string,
  deps: Pick<ModelRetentionProps, "dependsOn"> & { readonly artifactStore: ArtifactStoreContract; readonly artifactPrefix: string },
): ModelRetentionProps {
  return {
    namespace: config.mlflow.namespace,
    name: `${config.project}-model-retention`,
    command: retentionCommand({ config, artifactStore: deps.artifactStore }),
    schedule: config.registry.retention.schedule,
    podLabels: modelRetentionPodLabels(config),
    labels: { "app.kubernetes.io/part-of": config.project, "app.kubernetes.io/managed-by": "cdktf" },
    bucketArn: deps.artifactStore.bucketArn,
    artifactPrefix: deps.artifactPrefix,
    clusterName: config.cluster.name,
    accountId: config.aws.accountId,
    region: config.aws.region,
    roleName: `${namePrefix}-model-retention`,
    identityMode: config.identity.mode,
    oidcProviderArn: config.cluster.oidcProviderArn,
    dependsOn: deps.dependsOn,
  };
}
