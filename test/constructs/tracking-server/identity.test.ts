import { Testing, TerraformOutput, TerraformStack } from "cdktf";
import { TrackingIdentity, type TrackingIdentityProps } from "../../../constructs/tracking-server/identity";
import { configured, envConfig, onlyResource, resourcesOf, synthJson, SHIPPED, type TfJson } from "../../helpers/synth";

const OIDC = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789";
const byPrefix = (json: TfJson, type: string, prefix: string) =>
  Object.entries(resourcesOf(json, type)).find(([k]) => k.startsWith(prefix + "_"))![1];
const ref = (json: TfJson, type: string, prefix: string, attr: string) =>
  `\${${type}.${Object.keys(resourcesOf(json, type)).find((k) => k.startsWith(prefix + "_"))}.${attr}}`;

const BASE: TrackingIdentityProps = {
  clusterName: "ml-test",
  namespace: "mlflow",
  roleName: "mlflow-test-tracking-server",
  accountId: "123456789012",
  region: "eu-west-1",
  artifacts: {
    bucketName: "b",
    bucketArn: "arn:aws:s3:::b",
    destinationUri: "s3://b/mlartifacts",
    kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
  },
  artifactPrefix: "mlartifacts",
};
function synthIdentity(props: Partial<TrackingIdentityProps> = {}) {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  const identity = new TrackingIdentity(stack, "id", { ...BASE, ...props });
  new TerraformOutput(stack, "role_arn", { value: identity.contract.roleArn });
  return { identity, json: JSON.parse(Testing.synth(stack)) as TfJson };
}

describe.each(SHIPPED)("tracking identity in %s", (env) => {
  const config = configured(env);
  const json = synthJson(config);
  const role = byPrefix(json, "aws_iam_role", "tracking_identity_role");
  const policy = JSON.parse(byPrefix(json, "aws_iam_role_policy", "tracking_identity_artifact_access").policy);
  const bucketArn = `arn:aws:s3:::${config.artifacts.bucketName ?? `${config.project}-${env}-artifacts-${config.aws.accountId}`}`;

  it("trusts only the environment's identity mode (EKS Pod Identity or IRSA) for the mlflow service account in the mlflow namespace of this cluster", () => {
    expect(role.name).toBe(`${config.project}-${env}-tracking-server`);
    expect(role.max_session_duration).toBe(3600);
    if (config.identity.mode === "irsa") {
      const issuer = config.cluster.oidcProviderArn!.replace(/^arn:[^:]+:iam::\d{12}:oidc-provider\//, "");
      expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
        {
          Sid: "ServiceAccountViaIrsa",
          Effect: "Allow",
          Principal: { Federated: config.cluster.oidcProviderArn },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: {
              [`${issuer}:sub`]: `system:serviceaccount:${config.mlflow.namespace}:mlflow`,
              [`${issuer}:aud`]: "sts.amazonaws.com",
            },
          },
        },
      ]);
      return;
    }
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      {
        Sid: "ServiceAccountViaPodIdentity",
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            "aws:RequestTag/eks-cluster-arn": `arn:aws:eks:${config.aws.region}:${config.aws.accountId}:cluster/${config.cluster.name}`,
            "aws:RequestTag/kubernetes-namespace": config.mlflow.namespace,
            "aws:RequestTag/kubernetes-service-account": "mlflow",
          },
        },
      },
    ]);
  });

  it("associates the role with the service account and checks the Pod Identity agent add-on at plan time (Pod Identity)", () => {
    if (config.identity.mode === "irsa") {
      expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
      return;
    }
    expect(byPrefix(json, "aws_eks_pod_identity_association", "tracking_identity_association")).toEqual({
      cluster_name: config.cluster.name,
      namespace: config.mlflow.namespace,
      service_account: "mlflow",
      role_arn: ref(json, "aws_iam_role", "tracking_identity_role", "arn"),
    });
    expect(Object.values(json.data?.aws_eks_addon ?? {})).toEqual([
      { cluster_name: config.cluster.name, addon_name: "eks-pod-identity-agent" },
    ]);
  });

  it("allows only the S3 actions MLflow needs, on this bucket's prefix, and the bucket key through S3", () => {
    expect(policy.Statement).toEqual([
      {
        Sid: "ListArtifactPrefix",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: bucketArn,
        Condition: { StringLike: { "s3:prefix": [config.artifacts.prefix, `${config.artifacts.prefix}/*`] } },
      },
      {
        Sid: "ReadWriteArtifacts",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        Resource: `${bucketArn}/${config.artifacts.prefix}/*`,
      },
      {
        Sid: "UseArtifactKeyThroughS3",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: ref(json, "aws_kms_key", "artifact_store_key", "arn"),
        Condition: { StringEquals: { "kms:ViaService": `s3.${config.aws.region}.amazonaws.com` } },
      },
    ]);
  });

  it("attaches nothing else to the role", () => {
    const roleRef = ref(json, "aws_iam_role", "tracking_identity_role", "name");
    const roleId = ref(json, "aws_iam_role", "tracking_identity_role", "id");
    expect(
      Object.values(resourcesOf(json, "aws_iam_role_policy_attachment")).filter((a) => a.role === roleRef || a.role === roleId),
    ).toEqual([]);
    expect(Object.values(resourcesOf(json, "aws_iam_role_policy")).filter((p) => p.role === roleId)).toHaveLength(1);
    expect(role.managed_policy_arns).toBeUndefined();
    expect(role.inline_policy).toBeUndefined();
  });
});

describe("tracking identity with IRSA", () => {
  // The OIDC provider is in the environment's account (IRSA trusts a provider of the role's own account).
  const config = envConfig("dev", { identity: { mode: "irsa" }, cluster: { oidcProviderArn: OIDC } });
  const json = synthJson(config);

  it("trusts the cluster's OIDC provider for exactly system:serviceaccount:mlflow:mlflow with the STS audience", () => {
    const role = byPrefix(json, "aws_iam_role", "tracking_identity_role");
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([
      {
        Sid: "ServiceAccountViaIrsa",
        Effect: "Allow",
        Principal: { Federated: OIDC },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789:sub": "system:serviceaccount:mlflow:mlflow",
            "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789:aud": "sts.amazonaws.com",
          },
        },
      },
    ]);
  });

  it("creates no Pod Identity association nor add-on check", () => {
    expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
    expect(json.data?.aws_eks_addon).toBeUndefined();
  });

  it("gives the service account the role-arn annotation in its contract", () => {
    const { identity, json: out } = synthIdentity({ mode: "irsa", oidcProviderArn: OIDC });
    expect(identity.contract.serviceAccountName).toBe("mlflow");
    expect(Object.keys(identity.contract.serviceAccountAnnotations)).toEqual(["eks.amazonaws.com/role-arn"]);
    expect(identity.contract.serviceAccountAnnotations["eks.amazonaws.com/role-arn"]).toBe(identity.contract.roleArn);
    expect(out.output?.role_arn.value).toMatch(/^\$\{aws_iam_role\.id_role_[0-9A-F]+\.arn\}$/);
  });
});

describe("tracking identity options and validation", () => {
  it("has no annotations under Pod Identity, and honours a custom service account and prefix", () => {
    const { identity, json } = synthIdentity({
      serviceAccountName: "tracking",
      artifactPrefix: "team/mlflow",
      checkPodIdentityAgent: false,
    });
    expect(identity.contract.serviceAccountAnnotations).toEqual({});
    expect(identity.contract.serviceAccountName).toBe("tracking");
    expect(byPrefix(json, "aws_eks_pod_identity_association", "id_association").service_account).toBe("tracking");
    expect(json.data?.aws_eks_addon).toBeUndefined();
    const stmts = JSON.parse(onlyResource(json, "aws_iam_role_policy").policy).Statement;
    expect(stmts[0].Condition).toEqual({ StringLike: { "s3:prefix": ["team/mlflow", "team/mlflow/*"] } });
    expect(stmts[1].Resource).toBe("arn:aws:s3:::b/team/mlflow/*");
  });

  it.each<[string, Partial<TrackingIdentityProps>, RegExp]>([
    [
      "IRSA without an OIDC provider",
      { mode: "irsa" },
      /test\/id: oidcProviderArn is unset: expected the cluster's IAM OIDC provider ARN .* when mode is "irsa"/,
    ],
    [
      "IRSA with a role ARN instead of a provider",
      { mode: "irsa", oidcProviderArn: "arn:aws:iam::111111111111:role/x" },
      /oidcProviderArn is .*: expected the cluster's IAM OIDC provider ARN/,
    ],
    ["a service account that is not a DNS label", { serviceAccountName: "MLflow" }, /serviceAccountName is "MLflow": expected a DNS label/],
    [
      "a prefix with a trailing slash",
      { artifactPrefix: "mlartifacts/" },
      /artifactPrefix is .*: expected an S3 key prefix without leading or trailing '\/'/,
    ],
    ["a role name IAM refuses", { roleName: "a".repeat(65) }, /roleName is .*: expected 1-64 characters/],
  ])("rejects %s at synth", (_what, props, message) => {
    expect(() => synthIdentity(props)).toThrow(message);
  });

  it("reports IRSA without a provider in the environment configuration", () => {
    expect(() => envConfig("dev", { identity: { mode: "irsa" } })).toThrow(
      /environment "dev": field cluster\.oidcProviderArn = nothing: expected the cluster's IAM OIDC provider ARN/,
    );
  });
});
