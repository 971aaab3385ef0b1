/**
 * The `ci` section of an Azure environment (config/azure-ci.ts): GitHub's repository, the deploy's GitHub
 * Environment and the identities' client ids, validated with environment and field; the identities' names the
 * construct creates and the GitHub subjects their federated credentials accept are derived once.
 */
import { resolveAllEnvironments } from "../../config/load";
import { azureCiNames, azureCiSubjects, azureDeployEnvironmentOf } from "../../config/azure-ci";
import { azureConfig, azureProblems } from "../helpers/azure";
import { azureEnvironment } from "../fixtures/environments";

const ci = { repository: "acme/ml-platform" };
const ENV = 'environment "azure-dev"';

describe("Azure ci section", () => {
  it("is accepted with a repository; the identities' names and the deploy's GitHub Environment are derived", () => {
    const config = azureConfig({ ci });
    expect(config.ci).toEqual({ ...ci, autoDeploy: false });
    expect(azureCiNames(config)).toEqual({
      planIdentityName: "mlflow-azure-dev-ci-plan",
      deployIdentityName: "mlflow-azure-dev-ci-deploy",
    });
    expect(azureDeployEnvironmentOf(config)).toBe("azure-dev");
    expect(azureCiSubjects(ci.repository, "azure-dev")).toEqual({
      plan: ["repo:acme/ml-platform:pull_request", "repo:acme/ml-platform:ref:refs/heads/main"],
      deploy: ["repo:acme/ml-platform:environment:azure-dev"],
    });
  });

  it("takes the identities' client ids the bootstrap prints", () => {
    const ids = { planClientId: "11111111-2222-4333-8444-555555555555", deployClientId: "66666666-7777-4888-8999-000000000000" };
    expect(azureConfig({ ci: { ...ci, ...ids } }).ci).toMatchObject(ids);
  });

  it.each([
    [{ ci: { repository: "not a repo" } }, "ci.repository", /a GitHub repository as "owner\/name"/],
    [{ ci: {} }, "ci.repository", /the field is required|expected string/],
    [{ ci: { ...ci, planIdentityName: "-plan" } }, "ci.planIdentityName", /a managed identity name: 3-128/],
    [{ ci: { ...ci, deployIdentityName: "mlflow-azure-dev-ci-plan" } }, "ci.deployIdentityName", /another name than ci.planIdentityName/],
    [
      { ci: { ...ci, planClientId: "mlflow-plan" } },
      "ci.planClientId",
      /the plan identity's client id, a GUID \(npm run bootstrap prints it/,
    ],
    [
      { ci: { ...ci, planClientId: "11111111-2222-4333-8444-555555555555", deployClientId: "11111111-2222-4333-8444-555555555555" } },
      "ci.deployClientId",
      /the deploy identity's own client id/,
    ],
    [{ ci: { ...ci, unknown: 1 } }, "ci", /unknown|unrecognized/i],
    // Two DNS labels of 63 characters: "<project>-<name>-ci-plan" has 135, more than an identity name's 128.
    [
      { project: "p".repeat(63), name: "x".repeat(63), ci },
      "ci.planIdentityName",
      /the name derived from project and name is not one; set ci.planIdentityName/,
    ],
    [
      { production: true, ci: { ...ci, autoDeploy: true }, database: { deletionProtection: true }, artifacts: { forceDestroy: false } },
      "ci.autoDeploy",
      /false in a production environment/,
    ],
  ])("refuses a bad value (%#), naming environment and field", (overrides, field, message) => {
    const problems = azureProblems(overrides as Record<string, unknown>);
    const env = "name" in overrides ? `environment "${String(overrides.name)}"` : ENV;
    expect(problems.filter((p) => p.startsWith(`${env}: field ${field}`))).toEqual([expect.stringMatching(message)]);
  });

  it("a ci section only in shared is the AWS environments': left out of an Azure environment, which gets no CI identity", () => {
    const [config] = resolveAllEnvironments({ ci: { repository: "acme/ml-platform", oidcProvider: "existing" } } as never, [
      azureEnvironment as never,
    ]);
    expect(config.cloud === "azure" && config.ci).toBeUndefined();
  });

  it("with its own ci section, an Azure environment takes the repository from shared and leaves out shared's AWS-only ci fields", () => {
    const [config] = resolveAllEnvironments(
      { ci: { repository: "acme/ml-platform", oidcProvider: "existing", planRoleName: "x" } } as never,
      [{ ...azureEnvironment, ci: { autoDeploy: true } } as never],
    );
    expect(config.cloud === "azure" && config.ci).toEqual({ ...ci, autoDeploy: true });
  });

  it("refuses the AWS-only ci fields written in the Azure entry, saying what to write instead", () => {
    expect(azureProblems({ ci: { ...ci, planRoleName: "plan", oidcProvider: "create" } })).toEqual([
      `${ENV}: field ci.oidcProvider = "create": expected no ci.oidcProvider on an Azure environment: it is an AWS-only option; write nothing: Entra ID trusts GitHub's issuer through each CI identity's federated credentials instead`,
      `${ENV}: field ci.planRoleName = "plan": expected no ci.planRoleName on an Azure environment: it is an AWS-only option; write ci.planIdentityName instead`,
    ]);
  });
});
