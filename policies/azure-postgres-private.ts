import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** MLF-AZ-PG-1: every PostgreSQL flexible server has private access only, and no firewall rule. */
export class AzurePostgresPrivate extends PolicyRule {
  readonly id = "MLF-AZ-PG-1";
  readonly reason =
    "The database is reached only from inside the VNet: public_network_access_enabled must be explicitly false, the server must sit in a delegated subnet (delegated_subnet_id) with a private DNS zone (private_dns_zone_id), and no azurerm_postgresql_flexible_server_firewall_rule may open it.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, server] of resources(json, "azurerm_postgresql_flexible_server")) {
      const resource = `azurerm_postgresql_flexible_server.${name}`;
      if (server.public_network_access_enabled !== false)
        findings.push({
          resource,
          message: `public_network_access_enabled must be false, got ${JSON.stringify(server.public_network_access_enabled ?? "unset")}`,
        });
      if (!server.delegated_subnet_id)
        findings.push({ resource, message: "delegated_subnet_id must name a subnet delegated to the server" });
      if (!server.private_dns_zone_id) findings.push({ resource, message: "private_dns_zone_id must name the server's private DNS zone" });
    }
    for (const [name] of resources(json, "azurerm_postgresql_flexible_server_firewall_rule"))
      findings.push({
        resource: `azurerm_postgresql_flexible_server_firewall_rule.${name}`,
        message: "a firewall rule opens a server to public addresses",
      });
    return findings;
  }
}
