/**
 * The pipelines' own AWS calls (policies/iam/pipeline-actions.ts) against the synthesized roles that make
 * them: the plan and deploy roles (plan files, the release job's image copy and rollout check), the
 * image-push role (the release workflow's push and scan gate) and the training role (Argo's artifacts).
 * A call on another environment's resource (the copy's source repository, maybe in another account) is
 * judged with that resource's policy from that environment's stack too (isAllowedOn: across accounts both
 * the caller's identity policy and the resource's policy must allow). The table stays honest: every row's
 * command is still in its file, and every `aws <service> <command>` of the workflows and CI scripts has a row.
 */
import * as fs from "fs";
import * as path from "path";
import { isAllowedOn, type ResourceTarget } from "../../policies/iam/evaluator";
import { PIPELINE_ACTIONS, type PipelineContext, type PipelineRole } from "../../policies/iam/pipeline-actions";
import { principalOfRole, resourceTargets, roleNamed, stackInstances } from "../../policies/iam/requests";
import { awsManagedPolicy } from "../../policies/iam/aws-managed-policies";
import type { StackJson } from "../../policies/iam/instances";
import { asConfiguration, configurationOf, configured, CONFIGURED_ONLY, envConfig, SHIPPED, synthJson } from "../helpers/synth";
import { fixtureEnvironments } from "../helpers/fixture-environments";
import { TRAINING } from "../fixtures/training";
import type { EnvironmentConfig } from "../../config";
import { ciRoleArns, ciRoleNames } from "../../config/ci";
import { imageCopies, imageCopyGrants, modelRepositoryArn } from "../../config/image-copies";
import { stateLocation } from "../../config/state";
import { artifactBucketNames, planFilesPrefix } from "../../constructs/ci-roles/from-config";
import { argoArtifactPrefix } from "../../constructs/training/from-config";
import { partitionOf } from "../../constructs/core/aws";
import { ciEnvironments } from "../../scripts/ci/environments";

const ROOT = path.join(__dirname, "..", "..");

const ENVIRONMENTS: [string, EnvironmentConfig][] = [
  ...SHIPPED.map((n): [string, EnvironmentConfig] => [`config/${n}`, configured(n)]),
  ...fixtureEnvironments().map((e): [string, EnvironmentConfig] => [`fixture/${e.name}`, e]),
  ["options/training", envConfig("dev", { ...TRAINING })],
];

function contextOf(env: EnvironmentConfig, json: StackJson): PipelineContext {
  const instances = stackInstances(json);
  const bucket = artifactBucketNames(env)[0];
  // The artifact bucket's key: the one its alias names (constructs/artifact-store/index.ts).
  const alias = instances.find((i) => i.type === "aws_kms_alias" && i.ref(i.attrs.name) === `alias/${bucket}`);
  const key = alias?.target(alias.attrs.target_key_id);
  return {
    partition: partitionOf(env.aws.region),
    region: env.aws.region,
    account: env.aws.accountId,
    stack: `${env.project}-${env.name}`,
    models: Object.keys(env.serving.models),
    state: stateLocation(env),
    planPrefix: planFilesPrefix(env),
    artifactBucket: bucket,
    argoPrefix: argoArtifactPrefix(env),
    artifactKeyArn: key ? `arn:${partitionOf(env.aws.region)}:kms:${env.aws.region}:${env.aws.accountId}:key/${key.name}` : "none",
    clusterName: env.cluster.name,
    imageSources: imageCopyGrants(configurationOf(env), env.name, env).sourceRepositoryArns,
  };
}

/** The resource policies of every stack of `env`'s configuration (a copy's source repository is another stack's), by ARN. */
function configurationTargets(env: EnvironmentConfig): Map<string, ResourceTarget> {
  const out = new Map<string, ResourceTarget>();
  for (const e of configurationOf(env))
    for (const [arn, t] of resourceTargets((e === env ? synthJson(env) : synthJson(e)) as StackJson)) out.set(arn, t);
  return out;
}

function roleNameOf(env: EnvironmentConfig, role: PipelineRole): string {
  if (role === "training") return `${env.project}-${env.name}-training`;
  return ciRoleNames(env)[role];
}

describe("the table of pipeline calls", () => {
  test.each(PIPELINE_ACTIONS.map((r) => [`${r.role}: ${r.what}`, r] as const))("%s: its command is still in its file", (_what, row) => {
    expect(fs.readFileSync(path.join(ROOT, row.file), "utf8")).toContain(row.contains);
    expect(row.sources.length).toBeGreaterThan(0);
  });

  test("every aws CLI command of the workflows and CI scripts has a row", () => {
    const files = [
      ...fs.readdirSync(path.join(ROOT, ".github", "workflows")).map((f) => path.join(".github", "workflows", f)),
      ...fs
        .readdirSync(path.join(ROOT, "scripts", "ci"))
        .filter((f) => f.endsWith(".sh"))
        .map((f) => path.join("scripts", "ci", f)),
    ];
    const commands = new Set<string>();
    for (const f of files) {
      for (const line of fs.readFileSync(path.join(ROOT, f), "utf8").split("\n")) {
        if (line.trimStart().startsWith("#")) continue;
        for (const m of line.matchAll(/(?<![\w-])aws ([a-z0-9-]+) ([a-z0-9-]+)(?: ([a-z0-9-]+))?/g))
          commands.add(
            `${f}: ${m[0]
              .split(" ")
              .slice(0, m[1] === "ecr" && m[2] === "wait" ? 4 : 3)
              .join(" ")}`,
          );
      }
    }
    expect(commands.size).toBeGreaterThan(3);
    const missing = [...commands].filter((c) => {
      const [file, command] = c.split(": ");
      return !PIPELINE_ACTIONS.some((r) => r.file === file && r.contains.includes(command));
    });
    expect(missing).toEqual([]);
  });
});

describe.each(ENVIRONMENTS)("%s: the pipeline roles may make the pipeline calls", (_label, env) => {
  const json = synthJson(env) as StackJson;
  const c = contextOf(env, json);
  const roles = [...new Set(PIPELINE_ACTIONS.map((r) => r.role))].filter((r) =>
    r === "training" ? env.training.enabled : env.ci !== undefined,
  );
  const run = roles.length > 0 ? test.each(roles) : test.skip.each(["none"]);

  run("%s role", (role) => {
    const name = roleNameOf(env, role as PipelineRole);
    const instance = roleNamed(json, name);
    expect(instance).toBeDefined();
    const principal = principalOfRole(json, instance!, awsManagedPolicy);
    const callerArn = `arn:${partitionOf(env.aws.region)}:iam::${env.aws.accountId}:role/${name}`;
    const targets = configurationTargets(env);
    const denied = PIPELINE_ACTIONS.filter((r) => r.role === role)
      .flatMap((r) => r.calls(c).map((req) => ({ r, req, e: isAllowedOn(principal, callerArn, req, targets.get(req.resource)) })))
      .filter(({ e }) => e.decision !== "Allow")
      .map(({ r, req, e }) => `${r.what}: ${req.action} on ${req.resource} -> ${e.decision}${e.by.length ? ` (${e.by.join(", ")})` : ""}`);
    expect(denied).toEqual([]);
  });
});

/**
 * The release copies across environments: each copying environment's deploy role may read the released
 * image from the source repository (its identity policy), and the source's repository policy admits it (both
 * needed across accounts), and no one else. Checked for the shipped configuration (dev -> prod, across
 * accounts), the fixtures (dev -> the every-option environment, across accounts and regions), and two
 * environments of one account.
 */
describe("release copies: the source repository admits exactly the copying deploy roles, which may pull exactly it", () => {
  // A second environment in dev's account serving the same model (a QA stage before production, say).
  const sameAccount = asConfiguration([
    envConfig("dev"),
    envConfig("dev", { name: "qa", hostname: "mlflow-qa.example.com", ci: { oidcProvider: "existing" } }),
  ]);
  const configurations: [string, readonly EnvironmentConfig[]][] = [
    ["config/environments.ts", CONFIGURED_ONLY.map((n) => configured(n))],
    ["test/fixtures", fixtureEnvironments()],
    ["one account", sameAccount],
  ];
  const cases = configurations.flatMap(([label, envs]) =>
    imageCopies(envs).flatMap((copy) =>
      copy.copiers.map((copier) => [`${label}: ${copy.model} from ${copy.source.env} to ${copier.env}`, envs, copy, copier] as const),
    ),
  );

  test("every configuration checked here has copies, across accounts, regions and within one account", () => {
    const all = cases.map(([, , copy, copier]) => ({
      accounts: copy.source.account !== copier.account,
      regions: copy.source.region !== copier.region,
    }));
    expect(all.some((c) => c.accounts)).toBe(true);
    expect(all.some((c) => c.regions)).toBe(true);
    expect(all.some((c) => !c.accounts)).toBe(true);
  });

  describe.each(cases)("%s", (_label, envs, copy, copier) => {
    const byName = (n: string) => envs.find((e) => e.name === n)!;
    const source = byName(copy.source.env);
    const target = byName(copier.env);
    const sourceJson = synthJson(source, envs) as StackJson;
    const targetJson = synthJson(target, envs) as StackJson;
    const repo = resourceTargets(sourceJson).get(copy.source.repositoryArn);
    const pull = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"].map((action) => ({ action, resource: copy.source.repositoryArn }));
    const principalOf = (json: StackJson, role: string) => principalOfRole(json, roleNamed(json, role)!, awsManagedPolicy);
    const decisions = (json: StackJson, env: EnvironmentConfig, role: string, requests = pull, on = repo) => {
      const arn = `arn:${partitionOf(env.aws.region)}:iam::${env.aws.accountId}:role/${role}`;
      return requests.map((r) => `${r.action} ${isAllowedOn(principalOf(json, role), arn, r, on).decision}`);
    };

    test("the copying environment's deploy role may pull the released image from the source", () => {
      expect(decisions(targetJson, target, ciRoleNames(target).deploy)).toEqual([
        "ecr:BatchGetImage Allow",
        "ecr:GetDownloadUrlForLayer Allow",
      ]);
      // Both halves: its identity policy names exactly the source repository ...
      const identityOnly = pull.map(
        (r) =>
          `${r.action} ${isAllowedOn(principalOf(targetJson, ciRoleNames(target).deploy), copier.deployRoleArn, r, { account: copy.source.account }).decision}`,
      );
      expect(identityOnly).toEqual(
        copy.source.account === copier.account
          ? ["ecr:BatchGetImage Allow", "ecr:GetDownloadUrlForLayer Allow"]
          : ["ecr:BatchGetImage ImplicitDeny", "ecr:GetDownloadUrlForLayer ImplicitDeny"],
      );
      // ... and the source's repository policy names exactly the copying deploy roles.
      expect(repo?.policy).toBeDefined();
      const statement = [repo!.policy!.Statement].flat()[0] as unknown as { Condition: { ArnEquals: { "aws:PrincipalArn": string[] } } };
      expect(statement.Condition.ArnEquals["aws:PrincipalArn"]).toEqual([...copy.copiers.map((x) => x.deployRoleArn)].sort());
    });

    test("no other role of that account may pull it, nor the copier anything else of the source", () => {
      for (const role of [ciRoleNames(target).plan, ciRoleNames(target).imagePush]) {
        const allowed = decisions(targetJson, target, role).filter((d) => d.endsWith(" Allow"));
        expect([role, allowed]).toEqual([role, []]);
      }
      const elsewhere = modelRepositoryArn(source, "another-model");
      expect(
        decisions(
          targetJson,
          target,
          ciRoleNames(target).deploy,
          pull.map((r) => ({ ...r, resource: elsewhere })),
          { account: copy.source.account },
        ),
      ).toEqual(["ecr:BatchGetImage ImplicitDeny", "ecr:GetDownloadUrlForLayer ImplicitDeny"]);
      // Writes to the source stay the source's own.
      expect(
        decisions(targetJson, target, ciRoleNames(target).deploy, [{ action: "ecr:PutImage", resource: copy.source.repositoryArn }]),
      ).toEqual(["ecr:PutImage ImplicitDeny"]);
    });

    test("the repository policy names accounts, not roles (ECR refuses a principal that does not exist yet), narrowed by aws:PrincipalArn", () => {
      const statement = [repo!.policy!.Statement].flat()[0] as unknown as { Principal: { AWS: string[] } };
      expect(statement.Principal.AWS).toEqual([...new Set(copy.copiers.map((x) => `arn:${partitionOf(x.region)}:iam::${x.account}:root`))]);
      // A role of a third account is not admitted, whatever its own policy says.
      const stranger = { identity: [{ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "ecr:*", Resource: "*" }] }] };
      expect(isAllowedOn(stranger, "arn:aws:iam::999999999999:role/anyone", pull[0], repo).decision).toBe("ImplicitDeny");
    });
  });

  test("the stacks' source is the release pipeline's: the first non-production environment serving the model (scripts/ci/environments.ts)", () => {
    for (const [, envs] of configurations) {
      const rows = ciEnvironments(envs);
      for (const copy of imageCopies(envs)) {
        const stage = rows.filter((r) => !r.production && r.models.split(",").includes(copy.model));
        const production = rows.filter((r) => r.production && r.models.split(",").includes(copy.model));
        expect(copy.source.env).toBe(stage[0].env);
        expect(copy.copiers.map((x) => x.env)).toEqual([...stage.slice(1), ...production].map((r) => r.env));
        // What release-model.yml passes as source-repository: the first stage's registry/stack/model.
        expect(copy.source.repositoryArn.split(":").slice(3, 5)).toEqual([stage[0].region, stage[0].account]);
        expect(copy.source.repositoryArn.endsWith(`:repository/${stage[0].stack}/${copy.model}`)).toBe(true);
        expect(copy.copiers.map((x) => x.deployRoleArn)).toEqual([...stage.slice(1), ...production].map((r) => r.deployRoleArn));
      }
    }
    expect(ciRoleArns(sameAccount[1]).deploy).toBe("arn:aws:iam::111111111111:role/mlflow-qa-ci-deploy");
  });
});
