/**
 * Turns a synthesized stack into the IAM requests Terraform makes for it (provider-actions.ts), and the
 * synthesized roles into principals the evaluator can judge (their inline policies, the managed policies
 * of the stack attached to them, and their permissions boundary).
 */
import { callOf, PHASES, PROVIDER_ACTIONS, type Call, type Phase, type TypeActions } from "./provider-actions";
import { instancesOf, type Instance, type StackJson } from "./instances";
import type { PolicyDocument, Principal, Request, ResourceTarget } from "./evaluator";

/** One call Terraform makes for one instance in one phase. */
export interface PlannedCall {
  readonly instance: Instance;
  readonly phase: Phase;
  readonly request: Request;
}

/** The row of an instance's type, or undefined. */
export function rowOf(i: Pick<Instance, "type" | "kind">): TypeActions | undefined {
  return PROVIDER_ACTIONS.find((r) => r.type === i.type && r.kind === i.kind);
}

/** The stack's AWS instances, with ARNs from the table. */
export function stackInstances(json: StackJson): Instance[] {
  return instancesOf(json, (i) => rowOf(i)?.arn(i));
}

/** The AWS types of the stack that have no row in the table ("data." prefixed for data sources). */
export function typesWithoutRow(json: StackJson): string[] {
  const missing = new Set<string>();
  for (const i of stackInstances(json)) if (!rowOf(i)) missing.add(i.kind === "data" ? `data.${i.type}` : i.type);
  return [...missing].sort();
}

function requestOf(i: Instance, row: TypeActions, call: Call): Request | undefined {
  if (call.when && !call.when(i)) return undefined;
  const resource = call.on === "*" ? "*" : call.on ? call.on(i) : row.arn(i);
  if (resource === undefined) return undefined;
  return { action: call.action, resource, context: call.context?.(i) ?? {} };
}

/** Every call of the given phases for every instance that `include` keeps. Instances without a row are skipped (typesWithoutRow reports them). */
export function plannedCalls(
  json: StackJson,
  phases: readonly Phase[] = PHASES,
  include: (i: Instance) => boolean = () => true,
): PlannedCall[] {
  const out: PlannedCall[] = [];
  for (const i of stackInstances(json)) {
    const row = rowOf(i);
    if (!row || !include(i)) continue;
    for (const phase of phases) {
      for (const c of row[phase]) {
        const request = requestOf(i, row, callOf(c));
        if (request) out.push({ instance: i, phase, request });
      }
    }
  }
  return out;
}

/** A policy attribute as a document, its `${type.name.attr}` references replaced by what the JSON knows. */
export function policyDocument(i: Instance, policy: unknown): PolicyDocument {
  if (typeof policy !== "string") throw new Error(`${i.type}.${i.name}: policy is not a JSON string`);
  const text = policy.replace(/\$\{[a-z0-9_]+\.[A-Za-z0-9_-]+\.[a-z0-9_]+\}/g, (ref) => i.ref(ref));
  return JSON.parse(text) as PolicyDocument;
}

/** An AWS managed policy this repository knows the content of (aws-managed-policies.ts), or undefined. */
export type ManagedPolicyLookup = (arn: string) => PolicyDocument | undefined;

/**
 * The principal of a synthesized role: its inline policies (aws_iam_role_policy), the stack's managed
 * policies attached to it, AWS managed policies `managed` knows, and its boundary. A policy it cannot read
 * (an AWS managed policy not in `managed`) throws: an evaluation must not silently ignore a policy.
 */
export function principalOfRole(json: StackJson, role: Instance, managed: ManagedPolicyLookup = () => undefined): Principal {
  const all = stackInstances(json);
  const belongs = (i: Instance) => i.target(i.attrs.role) === role || i.ref(i.attrs.role) === i.ref(role.attrs.name);
  const identity: PolicyDocument[] = [];
  for (const p of all.filter((i) => i.type === "aws_iam_role_policy" && belongs(i))) identity.push(policyDocument(p, p.attrs.policy));
  for (const a of all.filter((i) => i.type === "aws_iam_role_policy_attachment" && belongs(i))) {
    const policy = a.target(a.attrs.policy_arn);
    if (policy?.type === "aws_iam_policy") {
      identity.push(policyDocument(policy, policy.attrs.policy));
      continue;
    }
    const arn = a.ref(a.attrs.policy_arn);
    const known = managed(arn);
    if (!known) throw new Error(`${role.path}: attached policy ${arn} is neither a policy of the stack nor a known AWS managed policy`);
    identity.push(known);
  }
  let boundary: PolicyDocument | undefined;
  if (role.attrs.permissions_boundary !== undefined) {
    const b = role.target(role.attrs.permissions_boundary);
    if (b?.type !== "aws_iam_policy")
      throw new Error(`${role.path}: permissions boundary ${String(role.attrs.permissions_boundary)} is not a policy of the stack`);
    boundary = policyDocument(b, b.attrs.policy);
  }
  return { identity, boundary };
}

/** The role named `name` in the stack. */
export function roleNamed(json: StackJson, name: string): Instance | undefined {
  return stackInstances(json).find((i) => i.type === "aws_iam_role" && i.ref(i.attrs.name) === name);
}

/**
 * The resource-based policies of the stack's resources, by the ARN the table's requests name them with:
 * each KMS key's key policy (a key without one has KMS's default, which the evaluator assumes) and each
 * ECR repository policy. What isAllowedOn needs besides the caller's own policies.
 */
export function resourceTargets(json: StackJson): Map<string, ResourceTarget> {
  const out = new Map<string, ResourceTarget>();
  for (const i of stackInstances(json)) {
    if (i.kind !== "resource") continue;
    if (i.type === "aws_kms_key") {
      const arn = rowOf(i)?.arn(i);
      if (arn)
        out.set(arn, { account: i.aws.account, policy: i.attrs.policy !== undefined ? policyDocument(i, i.attrs.policy) : undefined });
    }
    if (i.type === "aws_ecr_repository_policy") {
      const arn = rowOf(i)?.arn(i);
      if (arn) out.set(arn, { account: i.aws.account, policy: policyDocument(i, i.attrs.policy) });
    }
  }
  return out;
}
