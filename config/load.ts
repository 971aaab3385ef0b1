import * as path from "path";
import type { z } from "zod";
import { deepMerge, type DeepPartial } from "./merge";
import { expectation, unknownKeyMessage } from "./messages";
import { environmentSchema, type EnvironmentConfig, type EnvironmentInput } from "./schema";
import { awsOnlyFields, gcpEnvironmentSchema, type GcpEnvironmentConfig } from "./gcp";

/** An environment of either cloud: `cloud` tells which. */
export type AnyEnvironmentConfig = EnvironmentConfig | GcpEnvironmentConfig;
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
 * and the AWS stacks' tests read. A GCP entry is validated all the same (a configuration with a bad GCP
 * environment is refused everywhere) and left out: a fork with environments on both clouds keeps its AWS ones
 * working. Throws a ConfigError naming every problem (environment, field, value, expectation).
 */
export function resolveEnvironments(
  shared: DeepPartial<EnvironmentInput>,
  entries: readonly DeepPartial<EnvironmentInput | GcpEnvironmentInput>[],
): EnvironmentConfig[] {
  return resolve(shared, entries).filter((e): e is EnvironmentConfig => e.cloud === "aws");
}

/**
 * Like {@link resolveEnvironments}, for the commands that handle every cloud (the synth): an entry with
 * `cloud: "gcp"` is validated by config/gcp.ts instead, its AWS-only fields refused one by one.
 */
export function resolveAllEnvironments(
  shared: DeepPartial<EnvironmentInput>,
  entries: readonly DeepPartial<EnvironmentInput | GcpEnvironmentInput>[],
): AnyEnvironmentConfig[] {
  return resolve(shared, entries);
}

/** What a GCP environment entry may be written as (before defaults). */
export type GcpEnvironmentInput = import("zod").input<typeof gcpEnvironmentSchema>;

function resolve(
  shared: DeepPartial<EnvironmentInput>,
  entries: readonly DeepPartial<EnvironmentInput | GcpEnvironmentInput>[],
): AnyEnvironmentConfig[] {
  const problems: string[] = [];
  const result: AnyEnvironmentConfig[] = [];
  const seen = new Map<string, number>();
  // Where each environment keeps its state, also for an environment with other problems: a state
  // location shared with another environment is reported in the same run.
  const states: StateOwner[] = [];
  // Where each GCP environment keeps its state (a gs:// location or a local file), by the first environment using it.
  const gcpStates = new Map<string, string>();

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
    if (merged.cloud === "gcp") {
      // An AWS-only field is reported as such (with what to write instead), then left out of the parse.
      const fromShared = (path: readonly string[]) => valueAt(entry, path) === undefined;
      const { problems: awsOnly, rest, covered } = awsOnlyFields(merged, fromShared);
      for (const p of awsOnly) problems.push(`${label}: field ${p.path.join(".")} = ${show(p.value)}: expected ${p.message}`);
      const parsed = gcpEnvironmentSchema.safeParse(rest, { error: expectation });
      if (parsed.success) {
        const s = parsed.data.state;
        const where =
          s.backend === "gcs"
            ? `gs://${s.bucket}/${s.prefix.replaceAll("{env}", parsed.data.name)}`
            : path.posix.join(
                "cdktf.out/stacks",
                `${parsed.data.project}-${parsed.data.name}`,
                s.path.replaceAll("{env}", parsed.data.name),
              );
        const owner = gcpStates.get(where);
        if (owner !== undefined) {
          const field = s.backend === "gcs" ? "state.prefix" : "state.path";
          problems.push(
            `${label}: field ${field} = ${show(s.backend === "gcs" ? s.prefix : s.path)}: expected a state location no other environment uses: environment "${owner}" also keeps its state in ${where}; put {env} in it`,
          );
          return;
        }
        gcpStates.set(where, parsed.data.name);
        if (awsOnly.length === 0) result.push(parsed.data);
        return;
      }
      const uncovered = parsed.error.issues.filter((i) => !covered.some((c) => c.every((key, n) => i.path[n] === key)));
      problems.push(...issueLines(label, gcpEnvironmentSchema, rest, uncovered));
      return;
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
