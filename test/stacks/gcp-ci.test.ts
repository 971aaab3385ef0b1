/**
 * A GCP environment with a ci section: its stack creates the CI identities (constructs/gcp-ci-identities) with
 * exactly the ids the workflows' matrix names (config/gcp-ci.ts), on its state and its artifact bucket, and the
 * whole stack still passes every policy; without ci it creates none.
 */
import { gcpCiIdentities } from "../../config/gcp-ci";
import { allRules, type TfJson } from "../../policies";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { administeredBy } from "../../policies/iam/administered";
import type { StackJson } from "../../policies/iam/instances";
import { summarize } from "../../scripts/ci/plan-summary";
import { Testing, TerraformStack } from "cdktf";
import { GcpCiIdentities } from "../../constructs/gcp-ci-identities";
import { gcpCiIdentitiesProps } from "../../constructs/gcp-ci-identities/from-config";

const config = gcpConfig({ ci: { repository: "acme/ml-platform", projectNumber: "123456789012", deployEnvironment: "gcp-dev-deploy" } });
const { json } = synthGcp(config);
const all = (j: TfJson, type: string) => Object.values(j.resource![type] ?? {}) as Record<string, any>[];

describe("GCP stack with ci", () => {
  it("creates the pool, GitHub's provider and the two accounts the matrix names", () => {
    const ids = gcpCiIdentities(config)!;
    const [pool] = all(json, "google_iam_workload_identity_pool");
    const [provider] = all(json, "google_iam_workload_identity_pool_provider");
    expect(ids.workloadIdentityProvider).toBe(
      `projects/123456789012/locations/global/workloadIdentityPools/${pool.workload_identity_pool_id}/providers/${provider.workload_identity_pool_provider_id}`,
    );
    expect(provider.attribute_condition).toMatch(/^assertion\.repository == "acme\/ml-platform" && \(assertion\.sub == /);
    expect(provider.attribute_condition).toContain('assertion.sub == "repo:acme/ml-platform:environment:gcp-dev-deploy"');
    const emails = all(json, "google_service_account").map((sa) => `${sa.account_id}@${sa.project}.iam.gserviceaccount.com`);
    expect(emails).toEqual(expect.arrayContaining([ids.planServiceAccount, ids.deployServiceAccount]));
    expect(all(json, "google_service_account_iam_member").map((m) => m.member)).toContainEqual(
      expect.stringMatching(/\/subject\/repo:acme\/ml-platform:environment:gcp-dev-deploy$/),
    );
  });

  it("grants the state (the gcs backend's bucket and prefix) and administration of the stack's own artifact bucket only", () => {
    const bucket = all(json, "google_storage_bucket")[0].name;
    const stateGrants = all(json, "google_storage_bucket_iam_member").filter((g) => g.bucket === "example-org-terraform-state-ml-dev");
    expect(stateGrants.map((g) => g.condition.expression)).toContainEqual(
      'resource.name.startsWith("projects/_/buckets/example-org-terraform-state-ml-dev/objects/mlflow/gcp-dev/")',
    );
    const storageAdmin = all(json, "google_project_iam_member").find((g) => g.role === "roles/storage.admin")!;
    expect(storageAdmin.condition.expression).toContain(`"projects/_/buckets/${bucket}"`);
  });

  it.each(allRules().map((r) => [r.id, r]))("%s passes", (_id, rule) => {
    expect(rule.check(json)).toEqual([]);
  });

  it("without ci, the stack has no CI identity", () => {
    expect(synthGcp().json.resource!.google_iam_workload_identity_pool).toBeUndefined();
  });
});

describe("GCP CI identities are the administrator's", () => {
  it("every resource of the CI identities, and nothing else, is what only an administrator applies (the deploy's plan stops on a change to them)", () => {
    const admin = administeredBy(json as StackJson);
    // What the construct creates on its own, by type: the stack's administered resources are exactly those.
    const alone = new TerraformStack(Testing.app(), "alone");
    new GcpCiIdentities(alone, "x", gcpCiIdentitiesProps(config)!);
    const expected = Object.entries(JSON.parse(Testing.synth(alone)).resource as Record<string, object>).flatMap(([type, byName]) =>
      Object.keys(byName).map(() => type),
    );
    const ciResources = [...admin];
    expect(ciResources.length).toBeGreaterThan(15);
    expect(ciResources.map((a) => a.split(".")[0]).sort()).toEqual(expected.sort());
    const change = { resource_changes: [{ address: ciResources[0], type: ciResources[0].split(".")[0], change: { actions: ["update"] } }] };
    expect(summarize("gcp-dev", 2, change as never, "", admin).administered).toEqual([{ address: ciResources[0], kind: "update" }]);
  });
});
