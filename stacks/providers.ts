import { Fn, LocalBackend, S3Backend, TerraformStack, TerraformVariable, Token } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { DataAwsEksClusterAuth } from "@cdktf/provider-aws/lib/data-aws-eks-cluster-auth";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import type { EnvironmentConfig } from "../config";
import { defaultTags } from "../config/tags";
import { stateLocation } from "../config/state";

/** Re-exported: the tags are the configuration's (config/tags.ts), the provider applies them. */
export { defaultTags };

/**
 * Configures where the environment's Terraform state lives: an S3 object in the environment's own account,
 * encrypted with the account's state key and locked with S3's native lock file (Terraform >= 1.10, no
 * DynamoDB table), or a local file when the configuration says so. The backend uses the credentials
 * Terraform runs with (the CI role of the account, or an administrator of it): it assumes no role, because
 * no other account ever reads the state (config/state.ts, docs/stores.md).
 */
export function configureBackend(stack: TerraformStack, config: EnvironmentConfig): void {
  const state = config.state;
  if (state.backend === "local") {
    new LocalBackend(stack, { path: state.path.replaceAll("{env}", config.name) });
    return;
  }
  const location = stateLocation(config)!;
  const backend = new S3Backend(stack, {
    bucket: location.bucket,
    key: location.key,
    region: location.region,
    encrypt: true,
    kmsKeyId: location.kmsKeyArn,
  });
  // cdktf 0.21's S3Backend predates `use_lockfile`; Terraform >= 1.10 reads it from the backend block.
  backend.addOverride("use_lockfile", true);
}

/**
 * The Terraform variable that holds the role the AWS provider assumes (stacks with `aws.assumeRoleArn`).
 * Ephemeral (Terraform >= 1.10): it is not stored in a saved plan, so the run that applies a plan sets it
 * again, possibly to another value, and a plan made with one principal is applied with another. Its
 * default is `aws.assumeRoleArn` (a person's `cdktf deploy`); the workflows set it to "" (assume nothing):
 * their CI roles already live in the environment's account, and the pull-request plan role must never
 * become the deployer (docs/ci-cd.md).
 */
export const PROVIDER_ROLE_VARIABLE = "aws_assume_role_arn";

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
  const aws = new AwsProvider(stack, "aws", {
    region: config.aws.region,
    allowedAccountIds: [config.aws.accountId],
    defaultTags: [{ tags: defaultTags(config) }],
  });
  const roleVar = config.aws.assumeRoleArn ? `var.${PROVIDER_ROLE_VARIABLE}` : undefined;
  if (config.aws.assumeRoleArn) {
    const variable = new TerraformVariable(stack, PROVIDER_ROLE_VARIABLE, {
      type: "string",
      default: config.aws.assumeRoleArn,
      nullable: false,
      description:
        "Role the AWS provider (and aws eks get-token) assumes; \"\" to use the caller's own credentials (the CI roles, which live in the environment's account)",
    });
    variable.addOverride("ephemeral", true);
    aws.addOverride("dynamic.assume_role", {
      for_each: `\${${roleVar} == "" ? [] : [${roleVar}]}`,
      content: {
        role_arn: "${assume_role.value}",
        session_name: sessionName,
        ...(config.aws.assumeRoleExternalId ? { external_id: config.aws.assumeRoleExternalId } : {}),
      },
    });
  }

  const cluster = new DataAwsEksCluster(stack, "eks_cluster", { name: config.cluster.name });
  const host = cluster.endpoint;
  const clusterCaCertificate = Fn.base64decode(cluster.certificateAuthority.get(0).data);

  let credentials: { token: string } | { exec: { apiVersion: string; command: string; args: string[] } };
  if (config.cluster.auth === "token") {
    const auth = new DataAwsEksClusterAuth(stack, "eks_cluster_auth", { name: config.cluster.name });
    credentials = { token: auth.token };
  } else {
    const base = ["eks", "get-token", "--cluster-name", config.cluster.name, "--region", config.aws.region];
    // The same principal as the AWS provider: --role-arn only when the variable names a role.
    const args = roleVar ? Token.asList(`\${concat(${JSON.stringify(base)}, ${roleVar} == "" ? [] : ["--role-arn", ${roleVar}])}`) : base;
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
