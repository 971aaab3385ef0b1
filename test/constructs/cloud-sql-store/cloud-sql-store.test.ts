import { Testing, TerraformStack } from "cdktf";
import { CloudSqlStore, type CloudSqlStoreProps } from "../../../constructs/cloud-sql-store";
import { PropError } from "../../../constructs/core/prop-error";
import type { TfJson } from "../../helpers/synth";

const BASE: CloudSqlStoreProps = {
  instanceId: "mlflow-dev",
  projectId: "example-ml-dev",
  projectNumber: "123456789012",
  region: "europe-west1",
  zones: ["europe-west1-b", "europe-west1-c"],
  networkId: "projects/example-ml-dev/global/networks/ml-vpc",
  keyRingId: "projects/example-ml-dev/locations/europe-west1/keyRings/mlflow-dev",
  namespace: "mlflow",
  tier: "db-custom-1-3840",
};

function synth(props: Partial<CloudSqlStoreProps> = {}): { json: TfJson; store: CloudSqlStore } {
  const stack = new TerraformStack(Testing.app(), "test");
  const store = new CloudSqlStore(stack, "db", { ...BASE, ...props });
  return { json: JSON.parse(Testing.synth(stack)) as TfJson, store };
}
const only = (json: TfJson, type: string) => Object.values(json.resource?.[type] ?? {})[0] as Record<string, any>;

describe("CloudSqlStore", () => {
  it("has a private IP only, in the VPC, and refuses unencrypted connections", () => {
    expect(only(synth().json, "google_sql_database_instance").settings.ip_configuration).toEqual({
      ipv4_enabled: false,
      private_network: BASE.networkId,
      ssl_mode: "ENCRYPTED_ONLY",
      enable_private_path_for_google_cloud_services: false,
    });
  });

  it("is encrypted with its own key, which Cloud SQL's service agent may use", () => {
    const { json } = synth();
    const [keyName] = Object.keys(json.resource!.google_kms_crypto_key);
    expect(only(json, "google_sql_database_instance").encryption_key_name).toBe(`\${google_kms_crypto_key.${keyName}.id}`);
    expect(only(json, "google_kms_crypto_key_iam_member").member).toBe(
      "serviceAccount:service-123456789012@gcp-sa-cloud-sql.iam.gserviceaccount.com",
    );
  });

  it("logs slow statements, connections, disconnections and checkpoints", () => {
    expect(only(synth().json, "google_sql_database_instance").settings.database_flags).toEqual([
      { name: "log_min_duration_statement", value: "1000" },
      { name: "log_connections", value: "on" },
      { name: "log_disconnections", value: "on" },
      { name: "log_checkpoints", value: "on" },
    ]);
  });

  it("backs up daily with point-in-time recovery", () => {
    expect(
      only(synth({ backupRetentionDays: 14, pointInTimeRecoveryDays: 5 }).json, "google_sql_database_instance").settings
        .backup_configuration,
    ).toEqual({
      enabled: true,
      start_time: "02:00",
      point_in_time_recovery_enabled: true,
      transaction_log_retention_days: 5,
      backup_retention_settings: { retained_backups: 14, retention_unit: "COUNT" },
    });
  });

  it("is protected from deletion unless told otherwise (Cloud SQL's flag, the API's and Terraform's)", () => {
    const on = only(synth().json, "google_sql_database_instance");
    expect(on.deletion_protection).toBe(true);
    expect(on.settings.deletion_protection_enabled).toBe(true);
    expect(on.lifecycle).toEqual({ prevent_destroy: true });
    const off = only(synth({ deletionProtection: false }).json, "google_sql_database_instance");
    expect([off.deletion_protection, off.settings.deletion_protection_enabled, off.lifecycle]).toEqual([false, false, undefined]);
  });

  it("high availability: a regional instance with its standby in the second zone", () => {
    const s = only(synth({ highAvailability: true }).json, "google_sql_database_instance").settings;
    expect(s.availability_type).toBe("REGIONAL");
    expect(s.location_preference).toEqual({ zone: "europe-west1-b", secondary_zone: "europe-west1-c" });
  });

  it("puts generated credentials into the Kubernetes Secret the tracking server reads, and offers the private IP", () => {
    const { json, store } = synth();
    const secret = only(json, "kubernetes_secret_v1");
    expect(secret.metadata).toMatchObject({ name: "mlflow-db", namespace: "mlflow" });
    expect(secret.data.password).toMatch(/^\$\{random_password\.\w+\.result\}$/);
    expect(secret.data.username).toMatch(/^\$\{google_sql_user\.\w+\.name\}$/);
    expect(store.contract).toMatchObject({ port: 5432, database: "mlflow", credentials: { secretName: "mlflow-db" } });
    expect(JSON.parse(Testing.synth(new TerraformStack(Testing.app(), "x")))).toBeDefined();
  });

  it.each([
    [{ instanceId: "1-mlflow" }, "instanceId"],
    [{ sslMode: "ALLOW_UNENCRYPTED_AND_ENCRYPTED" }, "sslMode"],
    [{ highAvailability: true, zones: ["europe-west1-b"] }, "zones"],
  ])("refuses %j naming the prop", (props, prop) => {
    expect(() => synth(props as Partial<CloudSqlStoreProps>)).toThrow(PropError);
    try {
      synth(props as Partial<CloudSqlStoreProps>);
    } catch (err) {
      expect((err as PropError).prop).toBe(prop);
    }
  });
});
