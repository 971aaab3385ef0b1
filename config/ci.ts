/**
 * The `ci` section: the GitHub repository whose workflows may act on an environment's AWS account, and
 * the names of the roles they assume through GitHub's OIDC token (no stored AWS keys; docs/ci-cd.md).
 *
 * The role names and ARNs are derived here, once: `constructs/ci-roles` creates the roles with these
 * names and `scripts/ci/environments.ts` prints these ARNs into the workflows' matrix, so the two can
 * never disagree.
 */
import { z } from "zod";
import { partitionOf } from "../constructs/core/aws";

const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const GITHUB_ENVIRONMENT = /^[A-Za-z0-9._-]{1,255}$/;

const roleName = (what: string) =>
  z.string().regex(ROLE_NAME, { error: `an IAM role name for ${what}: letters, digits and +=,.@_- , at most 64 characters` });

export const ciSchema = z
  .object({
    repository: z
      .string()
      .regex(REPOSITORY, { error: 'a GitHub repository as "owner/name", such as "acme/mlflow-platform" (your fork\'s)' })
      .describe(
        'The GitHub repository ("owner/name") whose workflows may assume this environment\'s CI roles: the only repository the roles trust.',
      ),
    oidcProvider: z
      .enum(["create", "existing"])
      .default("create")
      .describe(
        "`create` GitHub's OIDC provider (token.actions.githubusercontent.com) in this environment's account, or use the `existing` one (an account has at most one; when two environments share an account, one creates it and the other says `existing`).",
      ),
    deployEnvironment: z
      .string()
      .regex(GITHUB_ENVIRONMENT, { error: "a GitHub Environment name: letters, digits, '.', '_', '-'" })
      .optional()
      .describe(
        "The GitHub Environment whose jobs may assume the deploy and image-push roles (the OIDC subject `repo:<repository>:environment:<name>`). Defaults to the environment's name. Give it required reviewers in GitHub for every environment that must wait for an approval.",
      ),
    autoDeploy: z
      .boolean()
      .default(false)
      .describe(
        "Apply on every merge to main without waiting for a reviewer (dev). Off by default: the deploy job waits for the GitHub Environment's reviewers. Refused in a production environment.",
      ),
    planRoleName: roleName("the read-only plan role")
      .optional()
      .describe("Name of the read-only role pull-request plans and the drift check assume; defaults to `<project>-<env>-ci-plan`."),
    deployRoleName: roleName("the deploy role")
      .optional()
      .describe("Name of the role that applies a reviewed plan; defaults to `<project>-<env>-ci-deploy`."),
    imagePushRoleName: roleName("the image-push role")
      .optional()
      .describe("Name of the role the model release workflow pushes images with; defaults to `<project>-<env>-ci-image-push`."),
  })
  .strict();

export type CiConfig = z.output<typeof ciSchema>;

/** The part of an environment's configuration the CI names are derived from. */
export interface CiNaming {
  readonly name: string;
  readonly project: string;
  readonly aws: { readonly accountId: string; readonly region: string };
  readonly ci?: CiConfig;
}

/** The roles a pipeline assumes in one environment's account. */
export interface CiRoleNames {
  readonly plan: string;
  readonly deploy: string;
  readonly imagePush: string;
}

/** The GitHub Environment the deploy and image-push jobs of this environment run in. */
export function deployEnvironmentOf(env: CiNaming): string {
  return env.ci?.deployEnvironment ?? env.name;
}

/** Role names, from configuration or derived from project and environment name. */
export function ciRoleNames(env: CiNaming): CiRoleNames {
  const prefix = `${env.project}-${env.name}-ci`;
  return {
    plan: env.ci?.planRoleName ?? `${prefix}-plan`,
    deploy: env.ci?.deployRoleName ?? `${prefix}-deploy`,
    imagePush: env.ci?.imagePushRoleName ?? `${prefix}-image-push`,
  };
}

/** The ARNs of the roles, as the construct creates them and the workflows assume them. */
export function ciRoleArns(env: CiNaming): CiRoleNames {
  const names = ciRoleNames(env);
  const arn = (name: string) => `arn:${partitionOf(env.aws.region)}:iam::${env.aws.accountId}:role/${name}`;
  return { plan: arn(names.plan), deploy: arn(names.deploy), imagePush: arn(names.imagePush) };
}

/**
 * The roles that administer the stack's KMS keys through the keys' own policies (constructs/core/kms-key-policy.ts):
 * the deploy role of an environment the pipelines deploy; none otherwise (the account's IAM policies decide).
 */
export function keyAdministratorArns(env: CiNaming): string[] {
  return env.ci ? [ciRoleArns(env).deploy] : [];
}
