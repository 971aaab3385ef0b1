import { Testing, TerraformStack } from "cdktf";
import {
  GCP_DEPLOY_PROJECT_ROLES,
  GCP_READ_PROJECT_ROLES,
  GITHUB_ISSUER_URI,
  GcpCiIdentities,
  type GcpCiIdentitiesProps,
} from "../../../constructs/gcp-ci-identities";
import { PropError } from "../../../constructs/core/prop-error";
import { GcpNoPrimitiveRoles, GcpNoPublicMembers } from "../../../policies";
import type { TfJson } from "../../helpers/synth";

const BASE: GcpCiIdentitiesProps = {
  projectId: "example-ml-dev",
  repository: "acme/ml-platform",
  poolId: "mlflow-dev-github",
  planServiceAccountId: "mlflow-dev-ci-plan",
  deployServiceAccountId: "mlflow-dev-ci-deploy",
  deployEnvironment: "dev",
  state: { bucket: "acme-tf-state", prefix: "mlflow/dev", planPrefix: "ci-plans/mlflow-dev" },
  managedBucketNames: ["mlflow-dev-artifacts-example-ml-dev"],
  planSecretsRoleId: "mlflow_dev_ci_plan_secrets",
};

function synth(props: Partial<GcpCiIdentitiesProps> = {}): TfJson {
  const stack = new TerraformStack(Testing.app(), "test");
  new GcpCiIdentities(stack, "ci", { ...BASE, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const all = (json: TfJson, type: string) => Object.values(json.resource![type] ?? {}) as Record<string, any>[];
describe("GcpCiIdentities", () => {
  it("trusts GitHub's issuer with an attribute condition pinning the repository (Google requires one for GitHub)", () => {
    const json = synth();
    const [provider] = all(json, "google_iam_workload_identity_pool_provider");
    expect(provider).toMatchObject({
      workload_identity_pool_provider_id: "github",
      attribute_condition:
        'assertion.repository == "acme/ml-platform" && (assertion.sub == "repo:acme/ml-platform:pull_request" || ' +
        'assertion.sub == "repo:acme/ml-platform:ref:refs/heads/main" || assertion.sub == "repo:acme/ml-platform:environment:dev")',
      attribute_mapping: { "google.subject": "assertion.sub", "attribute.repository": "assertion.repository" },
      oidc: { issuer_uri: GITHUB_ISSUER_URI },
    });
    expect(all(json, "google_iam_workload_identity_pool")[0]).toMatchObject({
      workload_identity_pool_id: "mlflow-dev-github",
      project: "example-ml-dev",
    });
  });

  it("binds each account to the exact GitHub subjects: pull requests and main for plan, the GitHub Environment for deploy", () => {
    const json = synth();
    const members = all(json, "google_service_account_iam_member").map((m) => [
      /ci_(plan|deploy)_\w+\.name/.exec(m.service_account_id)![1],
      m.role,
      m.member.replace(/^principal:\/\/iam\.googleapis\.com\/\$\{google_iam_workload_identity_pool\.\w+\.name\}\/subject\//, "SUBJECT "),
    ]);
    expect(members.sort((a, b) => b[0].localeCompare(a[0]) || a[2].localeCompare(b[2]))).toEqual([
      ["plan", "roles/iam.workloadIdentityUser", "SUBJECT repo:acme/ml-platform:pull_request"],
      ["plan", "roles/iam.workloadIdentityUser", "SUBJECT repo:acme/ml-platform:ref:refs/heads/main"],
      ["deploy", "roles/iam.workloadIdentityUser", "SUBJECT repo:acme/ml-platform:environment:dev"],
    ]);
    // Never a principalSet of the whole pool (every token the condition admits) nor a wildcard.
    expect(JSON.stringify(json)).not.toMatch(/principalSet:\/\/|\*"/);
  });

  it("the plan account reads: predefined viewer roles (IAM policies included, no basic role), the cluster's Secrets, the state; it writes only saved plan files", () => {
    const json = synth();
    const plan = (type: string) => all(json, type).filter((g) => String(g.member).includes("google_service_account.ci_plan_"));
    const roles = plan("google_project_iam_member").map((g) => g.role);
    expect(roles.sort()).toEqual(
      [...GCP_READ_PROJECT_ROLES, expect.stringMatching(/^\$\{google_project_iam_custom_role\.\w+\.name\}$/)].sort(),
    );
    expect(roles).toContain("roles/iam.securityReviewer");
    for (const role of roles)
      expect(role).toMatch(
        /\.(viewer|reader|securityReviewer|networkViewer|bucketViewer|serviceAccountViewer|workloadIdentityPoolViewer)$|^roles\/browser$|custom_role/,
      );
    expect(all(json, "google_project_iam_custom_role")[0].permissions).toEqual(["container.secrets.get", "container.secrets.list"]);
    expect(plan("google_storage_bucket_iam_member").map((g) => [g.role, g.bucket, g.condition.expression])).toEqual(
      expect.arrayContaining([
        ["roles/storage.objectViewer", "acme-tf-state", 'resource.name.startsWith("projects/_/buckets/acme-tf-state/objects/mlflow/dev/")'],
        ["roles/storage.objectViewer", "acme-tf-state", expect.stringContaining('startsWith("mlflow/dev/")')],
        [
          "roles/storage.objectCreator",
          "acme-tf-state",
          'resource.name.startsWith("projects/_/buckets/acme-tf-state/objects/ci-plans/mlflow-dev/")',
        ],
      ]),
    );
    expect(plan("google_storage_bucket_iam_member")).toHaveLength(3);
  });

  it("the deploy account gets the stack's services, storage administration on the stack's buckets only, and the state", () => {
    const json = synth();
    const deploy = (type: string) => all(json, type).filter((g) => String(g.member).includes("google_service_account.ci_deploy_"));
    const roles = deploy("google_project_iam_member");
    expect(
      roles
        .filter((g) => !g.condition)
        .map((g) => g.role)
        .sort(),
    ).toEqual([...GCP_READ_PROJECT_ROLES, ...GCP_DEPLOY_PROJECT_ROLES].sort());
    const storage = roles.find((g) => g.condition)!;
    expect(storage.role).toBe("roles/storage.admin");
    expect(storage.condition.expression).toBe(
      'resource.name == "projects/_/buckets/mlflow-dev-artifacts-example-ml-dev" || resource.name.startsWith("projects/_/buckets/mlflow-dev-artifacts-example-ml-dev/")',
    );
    expect(
      deploy("google_storage_bucket_iam_member")
        .map((g) => [g.role, g.condition.title])
        .sort(),
    ).toEqual([
      ["roles/storage.objectUser", "state-objects"],
      ["roles/storage.objectViewer", "saved-plans"],
      ["roles/storage.objectViewer", "state-listing"],
    ]);
    // No role on the pool, on project IAM or on a bucket's IAM policy: what this construct creates is the administrator's.
    expect(roles.map((g) => g.role)).not.toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^roles\/(owner|editor|resourcemanager\.|iam\.workloadIdentityPoolAdmin|iam\.securityAdmin)/),
      ]),
    );
  });

  it("passes MLF-GCP-1 and MLF-GCP-2", () => {
    const json = synth();
    expect(new GcpNoPublicMembers().check(json)).toEqual([]);
    expect(new GcpNoPrimitiveRoles().check(json)).toEqual([]);
  });

  it("without state (local backend) grants no bucket access; without managed buckets no storage administration", () => {
    const json = synth({ state: undefined, managedBucketNames: [] });
    expect(json.resource!.google_storage_bucket_iam_member).toBeUndefined();
    expect(all(json, "google_project_iam_member").map((g) => g.role)).not.toContain("roles/storage.admin");
  });

  it.each([
    [{ repository: "acme" }, "repository"],
    [{ poolId: "gcp-github" }, "poolId"],
    [{ planServiceAccountId: "Plan!" }, "planServiceAccountId"],
    [{ deployServiceAccountId: "mlflow-dev-ci-plan" }, "deployServiceAccountId"],
    [{ deployProjectRoles: ["roles/editor"] }, "deployProjectRoles"],
    [{ deployProjectRoles: ["roles/viewer"] }, "deployProjectRoles"],
    [{ state: { ...BASE.state!, prefix: "/mlflow/dev" } }, "state.prefix"],
    [{ planSecretsRoleId: "with-hyphen" }, "planSecretsRoleId"],
  ])("refuses a bad prop (%#), naming it", (props, prop) => {
    expect(() => synth(props as Partial<GcpCiIdentitiesProps>)).toThrow(PropError);
    expect(() => synth(props as Partial<GcpCiIdentitiesProps>)).toThrow(new RegExp(prop.replace(".", "\\.")));
  });
});
