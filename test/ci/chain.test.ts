/**
 * The cross-account chain (test/helpers/workflow-chain.ts): for every environment, who assumes what
 * according to the synthesized trust and identity policies equals what the workflows do. A workflow that
 * assumes a role no synthesized policy lets it assume fails here: GitHub's token for a job's trigger or
 * GitHub Environment against the CI role's trust, and any role Terraform would assume on top (a stack's
 * aws.assumeRoleArn through the provider variable, a backend assume_role) against the CI role's identity
 * policy and the target's trust.
 */
import * as path from "path";
import { chainProblems, jobAssumptions, repositoryWorkflows, trustedSubjects } from "../helpers/workflow-chain";
import { configured, envConfig, SHIPPED, synthJson } from "../helpers/synth";
import { fixtureEnvironments } from "../helpers/fixture-environments";
import type { EnvironmentConfig } from "../../config";
import type { StackJson } from "../../policies/iam/instances";
import { PROVIDER_ROLE_VARIABLE } from "../../stacks/providers";

const WORKFLOWS = repositoryWorkflows(path.join(__dirname, "..", ".."));
const JOBS = jobAssumptions(WORKFLOWS);

const ENVIRONMENTS: [string, EnvironmentConfig][] = [
  ...SHIPPED.map((n): [string, EnvironmentConfig] => [`config/${n}`, configured(n)]),
  ...fixtureEnvironments().map((e): [string, EnvironmentConfig] => [`fixture/${e.name}`, e]),
];

describe("what the workflows do", () => {
  test("the jobs that get AWS credentials, their role and OIDC subject", () => {
    expect(
      JOBS.map(
        (j) =>
          `${j.workflow}/${j.job}: ${j.role} as ${j.subject}${j.runsTerraform ? `, Terraform with ${PROVIDER_ROLE_VARIABLE}=${JSON.stringify(j.providerRoleOverride)}` : ""}`,
      ).sort(),
    ).toEqual([
      `deploy.yml/apply: deploy as environment, Terraform with ${PROVIDER_ROLE_VARIABLE}=""`,
      `deploy.yml/plan: plan as main, Terraform with ${PROVIDER_ROLE_VARIABLE}=""`,
      `drift.yml/drift: plan as main, Terraform with ${PROVIDER_ROLE_VARIABLE}=""`,
      `plan.yml/plan: plan as pull_request, Terraform with ${PROVIDER_ROLE_VARIABLE}=""`,
      'release-environment.yml/release: deploy as environment, Terraform with aws_assume_role_arn=""',
      "release-model.yml/image: imagePush as environment",
    ]);
  });
});

describe.each(ENVIRONMENTS)("%s: the chain the workflows take is the one the policies permit", (_label, env) => {
  const json = synthJson(env) as StackJson;
  const run = env.ci ? test : test.skip;

  run("every role a workflow assumes admits it, and Terraform assumes nothing on top", () => {
    const { problems, edges } = chainProblems(env, json, JOBS);
    expect(problems).toEqual([]);
    // Who assumes what: GitHub's token -> the CI roles, and nothing further.
    expect([...new Set(edges.map((e) => `${e.from} -> ${e.to}`))].sort()).toEqual(
      [...new Set(trustedSubjects(env, json).map((t) => `github:${t.subject} -> role/${roleName(env, t.role)}`))].sort(),
    );
  });

  run("the pull-request plan role can never act as the deployer", () => {
    const planToDeploy = JOBS.filter((j) => j.subject === "pull_request").map((j) => ({ ...j, role: "deploy" as const }));
    expect(planToDeploy.length).toBeGreaterThan(0);
    expect(chainProblems(env, json, planToDeploy).problems.join("\n")).toMatch(
      /sub repo:.*:pull_request\) assumes role\/\S+-ci-deploy, whose trust policy does not admit it/,
    );
  });
});

describe("the chain check fails when a workflow takes a step no policy permits", () => {
  const prod = configured(SHIPPED.find((n) => configured(n).aws.assumeRoleArn) ?? SHIPPED[0]);
  const withRole = prod.aws.assumeRoleArn ? prod : envConfig("prod");
  const json = synthJson(withRole) as StackJson;

  test("a Terraform job without TF_VAR_aws_assume_role_arn would have the CI role assume aws.assumeRoleArn", () => {
    const workflows = {
      ...WORKFLOWS,
      "deploy.yml": WORKFLOWS["deploy.yml"].replaceAll(`TF_VAR_${PROVIDER_ROLE_VARIABLE}: ""`, "UNRELATED: x"),
    };
    const problems = chainProblems(withRole, json, jobAssumptions(workflows)).problems;
    expect(problems.join("\n")).toContain(
      `deploy.yml job apply: Terraform runs with role/${withRole.project}-${withRole.name}-ci-deploy and would assume ${withRole.aws.assumeRoleArn} through the AWS provider's assume_role`,
    );
    expect(problems.join("\n")).toContain("deploy.yml job plan: Terraform runs with role/");
  });

  test("a pull-request job that asks for the deploy role", () => {
    const workflows = { ...WORKFLOWS, "plan.yml": WORKFLOWS["plan.yml"].replace("matrix.planRoleArn", "matrix.deployRoleArn") };
    expect(chainProblems(withRole, json, jobAssumptions(workflows)).problems).toEqual([
      expect.stringMatching(
        /^plan\.yml job plan: GitHub's OIDC token \(sub repo:.*:pull_request\) assumes role\/\S+-ci-deploy, whose trust policy does not admit it \(ImplicitDeny\)$/,
      ),
    ]);
  });

  test("a release job without its GitHub Environment", () => {
    const workflows = {
      ...WORKFLOWS,
      "release-model.yml": WORKFLOWS["release-model.yml"].replace(
        /\n    environment: \$\{\{ fromJSON\(needs\.resolve\.outputs\.first_stage\)\.githubEnvironment \}\}/,
        "",
      ),
    };
    expect(chainProblems(withRole, json, jobAssumptions(workflows)).problems).toEqual([
      expect.stringMatching(
        /^release-model\.yml job image: GitHub's OIDC token \(sub repo:.*:ref:refs\/heads\/main\) assumes role\/\S+-ci-image-push, whose trust policy does not admit it/,
      ),
    ]);
  });
});

function roleName(env: EnvironmentConfig, kind: "plan" | "deploy" | "imagePush"): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- config/ci's naming, the one the construct uses
  return (require("../../config/ci") as typeof import("../../config/ci")).ciRoleNames(env)[kind];
}
