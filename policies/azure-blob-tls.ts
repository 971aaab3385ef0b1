import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** The minimum TLS versions an account may require that are still considered safe. */
const SAFE_TLS = ["TLS1_2", "TLS1_3"];

/** MLF-AZ-BLOB-3: every Azure storage account takes HTTPS only, with TLS 1.2 or later. */
export class AzureBlobTls extends PolicyRule {
  readonly id = "MLF-AZ-BLOB-3";
  readonly reason =
    'A storage account must refuse plain HTTP (https_traffic_only_enabled not false) and TLS before 1.2 (min_tls_version "TLS1_2" written out, so a change of the provider\'s default cannot lower it): artifacts and the tokens that read them never cross the network in clear.';

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, account] of resources(json, "azurerm_storage_account")) {
      const resource = `azurerm_storage_account.${name}`;
      if (account.https_traffic_only_enabled === false)
        findings.push({ resource, message: "https_traffic_only_enabled must not be false" });
      if (!SAFE_TLS.includes(account.min_tls_version))
        findings.push({
          resource,
          message: `min_tls_version must be "TLS1_2" or later, got ${JSON.stringify(account.min_tls_version ?? "unset")}`,
        });
    }
    return findings;
  }
}
