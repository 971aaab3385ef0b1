/**
 * The one error every construct raises for a prop it refuses, at synth time. It names the construct (its
 * path), the prop (a dotted path within the construct's props, e.g. `database.instanceClass`), the value
 * and what is expected, in one style:
 *
 *     mlflow-dev/backend_store: instanceClass is "m5.large": expected an RDS instance class such as "db.t4g.micro"
 *
 * It speaks of props only: a construct is reusable outside this app, so its errors never name this app's
 * configuration. The app translates a PropError back to the configuration field behind the prop with
 * the from-config mapping's {@link PropFieldMap} (stacks/prop-errors.ts).
 */
import type { IConstruct } from "constructs";

/** How a redacted value is shown. */
export const REDACTED = "(a secret, not shown)";

/** The longest a rendered value gets before it is cut, so a large list cannot flood the report. */
export const MAX_RENDERED_VALUE = 80;

export interface PropErrorOptions {
  /**
   * The prop can carry a secret (a password, a webhook URL with its token): the value is neither shown
   * in the message nor kept on the error.
   */
  readonly secret?: boolean;
}

/**
 * A cdktf token (a value Terraform knows only at deploy time). Recognised by its encoding rather than with
 * cdktf's Token, so that pure modules (the commands) may raise PropError without loading cdktf.
 */
function isToken(value: unknown): boolean {
  if (typeof value === "string") return /\$\{TfToken\[|#\{TfToken\[/.test(value);
  // cdktf encodes a number token as a huge negative double (about -8.1e+298), a list as a list of one token string.
  if (Array.isArray(value)) return value.length === 1 && isToken(value[0]);
  return typeof value === "number" && Number.isFinite(value) && value < -1e288;
}

/** A value as a message shows it: JSON, cut at {@link MAX_RENDERED_VALUE} characters; never throws. */
export function renderValue(value: unknown): string {
  if (value === undefined) return "unset";
  if (isToken(value)) return "a value known only at deploy time";
  let s: string | undefined;
  try {
    s = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    s = undefined; // a cycle: say what it is instead
  }
  if (s === undefined) s = /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
  if (typeof value === "number" && !Number.isFinite(value)) s = String(value); // JSON would say null
  return s.length > MAX_RENDERED_VALUE ? `${s.slice(0, MAX_RENDERED_VALUE - 3)}...` : s;
}

/**
 * A construct's path as its errors name it. A child with the id "Default" is its parent's implementation
 * (cdktf hides it from logical ids too): the parent is what the user created.
 */
export function constructPathOf(scope: IConstruct | string): string {
  const path = typeof scope === "string" ? scope : scope.node.path;
  return path.replace(/(\/Default)+$/, "");
}

/** A prop a construct refuses: see the module's comment. */
export class PropError extends Error {
  /** The path of the construct that refused it, e.g. "mlflow-dev/backend_store". */
  readonly constructPath: string;
  /** The dotted path of the prop within the construct's props, e.g. "lifecycle.expireDays". */
  readonly prop: string;
  /** The value refused ({@link REDACTED} for a secret prop). */
  readonly value: unknown;
  /** What is expected instead, and how to get there. */
  readonly expected: string;
  /** The prop can carry a secret: the value was redacted. */
  readonly secret: boolean;

  constructor(scope: IConstruct | string, prop: string, value: unknown, expected: string, options: PropErrorOptions = {}) {
    const constructPath = constructPathOf(scope);
    const secret = options.secret === true;
    super(`${constructPath}: ${prop} is ${secret ? REDACTED : renderValue(value)}: expected ${expected}`);
    this.name = "PropError";
    this.constructPath = constructPath;
    this.prop = prop;
    this.value = secret ? REDACTED : value;
    this.expected = expected;
    this.secret = secret;
  }
}

/**
 * Where each prop of a construct comes from in this app's configuration, declared by the mapping that
 * builds the props from configuration (from-config.ts). Keys are dotted prop paths; a prop not listed is
 * covered by its longest listed prefix ("lifecycle" covers "lifecycle.expireDays"). `null` says the
 * stack sets the prop itself (another construct's contract, a derived name): refusing it is a bug in
 * the stack, not a configuration problem.
 */
export type PropFieldMap = Readonly<Record<string, string | null>>;

/** The entry of `map` for `prop`: its longest listed prefix, list indices ignored; undefined if none. */
export function fieldOfProp(map: PropFieldMap, prop: string): { readonly key: string; readonly field: string | null } | undefined {
  const segments = prop.replace(/\[[^\]]*\]/g, "").split(".");
  for (let n = segments.length; n > 0; n--) {
    const key = segments.slice(0, n).join(".");
    if (Object.prototype.hasOwnProperty.call(map, key)) {
      const field = map[key];
      // A nested prop under a mapped prop maps to the same nesting under the field.
      return { key, field: field === null ? null : field + prop.replace(/\[[^\]]*\]/g, "").slice(key.length) };
    }
  }
  return undefined;
}
