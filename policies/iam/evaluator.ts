/**
 * A small IAM policy evaluator: enough of AWS's documented evaluation logic to answer "may this role make
 * this call on this resource?" for the policies this repository writes, so tests can check a role's
 * policy against the API calls the AWS provider and the pipelines make (policies/iam/actions.ts).
 *
 * What it implements (AWS IAM User Guide, "Policy evaluation logic",
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * - an explicit Deny in any policy wins; otherwise an Allow is needed; otherwise the request is implicitly
 *   denied. A permissions boundary is a second gate: a request is allowed only when the identity policies
 *   AND the boundary allow it, and a Deny in either denies it
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html);
 * - Action / NotAction with `*` and `?`, case-insensitive (reference_policies_elements_action.html);
 * - Resource / NotResource: `*` alone matches everything; otherwise each of the six colon-separated ARN parts
 *   is matched on its own with `*` and `?`, case-sensitively, and a wildcard in the last part also matches
 *   `/` and `:` (reference_policies_elements_resource.html, "ArnLike" in reference_policies_elements_condition_operators.html);
 * - the condition operators this repository uses: String(Not)Equals(IgnoreCase), String(Not)Like,
 *   Arn(Not)Equals, Arn(Not)Like, Bool, Null, with the IfExists suffix and the ForAnyValue: / ForAllValues:
 *   set prefixes. Values within one key are ORed, keys and operators are ANDed. A key missing from the
 *   request: a positive operator does not match, a negated one does (how a Deny with StringNotEquals
 *   catches requests without the key), IfExists matches, ForAllValues matches, ForAnyValue does not.
 *
 * - resource-based policies (an ECR repository policy, a KMS key policy) with their Principal, and how they
 *   combine with the caller's identity policies (isAllowedOn): within one account either grants (a resource
 *   policy on its own only when it names the caller itself; one naming the account delegates to the
 *   identity policies); across accounts both must
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html,
 *   reference_policies_evaluation-logic_policy-eval-basics.html); a KMS key's policy is the gate: identity
 *   policies count only where it allows the account (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#allow-iam-policies),
 *   and a key without a policy of its own has the default one (the account, kms:*). The request context
 *   gets `aws:PrincipalArn` and `aws:PrincipalAccount`, which AWS includes in every signed request
 *   (reference_policies_condition-keys.html).
 *
 * Any other operator throws: a check must never pass because the evaluator ignored a condition.
 * Policy variables (`${aws:username}`) are not expanded; Terraform references (`${aws_kms_key.k.arn}`) in a
 * synthesized policy are compared as literal text, which is what a request built from the same JSON carries.
 */

/** One statement, as written in a policy document. */
export interface Statement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny" | string;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly Principal?: unknown;
}

/** A policy document (identity policy or permissions boundary). */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: Statement | readonly Statement[];
}

/** One API call: its IAM action, the resource it acts on, and the request's condition keys. */
export interface Request {
  readonly action: string;
  /** The resource ARN, or "*" for actions without resource-level permissions. */
  readonly resource: string;
  /** Condition keys of the request (case-insensitive names), e.g. { "iam:PassedToService": "pods.eks.amazonaws.com" }. */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export type Decision = "Allow" | "ExplicitDeny" | "ImplicitDeny";

/** The result and the statements that decided it (their Sid, or their index). */
export interface Evaluation {
  readonly decision: Decision;
  readonly by: readonly string[];
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** `*` and `?` as an anchored regular expression. */
function glob(pattern: string, caseInsensitive: boolean): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, caseInsensitive ? "is" : "s");
}

/** True when an Action pattern (`s3:Get*`, `*`) matches the action name. Case-insensitive, as IAM. */
export function actionMatches(pattern: string, action: string): boolean {
  return glob(pattern, true).test(action);
}

/** Splits an ARN into its six parts; the resource part keeps its own colons. */
function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(":");
  if (parts.length < 6 || parts[0] !== "arn") return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(":")];
}

/** True when a Resource pattern matches the ARN, part by part, case-sensitively. */
export function resourceMatches(pattern: string, arn: string): boolean {
  if (pattern === "*") return true;
  if (arn === "*") return false; // a request on "*" (no resource-level permission) needs Resource "*"
  const p = arnParts(pattern);
  const a = arnParts(arn);
  if (!p || !a) return pattern === arn;
  return p.every((part, i) => glob(part, false).test(a[i]));
}

const stringOps: Record<string, (pattern: string, value: string) => boolean> = {
  StringEquals: (p, v) => p === v,
  StringEqualsIgnoreCase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  StringLike: (p, v) => glob(p, false).test(v),
  ArnEquals: (p, v) => p === v,
  ArnLike: (p, v) => resourceMatches(p, v),
  Bool: (p, v) => p.toLowerCase() === v.toLowerCase(),
};
const NEGATED: Record<string, string> = {
  StringNotEquals: "StringEquals",
  StringNotEqualsIgnoreCase: "StringEqualsIgnoreCase",
  StringNotLike: "StringLike",
  ArnNotEquals: "ArnEquals",
  ArnNotLike: "ArnLike",
};

function contextValue(context: Request["context"], key: string): string[] | undefined {
  if (!context) return undefined;
  const found = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase());
  return found ? list(found[1]) : undefined;
}

/** Evaluates one condition operator (with its keys) against the request context. */
function operatorMatches(operator: string, keys: Readonly<Record<string, unknown>>, context: Request["context"]): boolean {
  let op = operator;
  let set: "ForAnyValue" | "ForAllValues" | undefined;
  const prefix = /^(ForAnyValue|ForAllValues):(.+)$/.exec(op);
  if (prefix) {
    set = prefix[1] as "ForAnyValue" | "ForAllValues";
    op = prefix[2];
  }
  const ifExists = op.endsWith("IfExists");
  if (ifExists) op = op.slice(0, -"IfExists".length);

  return Object.entries(keys).every(([key, raw]) => {
    const patterns = list(raw);
    const values = contextValue(context, key);
    if (op === "Null") {
      const wantsMissing = patterns[0]?.toLowerCase() === "true";
      return wantsMissing === (values === undefined || values.length === 0);
    }
    const negated = NEGATED[op];
    const test = stringOps[negated ?? op];
    if (!test)
      throw new Error(
        `IAM evaluator: condition operator "${operator}" is not implemented; add it with its documented semantics before relying on it`,
      );
    if (values === undefined || values.length === 0) {
      if (ifExists) return true;
      if (set === "ForAllValues") return true;
      if (set === "ForAnyValue") return false;
      return negated !== undefined;
    }
    const one = (v: string) => patterns.some((p) => test(p, v));
    if (negated) {
      // Negated operators: no pattern may match (for a set, ForAllValues: none of the values matches any).
      if (set === "ForAnyValue") return values.some((v) => !one(v));
      return values.every((v) => !one(v));
    }
    if (set === "ForAllValues") return values.every(one);
    if (set === "ForAnyValue") return values.some(one);
    return values.some(one);
  });
}

function statementApplies(s: Statement, request: Request): boolean {
  const actions = list(s.Action);
  const notActions = list(s.NotAction);
  const actionOk =
    actions.length > 0
      ? actions.some((a) => actionMatches(a, request.action))
      : notActions.length > 0 && !notActions.some((a) => actionMatches(a, request.action));
  if (!actionOk) return false;
  const resources = list(s.Resource);
  const notResources = list(s.NotResource);
  const resourceOk =
    resources.length > 0
      ? resources.some((r) => resourceMatches(r, request.resource))
      : notResources.length > 0 && !notResources.some((r) => resourceMatches(r, request.resource));
  if (!resourceOk) return false;
  return Object.entries(s.Condition ?? {}).every(([operator, keys]) => operatorMatches(operator, keys, request.context));
}

function statementsOf(policy: PolicyDocument): Statement[] {
  return (Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]) as Statement[];
}

/** Evaluates a request against a set of policies (all identity policies of a principal, together). */
export function evaluate(policies: readonly PolicyDocument[], request: Request): Evaluation {
  const allows: string[] = [];
  const denies: string[] = [];
  for (const policy of policies) {
    statementsOf(policy).forEach((s, i) => {
      if (!statementApplies(s, request)) return;
      const name = s.Sid ?? `#${i}`;
      if (s.Effect === "Deny") denies.push(name);
      else if (s.Effect === "Allow") allows.push(name);
      else throw new Error(`IAM evaluator: Effect "${s.Effect}" is neither Allow nor Deny`);
    });
  }
  if (denies.length > 0) return { decision: "ExplicitDeny", by: denies };
  if (allows.length > 0) return { decision: "Allow", by: allows };
  return { decision: "ImplicitDeny", by: [] };
}

/** A principal's permissions: its identity policies and, if it has one, its permissions boundary. */
export interface Principal {
  readonly identity: readonly PolicyDocument[];
  readonly boundary?: PolicyDocument;
}

/** Allowed only when the identity policies allow the request and the boundary (if any) does too. */
export function isAllowed(principal: Principal, request: Request): Evaluation {
  const identity = evaluate(principal.identity, request);
  if (identity.decision !== "Allow" || !principal.boundary) return identity;
  const boundary = evaluate([principal.boundary], request);
  if (boundary.decision === "Allow") return identity;
  return { decision: boundary.decision, by: boundary.by.map((b) => `boundary:${b}`) };
}

/** Who asks to assume a role: a web identity (its provider ARN) or an AWS principal (role ARN). */
export type Caller = { readonly federated: string } | { readonly aws: string };

/**
 * Evaluates a role's trust policy (which has Principal and no Resource) for `action` by `caller`. An AWS
 * principal is matched by its ARN, its account root (`arn:aws:iam::<account>:root`) or the account id;
 * `*` matches anyone. Conditions as in {@link evaluate}.
 */
export function evaluateTrust(policy: PolicyDocument, caller: Caller, action: string, context: Request["context"] = {}): Evaluation {
  const allows: string[] = [];
  const denies: string[] = [];
  statementsOf(policy).forEach((s, i) => {
    if (!list(s.Action).some((a) => actionMatches(a, action))) return;
    if (!principalMatches(s.Principal, caller)) return;
    if (!Object.entries(s.Condition ?? {}).every(([operator, keys]) => operatorMatches(operator, keys, context))) return;
    (s.Effect === "Deny" ? denies : allows).push(s.Sid ?? `#${i}`);
  });
  if (denies.length > 0) return { decision: "ExplicitDeny", by: denies };
  if (allows.length > 0) return { decision: "Allow", by: allows };
  return { decision: "ImplicitDeny", by: [] };
}

function principalMatches(principal: unknown, caller: Caller): boolean {
  if (principal === "*") return true;
  if (!principal || typeof principal !== "object") return false;
  const p = principal as Record<string, unknown>;
  if ("federated" in caller) return list(p.Federated).includes(caller.federated);
  const account = caller.aws.split(":")[4];
  return list(p.AWS).some(
    (a) => a === "*" || a === caller.aws || a === account || a === `arn:${caller.aws.split(":")[1]}:iam::${account}:root`,
  );
}

/** How a resource-based policy's Principal matched the caller: the caller's own ARN, or its account. */
export type PrincipalMatch = "arn" | "account";

/** A resource-based policy's decision, and how its allowing statements named the caller. */
export interface ResourceEvaluation extends Evaluation {
  /** The strongest match among the allowing statements ("arn" beats "account"); undefined when none allows. */
  readonly principalMatch?: PrincipalMatch;
}

const accountOf = (arn: string): string => arn.split(":")[4] ?? "";
const partitionOfArn = (arn: string): string => arn.split(":")[1] ?? "aws";

/** How a resource policy's Principal element names `callerArn` (an IAM role's ARN), if it does. */
function resourcePrincipalMatch(principal: unknown, callerArn: string): PrincipalMatch | undefined {
  if (principal === "*") return "account";
  if (!principal || typeof principal !== "object") return undefined;
  const account = accountOf(callerArn);
  let best: PrincipalMatch | undefined;
  for (const p of list((principal as Record<string, unknown>).AWS)) {
    if (p === callerArn) return "arn";
    if (p === "*" || p === account || p === `arn:${partitionOfArn(callerArn)}:iam::${account}:root`) best = "account";
  }
  return best;
}

/** The caller's identity in the request context, as AWS adds it to every signed request. */
function withPrincipalKeys(request: Request, callerArn: string): Request {
  return {
    ...request,
    context: { "aws:PrincipalArn": callerArn, "aws:PrincipalAccount": accountOf(callerArn), ...(request.context ?? {}) },
  };
}

/**
 * Evaluates a resource-based policy for `request` by the role `callerArn`: its statements apply when their
 * Principal names the caller (its ARN, its account, `*`), their Action matches, their Resource (if any)
 * matches, and their conditions hold. NotPrincipal throws (not used here; not implemented).
 */
export function evaluateResourcePolicy(policy: PolicyDocument, callerArn: string, request: Request): ResourceEvaluation {
  const req = withPrincipalKeys(request, callerArn);
  const allows: { by: string; match: PrincipalMatch }[] = [];
  const denies: string[] = [];
  statementsOf(policy).forEach((s, i) => {
    if ((s as { NotPrincipal?: unknown }).NotPrincipal !== undefined)
      throw new Error("IAM evaluator: NotPrincipal in a resource policy is not implemented");
    const match = resourcePrincipalMatch(s.Principal, callerArn);
    if (!match) return;
    const actions = list(s.Action);
    const actionOk =
      actions.length > 0
        ? actions.some((a) => actionMatches(a, req.action))
        : list(s.NotAction).length > 0 && !list(s.NotAction).some((a) => actionMatches(a, req.action));
    if (!actionOk) return;
    // A resource policy may leave Resource out: it then applies to the resource it is attached to.
    if (
      (s.Resource !== undefined || s.NotResource !== undefined) &&
      !statementApplies({ ...s, Action: "*", NotAction: undefined, Condition: undefined }, req)
    )
      return;
    if (!Object.entries(s.Condition ?? {}).every(([operator, keys]) => operatorMatches(operator, keys, req.context))) return;
    const name = s.Sid ?? `#${i}`;
    if (s.Effect === "Deny") denies.push(name);
    else if (s.Effect === "Allow") allows.push({ by: name, match });
    else throw new Error(`IAM evaluator: Effect "${s.Effect}" is neither Allow nor Deny`);
  });
  if (denies.length > 0) return { decision: "ExplicitDeny", by: denies };
  if (allows.length > 0)
    return { decision: "Allow", by: allows.map((a) => a.by), principalMatch: allows.some((a) => a.match === "arn") ? "arn" : "account" };
  return { decision: "ImplicitDeny", by: [] };
}

/** The resource a request acts on, as far as authorization goes: its account and its resource-based policy. */
export interface ResourceTarget {
  /** The account that owns the resource. */
  readonly account: string;
  /** Its resource-based policy (repository policy, key policy), if it has one. */
  readonly policy?: PolicyDocument;
}

/** The default key policy KMS gives a key created without one: the account, every KMS action. */
export function defaultKeyPolicy(partition: string, account: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "EnableIamPolicies",
        Effect: "Allow",
        Principal: { AWS: `arn:${partition}:iam::${account}:root` },
        Action: "kms:*",
        Resource: "*",
      },
    ],
  };
}

/**
 * May the role `callerArn` (with `principal`'s identity policies and boundary) make `request` on `target`?
 * An explicit Deny in the identity policies, the boundary or the resource policy denies. Otherwise:
 * - KMS (`kms:` actions on a key): the key policy (the default one when the key has none) must allow the
 *   caller itself, or allow the account and the identity policies (within the boundary) allow too;
 * - within one account: the identity policies (within the boundary) allow, or the resource policy names the
 *   caller itself (a statement naming only the account delegates to the identity policies);
 * - across accounts: the resource policy names the caller or its account, and the identity policies (within
 *   the boundary) allow.
 * A request on "*" (no resource-level permission) is the caller's own account's: identity policies decide.
 */
export function isAllowedOn(principal: Principal, callerArn: string, request: Request, target?: ResourceTarget): Evaluation {
  const req = withPrincipalKeys(request, callerArn);
  const identity = isAllowed(principal, req);
  if (identity.decision === "ExplicitDeny") return identity;
  const callerAccount = accountOf(callerArn);
  const account = target?.account ?? (request.resource === "*" ? callerAccount : accountOf(request.resource) || callerAccount);
  // A KMS call on a key (alias ARNs are authorized by IAM policies alone).
  const kms = request.action.toLowerCase().startsWith("kms:") && /^arn:[^:]+:kms:[^:]*:\d*:key\//.test(request.resource);
  const policy = target?.policy ?? (kms ? defaultKeyPolicy(partitionOfArn(callerArn), account) : undefined);
  const resource = policy ? evaluateResourcePolicy(policy, callerArn, req) : undefined;
  if (resource?.decision === "ExplicitDeny") return { decision: "ExplicitDeny", by: resource.by.map((b) => `resource:${b}`) };
  const withinBoundary = (e: Evaluation): Evaluation => {
    if (!principal.boundary) return e;
    const b = evaluate([principal.boundary], req);
    return b.decision === "Allow" ? e : { decision: b.decision, by: b.by.map((x) => `boundary:${x}`) };
  };
  const byResource = (): Evaluation => withinBoundary({ decision: "Allow", by: resource!.by.map((b) => `resource:${b}`) });
  const resourceAllows = resource?.decision === "Allow";
  if (kms) {
    if (resourceAllows && resource!.principalMatch === "arn") return byResource();
    if (resourceAllows && identity.decision === "Allow") return identity;
    return { decision: "ImplicitDeny", by: [] };
  }
  if (account === callerAccount) {
    if (identity.decision === "Allow") return identity;
    if (resourceAllows && resource!.principalMatch === "arn") return byResource();
    return identity;
  }
  if (!resourceAllows)
    return { decision: "ImplicitDeny", by: [`resource: no statement of ${account}'s resource policy admits ${callerArn}`] };
  return identity;
}
