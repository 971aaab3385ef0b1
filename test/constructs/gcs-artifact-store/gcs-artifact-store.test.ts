import { Testing, TerraformStack } from "cdktf";
import { GcsArtifactStore, type GcsArtifactStoreProps } from "../../../constructs/gcs-artifact-store";
import { PropError } from "../../../constructs/core/prop-error";
import type { TfJson } from "../../helpers/synth";

const BASE: GcsArtifactStoreProps = {
  bucketName: "mlflow-dev-artifacts-example",
  projectId: "example-ml-dev",
  location: "europe-west1",
  keyRingId: "projects/example-ml-dev/locations/europe-west1/keyRings/mlflow-dev",
};

function synth(props: Partial<GcsArtifactStoreProps> = {}): { json: TfJson; store: GcsArtifactStore } {
  const stack = new TerraformStack(Testing.app(), "test");
  const store = new GcsArtifactStore(stack, "store", { ...BASE, ...props });
  return { json: JSON.parse(Testing.synth(stack)) as TfJson, store };
}
const only = (json: TfJson, type: string) => Object.values(json.resource?.[type] ?? {})[0] as Record<string, any>;

describe("GcsArtifactStore", () => {
  it("encrypts with its own Cloud KMS key, which Cloud Storage's service agent may use, granted before the bucket exists", () => {
    const { json } = synth();
    const bucket = only(json, "google_storage_bucket");
    const [keyName] = Object.keys(json.resource!.google_kms_crypto_key);
    const [grantName] = Object.keys(json.resource!.google_kms_crypto_key_iam_member);
    expect(bucket.encryption).toEqual({ default_kms_key_name: `\${google_kms_crypto_key.${keyName}.id}` });
    expect(only(json, "google_kms_crypto_key_iam_member")).toMatchObject({
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: expect.stringMatching(/^serviceAccount:\$\{data\.google_storage_project_service_account\.\w+\.email_address\}$/),
    });
    expect(bucket.depends_on).toContain(`google_kms_crypto_key_iam_member.${grantName}`);
    expect(only(json, "google_kms_crypto_key")).toMatchObject({ purpose: "ENCRYPT_DECRYPT", rotation_period: "7776000s" });
  });

  it("is private and versioned: uniform bucket-level access, public access prevention enforced", () => {
    expect(only(synth().json, "google_storage_bucket")).toMatchObject({
      uniform_bucket_level_access: true,
      public_access_prevention: "enforced",
      versioning: { enabled: true },
      location: "europe-west1",
    });
  });

  it("has the S3 store's lifecycle, in Cloud Storage's terms", () => {
    const rules = only(
      synth({ lifecycle: { transitionToGlacierIrDays: 90, expireDays: 400 } }).json,
      "google_storage_bucket",
    ).lifecycle_rule;
    expect(rules).toEqual([
      {
        action: { type: "SetStorageClass", storage_class: "NEARLINE" },
        condition: { age: 30, matches_prefix: ["mlartifacts/"], matches_storage_class: ["STANDARD"], with_state: "LIVE" },
      },
      {
        action: { type: "SetStorageClass", storage_class: "COLDLINE" },
        condition: { age: 90, matches_prefix: ["mlartifacts/"], matches_storage_class: ["STANDARD", "NEARLINE"], with_state: "LIVE" },
      },
      { action: { type: "Delete" }, condition: { age: 400, matches_prefix: ["mlartifacts/"], with_state: "LIVE" } },
      // 3 kept noncurrent versions: Cloud Storage counts the live version among the newer ones.
      { action: { type: "Delete" }, condition: { days_since_noncurrent_time: 30, num_newer_versions: 4, with_state: "ARCHIVED" } },
      { action: { type: "Delete" }, condition: { days_since_noncurrent_time: 365, with_state: "ARCHIVED" } },
      { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: 3 } },
    ]);
  });

  it("keeping no noncurrent version deletes them all after noncurrentExpireDays, with no cap rule", () => {
    const rules = only(synth({ lifecycle: { noncurrentVersionsToKeep: 0 } }).json, "google_storage_bucket").lifecycle_rule;
    expect(rules.filter((r: any) => r.condition.with_state === "ARCHIVED")).toEqual([
      { action: { type: "Delete" }, condition: { days_since_noncurrent_time: 30, with_state: "ARCHIVED" } },
    ]);
  });

  it("production: Terraform may not destroy the bucket or its key", () => {
    const { json } = synth({ preventDestroy: true });
    expect(only(json, "google_storage_bucket").lifecycle).toEqual({ prevent_destroy: true });
    expect(only(json, "google_kms_crypto_key").lifecycle).toEqual({ prevent_destroy: true });
  });

  it("offers a gs:// destination and the key through its contract", () => {
    const { store } = synth({ prefix: "runs" });
    expect(store.contract.destinationUri).toBe("gs://mlflow-dev-artifacts-example/runs");
    expect(store.contract.bucketName).toBe("mlflow-dev-artifacts-example");
  });

  it.each([
    [{ bucketName: "goog-artifacts" }, "bucketName", /not starting with "goog"/],
    [{ prefix: "/runs" }, "prefix", /prefix/],
    [{ forceDestroy: true, preventDestroy: true }, "forceDestroy", /false while preventDestroy/],
    [{ lifecycle: { transitionToInfrequentAccessDays: 10 } }, "lifecycle.transitionToInfrequentAccessDays", /30 to 36500/],
    [{ lifecycle: { transitionToGlacierIrDays: 40 } }, "lifecycle.transitionToGlacierIrDays", /60 to 36500/],
  ])("refuses %j naming the prop", (props, prop, message) => {
    try {
      synth(props as Partial<GcsArtifactStoreProps>);
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(PropError);
      expect((err as PropError).prop).toBe(prop);
      expect((err as Error).message).toMatch(message);
    }
  });
});

describe("GcsArtifactStore archive (model retention's Custom-Time)", () => {
  const archiveRules = (props: Partial<GcsArtifactStoreProps>) =>
    (only(synth(props).json, "google_storage_bucket").lifecycle_rule as { condition: Record<string, unknown> }[]).filter(
      (r) => "days_since_custom_time" in r.condition,
    );

  it("has no Custom-Time rule without archive", () => {
    expect(archiveRules({})).toEqual([]);
  });

  it("moves live objects under the prefix to the class, from any warmer one, days after their Custom-Time", () => {
    expect(archiveRules({ archive: { transitionDays: 30 } })).toEqual([
      {
        action: { type: "SetStorageClass", storage_class: "COLDLINE" },
        condition: {
          days_since_custom_time: 30,
          matches_prefix: ["mlartifacts/"],
          matches_storage_class: ["STANDARD", "NEARLINE"],
          with_state: "LIVE",
        },
      },
    ]);
  });

  it.each([
    [{ transitionDays: 0 }, "archive.transitionDays", /1 to 36500/],
    [{ transitionDays: 30, storageClass: "STANDARD" }, "archive.storageClass", /NEARLINE, COLDLINE, ARCHIVE/],
    [{ transitionDays: 30, expireDays: 30 }, "archive.expireDays", /later than archive.transitionDays \(> 30\)/],
  ])("refuses archive %j naming the prop", (archive, prop, message) => {
    try {
      synth({ archive: archive as never });
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(PropError);
      expect((err as PropError).prop).toBe(prop);
      expect((err as Error).message).toMatch(message);
    }
  });
});

describe("GcsArtifactStore expiringPrefixes (the served models' inference logs)", () => {
  const iris = { id: "inference-log-iris", prefix: "inference-log/model=iris", days: 90 };
  it("deletes the live objects under each prefix after its days, and touches nothing else with that rule", () => {
    const rules = only(synth({ expiringPrefixes: [iris] }).json, "google_storage_bucket").lifecycle_rule as Record<string, any>[];
    expect(rules.filter((r) => r.condition.matches_prefix?.includes("inference-log/model=iris/"))).toEqual([
      { action: { type: "Delete" }, condition: { age: 90, matches_prefix: ["inference-log/model=iris/"], with_state: "LIVE" } },
    ]);
  });
  it.each([
    [{ ...iris, prefix: "mlartifacts/logs" }, "expiringPrefixes"],
    [{ ...iris, days: 0 }, "expiringPrefixes[inference-log-iris].days"],
  ])("refuses %j naming the prop (never MLflow's prefix)", (e, prop) => {
    try {
      synth({ expiringPrefixes: [e] });
      throw new Error("accepted");
    } catch (err) {
      expect((err as PropError).prop).toBe(prop);
    }
  });
});
