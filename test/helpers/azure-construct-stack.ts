/**
 * A bare stack with the azurerm provider, for the Azure constructs' own tests (test/constructs/<azure feature>/):
 * each synthesizes one construct on its own, without any configuration.
 */
import { Testing, TerraformStack } from "cdktf";
import { AzurermProvider } from "@cdktf/provider-azurerm/lib/provider";
import type { TfJson } from "./synth";

/** Ids the Azure construct tests share. */
export const AZ = {
  tenantId: "0b1f6471-1bf0-4dda-aec3-111122223333",
  subscriptionId: "6c7d2a0e-5e8f-4b5a-9f6e-444455556666",
  resourceGroupName: "rg-mlflow-dev",
  location: "westeurope",
  vnetId:
    "/subscriptions/6c7d2a0e-5e8f-4b5a-9f6e-444455556666/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/vnet-aks",
  subnet: (name: string) =>
    `/subscriptions/6c7d2a0e-5e8f-4b5a-9f6e-444455556666/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/vnet-aks/subnets/${name}`,
} as const;

/**
 * A stack with the azurerm provider as the Azure constructs need it: Entra ID for any storage data-plane call (the
 * Blob store's account has shared keys off) and no data-plane call at all (its firewall denies Terraform's network;
 * the container and the lifecycle policy go through Azure Resource Manager).
 */
export function azureStack(): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "test");
  new AzurermProvider(stack, "azurerm", {
    features: [{ storage: [{ dataPlaneAvailable: false }] }],
    storageUseAzuread: true,
    subscriptionId: AZ.subscriptionId,
    tenantId: AZ.tenantId,
  });
  return stack;
}

/** The stack's synthesized JSON. */
export const synthJsonOf = (stack: TerraformStack): TfJson => JSON.parse(Testing.synth(stack)) as TfJson;

/** The only resource of `type` (fails the test when there is none). */
export function only(json: TfJson, type: string): Record<string, any> {
  const all = Object.values(json.resource?.[type] ?? {});
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0] as Record<string, any>;
}

/** The Terraform name of the only resource of `type`. */
export const nameOf = (json: TfJson, type: string): string => Object.keys(json.resource?.[type] ?? {})[0];

/**
 * Calls `build` and returns nothing when it throws a PropError for `prop` whose message matches `message`; throws
 * otherwise. (No jest globals here: the type-checked build compiles test/helpers without jest's types.)
 */
export function expectPropError(build: () => unknown, prop: string, message: RegExp): void {
  let caught: unknown;
  try {
    build();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`accepted: expected a PropError for ${prop}`);
  const err = caught as Error & { prop?: string };
  if (err.name !== "PropError") throw err;
  if (err.prop !== prop) throw new Error(`PropError for ${String(err.prop)}, expected one for ${prop}: ${err.message}`);
  if (!message.test(err.message)) throw new Error(`PropError message ${JSON.stringify(err.message)} does not match ${message}`);
}
