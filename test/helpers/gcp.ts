/**
 * The GCP fixture environment (test/fixtures/environments.ts), resolved with overrides, and its stack's JSON.
 */
import { Testing } from "cdktf";
import { ConfigError, resolveAllEnvironments, type GcpEnvironmentInput } from "../../config/load";
import type { GcpEnvironmentConfig } from "../../config/gcp";
import { deepMerge, type DeepPartial } from "../../config/merge";
import { GcpMlflowStack } from "../../stacks/gcp-stack";
import { gcpEnvironment } from "../fixtures/environments";
import type { TfJson } from "./synth";

/** The GCP fixture with `overrides` merged on top (arrays replaced), validated. */
export function gcpConfig(overrides: DeepPartial<GcpEnvironmentInput> | Record<string, unknown> = {}): GcpEnvironmentConfig {
  const [config] = resolveAllEnvironments({}, [deepMerge(gcpEnvironment as Record<string, unknown>, overrides as Record<string, unknown>)]);
  if (config.cloud !== "gcp") throw new Error("the GCP fixture resolved to another cloud");
  return config;
}

/** The problems reported for the GCP fixture with `overrides` (and `shared` under it); fails when it is accepted. */
export function gcpProblems(overrides: Record<string, unknown>, shared: Record<string, unknown> = {}): string[] {
  try {
    resolveAllEnvironments(shared, [deepMerge(gcpEnvironment as Record<string, unknown>, overrides)]);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("configuration was accepted");
}

/** The synthesized JSON of the GCP fixture's stack (with validations), and the stack. */
export function synthGcp(config: GcpEnvironmentConfig = gcpConfig()): { json: TfJson; stack: GcpMlflowStack } {
  const app = Testing.app();
  const stack = new GcpMlflowStack(app, config);
  return { json: JSON.parse(Testing.synth(stack, true)) as TfJson, stack };
}
