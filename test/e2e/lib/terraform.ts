/**
 * Resolves the Terraform expressions (`${type.name.attribute}`) the synthesized JSON leaves in
 * container commands and Secrets, the way `terraform apply` would, with local stand-ins:
 *   - an attribute the configuration sets literally is read from the JSON (a bucket's name);
 *   - an address the cloud would assign (the database endpoint) comes from the harness's table;
 *   - random_password / random_string / random_id values are generated locally, honouring the
 *     resource's length and character-set arguments, once per resource, and live only in memory
 *     (as they would live only in Terraform state).
 * Anything else is an error naming the expression: the harness never guesses.
 */
import { randomBytes, randomInt } from "crypto";
import { one, type StackJson } from "./workloads";

/** Supplies values for expressions the harness decides (addresses): return undefined to pass. */
export type Override = (expr: string) => string | undefined;

const TOKEN = /\$\{([^{}]*)\}/g;

function walk(value: unknown, path: string[]): unknown {
  let v: any = value;
  for (const p of path) {
    if (v === undefined || v === null) return undefined;
    const m = /^(\w+)((\[\d+\])*)$/.exec(p);
    if (!m) return undefined;
    v = v[m[1]];
    const idx = [...m[2].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    for (const i of idx) v = Array.isArray(v) ? v[i] : i === 0 ? v : undefined;
    if (idx.length === 0 && Array.isArray(v) && v.length === 1 && typeof v[0] === "object") v = v[0];
  }
  return v;
}

export class TerraformValues {
  private readonly generated = new Map<string, string>();
  /** Every expression resolved, with how (for the log). */
  readonly resolved = new Map<string, string>();

  constructor(
    private readonly json: StackJson,
    private readonly override: Override,
  ) {}

  /** The resource a reference names (`aws_s3_bucket.x` or `data.aws_x.y`), and the attribute path. */
  private split(expr: string): { block: Record<string, any> | undefined; address: string; attr: string[] } {
    const parts = expr.split(".");
    if (parts[0] === "data") {
      const block = this.json.data?.[parts[1]]?.[parts[2]];
      return { block, address: parts.slice(0, 3).join("."), attr: parts.slice(3) };
    }
    const block = this.json.resource?.[parts[0]]?.[parts[1]];
    return { block, address: parts.slice(0, 2).join("."), attr: parts.slice(2) };
  }

  /**
   * Keeps the random values another synthesis of the same environment generated, as Terraform keeps
   * them in its state across applies: a redeploy with a changed configuration still finds the
   * database password, the cookie secret and every other generated value of the first deploy.
   */
  keepStateOf(previous: TerraformValues): this {
    for (const [k, v] of previous.generated) if (!this.generated.has(k)) this.generated.set(k, v);
    return this;
  }

  /** The value of one expression (the text between `${` and `}`). */
  expression(expr: string): string {
    const e = expr.trim();
    const o = this.override(e);
    if (o !== undefined) {
      this.resolved.set(e, "harness address");
      return o;
    }
    if (!/^[a-z_][\w-]*(\.[\w-]+(\[\d+\])*)+$/i.test(e)) return this.call(e);
    const { block, address, attr } = this.split(e);
    if (!block) throw new Error(`\${${e}} references ${address}, which is not in the synthesized stack`);
    const type = address.split(".")[address.startsWith("data.") ? 1 : 0];
    const random = this.random(type, address, block, attr.join("."));
    if (random !== undefined) {
      this.resolved.set(e, `generated locally (${type})`);
      return random;
    }
    const literal = walk(block, attr);
    if (literal === undefined || literal === null || typeof literal === "object") {
      throw new Error(
        `\${${e}}: ${attr.join(".")} is not set literally on ${address} (computed by the cloud) and the harness has no local stand-in for it`,
      );
    }
    this.resolved.set(e, "literal in the stack");
    return this.string(String(literal));
  }

  /**
   * A function call of Terraform's language, for the few string functions a stack uses to shape a
   * generated value (`replace` with a /regex/, `lower`, `upper`, `trimspace`, `base64encode`,
   * `base64decode`). Anything else is an error naming it.
   */
  private call(e: string): string {
    let i = 0;
    const ws = () => {
      while (/\s/.test(e[i] ?? "")) i++;
    };
    const parse = (): string => {
      ws();
      if (e[i] === '"') {
        let out = "";
        i++;
        while (i < e.length && e[i] !== '"') {
          if (e[i] === "\\") {
            const n = e[++i];
            out += n === "n" ? "\n" : n === "t" ? "\t" : n;
          } else out += e[i];
          i++;
        }
        i++;
        return out;
      }
      const m = /^[A-Za-z_][\w-]*(\.[\w-]+(\[\d+\])*)*/.exec(e.slice(i));
      if (!m) throw new Error(`cannot parse the Terraform expression \${${e}} at "${e.slice(i, i + 20)}"`);
      i += m[0].length;
      ws();
      if (e[i] !== "(") return this.expression(m[0]);
      i++;
      const args: string[] = [];
      ws();
      while (e[i] !== ")") {
        args.push(parse());
        ws();
        if (e[i] === ",") i++;
        else if (e[i] !== ")") throw new Error(`cannot parse the Terraform expression \${${e}}`);
      }
      i++;
      return applyFunction(m[0], args, e);
    };
    const value = parse();
    ws();
    if (i < e.length) throw new Error(`cannot parse the Terraform expression \${${e}} (trailing "${e.slice(i)}")`);
    return value;
  }

  /** Resolves every `${...}` in a string (recursively, for literals that are references themselves). */
  string(s: string): string {
    return s.replace(TOKEN, (_m, expr: string) => this.expression(expr));
  }

  private random(type: string, address: string, block: Record<string, any>, attr: string): string | undefined {
    const key = `${address}.${attr}`;
    if (this.generated.has(key)) return this.generated.get(key);
    let value: string | undefined;
    if ((type === "random_password" || type === "random_string") && attr === "result") {
      value = randomString(block);
    } else if (type === "random_bytes" && ["base64", "hex"].includes(attr)) {
      const buf = randomBytes(Number(block.length));
      value = attr === "hex" ? buf.toString("hex") : buf.toString("base64");
      const other = attr === "hex" ? buf.toString("base64") : buf.toString("hex");
      this.generated.set(`${address}.${attr === "hex" ? "base64" : "hex"}`, other);
    } else if (type === "random_id" && ["hex", "b64_url", "b64_std", "id", "dec"].includes(attr)) {
      const bytes = this.generated.get(`${address}#bytes`) ?? randomBytes(Number(block.byte_length)).toString("hex");
      this.generated.set(`${address}#bytes`, bytes);
      const buf = Buffer.from(bytes, "hex");
      value =
        attr === "hex"
          ? bytes
          : attr === "b64_std"
            ? buf.toString("base64")
            : attr === "dec"
              ? BigInt(`0x${bytes}`).toString()
              : buf.toString("base64url");
      if (block.prefix) value = `${block.prefix}${value}`;
    }
    if (value !== undefined) this.generated.set(key, value);
    return value;
  }
}

function applyFunction(name: string, args: string[], whole: string): string {
  const arity = (n: number) => {
    if (args.length !== n) throw new Error(`${name}() takes ${n} arguments in \${${whole}}`);
  };
  switch (name) {
    case "replace": {
      arity(3);
      const [str, search, replacement] = args;
      if (search.length > 1 && search.startsWith("/") && search.endsWith("/")) {
        return str.replace(new RegExp(search.slice(1, -1), "g"), replacement);
      }
      return str.split(search).join(replacement);
    }
    case "lower":
      arity(1);
      return args[0].toLowerCase();
    case "upper":
      arity(1);
      return args[0].toUpperCase();
    case "trimspace":
      arity(1);
      return args[0].trim();
    case "base64encode":
      arity(1);
      return Buffer.from(args[0], "utf8").toString("base64");
    case "base64decode":
      arity(1);
      return Buffer.from(args[0], "base64").toString("utf8");
    default:
      throw new Error(`the Terraform function ${name}() in \${${whole}} has no local implementation`);
  }
}

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = LOWER.toUpperCase();
const DIGITS = "0123456789";
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** A value as the random provider's random_password/random_string would make it, from its arguments. */
export function randomString(args: Record<string, any>): string {
  const length = Number(args.length);
  if (!Number.isInteger(length) || length < 1) throw new Error(`random length ${args.length} is not a positive whole number`);
  const flag = (name: string) => (args[name] === undefined ? true : args[name] === true || args[name] === "true");
  const classes: { chars: string; min: number }[] = [];
  if (flag("lower")) classes.push({ chars: LOWER, min: Number(args.min_lower ?? 0) });
  if (flag("upper")) classes.push({ chars: UPPER, min: Number(args.min_upper ?? 0) });
  if (flag("numeric") && flag("number")) classes.push({ chars: DIGITS, min: Number(args.min_numeric ?? 0) });
  if (flag("special")) classes.push({ chars: args.override_special ?? SPECIAL, min: Number(args.min_special ?? 0) });
  const all = classes.map((c) => c.chars).join("");
  if (!all) throw new Error("random_password with every character class off");
  const out: string[] = [];
  for (const c of classes) for (let i = 0; i < c.min; i++) out.push(c.chars[randomInt(c.chars.length)]);
  while (out.length < length) out.push(all[randomInt(all.length)]);
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out.join("");
}

export { one };
