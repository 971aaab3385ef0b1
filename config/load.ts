import * as path from "path";
import type { z } from "zod";
import { deepMerge, type DeepPartial } from "./merge";
import { expectation, unknownKeyMessage } from "./messages";
import { environmentSchema, type EnvironmentConfig, type EnvironmentInput } from "./schema";
import { GCP_REFUSALS, gcpEnvironmentSchema, type GcpEnvironmentConfig } from "./gcp";
import { AZURE_REFUSALS, azureEnvironmentSchema, type AzureEnvironmentConfig, type AzureEnvironmentInput } from "./azure";
import { refusedFields, type CloudRefusals } from "./cloud-refusals";

/** An environment of any cloud: `cloud` tells which. */
export type AnyEnvironmentConfig = EnvironmentConfig | GcpEnvironmentConfig | AzureEnvironmentConfig;
import { STATE_BUCKET_ACCOUNT_PLACEHOLDER } from "./state";

/** Raised before synthesis when the configuration is invalid; `problems` has one line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Merges `shared` into each environment entry, validates the result and returns the typed configurations
 * of the AWS environments: what the commands for AWS environments only (the bootstrap, CI, the release tools)
 * and the AWS stacks' tests read. A GCP or Azure entry is validated all the same (a configuration with a bad
 * environment on another cloud is refused everywhere) and left out: a fork with environments on several clouds
 * keeps its AWS ones working. Throws a ConfigError naming every problem (environment, field, value, expectation).
 */
export function resolveEnvironments(
  shared: DeepPartial<EnvironmentInput>,
  entries: readonly DeepPartial<EnvironmentInput | GcpEnvironmentInput | AzureEnvironmentInput>[],
): EnvironmentConfig[] {
  return resolve(shared, entries).filter((e): e is EnvironmentConfig => e.cloud === "aws");
}

/**
 * Like {@link resolveEnvironments}, for the commands that handle every cloud (the synth): an entry with
 * `cloud: "gcp"` is validated by config/gcp.ts instead, one with `cloud: "azure"` by config/azure.ts, their
 * AWS-only fields refused one by one.
 */
export function resolveAllEnvironments(
  shared: DeepPartial<EnvironmentInput>,
  entries: readonly DeepPartial<EnvironmentInput | GcpEnvironmentInput | AzureEnvironmentInput>[],
): AnyEnvironmentConfig[] {
  return resolve(shared, entries);
}

/** What a GCP environment entry may be written as (before defaults). */
export type GcpEnvironmentInput = import("zod").input<typeof gcpEnvironmentSchema>;
export type { AzureEnvironmentInput };

/** A cloud other than AWS: its schema, its refusals and where an environment of it keeps its state. */
interface OtherCloud {
  readonly schema: typeof gcpEnvironmentSchema | typeof azureEnvironmentSchema;
  readonly refusals: CloudRefusals;
  /** The state's location (a URL or a local file) and the field that names it, for the shared-state check. */
  readonly stateLocation: (env: GcpEnvironmentConfig | AzureEnvironmentConfig) => { where: string; field: string; value: string };
}

/** A local state file's location: relative to the stack's folder, cdktf.out/stacks/<project>-<name>. */
const localState = (env: { project: string; name: string }, file: string) =>
  path.posix.join("cdktf.out/stacks", `${env.project}-${env.name}`, file.replaceAll("{env}", env.name));

const OTHER_CLOUDS: Record<"gcp" | "azure", OtherCloud> = {
  gcp: {
    schema: gcpEnvironmentSchema,
    refusals: GCP_REFUSALS,
    stateLocation: (env) => {
      const s = (env as GcpEnvironmentConfig).state;
      return s.backend === "gcs"
        ? { where: `gs://${s.bucket}/${s.prefix.replaceAll("{env}", env.name)}`, field: "state.prefix", value: s.prefix }
        : { where: localState(env, s.path), field: "state.path", value: s.path };
    },
  },
  azure: {
    schema: azureEnvironmentSchema,
    refusals: AZURE_REFUSALS,
    stateLocation: (env) => {
      const s = (env as AzureEnvironmentConfig).state;
      return s.backend === "azurerm"
        ? {
            where: `https://${s.storageAccountName}.blob.core.windows.net/${s.containerName}/${s.key.replaceAll("{env}", env.name)}`,
            field: "state.key",
            value: s.key,
          }
        : { where: localState(env, s.path), field: "state.path", value: s.path };
    },
  },
};

/** The sections only another cloud has: an AWS entry that carries one is told which cloud it belongs to. */
const FOREIGN_ON_AWS: Record<string, string> = { gcp: "Google Cloud", azure: "Azure" };

function resolve(
  shared: DeepPartial<EnvironmentInput>,
  entries: readonly DeepPartial<EnvironmentInput | GcpEnvironmentInput | AzureEnvironmentInput>[],
): AnyEnvironmentConfig[] {
  const problems: string[] = [];
  const result: AnyEnvironmentConfig[] = [];
  const seen = new Map<string, number>();
  // Where each environment keeps its state, also for an environment with other problems: a state
  // location shared with another environment is reported in the same run.
  const states: StateOwner[] = [];
  // Where each GCP or Azure environment keeps its state (a gs:// or blob location, or a local file), by the first
  // environment using it.
  const otherStates = new Map<string, string>();

  if (entries.length === 0) problems.push("no environments are configured: add at least one entry to config/environments.ts");

  entries.forEach((entry, index) => {
    const label = typeof entry.name === "string" ? `environment "${entry.name}"` : `environment #${index + 1}`;
    if (typeof entry.name === "string") {
      const first = seen.get(entry.name);
      if (first !== undefined) {
        problems.push(
          `${label}: field name = ${show(entry.name)}: expected a unique environment name (entry #${first + 1} already uses it)`,
        );
      } else {
        seen.set(entry.name, index);
      }
    }
    const merged = deepMerge(shared as Record<string, unknown>, entry as Record<string, unknown>);
    const other = merged.cloud === "gcp" || merged.cloud === "azure" ? OTHER_CLOUDS[merged.cloud] : undefined;
    if (other) {
      // An AWS-only field is reported as such (with what to write instead), then left out of the parse.
      const fromShared = (path: readonly string[]) => valueAt(entry, path) === undefined;
      const { problems: awsOnly, rest, covered } = refusedFields(merged, fromShared, other.refusals);
      for (const p of awsOnly) problems.push(`${label}: field ${p.path.join(".")} = ${show(p.value)}: expected ${p.message}`);
      const parsed = other.schema.safeParse(rest, { error: expectation });
      if (parsed.success) {
        const { where, field, value } = other.stateLocation(parsed.data);
        const owner = otherStates.get(where);
        if (owner !== undefined) {
          problems.push(
            `${label}: field ${field} = ${show(value)}: expected a state location no other environment uses: environment "${owner}" also keeps its state in ${where}; put {env} in it`,
          );
          return;
        }
        otherStates.set(where, parsed.data.name);
        if (awsOnly.length === 0) result.push(parsed.data);
        return;
      }
      const uncovered = parsed.error.issues.filter((i) => !covered.some((c) => c.every((key, n) => i.path[n] === key)));
      problems.push(...issueLines(label, other.schema, rest, uncovered));
      return;
    }
    // Another cloud's section on an AWS environment: said so, rather than "unknown key".
    for (const [section, owner] of Object.entries(FOREIGN_ON_AWS)) {
      const value = (merged as Record<string, unknown>)[section];
      if (value === undefined) continue;
      if (valueAt(entry, [section]) !== undefined)
        problems.push(
          `${label}: field ${section} = ${show(value)}: expected no ${section} on an AWS environment: it is the ${owner} section (an environment with cloud: "${section}")`,
        );
      delete (merged as Record<string, unknown>)[section];
    }
    const state = environmentSchema.shape.state.safeParse(merged.state);
    const project = environmentSchema.shape.project.safeParse(merged.project);
    const accountId = (merged.aws as { accountId?: unknown } | undefined)?.accountId;
    if (
      typeof entry.name === "string" &&
      seen.get(entry.name) === index &&
      state.success &&
      project.success &&
      typeof accountId === "string"
    ) {
      states.push({ name: entry.name, project: project.data, state: state.data, aws: { accountId } });
    }
    const parsed = environmentSchema.safeParse(merged, { error: expectation });
    if (parsed.success) {
      result.push(parsed.data);
      return;
    }
    problems.push(...issueLines(label, environmentSchema, merged, parsed.error.issues));
  });

  problems.push(...sharedStateProblems(states));

  if (problems.length > 0) throw new ConfigError(problems);
  return result;
}

/** One line per zod issue: environment, field, value and what was expected. */
function issueLines(label: string, schema: unknown, input: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  const reported = new Set<string>();
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const field = [...issue.path, key].map(String).join(".");
        lines.push(`${label}: field ${field}: ${unknownKeyMessage(schema, issue.path, key)}`);
      }
      continue;
    }
    const field = issue.path.map(String).join(".") || "(root)";
    // Cross-field checks also run on a field that failed its own check: report a field once.
    if (reported.has(field) && issue.code === "custom") continue;
    reported.add(field);
    lines.push(`${label}: field ${field} = ${show(valueAt(input, issue.path))}: expected ${issue.message}`);
  }
  return lines;
}

/**
 * Where each environment keeps its Terraform state. Two environments that resolve to the same S3 object
 * or local file would overwrite each other's state: the later one is refused.
 */
type StateOwner = Pick<EnvironmentConfig, "name" | "project" | "state"> & { readonly aws: { readonly accountId: string } };

function sharedStateProblems(envs: readonly StateOwner[]): string[] {
  const problems: string[] = [];
  const owners = new Map<string, string>();
  // A bucket lives in one account: environments of other accounts could not read it (docs/stores.md).
  const bucketAccounts = new Map<string, { env: string; account: string }>();
  for (const env of envs) {
    const s = env.state;
    if (s.backend === "s3") {
      const bucket = s.bucket.replaceAll(STATE_BUCKET_ACCOUNT_PLACEHOLDER, env.aws.accountId);
      const first = bucketAccounts.get(bucket);
      if (first === undefined) {
        bucketAccounts.set(bucket, { env: env.name, account: env.aws.accountId });
      } else if (first.account !== env.aws.accountId && [first.account, env.aws.accountId].every((a) => /^\d{12}$/.test(a))) {
        problems.push(
          `environment "${env.name}": field state.bucket = ${show(s.bucket)}: expected a state bucket of this environment's own account (${env.aws.accountId}): environment "${first.env}" (account ${first.account}) keeps its state in the same bucket "${bucket}", which lives in one account, and each account's CI roles and state key reach only their own; give each account its own bucket, e.g. "${s.bucket.includes(STATE_BUCKET_ACCOUNT_PLACEHOLDER) ? s.bucket : `${s.bucket}-${STATE_BUCKET_ACCOUNT_PLACEHOLDER}`}" (${STATE_BUCKET_ACCOUNT_PLACEHOLDER} is replaced with aws.accountId)`,
        );
        continue;
      }
    }
    const where =
      s.backend === "s3"
        ? `s3://${s.bucket.replaceAll(STATE_BUCKET_ACCOUNT_PLACEHOLDER, env.aws.accountId)}/${s.key.replaceAll("{env}", env.name)}`
        : // A local path is relative to the stack's folder, cdktf.out/stacks/<project>-<name>.
          path.posix.join("cdktf.out/stacks", `${env.project}-${env.name}`, s.path.replaceAll("{env}", env.name));
    const owner = owners.get(where);
    if (owner === undefined) {
      owners.set(where, env.name);
      continue;
    }
    const [field, value, example] =
      s.backend === "s3"
        ? ["state.key", s.key, "mlflow/{env}/terraform.tfstate"]
        : ["state.path", s.path, "../../../terraform.{env}.tfstate"];
    problems.push(
      `environment "${env.name}": field ${field} = ${show(value)}: expected a state location no other environment uses: environment "${owner}" also keeps its state in ${where}, and each would overwrite the other's; put {env} in it (e.g. "${example}")`,
    );
  }
  return problems;
}

/**
 * Keeps the environments named in `filter` (comma-separated, e.g. "dev,prod"); all when it is empty.
 * An unknown name is an error, so a typo never silently synthesizes nothing.
 */
export function selectEnvironments<E extends { readonly name: string }>(all: E[], filter: string | undefined): E[] {
  const wanted = (filter ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.length === 0) return all;
  const known = new Set(all.map((e) => e.name));
  const unknown = wanted.filter((w) => !known.has(w));
  if (unknown.length > 0) {
    throw new ConfigError(unknown.map((u) => `environment filter names "${u}": expected one of ${[...known].join(", ")}`));
  }
  return all.filter((e) => wanted.includes(e.name));
}
