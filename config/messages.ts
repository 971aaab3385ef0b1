/**
 * Turns zod's issues into the lines a user reads: every line names the environment and the field and
 * completes "expected ..." with what a valid value looks like. Unknown keys are reported at their own
 * path with the closest known key ("field mlflow.wrokers: unknown key (did you mean "workers"?)").
 */
import type { z } from "zod";

type Def = {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  options?: unknown[];
  valueType?: unknown;
};
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** The schema itself, without optional/default/pipe wrappers; unions expanded into their options. */
function unwrap(schema: unknown): unknown[] {
  let s = schema;
  for (;;) {
    const d = defOf(s);
    if (["optional", "default", "prefault", "nullable", "readonly", "catch", "nonoptional"].includes(d.type)) s = d.innerType;
    else if (d.type === "pipe") s = d.in;
    else if (d.type === "union") return (d.options ?? []).flatMap(unwrap);
    else return [s];
  }
}

/** The keys the schema knows for the object at `path` (every variant of a union). */
export function knownKeys(schema: unknown, path: readonly PropertyKey[]): string[] {
  let nodes = unwrap(schema);
  for (const segment of path) {
    nodes = nodes.flatMap((n) => {
      const d = defOf(n);
      if (d.type === "object" && typeof segment === "string" && d.shape && segment in d.shape) return unwrap(d.shape[segment]);
      if (d.type === "array" && typeof segment === "number") return unwrap(d.element);
      if (d.type === "record") return unwrap(d.valueType);
      return [];
    });
  }
  return [...new Set(nodes.flatMap((n) => (defOf(n).type === "object" ? Object.keys(defOf(n).shape ?? {}) : [])))];
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The known key closest to a misspelt one, when it is close enough to be what was meant. */
export function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : distance(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** The "unknown key" text for `key` in the object at `parent`. */
/** Keys an earlier version accepted, with what to do instead (by dotted path). */
const RETIRED_KEYS: Record<string, string> = {
  "state.roleArn":
    "unknown key (no longer a setting, remove it): the state bucket lives in the environment's own account, whose CI roles and administrators reach it with their own credentials (docs/stores.md), so Terraform assumes no role for it",
};

export function unknownKeyMessage(schema: unknown, parent: readonly PropertyKey[], key: string): string {
  const retired = RETIRED_KEYS[[...parent.map(String), key].join(".")];
  if (retired) return retired;
  const known = knownKeys(schema, parent);
  const guess = closest(key, known);
  if (guess) return `unknown key (did you mean "${guess}"?)`;
  return known.length > 0 ? `unknown key (remove it; the keys here are ${known.join(", ")})` : "unknown key (remove it)";
}

const TYPE_NAMES: Record<string, string> = {
  boolean: "true or false",
  string: "a string in quotes",
  number: "a number",
  int: "a whole number",
  object: "an object ({ ... })",
  array: "a list ([ ... ])",
  record: "an object of names to values",
};

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return "a string";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

/**
 * Per-parse error map: zod's default messages rewritten to complete "expected ...". Messages the
 * schema gives itself take precedence over it (they are written the same way).
 */
export function expectation(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type": {
      const want = TYPE_NAMES[issue.expected] ?? issue.expected;
      return issue.input === undefined ? `${want} (the field is required)` : `${want}, not ${kindOf(issue.input)}`;
    }
    case "invalid_value":
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small": {
      const n = Number(issue.minimum);
      if (issue.origin === "string") return `at least ${n} character${n === 1 ? "" : "s"}`;
      if (issue.origin === "array" || issue.origin === "set") return `at least ${n} item${n === 1 ? "" : "s"}`;
      return `a number ${issue.inclusive ? "of at least" : "greater than"} ${n}`;
    }
    case "too_big": {
      const n = Number(issue.maximum);
      if (issue.origin === "string") return `at most ${n} character${n === 1 ? "" : "s"}`;
      if (issue.origin === "array" || issue.origin === "set") return `at most ${n} item${n === 1 ? "" : "s"}`;
      return `a number ${issue.inclusive ? "of at most" : "less than"} ${n}`;
    }
    case "invalid_format":
      return issue.format === "regex" ? `text matching ${String(issue.pattern)}` : `a valid ${issue.format}`;
    case "not_multiple_of":
      return `a multiple of ${String(issue.divisor)}`;
    case "invalid_union":
      return "one of the allowed forms (see the README's configuration reference)";
    default:
      return undefined;
  }
}
