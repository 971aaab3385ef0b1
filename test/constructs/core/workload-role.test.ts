/**
 * WorkloadRole: the one IAM-role-for-a-service-account implementation (EKS Pod Identity or IRSA), over
 * the synthesized JSON of the construct alone and of the shipped stacks.
 */
import { Testing, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import { WorkloadRole, IRSA_ROLE_ANNOTATION, type WorkloadRoleProps } from "../../../constructs/core/workload-role";
import { allRules } from "../../../policies";
import { configured, resourcesOf, synthJson, SHIPPED, type TfJson } from "../../helpers/synth";

const OIDC = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789";
const ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789";
const READ_DOC = {
  Version: "2012-10-17",
  Statement: [{ Sid: "Read", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/p/*" }],
};

const BASE: WorkloadRoleProps = {
  clusterName: "ml-test",
  namespace: "team",
  serviceAccountName: "worker",
  roleName: "ml-test-worker",
  accountId: "123456789012",
  region: "eu-west-1",
  inlinePolicies: [{ name: "read-artifacts", document: READ_DOC }],
};

function synth(props: Partial<WorkloadRoleProps> = {}) {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  const wr = new WorkloadRole(stack, "wr", { ...BASE, ...props });
  new TerraformOutput(stack, "annotations", { value: wr.serviceAccountAnnotations });
  return { wr, json: JSON.parse(Testing.synth(stack)) as TfJson };
}
const only = (json: TfJson, type: string): [string, Record<string, any>] => {
  const all = Object.entries(resourcesOf(json, type));
  expect(all).toHaveLength(1);
  return all[0];
};

describe("WorkloadRole, EKS Pod Identity (default)", () => {
  const { wr, json } = synth();
  const [roleName, role] = only(json, "aws_iam_role");

  it("names the role and describes whose it is; writes no session duration unless asked (IAM's one hour)", () => {
    expect(wr.mode).toBe("pod-identity");
    expect(role.name).toBe("ml-test-worker");
    expect(role.description).toBe("Workload role for team/worker on ml-test");
    expect(role.max_session_duration).toBeUndefined();
    expect(role.managed_policy_arns).toBeUndefined();
    expect(role.inline_policy).toBeUndefined();
  });

  it("trusts only the Pod Identity session of this service account, in this namespace, on this cluster's ARN", () => {
    expect(JSON.parse(role.assume_role_policy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "ServiceAccountViaPodIdentity",
          Effect: "Allow",
          Principal: { Service: "pods.eks.amazonaws.com" },
          Action: ["sts:AssumeRole", "sts:TagSession"],
          Condition: {
            StringEquals: {
              "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-west-1:123456789012:cluster/ml-test",
              "aws:RequestTag/kubernetes-namespace": "team",
              "aws:RequestTag/kubernetes-service-account": "worker",
            },
          },
        },
      ],
    });
  });

  it("associates the role with the service account (session tags left on) and checks the agent add-on at plan time", () => {
    const [assocName, assoc] = only(json, "aws_eks_pod_identity_association");
    expect(assoc).toEqual({
      cluster_name: "ml-test",
      namespace: "team",
      service_account: "worker",
      role_arn: `\${aws_iam_role.${roleName}.arn}`,
    });
    expect(assoc.disable_session_tags).toBeUndefined();
    expect(Object.values(json.data?.aws_eks_addon ?? {})).toEqual([{ cluster_name: "ml-test", addon_name: "eks-pod-identity-agent" }]);
    expect(wr.association).toBeDefined();
    expect(assocName).toMatch(/^wr_association_[0-9A-F]{8}$/);
  });

  it("writes each inline policy on the role, by id, and gives the service account no annotation", () => {
    const [policyName, policy] = only(json, "aws_iam_role_policy");
    expect(policyName).toMatch(/^wr_policy_read_artifacts_[0-9A-F]{8}$/);
    expect(policy.role).toBe(`\${aws_iam_role.${roleName}.id}`);
    expect(policy.name).toBe("read-artifacts");
    expect(JSON.parse(policy.policy)).toEqual(READ_DOC);
    expect(resourcesOf(json, "aws_iam_role_policy_attachment")).toEqual({});
    expect(wr.serviceAccountAnnotations).toEqual({});
    expect(json.output?.annotations.value).toEqual({});
  });

  it("lists what a workload must wait for: its policies, then the association", () => {
    expect(wr.readyWith).toEqual([...wr.inlinePolicies, wr.association]);
    expect(wr.readyWith).toHaveLength(2);
  });

  it("passes the project's synth-time policy rules", () => {
    // MLF-IAM-2 (the permissions boundary) is the stack's: it puts the boundary on every role (test/policies/shipped-stacks.test.ts).
    expect(
      allRules()
        .filter((r) => r.id !== "MLF-IAM-2")
        .flatMap((r) => r.check(json as any)),
    ).toEqual([]);
  });
});

describe("WorkloadRole, IRSA", () => {
  const { wr, json } = synth({ mode: "irsa", oidcProviderArn: OIDC });
  const [roleName, role] = only(json, "aws_iam_role");

  it("trusts the cluster's OIDC provider for exactly system:serviceaccount:<namespace>:<name> with the STS audience", () => {
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      {
        Sid: "ServiceAccountViaIrsa",
        Effect: "Allow",
        Principal: { Federated: OIDC },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${ISSUER}:sub`]: "system:serviceaccount:team:worker",
            [`${ISSUER}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ]);
  });

  it("creates no association and no add-on check, and annotates the service account with the role's ARN", () => {
    expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
    expect(json.data?.aws_eks_addon).toBeUndefined();
    expect(wr.association).toBeUndefined();
    expect(Object.keys(wr.serviceAccountAnnotations)).toEqual([IRSA_ROLE_ANNOTATION]);
    expect(IRSA_ROLE_ANNOTATION).toBe("eks.amazonaws.com/role-arn");
    expect(wr.serviceAccountAnnotations[IRSA_ROLE_ANNOTATION]).toBe(wr.roleArn);
    expect(json.output?.annotations.value).toEqual({ [IRSA_ROLE_ANNOTATION]: `\${aws_iam_role.${roleName}.arn}` });
    expect(wr.readyWith).toEqual(wr.inlinePolicies);
  });
});

describe("WorkloadRole partitions", () => {
  it.each([
    ["us-gov-west-1", "arn:aws-us-gov:eks:us-gov-west-1:123456789012:cluster/ml-test"],
    ["cn-north-1", "arn:aws-cn:eks:cn-north-1:123456789012:cluster/ml-test"],
    ["eu-central-1", "arn:aws:eks:eu-central-1:123456789012:cluster/ml-test"],
  ])("names the cluster in %s as %s", (region, clusterArn) => {
    const { json } = synth({ region });
    const trust = JSON.parse(only(json, "aws_iam_role")[1].assume_role_policy).Statement[0];
    expect(trust.Condition.StringEquals["aws:RequestTag/eks-cluster-arn"]).toBe(clusterArn);
  });
});

describe("WorkloadRole options", () => {
  it("attaches managed policies by the role's name, with the ids given, and waits for them", () => {
    const { wr, json } = synth({
      inlinePolicies: [],
      managedPolicies: [
        { policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" },
        { id: "extra", policyArn: "arn:aws:iam::123456789012:policy/x" },
      ],
    });
    const [roleName] = only(json, "aws_iam_role");
    const attachments = resourcesOf(json, "aws_iam_role_policy_attachment");
    expect(
      Object.keys(attachments)
        .map((k) => k.replace(/_[0-9A-F]{8}$/, ""))
        .sort(),
    ).toEqual(["wr_extra", "wr_policy_attachment_0"]);
    expect(Object.values(attachments).map((a) => [a.role, a.policy_arn])).toEqual(
      expect.arrayContaining([
        [`\${aws_iam_role.${roleName}.name}`, "arn:aws:iam::aws:policy/ReadOnlyAccess"],
        [`\${aws_iam_role.${roleName}.name}`, "arn:aws:iam::123456789012:policy/x"],
      ]),
    );
    expect(resourcesOf(json, "aws_iam_role_policy")).toEqual({});
    expect(wr.readyWith).toEqual([...wr.policyAttachments, wr.association]);
  });

  it("honours a session duration, a description, and no add-on check", () => {
    const { json } = synth({ maxSessionDurationSeconds: 7200, description: "Batch worker", checkPodIdentityAgent: false });
    const [, role] = only(json, "aws_iam_role");
    expect(role.max_session_duration).toBe(7200);
    expect(role.description).toBe("Batch worker");
    expect(json.data?.aws_eks_addon).toBeUndefined();
    expect(Object.keys(resourcesOf(json, "aws_eks_pod_identity_association"))).toHaveLength(1);
  });

  it("accepts tokens for the namespace and the account id (validated by Terraform then)", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "tok");
    const ns = new TerraformVariable(stack, "ns", { type: "string" });
    const account = new TerraformVariable(stack, "account", { type: "string" });
    new WorkloadRole(stack, "wr", { ...BASE, namespace: ns.stringValue, accountId: account.stringValue });
    const out = JSON.parse(Testing.synth(stack)) as TfJson;
    const trust = JSON.parse(only(out, "aws_iam_role")[1].assume_role_policy).Statement[0];
    expect(trust.Condition.StringEquals).toEqual({
      "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-west-1:${var.account}:cluster/ml-test",
      "aws:RequestTag/kubernetes-namespace": "${var.ns}",
      "aws:RequestTag/kubernetes-service-account": "worker",
    });
  });

  it('keeps the addresses of a role created before: as "Default" with the old ids, logical ids equal those of resources made directly', () => {
    const ids = (build: (parent: Construct) => void) => {
      const app = Testing.app();
      const stack = new TerraformStack(app, "addr");
      build(new Construct(stack, "monitoring"));
      const json = JSON.parse(Testing.synth(stack)) as TfJson;
      return {
        roles: Object.keys(resourcesOf(json, "aws_iam_role")),
        assocs: Object.keys(resourcesOf(json, "aws_eks_pod_identity_association")),
        policies: Object.keys(resourcesOf(json, "aws_iam_role_policy")),
      };
    };
    const before = ids((parent) => {
      // What the constructs did before WorkloadRole: resources straight under their own scope.
      const role = new IamRole(parent, "grafana_role", { name: "r", assumeRolePolicy: "{}" });
      new IamRolePolicy(parent, "grafana_cloudwatch_read", { role: role.id, policy: "{}" });
      new EksPodIdentityAssociation(parent, "grafana_pod_identity", {
        clusterName: "c",
        namespace: "n",
        serviceAccount: "s",
        roleArn: role.arn,
      });
    });
    const after = ids((parent) => {
      new WorkloadRole(parent, "Default", {
        ...BASE,
        checkPodIdentityAgent: false,
        inlinePolicies: [{ id: "grafana_cloudwatch_read", name: "grafana-cloudwatch-read", document: READ_DOC }],
        resourceIds: { role: "grafana_role", association: "grafana_pod_identity" },
      });
    });
    expect(after).toEqual(before);
    expect(after.roles).toEqual([expect.stringMatching(/^monitoring_grafana_role_[0-9A-F]{8}$/)]);
  });
});

describe("WorkloadRole validation (at synth, naming the field)", () => {
  it.each<[string, Partial<WorkloadRoleProps>, RegExp]>([
    [
      "IRSA without an OIDC provider",
      { mode: "irsa" },
      /^test\/wr: oidcProviderArn is unset: expected the cluster's IAM OIDC provider ARN \(arn:aws:iam::<account>:oidc-provider\/oidc\.eks\.<region>\.amazonaws\.com\/id\/<id>\) when mode is "irsa"$/,
    ],
    [
      "IRSA with a role ARN",
      { mode: "irsa", oidcProviderArn: "arn:aws:iam::111111111111:role/x" },
      /oidcProviderArn is "arn:aws:iam::111111111111:role\/x": expected the cluster's IAM OIDC provider ARN/,
    ],
    [
      "IRSA with a provider ARN without an issuer",
      { mode: "irsa", oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/" },
      /oidcProviderArn is .*: expected the cluster's IAM OIDC provider ARN/,
    ],
    [
      "IRSA with an issuer URL that keeps its scheme",
      { mode: "irsa", oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/https://oidc.eks.eu-west-1.amazonaws.com/id/A" },
      /oidcProviderArn is .*: expected the cluster's IAM OIDC provider ARN/,
    ],
    [
      "IRSA with a short account id",
      { mode: "irsa", oidcProviderArn: "arn:aws:iam::1111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/A" },
      /oidcProviderArn is .*: expected the cluster's IAM OIDC provider ARN/,
    ],
    ["an unknown mode", { mode: "kiam" as never }, /^test\/wr: mode is "kiam": expected "pod-identity" or "irsa"$/],
    ["a namespace that is not a DNS label", { namespace: "Team_A" }, /^test\/wr: namespace is "Team_A": expected a DNS label$/],
    [
      "a service account that is not a DNS label",
      { serviceAccountName: "-worker" },
      /^test\/wr: serviceAccountName is "-worker": expected a DNS label$/,
    ],
    [
      "a role name IAM refuses",
      { roleName: "r".repeat(65) },
      /^test\/wr: roleName is .*: expected 1-64 characters of letters, digits and \+=,\.@_-/,
    ],
    ["an account id that is not 12 digits", { accountId: "12345" }, /^test\/wr: accountId is "12345": expected a 12-digit AWS account id$/],
    ["a region that is not one", { region: "europe" }, /^test\/wr: region is "europe": expected an AWS region such as "eu-west-1"$/],
    ["a cluster name EKS refuses", { clusterName: "ml test" }, /^test\/wr: clusterName is .*: expected an EKS cluster name/],
    [
      "a session shorter than an hour",
      { maxSessionDurationSeconds: 3599 },
      /^test\/wr: maxSessionDurationSeconds is 3599: expected 3600-43200$/,
    ],
    ["a session longer than twelve hours", { maxSessionDurationSeconds: 43201 }, /maxSessionDurationSeconds is 43201: expected 3600-43200/],
    ["a fractional session", { maxSessionDurationSeconds: 3600.5 }, /maxSessionDurationSeconds is .*: expected 3600-43200/],
    [
      "two inline policies with one name",
      {
        inlinePolicies: [
          { name: "p", document: READ_DOC },
          { name: "p", document: READ_DOC },
        ],
      },
      /^test\/wr: inlinePolicies is "p": expected names unique on the role \(this one is given twice\)$/,
    ],
    [
      "an inline policy name IAM refuses",
      { inlinePolicies: [{ name: "my policy", document: READ_DOC }] },
      /inlinePolicies is "my policy": expected names of 1-128 characters/,
    ],
  ])("rejects %s", (_what, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });

  it("uses the caller's field names, and the parent's path for a \"Default\" child", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "test");
    const parent = new Construct(stack, "grafana");
    expect(
      () =>
        new WorkloadRole(parent, "Default", {
          ...BASE,
          mode: "irsa",
          fieldNames: { mode: "cloudWatch.identityMode", oidcProviderArn: "cloudWatch.oidcProviderArn" },
        }),
    ).toThrow(/^test\/grafana: cloudWatch\.oidcProviderArn is unset: expected .* when cloudWatch\.identityMode is "irsa"$/);
  });
});

describe.each(SHIPPED)("every workload role of %s (with the load balancer controller)", (env) => {
  const config = configured(env, { ingress: { installLoadBalancerController: true } });
  const json = synthJson(config);
  const podRoles = Object.entries(resourcesOf(json, "aws_iam_role"))
    .map(([name, r]) => [name, JSON.parse(r.assume_role_policy).Statement[0]] as const)
    .filter(
      ([, s]) =>
        s.Principal?.Service === "pods.eks.amazonaws.com" || String(s.Principal?.Federated ?? "").includes(":oidc-provider/oidc.eks."),
    );
  // The models' own roles: inference logging (released models that log) and drift (released, logging, drift on).
  const released = Object.entries(config.serving.models).filter(([m, c]) => config.serving.releases[m] && c.inferenceLog.enabled);
  const modelRoles = released.flatMap(([m, c]) => [
    `model_${m.replace(/-/g, "_")}_inference_log_role`,
    ...(c.drift.enabled ? [`drift_${m.replace(/-/g, "_")}_role`] : []),
  ]);

  it("uses the one trust policy of the environment's identity mode: the cluster (or its OIDC provider), the namespace and the service account", () => {
    expect(podRoles.map(([name]) => name.replace(/_[0-9A-F]{8}$/, "")).sort()).toEqual(
      [
        "load_balancer_controller_role",
        "model_retention_role",
        "monitoring_grafana_role",
        "tracking_identity_role",
        ...(config.training.enabled ? ["training_role"] : []),
        ...modelRoles,
      ].sort(),
    );
    const clusterArn = `arn:aws:eks:${config.aws.region}:${config.aws.accountId}:cluster/${config.cluster.name}`;
    for (const [, statement] of podRoles) {
      expect(Object.keys(statement.Condition)).toEqual(["StringEquals"]);
      if (config.identity.mode === "irsa") {
        const issuer = config.cluster.oidcProviderArn!.replace(/^arn:[^:]+:iam::\d{12}:oidc-provider\//, "");
        expect(statement.Sid).toBe("ServiceAccountViaIrsa");
        expect(statement.Principal).toEqual({ Federated: config.cluster.oidcProviderArn });
        expect(statement.Action).toBe("sts:AssumeRoleWithWebIdentity");
        expect(Object.keys(statement.Condition.StringEquals)).toEqual([`${issuer}:sub`, `${issuer}:aud`]);
        expect(statement.Condition.StringEquals[`${issuer}:sub`]).toMatch(/^system:serviceaccount:[a-z0-9-]+:[a-z0-9-]+$/);
        continue;
      }
      expect(statement.Sid).toBe("ServiceAccountViaPodIdentity");
      expect(statement.Action).toEqual(["sts:AssumeRole", "sts:TagSession"]);
      expect(Object.keys(statement.Condition.StringEquals)).toEqual([
        "aws:RequestTag/eks-cluster-arn",
        "aws:RequestTag/kubernetes-namespace",
        "aws:RequestTag/kubernetes-service-account",
      ]);
      expect(statement.Condition.StringEquals["aws:RequestTag/eks-cluster-arn"]).toBe(clusterArn);
    }
  });

  it("checks the Pod Identity agent once per cluster where Pod Identity is used", () => {
    expect(Object.values(json.data?.aws_eks_addon ?? {})).toEqual(
      config.identity.mode === "pod-identity" ? [{ cluster_name: config.cluster.name, addon_name: "eks-pod-identity-agent" }] : [],
    );
  });
});
