/**
 * Test helpers shared by every suite: build an environment's configuration, synthesize its stack, and
 * read resources from the JSON.
 *
 * Two sources of configuration, on purpose:
 * - `envConfig`, `entry`, `configProblems`: the test fixture (test/fixtures/environments.ts), for tests
 *   that check specific values. A fork's configuration never changes them.
 * - `SHIPPED` and `configured`: the environments config/environments.ts defines (a fork's own, with its
 *   placeholders replaced and environments added), for tests of properties every environment must have,
 *   plus the test fixture's every-option environment (`EVERY_OPTION`, merged with config/environments.ts's
 *   `shared`): what no shipped environment turns on is checked by the same property tests. Such tests
 *   must not assume any value of a particular environment.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { environments as configuredEntries, shared as configuredShared } from "../../config/environments";
import { environments, EVERY_OPTION_NAME, everyOption, shared } from "../fixtures/environments";
import { ConfigError, resolveEnvironments } from "../../config/load";
import { deepMerge, type DeepPartial } from "../../config/merge";
import type { EnvironmentConfig, EnvironmentInput } from "../../config/schema";
import { imageCopyGrants } from "../../config/image-copies";
import { freeEnvironmentName } from "../../config/free-name";

/** Synthesized Terraform JSON of one stack. */
export type TfJson = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  provider?: Record<string, Record<string, unknown>[]>;
  terraform?: Record<string, unknown>;
  output?: Record<string, { value: unknown; sensitive?: boolean }>;
  [key: string]: unknown;
};

/** The raw entry of a fixture environment (dev, staging, prod) from test/fixtures/environments.ts. */
export function entry(name: string): DeepPartial<EnvironmentInput> {
  const found = environments.find((e) => e.name === name);
  if (!found) throw new Error(`no environment "${name}" in test/fixtures/environments.ts`);
  return found;
}

/** A validated fixture environment (default dev) with `overrides` merged on top. */
export function envConfig(name = "dev", overrides: DeepPartial<EnvironmentInput> = {}): EnvironmentConfig {
  return resolveEnvironments(shared, [deepMerge(entry(name), overrides)])[0];
}

/** The problems reported for a fixture entry (default dev) with `overrides`; fails when it is accepted. */
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
const ROOT = path.join(__dirname, "..", "..");
/** Synthesized stacks shared by every suite and every jest worker (and kept between runs). */
const DISK_CACHE = path.join(ROOT, "node_modules", ".cache", "mlflow-platform-synth");
/** What a synthesized stack depends on besides its configuration: the code and the pinned packages. */
const SOURCES = [
  "main.ts",
  "config",
  "constructs",
  "stacks",
  "policies",
  "package-lock.json",
  // Shipped as text in the tracking guard's ConfigMap (constructs/tracking-server/guard-command.ts).
  "runtime/src/mlflow_platform_guard.py",
  "runtime/src/mlflow_platform_access.py",
];

let sourceHash: string | undefined;
/** A hash of every file the synthesis reads: any change to the code makes every cached stack stale. */
function codeVersion(): string {
  if (sourceHash) return sourceHash;
  const h = createHash("sha256");
  const walk = (p: string) => {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
    } else {
      h.update(path.relative(ROOT, p)).update("\0").update(fs.readFileSync(p)).update("\0");
    }
  };
  for (const s of SOURCES) if (fs.existsSync(path.join(ROOT, s))) walk(path.join(ROOT, s));
  sourceHash = h.digest("hex");
  return sourceHash;
}

/**
 * The configuration each environment object was resolved in (its whole list): a stack is synthesized with
 * it, as `node dist/main.js` does with config/environments.ts (the stacks grant each other the release
 * pipeline's image copies: config/image-copies.ts). An environment not registered stands alone.
 */
const groups = new WeakMap<EnvironmentConfig, readonly EnvironmentConfig[]>();

/** Registers `envs` as one configuration: synthJson of any of them sees all of them. Returns `envs`. */
export function asConfiguration<T extends readonly EnvironmentConfig[]>(envs: T): T {
  for (const e of envs) groups.set(e, envs);
  return envs;
}

/** The configuration `config` belongs to (asConfiguration), or `[config]`. */
export function configurationOf(config: EnvironmentConfig): readonly EnvironmentConfig[] {
  return groups.get(config) ?? [config];
}

/**
 * Synthesizes the stack of `config` (with the other environments of its configuration, by default the ones
 * it was resolved with) and returns its parsed JSON. Memoized per configuration, in memory and on disk (keyed
 * by the configuration, what the others grant it, and a hash of the code), so the many suites that read the
 * same stacks synthesize each of them once; the stack's modules are only loaded when a synthesis is needed.
 */
export function synthJson(config: EnvironmentConfig, environments: readonly EnvironmentConfig[] = configurationOf(config)): TfJson {
  const copies = imageCopyGrants(environments, config.name, config);
  const key = createHash("sha256")
    .update(codeVersion())
    .update(JSON.stringify(config))
    .update(JSON.stringify(copies))
    .digest("hex")
    .slice(0, 32);
  let json = cache.get(key);
  if (json) return json;
  const file = path.join(DISK_CACHE, `${key}.json`);
  if (fs.existsSync(file)) {
    json = JSON.parse(fs.readFileSync(file, "utf8")) as TfJson;
  } else {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { Testing } = require("cdktf") as typeof import("cdktf");
    const { MlflowStack } = require("../../stacks/mlflow-stack") as typeof import("../../stacks/mlflow-stack");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const text = Testing.synth(new MlflowStack(Testing.app(), config, { environments }));
    json = JSON.parse(text) as TfJson;
    fs.mkdirSync(DISK_CACHE, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  }
  cache.set(key, json);
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

/**
 * The environments property tests check: config/environments.ts's (a fork's own) and the every-option one,
 * named "full" (test/fixtures/environments.ts) unless a configured environment already is, then the first
 * free "full-N": environment names must be unique, and a fork's own "full" must not break the suite.
 */
export function propertyEntries(configured: readonly DeepPartial<EnvironmentInput>[]): DeepPartial<EnvironmentInput>[] {
  const name = freeEnvironmentName(
    EVERY_OPTION_NAME,
    configured.map((e) => e.name),
  );
  return [...configured, { ...everyOption, name }];
}
const ENTRIES = propertyEntries(configuredEntries);
/** The every-option environment's name here (see propertyEntries). */
export const EVERY_OPTION = ENTRIES[ENTRIES.length - 1].name as string;
/** Validated, with config/environments.ts's shared values. */
const CONFIGURED = resolveEnvironments(configuredShared, ENTRIES);
// The shipped environments form one configuration (what node dist/main.js synthesizes); the every-option
// environment, resolved with them for their shared values, stands alone.
asConfiguration(CONFIGURED.filter((e) => e.name !== EVERY_OPTION));

/**
 * The names of the environments config/environments.ts defines (whatever a fork made of them) and, last,
 * the every-option environment. `CONFIGURED_ONLY` is the former alone: what `node dist/main.js` synthesizes.
 */
export const SHIPPED = CONFIGURED.map((e) => e.name);
export const CONFIGURED_ONLY = SHIPPED.filter((n) => n !== EVERY_OPTION);

/** The every-option environment, validated with config/environments.ts's shared values. */
export function everyOptionConfig(): EnvironmentConfig {
  return configured(EVERY_OPTION);
}

/** A validated environment of config/environments.ts, with `overrides` merged on top of its entry. */
export function configured(name: string, overrides: DeepPartial<EnvironmentInput> = {}): EnvironmentConfig {
  if (Object.keys(overrides).length === 0) {
    const found = CONFIGURED.find((e) => e.name === name);
    if (!found) throw new Error(`no environment "${name}" in config/environments.ts`);
    return found;
  }
  const raw = ENTRIES.find((e) => e.name === name);
  if (!raw) throw new Error(`no environment "${name}" in config/environments.ts`);
  return resolveEnvironments(configuredShared, [deepMerge(raw, overrides)])[0];
}
