/**
 * Where the model release pipeline puts a model's image, computed from configuration: the image job of
 * `.github/workflows/release-model.yml` pushes it to the repository of the first non-production environment
 * serving the model (`first_stage` of scripts/ci/environments.ts's release path), and each later
 * environment serving the model copies it from there into its own repository with its deploy role
 * (`.github/workflows/release-environment.yml`, skopeo, same digest).
 *
 * A copy reads the source repository with the copying environment's deploy role, in the source's account.
 * Across accounts AWS needs both the caller's identity policy and the repository's policy to allow it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
 * the stacks grant exactly these pulls from this one computation (the source's repository policy names the
 * copying deploy roles; each copying deploy role may pull exactly the source repository).
 */
import { partitionOf } from "../constructs/core/aws";
import { ciRoleArns } from "./ci";
import type { EnvironmentConfig } from "./schema";

/** A repository a release is pushed to. */
export interface ImageSource {
  readonly env: string;
  readonly account: string;
  readonly region: string;
  /** `arn:<partition>:ecr:<region>:<account>:repository/<project>-<env>/<model>` */
  readonly repositoryArn: string;
}

/** An environment that copies a release from the source into its own repository. */
export interface ImageCopier {
  readonly env: string;
  readonly account: string;
  readonly region: string;
  /** The role the copy runs with (release-environment.yml): the environment's CI deploy role. */
  readonly deployRoleArn: string;
}

/** One model's release path as far as images go: where it is pushed, and who copies it from there. */
export interface ImageCopy {
  readonly model: string;
  readonly source: ImageSource;
  /** In release order (non-production first, then production, each in configuration order). */
  readonly copiers: readonly ImageCopier[];
}

type Env = Pick<EnvironmentConfig, "name" | "project" | "production" | "aws" | "ci"> & {
  readonly serving: Pick<EnvironmentConfig["serving"], "models">;
};

/** The ECR repository of `model` in `env` (constructs/model-endpoint: `<project>-<env>/<model>`). */
export function modelRepositoryArn(env: Pick<Env, "name" | "project" | "aws">, model: string): string {
  return `arn:${partitionOf(env.aws.region)}:ecr:${env.aws.region}:${env.aws.accountId}:repository/${env.project}-${env.name}/${model}`;
}

/**
 * Every model's image copies across `envs` (the whole configuration). Only environments the pipelines act
 * on (with a `ci` section) take part. A model no non-production environment serves has no source: the
 * release pipeline builds no image for it (its image job runs in the first non-production environment).
 */
export function imageCopies(envs: readonly Env[]): ImageCopy[] {
  const pipelined = envs.filter((e) => e.ci !== undefined);
  const models = [...new Set(pipelined.flatMap((e) => Object.keys(e.serving.models)))];
  const out: ImageCopy[] = [];
  for (const model of models) {
    const serving = pipelined.filter((e) => model in e.serving.models);
    const path = [...serving.filter((e) => !e.production), ...serving.filter((e) => e.production)];
    const first = path[0];
    if (!first || first.production) continue;
    const source: ImageSource = {
      env: first.name,
      account: first.aws.accountId,
      region: first.aws.region,
      repositoryArn: modelRepositoryArn(first, model),
    };
    const copiers = path
      .slice(1)
      .map((e): ImageCopier => ({ env: e.name, account: e.aws.accountId, region: e.aws.region, deployRoleArn: ciRoleArns(e).deploy }));
    if (copiers.length > 0) out.push({ model, source, copiers });
  }
  return out;
}

/** What one environment's stack grants and gets for the copies: pulls of its repositories, pulls from others'. */
export interface ImageCopyGrants {
  /** Per model this environment is the source of: the deploy roles that copy from its repository. */
  readonly pullersByModel: Readonly<Record<string, readonly string[]>>;
  /** The source repositories (ARNs) this environment's deploy role copies from. */
  readonly sourceRepositoryArns: readonly string[];
}

/**
 * The grants of environment `name` among `envs`. `envs` is the whole configuration; when `self` is given
 * it replaces the same-named entry (a stack is built from its own configuration object), keeping its place.
 */
export function imageCopyGrants(envs: readonly Env[], name: string, self?: Env): ImageCopyGrants {
  const all = self ? (envs.some((e) => e.name === name) ? envs.map((e) => (e.name === name ? self : e)) : [...envs, self]) : envs;
  const copies = imageCopies(all);
  const pullersByModel: Record<string, string[]> = {};
  for (const c of copies.filter((x) => x.source.env === name)) pullersByModel[c.model] = c.copiers.map((x) => x.deployRoleArn);
  const sourceRepositoryArns = copies.filter((c) => c.copiers.some((x) => x.env === name)).map((c) => c.source.repositoryArn);
  return { pullersByModel, sourceRepositoryArns: [...new Set(sourceRepositoryArns)].sort() };
}
