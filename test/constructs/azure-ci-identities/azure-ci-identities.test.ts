import { Testing, TerraformStack } from "cdktf";
import {
  AZURE_BUILT_IN_ROLES,
  AZURE_DEPLOY_ACTIONS,
  AzureCiIdentities,
  STACK_ASSIGNED_ROLES,
  type AzureCiIdentitiesProps,
} from "../../../constructs/azure-ci-identities";
import { PropError } from "../../../constructs/core/prop-error";
import { AzureNoBroadRoles } from "../../../policies";
import type { TfJson } from "../../helpers/synth";

const SUB = "0b1f6471-1bf0-4dda-aec3-111122223333";
const RG = `/subscriptions/${SUB}/resourceGroups/ml-dev`;
const CLUSTER = `/subscriptions/${SUB}/resourceGroups/ml-aks/providers/Microsoft.ContainerService/managedClusters/aks`;
const VNET = `/subscriptions/${SUB}/resourceGroups/ml-network/providers/Microsoft.Network/virtualNetworks/ml-vnet`;
const CONTAINER = `/subscriptions/${SUB}/resourceGroups/ml-tfstate/providers/Microsoft.Storage/storageAccounts/acmetfstate/blobServices/default/containers/tfstate`;

const BASE: AzureCiIdentitiesProps = {
  subscriptionId: SUB,
  resourceGroupName: "ml-dev",
  location: "westeurope",
  repository: "acme/ml-platform",
  planIdentityName: "mlflow-dev-ci-plan",
  deployIdentityName: "mlflow-dev-ci-deploy",
  deployEnvironment: "dev",
  clusterId: CLUSTER,
  clusterResourceGroupName: "ml-aks",
  virtualNetworkId: VNET,
  state: {
    resourceGroupName: "ml-tfstate",
    storageAccountName: "acmetfstate",
    containerName: "tfstate",
    key: "mlflow/dev.tfstate",
    planPrefix: "ci-plans/mlflow-dev",
  },
};

function synth(props: Partial<AzureCiIdentitiesProps> = {}): TfJson {
  const stack = new TerraformStack(Testing.app(), "test");
  new AzureCiIdentities(stack, "ci", { ...BASE, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const all = (json: TfJson, type: string) => Object.entries(json.resource![type] ?? {}) as [string, Record<string, any>][];
const builtIn = (name: keyof typeof AZURE_BUILT_IN_ROLES) =>
  `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${AZURE_BUILT_IN_ROLES[name]}`;

describe("AzureCiIdentities", () => {
  const json = synth();
  const identities = all(json, "azurerm_user_assigned_identity");
  const grants = all(json, "azurerm_role_assignment").map(([name, g]) => ({ name, ...g }) as Record<string, any>);
  const roles = Object.fromEntries(all(json, "azurerm_role_definition"));
  const refOf = (name: string) => grants.find((g) => g.name.startsWith(name))!;
  const customRoleOf = (grantName: string) => {
    const ref = /\$\{azurerm_role_definition\.([\w]+)\.role_definition_resource_id\}/.exec(refOf(grantName).role_definition_id)![1];
    return roles[ref];
  };

  it("has a plan and a deploy identity, each trusting GitHub's issuer for its exact subjects only, audience api://AzureADTokenExchange", () => {
    expect(identities.map(([, i]) => i.name).sort()).toEqual(["mlflow-dev-ci-deploy", "mlflow-dev-ci-plan"]);
    const credentials = all(json, "azurerm_federated_identity_credential").map(([name, c]) => ({
      of: name.split("_github_")[0],
      issuer: c.issuer,
      audience: c.audience,
      subject: c.subject,
    }));
    credentials.sort((a, b) => (a.of + a.subject).localeCompare(b.of + b.subject));
    expect(credentials).toEqual([
      {
        of: "ci_deploy",
        issuer: "https://token.actions.githubusercontent.com",
        audience: ["api://AzureADTokenExchange"],
        subject: "repo:acme/ml-platform:environment:dev",
      },
      {
        of: "ci_plan",
        issuer: "https://token.actions.githubusercontent.com",
        audience: ["api://AzureADTokenExchange"],
        subject: "repo:acme/ml-platform:pull_request",
      },
      {
        of: "ci_plan",
        issuer: "https://token.actions.githubusercontent.com",
        audience: ["api://AzureADTokenExchange"],
        subject: "repo:acme/ml-platform:ref:refs/heads/main",
      },
    ]);
  });

  it("grants nothing above the environment's resource group, and no broad role anywhere (MLF-AZ-1)", () => {
    for (const g of grants) {
      expect(g.scope).not.toMatch(/^\/subscriptions\/[^/]+\/?$/);
      expect(g.scope === RG || g.scope.startsWith(`${RG}/`) || [CLUSTER, VNET, CONTAINER].includes(g.scope)).toBe(true);
      expect(g.principal_type).toBe("ServicePrincipal");
    }
    expect(new AzureNoBroadRoles().check(json)).toEqual([]);
    for (const [, r] of Object.entries(roles)) expect(r.assignable_scopes).toEqual([r.scope]);
  });

  it("plan: Reader and Key Vault Reader on the group, the cluster read-only, the state and its plan files (no lock)", () => {
    const plan = grants.filter((g) => g.name.startsWith("ci_plan_"));
    expect(plan.map((g) => [g.name.replace(/_[0-9A-F]{8}$/, ""), g.scope]).sort()).toEqual(
      [
        ["ci_plan_reader", RG],
        ["ci_plan_key_vault_reader", RG],
        ["ci_plan_cluster", CLUSTER],
        ["ci_plan_state_read", CONTAINER],
        ["ci_plan_save_plans", CONTAINER],
      ].sort(),
    );
    expect(refOf("ci_plan_reader").role_definition_id).toBe(builtIn("Reader"));
    expect(customRoleOf("ci_plan_cluster").permissions).toEqual([
      {
        actions: [
          "Microsoft.ContainerService/managedClusters/read",
          "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
        ],
        data_actions: ["Microsoft.ContainerService/managedClusters/*/read"],
      },
    ]);
    // Nothing of the plan identity writes but the plan files: no write action in any of its roles.
    const saves = customRoleOf("ci_plan_save_plans");
    expect(saves.permissions[0]).toEqual({
      data_actions: [
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
      ],
    });
    expect(refOf("ci_plan_save_plans").condition).toContain(
      "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'ci-plans/mlflow-dev/'",
    );
    expect(refOf("ci_plan_state_read")).toMatchObject({
      role_definition_id: builtIn("Storage Blob Data Reader"),
      condition_version: "2.0",
    });
    expect(refOf("ci_plan_state_read").condition).toContain("StringEquals 'mlflow/dev.tfstate'");
    expect(refOf("ci_plan_state_read").condition).toContain(
      "@Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith 'mlflow/dev.tfstate'",
    );
  });

  it("deploy: the stack's resource types on the group, the roles the stack assigns only, the network joined, the cluster, the state blob", () => {
    const deploy = grants.filter((g) => g.name.startsWith("ci_deploy_"));
    expect(deploy.map((g) => [g.name.replace(/_[0-9A-F]{8}$/, ""), g.scope]).sort()).toEqual(
      [
        ["ci_deploy_reader", RG],
        ["ci_deploy_resources", RG],
        ["ci_deploy_assign", RG],
        ["ci_deploy_network", VNET],
        ["ci_deploy_cluster_user", CLUSTER],
        ["ci_deploy_cluster_admin", CLUSTER],
        ["ci_deploy_state_read", CONTAINER],
        ["ci_deploy_state_write", CONTAINER],
      ].sort(),
    );
    expect(customRoleOf("ci_deploy_resources").permissions).toEqual([{ actions: [...AZURE_DEPLOY_ACTIONS] }]);
    expect(AZURE_DEPLOY_ACTIONS.some((a) => a.startsWith("Microsoft.Authorization/roleAssignments"))).toBe(false);
    const assign = refOf("ci_deploy_assign");
    expect(assign.condition_version).toBe("2.0");
    expect(assign.condition).toContain(
      `@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${STACK_ASSIGNED_ROLES.join(", ")}}`,
    );
    expect(assign.condition).toContain(
      `@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${STACK_ASSIGNED_ROLES.join(", ")}}`,
    );
    expect(customRoleOf("ci_deploy_network").scope).toBe(`/subscriptions/${SUB}/resourceGroups/ml-network`);
    expect(customRoleOf("ci_deploy_network").permissions[0].actions).not.toContain("Microsoft.Network/virtualNetworks/write");
    expect(refOf("ci_deploy_state_write").condition).toContain(
      "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringEquals 'mlflow/dev.tfstate'",
    );
  });

  it("without a remote state the identities get no state access", () => {
    const local = all(synth({ state: undefined }), "azurerm_role_assignment").map(([, g]) => g.scope);
    expect(local).not.toContain(CONTAINER);
    expect(local.length).toBe(9);
  });

  it("uses the plan subjects of another main branch", () => {
    const subjects = all(synth({ mainBranch: "trunk" }), "azurerm_federated_identity_credential").map(([, c]) => c.subject);
    expect(subjects).toContain("repo:acme/ml-platform:ref:refs/heads/trunk");
  });

  it.each([
    [{ subscriptionId: "prod" }, "subscriptionId"],
    [{ repository: "not a repo" }, "repository"],
    [{ planIdentityName: "-x" }, "planIdentityName"],
    [{ deployIdentityName: "MLFLOW-DEV-CI-PLAN" }, "deployIdentityName"],
    [{ deployEnvironment: "dev env" }, "deployEnvironment"],
    [{ clusterId: "aks" }, "clusterId"],
    [{ virtualNetworkId: `${VNET}/subnets/a` }, "virtualNetworkId"],
    [{ clusterResourceGroupName: "bad/group" }, "clusterResourceGroupName"],
    [{ state: { ...BASE.state!, storageAccountName: "Bad_Account" } }, "state.storageAccountName"],
    [{ state: { ...BASE.state!, key: "/mlflow/dev.tfstate" } }, "state.key"],
    [{ state: { ...BASE.state!, planPrefix: "ci-plans/x'" } }, "state.planPrefix"],
  ])("refuses %j naming %s", (props, field) => {
    expect(() => synth(props as Partial<AzureCiIdentitiesProps>)).toThrow(PropError);
    try {
      synth(props as Partial<AzureCiIdentitiesProps>);
    } catch (err) {
      expect((err as PropError).prop).toBe(field);
    }
  });
});
