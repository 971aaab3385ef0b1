/** The IAM evaluator (policies/iam/evaluator.ts) against AWS's documented evaluation rules. */
import {
  actionMatches,
  defaultKeyPolicy,
  evaluate,
  evaluateResourcePolicy,
  isAllowed,
  isAllowedOn,
  resourceMatches,
  type PolicyDocument,
  type Statement,
} from "../../policies/iam/evaluator";

const doc = (...Statement: Statement[]): PolicyDocument => ({ Version: "2012-10-17", Statement });
const allow = (Action: string | string[], Resource: string | string[] = "*", Condition?: Statement["Condition"]): Statement => ({
  Effect: "Allow",
  Action,
  Resource,
  Condition,
});

describe("actions", () => {
  test.each([
    ["s3:GetObject", "s3:GetObject", true],
    ["s3:getobject", "S3:GetObject", true], // case-insensitive
    ["s3:Get*", "s3:GetObjectTagging", true],
    ["s3:Get*", "s3:PutObject", false],
    ["*", "iam:CreateRole", true],
    ["ec2:Describe?ubnets", "ec2:DescribeSubnets", true],
    ["iam:*Role", "iam:CreateRole", true],
    ["iam:*Role", "iam:CreateRolePolicy", false],
  ])("%s matches %s: %s", (pattern, action, expected) => {
    expect(actionMatches(pattern, action)).toBe(expected);
  });
});

describe("resources (ARN parts matched one by one, case-sensitively)", () => {
  test.each([
    ["*", "arn:aws:s3:::b", true],
    ["arn:aws:s3:::b", "arn:aws:s3:::b", true],
    ["arn:aws:s3:::b", "arn:aws:s3:::b/key", false],
    ["arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c", true], // * crosses "/" in the resource part
    ["arn:aws:s3:::B/*", "arn:aws:s3:::b/x", false], // case-sensitive
    ["arn:aws:iam::111111111111:role/mlflow-dev-*", "arn:aws:iam::111111111111:role/mlflow-dev-ci-deploy", true],
    ["arn:aws:iam::111111111111:role/mlflow-dev-*", "arn:aws:iam::222222222222:role/mlflow-dev-x", false],
    ["arn:aws:iam::*:role/x", "arn:aws:iam::222222222222:role/x", true],
    ["arn:aws:logs:eu-west-1:1:log-group:/aws/x:*", "arn:aws:logs:eu-west-1:1:log-group:/aws/x:log-stream:s", true], // the resource part keeps its colons
    ["arn:aws:kms:*:1:key/*", "arn:aws:kms:eu-west-1:1:key/abc", true],
    ["arn:aws:kms:eu-*", "arn:aws:kms:eu-west-1:1:key/abc", false], // a wildcard stays within its part
    ["arn:aws:s3:::b", "*", false], // an action without resource-level permissions needs Resource "*"
  ])("%s matches %s: %s", (pattern, arn, expected) => {
    expect(resourceMatches(pattern, arn)).toBe(expected);
  });
});

describe("evaluation", () => {
  const p = doc(
    { Sid: "Read", ...allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]) },
    { Sid: "NoSecrets", Effect: "Deny", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/secret/*" },
  );
  test("an Allow allows; nothing matching is an implicit deny; an explicit Deny wins over an Allow", () => {
    expect(evaluate([p], { action: "s3:GetObject", resource: "arn:aws:s3:::b/x" })).toEqual({ decision: "Allow", by: ["Read"] });
    expect(evaluate([p], { action: "s3:PutObject", resource: "arn:aws:s3:::b/x" })).toEqual({ decision: "ImplicitDeny", by: [] });
    expect(evaluate([p], { action: "s3:GetObject", resource: "arn:aws:s3:::b/secret/k" })).toEqual({
      decision: "ExplicitDeny",
      by: ["NoSecrets"],
    });
  });

  test("NotAction and NotResource", () => {
    const d = doc(
      { Sid: "AllButIam", Effect: "Allow", NotAction: "iam:*", Resource: "*" },
      { Sid: "NotThere", Effect: "Deny", Action: "*", NotResource: "arn:aws:s3:::ok/*" },
    );
    expect(evaluate([d], { action: "s3:GetObject", resource: "arn:aws:s3:::ok/x" }).decision).toBe("Allow");
    expect(evaluate([d], { action: "s3:GetObject", resource: "arn:aws:s3:::other/x" }).decision).toBe("ExplicitDeny");
    expect(evaluate([d], { action: "iam:CreateRole", resource: "arn:aws:s3:::ok/x" }).decision).toBe("ImplicitDeny");
  });

  test("conditions: keys ANDed, values ORed, missing keys per operator", () => {
    const d = doc(
      allow("iam:PassRole", "*", { StringEquals: { "iam:PassedToService": ["pods.eks.amazonaws.com", "monitoring.rds.amazonaws.com"] } }),
    );
    expect(
      evaluate([d], { action: "iam:PassRole", resource: "r", context: { "iam:PassedToService": "monitoring.rds.amazonaws.com" } }).decision,
    ).toBe("Allow");
    expect(
      evaluate([d], { action: "iam:PassRole", resource: "r", context: { "IAM:passedtoservice": "pods.eks.amazonaws.com" } }).decision,
    ).toBe("Allow"); // key names are case-insensitive
    expect(evaluate([d], { action: "iam:PassRole", resource: "r", context: { "iam:PassedToService": "ec2.amazonaws.com" } }).decision).toBe(
      "ImplicitDeny",
    );
    expect(evaluate([d], { action: "iam:PassRole", resource: "r" }).decision).toBe("ImplicitDeny");
    const two = doc(
      allow("kms:Decrypt", "*", {
        StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" },
        StringLike: { "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b/*" },
      }),
    );
    expect(
      evaluate([two], { action: "kms:Decrypt", resource: "k", context: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } }).decision,
    ).toBe("ImplicitDeny");
    expect(
      evaluate([two], {
        action: "kms:Decrypt",
        resource: "k",
        context: { "kms:ViaService": "s3.eu-west-1.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b/k" },
      }).decision,
    ).toBe("Allow");
  });

  test("a Deny with a negated operator catches requests without the key; IfExists and Null", () => {
    const d = doc(allow("s3:PutObject"), {
      Sid: "KmsOnly",
      Effect: "Deny",
      Action: "s3:PutObject",
      Resource: "*",
      Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" } },
    });
    expect(evaluate([d], { action: "s3:PutObject", resource: "arn:aws:s3:::b/k" }).decision).toBe("ExplicitDeny");
    expect(
      evaluate([d], { action: "s3:PutObject", resource: "arn:aws:s3:::b/k", context: { "s3:x-amz-server-side-encryption": "aws:kms" } })
        .decision,
    ).toBe("Allow");
    const ifExists = doc(allow("ec2:CreateTags", "*", { StringEqualsIfExists: { "ec2:CreateAction": "CreateSecurityGroup" } }));
    expect(evaluate([ifExists], { action: "ec2:CreateTags", resource: "x" }).decision).toBe("Allow");
    expect(
      evaluate([ifExists], { action: "ec2:CreateTags", resource: "x", context: { "ec2:CreateAction": "RunInstances" } }).decision,
    ).toBe("ImplicitDeny");
    const tls = doc(allow("s3:GetObject"), {
      Effect: "Deny",
      Action: "s3:*",
      Resource: "*",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(
      evaluate([tls], { action: "s3:GetObject", resource: "arn:aws:s3:::b/k", context: { "aws:SecureTransport": "false" } }).decision,
    ).toBe("ExplicitDeny");
    expect(
      evaluate([tls], { action: "s3:GetObject", resource: "arn:aws:s3:::b/k", context: { "aws:SecureTransport": "true" } }).decision,
    ).toBe("Allow");
    const nul = doc(allow("iam:CreateRole", "*", { Null: { "iam:PermissionsBoundary": "false" } }));
    expect(evaluate([nul], { action: "iam:CreateRole", resource: "x" }).decision).toBe("ImplicitDeny");
    expect(evaluate([nul], { action: "iam:CreateRole", resource: "x", context: { "iam:PermissionsBoundary": "arn:b" } }).decision).toBe(
      "Allow",
    );
  });

  test("ForAnyValue / ForAllValues over multi-valued keys", () => {
    const any = doc(allow("kms:Decrypt", "*", { "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/state" } }));
    expect(
      evaluate([any], { action: "kms:Decrypt", resource: "k", context: { "kms:ResourceAliases": ["alias/a", "alias/state"] } }).decision,
    ).toBe("Allow");
    expect(evaluate([any], { action: "kms:Decrypt", resource: "k", context: { "kms:ResourceAliases": ["alias/a"] } }).decision).toBe(
      "ImplicitDeny",
    );
    expect(evaluate([any], { action: "kms:Decrypt", resource: "k" }).decision).toBe("ImplicitDeny");
    const all = doc(allow("ec2:CreateTags", "*", { "ForAllValues:StringLike": { "aws:TagKeys": ["project", "env*"] } }));
    expect(
      evaluate([all], { action: "ec2:CreateTags", resource: "x", context: { "aws:TagKeys": ["project", "environment"] } }).decision,
    ).toBe("Allow");
    expect(evaluate([all], { action: "ec2:CreateTags", resource: "x", context: { "aws:TagKeys": ["project", "owner"] } }).decision).toBe(
      "ImplicitDeny",
    );
  });

  test("an operator it does not implement throws instead of being ignored", () => {
    const d = doc(allow("s3:GetObject", "*", { DateLessThan: { "aws:CurrentTime": "2030-01-01T00:00:00Z" } }));
    expect(() => evaluate([d], { action: "s3:GetObject", resource: "x" })).toThrow(/condition operator "DateLessThan" is not implemented/);
  });
});

describe("permissions boundary", () => {
  const identity = [doc(allow(["iam:CreateRole", "s3:GetObject"], "*"))];
  const boundary = doc(allow(["s3:GetObject"], "*"));
  test("both must allow; the boundary's implicit deny denies", () => {
    expect(isAllowed({ identity, boundary }, { action: "s3:GetObject", resource: "arn:aws:s3:::b/k" }).decision).toBe("Allow");
    expect(isAllowed({ identity, boundary }, { action: "iam:CreateRole", resource: "arn:aws:iam::1:role/x" })).toEqual({
      decision: "ImplicitDeny",
      by: [],
    });
    expect(isAllowed({ identity }, { action: "iam:CreateRole", resource: "arn:aws:iam::1:role/x" }).decision).toBe("Allow");
    expect(isAllowed({ identity: [doc(allow("s3:PutObject"))], boundary }, { action: "s3:PutObject", resource: "x" }).decision).toBe(
      "ImplicitDeny",
    );
  });
});

describe("resource-based policies and the caller's identity policies (cross-account and KMS rules)", () => {
  const DEST = "arn:aws:iam::333333333333:role/mlflow-prod-ci-deploy";
  const OTHER = "arn:aws:iam::333333333333:role/someone-else";
  const REPO = "arn:aws:ecr:eu-west-1:111111111111:repository/mlflow-dev/iris";
  const pull = { action: "ecr:BatchGetImage", resource: REPO };
  const identity = { identity: [doc({ Sid: "PullSource", ...allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], REPO) })] };
  const nothing = { identity: [doc({ Sid: "Other", ...allow("s3:GetObject", "arn:aws:s3:::b/*") })] };
  const byRoleStatement: Statement = {
    Sid: "CopiedBy",
    Effect: "Allow",
    Principal: { AWS: DEST },
    Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
  };
  const byRole = doc(byRoleStatement);
  const byAccountNamingRoles = doc({
    Sid: "CopiedBy",
    Effect: "Allow",
    Principal: { AWS: "arn:aws:iam::333333333333:root" },
    Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    Condition: { ArnEquals: { "aws:PrincipalArn": [DEST] } },
  });
  const source = (policy?: PolicyDocument) => ({ account: "111111111111", policy });

  test("across accounts both must allow: the identity policy and the resource's policy", () => {
    expect(isAllowedOn(identity, DEST, pull, source(byRole)).decision).toBe("Allow");
    expect(isAllowedOn(identity, DEST, pull, source(undefined)).decision).toBe("ImplicitDeny");
    expect(isAllowedOn(nothing, DEST, pull, source(byRole)).decision).toBe("ImplicitDeny");
    // Naming the account with aws:PrincipalArn: exactly the roles it lists (AWS puts the key in every signed request).
    expect(isAllowedOn(identity, DEST, pull, source(byAccountNamingRoles)).decision).toBe("Allow");
    expect(isAllowedOn(identity, OTHER, pull, source(byAccountNamingRoles)).decision).toBe("ImplicitDeny");
    // The resource's account comes from the ARN when no target is given.
    expect(isAllowedOn(identity, DEST, pull).decision).toBe("ImplicitDeny");
    // Another action than the policy grants.
    expect(
      isAllowedOn({ identity: [doc(allow("ecr:PutImage", REPO))] }, DEST, { action: "ecr:PutImage", resource: REPO }, source(byRole))
        .decision,
    ).toBe("ImplicitDeny");
  });

  test("within one account either allows; a resource policy naming only the account delegates to the identity policies", () => {
    const same = "arn:aws:iam::111111111111:role/mlflow-staging-ci-deploy";
    const sameIdentity = { identity: [doc(allow("ecr:BatchGetImage", REPO))] };
    expect(isAllowedOn(sameIdentity, same, pull, source(undefined)).decision).toBe("Allow");
    expect(
      isAllowedOn(nothing, same, pull, source(doc({ Effect: "Allow", Principal: { AWS: same }, Action: "ecr:BatchGetImage" }))).decision,
    ).toBe("Allow");
    expect(
      isAllowedOn(
        nothing,
        same,
        pull,
        source(doc({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::111111111111:root" }, Action: "ecr:BatchGetImage" })),
      ).decision,
    ).toBe("ImplicitDeny");
    expect(isAllowedOn(nothing, same, pull, source(undefined)).decision).toBe("ImplicitDeny");
  });

  test("an explicit Deny in the resource policy wins over every Allow", () => {
    const denyAll = doc(byRoleStatement, { Sid: "NoOne", Effect: "Deny", Principal: "*", Action: "ecr:*" });
    expect(isAllowedOn(identity, DEST, pull, source(doc(byRoleStatement))).decision).toBe("Allow");
    expect(isAllowedOn(identity, DEST, pull, source(denyAll))).toEqual({ decision: "ExplicitDeny", by: ["resource:NoOne"] });
  });

  test("principal matching: the caller's ARN, its account (id or root), *; a service principal is no AWS caller", () => {
    const match = (Principal: unknown) =>
      evaluateResourcePolicy(doc({ Effect: "Allow", Principal, Action: "ecr:BatchGetImage" }), DEST, pull);
    expect(match({ AWS: DEST }).principalMatch).toBe("arn");
    expect(match({ AWS: ["333333333333"] }).principalMatch).toBe("account");
    expect(match({ AWS: "arn:aws:iam::333333333333:root" }).principalMatch).toBe("account");
    expect(match("*").decision).toBe("Allow");
    expect(match({ AWS: "arn:aws:iam::444444444444:root" }).decision).toBe("ImplicitDeny");
    expect(match({ Service: "ecr.amazonaws.com" }).decision).toBe("ImplicitDeny");
    expect(() =>
      evaluateResourcePolicy(doc({ Effect: "Allow", NotPrincipal: { AWS: DEST }, Action: "*" } as Statement), DEST, pull),
    ).toThrow(/NotPrincipal/);
  });

  describe("KMS: the key policy is the gate", () => {
    const KEY = "arn:aws:kms:eu-west-1:111111111111:key/k1";
    const ROLE = "arn:aws:iam::111111111111:role/mlflow-dev-ci-deploy";
    const put = { action: "kms:PutKeyPolicy", resource: KEY };
    const iamAllows = { identity: [doc(allow("kms:PutKeyPolicy", "arn:aws:kms:eu-west-1:111111111111:key/*"))] };
    test("a key without a policy of its own has the default one: the identity policies decide", () => {
      expect(isAllowedOn(iamAllows, ROLE, put).decision).toBe("Allow");
      expect(isAllowedOn(nothing, ROLE, put).decision).toBe("ImplicitDeny");
      expect(isAllowedOn(iamAllows, ROLE, put, { account: "111111111111", policy: defaultKeyPolicy("aws", "111111111111") }).decision).toBe(
        "Allow",
      );
    });
    test("a key policy without the account's statement ignores the identity policies; one naming the role grants on its own", () => {
      const onlyLogs = doc({
        Effect: "Allow",
        Principal: { Service: "logs.eu-west-1.amazonaws.com" },
        Action: "kms:Encrypt*",
        Resource: "*",
      });
      expect(isAllowedOn(iamAllows, ROLE, put, { account: "111111111111", policy: onlyLogs }).decision).toBe("ImplicitDeny");
      const naming = doc({
        Sid: "DeployRoleAdministers",
        Effect: "Allow",
        Principal: { AWS: ROLE },
        Action: "kms:PutKeyPolicy",
        Resource: "*",
      });
      expect(isAllowedOn(nothing, ROLE, put, { account: "111111111111", policy: naming })).toEqual({
        decision: "Allow",
        by: ["resource:DeployRoleAdministers"],
      });
      // A permissions boundary still limits what the key policy grants the role.
      const bounded = { ...nothing, boundary: doc(allow("s3:*")) };
      expect(isAllowedOn(bounded, ROLE, put, { account: "111111111111", policy: naming }).decision).toBe("ImplicitDeny");
    });
  });
});
