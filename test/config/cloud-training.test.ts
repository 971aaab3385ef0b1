/**
 * Training on a GCP or Azure environment: allowed (the fixtures turn it on), held to the AWS environments' rules of
 * the section, and refusing the AWS-only value it could carry over from an AWS environment (an EKS token issuer),
 * each problem naming the environment and the field.
 */
import { gcpConfig, gcpProblems } from "../helpers/gcp";
import { azureConfig, azureProblems } from "../helpers/azure";
import { gkeIssuerUrl } from "../../config/gcp";

const EKS = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";

describe.each([
  ["gcp-dev", "a GCP environment", gcpConfig, gcpProblems],
  ["azure-dev", "an Azure environment", azureConfig, azureProblems],
] as const)("training on %s", (env, words, config, problems) => {
  it("is accepted (the fixture turns it on)", () => {
    expect(config().training).toMatchObject({ enabled: true, namespace: "ml-pipelines", modelName: "iris-classifier" });
  });

  it("refuses an EKS issuer, naming the field", () => {
    expect(problems({ training: { identity: { issuerUrl: EKS } } })).toEqual([
      expect.stringMatching(
        new RegExp(
          `^environment "${env}": field training\\.identity\\.issuerUrl = "${EKS}": expected the cluster's own issuer, .*: an EKS issuer is AWS-only and no token of ${words}'s cluster carries it$`,
        ),
      ),
    ]);
  });

  it("holds the section to the AWS environments' rules: a known model, the steps' limits, a namespace of its own", () => {
    expect(problems({ training: { modelName: "churn" } })).toEqual([
      expect.stringMatching(
        new RegExp(`^environment "${env}": field training\\.modelName = "churn": expected a model the configuration knows`),
      ),
    ]);
    expect(problems({ training: { steps: { tag: { resources: { requests: { memory: "1Gi" }, limits: { memory: "512Mi" } } } } } })).toEqual(
      [
        expect.stringMatching(
          new RegExp(
            `^environment "${env}": field training\\.steps\\.tag\\.resources\\.limits\\.memory = .*: expected at least the memory request`,
          ),
        ),
      ],
    );
    expect(problems({ training: { namespace: "mlflow" } })).toEqual([
      expect.stringMatching(new RegExp(`^environment "${env}": field training\\.namespace = "mlflow": expected a namespace of its own`)),
    ]);
  });
});

it("the GKE issuer is the cluster's own (its project, location and name)", () => {
  expect(gkeIssuerUrl({ projectId: "p", region: "europe-west1", clusterName: "c" })).toBe(
    "https://container.googleapis.com/v1/projects/p/locations/europe-west1/clusters/c",
  );
  expect(gkeIssuerUrl({ projectId: "p", region: "europe-west1", clusterName: "c", clusterLocation: "europe-west1-b" })).toMatch(
    /locations\/europe-west1-b\/clusters\/c$/,
  );
});
