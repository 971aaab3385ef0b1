/**
 * Small, pure AWS naming helpers shared by the constructs: the partition of a region, ARN prefixes,
 * the ARN of an EKS cluster and the issuer inside an IAM OIDC provider ARN. No resources, no
 * provider imports: safe to use from any construct, validation or test.
 */
import type { IConstruct } from "constructs";
import { PropError } from "./prop-error";

/** The partitions this project can name (the commercial one, GovCloud, China and the isolated regions). */
export type AwsPartition = "aws" | "aws-us-gov" | "aws-cn" | "aws-iso" | "aws-iso-b" | "aws-iso-e" | "aws-iso-f";

/** Region prefixes of the non-commercial partitions, longest first so that `us-isob-` wins over `us-iso-`. */
const PARTITION_PREFIXES: readonly (readonly [string, AwsPartition])[] = [
  ["us-gov-", "aws-us-gov"],
  ["us-isob-", "aws-iso-b"],
  ["us-isof-", "aws-iso-f"],
  ["eu-isoe-", "aws-iso-e"],
  ["us-iso-", "aws-iso"],
  ["cn-", "aws-cn"],
];

/**
 * The partition of a region: `aws-us-gov` for `us-gov-*`, `aws-cn` for `cn-*`, `aws-iso*` for the
 * isolated regions, otherwise `aws`. An unresolved token (or no region) is taken as `aws`.
 */
export function partitionOf(region: string | undefined): AwsPartition {
  for (const [prefix, partition] of PARTITION_PREFIXES) {
    if (region?.startsWith(prefix)) return partition;
  }
  return "aws";
}

/** `arn:<partition>` for a region, e.g. `arn:aws-us-gov` in us-gov-west-1. */
export function arnPrefix(region: string | undefined): string {
  return `arn:${partitionOf(region)}`;
}

/** The ARN of an EKS cluster: `arn:<partition>:eks:<region>:<account>:cluster/<name>`. */
export function eksClusterArn(region: string, accountId: string, clusterName: string): string {
  return `${arnPrefix(region)}:eks:${region}:${accountId}:cluster/${clusterName}`;
}

/**
 * An IAM OIDC identity provider ARN, `arn:<partition>:iam::<account>:oidc-provider/<issuer host and path>`;
 * group 2 is the issuer without its scheme (the prefix of IRSA's `:sub` and `:aud` condition keys).
 */
export const OIDC_PROVIDER_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:oidc-provider\/([a-z0-9.-]+(\/[^\s/]+)*)$/;

/**
 * The issuer (host and path, no scheme) of an IAM OIDC provider ARN, e.g.
 * `oidc.eks.eu-west-1.amazonaws.com/id/ABC` for `arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC`;
 * `undefined` when `arn` is not such an ARN.
 */
export function oidcIssuerOf(arn: string | undefined): string | undefined {
  return arn === undefined ? undefined : OIDC_PROVIDER_ARN.exec(arn)?.[2];
}

/**
 * The `alb.ingress.kubernetes.io/tags` annotation for `tags`: the AWS Load Balancer Controller puts
 * these on the ALBs, target groups and security groups it creates from an Ingress, which the AWS
 * provider's default tags never reach. The controller splits the value on "," and each pair on the
 * first "=", so a key or value holding "," cannot be written (an error says so).
 */
export function albTagsAnnotation(tags: Record<string, string>, scope: IConstruct | string = "albTagsAnnotation", prop = "tags"): string {
  const pairs = Object.entries(tags);
  for (const [k, v] of pairs) {
    if (k.includes(",") || k.includes("=") || v.includes(",")) {
      throw new PropError(
        scope,
        `${prop}.${k}`,
        v,
        'tags without "," (nor "=" in a key): the AWS Load Balancer Controller\'s tags annotation cannot carry them; rename the tag',
      );
    }
  }
  return pairs.map(([k, v]) => `${k}=${v}`).join(",");
}
