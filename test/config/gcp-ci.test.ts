/**
 * The `ci` section of a GCP environment (config/gcp-ci.ts): GitHub's repository, the project number the
 * workflows name the Workload Identity provider by, and the deploy's GitHub Environment, validated with
 * environment and field; the ids the construct creates and the workflows use are derived once.
 */
import { resolveAllEnvironments } from "../../config/load";
import { gcpCiIdentities, gcpCiNames } from "../../config/gcp-ci";
import { serviceAccountIdProblem } from "../../constructs/core/gcp-limits";
import { gcpConfig, gcpProblems } from "../helpers/gcp";
import { gcpEnvironment } from "../fixtures/environments";

const ci = { repository: "acme/ml-platform", projectNumber: "123456789012" };

describe("GCP ci section", () => {
  it("is accepted with a repository and the project number; the ids and the provider's name are derived from it", () => {
    const config = gcpConfig({ ci });
    expect(config.ci).toEqual({ ...ci, autoDeploy: false });
    expect(gcpCiNames(config)).toEqual({
      pool: "mlflow-gcp-dev-github",
      provider: "github",
      planServiceAccountId: "mlflow-gcp-dev-ci-plan",
      deployServiceAccountId: "mlflow-gcp-dev-ci-deploy",
    });
    expect(gcpCiIdentities(config)).toEqual({
      workloadIdentityProvider: "projects/123456789012/locations/global/workloadIdentityPools/mlflow-gcp-dev-github/providers/github",
      planServiceAccount: "mlflow-gcp-dev-ci-plan@example-ml-dev.iam.gserviceaccount.com",
      deployServiceAccount: "mlflow-gcp-dev-ci-deploy@example-ml-dev.iam.gserviceaccount.com",
    });
    expect(gcpCiIdentities(gcpConfig())).toBeUndefined();
  });

  it("long names are shortened to Google's limits (pool 32, service account 30)", () => {
    const n = gcpCiNames({ ...gcpConfig({ ci }), name: "a-very-long-environment-name" });
    expect(n.pool.length).toBeLessThanOrEqual(32);
    expect(n.planServiceAccountId.length).toBeLessThanOrEqual(30);
    expect(n).toMatchObject({
      pool: "mlflow-a-very-long-enviro-github",
      planServiceAccountId: "mlflow-a-very-long-env-ci-plan",
      deployServiceAccountId: "mlflow-a-very-long-e-ci-deploy",
    });
    for (const id of [n.planServiceAccountId, n.deployServiceAccountId]) expect(serviceAccountIdProblem(id)).toBeUndefined();
  });

  it.each([
    [{ ci: { repository: "acme/ml-platform" } }, "ci.projectNumber", /the field is required/],
    [{ ci: { ...ci, projectNumber: "example-ml-dev" } }, "ci.projectNumber", /the project's number \(digits\)/],
    [{ ci: { ...ci, repository: "not a repo" } }, "ci.repository", /a GitHub repository as "owner\/name"/],
    [{ ci: { ...ci, workloadIdentityPoolId: "gcp-github" } }, "ci.workloadIdentityPoolId", /not starting with "gcp-"/],
    [{ ci: { ...ci, planServiceAccountId: "Plan" } }, "ci.planServiceAccountId", /a service account id/],
    [
      { ci: { ...ci, deployServiceAccountId: "mlflow-gcp-dev-ci-plan" } },
      "ci.deployServiceAccountId",
      /another id than ci.planServiceAccountId/,
    ],
    [{ ci: { ...ci, unknown: 1 } }, "ci.unknown", /./],
    [
      { ci: { ...ci, deployEnvironment: "e".repeat(110) } },
      "ci.deployEnvironment",
      /at most 127 bytes \(Google's limit on google.subject\)/,
    ],
    [
      { production: true, ci: { ...ci, autoDeploy: true }, database: { deletionProtection: true }, artifacts: { forceDestroy: false } },
      "ci.autoDeploy",
      /false in a production environment/,
    ],
  ])("refuses a bad value (%#), naming environment and field", (overrides, field, message) => {
    const problems = gcpProblems(overrides as Record<string, unknown>);
    expect(problems.filter((p) => p.startsWith(`environment "gcp-dev": field ${field}`))).toEqual([expect.stringMatching(message)]);
  });

  it("a ci section only in shared is the AWS environments': left out of a GCP environment, which gets no CI identity", () => {
    const [config] = resolveAllEnvironments({ ci: { repository: "acme/ml-platform", oidcProvider: "existing" } } as never, [
      gcpEnvironment as never,
    ]);
    expect(config.cloud === "gcp" && config.ci).toBeUndefined();
  });

  it("with its own ci section, a GCP environment takes the repository from shared and leaves out shared's AWS-only ci fields", () => {
    const [config] = resolveAllEnvironments(
      { ci: { repository: "acme/ml-platform", oidcProvider: "existing", planRoleName: "x" } } as never,
      [{ ...gcpEnvironment, ci: { projectNumber: "123456789012" } } as never],
    );
    expect(config.cloud === "gcp" && config.ci).toEqual({ ...ci, autoDeploy: false });
  });

  it("refuses the AWS-only ci fields written in the GCP entry, saying what to write instead", () => {
    expect(gcpProblems({ ci: { ...ci, planRoleName: "plan", oidcProvider: "create" } })).toEqual([
      'environment "gcp-dev": field ci.oidcProvider = "create": expected no ci.oidcProvider on a GCP environment: it is an AWS-only option; write nothing: the stack creates the environment\'s own Workload Identity pool (ci.workloadIdentityPoolId) instead',
      'environment "gcp-dev": field ci.planRoleName = "plan": expected no ci.planRoleName on a GCP environment: it is an AWS-only option; write ci.planServiceAccountId instead',
    ]);
  });
});
