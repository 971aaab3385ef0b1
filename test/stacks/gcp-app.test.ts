/**
 * The app (main.ts) builds each environment with its cloud's stack: a configuration holding an AWS and a GCP
 * environment synthesizes an MlflowStack and a GcpMlflowStack.
 */
import { deepMerge } from "../../config/merge";

jest.mock("../../config/environments", () => {
  const fixture = jest.requireActual("../fixtures/environments");
  const dev = fixture.environments.find((e: { name: string }) => e.name === "dev");
  return { shared: {}, environments: [deepMerge(fixture.shared, dev), fixture.gcpEnvironment] };
});

import { buildApp } from "../../main";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { GcpMlflowStack } from "../../stacks/gcp-stack";

describe("the app with an AWS and a GCP environment", () => {
  it("builds each with its cloud's stack", () => {
    const app = buildApp({ outdir: "cdktf.out/test-gcp-app", filter: "" });
    const stacks = app.node.children.map((c) => [
      c.node.id,
      c instanceof GcpMlflowStack ? "gcp" : c instanceof MlflowStack ? "aws" : "other",
    ]);
    expect(stacks).toEqual([
      ["mlflow-dev", "aws"],
      ["mlflow-gcp-dev", "gcp"],
    ]);
  });
});
