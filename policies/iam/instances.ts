/**
 * Reads the AWS resources and data sources of a synthesized stack as the IAM requests Terraform's AWS
 * provider makes for them: each instance with its attributes, the account and region it lives in, and a
 * resolver for the `${type.name.attr}` references between them (a role policy names its role by reference,
 * a pod identity association names its role's ARN), so the table in provider-actions.ts can say on which
 * ARN each call is authorized.
 */
import { partitionOf } from "../../constructs/core/aws";

/** Synthesized Terraform JSON (the parts read here). */
export interface StackJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly provider?: Record<string, readonly Record<string, unknown>[]>;
  readonly [key: string]: unknown;
}

/** Where the stack's AWS provider works. */
export interface AwsContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** The provider's default tags: every taggable resource of the stack carries them. */
  readonly defaultTags: Readonly<Record<string, string>>;
}

/** One resource or data source of a stack. */
export interface Instance {
  readonly kind: "resource" | "data";
  readonly type: string;
  readonly name: string;
  /** Its synthesized attributes (references unresolved). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the provider's schema, walked dynamically
  readonly attrs: Record<string, any>;
  /** Its construct path (the "//" metadata), e.g. "mlflow-dev/ci_roles/deploy_role". */
  readonly path: string;
  readonly aws: AwsContext;
  /** A literal string for an attribute value: references to other resources resolved where the JSON knows them. */
  readonly ref: (value: unknown) => string;
  /** The resource a reference points to (`${aws_iam_role.r.arn}` gives the role), if it is in the stack. */
  readonly target: (value: unknown) => Instance | undefined;
}

/** The account and region of the stack's (first) AWS provider. */
export function awsContextOf(json: StackJson): AwsContext {
  const p = (json.provider?.aws ?? [])[0] ?? {};
  const region = String(p.region ?? "us-east-1");
  const account = ((p.allowed_account_ids as string[] | undefined) ?? ["000000000000"])[0];
  const defaultTags = ((p.default_tags as { tags?: Record<string, string> }[] | undefined) ?? [])[0]?.tags ?? {};
  return { partition: partitionOf(region), region, account, defaultTags };
}

const REF = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)(?:\[0\])?\}$/;
/** Resources whose Terraform `id` is their ARN. */
const ID_IS_ARN = new Set([
  "aws_iam_policy",
  "aws_secretsmanager_secret",
  "aws_sns_topic",
  "aws_lb",
  "aws_lb_target_group",
  "aws_lb_listener",
  "aws_lb_listener_rule",
]);

/** Every AWS resource (and data source) of the stack. */
export function instancesOf(json: StackJson, arnOf: (i: Instance) => string | undefined): Instance[] {
  const aws = awsContextOf(json);
  const out: Instance[] = [];
  const lookup = new Map<string, Instance>();
  const make = (kind: Instance["kind"], type: string, name: string, attrs: Record<string, unknown>): Instance => {
    const meta = (attrs["//"] as { metadata?: { path?: string } } | undefined)?.metadata;
    return {
      kind,
      type,
      name,
      attrs,
      path: meta?.path ?? `${type}.${name}`,
      aws,
      ref: (v) => resolve(v),
      target: (v) => {
        const m = typeof v === "string" ? REF.exec(v) : null;
        return m ? lookup.get(`${m[1]}.${m[2]}`) : undefined;
      },
    };
  };
  const resolve = (value: unknown, depth = 0): string => {
    if (typeof value !== "string") return String(value);
    if (depth > 5) return value;
    const m = REF.exec(value);
    if (m) {
      const target = lookup.get(`${m[1]}.${m[2]}`);
      if (!target) return value;
      const attr = m[3];
      if (attr === "arn") return arnOf(target) ?? value;
      const literal = target.attrs[attr];
      if (typeof literal === "string") return resolve(literal, depth + 1);
      if (attr === "id")
        return ID_IS_ARN.has(target.type) ? (arnOf(target) ?? value) : (idOf(target, (v) => resolve(v, depth + 1)) ?? value);
      // A KMS key's id is generated: the same stand-in its ARN uses (key/<terraform name>).
      if (attr === "key_id" && target.type === "aws_kms_key") return target.name;
      if (attr === "name" && typeof target.attrs.name_prefix === "string") return `${resolve(target.attrs.name_prefix, depth + 1)}0000`;
      return value;
    }
    return value;
  };
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    if (!type.startsWith("aws_")) continue;
    for (const [name, attrs] of Object.entries(byName)) {
      const i = make("resource", type, name, attrs);
      lookup.set(`${type}.${name}`, i);
      out.push(i);
    }
  }
  for (const [type, byName] of Object.entries(json.data ?? {})) {
    if (!type.startsWith("aws_")) continue;
    for (const [name, attrs] of Object.entries(byName)) out.push(make("data", type, name, attrs));
  }
  return out;
}

/** The `id` the provider gives a resource, where it is a name the JSON knows. */
function idOf(i: Instance, resolve: (v: unknown) => string): string | undefined {
  switch (i.type) {
    case "aws_s3_bucket":
      return resolve(i.attrs.bucket);
    case "aws_iam_role":
      return resolve(i.attrs.name);
    default:
      return undefined;
  }
}
