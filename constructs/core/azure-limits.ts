/**
 * Azure's own rules for values a user writes (subscription and tenant ids, locations, resource names, tags), as
 * pure functions, like constructs/core/gcp-limits.ts for Google Cloud. Each returns `undefined` for a valid
 * value, or the end of the sentence "expected ..." that says what a valid value looks like. The configuration
 * schema (config/azure.ts) and the Azure constructs call the same functions, so each limit is written down once,
 * beside its source. No resources, no provider imports.
 */
import { AWS_REGION_PATTERN } from "./aws-limits";
import { GCP_REGION_PATTERN, GCP_ZONE_PATTERN } from "./gcp-limits";

/** Where each rule below comes from (Microsoft's documentation), cited in the rule's table. */
export const AZURE_RULE_SOURCES = {
  /** "Naming rules and restrictions for Azure resources": one table per resource provider namespace. */
  resourceNames: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules",
  storageAccount: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftstorage",
  keyVault: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault",
  postgresFlexibleServer:
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftdbforpostgresql",
  /** The REST API's own pattern for a flexible server's name (serverName: 3-63, ^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*). */
  postgresFlexibleServerApi: "https://learn.microsoft.com/en-us/rest/api/postgresql/servers/create?view=rest-postgresql-2024-08-01",
  containerRegistry:
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftcontainerregistry",
  resourceGroup: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftresources",
  aksCluster: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftcontainerservice",
  network: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftnetwork",
  tags: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/tag-resources#limits",
  /** Key Vault's firewall: virtual networks and public internet IPv4 address ranges. */
  keyVaultFirewall: "https://learn.microsoft.com/en-us/azure/key-vault/general/overview-vnet-service-endpoints",
  locations: "https://learn.microsoft.com/en-us/azure/reliability/regions-list",
  /** A vault's secret names (Microsoft.KeyVault, vaults / secrets) and their versions' identifiers. */
  keyVaultSecret: "https://learn.microsoft.com/en-us/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers",
} as const;

// ── subscription and tenant ids ───────────────────────────────────────────────────

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A subscription or tenant id: a GUID (`00000000-0000-0000-0000-000000000000`), as the portal and `az account show` print it. */
export function azureGuidProblem(value: string, what: "subscription" | "tenant"): string | undefined {
  if (UUID.test(value)) return undefined;
  return `an Azure ${what} id: a GUID such as "0b1f6471-1bf0-4dda-aec3-111122223333" (\`az account show --query ${what === "subscription" ? "id" : "tenantId"}\`), not a name`;
}

// ── locations ───────────────────────────────────────────────────────────────────

/**
 * The programmatic names of the Azure public cloud's regions (locations), from the "Programmatic name" column of
 * the regions list (locations); `az account list-locations --query "[].name"` prints the same names. Sovereign
 * clouds (Azure Government, Azure operated by 21Vianet) are not in it: the stack's provider targets the public
 * cloud. Unlike AWS's and Google's region names, Azure's have no shape a pattern could check, so a region Azure
 * opens later is added here.
 */
export const AZURE_LOCATIONS: readonly string[] = [
  "australiacentral",
  "australiacentral2",
  "australiaeast",
  "australiasoutheast",
  "austriaeast",
  "belgiumcentral",
  "brazilsouth",
  "brazilsoutheast",
  "canadacentral",
  "canadaeast",
  "centralindia",
  "centralus",
  "chilecentral",
  "eastasia",
  "eastus",
  "eastus2",
  "francecentral",
  "francesouth",
  "germanynorth",
  "germanywestcentral",
  "indonesiacentral",
  "israelcentral",
  "italynorth",
  "japaneast",
  "japanwest",
  "jioindiacentral",
  "jioindiawest",
  "koreacentral",
  "koreasouth",
  "malaysiawest",
  "mexicocentral",
  "newzealandnorth",
  "northcentralus",
  "northeurope",
  "norwayeast",
  "norwaywest",
  "polandcentral",
  "qatarcentral",
  "southafricanorth",
  "southafricawest",
  "southcentralus",
  "southeastasia",
  "southindia",
  "spaincentral",
  "swedencentral",
  "swedensouth",
  "switzerlandnorth",
  "switzerlandwest",
  "uaecentral",
  "uaenorth",
  "uksouth",
  "ukwest",
  "westcentralus",
  "westeurope",
  "westindia",
  "westus",
  "westus2",
  "westus3",
];

const LOCATIONS = new Set(AZURE_LOCATIONS);

/**
 * Problem with a location, or undefined. A display name ("West Europe") is named with its programmatic name, and an
 * AWS or Google Cloud region (the usual mistake in a configuration of several clouds) is named as such.
 */
export function azureLocationProblem(location: string): string | undefined {
  if (LOCATIONS.has(location)) return undefined;
  const rule = 'an Azure region\'s programmatic name such as "westeurope" or "eastus2" (`az account list-locations --query "[].name"`)';
  const squeezed = location.toLowerCase().replace(/[\s_-]/g, "");
  if (LOCATIONS.has(squeezed)) return `${rule}: write "${squeezed}", not "${location}"`;
  if (AWS_REGION_PATTERN.test(location)) return `${rule}, not an AWS region ("${location}" is AWS's naming: <area>-<direction>-<number>)`;
  if (GCP_REGION_PATTERN.test(location) || GCP_ZONE_PATTERN.test(location))
    return `${rule}, not a Google Cloud region or zone ("${location}" is Google's naming: <area>-<direction><number>)`;
  return `${rule}; if Azure opened this region after ${AZURE_RULE_SOURCES.locations} was last read, add it to AZURE_LOCATIONS in constructs/core/azure-limits.ts`;
}

// ── resource names ──────────────────────────────────────────────────────────────

/**
 * | rule | source (storageAccount) |
 * |---|---|
 * | 3-24 characters | Microsoft.Storage, storageAccounts |
 * | lower-case letters and numbers only | same |
 * | globally unique (it is a DNS name: `<name>.blob.core.windows.net`) | same (scope: global) |
 */
export function storageAccountNameProblem(name: string): string | undefined {
  const rule = "an Azure storage account name: 3-24 lower-case letters and digits, no hyphens (it is global: <name>.blob.core.windows.net)";
  if (name.length < 3 || name.length > 24) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-z0-9]+$/.test(name)) return rule;
  return undefined;
}

/**
 * | rule | source (storageAccount) |
 * |---|---|
 * | 3-63 characters | Microsoft.Storage, storageAccounts / blobServices / containers |
 * | lower-case letters, numbers and hyphens | same |
 * | starts with a lower-case letter or a number | same |
 * | no consecutive hyphens | same |
 * | (a hyphen is "immediately preceded and followed by a letter or number": no trailing hyphen either) | Blob service container naming |
 */
export function blobContainerNameProblem(name: string): string | undefined {
  const rule = "a blob container name: 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit";
  if (name.length < 3 || name.length > 63) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) return rule;
  return undefined;
}

/**
 * | rule | source (keyVault) |
 * |---|---|
 * | 3-24 characters | Microsoft.KeyVault, vaults |
 * | alphanumerics and hyphens | same |
 * | starts with a letter, ends with a letter or digit, no consecutive hyphens | same |
 * | globally unique (`<name>.vault.azure.net`; a deleted vault keeps its name for its soft-delete retention) | same (scope: global) |
 */
export function keyVaultNameProblem(name: string): string | undefined {
  const rule = "a Key Vault name: 3-24 letters, digits and single hyphens, starting with a letter and ending with a letter or digit";
  if (name.length < 3 || name.length > 24) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-zA-Z](-?[a-zA-Z0-9])*$/.test(name)) return rule;
  return undefined;
}

/**
 * | rule | source |
 * |---|---|
 * | 1-127 characters | Microsoft.KeyVault, vaults / secrets (keyVault) |
 * | alphanumerics and hyphens | same |
 */
export function keyVaultSecretNameProblem(name: string): string | undefined {
  const rule = "a Key Vault secret name: 1-127 letters, digits and hyphens";
  if (name.length < 1 || name.length > 127) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-zA-Z0-9-]+$/.test(name)) return rule;
  return undefined;
}

/** A secret version's identifier: 32 hexadecimal digits, as `az keyvault secret show` prints it in the secret's id (keyVaultSecret). */
export function keyVaultSecretVersionProblem(version: string): string | undefined {
  if (!/^[0-9a-f]{32}$/i.test(version)) return "a Key Vault secret version: 32 hexadecimal digits (the last part of the secret's id)";
  return undefined;
}

/**
 * A vault's Azure Resource Manager id, `/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>`
 * (`az keyvault show --query id`), its parts held to their own rules.
 */
export function keyVaultIdProblem(id: string): string | undefined {
  const rule =
    'a Key Vault\'s resource id "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>" (az keyvault show --query id)';
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)$/i.exec(id);
  if (!m) return rule;
  const problem = azureGuidProblem(m[1], "subscription") ?? resourceGroupNameProblem(m[2]) ?? keyVaultNameProblem(m[3]);
  return problem ? `${rule}: ${problem}` : undefined;
}

/**
 * | rule | source |
 * |---|---|
 * | 3-63 characters | Microsoft.DBforPostgreSQL, flexibleServers (postgresFlexibleServer); serverName (postgresFlexibleServerApi) |
 * | lower-case letters, numbers and hyphens | postgresFlexibleServer |
 * | not starting or ending with a hyphen | postgresFlexibleServer |
 * | no consecutive hyphens | the API's pattern `^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*` (postgresFlexibleServerApi) |
 * | globally unique (`<name>.postgres.database.azure.com`) | postgresFlexibleServer (scope: global) |
 */
export function postgresFlexibleServerNameProblem(name: string): string | undefined {
  const rule =
    "a PostgreSQL flexible server name: 3-63 lower-case letters, digits and single hyphens, not starting or ending with a hyphen (it is global: <name>.postgres.database.azure.com)";
  if (name.length < 3 || name.length > 63) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) return rule;
  return undefined;
}

/**
 * | rule | source (containerRegistry) |
 * |---|---|
 * | 5-50 characters | Microsoft.ContainerRegistry, registries |
 * | alphanumerics only | same |
 * | globally unique (`<name>.azurecr.io`) | same (scope: global) |
 */
export function containerRegistryNameProblem(name: string): string | undefined {
  const rule = "an Azure Container Registry name: 5-50 letters and digits, no hyphens (it is global: <name>.azurecr.io)";
  if (name.length < 5 || name.length > 50) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-zA-Z0-9]+$/.test(name)) return rule;
  return undefined;
}

/**
 * | rule | source (resourceGroup) |
 * |---|---|
 * | 1-90 characters | Microsoft.Resources, resourcegroups |
 * | underscores, hyphens, periods, parentheses, letters and digits (Unicode letters and digits included) | same |
 * | not ending with a period | same |
 */
export function resourceGroupNameProblem(name: string): string | undefined {
  const rule = "a resource group name: 1-90 letters, digits, '_', '-', '.', '(' and ')', not ending with '.'";
  if (name.length < 1 || name.length > 90) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[\p{L}\p{N}_\-.()]+$/u.test(name) || name.endsWith(".")) return rule;
  return undefined;
}

/**
 * | rule | source (aksCluster) |
 * |---|---|
 * | 1-63 characters | Microsoft.ContainerService, managedClusters |
 * | alphanumerics, underscores and hyphens, starting and ending with an alphanumeric | same |
 */
export function aksClusterNameProblem(name: string): string | undefined {
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$/.test(name))
    return "an AKS cluster name: 1-63 letters, digits, '_' and '-', starting and ending with a letter or digit";
  return undefined;
}

/**
 * | rule | source (network) |
 * |---|---|
 * | virtual network and subnet names: 2-64 and 1-80 characters | Microsoft.Network, virtualNetworks and virtualNetworks / subnets |
 * | alphanumerics, underscores, periods and hyphens; starting with an alphanumeric, ending with an alphanumeric or '_' | same |
 */
const NETWORK_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?$/;

/** The parts of a virtual network's or subnet's resource id, or undefined when it is not one. */
export function parseNetworkId(
  id: string,
): { subscriptionId: string; resourceGroupName: string; virtualNetworkName: string; subnetName?: string } | undefined {
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)(?:\/subnets\/([^/]+))?$/i.exec(
      id,
    );
  if (!m) return undefined;
  return { subscriptionId: m[1], resourceGroupName: m[2], virtualNetworkName: m[3], subnetName: m[4] };
}

/** Problem with a virtual network's resource id, or undefined. */
export function virtualNetworkIdProblem(id: string): string | undefined {
  const rule =
    'a virtual network\'s resource id: "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<name>" (`az network vnet show --query id`)';
  const p = parseNetworkId(id);
  if (!p || p.subnetName !== undefined) return rule;
  if (azureGuidProblem(p.subscriptionId, "subscription") || resourceGroupNameProblem(p.resourceGroupName)) return rule;
  if (p.virtualNetworkName.length < 2 || p.virtualNetworkName.length > 64 || !NETWORK_NAME.test(p.virtualNetworkName))
    return `${rule}; its name 2-64 letters, digits, '_', '.' and '-', starting with a letter or digit`;
  return undefined;
}

/** Problem with a subnet's resource id, or undefined. */
export function subnetIdProblem(id: string): string | undefined {
  const rule =
    'a subnet\'s resource id: "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<network>/subnets/<name>" (`az network vnet subnet show --query id`)';
  const p = parseNetworkId(id);
  if (!p || p.subnetName === undefined) return rule;
  if (azureGuidProblem(p.subscriptionId, "subscription") || resourceGroupNameProblem(p.resourceGroupName)) return rule;
  if (p.subnetName.length > 80 || !NETWORK_NAME.test(p.subnetName))
    return `${rule}; its name 1-80 letters, digits, '_', '.' and '-', starting with a letter or digit`;
  return undefined;
}

// ── Key Vault firewall ─────────────────────────────────────────────────────────

/**
 * | rule | source (keyVaultFirewall) |
 * |---|---|
 * | IP rules are IPv4 address ranges | "restrict access to a list of IPv4 address ranges" |
 * | of the public internet (a private address never reaches the vault's public endpoint) | "public internet IP address ranges" |
 */
export function keyVaultAllowedCidrProblem(cidr: string): string | undefined {
  const rule = 'a public IPv4 address or CIDR block such as "203.0.113.0/24" (Key Vault\'s firewall admits public internet IPv4 ranges)';
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr);
  if (!m) return rule;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o, i) => o > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) return `${rule}: "${cidr}" is not one`;
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  if (prefix < 8 || prefix > 32) return `${rule}: a prefix from /8 to /32`;
  const [a, b] = octets;
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a === 127 || (a === 169 && b === 254))
    return `${rule}: "${cidr}" is a private range: the firewall admits the public address terraform runs from, as the internet sees it`;
  return undefined;
}

// ── tags ─────────────────────────────────────────────────────────────────────────

/**
 * | rule | source (tags) |
 * |---|---|
 * | at most 50 tag name/value pairs per resource or resource group | Limits |
 * | tag names at most 512 characters; on a storage account at most 128 | same |
 * | tag values at most 256 characters | same |
 * | tag names without `<`, `>`, `%`, `&`, `\`, `?` or `/` | same |
 *
 * Every resource of an Azure stack carries the same tags, the storage account included, so a name is held to 128.
 */
export const AZURE_TAG_LIMITS = { perResource: 50, nameLength: 512, storageAccountNameLength: 128, valueLength: 256 } as const;

/** Problem with a tag name on every resource of a stack (storage accounts included), or undefined. */
export function azureTagNameProblem(name: string): string | undefined {
  const rule = `a tag name of 1-${AZURE_TAG_LIMITS.storageAccountNameLength} characters without <, >, %, &, \\, ? or / (Azure tags; a storage account's tag names are limited to ${AZURE_TAG_LIMITS.storageAccountNameLength})`;
  if (name.length < 1 || name.length > AZURE_TAG_LIMITS.storageAccountNameLength) return `${rule} (this one has ${name.length} characters)`;
  if (/[<>%&\\?/]/.test(name)) return rule;
  return undefined;
}

/** Problem with a tag value, or undefined. */
export function azureTagValueProblem(value: string): string | undefined {
  if (value.length > AZURE_TAG_LIMITS.valueLength)
    return `a tag value of at most ${AZURE_TAG_LIMITS.valueLength} characters (Azure tags; this one has ${value.length})`;
  return undefined;
}

// ── managed identities and their federated credentials (GitHub Actions' CI identities) ──────────

/** Where the identity and federated credential rules come from. */
export const AZURE_IDENTITY_RULE_SOURCES = {
  /** Microsoft.ManagedIdentity, userAssignedIdentities and userAssignedIdentities / federatedIdentityCredentials. */
  managedIdentity: "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftmanagedidentity",
  /**
   * At most 20 federated credentials per identity; issuer and subject matched exactly (no wildcard), at most 600
   * characters each (a GitHub subject of a valid repository and environment name is always shorter).
   */
  federatedCredentials: "https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-considerations",
} as const;

/**
 * | rule | source (managedIdentity) |
 * |---|---|
 * | 3-128 characters | Microsoft.ManagedIdentity, userAssignedIdentities |
 * | alphanumerics, hyphens and underscores, starting with an alphanumeric | same |
 */
export function managedIdentityNameProblem(name: string): string | undefined {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/.test(name))
    return "a managed identity name: 3-128 letters, digits, '-' and '_', starting with a letter or digit";
  return undefined;
}
