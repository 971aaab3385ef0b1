import { CLOUD_SQL_ENCRYPTED_SSL_MODES } from "../constructs/core/gcp-limits";
import { PolicyRule, block, resources, type Finding, type TfJson } from "./rule";

/** MLF-SQL-3: every Cloud SQL instance refuses unencrypted connections. */
export class CloudSqlTlsOnly extends PolicyRule {
  readonly id = "MLF-SQL-3";
  readonly reason = `Credentials and tracking data never cross the network in clear: settings.ip_configuration.ssl_mode must be one of ${CLOUD_SQL_ENCRYPTED_SSL_MODES.join(", ")} (Cloud SQL's default allows unencrypted connections).`;

  check(json: TfJson): Finding[] {
    return resources(json, "google_sql_database_instance").flatMap(([name, db]) => {
      const mode = block(block(db.settings)?.ip_configuration)?.ssl_mode;
      return (CLOUD_SQL_ENCRYPTED_SSL_MODES as readonly string[]).includes(mode)
        ? []
        : [
            {
              resource: `google_sql_database_instance.${name}`,
              message: `ssl_mode must refuse unencrypted connections, got ${JSON.stringify(mode ?? "unset")}`,
            },
          ];
    });
  }
}
