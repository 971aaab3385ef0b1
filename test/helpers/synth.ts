/**
 * Test helpers shared by every suite: build an environment's configuration from the real
 * config/environments.ts with overrides, synthesize its stack, and read resources from the JSON.
 */
import { Testing } from "cdktf";
import { environments, shared } from "../../config/environments";
import { ConfigError, resolveEnvironments } from "../../config/load";
import { deepMerge, type DeepPartial } from "../../config/merge";
import type { EnvironmentConfig, EnvironmentInput } from "../../config/schema";
import { MlflowStack } from "../../stacks/mlflow-stack";

/** Synthesized Terraform JSON of one stack. */
export type TfJson = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  provider?: Record<string, Record<string, unknown>[]>;
  terraform?: Record<string, unknown>;
  output?: Record<string, { value: unknown; sensitive?: boolean }>;
  [key: string]: unknown;
};

/** The raw entry of a shipped environment (dev, staging, prod) from config/environments.ts. */
export function entry(name: string): DeepPartial<EnvironmentInput> {
  const found = environments.find((e) => e.name === name);
  if (!found) throw new Error(`no environment "${name}" in config/environments.ts`);
  return found;
}

/** A validated environment: a shipped one (default dev) with `overrides` merged on top. */
export function envConfig(name = "dev", overrides: DeepPartial<EnvironmentInput> = {}): EnvironmentConfig {
  return resolveEnvironments(shared, [deepMerge(entry(name), overrides)])[0];
}

/** The problems reported for a shipped entry (default dev) with `overrides`; fails when it is accepted. */
export function configProblems(overrides: object, name = "dev"): string[] {
  try {
    resolveEnvironments(shared, [deepMerge(entry(name), overrides)]);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("configuration was accepted");
}

const cache = new Map<string, TfJson>();

/** Synthesizes the stack of `config` and returns its parsed JSON (memoized per configuration). */
export function synthJson(config: EnvironmentConfig): TfJson {
  const key = JSON.stringify(config);
  let json = cache.get(key);
  if (!json) {
    const app = Testing.app();
    const stack = new MlflowStack(app, config);
    json = JSON.parse(Testing.synth(stack)) as TfJson;
    cache.set(key, json);
  }
  return json;
}

/** Every resource of `type` in the stack, by its Terraform name. */
export function resourcesOf(json: TfJson, type: string): Record<string, Record<string, any>> {
  return (json.resource?.[type] ?? {}) as Record<string, Record<string, any>>;
}

/** The only resource of `type`; fails when there is not exactly one. */
export function onlyResource(json: TfJson, type: string): Record<string, any> {
  const all = Object.values(resourcesOf(json, type));
  if (all.length !== 1) throw new Error(`expected exactly one ${type}, found ${all.length}`);
  return all[0];
}

/** The names of the shipped environments. */
export const SHIPPED = environments.map((e) => e.name as string);
