/**
 * An Azure environment with a ci section: its stack creates the CI identities (constructs/azure-ci-identities)
 * with exactly the names config/azure-ci.ts derives, on its state, its cluster and its network; the keys are
 * administered by the deploy identity (not by whoever plans); the token for AKS stays out of saved plans; the whole
 * stack still passes every policy; the deploy's plan stops on a change to the identities; without ci, nothing of it.
 */
import { Testing, TerraformStack } from "cdktf";
import { azureCiNames } from "../../config/azure-ci";
import { allRules, type TfJson } from "../../policies";
import { administeredBy } from "../../policies/iam/administered";
import type { StackJson } from "../../policies/iam/instances";
import { summarize } from "../../scripts/ci/plan-summary";
import { AzureCiIdentities } from "../../constructs/azure-ci-identities";
import { azureCiIdentitiesProps } from "../../constructs/azure-ci-identities/from-config";
import { AKS_TOKEN_VARIABLE } from "../../stacks/azure-stack";
import { azureConfig, synthAzure } from "../helpers/azure";

const config = azureConfig({ ci: { repository: "acme/ml-platform", deployEnvironment: "azure-dev-deploy" } });
const { json } = synthAzure(config);
const without = synthAzure().json;
const all = (j: TfJson, type: string) => Object.entries(j.resource![type] ?? {}) as [string, Record<string, any>][];

describe("Azure stack with ci", () => {
  it("creates the two identities the configuration names, trusting the repository's subjects", () => {
    const names = azureCiNames(config);
    const identities = all(json, "azurerm_user_assigned_identity").filter(([n]) => n.startsWith("ci_identities_"));
    expect(identities.map(([, i]) => i.name).sort()).toEqual([names.deployIdentityName, names.planIdentityName]);
    expect(all(json, "azurerm_federated_identity_credential").map(([, c]) => c.subject)).toContain(
      "repo:acme/ml-platform:environment:azure-dev-deploy",
    );
  });

  it("grants the state blob of this environment, on the backend's container, and the cluster the stack reads", () => {
    const grants = all(json, "azurerm_role_assignment").map(([, g]) => g);
    const container =
      "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/ml-tfstate/providers/Microsoft.Storage/storageAccounts/exampleorgtfstate/blobServices/default/containers/tfstate";
    expect(grants.filter((g) => g.scope === container).map((g) => g.condition)).toContainEqual(
      expect.stringContaining("StringEquals 'mlflow/azure-dev.tfstate'"),
    );
    expect(grants.map((g) => g.scope)).toContain("${data.azurerm_kubernetes_cluster.aks_cluster.id}");
  });

  it("makes the deploy identity the keys' administrator (the plan identity plans, the deploy identity applies)", () => {
    const [, officer] = all(json, "azurerm_role_assignment").find(([n]) => n.startsWith("key_vault_key_administrator_0"))!;
    expect(officer.principal_id).toMatch(/^\$\{azurerm_user_assigned_identity\.ci_identities_deploy_[0-9A-F]+\.principal_id\}$/);
    const [, before] = all(without, "azurerm_role_assignment").find(([n]) => n.startsWith("key_vault_key_administrator_0"))!;
    expect(before.principal_id).toBe("${data.azurerm_client_config.client.object_id}");
  });

  it("keeps the AKS token out of the saved plan (ephemeral: the apply gives the deploy identity's own)", () => {
    expect((json.variable as Record<string, Record<string, unknown>>)[AKS_TOKEN_VARIABLE]).toMatchObject({
      ephemeral: true,
      sensitive: true,
    });
    expect((without.variable as Record<string, Record<string, unknown>>)[AKS_TOKEN_VARIABLE].ephemeral).toBeUndefined();
  });

  it.each(allRules().map((r) => [r.id, r]))("%s passes", (_id, rule) => {
    expect(rule.check(json)).toEqual([]);
  });

  it("without ci, the stack has no CI identity", () => {
    expect(all(without, "azurerm_user_assigned_identity").filter(([n]) => n.startsWith("ci_identities_"))).toEqual([]);
    // The stack's other custom roles (the retention job's) stay; none of the CI identities' does.
    expect(Object.keys(without.resource!.azurerm_role_definition ?? {}).filter((n) => n.startsWith("ci_identities_"))).toEqual([]);
  });
});

describe("Azure CI identities are the administrator's", () => {
  it("every resource of the CI identities, and nothing else, is what only an administrator applies (the deploy's plan stops on a change to them)", () => {
    const admin = administeredBy(json as StackJson);
    const alone = new TerraformStack(Testing.app(), "alone");
    new AzureCiIdentities(
      alone,
      "x",
      azureCiIdentitiesProps(config, {
        clusterId:
          "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/ml-dev/providers/Microsoft.ContainerService/managedClusters/ml-dev",
      })!,
    );
    const expected = Object.entries(JSON.parse(Testing.synth(alone)).resource as Record<string, object>).flatMap(([type, byName]) =>
      Object.keys(byName).map(() => type),
    );
    const ciResources = [...admin];
    expect(ciResources.length).toBeGreaterThan(20);
    expect(ciResources.map((a) => a.split(".")[0]).sort()).toEqual(expected.sort());
    const change = { resource_changes: [{ address: ciResources[0], type: ciResources[0].split(".")[0], change: { actions: ["update"] } }] };
    expect(summarize("azure-dev", 2, change as never, "", admin).administered).toEqual([{ address: ciResources[0], kind: "update" }]);
    expect(administeredBy(without as StackJson).size).toBe(0);
  });
});
