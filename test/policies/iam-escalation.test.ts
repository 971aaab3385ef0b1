/**
 * The deploy role cannot make itself, or any role, an administrator (constructs/ci-roles,
 * constructs/core/permissions-boundary.ts), judged by the evaluator on the synthesized policies of every
 * environment: each known escalation path is denied; every role without the boundary is one the deploy role
 * may not write; the boundary covers what every bounded role's policies grant, and nothing dangerous.
 * MLF-IAM-2 (policies/roles-bounded.ts) refuses a role without the boundary at synth.
 */
import { isAllowed, isAllowedOn, type PolicyDocument, type Principal, type Request } from "../../policies/iam/evaluator";
import { policyDocument, principalOfRole, resourceTargets, roleNamed, rowOf, stackInstances } from "../../policies/iam/requests";
import { KEY_ADMINISTRATION_ACTIONS } from "../../constructs/core/kms-key-policy";
import { awsManagedPolicy } from "../../policies/iam/aws-managed-policies";
import { administeredBy, isAdministered } from "../../policies/iam/administered";
import type { StackJson } from "../../policies/iam/instances";
import { RolesBounded } from "../../policies";
import { configured, envConfig, SHIPPED, synthJson } from "../helpers/synth";
import { fixtureEnvironments } from "../helpers/fixture-environments";
import { TRAINING } from "../fixtures/training";
import { iamJson } from "./fixtures";
import type { EnvironmentConfig } from "../../config";
import { ciRoleArns, ciRoleNames } from "../../config/ci";
import { workloadBoundaryName } from "../../constructs/ci-roles/from-config";
import { partitionOf } from "../../constructs/core/aws";

const ENVIRONMENTS: [string, EnvironmentConfig][] = [
  ...SHIPPED.map((n): [string, EnvironmentConfig] => [`config/${n}`, configured(n)]),
  ...fixtureEnvironments().map((e): [string, EnvironmentConfig] => [`fixture/${e.name}`, e]),
  [
    "options/controller-training-replication",
    envConfig("dev", {
      ingress: { installLoadBalancerController: true },
      artifacts: { replicationRegion: "eu-central-1", accessLogging: true },
      ...TRAINING,
    }),
  ],
];

describe("MLF-IAM-2 every role carries the stack's boundary", () => {
  const rule = new RolesBounded();
  const role = (attrs: Record<string, unknown>) => rule.check(iamJson("aws_iam_role", { name: "r", assume_role_policy: "{}", ...attrs }));
  test("a role with the stack's boundary, or one the bootstrap administers, passes", () => {
    expect(role({ permissions_boundary: "${aws_iam_policy.workload_boundary_policy_F8A6164B.arn}" })).toEqual([]);
    expect(role({ tags: { "mlflow-platform/administered-by": "bootstrap" } })).toEqual([]);
  });
  test.each([
    ["no boundary", {}, /has no permissions boundary/],
    [
      "a boundary that is not the stack's policy (an AWS managed one)",
      { permissions_boundary: "arn:aws:iam::aws:policy/AdministratorAccess" },
      /not a managed policy of the stack/,
    ],
    ["another tag value", { tags: { "mlflow-platform/administered-by": "someone" } }, /has no permissions boundary/],
  ])("flags %s", (_what, attrs, message) => {
    const findings = role(attrs);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toEqual({ resource: "aws_iam_role.x", message: expect.stringMatching(message) });
  });
});

describe.each(ENVIRONMENTS.filter(([, e]) => e.ci))("%s: the deploy role cannot escalate", (_label, env) => {
  const json = synthJson(env) as StackJson;
  const names = ciRoleNames(env);
  const deploy = principalOfRole(json, roleNamed(json, names.deploy)!, awsManagedPolicy);
  const p = partitionOf(env.aws.region);
  const iam = (r: string) => `arn:${p}:iam::${env.aws.accountId}:${r}`;
  const boundary = iam(`policy/${workloadBoundaryName(env)}`);
  const stackRole = iam(`role/${env.project}-${env.name}-tracking-server`);
  const admin = `arn:${p}:iam::aws:policy/AdministratorAccess`;
  const ownRoles = [names.deploy, names.plan].map((n) => iam(`role/${n}`));
  const decision = (principal: Principal, r: Request) => isAllowed(principal, r).decision;

  test.each([
    ...ownRoles.flatMap((role) =>
      [
        ["put an inline policy on", "iam:PutRolePolicy", role, {}],
        ["attach AdministratorAccess to", "iam:AttachRolePolicy", role, { "iam:PolicyARN": admin }],
        ["attach a stack policy to", "iam:AttachRolePolicy", role, { "iam:PolicyARN": iam(`policy/${env.project}-${env.name}-x`) }],
        ["change the trust of", "iam:UpdateAssumeRolePolicy", role, {}],
        ["delete", "iam:DeleteRole", role, {}],
        ["pass to EKS pods", "iam:PassRole", role, { "iam:PassedToService": "pods.eks.amazonaws.com" }],
        ["tag", "iam:TagRole", role, {}],
      ].map(([what, action, resource, context]) => [`${what} ${String(resource).split("/").pop()}`, action, resource, context]),
    ),
    ["create a role without a boundary", "iam:CreateRole", iam(`role/${env.project}-${env.name}-admin`), {}],
    [
      "create a role with another boundary",
      "iam:CreateRole",
      iam(`role/${env.project}-${env.name}-admin`),
      { "iam:PermissionsBoundary": admin },
    ],
    ["create a role outside the stack's names", "iam:CreateRole", iam("role/admin"), { "iam:PermissionsBoundary": boundary }],
    [
      "attach AdministratorAccess to a bounded stack role",
      "iam:AttachRolePolicy",
      stackRole,
      { "iam:PolicyARN": admin, "iam:PermissionsBoundary": boundary },
    ],
    ["put a policy on a stack-named role without the boundary", "iam:PutRolePolicy", iam(`role/${env.project}-${env.name}-legacy`), {}],
    ["remove a role's boundary", "iam:DeleteRolePermissionsBoundary", stackRole, { "iam:PermissionsBoundary": boundary }],
    ["change a role's boundary to another", "iam:PutRolePermissionsBoundary", stackRole, { "iam:PermissionsBoundary": admin }],
    ["write a new version of the boundary", "iam:CreatePolicyVersion", boundary, {}],
    ["delete the boundary", "iam:DeletePolicy", boundary, {}],
    ["pass a stack role to EC2", "iam:PassRole", stackRole, { "iam:PassedToService": "ec2.amazonaws.com" }],
    ["pass a stack role to Lambda", "iam:PassRole", stackRole, { "iam:PassedToService": "lambda.amazonaws.com" }],
    ["assume a stack role", "sts:AssumeRole", stackRole, {}],
    ["delete GitHub's OIDC provider", "iam:DeleteOpenIDConnectProvider", iam("oidc-provider/token.actions.githubusercontent.com"), {}],
    ...["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:CreateGrant"].map((action) => [
      `${action} on the state key (tagged by the bootstrap), even tagged into the stack's scope`,
      action,
      `arn:${p}:kms:${env.aws.region}:${env.aws.accountId}:key/00000000-0000-0000-0000-000000000000`,
      {
        "aws:ResourceTag/mlflow-platform/administered-by": "bootstrap",
        "aws:ResourceTag/project": env.project,
        "aws:ResourceTag/environment": env.name,
        "aws:RequestTag/project": env.project,
        "aws:RequestTag/environment": env.name,
        "kms:ViaService": `rds.${env.aws.region}.amazonaws.com`,
      },
    ]),
    [
      "manage a key of the account that is not the stack's",
      "kms:PutKeyPolicy",
      `arn:${p}:kms:${env.aws.region}:${env.aws.accountId}:key/11111111-0000-0000-0000-000000000000`,
      { "aws:ResourceTag/project": "other" },
    ],
    ["create a user", "iam:CreateUser", iam("user/x"), {}],
    ["create an access key", "iam:CreateAccessKey", iam(`user/x`), {}],
  ] as [string, string, string, Record<string, string>][])("may not %s", (_what, action, resource, context) => {
    expect(decision(deploy, { action, resource, context })).not.toBe("Allow");
  });

  test("but may do what a deploy does to a bounded stack role", () => {
    expect(decision(deploy, { action: "iam:CreateRole", resource: stackRole, context: { "iam:PermissionsBoundary": boundary } })).toBe(
      "Allow",
    );
    expect(decision(deploy, { action: "iam:PutRolePolicy", resource: stackRole, context: { "iam:PermissionsBoundary": boundary } })).toBe(
      "Allow",
    );
    expect(
      decision(deploy, { action: "iam:PassRole", resource: stackRole, context: { "iam:PassedToService": "pods.eks.amazonaws.com" } }),
    ).toBe("Allow");
  });

  describe("KMS: tagging a key into the stack's scope gives no control over it", () => {
    // Someone else's key of the account: no tags of its own (CreateKey's tags are a TagResource on a key without
    // tags too, which no condition tells apart, so the role may tag it), KMS's default key policy.
    const foreignKey = `arn:${p}:kms:${env.aws.region}:${env.aws.accountId}:key/22222222-0000-0000-0000-000000000000`;
    const inScope = { "aws:ResourceTag/project": env.project, "aws:ResourceTag/environment": env.name };
    const foreign = { account: env.aws.accountId };
    const deployArn = ciRoleArns(env).deploy;
    test.each(KEY_ADMINISTRATION_ACTIONS.filter((a) => a !== "kms:TagResource"))(
      "may not %s a key it tagged with the stack's project and environment",
      (action) => {
        expect(isAllowedOn(deploy, deployArn, { action, resource: foreignKey, context: inScope }, foreign).decision).not.toBe("Allow");
      },
    );

    test("may not re-tag another stack's key (other environment or project) into its own scope", () => {
      for (const [tag, other] of [
        ["environment", `${env.name}-other`],
        ["project", `${env.project}-other`],
      ]) {
        const context = {
          ...inScope,
          [`aws:ResourceTag/${tag}`]: other,
          "aws:RequestTag/project": env.project,
          "aws:RequestTag/environment": env.name,
        };
        expect([
          tag,
          isAllowedOn(deploy, deployArn, { action: "kms:TagResource", resource: foreignKey, context }, foreign).decision,
        ]).toEqual([tag, "ExplicitDeny"]);
      }
    });

    test("but administers each key the stack creates, through that key's policy", () => {
      const targets = resourceTargets(json);
      const keys = stackInstances(json).filter((i) => i.type === "aws_kms_key");
      expect(keys.length).toBeGreaterThan(1);
      for (const k of keys) {
        // The ARN the provider table's calls name the key by (policies/iam/provider-actions.ts).
        const arn = rowOf(k)!.arn(k)!;
        for (const action of ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:UntagResource"]) {
          expect([
            k.name,
            action,
            isAllowedOn(deploy, deployArn, { action, resource: arn, context: inScope }, targets.get(arn)).decision,
          ]).toEqual([k.name, action, "Allow"]);
        }
      }
    });
  });

  test("every role without the boundary is one only an administrator applies, and the deploy role may write nothing of it", () => {
    const administered = administeredBy(json);
    const unbounded = stackInstances(json).filter((i) => i.type === "aws_iam_role" && i.attrs.permissions_boundary === undefined);
    expect(unbounded.map((r) => r.ref(r.attrs.name)).sort()).toEqual([names.deploy, names.plan].sort());
    for (const r of unbounded) {
      expect(isAdministered(administered, r)).toBe(true);
      const arn = iam(`role/${r.ref(r.attrs.name)}`);
      for (const action of [
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:PutRolePermissionsBoundary",
        "iam:PassRole",
      ]) {
        expect([
          action,
          decision(deploy, {
            action,
            resource: arn,
            context: {
              "iam:PermissionsBoundary": boundary,
              "iam:PolicyARN": iam(`policy/${env.project}-${env.name}-x`),
              "iam:PassedToService": "pods.eks.amazonaws.com",
            },
          }),
        ]).toEqual([action, "ExplicitDeny"]);
      }
    }
  });
});

describe.each(ENVIRONMENTS)("%s: the workload boundary", (_label, env) => {
  const json = synthJson(env) as StackJson;
  const instances = stackInstances(json);
  const boundaryPolicy = instances.find((i) => i.type === "aws_iam_policy" && i.ref(i.attrs.name) === workloadBoundaryName(env))!;
  const boundary: PolicyDocument = policyDocument(boundaryPolicy, boundaryPolicy.attrs.policy);
  const only: Principal = { identity: [boundary] };

  test("allows every action every bounded role's policies grant, on their resources", () => {
    const bounded = instances.filter((i) => i.type === "aws_iam_role" && i.attrs.permissions_boundary !== undefined);
    expect(bounded.length).toBeGreaterThan(2);
    const outside: string[] = [];
    for (const role of bounded) {
      const principal = principalOfRole(json, role, awsManagedPolicy);
      for (const doc of principal.identity) {
        for (const s of [doc.Statement].flat()) {
          if (s.Effect !== "Allow") continue;
          for (const action of [s.Action ?? []].flat()) {
            for (const resource of [s.Resource ?? "*"].flat()) {
              if (isAllowed(only, { action, resource }).decision !== "Allow")
                outside.push(`${role.ref(role.attrs.name)}: ${action} on ${resource}`);
            }
          }
        }
      }
    }
    expect(outside).toEqual([]);
  });

  test.each([
    ["iam:CreateRole", "*"],
    ["iam:PutRolePolicy", "*"],
    ["iam:AttachRolePolicy", "*"],
    ["iam:PassRole", "*"],
    ["iam:CreateAccessKey", "*"],
    ["sts:AssumeRole", "*"],
    ["secretsmanager:GetSecretValue", "*"],
    ["organizations:LeaveOrganization", "*"],
    ["kms:PutKeyPolicy", "*"],
    ["s3:GetObject", "arn:aws:s3:::another-bucket/x"],
    ["s3:PutBucketPolicy", `arn:aws:s3:::${env.project}-${env.name}-artifacts-${env.aws.accountId}`],
  ])("denies %s on %s", (action, resource) => {
    expect(isAllowed(only, { action, resource }).decision).not.toBe("Allow");
  });
});
