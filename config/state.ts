/**
 * Where an environment's Terraform state lives, resolved once from its `state` section: the S3 backend
 * (stacks/providers.ts), the CI roles' state access (constructs/ci-roles), the workflows' matrix
 * (scripts/ci/environments.ts) and the bootstrap (scripts/bootstrap.ts) all read it here.
 *
 * The model (docs/stores.md): each AWS account has its own state bucket and its own customer-managed KMS
 * key, created by `npm run bootstrap -- <env>`. The environment's CI roles live in the same account and
 * reach the state with their own identity policies; no other account is granted anything, so a state
 * (which holds generated secrets) never leaves its account. Environments that share an account may share
 * its bucket (their keys differ by `{env}`).
 */
import { partitionOf } from "../constructs/core/aws";

/** The placeholder `state.bucket` may contain: the environment's account id. */
export const STATE_BUCKET_ACCOUNT_PLACEHOLDER = "{account}";

/** The alias of the state key the bootstrap creates in each account, unless `state.kmsKeyArn` names another key. */
export function stateKeyAlias(project: string): string {
  return `alias/${project}-terraform-state`;
}

/** The part of an environment's configuration the state location depends on. */
export interface StateNaming {
  readonly name: string;
  readonly project: string;
  readonly aws: { readonly accountId: string; readonly region: string };
  readonly state:
    | { readonly backend: "s3"; readonly bucket: string; readonly key: string; readonly region?: string; readonly kmsKeyArn?: string }
    | { readonly backend: "local"; readonly path: string };
}

/** An S3 state location, every value resolved. */
export interface StateLocation {
  /** The bucket, `{account}` replaced. */
  readonly bucket: string;
  /** The object key, `{env}` replaced. */
  readonly key: string;
  /** The bucket's region. */
  readonly region: string;
  /** The account the bucket (and its key) must live in: the environment's. */
  readonly account: string;
  readonly partition: string;
  /** The key (key or alias ARN) that encrypts the state object. */
  readonly kmsKeyArn: string;
  /** The alias name ("alias/...") when `kmsKeyArn` is an alias ARN: IAM grants on a key are written with its alias then. */
  readonly kmsAlias?: string;
}

/** The environment's S3 state location; undefined with a local backend. */
export function stateLocation(env: StateNaming): StateLocation | undefined {
  const s = env.state;
  if (s.backend !== "s3") return undefined;
  const region = s.region ?? env.aws.region;
  const partition = partitionOf(region);
  const kmsKeyArn = s.kmsKeyArn ?? `arn:${partition}:kms:${region}:${env.aws.accountId}:${stateKeyAlias(env.project)}`;
  const alias = /:(alias\/.+)$/.exec(kmsKeyArn)?.[1];
  return {
    bucket: s.bucket.replaceAll(STATE_BUCKET_ACCOUNT_PLACEHOLDER, env.aws.accountId),
    key: s.key.replaceAll("{env}", env.name),
    region,
    account: env.aws.accountId,
    partition,
    kmsKeyArn,
    kmsAlias: alias,
  };
}
