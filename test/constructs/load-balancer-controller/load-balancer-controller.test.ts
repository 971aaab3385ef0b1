import { Testing, TerraformStack } from "cdktf";
import {
  LoadBalancerController,
  LOAD_BALANCER_CONTROLLER_IAM_POLICY,
  type LoadBalancerControllerProps,
} from "../../../constructs/load-balancer-controller";
import { onlyResource, resourcesOf, type TfJson } from "../../helpers/synth";

const base: LoadBalancerControllerProps = {
  clusterName: "ml-dev",
  region: "eu-west-1",
  vpcId: "vpc-0123456789abcdef0",
  accountId: "111111111111",
};

function synth(props: Partial<LoadBalancerControllerProps> = {}): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new LoadBalancerController(stack, "lbc", { ...base, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

describe("LoadBalancerController", () => {
  const json = synth();
  const release = onlyResource(json, "helm_release");
  const values = JSON.parse(release.values[0]);

  it("installs the pinned chart from aws/eks-charts into kube-system, atomically", () => {
    expect(release).toMatchObject({
      name: "aws-load-balancer-controller",
      namespace: "kube-system",
      repository: "https://aws.github.io/eks-charts",
      chart: "aws-load-balancer-controller",
      version: "3.5.0",
      atomic: true,
      wait: true,
    });
  });

  it("configures cluster, region and VPC explicitly (no instance metadata needed), pods as targets, internal by default", () => {
    expect(values).toMatchObject({
      clusterName: "ml-dev",
      region: "eu-west-1",
      vpcId: "vpc-0123456789abcdef0",
      replicaCount: 2,
      defaultTargetType: "ip",
      defaultLoadBalancerScheme: "internal",
      defaultSSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      serviceAccount: { create: true, name: "aws-load-balancer-controller", annotations: {} },
    });
    expect(values.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("gives the controller its upstream IAM policy through a role only its service account can assume (Pod Identity)", () => {
    const role = onlyResource(json, "aws_iam_role");
    expect(role.name).toBe("ml-dev-aws-load-balancer-controller");
    // The one WorkloadRole trust policy: the session tags EKS Pod Identity sets, the cluster named by its ARN.
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      {
        Sid: "ServiceAccountViaPodIdentity",
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-west-1:111111111111:cluster/ml-dev",
            "aws:RequestTag/kubernetes-namespace": "kube-system",
            "aws:RequestTag/kubernetes-service-account": "aws-load-balancer-controller",
          },
        },
      },
    ]);
    const policy = onlyResource(json, "aws_iam_policy");
    expect(JSON.parse(policy.policy)).toEqual(LOAD_BALANCER_CONTROLLER_IAM_POLICY);
    expect(JSON.stringify(LOAD_BALANCER_CONTROLLER_IAM_POLICY)).toMatch(/elasticloadbalancing:CreateLoadBalancer/);
    expect(onlyResource(json, "aws_eks_pod_identity_association")).toMatchObject({
      cluster_name: "ml-dev",
      namespace: "kube-system",
      service_account: "aws-load-balancer-controller",
    });
    expect(release.depends_on.some((d: string) => d.startsWith("aws_eks_pod_identity_association."))).toBe(true);
  });

  it("installs the controller only once its role holds the permissions: the release depends on the policy attachment", () => {
    for (const [mode, j] of [
      ["pod-identity", json],
      [
        "irsa",
        synth({
          identityMode: "irsa",
          oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123",
        }),
      ],
    ] as const) {
      const attachments = Object.entries(resourcesOf(j, "aws_iam_role_policy_attachment"));
      expect(attachments).toHaveLength(1);
      const [attachmentName, attachment] = attachments[0];
      expect(attachment.role).toMatch(/^\$\{aws_iam_role\.lbc_role_[A-Z0-9]+\.name\}$/);
      expect(attachment.policy_arn).toMatch(/^\$\{aws_iam_policy\.lbc_policy_[A-Z0-9]+\.arn\}$/);
      const rel = onlyResource(j, "helm_release");
      expect([mode, rel.depends_on]).toEqual([mode, expect.arrayContaining([`aws_iam_role_policy_attachment.${attachmentName}`])]);
    }
  });

  it("uses IRSA when asked: web identity trust for exactly its service account, and the role annotation", () => {
    const oidc = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123";
    const irsa = synth({ identityMode: "irsa", oidcProviderArn: oidc });
    const trust = JSON.parse(onlyResource(irsa, "aws_iam_role").assume_role_policy).Statement[0];
    expect(trust.Principal).toEqual({ Federated: oidc });
    expect(trust.Condition.StringEquals).toEqual({
      "oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
      "oidc.eks.eu-west-1.amazonaws.com/id/ABC123:aud": "sts.amazonaws.com",
    });
    expect(resourcesOf(irsa, "aws_eks_pod_identity_association")).toEqual({});
    const v = JSON.parse(onlyResource(irsa, "helm_release").values[0]);
    expect(v.serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toMatch(/^\$\{aws_iam_role\.lbc_role_[A-Z0-9]+\.arn\}$/);
  });

  it.each([
    [
      "IRSA without an OIDC provider",
      { identityMode: "irsa" as const },
      /oidcProviderArn is .*: expected the cluster's IAM OIDC provider ARN/,
    ],
    ["a floating chart version", { chartVersion: "3.x" }, /chartVersion is .*: expected an exact chart version/],
    [
      "a role name over 64 characters",
      { clusterName: "a-very-long-cluster-name-that-goes-on-and-on-and-on-forever" },
      /roleName is .*: expected 1-64 characters/,
    ],
    ["zero replicas", { replicas: 0 }, /replicas is .*: expected a whole number from 1 to 10/],
  ])("refuses %s", (_what, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});
