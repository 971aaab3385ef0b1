export { ConfigError, resolveAllEnvironments, resolveEnvironments, selectEnvironments, type AnyEnvironmentConfig } from "./load";
export type { GcpEnvironmentConfig } from "./gcp";
export type { AzureEnvironmentConfig } from "./azure";
export type { EnvironmentConfig, EnvironmentInput } from "./schema";
import { environments, shared } from "./environments";
import { resolveAllEnvironments, resolveEnvironments, type AnyEnvironmentConfig } from "./load";
import type { EnvironmentConfig } from "./schema";

/** The validated configuration of every environment in config/environments.ts. */
export function loadEnvironments(): EnvironmentConfig[] {
  return resolveEnvironments(shared, environments);
}

/** Every environment in config/environments.ts, of any cloud (what the synth builds). */
export function loadAllEnvironments(): AnyEnvironmentConfig[] {
  return resolveAllEnvironments(shared, environments);
}
