import { Fn, LocalBackend, S3Backend, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { DataAwsEksClusterAuth } from "@cdktf/provider-aws/lib/data-aws-eks-cluster-auth";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import type { EnvironmentConfig } from "../config";
import { defaultTags } from "../config/tags";

/** Re-exported: the tags are the configuration's (config/tags.ts), the provider applies them. */
export { defaultTags };

/**
 * Configures where the environment's Terraform state lives: an S3 object, encrypted and locked with
 * S3's native lock file (Terraform >= 1.10, no DynamoDB table), or a local file when the
 * configuration says so.
 */
export function configureBackend(stack: TerraformStack, config: EnvironmentConfig): void {
  const state = config.state;
  if (state.backend === "local") {
    new LocalBackend(stack, { path: state.path.replaceAll("{env}", config.name) });
    return;
  }
  const backend = new S3Backend(stack, {
    bucket: state.bucket,
    key: state.key.replaceAll("{env}", config.name),
    region: state.region ?? config.aws.region,
    encrypt: true,
    kmsKeyId: state.kmsKeyArn,
    assumeRole: state.roleArn ? { roleArn: state.roleArn, sessionName: `${config.project}-${config.name}-state` } : undefined,
  });
  // cdktf 0.21's S3Backend predates `use_lockfile`; Terraform >= 1.10 reads it from the backend block.
  backend.addOverride("use_lockfile", true);
}

/** What the providers expose to the constructs of a stack. */
export interface ClusterAccess {
  /** The existing EKS cluster, read at plan time. */
  readonly cluster: DataAwsEksCluster;
}

/**
 * Configures the AWS provider (pinned to the environment's account, default tags, optional assumed
 * role) and the kubernetes and helm providers for the environment's EKS cluster, authenticated with
 * short-lived tokens: never a kubeconfig file.
 */
export function configureProviders(stack: TerraformStack, config: EnvironmentConfig): ClusterAccess {
  const sessionName = `${config.project}-${config.name}-cdktf`;
  new AwsProvider(stack, "aws", {
    region: config.aws.region,
    allowedAccountIds: [config.aws.accountId],
    defaultTags: [{ tags: defaultTags(config) }],
    assumeRole: config.aws.assumeRoleArn
      ? [{ roleArn: config.aws.assumeRoleArn, sessionName, externalId: config.aws.assumeRoleExternalId }]
      : undefined,
  });

  const cluster = new DataAwsEksCluster(stack, "eks_cluster", { name: config.cluster.name });
  const host = cluster.endpoint;
  const clusterCaCertificate = Fn.base64decode(cluster.certificateAuthority.get(0).data);

  let credentials: { token: string } | { exec: { apiVersion: string; command: string; args: string[] } };
  if (config.cluster.auth === "token") {
    const auth = new DataAwsEksClusterAuth(stack, "eks_cluster_auth", { name: config.cluster.name });
    credentials = { token: auth.token };
  } else {
    const args = ["eks", "get-token", "--cluster-name", config.cluster.name, "--region", config.aws.region];
    if (config.aws.assumeRoleArn) args.push("--role-arn", config.aws.assumeRoleArn);
    credentials = { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws", args } };
  }

  new KubernetesProvider(stack, "kubernetes", {
    host,
    clusterCaCertificate,
    ...("token" in credentials ? { token: credentials.token } : { exec: [credentials.exec] }),
  });
  new HelmProvider(stack, "helm", {
    kubernetes: { host, clusterCaCertificate, ...credentials },
  });
  new RandomProvider(stack, "random");

  return { cluster };
}
