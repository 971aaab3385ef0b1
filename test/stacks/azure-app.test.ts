/**
 * The app (main.ts) builds each environment with its cloud's stack: a configuration holding an AWS, a GCP and an
 * Azure environment synthesizes an MlflowStack, a GcpMlflowStack and an AzureMlflowStack.
 */
import { deepMerge } from "../../config/merge";

jest.mock("../../config/environments", () => {
  const fixture = jest.requireActual("../fixtures/environments");
  const dev = fixture.environments.find((e: { name: string }) => e.name === "dev");
  return { shared: {}, environments: [deepMerge(fixture.shared, dev), fixture.gcpEnvironment, fixture.azureEnvironment] };
});

import { buildApp } from "../../main";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { GcpMlflowStack } from "../../stacks/gcp-stack";
import { AzureMlflowStack } from "../../stacks/azure-stack";

describe("the app with an AWS, a GCP and an Azure environment", () => {
  it("builds each with its cloud's stack", () => {
    const app = buildApp({ outdir: "cdktf.out/test-azure-app", filter: "" });
    const stacks = app.node.children.map((c) => [
      c.node.id,
      c instanceof AzureMlflowStack ? "azure" : c instanceof GcpMlflowStack ? "gcp" : c instanceof MlflowStack ? "aws" : "other",
    ]);
    expect(stacks).toEqual([
      ["mlflow-dev", "aws"],
      ["mlflow-gcp-dev", "gcp"],
      ["mlflow-azure-dev", "azure"],
    ]);
  });
});
