/**
 * Key policies of the KMS keys the stacks create. A key's policy is the gate of everything done to it
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html): the account's statement lets IAM
 * policies grant (the plan role's reads, the services' use of the key, people's administrator roles), and
 * the administrator statement names the roles that manage this key (the CI deploy role).
 *
 * Why the deploy role's management of the stack's keys lives here and not in its IAM policy: an IAM
 * statement can only scope keys by their tags, and the deploy role must be allowed to tag a key, because
 * CreateKey with tags needs kms:TagResource in an IAM policy "not restricted to particular KMS keys"
 * (https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html). A key being created has no
 * tags yet, exactly like an untagged key someone else created: no condition tells the two apart, so the
 * deploy role could tag any untagged key of the account into its scope and then manage it (change its
 * policy, schedule its deletion). A key policy naming the deploy role exists only on the keys the stack
 * created with it: tagging another key gives no control over it.
 */
import type { IConstruct } from "constructs";
import { PropError } from "./prop-error";

/** What the administrators of a stack's key may do to it (what Terraform does to an aws_kms_key and its alias). */
export const KEY_ADMINISTRATION_ACTIONS: readonly string[] = [
  "kms:PutKeyPolicy",
  "kms:UpdateKeyDescription",
  "kms:EnableKeyRotation",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:DisableKey",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:CreateAlias",
  "kms:UpdateAlias",
  "kms:DeleteAlias",
];

/** One statement of a key policy. */
export interface KeyPolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal: unknown;
  readonly Action: string | readonly string[];
  readonly Resource: "*";
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** The statement letting the account's IAM policies grant access to the key (KMS's default key policy). */
export function accountStatement(partition: string, accountId: string, sid = "AccountAdministersKeyThroughIam"): KeyPolicyStatement {
  return { Sid: sid, Effect: "Allow", Principal: { AWS: `arn:${partition}:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" };
}

/** The statement naming the roles that manage the key (they must exist when the key is created: the bootstrap creates the deploy role). */
export function administratorsStatement(
  administratorArns: readonly string[],
  scope: IConstruct | string = "administratorsStatement",
): KeyPolicyStatement[] {
  if (administratorArns.length === 0) return [];
  for (const arn of administratorArns) {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,64}$/.test(arn))
      throw new PropError(scope, "keyAdministratorArns", arn, "IAM role ARNs");
  }
  return [
    {
      Sid: "StackDeployRoleAdministersKey",
      Effect: "Allow",
      Principal: { AWS: [...administratorArns] },
      Action: [...KEY_ADMINISTRATION_ACTIONS],
      Resource: "*",
    },
  ];
}

/**
 * The policy of a stack's key: the account's statement, `extra` statements (services that use the key),
 * and the administrators'. The account and partition default to the administrators' (their roles live in the
 * key's account). Undefined when there is nothing beyond KMS's default policy (no administrator, no extra
 * statement): the key then keeps the default one, as a key without a policy does.
 */
export function stackKeyPolicy(opts: {
  partition?: string;
  accountId?: string;
  administratorArns?: readonly string[];
  extra?: readonly KeyPolicyStatement[];
  accountSid?: string;
  scope?: IConstruct | string;
}): string | undefined {
  const arns = opts.administratorArns ?? [];
  const scope = opts.scope ?? "stackKeyPolicy";
  const admins = administratorsStatement(arns, scope);
  const extra = opts.extra ?? [];
  if (admins.length === 0 && extra.length === 0) return undefined;
  const accounts = new Set(arns.map((a) => a.split(":")[4]));
  const accountId = opts.accountId ?? arns[0]?.split(":")[4];
  const partition = opts.partition ?? arns[0]?.split(":")[1];
  if (!accountId || !partition)
    throw new PropError(
      scope,
      accountId ? "partition" : "accountId",
      accountId ? partition : accountId,
      "the key's account and partition (or an administrator role to take them from)",
    );
  if ([...accounts].some((a) => a !== accountId))
    throw new PropError(scope, "keyAdministratorArns", arns, `roles of the key's account ${accountId}`);
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [accountStatement(partition, accountId, opts.accountSid), ...extra, ...admins],
  });
}
