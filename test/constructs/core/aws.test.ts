/** The shared AWS naming helpers (constructs/core/aws.ts) and the DNS label pattern (constructs/core/names.ts). */
import { albTagsAnnotation, arnPrefix, eksClusterArn, oidcIssuerOf, OIDC_PROVIDER_ARN, partitionOf } from "../../../constructs/core/aws";
import { DNS_LABEL } from "../../../constructs/core/names";
import { AWS_REGIONS } from "../../../config/schema";

describe("partitionOf / arnPrefix", () => {
  it.each([
    ["eu-west-1", "aws"],
    ["us-east-1", "aws"],
    ["ap-southeast-7", "aws"],
    ["mx-central-1", "aws"],
    ["us-gov-west-1", "aws-us-gov"],
    ["us-gov-east-1", "aws-us-gov"],
    ["cn-north-1", "aws-cn"],
    ["cn-northwest-1", "aws-cn"],
    ["us-iso-east-1", "aws-iso"],
    ["us-isob-east-1", "aws-iso-b"],
    ["eu-isoe-west-1", "aws-iso-e"],
    ["us-isof-south-1", "aws-iso-f"],
  ])("%s is in %s", (region, partition) => {
    expect(partitionOf(region)).toBe(partition);
    expect(arnPrefix(region)).toBe(`arn:${partition}`);
  });

  it("takes an unresolved token or no region as the commercial partition", () => {
    expect(partitionOf("${TfToken[TOKEN.1]}")).toBe("aws");
    expect(partitionOf(undefined)).toBe("aws");
  });

  it("puts every region the configuration accepts in aws or aws-us-gov", () => {
    const byPartition = new Map<string, string[]>();
    for (const r of AWS_REGIONS) byPartition.set(partitionOf(r), [...(byPartition.get(partitionOf(r)) ?? []), r]);
    expect(byPartition.get("aws-us-gov")).toEqual(["us-gov-east-1", "us-gov-west-1"]);
    expect([...byPartition.keys()].sort()).toEqual(["aws", "aws-us-gov"]);
  });
});

describe("eksClusterArn", () => {
  it("builds the cluster ARN in the region's partition", () => {
    expect(eksClusterArn("eu-west-1", "123456789012", "ml-dev")).toBe("arn:aws:eks:eu-west-1:123456789012:cluster/ml-dev");
    expect(eksClusterArn("us-gov-west-1", "123456789012", "ml")).toBe("arn:aws-us-gov:eks:us-gov-west-1:123456789012:cluster/ml");
  });
});

describe("oidcIssuerOf", () => {
  it.each([
    ["arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123", "oidc.eks.eu-west-1.amazonaws.com/id/ABC123"],
    [
      "arn:aws-us-gov:iam::111111111111:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/X",
      "oidc.eks.us-gov-west-1.amazonaws.com/id/X",
    ],
    ["arn:aws-cn:iam::111111111111:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/X", "oidc.eks.cn-north-1.amazonaws.com.cn/id/X"],
  ])("reads the issuer of %s", (arn, issuer) => {
    expect(oidcIssuerOf(arn)).toBe(issuer);
    expect(OIDC_PROVIDER_ARN.test(arn)).toBe(true);
  });

  it.each([
    undefined,
    "",
    "arn:aws:iam::111111111111:role/oidc.eks.eu-west-1.amazonaws.com/id/X",
    "arn:aws:iam::111111111111:oidc-provider/",
    "arn:aws:iam::111111111111:oidc-provider/https://oidc.eks.eu-west-1.amazonaws.com/id/X",
    "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/X Y",
    "arn:aws:iam:eu-west-1:111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/X",
  ])("finds no issuer in %p", (arn) => {
    expect(oidcIssuerOf(arn)).toBeUndefined();
  });
});

describe("DNS_LABEL", () => {
  it.each(["a", "mlflow", "kube-system", "a1", "0", "a".repeat(63)])("accepts %p", (v) => expect(DNS_LABEL.test(v)).toBe(true));
  it.each(["", "-a", "a-", "A", "a_b", "a.b", "a".repeat(64)])("refuses %p", (v) => expect(DNS_LABEL.test(v)).toBe(false));
});

describe("albTagsAnnotation", () => {
  it("writes key=value pairs joined by commas, as the AWS Load Balancer Controller reads them", () => {
    expect(albTagsAnnotation({ "cost-center": "ml", project: "mlflow", note: "a=b" })).toBe("cost-center=ml,project=mlflow,note=a=b");
  });

  it.each([[{ "a,b": "c" }], [{ a: "b,c" }], [{ "a=b": "c" }]])("refuses a tag the annotation cannot carry: %j", (tags) => {
    expect(() => albTagsAnnotation(tags)).toThrow(/cannot carry/);
  });
});
