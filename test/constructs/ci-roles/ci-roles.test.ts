/** CiRoles: GitHub's OIDC provider and the plan, deploy and image-push roles' trust and permissions. */
import { Testing, TerraformStack } from "cdktf";
import { CiRoles, ciSubjects, type CiRolesProps } from "../../../constructs/ci-roles";
import { ciRolesProps, configuredSecretArns } from "../../../constructs/ci-roles/from-config";
import { ciRoleArns } from "../../../config/ci";
import { envConfig, resourcesOf, type TfJson } from "../../helpers/synth";

const BASE: CiRolesProps = {
  repository: "acme/ml-platform",
  accountId: "123456789012",
  region: "eu-west-1",
  roleNames: { plan: "p-plan", deploy: "p-deploy", imagePush: "p-push" },
  resourcePrefix: "mlflow-dev-",
  deployEnvironment: "dev",
  state: {
    bucket: "tfstate",
    key: "mlflow/dev/terraform.tfstate",
    planPrefix: "ci-plans/mlflow-dev",
    region: "eu-west-1",
    kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:alias/mlflow-terraform-state",
    kmsAlias: "alias/mlflow-terraform-state",
  },
  clusterName: "ml-dev",
  managedBucketNames: ["mlflow-dev-artifacts-123456789012"],
  imagePushPolicyArns: ["arn:aws:iam::123456789012:policy/mlflow-dev-iris-image-push"],
  workloadBoundary: { arn: "arn:aws:iam::123456789012:policy/mlflow-dev-workload-boundary", name: "mlflow-dev-workload-boundary" },
  stackTags: { project: "mlflow", environment: "dev" },
  ecrRepositoryPrefix: "mlflow-dev/",
};

function synth(props: Partial<CiRolesProps> = {}): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, "t");
  new CiRoles(stack, "ci", { ...BASE, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const roleByName = (json: TfJson, name: string) => Object.values(resourcesOf(json, "aws_iam_role")).find((r) => r.name === name)!;
const trust = (json: TfJson, name: string) => JSON.parse(roleByName(json, name).assume_role_policy as string);

describe("CiRoles", () => {
  const json = synth();

  test("GitHub's OIDC provider, audience sts.amazonaws.com", () => {
    const [p] = Object.values(resourcesOf(json, "aws_iam_openid_connect_provider"));
    expect(p.url).toBe("https://token.actions.githubusercontent.com");
    expect(p.client_id_list).toEqual(["sts.amazonaws.com"]);
  });

  test.each([
    ["p-plan", ["repo:acme/ml-platform:pull_request", "repo:acme/ml-platform:ref:refs/heads/main"]],
    ["p-deploy", ["repo:acme/ml-platform:environment:dev"]],
    ["p-push", ["repo:acme/ml-platform:environment:dev"]],
  ])("%s trusts exactly %j, with StringEquals on sub and aud", (name, subs) => {
    const t = trust(json, name);
    expect(t.Statement).toHaveLength(1);
    const s = t.Statement[0];
    expect(s.Action).toBe("sts:AssumeRoleWithWebIdentity");
    expect(s.Principal.Federated).toMatch(/aws_iam_openid_connect_provider/);
    expect(s.Condition).toEqual({
      StringEquals: {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": subs,
      },
    });
    expect(JSON.stringify(s)).not.toContain("*");
    expect(JSON.stringify(s)).not.toContain("StringLike");
  });

  test("an existing provider is named by ARN in the account, not created", () => {
    const j = synth({ oidcProvider: "existing" });
    expect(resourcesOf(j, "aws_iam_openid_connect_provider")).toEqual({});
    expect(trust(j, "p-plan").Statement[0].Principal.Federated).toBe(
      "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
    );
  });

  const policyNamed = (j: TfJson, name: string) =>
    JSON.parse(Object.values(resourcesOf(j, "aws_iam_role_policy")).find((p) => p.name === name)!.policy as string);

  test("plan: named reads (no AWS-managed ReadOnlyAccess), the state, its saved plan files, secrets of this stack and the configured ones", () => {
    const attachments = Object.values(resourcesOf(json, "aws_iam_role_policy_attachment"));
    expect(attachments.filter((a) => String(a.role).includes("plan_role"))).toEqual([]);
    const planPolicy = policyNamed(json, "plan");
    const allowed = planPolicy.Statement.filter((s: { Effect: string }) => s.Effect === "Allow").flatMap(
      (s: { Action: string[] }) => s.Action,
    );
    // Reads only: no action of the plan role creates, changes or deletes anything but its own plan files.
    expect(
      allowed.filter(
        (a: string) =>
          !/^[a-z0-9-]+:(Describe|Get|List)/.test(a) &&
          !["apigateway:GET", "kms:Decrypt", "s3:PutObject", "kms:GenerateDataKey"].includes(a),
      ),
    ).toEqual([]);
    expect(allowed).not.toContain("s3:GetObjectVersion");
    const deny = planPolicy.Statement.find((s: { Effect: string }) => s.Effect === "Deny");
    expect(deny).toEqual({
      Sid: "NoObjectReadsButTheState",
      Effect: "Deny",
      Action: ["s3:GetObject", "s3:GetObjectVersion"],
      NotResource: ["arn:aws:s3:::tfstate/mlflow/dev/terraform.tfstate"],
    });
    const put = planPolicy.Statement.find((s: { Sid: string }) => s.Sid === "SavePlanFiles");
    expect(put.Resource).toBe("arn:aws:s3:::tfstate/ci-plans/mlflow-dev/*");
    // The state key by its alias, through S3 only.
    expect(planPolicy.Statement.find((s: { Sid: string }) => s.Sid === "StateKeyThroughS3")).toEqual({
      Sid: "StateKeyThroughS3",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: "arn:aws:kms:eu-west-1:123456789012:key/*",
      Condition: {
        StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" },
        "ForAnyValue:StringEquals": { "kms:ResourceAliases": ["alias/mlflow-terraform-state"] },
      },
    });
  });

  test("deploy: named actions (no service wildcard), IAM only on roles with the boundary, S3 on the stack's buckets and the state only", () => {
    const deploy = policyNamed(json, "deploy");
    const actions = deploy.Statement.filter((s: { Effect: string }) => s.Effect === "Allow").flatMap((s: { Action: string[] }) => s.Action);
    expect(actions.filter((a: string) => a.includes("*"))).toEqual([]);
    const bounded = deploy.Statement.find((s: { Sid: string }) => s.Sid === "BoundedRoles");
    expect(bounded.Resource).toBe("arn:aws:iam::123456789012:role/mlflow-dev-*");
    expect(bounded.Condition).toEqual({
      StringEquals: { "iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/mlflow-dev-workload-boundary" },
    });
    // No AWS-managed policy on deploy (PowerUserAccess would be refused by MLF-IAM-1), S3 on the stack's bucket and the state only.
    expect(
      Object.values(resourcesOf(json, "aws_iam_role_policy_attachment")).filter((a) => String(a.role).includes("deploy_role")),
    ).toEqual([]);
    const s3 = deploy.Statement.filter(
      (s: { Effect: string; Action: string | string[] }) => s.Effect === "Allow" && [s.Action].flat().some((a) => a.startsWith("s3:")),
    );
    expect([...new Set(s3.flatMap((s: { Resource: string | string[] }) => [s.Resource].flat()))].sort()).toEqual([
      "arn:aws:s3:::mlflow-dev-artifacts-123456789012",
      "arn:aws:s3:::tfstate",
      "arn:aws:s3:::tfstate/ci-plans/mlflow-dev/*",
      "arn:aws:s3:::tfstate/mlflow/dev/terraform.tfstate",
      "arn:aws:s3:::tfstate/mlflow/dev/terraform.tfstate.tflock",
    ]);
    // Objects of the artifact bucket only when it is a throw-away one (force_destroy).
    expect(s3.flatMap((s: { Action: string[] }) => s.Action)).not.toContain("s3:DeleteObjectVersion");
    const throwAway = policyNamed(synth({ forceDestroyBucketNames: ["mlflow-dev-artifacts-123456789012"] }), "deploy");
    expect(throwAway.Statement.find((s: { Sid: string }) => s.Sid === "EmptyThrowAwayBuckets").Resource).toEqual([
      "arn:aws:s3:::mlflow-dev-artifacts-123456789012/*",
    ]);
  });

  test("image push: the model push policies only, and the workload boundary; plan and deploy roles: administered by the bootstrap", () => {
    const pushAtt = Object.values(resourcesOf(json, "aws_iam_role_policy_attachment")).filter((a) =>
      String(a.role).includes("image_push_role"),
    );
    expect(pushAtt.map((a) => a.policy_arn)).toEqual(BASE.imagePushPolicyArns);
    expect(roleByName(json, "p-push").permissions_boundary).toBe(BASE.workloadBoundary.arn);
    for (const name of ["p-plan", "p-deploy"]) {
      expect(roleByName(json, name).tags).toEqual({ "mlflow-platform/administered-by": "bootstrap" });
      expect(roleByName(json, name).permissions_boundary).toBeUndefined();
    }
  });

  test("cluster access: plan views (AdminView), deploy administers", () => {
    const assoc = Object.values(resourcesOf(json, "aws_eks_access_policy_association")).map((a) => a.policy_arn);
    expect(assoc.sort()).toEqual([
      "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy",
      "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
    ]);
    expect(resourcesOf(synth({ clusterAccess: false }), "aws_eks_access_entry")).toEqual({});
  });

  test("GovCloud: ARNs in the aws-us-gov partition", () => {
    const j = synth({ region: "us-gov-west-1", oidcProvider: "existing" });
    expect(trust(j, "p-plan").Statement[0].Principal.Federated).toMatch(/^arn:aws-us-gov:iam::/);
  });

  test.each([
    [{ repository: "not a repo" }, /repository is "not a repo": expected "owner\/name" of a GitHub repository/],
    [{ roleNames: { ...BASE.roleNames, plan: "x".repeat(65) } }, /roleNames.plan is .*: expected an IAM role name of at most 64/],
    [{ maxSessionSeconds: 60 }, /maxSessionSeconds is .*: expected a whole number of seconds from 3600 to 43200/],
    [{ state: { ...BASE.state!, planPrefix: "/x/" } }, /state.planPrefix is .*: expected a key prefix without leading or trailing/],
  ])("refuses %j with a message that says how to fix it", (props, message) => {
    expect(() => synth(props as Partial<CiRolesProps>)).toThrow(message);
  });

  test("subjects: only this repository, the environment and the main branch", () => {
    expect(ciSubjects("o/r", "prod")).toEqual({
      plan: ["repo:o/r:pull_request", "repo:o/r:ref:refs/heads/main"],
      deploy: ["repo:o/r:environment:prod"],
      imagePush: ["repo:o/r:environment:prod"],
    });
  });
});

describe("CiRoles from configuration", () => {
  test("role names are the ones the environments script prints; deploy subject is the environment's GitHub Environment", () => {
    const config = envConfig("staging", { ci: { deployEnvironment: "staging-approval" } });
    const props = ciRolesProps(config, { imagePushPolicyArns: [], workloadBoundaryArn: "b" })!;
    const arns = ciRoleArns(config);
    for (const k of ["plan", "deploy", "imagePush"] as const)
      expect(arns[k]).toBe(`arn:aws:iam::${config.aws.accountId}:role/${props.roleNames[k]}`);
    expect(props.deployEnvironment).toBe("staging-approval");
    expect(props.state?.planPrefix).toBe(`ci-plans/${config.project}-${config.name}`);
  });

  test("no ci section: no CI roles", () => {
    const config = { ...envConfig("dev"), ci: undefined };
    expect(ciRolesProps(config, { imagePushPolicyArns: [], workloadBoundaryArn: "b" })).toBeUndefined();
  });

  test("the plan role may read the Secrets Manager secrets the configuration names", () => {
    const config = envConfig("dev");
    const arns = configuredSecretArns(config);
    if (config.auth.clientSecret.source === "secrets-manager") expect(arns).toContain(config.auth.clientSecret.secretArn);
    expect(arns.every((a) => a.includes(":secretsmanager:"))).toBe(true);
  });

  test("a production environment cannot deploy automatically", () => {
    expect(() => envConfig("prod", { ci: { autoDeploy: true } })).toThrow(
      /field ci.autoDeploy = true: expected false in a production environment/,
    );
  });
});
