import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** MLF-SQL-1: every Cloud SQL instance is encrypted with a customer-managed Cloud KMS key. */
export class CloudSqlCmek extends PolicyRule {
  readonly id = "MLF-SQL-1";
  readonly reason =
    "The tracking database holds every run's parameters and metrics: it must be encrypted with a customer-managed Cloud KMS key (encryption_key_name), like the RDS instance with its KMS key.";

  check(json: TfJson): Finding[] {
    return resources(json, "google_sql_database_instance").flatMap(([name, db]) =>
      db.encryption_key_name
        ? []
        : [{ resource: `google_sql_database_instance.${name}`, message: "instance has no encryption_key_name (CMEK)" }],
    );
  }
}
