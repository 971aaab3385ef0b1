import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/**
 * Built-in roles that control a whole scope or who else may act on it, by name and by id (a role assignment names
 * one or the other): https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles.
 */
const BROAD_ROLES: Record<string, string> = {
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
  "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
};

/** A management group, a subscription or a resource group (or the tenant's root): a literal id, or a reference to one. */
function broadScope(scope: unknown): string | undefined {
  if (typeof scope !== "string") return undefined;
  if (scope === "/" || /^\/providers\/Microsoft\.Management\/managementGroups\/[^/]+\/?$/i.test(scope)) return "a management group";
  if (/^\/subscriptions\/[^/]+\/?$/i.test(scope)) return "a subscription";
  if (/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/?$/i.test(scope)) return "a resource group";
  const ref = /^\$\{(?:data\.)?azurerm_(subscription|resource_group|management_group)\.[\w-]+\.id\}$/.exec(scope);
  if (ref) return `a ${ref[1].replace("_", " ")}`;
  return undefined;
}

/** MLF-AZ-1: no role assignment at management-group, subscription or resource-group scope grants Owner, Contributor or a role-granting role. */
export class AzureNoBroadRoles extends PolicyRule {
  readonly id = "MLF-AZ-1";
  readonly reason =
    "Every Azure grant the stack makes is scoped to the resource it is for (a container, a key, a vault): a role assignment on a management group, a subscription or a resource group with Owner, Contributor, User Access Administrator or Role Based Access Control Administrator would give a workload everything in it, or the power to grant itself more.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, grant] of resources(json, "azurerm_role_assignment")) {
      const where = broadScope(grant.scope);
      if (!where) continue;
      const id = typeof grant.role_definition_id === "string" ? grant.role_definition_id.toLowerCase() : "";
      const role = Object.entries(BROAD_ROLES).find(([n, guid]) => grant.role_definition_name === n || id.endsWith(guid))?.[0];
      if (role) findings.push({ resource: `azurerm_role_assignment.${name}`, message: `grants ${role} on ${where}` });
    }
    return findings;
  }
}
