import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** MLF-RDS-1: every database's storage is encrypted with a customer-managed KMS key. */
export class DatabaseEncrypted extends PolicyRule {
  readonly id = "MLF-RDS-1";
  readonly reason =
    "The MLflow database holds every run, metric and registry entry: its storage (and its replicas') must be encrypted with a customer-managed KMS key (storage_encrypted and kms_key_id).";

  check(json: TfJson): Finding[] {
    return ["aws_db_instance", "aws_rds_cluster"].flatMap((type) =>
      resources(json, type).flatMap(([name, db]) => {
        const problems: string[] = [];
        if (db.storage_encrypted !== true) problems.push("storage_encrypted must be true");
        if (!db.kms_key_id) problems.push("kms_key_id must name a customer-managed KMS key");
        return problems.length ? [{ resource: `${type}.${name}`, message: problems.join("; ") }] : [];
      }),
    );
  }
}
