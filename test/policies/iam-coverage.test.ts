/**
 * IAM coverage: every AWS type the stacks use has a row in policies/iam/provider-actions.ts (the calls the
 * AWS provider makes for it, with sources), and the CI roles may make those calls: the deploy role every
 * call of every type it deploys, the plan role every read. Checked with the evaluator
 * (policies/iam/evaluator.ts) over the synthesized policies of every environment of config/environments.ts
 * and of every environment in test/fixtures (whatever they are), and statically over every
 * `@cdktf/provider-aws/lib/*` class a construct or stack imports (options no environment turns on).
 */
import * as fs from "fs";
import * as path from "path";
import { isAllowedOn, type Principal, type ResourceTarget } from "../../policies/iam/evaluator";
import { PROVIDER_ACTIONS } from "../../policies/iam/provider-actions";
import { PIPELINE_ACTIONS } from "../../policies/iam/pipeline-actions";
import { plannedCalls, principalOfRole, resourceTargets, roleNamed, typesWithoutRow, type PlannedCall } from "../../policies/iam/requests";
import type { StackJson } from "../../policies/iam/instances";
import { configured, envConfig, SHIPPED, synthJson } from "../helpers/synth";
import { TRAINING } from "../fixtures/training";
import { awsManagedPolicy } from "../../policies/iam/aws-managed-policies";
import { administeredBy, isAdministered } from "../../policies/iam/administered";
import { fixtureEnvironments } from "../helpers/fixture-environments";
import type { EnvironmentConfig } from "../../config";
import { ciRoleNames } from "../../config/ci";
import { stateLocation } from "../../config/state";
import { ciRoleArns } from "../../config/ci";

const ROOT = path.join(__dirname, "..", "..");

const DIGEST = `sha256:${"ab".repeat(32)}`;
/**
 * Options no shipped environment turns on, on the fixture's dev environment: the API Gateway exposure with a
 * released model, the load balancer controller, access logging and replication of the artifacts, a read
 * replica, training, IRSA.
 */
const OPTIONS: [string, EnvironmentConfig][] = [
  [
    "options/api-gateway",
    envConfig("dev", {
      serving: {
        releases: { "iris-classifier": { version: "3", imageDigest: DIGEST } },
        exposure: "apiGateway",
        apiGateway: {
          domain: "api.models.example.com",
          certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-0000000000aa",
          certificateDomains: ["api.models.example.com"],
          loadBalancerSubnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"],
        },
      },
    }),
  ],
  [
    "options/stores-and-controller",
    envConfig("dev", {
      artifacts: { accessLogging: true, replicationRegion: "eu-central-1", forceDestroy: false },
      database: { readReplica: true },
      ingress: { installLoadBalancerController: true },
      ...TRAINING,
    }),
  ],
  [
    "options/irsa",
    envConfig("prod", {
      identity: { mode: "irsa" },
      cluster: { oidcProviderArn: "arn:aws:iam::333333333333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123" },
    }),
  ],
];

/** Every environment the tests know: the shipped configuration's, every fixture's, and the options above. */
const ENVIRONMENTS: [string, EnvironmentConfig][] = [
  ...SHIPPED.map((n): [string, EnvironmentConfig] => [`config/${n}`, configured(n)]),
  ...fixtureEnvironments().map((e): [string, EnvironmentConfig] => [`fixture/${e.name}`, e]),
  ...OPTIONS,
];

/** The calls `principal` (the role `callerArn`) may not make, judged with the resource policies of the stack's resources (key policies, repository policies). */
const denied = (principal: Principal, callerArn: string, targets: Map<string, ResourceTarget>, calls: PlannedCall[]) =>
  calls
    .map((c) => ({ c, e: isAllowedOn(principal, callerArn, c.request, targets.get(c.request.resource)) }))
    .filter(({ e }) => e.decision !== "Allow")
    .map(
      ({ c, e }) =>
        `${c.instance.type}.${c.instance.name} ${c.phase}: ${c.request.action} on ${c.request.resource} ${JSON.stringify(c.request.context)} -> ${e.decision}${e.by.length ? ` (${e.by.join(", ")})` : ""}`,
    );

describe("the table has a row for every AWS type", () => {
  test.each(ENVIRONMENTS)("%s: every resource type and data source of the stack", (_label, env) => {
    expect(typesWithoutRow(synthJson(env) as StackJson)).toEqual([]);
  });

  test("every @cdktf/provider-aws class a construct or stack imports (also options no environment turns on)", () => {
    const modules = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (p.endsWith(".ts"))
          for (const m of fs.readFileSync(p, "utf8").matchAll(/@cdktf\/provider-aws\/lib\/([a-z0-9-]+)/g)) modules.add(m[1]);
      }
    };
    walk(path.join(ROOT, "constructs"));
    walk(path.join(ROOT, "stacks"));
    expect(modules.size).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const m of [...modules].sort()) {
      if (m === "provider") continue;
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module named by the import, to read its class's Terraform type
      const exported = Object.values(require(`@cdktf/provider-aws/lib/${m}`) as Record<string, unknown>);
      const type = exported
        .map((v) => (typeof v === "function" ? (v as unknown as { tfResourceType?: unknown }).tfResourceType : undefined))
        .find((t): t is string => typeof t === "string");
      if (!type) throw new Error(`@cdktf/provider-aws/lib/${m} exports no resource class`);
      const kind = m.startsWith("data-aws-") ? "data" : "resource";
      if (!PROVIDER_ACTIONS.some((r) => r.type === type && r.kind === kind)) missing.push(`${kind} ${type} (@cdktf/provider-aws/lib/${m})`);
    }
    expect(missing).toEqual([]);
  });

  test("every row names its sources: the provider's source file and AWS's authorization reference", () => {
    for (const row of PROVIDER_ACTIONS) {
      expect([
        row.type,
        row.sources.some((s) => s.includes("github.com/hashicorp/terraform-provider-aws/blob/v6.25.0/internal/service/")),
      ]).toEqual([row.type, true]);
      expect([row.type, row.sources.some((s) => s.startsWith("https://docs.aws.amazon.com/"))]).toEqual([row.type, true]);
    }
  });
});

describe.each(ENVIRONMENTS)("%s: the CI roles may make the calls", (_label, env) => {
  const json = synthJson(env) as StackJson;
  const names = ciRoleNames(env);
  const deployRole = roleNamed(json, names.deploy);
  const planRole = roleNamed(json, names.plan);
  const targets = resourceTargets(json);
  const run = env.ci ? test : test.skip;

  run("the deploy role: every call of every type it deploys, and every read of what an administrator deploys", () => {
    const principal = principalOfRole(json, deployRole!, awsManagedPolicy);
    const admin = administeredBy(json);
    const calls = [
      ...plannedCalls(json, undefined, (i) => !isAdministered(admin, i)),
      ...plannedCalls(json, ["read"], (i) => isAdministered(admin, i)),
    ];
    expect(calls.length).toBeGreaterThan(100);
    expect(denied(principal, ciRoleArns(env).deploy, targets, calls)).toEqual([]);
  });

  run("the plan role: every read (refresh and data sources)", () => {
    const principal = principalOfRole(json, planRole!, awsManagedPolicy);
    const calls = plannedCalls(json, ["read"]);
    expect(calls.length).toBeGreaterThan(40);
    expect(denied(principal, ciRoleArns(env).plan, targets, calls)).toEqual([]);
  });
});

describe("the check has teeth: the deploy role's policy, one action removed", () => {
  type Doc = { Statement: { Sid?: string; Effect: string; Action?: string | string[] }[] };
  const withCi = ENVIRONMENTS.filter(([, env]) => env.ci);
  const prepared = withCi.map(([label, env]) => {
    const json = synthJson(env) as StackJson;
    const admin = administeredBy(json);
    const principal = principalOfRole(json, roleNamed(json, ciRoleNames(env).deploy)!, awsManagedPolicy);
    const calls = [
      ...plannedCalls(json, undefined, (i) => !isAdministered(admin, i)),
      ...plannedCalls(json, ["read"], (i) => isAdministered(admin, i)),
    ];
    return { label, principal, calls, caller: ciRoleArns(env).deploy, targets: resourceTargets(json) };
  });
  const without = (principal: Principal, action: string): Principal => ({
    ...principal,
    identity: principal.identity.map((doc) => ({
      ...doc,
      Statement: (doc as Doc).Statement.map((s) =>
        s.Effect === "Allow" && s.Action !== undefined
          ? { ...s, Action: [s.Action].flat().filter((a) => a.toLowerCase() !== action.toLowerCase()) }
          : s,
      ).filter((s) => s.Action === undefined || [s.Action].flat().length > 0),
    })),
  });
  const named = [
    ...new Set(
      prepared.flatMap((p) =>
        p.principal.identity.flatMap((d) =>
          (d as Doc).Statement.filter((s) => s.Effect === "Allow").flatMap((s) => [s.Action ?? []].flat()),
        ),
      ),
    ),
  ].sort();

  test("removing rds:CreateDBInstance denies the database's create in every environment", () => {
    for (const p of prepared) {
      expect(denied(without(p.principal, "rds:CreateDBInstance"), p.caller, p.targets, p.calls)).toEqual([
        expect.stringMatching(/^aws_db_instance\.\S+ create: rds:CreateDBInstance on arn:aws[a-z-]*:rds:.*:db:.* -> ImplicitDeny$/),
      ]);
    }
  });

  test.each(named)("removing %s denies a call some stack makes (and no action of the deploy role goes unused)", (action) => {
    const users = prepared.filter((p) => p.calls.some((c) => c.request.action.toLowerCase() === action.toLowerCase()));
    if (users.length === 0) {
      // Not a provider call: then a call of the pipelines' (the state backend, the plan file, the release job).
      const context = {
        partition: "aws",
        region: "eu-west-1",
        account: "111111111111",
        stack: "s",
        models: ["m"],
        planPrefix: "p",
        artifactBucket: "b",
        argoPrefix: "a",
        artifactKeyArn: "k",
        clusterName: "c",
        state: stateLocation(configured(SHIPPED[0])),
      };
      expect([
        action,
        PIPELINE_ACTIONS.filter((r) => r.role === "deploy").some((r) => r.calls(context).some((c) => c.action === action)),
      ]).toEqual([action, true]);
      return;
    }
    for (const p of users) {
      expect([
        p.label,
        denied(
          without(p.principal, action),
          p.caller,
          p.targets,
          p.calls.filter((c) => c.request.action.toLowerCase() === action.toLowerCase()),
        ).length > 0,
      ]).toEqual([p.label, true]);
    }
  });
});
