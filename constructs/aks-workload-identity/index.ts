/**
 * A workload's Azure identity on AKS (Microsoft Entra Workload ID): a user-assigned managed identity of its own,
 * which only the workload's Kubernetes service account may act as (a federated identity credential trusting the
 * cluster's OIDC issuer for the subject `system:serviceaccount:<namespace>:<name>` and the audience
 * `api://AzureADTokenExchange`), with access to its own prefix of the artifact container and nothing else:
 *
 * | role assignment | scope | condition (ABAC, version 2.0) |
 * |---|---|---|
 * | Storage Blob Data Contributor | the artifact container | reading, writing, creating, moving and deleting a blob only under `<prefix>/`; listing only with a prefix under `<prefix>/` |
 *
 * With `access: "blob-tags"` (the model retention job) the assignment is instead of a custom role of its own, whose
 * only data actions are `blobs/read` (for listing), `blobs/tags/read` and `blobs/tags/write`, with a condition
 * allowing `blobs/read` for a listing under `<prefix>/` only (the request's `blobs:prefix` attribute exists for
 * List Blobs alone, so any other read cannot satisfy it and is refused) and the tags of blobs under `<prefix>/` only:
 * no read of a blob's data, no write, no delete.
 *
 * With `access: "blob-create"` (a model server's inference log) the custom role's only data action is `blobs/add/action`
 * ("Create a blob or snapshot, or append data"; Put Blob needs it to write a new blob, `blobs/write` only to write
 * over an existing one), conditioned on a blob path under `<prefix>/`: the server creates its records there and can
 * read, overwrite, list or delete nothing. With `access: "blob-read"` (the drift job) the only data action is
 * `blobs/read`, conditioned as in "Read or list blobs in named containers with a path": reading a blob under
 * `<prefix>/`, listing with a prefix under it; no write, no delete.
 *
 * The service account carries `azure.workload.identity/client-id` and its pods the label
 * `azure.workload.identity/use: "true"`, which AKS's admission webhook selects to inject the token file and the
 * AZURE_* variables that DefaultAzureCredential reads. No subscription- or resource-group-level role is granted.
 *
 * Sources: https://learn.microsoft.com/en-us/azure/aks/workload-identity-overview (annotation, label, audience, subject);
 * https://learn.microsoft.com/en-us/azure/storage/blobs/storage-auth-abac-examples ("Read or list blobs in named
 * containers with a path": `blobs:path` for blob operations, the request's `blobs:prefix` for listing);
 * https://learn.microsoft.com/en-us/azure/role-based-access-control/conditions-format (syntax);
 * https://learn.microsoft.com/en-us/azure/storage/blobs/storage-auth-abac-attributes (the data actions, their
 * suboperations and attributes: `blobs/add/action` with the blob path);
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-blob#permissions (`blobs/add/action` to write a new
 * blob, `blobs/write` to write to an existing one).
 */
import { Construct } from "constructs";
import { Token, type ITerraformDependable } from "cdktf";
import { UserAssignedIdentity } from "@cdktf/provider-azurerm/lib/user-assigned-identity";
import { FederatedIdentityCredential } from "@cdktf/provider-azurerm/lib/federated-identity-credential";
import { RoleAssignment } from "@cdktf/provider-azurerm/lib/role-assignment";
import { RoleDefinition } from "@cdktf/provider-azurerm/lib/role-definition";
import type { AzureTrackingIdentityContract } from "../core/contracts";
import { isS3KeyPrefix } from "../core/s3-prefix";
import { PropError } from "../core/prop-error";

/** The service account annotation naming the managed identity (Azure Workload Identity). */
export const AZURE_CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id";
/** The pod label AKS's workload identity webhook selects on. */
export const AZURE_USE_LABEL = "azure.workload.identity/use";
/** The audience Microsoft Entra ID expects in a federated service account token. */
export const AZURE_TOKEN_AUDIENCE = "api://AzureADTokenExchange";

/** Props of {@link AksWorkloadIdentity}. */
export interface AksWorkloadIdentityProps {
  /** The managed identity's name (3-128 letters, digits, '-' and '_', a letter or digit first). Required. */
  readonly name: string;
  /** The existing resource group of the identity. Required. */
  readonly resourceGroupName: string;
  /** The identity's Azure region. Required. */
  readonly location: string;
  /** The AKS cluster's OIDC issuer URL (`az aks show --query oidcIssuerProfile.issuerUrl`). Required. */
  readonly oidcIssuerUrl: string;
  /** Namespace of the Kubernetes service account. Required. */
  readonly namespace: string;
  /** Name of the Kubernetes service account. Required. */
  readonly serviceAccountName: string;
  /** The artifact container's Azure Resource Manager id (the Blob store's `contract.containerScope`). Required. */
  readonly containerScope: string;
  /** The artifact container's name, which the condition names too. Required. */
  readonly containerName: string;
  /** The only prefix of the container the workload may touch (MLflow's artifact prefix). Required. */
  readonly prefix: string;
  /**
   * What the workload may do under the prefix: "read-write" blobs (Storage Blob Data Contributor); or, each with a
   * custom role of its own (`roleDefinition`), only list them and read and write their blob index tags
   * ("blob-tags"), only create new blobs ("blob-create": no read, no overwrite, no delete), or only list and read
   * them ("blob-read"). With "blob-create" and "blob-read" the prefix may end in Hive-style `key=value` segments
   * (one model's inference log, `inference-logs/model=<name>`).
   * @default "read-write"
   */
  readonly access?: "read-write" | "blob-tags" | "blob-create" | "blob-read";
  /**
   * With an access of a custom role (all but "read-write"): the role's name (unique in the tenant) and the scope it
   * is defined at (the resource group's id, `/subscriptions/<id>/resourceGroups/<name>`).
   * @default - none
   */
  readonly roleDefinition?: { readonly name: string; readonly scope: string };
  /** Tags on the identity. @default {} */
  readonly tags?: Record<string, string>;
  /** What the role assignment waits for (the container, when it is created in the same stack). @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

const BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
const CONTAINER_NAME = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]";

/**
 * The ABAC condition limiting a Storage Blob Data Contributor assignment to one container's prefix: blob reads
 * (but listing), writes, creates, moves and deletes need a blob path under `<prefix>/`; listing needs a list
 * prefix under it (a listing without a prefix is refused).
 */
export function prefixCondition(containerName: string, prefix: string): string {
  const inContainer = `${CONTAINER_NAME} StringEquals '${containerName}'`;
  return [
    "(",
    " (",
    `  !(ActionMatches{'${BLOBS}/read'} AND NOT SubOperationMatches{'Blob.List'})`,
    `  AND !(ActionMatches{'${BLOBS}/write'})`,
    `  AND !(ActionMatches{'${BLOBS}/add/action'})`,
    `  AND !(ActionMatches{'${BLOBS}/move/action'})`,
    `  AND !(ActionMatches{'${BLOBS}/delete'})`,
    " )",
    " OR",
    ` (${inContainer} AND @Resource[${BLOBS}:path] StringStartsWith '${prefix}/')`,
    ")",
    "AND",
    "(",
    ` (!(ActionMatches{'${BLOBS}/read'} AND SubOperationMatches{'Blob.List'}))`,
    " OR",
    ` (${inContainer} AND @Request[${BLOBS}:prefix] StringStartsWith '${prefix}/')`,
    ")",
  ].join("\n");
}

/** The data actions of the "blob-tags" custom role: listing (blobs/read, limited by the condition) and blob index tags. */
export const BLOB_TAG_DATA_ACTIONS = [`${BLOBS}/read`, `${BLOBS}/tags/read`, `${BLOBS}/tags/write`] as const;

/**
 * The ABAC condition of the "blob-tags" role: `blobs/read` only as a listing with a prefix under `<prefix>/` (the
 * `blobs:prefix` request attribute exists for List Blobs only: every other read fails the condition), blob index
 * tags only of blobs under `<prefix>/`.
 */
export function tagConditions(containerName: string, prefix: string): string {
  const inContainer = `${CONTAINER_NAME} StringEquals '${containerName}'`;
  return [
    "(",
    ` (!(ActionMatches{'${BLOBS}/read'}))`,
    " OR",
    ` (${inContainer} AND @Request[${BLOBS}:prefix] StringStartsWith '${prefix}/')`,
    ")",
    "AND",
    "(",
    ` (!(ActionMatches{'${BLOBS}/tags/read'}) AND !(ActionMatches{'${BLOBS}/tags/write'}))`,
    " OR",
    ` (${inContainer} AND @Resource[${BLOBS}:path] StringStartsWith '${prefix}/')`,
    ")",
  ].join("\n");
}

/** The data action of the "blob-create" custom role: creating a blob (never writing over one, reading or deleting). */
export const BLOB_CREATE_DATA_ACTIONS = [`${BLOBS}/add/action`] as const;

/** The ABAC condition of the "blob-create" role: a new blob only at a path under `<prefix>/` of the container. */
export function createCondition(containerName: string, prefix: string): string {
  const inContainer = `${CONTAINER_NAME} StringEquals '${containerName}'`;
  return [
    "(",
    ` (!(ActionMatches{'${BLOBS}/add/action'}))`,
    " OR",
    ` (${inContainer} AND @Resource[${BLOBS}:path] StringStartsWith '${prefix}/')`,
    ")",
  ].join("\n");
}

/** The data action of the "blob-read" custom role: reading and listing blobs. */
export const BLOB_READ_DATA_ACTIONS = [`${BLOBS}/read`] as const;

/**
 * The ABAC condition of the "blob-read" role ("Read or list blobs in named containers with a path"): a blob read
 * only at a path under `<prefix>/`, a listing only with a prefix under it (a listing without a prefix is refused).
 */
export function readCondition(containerName: string, prefix: string): string {
  const inContainer = `${CONTAINER_NAME} StringEquals '${containerName}'`;
  return [
    "(",
    ` (!(ActionMatches{'${BLOBS}/read'} AND NOT SubOperationMatches{'Blob.List'}))`,
    " OR",
    ` (${inContainer} AND @Resource[${BLOBS}:path] StringStartsWith '${prefix}/')`,
    ")",
    "AND",
    "(",
    ` (!(ActionMatches{'${BLOBS}/read'} AND SubOperationMatches{'Blob.List'}))`,
    " OR",
    ` (${inContainer} AND @Request[${BLOBS}:prefix] StringStartsWith '${prefix}/')`,
    ")",
  ].join("\n");
}

/** Each custom-role access: its data actions, its condition, and the words of its role and assignment. */
const CUSTOM_ROLES = {
  "blob-tags": {
    dataActions: BLOB_TAG_DATA_ACTIONS,
    condition: tagConditions,
    role: "List blobs and read and write their blob index tags",
    grant: "Listing and blob index tags",
  },
  "blob-create": {
    dataActions: BLOB_CREATE_DATA_ACTIONS,
    condition: createCondition,
    role: "Create new blobs only (no read, overwrite or delete)",
    grant: "Creating blobs",
  },
  "blob-read": {
    dataActions: BLOB_READ_DATA_ACTIONS,
    condition: readCondition,
    role: "List and read blobs only",
    grant: "Listing and reading blobs",
  },
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A managed identity federated with one Kubernetes service account, with access to one prefix of one container. */
export class AksWorkloadIdentity extends Construct {
  readonly identity: UserAssignedIdentity;
  /** The custom role, with an access other than "read-write". */
  readonly roleDefinition?: RoleDefinition;
  readonly contract: AzureTrackingIdentityContract;

  constructor(scope: Construct, id: string, props: AksWorkloadIdentityProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.name) && !/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/.test(props.name))
      throw new PropError(
        this,
        "name",
        props.name,
        "a managed identity name: 3-128 letters, digits, '-' and '_', starting with a letter or digit",
      );
    if (!Token.isUnresolved(props.oidcIssuerUrl) && !/^https:\/\/[^\s/]+\/\S*$/.test(props.oidcIssuerUrl))
      throw new PropError(
        this,
        "oidcIssuerUrl",
        props.oidcIssuerUrl,
        "the cluster's OIDC issuer URL, https://... (`az aks show -n <cluster> -g <group> --query oidcIssuerProfile.issuerUrl`)",
      );
    if (!DNS_LABEL.test(props.namespace))
      throw new PropError(this, "namespace", props.namespace, "a Kubernetes namespace name (RFC 1123 label)");
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(props.serviceAccountName))
      throw new PropError(this, "serviceAccountName", props.serviceAccountName, "a Kubernetes service account name (RFC 1123 subdomain)");
    const custom = props.access && props.access !== "read-write" ? CUSTOM_ROLES[props.access] : undefined;
    // A model's inference log is a partition of the log's prefix (`inference-logs/model=<name>`).
    const partitions = props.access === "blob-create" || props.access === "blob-read";
    // A prefix-less grant would be the whole container: least privilege needs a prefix.
    if (!isS3KeyPrefix(props.prefix, { partitions }))
      throw new PropError(this, "prefix", props.prefix, "a blob name prefix such as \"mlartifacts\" (without leading or trailing '/')");
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(props.containerName))
      throw new PropError(
        this,
        "containerName",
        props.containerName,
        "the artifact container's name (lower-case letters, digits and single hyphens)",
      );

    if (custom && !props.roleDefinition)
      throw new PropError(this, "roleDefinition", props.roleDefinition, `the custom role's name and scope (access ${props.access})`);

    this.identity = new UserAssignedIdentity(this, "identity", {
      name: props.name,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      tags: props.tags ?? {},
    });
    new FederatedIdentityCredential(this, "federated_credential", {
      name: `${props.namespace}-${props.serviceAccountName}`,
      resourceGroupName: props.resourceGroupName,
      parentId: this.identity.id,
      issuer: props.oidcIssuerUrl,
      subject: `system:serviceaccount:${props.namespace}:${props.serviceAccountName}`,
      audience: [AZURE_TOKEN_AUDIENCE],
    });
    if (custom) {
      const def = props.roleDefinition!;
      this.roleDefinition = new RoleDefinition(this, "role_definition", {
        name: def.name,
        scope: def.scope,
        description: `${custom.role} (${props.namespace}/${props.serviceAccountName})`,
        permissions: [{ actions: [], dataActions: [...custom.dataActions] }],
        assignableScopes: [def.scope],
      });
      new RoleAssignment(this, "artifacts", {
        scope: props.containerScope,
        roleDefinitionId: this.roleDefinition.roleDefinitionResourceId,
        principalId: this.identity.principalId,
        principalType: "ServicePrincipal",
        description: `${custom.grant} under ${props.prefix}/ of ${props.containerName} only`,
        conditionVersion: "2.0",
        condition: custom.condition(props.containerName, props.prefix),
        dependsOn: props.dependsOn,
      });
    } else
      new RoleAssignment(this, "artifacts", {
        scope: props.containerScope,
        roleDefinitionName: "Storage Blob Data Contributor",
        principalId: this.identity.principalId,
        principalType: "ServicePrincipal",
        description: `Blobs under ${props.prefix}/ of ${props.containerName} only`,
        conditionVersion: "2.0",
        condition: prefixCondition(props.containerName, props.prefix),
        dependsOn: props.dependsOn,
      });

    this.contract = {
      serviceAccountName: props.serviceAccountName,
      serviceAccountAnnotations: { [AZURE_CLIENT_ID_ANNOTATION]: this.identity.clientId },
      podLabels: { [AZURE_USE_LABEL]: "true" },
      clientId: this.identity.clientId,
      principalId: this.identity.principalId,
    };
  }
}
