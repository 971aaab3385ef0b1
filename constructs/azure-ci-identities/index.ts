/**
 * Azure access for GitHub Actions without a client secret (GitHub OIDC through federated identity credentials),
 * the Azure counterpart of constructs/ci-roles and constructs/gcp-ci-identities:
 *
 * - two user-assigned managed identities, plan and deploy, in the environment's resource group. Each has one
 *   federated identity credential per GitHub subject it accepts: issuer `https://token.actions.githubusercontent.com`,
 *   audience `api://AzureADTokenExchange` (the value Entra ID requires and azure/login asks for), the exact subject
 *   (Entra ID matches issuer and subject exactly, no wildcard; at most 20 credentials per identity, subject at most
 *   600 characters): `repo:<owner>/<repo>:pull_request` and `repo:<owner>/<repo>:ref:refs/heads/main` (the deploy
 *   workflow's plan job and the drift check) for plan, `repo:<owner>/<repo>:environment:<deployEnvironment>` for
 *   deploy. Sources: https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-considerations,
 *   https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-create-trust-user-assigned-managed-identity,
 *   https://learn.microsoft.com/en-us/azure/developer/github/connect-from-azure-openid-connect;
 * - role assignments, none above the environment's resource group (MLF-AZ-1: no Owner, Contributor, User Access
 *   Administrator or Role Based Access Control Administrator anywhere):
 *
 * | identity | role | scope |
 * |---|---|---|
 * | plan | Reader, Key Vault Reader (key metadata and rotation policies a refresh reads) | the resource group |
 * | plan | custom "read the cluster": the cluster, its user credential, every Kubernetes object (Secrets too: a refresh of the Helm releases reads them) | the AKS cluster |
 * | plan, deploy | Storage Blob Data Reader, with a condition: the environment's state blob and its plan files only | the state container |
 * | plan | custom "save plan files" (blob write, create), with a condition: under `<planPrefix>/` only | the state container |
 * | deploy | Reader, custom "deploy" (the resource types the Azure stack manages) | the resource group |
 * | deploy | custom "assign the stack's roles" (role assignments), with a condition: only the roles the stack assigns | the resource group |
 * | deploy | custom "join the network" (the subnets, the DNS zones' virtual network link) | the virtual network |
 * | deploy | Azure Kubernetes Service Cluster User Role, Azure Kubernetes Service RBAC Cluster Admin | the AKS cluster |
 * | deploy | custom "write the state" (blob write, create: the lease is a write), with a condition: the state blob only | the state container |
 *
 * The plan identity takes no state lock: the workflows plan with `-lock=false` (as on AWS and GCP), and a pull
 * request must not be able to break the lease of an apply in progress. Conditions: ABAC version 2.0
 * (https://learn.microsoft.com/en-us/azure/storage/blobs/storage-auth-abac-attributes,
 * https://learn.microsoft.com/en-us/azure/role-based-access-control/delegate-role-assignments-examples "Constrain roles").
 * Custom roles are assignable in the resource group of the scope they are assigned at (Azure allows no narrower
 * assignable scope), and assigned at that scope only.
 *
 * Everything here is applied by an administrator (`npm run bootstrap -- <env>`), never by the deploy identity,
 * which may assign none of these roles.
 */
import { Construct } from "constructs";
import { Token } from "cdktf";
import { UserAssignedIdentity } from "@cdktf/provider-azurerm/lib/user-assigned-identity";
import { FederatedIdentityCredential } from "@cdktf/provider-azurerm/lib/federated-identity-credential";
import { RoleAssignment } from "@cdktf/provider-azurerm/lib/role-assignment";
import { RoleDefinition } from "@cdktf/provider-azurerm/lib/role-definition";
import {
  azureGuidProblem,
  blobContainerNameProblem,
  managedIdentityNameProblem,
  parseNetworkId,
  virtualNetworkIdProblem,
  resourceGroupNameProblem,
  storageAccountNameProblem,
} from "../core/azure-limits";
import { PropError } from "../core/prop-error";

/** GitHub Actions' OIDC issuer. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
/** The audience Entra ID requires in a federated token (azure/login's default audience). */
export const AZURE_TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/**
 * Built-in roles by id (https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles): the ones
 * these identities hold, and the ones the Azure stack assigns (which the deploy identity may assign, no other).
 */
export const AZURE_BUILT_IN_ROLES = {
  Reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
  "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  "Azure Kubernetes Service Cluster User Role": "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
  "Azure Kubernetes Service RBAC Cluster Admin": "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
  "Key Vault Crypto Officer": "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
  "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
  "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  AcrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
} as const;

/**
 * The roles the Azure stack assigns (stacks/azure-stack.ts and its constructs): Terraform's own identity on the
 * vault, the stores' CMK identities on their keys, the tracking server on its container, the kubelet on the registry.
 */
export const STACK_ASSIGNED_ROLES: readonly string[] = [
  AZURE_BUILT_IN_ROLES["Key Vault Crypto Officer"],
  AZURE_BUILT_IN_ROLES["Key Vault Crypto Service Encryption User"],
  AZURE_BUILT_IN_ROLES["Storage Blob Data Contributor"],
  AZURE_BUILT_IN_ROLES.AcrPull,
];

/** The deploy identity's management actions in the resource group: the resource types the Azure stack manages. */
export const AZURE_DEPLOY_ACTIONS: readonly string[] = [
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  // KeyVault: the vault (RBAC authorization: its keys are reached through Key Vault Crypto Officer, assigned by the stack)
  "Microsoft.KeyVault/vaults/*",
  "Microsoft.KeyVault/locations/*/read",
  "Microsoft.KeyVault/operations/read",
  // BlobArtifactStore: the account, its container and lifecycle policy (through Resource Manager), its CMK identity
  "Microsoft.Storage/storageAccounts/*",
  "Microsoft.ManagedIdentity/userAssignedIdentities/*",
  // PostgresFlexibleStore: the server, its configurations, database and private DNS zone; the lock in production
  "Microsoft.DBforPostgreSQL/flexibleServers/*",
  "Microsoft.DBforPostgreSQL/locations/*",
  "Microsoft.Network/privateDnsZones/*",
  "Microsoft.Authorization/locks/*",
  // AzureContainerRegistry: the registry and its private endpoint in the nodes' subnet
  "Microsoft.ContainerRegistry/registries/*",
  "Microsoft.Network/privateEndpoints/*",
  "Microsoft.Network/networkInterfaces/read",
];

/** What the deploy identity does on the virtual network: attach the stack's resources to it, nothing else. */
export const AZURE_NETWORK_JOIN_ACTIONS: readonly string[] = [
  "Microsoft.Network/virtualNetworks/read",
  "Microsoft.Network/virtualNetworks/subnets/read",
  // the private DNS zones' virtual network links
  "Microsoft.Network/virtualNetworks/join/action",
  // the database's delegated subnet, the registry's private endpoint
  "Microsoft.Network/virtualNetworks/subnets/join/action",
  // the storage account's network rule (service endpoint)
  "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
];

/** What a Terraform plan reads of the cluster: its kube_config, and every Kubernetes object (Secrets included). */
export const AZURE_PLAN_CLUSTER_PERMISSIONS = {
  actions: [
    "Microsoft.ContainerService/managedClusters/read",
    "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
  ],
  dataActions: ["Microsoft.ContainerService/managedClusters/*/read"],
} as const;

const BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
const CONTAINER = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]";
const PATH = `@Resource[${BLOBS}:path]`;

/** Where the Terraform state lives (the azurerm backend), for the identities' access to it. */
export interface AzureCiStateAccess {
  /** Resource group of the state's storage account (in the environment's subscription). Required. */
  readonly resourceGroupName: string;
  /** The state's storage account. Required. */
  readonly storageAccountName: string;
  /** The state's container. Required. */
  readonly containerName: string;
  /** The state blob's name (the backend's `key`, `{env}` replaced). Required. */
  readonly key: string;
  /** Prefix (no trailing '/') under which the plan identity saves plan files for the deploy job. Required. */
  readonly planPrefix: string;
}

/** Props of {@link AzureCiIdentities}. */
export interface AzureCiIdentitiesProps {
  /** The environment's subscription. Required. */
  readonly subscriptionId: string;
  /** The environment's existing resource group: the identities live there, and no grant reaches beyond it. Required. */
  readonly resourceGroupName: string;
  /** The identities' region. Required. */
  readonly location: string;
  /** The GitHub repository, "owner/name": the only one whose tokens the credentials accept. Required. */
  readonly repository: string;
  /** The plan identity's name. Required. */
  readonly planIdentityName: string;
  /** The deploy identity's name. Required. */
  readonly deployIdentityName: string;
  /** The GitHub Environment whose jobs may act as the deploy identity. Required. */
  readonly deployEnvironment: string;
  /** The branch whose pushes and schedules may act as the plan identity (drift check, plan of a merge). @default "main" */
  readonly mainBranch?: string;
  /** Resource id of the AKS cluster (a reference to its data source). Required. */
  readonly clusterId: string;
  /** Resource group of the AKS cluster (the cluster role's assignable scope). Required. */
  readonly clusterResourceGroupName: string;
  /** Resource id of the cluster's virtual network, which the stack's subnets and DNS links join. Required. */
  readonly virtualNetworkId: string;
  /** The Terraform state in Blob Storage; without it (local state) the identities get no state access. @default none */
  readonly state?: AzureCiStateAccess;
  /** Tags on the identities. @default {} */
  readonly tags?: Record<string, string>;
}

const REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;
const CLUSTER_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerService\/managedClusters\/[^/]+$/i;

/** The exact GitHub subjects each identity accepts. */
export function githubSubjects(repository: string, deployEnvironment: string, mainBranch = "main"): { plan: string[]; deploy: string[] } {
  return {
    plan: [`repo:${repository}:pull_request`, `repo:${repository}:ref:refs/heads/${mainBranch}`],
    deploy: [`repo:${repository}:environment:${deployEnvironment}`],
  };
}

/** A GUID list for a condition: `{a, b}`. */
const guids = (ids: readonly string[]) => `{${ids.join(", ")}}`;

/**
 * The condition on the deploy identity's role-assignment role: it may create and delete assignments of `roles`
 * only ("Constrain roles": the request's role for a write, the assignment's for a delete).
 */
export function constrainRolesCondition(roles: readonly string[]): string {
  return [
    "(",
    " (",
    "  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})",
    " )",
    " OR",
    " (",
    `  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals ${guids(roles)}`,
    " )",
    ")",
    "AND",
    "(",
    " (",
    "  !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})",
    " )",
    " OR",
    " (",
    `  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals ${guids(roles)}`,
    " )",
    ")",
  ].join("\n");
}

/**
 * The condition on Storage Blob Data Reader at the state container: a blob read only of the state blob and the
 * plan files, a listing only of the state's own blobs (the backend lists `<key>env:` for workspaces).
 */
export function stateReadCondition(containerName: string, key: string, planPrefix: string): string {
  const inContainer = `${CONTAINER} StringEquals '${containerName}'`;
  return [
    "(",
    ` (!(ActionMatches{'${BLOBS}/read'} AND NOT SubOperationMatches{'Blob.List'}))`,
    " OR",
    ` (${inContainer} AND (${PATH} StringEquals '${key}' OR ${PATH} StringStartsWith '${planPrefix}/'))`,
    ")",
    "AND",
    "(",
    ` (!(ActionMatches{'${BLOBS}/read'} AND SubOperationMatches{'Blob.List'}))`,
    " OR",
    ` (${inContainer} AND @Request[${BLOBS}:prefix] StringStartsWith '${key}')`,
    ")",
  ].join("\n");
}

/** The condition on a blob-writing role: a write or a create only of `exactly` the blob, or only under `prefix/`. */
export function blobWriteCondition(containerName: string, where: { exactly: string } | { prefix: string }): string {
  const path = "exactly" in where ? `${PATH} StringEquals '${where.exactly}'` : `${PATH} StringStartsWith '${where.prefix}/'`;
  return [
    "(",
    ` (!(ActionMatches{'${BLOBS}/write'}) AND !(ActionMatches{'${BLOBS}/add/action'}))`,
    " OR",
    ` (${CONTAINER} StringEquals '${containerName}' AND ${path})`,
    ")",
  ].join("\n");
}

/** The plan and deploy identities of GitHub Actions for one Azure environment, and what each may do. */
export class AzureCiIdentities extends Construct {
  readonly planIdentity: UserAssignedIdentity;
  readonly deployIdentity: UserAssignedIdentity;

  constructor(scope: Construct, id: string, props: AzureCiIdentitiesProps) {
    super(scope, id);
    const guid = azureGuidProblem(props.subscriptionId, "subscription");
    if (guid) throw new PropError(this, "subscriptionId", props.subscriptionId, guid);
    for (const field of ["resourceGroupName", "clusterResourceGroupName"] as const) {
      const p = resourceGroupNameProblem(props[field]);
      if (p) throw new PropError(this, field, props[field], p);
    }
    if (!REPOSITORY.test(props.repository))
      throw new PropError(this, "repository", props.repository, '"owner/name" of a GitHub repository: your fork\'s');
    for (const field of ["planIdentityName", "deployIdentityName"] as const) {
      const p = managedIdentityNameProblem(props[field]);
      if (p) throw new PropError(this, field, props[field], p);
    }
    if (props.planIdentityName.toLowerCase() === props.deployIdentityName.toLowerCase())
      throw new PropError(this, "deployIdentityName", props.deployIdentityName, "another identity than the plan identity");
    if (!/^[A-Za-z0-9._-]{1,255}$/.test(props.deployEnvironment))
      throw new PropError(this, "deployEnvironment", props.deployEnvironment, "a GitHub Environment name: letters, digits, '.', '_', '-'");
    if (!Token.isUnresolved(props.clusterId) && !CLUSTER_ID.test(props.clusterId))
      throw new PropError(this, "clusterId", props.clusterId, "an AKS cluster's resource id (/subscriptions/.../managedClusters/<name>)");
    const vnetProblem = virtualNetworkIdProblem(props.virtualNetworkId);
    if (vnetProblem) throw new PropError(this, "virtualNetworkId", props.virtualNetworkId, vnetProblem);
    const vnet = parseNetworkId(props.virtualNetworkId)!;
    const st = props.state;
    if (st) {
      const p = resourceGroupNameProblem(st.resourceGroupName);
      if (p) throw new PropError(this, "state.resourceGroupName", st.resourceGroupName, p);
      const a = storageAccountNameProblem(st.storageAccountName);
      if (a) throw new PropError(this, "state.storageAccountName", st.storageAccountName, a);
      const c = blobContainerNameProblem(st.containerName);
      if (c) throw new PropError(this, "state.containerName", st.containerName, c);
      for (const field of ["key", "planPrefix"] as const)
        if (st[field] === "" || st[field].startsWith("/") || st[field].endsWith("/") || st[field].includes("'"))
          throw new PropError(this, `state.${field}`, st[field], "a blob name without leading or trailing '/' (and no quote)");
    }

    const subscription = `/subscriptions/${props.subscriptionId}`;
    const group = (name: string) => `${subscription}/resourceGroups/${name}`;
    const resourceGroup = group(props.resourceGroupName);
    const subjects = githubSubjects(props.repository, props.deployEnvironment, props.mainBranch);

    const identity = (cid: "plan" | "deploy", name: string, subs: string[]) => {
      const uai = new UserAssignedIdentity(this, cid, {
        name,
        resourceGroupName: props.resourceGroupName,
        location: props.location,
        tags: props.tags ?? {},
      });
      subs.forEach((subject, i) => {
        new FederatedIdentityCredential(this, `${cid}_github_${i}`, {
          name: `github-${i}`,
          resourceGroupName: props.resourceGroupName,
          parentId: uai.id,
          issuer: GITHUB_ISSUER,
          audience: [AZURE_TOKEN_EXCHANGE_AUDIENCE],
          subject,
        });
      });
      return uai;
    };
    this.planIdentity = identity("plan", props.planIdentityName, subjects.plan);
    this.deployIdentity = identity("deploy", props.deployIdentityName, subjects.deploy);

    const grant = (
      cid: string,
      who: UserAssignedIdentity,
      scopeId: string,
      role: { builtIn: keyof typeof AZURE_BUILT_IN_ROLES } | { custom: RoleDefinition },
      condition?: string,
    ) =>
      new RoleAssignment(this, cid, {
        scope: scopeId,
        ...("builtIn" in role
          ? { roleDefinitionId: `${subscription}/providers/Microsoft.Authorization/roleDefinitions/${AZURE_BUILT_IN_ROLES[role.builtIn]}` }
          : { roleDefinitionId: role.custom.roleDefinitionResourceId }),
        principalId: who.principalId,
        // A new identity's service principal may not have replicated yet: say what it is instead of looking it up.
        principalType: "ServicePrincipal",
        ...(condition ? { condition, conditionVersion: "2.0" } : {}),
      });
    const customRole = (cid: string, title: string, assignableGroup: string, permissions: { actions?: string[]; dataActions?: string[] }) =>
      new RoleDefinition(this, cid, {
        // Role names are unique in the tenant: the identity's name (project and environment) makes them so.
        name: title,
        scope: assignableGroup,
        assignableScopes: [assignableGroup],
        description: `GitHub Actions of ${props.repository}`,
        permissions: [permissions],
      });

    // ── plan: read-only ──
    const plan = this.planIdentity;
    grant("plan_reader", plan, resourceGroup, { builtIn: "Reader" });
    grant("plan_key_vault_reader", plan, resourceGroup, { builtIn: "Key Vault Reader" });
    const clusterGroup = group(props.clusterResourceGroupName);
    const planCluster = customRole("plan_cluster_role", `${props.planIdentityName}: read the AKS cluster`, clusterGroup, {
      actions: [...AZURE_PLAN_CLUSTER_PERMISSIONS.actions],
      dataActions: [...AZURE_PLAN_CLUSTER_PERMISSIONS.dataActions],
    });
    grant("plan_cluster", plan, props.clusterId, { custom: planCluster });

    // ── deploy: what the stack manages ──
    const deploy = this.deployIdentity;
    grant("deploy_reader", deploy, resourceGroup, { builtIn: "Reader" });
    const deployRole = customRole("deploy_role", `${props.deployIdentityName}: deploy the MLflow platform`, resourceGroup, {
      actions: [...AZURE_DEPLOY_ACTIONS],
    });
    grant("deploy_resources", deploy, resourceGroup, { custom: deployRole });
    const assignRole = customRole("deploy_assign_role", `${props.deployIdentityName}: assign the stack's roles`, resourceGroup, {
      actions: [
        "Microsoft.Authorization/roleAssignments/read",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
      ],
    });
    grant("deploy_assign", deploy, resourceGroup, { custom: assignRole }, constrainRolesCondition(STACK_ASSIGNED_ROLES));
    // The virtual network may be in another subscription (a hub's): its own group is the role's assignable scope.
    const networkGroup = `/subscriptions/${vnet.subscriptionId}/resourceGroups/${vnet.resourceGroupName}`;
    const joinRole = customRole("deploy_network_role", `${props.deployIdentityName}: join the network`, networkGroup, {
      actions: [...AZURE_NETWORK_JOIN_ACTIONS],
    });
    grant("deploy_network", deploy, props.virtualNetworkId, { custom: joinRole });
    grant("deploy_cluster_user", deploy, props.clusterId, { builtIn: "Azure Kubernetes Service Cluster User Role" });
    grant("deploy_cluster_admin", deploy, props.clusterId, { builtIn: "Azure Kubernetes Service RBAC Cluster Admin" });

    // ── the state: its blob, and the saved plan files ──
    if (st) {
      const stateGroup = group(st.resourceGroupName);
      const container = `${stateGroup}/providers/Microsoft.Storage/storageAccounts/${st.storageAccountName}/blobServices/default/containers/${st.containerName}`;
      const read = stateReadCondition(st.containerName, st.key, st.planPrefix);
      grant("plan_state_read", plan, container, { builtIn: "Storage Blob Data Reader" }, read);
      grant("deploy_state_read", deploy, container, { builtIn: "Storage Blob Data Reader" }, read);
      const write = (cid: string, title: string) =>
        customRole(cid, title, stateGroup, { dataActions: [`${BLOBS}/write`, `${BLOBS}/add/action`] });
      const savePlans = write("plan_files_role", `${props.planIdentityName}: save plan files`);
      grant("plan_save_plans", plan, container, { custom: savePlans }, blobWriteCondition(st.containerName, { prefix: st.planPrefix }));
      const writeState = write("deploy_state_role", `${props.deployIdentityName}: write the state`);
      grant("deploy_state_write", deploy, container, { custom: writeState }, blobWriteCondition(st.containerName, { exactly: st.key }));
    }
  }
}
