export { ConfigError, resolveEnvironments, selectEnvironments } from "./load";
export type { EnvironmentConfig, EnvironmentInput } from "./schema";
import { environments, shared } from "./environments";
import { resolveEnvironments } from "./load";
import type { EnvironmentConfig } from "./schema";

/** The validated configuration of every environment in config/environments.ts. */
export function loadEnvironments(): EnvironmentConfig[] {
  return resolveEnvironments(shared, environments);
}
