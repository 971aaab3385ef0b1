import { PolicyRule, type Attrs, parsePolicy, type PolicyStatement, resources, type Finding, type TfJson } from "./rule";

const BROAD_MANAGED = /:policy\/(AmazonS3FullAccess|AmazonS3ReadOnlyAccess|AdministratorAccess|PowerUserAccess)$/;

/** IAM wildcards: `*` (any run of characters) and `?` (any one character). */
const WILDCARD = /[*?]/;

/** An IAM pattern (`*`, `?`) as an anchored, case-insensitive regular expression. */
function globRegex(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "i");
}

/** True when `service` (an action's or an ARN's service part) is S3's (s3, s3express, s3-object-lambda, ...) or a wildcard that matches it. */
function isS3Service(service: string): boolean {
  return /^s3/i.test(service) || globRegex(service).test("s3");
}

/** True when the action pattern can name an S3 action: `s3:GetObject`, `s3:Get*`, `s3:*`, `*`, `s*:*`. */
function isS3Action(action: string): boolean {
  const colon = action.indexOf(":");
  return isS3Service(colon < 0 ? action : action.slice(0, colon));
}

/** True when the action pattern matches every S3 action (`*`, `s3:*`, `s*:*`): a NotAction that lists it excludes S3. */
function coversAllOfS3(action: string): boolean {
  const colon = action.indexOf(":");
  if (colon < 0) return action === "*";
  return globRegex(action.slice(0, colon)).test("s3") && /^\*+$/.test(action.slice(colon + 1));
}

/**
 * True when `resource` can match more than one bucket: a wildcard before the first `/` (the bucket
 * part of an S3 ARN), e.g. `*`, `arn:aws:s3:::*`, `arn:aws:s3:::*\/*`, `arn:aws:s3:::mlflow-*`. A
 * wildcard after a concrete bucket (`arn:aws:s3:::bucket/prefix/*`) names objects of that bucket and
 * is allowed. Plain Terraform references (`${aws_s3_bucket.b.arn}`) name one bucket; other
 * expressions are read as text, so a `*` they build is still seen. ARNs of other services are skipped.
 */
function wildcardBucket(resource: string): boolean {
  const r = resource.replace(/\$\{[A-Za-z0-9_.\-[\]"]+\}/g, "REF");
  const bucketPart = r.split("/")[0];
  if (r.startsWith("arn:")) {
    const service = r.split(":")[2] ?? "";
    if (!isS3Service(service)) return false;
  }
  return WILDCARD.test(bucketPart);
}

/** What an Allow statement grants too broadly in S3, or an empty list. */
function broadS3(s: PolicyStatement): string[] {
  if (s.effect !== "Allow") return [];
  const problems: string[] = [];
  const notAction = s.notActions.length > 0;
  if (notAction) {
    problems.push(
      s.notActions.some(coversAllOfS3)
        ? "Allow with NotAction grants every action it does not list: name the actions instead"
        : "Allow with NotAction grants every action it does not list, S3 included: name the actions instead",
    );
  }
  const s3 = s.actions.filter(isS3Action);
  for (const action of s3.filter((a) => WILDCARD.test(a))) problems.push(`action "${action}"`);
  const grantsS3 = s3.length > 0 || (notAction && !s.notActions.some(coversAllOfS3));
  if (!grantsS3) return problems;
  const granted = s3.length > 0 ? s3.join(", ") : "every action not listed in NotAction";
  if (s.notResources.length > 0) {
    problems.push(
      `NotResource with ${granted} grants them on every resource it does not list, other buckets included: name the bucket (and prefix) in Resource`,
    );
  }
  for (const resource of s.resources.filter(wildcardBucket)) problems.push(`${granted} on resource "${resource}"`);
  return problems;
}

/**
 * MLF-IAM-1: no IAM policy grants S3 with a wildcard: no `*` (or `?`) in an S3 action (`s3:*`,
 * `s3:Get*`, `*`), none in the bucket part of a resource of a statement with S3 actions (`*`,
 * `arn:aws:s3:::*`, `arn:aws:s3:::foo*`), no Allow with NotAction, no NotResource with S3 actions.
 * Objects under a named bucket and prefix (`arn:aws:s3:::bucket/prefix/*`) are allowed; statements
 * without S3 actions (CloudWatch, KMS, EC2 describes on "*") are another rule's business.
 */
export class NoS3Wildcards extends PolicyRule {
  readonly id = "MLF-IAM-1";
  readonly reason =
    'Least privilege: S3 permissions name each action (no "*", "s3:*" or "s3:Get*") and their bucket (a wildcard only after the bucket and prefix, as in arn:aws:s3:::bucket/prefix/*), use neither NotAction nor NotResource, and no broad managed policy (AmazonS3FullAccess, AdministratorAccess, ...) is attached.';

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    const inspect = (address: string, policy: unknown) => {
      const statements = parsePolicy(json, policy);
      if (!statements) {
        findings.push({
          resource: address,
          message: "policy cannot be read: write it as a JSON document (JSON.stringify) or an aws_iam_policy_document so it can be checked",
        });
        return;
      }
      for (const s of statements) {
        const problems = broadS3(s);
        if (problems.length > 0) findings.push({ resource: address, message: `policy grants S3 too broadly: ${problems.join("; ")}` });
      }
    };
    for (const type of ["aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"]) {
      for (const [name, r] of resources(json, type)) inspect(`${type}.${name}`, r.policy);
    }
    for (const [name, role] of resources(json, "aws_iam_role")) {
      for (const inline of (role.inline_policy ?? []) as Attrs[]) inspect(`aws_iam_role.${name}`, inline.policy);
      for (const arn of (role.managed_policy_arns ?? []) as string[]) {
        if (BROAD_MANAGED.test(arn))
          findings.push({ resource: `aws_iam_role.${name}`, message: `attaches the broad managed policy ${arn}` });
      }
    }
    for (const name of Object.keys(json.data?.aws_iam_policy_document ?? {})) {
      inspect(`data.aws_iam_policy_document.${name}`, `\${data.aws_iam_policy_document.${name}.json}`);
    }
    for (const type of [
      "aws_iam_role_policy_attachment",
      "aws_iam_policy_attachment",
      "aws_iam_user_policy_attachment",
      "aws_iam_group_policy_attachment",
    ]) {
      for (const [name, r] of resources(json, type)) {
        if (BROAD_MANAGED.test(String(r.policy_arn)))
          findings.push({ resource: `${type}.${name}`, message: `attaches the broad managed policy ${r.policy_arn}` });
      }
    }
    return findings;
  }
}
