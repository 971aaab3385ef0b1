/**
 * The GCP policy rules (policies/gcs-*.ts, cloud-sql-*.ts, artifact-registry-cmek.ts, gcp-no-public-members.ts): the
 * GCP fixture's stack passes each, a planted violation fails it, and a stack with a violation does not synthesize.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { StorageBucket } from "@cdktf/provider-google/lib/storage-bucket";
import {
  ArtifactRegistryCmek,
  CloudSqlCmek,
  CloudSqlPrivate,
  CloudSqlTlsOnly,
  GcpNoPublicMembers,
  GcpNoPrimitiveRoles,
  GcsBucketCmek,
  GcsBucketPrivate,
  applyPolicies,
  allRules,
  type TfJson,
} from "../../policies";
import { synthGcp } from "../helpers/gcp";

const stackJson = synthGcp().json as TfJson;
/** The stack's JSON with one resource's attributes changed (`undefined` removes one). */
function planted(type: string, patch: (attrs: Record<string, any>) => void): TfJson {
  const copy = structuredClone(stackJson);
  for (const attrs of Object.values(copy.resource![type])) patch(attrs as Record<string, any>);
  return copy;
}

describe("GCP policy rules", () => {
  it("are in the pack every stack applies", () => {
    const ids = allRules().map((r) => r.id);
    expect(ids).toEqual(
      expect.arrayContaining(["MLF-GCS-1", "MLF-GCS-2", "MLF-SQL-1", "MLF-SQL-2", "MLF-SQL-3", "MLF-AR-1", "MLF-GCP-1", "MLF-GCP-2"]),
    );
  });

  it.each(allRules().map((r) => [r.id, r]))("%s passes the GCP fixture's stack", (_id, rule) => {
    expect(rule.check(stackJson)).toEqual([]);
  });

  it("MLF-GCS-1 flags a bucket without CMEK", () => {
    const findings = new GcsBucketCmek().check(planted("google_storage_bucket", (b) => delete b.encryption));
    expect(findings).toEqual([{ resource: expect.stringMatching(/^google_storage_bucket\./), message: expect.stringMatching(/CMEK/) }]);
  });

  it("MLF-GCS-2 flags a bucket without public access prevention or with object ACLs", () => {
    const rule = new GcsBucketPrivate();
    expect(rule.check(planted("google_storage_bucket", (b) => (b.public_access_prevention = "inherited")))[0].message).toMatch(
      /public_access_prevention must be "enforced", got "inherited"/,
    );
    expect(rule.check(planted("google_storage_bucket", (b) => delete b.uniform_bucket_level_access))[0].message).toMatch(
      /uniform_bucket_level_access/,
    );
  });

  it("MLF-SQL-1 flags an instance without CMEK", () => {
    expect(new CloudSqlCmek().check(planted("google_sql_database_instance", (d) => delete d.encryption_key_name))).toHaveLength(1);
  });

  it("MLF-SQL-2 flags a public IP, a missing private network and authorized networks", () => {
    const rule = new CloudSqlPrivate();
    expect(
      rule.check(planted("google_sql_database_instance", (d) => (d.settings.ip_configuration.ipv4_enabled = true)))[0].message,
    ).toMatch(/ipv4_enabled must be false, got true/);
    expect(rule.check(planted("google_sql_database_instance", (d) => delete d.settings.ip_configuration.ipv4_enabled))).toHaveLength(1);
    expect(
      rule.check(planted("google_sql_database_instance", (d) => delete d.settings.ip_configuration.private_network))[0].message,
    ).toMatch(/private_network/);
    expect(
      rule.check(
        planted("google_sql_database_instance", (d) => (d.settings.ip_configuration.authorized_networks = [{ value: "0.0.0.0/0" }])),
      )[0].message,
    ).toMatch(/authorized_networks must be empty/);
  });

  it("MLF-SQL-3 flags an instance that allows unencrypted connections, or says nothing", () => {
    const rule = new CloudSqlTlsOnly();
    expect(
      rule.check(
        planted("google_sql_database_instance", (d) => (d.settings.ip_configuration.ssl_mode = "ALLOW_UNENCRYPTED_AND_ENCRYPTED")),
      )[0].message,
    ).toMatch(/ssl_mode must refuse unencrypted connections, got "ALLOW_UNENCRYPTED_AND_ENCRYPTED"/);
    expect(rule.check(planted("google_sql_database_instance", (d) => delete d.settings.ip_configuration.ssl_mode))).toHaveLength(1);
    expect(
      rule.check(
        planted("google_sql_database_instance", (d) => (d.settings.ip_configuration.ssl_mode = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")),
      ),
    ).toEqual([]);
  });

  it("MLF-AR-1 flags a repository without CMEK", () => {
    expect(new ArtifactRegistryCmek().check(planted("google_artifact_registry_repository", (r) => delete r.kms_key_name))).toHaveLength(1);
  });

  it("MLF-GCP-1 flags a grant to allUsers or allAuthenticatedUsers, in a member, a binding or a policy", () => {
    const rule = new GcpNoPublicMembers();
    // Every bucket grant of the stack: the tracking server's two, the retention job's two, the served model's server's
    // one (create only), its drift job's two and the training pipeline's two.
    const grants = Object.keys(stackJson.resource!.google_storage_bucket_iam_member).length;
    expect(grants).toBe(9);
    expect(rule.check(planted("google_storage_bucket_iam_member", (g) => (g.member = "allUsers")))).toHaveLength(grants);
    expect(
      rule.check({
        resource: { google_artifact_registry_repository_iam_binding: { b: { members: ["user:a@example.com", "allAuthenticatedUsers"] } } },
      }),
    ).toEqual([{ resource: "google_artifact_registry_repository_iam_binding.b", message: "grants to allAuthenticatedUsers" }]);
    expect(
      rule.check({
        resource: { google_storage_bucket_iam_policy: { p: { policy_data: JSON.stringify({ bindings: [{ members: ["allUsers"] }] }) } } },
      }),
    ).toHaveLength(1);
  });

  it("MLF-GCP-2 flags a basic role (roles/owner, roles/editor, roles/viewer), in a member, a binding or a policy; a predefined role passes", () => {
    const rule = new GcpNoPrimitiveRoles();
    // Every bucket grant of the stack: the tracking server's two and the retention job's two.
    expect(rule.check(planted("google_storage_bucket_iam_member", (g) => (g.role = "roles/editor")))).toHaveLength(
      Object.keys(stackJson.resource!.google_storage_bucket_iam_member).length,
    );
    expect(rule.check({ resource: { google_project_iam_member: { m: { role: "roles/owner", member: "user:a@example.com" } } } })).toEqual([
      { resource: "google_project_iam_member.m", message: "grants roles/owner" },
    ]);
    expect(
      rule.check({
        resource: {
          google_project_iam_policy: { p: { policy_data: JSON.stringify({ bindings: [{ role: "roles/editor", members: ["x"] }] }) } },
        },
      }),
    ).toHaveLength(1);
    expect(rule.check({ resource: { google_project_iam_binding: { b: { role: "roles/viewer", members: ["x"] } } } })).toHaveLength(1);
    expect(rule.check({ resource: { google_project_iam_binding: { b: { role: "roles/cloudsql.viewer", members: ["x"] } } } })).toEqual([]);
  });

  it("a stack with a violation does not synthesize", () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "policy-")), skipValidation: true });
    const stack = new TerraformStack(app, "bad");
    new StorageBucket(stack, "open", { name: "open-bucket", location: "europe-west1" });
    applyPolicies(stack);
    expect(() => app.synth()).toThrow(/\[bad\/open\] \[MLF-GCS-1\][\s\S]*\[bad\/open\] \[MLF-GCS-2\] public_access_prevention/);
  });
});
