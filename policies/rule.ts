/**
 * The base of every synth-time policy rule (cdk-nag style): an Aspect that, when it visits a stack,
 * reads the stack's resolved Terraform JSON (what cdk.tf.json will contain), runs one check over it
 * and attaches an error annotation to each offending resource. Error annotations abort `cdktf synth`
 * (and `app.synth()`), so a violation never reaches a plan.
 */
import { Annotations, TerraformDataSource, TerraformResource, TerraformStack, type IAspect } from "cdktf";
import type { IConstruct } from "constructs";

/** Resolved Terraform JSON of one stack. */
export type TfJson = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  [key: string]: unknown;
};

/** The attributes of a synthesized resource: the provider's shape, walked dynamically. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON has the provider's schema, not ours
export type Attrs = Record<string, any>;

/** One violation: where (`<type>.<name>`, or a JSON path when no resource applies) and why. */
export interface Finding {
  readonly resource: string;
  readonly message: string;
}

/** A policy rule: an id, the reason it exists, and a pure check over the stack's JSON. */
export abstract class PolicyRule implements IAspect {
  /** Stable id, e.g. "MLF-S3-1", shown with every finding. */
  abstract readonly id: string;
  /** Why the rule exists (shown with every finding). */
  abstract readonly reason: string;
  /** The violations in `json`; empty when the stack complies. */
  abstract check(json: TfJson): Finding[];

  visit(node: IConstruct): void {
    if (node instanceof TerraformStack) this.report(node, node.toTerraform() as TfJson);
  }

  /** Runs the check over `json` (the stack's resolved JSON) and annotates each offending resource. */
  report(stack: TerraformStack, json: TfJson): Finding[] {
    const findings = this.check(json);
    if (findings.length === 0) return findings;
    const elements = elementsByAddress(stack);
    for (const finding of findings) {
      Annotations.of(elements.get(finding.resource) ?? stack).addError(
        `[${this.id}] ${finding.message} (${finding.resource}). ${this.reason}`,
      );
    }
    return findings;
  }
}

/** The resources and data sources of a stack by Terraform address (`aws_s3_bucket.x`, `data.aws_iam_policy_document.y`). */
function elementsByAddress(stack: TerraformStack): Map<string, IConstruct> {
  const elements = new Map<string, IConstruct>();
  for (const child of stack.node.findAll()) {
    if (child instanceof TerraformResource) {
      elements.set(`${child.terraformResourceType}.${stack.getLogicalId(child)}`, child);
    } else if (child instanceof TerraformDataSource) {
      elements.set(`data.${child.terraformResourceType}.${stack.getLogicalId(child)}`, child);
    }
  }
  return elements;
}

/** Every resource of `type` with its Terraform name. */
export function resources(json: TfJson, type: string): [string, Attrs][] {
  return Object.entries(json.resource?.[type] ?? {}) as [string, Attrs][];
}

/** True when `value` is a Terraform reference to `<type>.<name>` (any attribute). */
export function refersTo(value: unknown, type: string, name: string): boolean {
  return typeof value === "string" && new RegExp(`\\$\\{${type}\\.${name}\\.(id|bucket|arn)\\}`).test(value);
}

/**
 * True when a bucket-level resource (encryption configuration, policy, public access block...) belongs
 * to the bucket `aws_s3_bucket.<name>`: it references the bucket, or names the same literal bucket.
 */
export function belongsToBucket(resource: Attrs, name: string, bucket: Attrs): boolean {
  return refersTo(resource.bucket, "aws_s3_bucket", name) || (bucket.bucket !== undefined && resource.bucket === bucket.bucket);
}

/** A Terraform block that the JSON may hold as an object or a one-element list. */
export function block(value: unknown): Attrs | undefined {
  if (Array.isArray(value)) return value[0] as Attrs | undefined;
  return value as Attrs | undefined;
}

/** An IAM-style policy statement, normalised. */
export interface PolicyStatement {
  readonly effect: string;
  readonly actions: string[];
  readonly notActions: string[];
  readonly resources: string[];
  readonly notResources: string[];
  readonly principal: unknown;
  readonly condition: Record<string, Record<string, unknown>>;
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/**
 * Parses a policy attribute: a JSON document (with ${...} references inside strings), or a reference
 * to a `data.aws_iam_policy_document` of the same stack. Returns undefined when it cannot be read
 * (for example a `${jsonencode(...)}` expression), so a rule can report that it cannot verify it.
 */
export function parsePolicy(json: TfJson, policy: unknown): PolicyStatement[] | undefined {
  if (typeof policy !== "string") return undefined;
  const ref = /^\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}$/.exec(policy);
  if (ref) {
    const doc = json.data?.aws_iam_policy_document?.[ref[1]] as Attrs | undefined;
    if (!doc) return undefined;
    return (doc.statement ?? []).map((s: Attrs) => ({
      effect: s.effect ?? "Allow",
      actions: list(s.actions),
      notActions: list(s.not_actions),
      resources: list(s.resources),
      notResources: list(s.not_resources),
      principal: s.principals,
      condition: Object.fromEntries((s.condition ?? []).map((c: Attrs) => [c.test, { [c.variable]: c.values }])),
    }));
  }
  try {
    const doc = JSON.parse(policy) as { Statement?: unknown };
    const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
    return statements.map((s: Attrs) => ({
      effect: s.Effect ?? "Allow",
      actions: list(s.Action),
      notActions: list(s.NotAction),
      resources: list(s.Resource),
      notResources: list(s.NotResource),
      principal: s.Principal,
      condition: (s.Condition ?? {}) as Record<string, Record<string, unknown>>,
    }));
  } catch {
    return undefined;
  }
}
