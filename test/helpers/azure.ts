/**
 * The Azure fixture environment (test/fixtures/environments.ts), resolved with overrides, and its stack's JSON.
 */
import { Testing } from "cdktf";
import { ConfigError, resolveAllEnvironments, type AzureEnvironmentInput } from "../../config/load";
import type { AzureEnvironmentConfig } from "../../config/azure";
import { deepMerge, type DeepPartial } from "../../config/merge";
import { AzureMlflowStack } from "../../stacks/azure-stack";
import { azureEnvironment } from "../fixtures/environments";
import type { TfJson } from "./synth";

/** The Azure fixture with `overrides` merged on top (arrays replaced), validated. */
export function azureConfig(overrides: DeepPartial<AzureEnvironmentInput> | Record<string, unknown> = {}): AzureEnvironmentConfig {
  const [config] = resolveAllEnvironments({}, [
    deepMerge(azureEnvironment as Record<string, unknown>, overrides as Record<string, unknown>),
  ]);
  if (config.cloud !== "azure") throw new Error("the Azure fixture resolved to another cloud");
  return config;
}

/** The problems reported for the Azure fixture with `overrides` (and `shared` under it); fails when it is accepted. */
export function azureProblems(overrides: Record<string, unknown>, shared: Record<string, unknown> = {}): string[] {
  try {
    resolveAllEnvironments(shared, [deepMerge(azureEnvironment as Record<string, unknown>, overrides)]);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("configuration was accepted");
}

/** The synthesized JSON of the Azure fixture's stack (with validations), and the stack. */
export function synthAzure(config: AzureEnvironmentConfig = azureConfig()): { json: TfJson; stack: AzureMlflowStack } {
  const app = Testing.app();
  const stack = new AzureMlflowStack(app, config);
  return { json: JSON.parse(Testing.synth(stack, true)) as TfJson, stack };
}
