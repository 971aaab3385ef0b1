import { PolicyRule, resources, type Attrs, type Finding, type TfJson } from "./rule";

/** The `ssl_min_protocol_version` values that are still considered safe. */
const SAFE_TLS = ["TLSv1.2", "TLSv1.3"];

/** MLF-AZ-PG-2: every PostgreSQL flexible server requires TLS (require_secure_transport on, TLS 1.2 or later). */
export class AzurePostgresTls extends PolicyRule {
  readonly id = "MLF-AZ-PG-2";
  readonly reason =
    'Every server must refuse unencrypted connections: an azurerm_postgresql_flexible_server_configuration sets require_secure_transport "on" (written out, so a change of Azure\'s default cannot lower it), and ssl_min_protocol_version, where set, is TLSv1.2 or later.';

  check(json: TfJson): Finding[] {
    const settings = resources(json, "azurerm_postgresql_flexible_server_configuration");
    const of = (server: string, setting: string): Attrs | undefined =>
      settings.find(
        ([, c]) => c.name === setting && String(c.server_id ?? "").includes(`azurerm_postgresql_flexible_server.${server}.`),
      )?.[1];
    const findings: Finding[] = [];
    for (const [name] of resources(json, "azurerm_postgresql_flexible_server")) {
      const resource = `azurerm_postgresql_flexible_server.${name}`;
      const secure = of(name, "require_secure_transport");
      if (String(secure?.value ?? "").toLowerCase() !== "on")
        findings.push({ resource, message: `require_secure_transport must be "on", got ${JSON.stringify(secure?.value ?? "unset")}` });
      const tls = of(name, "ssl_min_protocol_version");
      if (tls && !SAFE_TLS.includes(tls.value))
        findings.push({ resource, message: `ssl_min_protocol_version must be TLSv1.2 or later, got ${JSON.stringify(tls.value)}` });
    }
    return findings;
  }
}
