import { PolicyRule, block, resources, type Finding, type TfJson } from "./rule";

/** MLF-SQL-2: no Cloud SQL instance has a public IP; each has a private IP in a VPC network. */
export class CloudSqlPrivate extends PolicyRule {
  readonly id = "MLF-SQL-2";
  readonly reason =
    "The database is reached only from inside the VPC: ip_configuration.ipv4_enabled must be explicitly false (no public address, so no authorized network can open it), and private_network must name the VPC.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, db] of resources(json, "google_sql_database_instance")) {
      const resource = `google_sql_database_instance.${name}`;
      const ip = block(block(db.settings)?.ip_configuration);
      if (ip?.ipv4_enabled !== false)
        findings.push({
          resource,
          message: `settings.ip_configuration.ipv4_enabled must be false, got ${JSON.stringify(ip?.ipv4_enabled ?? "unset")}`,
        });
      if (!ip?.private_network) findings.push({ resource, message: "settings.ip_configuration.private_network must name the VPC network" });
      if (Array.isArray(ip?.authorized_networks) && ip.authorized_networks.length > 0)
        findings.push({ resource, message: "settings.ip_configuration.authorized_networks must be empty" });
    }
    return findings;
  }
}
