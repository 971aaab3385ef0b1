/**
 * The registry of model images on Azure: an Azure Container Registry on the Premium tier (the only tier with
 * customer-managed keys and private endpoints), encrypted with a customer-managed Key Vault key through a
 * user-assigned identity, admin user and anonymous pull off (pulls and pushes authenticate with Entra ID), no public
 * network access unless `allowedCidrs` lists where pushes come from, optionally a private endpoint in the cluster's
 * VNet, and untagged manifests deleted after a retention period.
 *
 * | rule | source |
 * |---|---|
 * | CMK: Premium tier only, set at creation only, cannot be disabled, a user-assigned identity with the key | https://learn.microsoft.com/en-us/azure/container-registry/tutorial-customer-managed-keys |
 * | private endpoint (subresource "registry", zone privatelink.azurecr.io): Premium | https://learn.microsoft.com/en-us/azure/container-registry/container-registry-private-link |
 * | retention of untagged manifests (0-365 days): Premium | https://learn.microsoft.com/en-us/azure/container-registry/container-registry-retention-policy |
 * | export policy can be disabled only with public network access disabled | https://learn.microsoft.com/en-us/azure/container-registry/data-loss-prevention |
 * | dedicated data endpoints (Premium) | https://learn.microsoft.com/en-us/azure/container-registry/container-registry-dedicated-data-endpoints |
 */
import { Construct } from "constructs";
import { Token } from "cdktf";
import { ContainerRegistry } from "@cdktf/provider-azurerm/lib/container-registry";
import { UserAssignedIdentity } from "@cdktf/provider-azurerm/lib/user-assigned-identity";
import { RoleAssignment } from "@cdktf/provider-azurerm/lib/role-assignment";
import { PrivateDnsZone } from "@cdktf/provider-azurerm/lib/private-dns-zone";
import { PrivateDnsZoneVirtualNetworkLink } from "@cdktf/provider-azurerm/lib/private-dns-zone-virtual-network-link";
import { PrivateEndpoint } from "@cdktf/provider-azurerm/lib/private-endpoint";
import type { KeyVaultKeyRef } from "../core/contracts";
import { containerRegistryNameProblem } from "../core/azure-limits";
import { PropError } from "../core/prop-error";

/** The built-in role a service's identity needs to wrap and unwrap with a Key Vault key (CMK). */
const KEY_VAULT_CMK_ROLE = "Key Vault Crypto Service Encryption User";

/** A private endpoint for the registry in the cluster's VNet. */
export interface RegistryPrivateEndpointProps {
  /** The subnet the endpoint's address is taken from. Required. */
  readonly subnetId: string;
  /** An existing `privatelink.azurecr.io` private DNS zone to register in. @default - one is created, linked to `virtualNetworkId` */
  readonly privateDnsZoneId?: string;
  /** The VNet a created `privatelink.azurecr.io` zone is linked to (without `privateDnsZoneId`). @default - none */
  readonly virtualNetworkId?: string;
}

/** Props of {@link AzureContainerRegistry}. */
export interface AzureContainerRegistryProps {
  /** The registry's name: 5-50 letters and digits, globally unique (`<name>.azurecr.io`). Required. */
  readonly name: string;
  /** The existing resource group of the registry and its identity. Required. */
  readonly resourceGroupName: string;
  /** The registry's Azure region. Required. */
  readonly location: string;
  /** The Key Vault key that encrypts the registry (CMK); the vault needs purge protection. Required. */
  readonly key: KeyVaultKeyRef;
  /**
   * Public IPv4 addresses or CIDRs allowed to reach the registry (where images are pushed from). Empty: public
   * network access off, the registry reachable through a private endpoint only.
   * @default []
   */
  readonly allowedCidrs?: readonly string[];
  /** A private endpoint in the cluster's VNet, through which nodes pull. @default - none */
  readonly privateEndpoint?: RegistryPrivateEndpointProps;
  /** Principals (object ids) allowed to pull, e.g. the AKS kubelet identity: granted AcrPull on the registry. @default [] */
  readonly pullPrincipalIds?: readonly string[];
  /** Untagged manifests are deleted this many days after they lose their last tag (0-365). @default 7 */
  readonly untaggedRetentionDays?: number;
  /** Replicas in the region's availability zones. @default false */
  readonly zoneRedundancy?: boolean;
  /** Terraform refuses to destroy the registry (production). @default false */
  readonly preventDestroy?: boolean;
  /** Tags on the registry and its identity. @default {} */
  readonly tags?: Record<string, string>;
}

/** A CMK-encrypted Premium registry, admin user and anonymous pull off, closed to the internet. */
export class AzureContainerRegistry extends Construct {
  readonly registry: ContainerRegistry;
  /** Where images are pushed: `<name>.azurecr.io`. */
  readonly loginServer: string;

  constructor(scope: Construct, id: string, props: AzureContainerRegistryProps) {
    super(scope, id);
    const retention = props.untaggedRetentionDays ?? 7;
    const allowedCidrs = props.allowedCidrs ?? [];
    if (!Token.isUnresolved(props.name)) {
      const p = containerRegistryNameProblem(props.name);
      if (p) throw new PropError(this, "name", props.name, p);
    }
    if (!Number.isInteger(retention) || retention < 0 || retention > 365)
      throw new PropError(this, "untaggedRetentionDays", retention, "a whole number of days from 0 to 365");
    allowedCidrs.forEach((cidr, i) => {
      if (!Token.isUnresolved(cidr) && (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(cidr) || /\/0$/.test(cidr)))
        throw new PropError(this, `allowedCidrs[${i}]`, cidr, 'a public IPv4 address or CIDR narrower than /0, such as "203.0.113.0/24"');
    });
    const pe = props.privateEndpoint;
    if (pe && (pe.privateDnsZoneId === undefined) === (pe.virtualNetworkId === undefined))
      throw new PropError(
        this,
        "privateEndpoint",
        { ...pe },
        "exactly one of privateDnsZoneId (an existing privatelink.azurecr.io zone) or virtualNetworkId (a zone is created and linked to it)",
      );

    const tags = props.tags ?? {};
    const lifecycle = props.preventDestroy ? { preventDestroy: true } : undefined;
    const publicAccess = allowedCidrs.length > 0;

    const identity = new UserAssignedIdentity(this, "cmk_identity", {
      name: `${props.name}-cmk`,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      tags,
    });
    const keyUse = new RoleAssignment(this, "cmk_key_use", {
      scope: props.key.resourceVersionlessId,
      roleDefinitionName: KEY_VAULT_CMK_ROLE,
      principalId: identity.principalId,
      principalType: "ServicePrincipal",
      description: `The container registry ${props.name} encrypts with this key`,
    });

    this.registry = new ContainerRegistry(this, "registry", {
      name: props.name,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      // Customer-managed keys, private endpoints and retention exist on Premium only.
      sku: "Premium",
      adminEnabled: false,
      anonymousPullEnabled: false,
      publicNetworkAccessEnabled: publicAccess,
      ...(publicAccess
        ? { networkRuleSet: [{ defaultAction: "Deny", ipRule: allowedCidrs.map((ipRange) => ({ action: "Allow", ipRange })) }] }
        : // Nothing can be exported or imported across the network boundary once it is closed.
          { exportPolicyEnabled: false }),
      networkRuleBypassOption: "AzureServices",
      // Layers are served from <registry>.<region>.data.azurecr.io rather than a shared storage endpoint, so a
      // client's firewall can admit this registry's data and no other's.
      dataEndpointEnabled: true,
      retentionPolicyInDays: retention,
      zoneRedundancyEnabled: props.zoneRedundancy ?? false,
      identity: { type: "UserAssigned", identityIds: [identity.id] },
      encryption: [{ keyVaultKeyId: props.key.versionlessId, identityClientId: identity.clientId }],
      tags,
      lifecycle,
      // The key must be usable when the registry is created with it.
      dependsOn: [keyUse],
    });
    this.loginServer = this.registry.loginServer;

    (props.pullPrincipalIds ?? []).forEach(
      (principalId, i) =>
        new RoleAssignment(this, `pull_${i}`, {
          scope: this.registry.id,
          roleDefinitionName: "AcrPull",
          principalId,
          description: "Pulls model images",
        }),
    );

    if (pe) {
      let zoneId = pe.privateDnsZoneId;
      if (zoneId === undefined) {
        const zone = new PrivateDnsZone(this, "private_dns_zone", {
          name: "privatelink.azurecr.io",
          resourceGroupName: props.resourceGroupName,
          tags,
        });
        new PrivateDnsZoneVirtualNetworkLink(this, "private_dns_link", {
          name: `${props.name}-vnet`,
          resourceGroupName: props.resourceGroupName,
          privateDnsZoneName: zone.name,
          virtualNetworkId: pe.virtualNetworkId!,
          registrationEnabled: false,
          tags,
        });
        zoneId = zone.id;
      }
      new PrivateEndpoint(this, "private_endpoint", {
        name: `${props.name}-pe`,
        resourceGroupName: props.resourceGroupName,
        location: props.location,
        subnetId: pe.subnetId,
        privateServiceConnection: {
          name: `${props.name}-registry`,
          isManualConnection: false,
          privateConnectionResourceId: this.registry.id,
          subresourceNames: ["registry"],
        },
        privateDnsZoneGroup: { name: "registry", privateDnsZoneIds: [zoneId] },
        tags,
      });
    }
  }
}
