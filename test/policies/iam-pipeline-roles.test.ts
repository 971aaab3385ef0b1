/**
 * The pipelines' own AWS calls (policies/iam/pipeline-actions.ts) against the synthesized roles that make
 * them: the plan and deploy roles (plan files, the release job's image copy and rollout check), the
 * image-push role (the release workflow's push and scan gate) and the training role (Argo's artifacts).
 * The table stays honest: every row's command is still in its file, and every `aws <service> <command>` of
 * the workflows and CI scripts has a row.
 */
import * as fs from "fs";
import * as path from "path";
import { isAllowed } from "../../policies/iam/evaluator";
import { PIPELINE_ACTIONS, type PipelineContext, type PipelineRole } from "../../policies/iam/pipeline-actions";
import { principalOfRole, roleNamed, stackInstances } from "../../policies/iam/requests";
import { awsManagedPolicy } from "../../policies/iam/aws-managed-policies";
import type { StackJson } from "../../policies/iam/instances";
import { configured, envConfig, SHIPPED, synthJson } from "../helpers/synth";
import { fixtureEnvironments } from "../helpers/fixture-environments";
import { TRAINING } from "../fixtures/training";
import type { EnvironmentConfig } from "../../config";
import { ciRoleNames } from "../../config/ci";
import { stateLocation } from "../../config/state";
import { artifactBucketNames, planFilesPrefix } from "../../constructs/ci-roles/from-config";
import { argoArtifactPrefix } from "../../constructs/training/from-config";
import { partitionOf } from "../../constructs/aws";

const ROOT = path.join(__dirname, "..", "..");

const ENVIRONMENTS: [string, EnvironmentConfig][] = [
  ...SHIPPED.map((n): [string, EnvironmentConfig] => [`config/${n}`, configured(n)]),
  ...fixtureEnvironments().map((e): [string, EnvironmentConfig] => [`fixture/${e.name}`, e]),
  ["options/training", envConfig("dev", { ...TRAINING })],
];

function contextOf(env: EnvironmentConfig, json: StackJson): PipelineContext {
  const instances = stackInstances(json);
  const bucket = artifactBucketNames(env)[0];
  // The artifact bucket's key: the one its alias names (constructs/artifact-store.ts).
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
  };
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
      ...fs.readdirSync(path.join(ROOT, "scripts", "ci")).filter((f) => f.endsWith(".sh")).map((f) => path.join("scripts", "ci", f)),
    ];
    const commands = new Set<string>();
    for (const f of files) {
      for (const line of fs.readFileSync(path.join(ROOT, f), "utf8").split("\n")) {
        if (line.trimStart().startsWith("#")) continue;
        for (const m of line.matchAll(/(?<![\w-])aws ([a-z0-9-]+) ([a-z0-9-]+)(?: ([a-z0-9-]+))?/g)) commands.add(`${f}: ${m[0].split(" ").slice(0, m[1] === "ecr" && m[2] === "wait" ? 4 : 3).join(" ")}`);
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
  const roles = [...new Set(PIPELINE_ACTIONS.map((r) => r.role))].filter((r) => (r === "training" ? env.training.enabled : env.ci !== undefined));
  const run = roles.length > 0 ? test.each(roles) : test.skip.each(["none"]);

  run("%s role", (role) => {
    const instance = roleNamed(json, roleNameOf(env, role as PipelineRole));
    expect(instance).toBeDefined();
    const principal = principalOfRole(json, instance!, awsManagedPolicy);
    const denied = PIPELINE_ACTIONS.filter((r) => r.role === role).flatMap((r) => r.calls(c).map((req) => ({ r, req, e: isAllowed(principal, req) })))
      .filter(({ e }) => e.decision !== "Allow")
      .map(({ r, req, e }) => `${r.what}: ${req.action} on ${req.resource} -> ${e.decision}${e.by.length ? ` (${e.by.join(", ")})` : ""}`);
    expect(denied).toEqual([]);
  });
});
