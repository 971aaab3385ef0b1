/**
 * The cross-account chain, both ways:
 * - what the workflows do: each job that gets AWS credentials (aws-actions/configure-aws-credentials),
 *   which CI role it asks for, the OIDC subject GitHub gives that job (its trigger, its GitHub Environment),
 *   and, when it runs Terraform, which role the stack's AWS provider would assume on top (the stack's
 *   `aws_assume_role_arn` variable, unless the job sets TF_VAR_aws_assume_role_arn) and the S3 backend's
 *   assume_role;
 * - what the synthesized policies permit: the CI roles' trust policies (GitHub's OIDC provider, `sub` and
 *   `aud`) and identity policies (sts:AssumeRole), and the trust of any role the chain reaches.
 * `chainProblems` lists every step a workflow takes that no synthesized policy permits.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import type { EnvironmentConfig } from "../../config";
import { ciRoleNames, deployEnvironmentOf } from "../../config/ci";
import { evaluateTrust, isAllowed, type PolicyDocument } from "../../policies/iam/evaluator";
import { principalOfRole, roleNamed, stackInstances } from "../../policies/iam/requests";
import type { StackJson } from "../../policies/iam/instances";
import { PROVIDER_ROLE_VARIABLE } from "../../stacks/providers";
import { GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST } from "../../constructs/ci-roles";
import { partitionOf } from "../../constructs/core/aws";

/** The matrix fields (scripts/ci/environments.ts) that name the CI roles, and the role each names. */
const ROLE_FIELDS = { planRoleArn: "plan", deployRoleArn: "deploy", imagePushRoleArn: "imagePush" } as const;
type RoleKind = (typeof ROLE_FIELDS)[keyof typeof ROLE_FIELDS];

/** One job of one workflow that assumes a CI role. */
export interface JobAssumption {
  readonly workflow: string;
  readonly job: string;
  readonly role: RoleKind;
  /** "pull_request", "main" or "environment": which OIDC subject GitHub gives the job. */
  readonly subject: "pull_request" | "main" | "environment";
  /** The job runs Terraform (plan or apply) with those credentials. */
  readonly runsTerraform: boolean;
  /** The value the job gives TF_VAR_<provider role variable>, or undefined when it sets none. */
  readonly providerRoleOverride: string | undefined;
}

type Yaml = Record<string, any>;

const TERRAFORM = /\bterraform\b|terraform-plan\.sh|release-apply\.sh/;

/** Every job of `workflows` (file name -> YAML text) that assumes a CI role. */
export function jobAssumptions(workflows: Record<string, string>): JobAssumption[] {
  const out: JobAssumption[] = [];
  for (const [file, text] of Object.entries(workflows)) {
    const wf = parse(text) as Yaml;
    const triggers = Object.keys(typeof wf.on === "string" ? { [wf.on]: {} } : (wf.on ?? {}));
    const variable = `TF_VAR_${PROVIDER_ROLE_VARIABLE}`;
    for (const [name, job] of Object.entries((wf.jobs ?? {}) as Yaml)) {
      const steps: Yaml[] = job.steps ?? [];
      const creds = steps.filter((s) => typeof s.uses === "string" && s.uses.startsWith("aws-actions/configure-aws-credentials"));
      for (const step of creds) {
        const expr = String(step.with?.["role-to-assume"] ?? "");
        const field = Object.keys(ROLE_FIELDS).find((f) => new RegExp(`\\.${f}\\b`).test(expr)) as keyof typeof ROLE_FIELDS | undefined;
        if (!field) throw new Error(`${file} job ${name}: role-to-assume "${expr}" names no CI role of scripts/ci/environments.ts`);
        const subject: JobAssumption["subject"] =
          job.environment !== undefined ? "environment" : triggers.includes("pull_request") ? "pull_request" : "main";
        const terraformSteps = steps.filter((s) => typeof s.run === "string" && TERRAFORM.test(s.run));
        const overrides = terraformSteps.map((s) => s.env?.[variable] ?? job.env?.[variable] ?? wf.env?.[variable]);
        out.push({
          workflow: file,
          job: name,
          role: ROLE_FIELDS[field],
          subject,
          runsTerraform: terraformSteps.length > 0,
          // Every Terraform step must set it: the first one that does not decides.
          providerRoleOverride: overrides.some((o) => o === undefined) ? undefined : String(overrides[0] ?? ""),
        });
      }
    }
  }
  return out;
}

/** The repository's workflows. */
export function repositoryWorkflows(root: string): Record<string, string> {
  const dir = path.join(root, ".github", "workflows");
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".yml"))
      .map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]),
  );
}

/** The OIDC subject GitHub gives a job of `kind` for this environment. */
function subjectOf(env: EnvironmentConfig, kind: JobAssumption["subject"]): string {
  const repo = env.ci!.repository;
  if (kind === "pull_request") return `repo:${repo}:pull_request`;
  if (kind === "main") return `repo:${repo}:ref:refs/heads/main`;
  return `repo:${repo}:environment:${deployEnvironmentOf(env)}`;
}

/** One step of the chain, as `from -> to (how)`, for reports. */
export interface ChainEdge {
  readonly from: string;
  readonly to: string;
  readonly how: string;
}

/**
 * What `env`'s workflows do that its synthesized policies do not permit (empty when the chain holds), and
 * the edges the workflows take (who assumes what).
 */
export function chainProblems(
  env: EnvironmentConfig,
  json: StackJson,
  jobs: readonly JobAssumption[],
): { problems: string[]; edges: ChainEdge[] } {
  const problems: string[] = [];
  const edges: ChainEdge[] = [];
  const names = ciRoleNames(env);
  const providerArn = `arn:${partitionOf(env.aws.region)}:iam::${env.aws.accountId}:oidc-provider/${GITHUB_OIDC_HOST}`;
  const variable = (json as { variable?: Record<string, { default?: string }> }).variable?.[PROVIDER_ROLE_VARIABLE];
  const backendRole = (json.terraform as { backend?: { s3?: { assume_role?: { role_arn?: string } } } } | undefined)?.backend?.s3
    ?.assume_role?.role_arn;
  // A role written into the provider block itself applies to every run, whatever the job sets.
  const staticProviderRole = ((json.provider?.aws?.[0] as { assume_role?: { role_arn?: string }[] } | undefined)?.assume_role ?? [])[0]
    ?.role_arn;

  for (const job of jobs) {
    const where = `${job.workflow} job ${job.job}`;
    const role = roleNamed(json, names[job.role]);
    if (!role) {
      problems.push(`${where}: assumes the ${job.role} role ${names[job.role]}, which the stack does not create`);
      continue;
    }
    const roleArn = `arn:${partitionOf(env.aws.region)}:iam::${env.aws.accountId}:role/${names[job.role]}`;
    const trust = JSON.parse(
      role.ref(role.attrs.assume_role_policy).replace(/\$\{aws_iam_openid_connect_provider\.[A-Za-z0-9_]+\.arn\}/g, providerArn),
    ) as PolicyDocument;
    const sub = subjectOf(env, job.subject);
    const t = evaluateTrust(trust, { federated: providerArn }, "sts:AssumeRoleWithWebIdentity", {
      [`${GITHUB_OIDC_HOST}:sub`]: sub,
      [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
    });
    const roleLabel = `role/${names[job.role]}`;
    if (t.decision !== "Allow")
      problems.push(
        `${where}: GitHub's OIDC token (sub ${sub}) assumes ${roleLabel}, whose trust policy does not admit it (${t.decision})`,
      );
    edges.push({ from: `github:${job.subject}`, to: roleLabel, how: `${where} (configure-aws-credentials)` });
    if (!job.runsTerraform) continue;

    // The roles Terraform would assume on top, with the job's credentials: the provider's and the backend's.
    const onTop: [string, string][] = [];
    if (variable && job.providerRoleOverride !== "")
      onTop.push([
        String(job.providerRoleOverride ?? variable.default),
        "the AWS provider's assume_role (and aws eks get-token --role-arn)",
      ]);
    if (staticProviderRole) onTop.push([staticProviderRole, "the AWS provider's assume_role, written into the stack"]);
    if (backendRole) onTop.push([backendRole, "the S3 backend's assume_role"]);
    for (const [target, how] of onTop) {
      edges.push({ from: roleLabel, to: target, how: `${where}: ${how}` });
      const principal = principalOfRole(json, role);
      const identity = isAllowed(principal, { action: "sts:AssumeRole", resource: target });
      const targetRole = stackInstances(json).find(
        (i) =>
          i.type === "aws_iam_role" &&
          `arn:${partitionOf(env.aws.region)}:iam::${env.aws.accountId}:role/${i.ref(i.attrs.name)}` === target,
      );
      const targetTrust = targetRole
        ? evaluateTrust(
            JSON.parse(targetRole.ref(targetRole.attrs.assume_role_policy)) as PolicyDocument,
            { aws: roleArn },
            "sts:AssumeRole",
          )
        : undefined;
      if (identity.decision !== "Allow" || targetTrust?.decision !== "Allow") {
        problems.push(
          `${where}: Terraform runs with ${roleLabel} and would assume ${target} through ${how}, which no synthesized policy permits (${roleLabel} sts:AssumeRole: ${identity.decision}; trust of the target: ${targetTrust ? targetTrust.decision : "not a role of the stack"}). Set TF_VAR_${PROVIDER_ROLE_VARIABLE}: "" in the job (the CI roles live in the environment's account)`,
        );
      }
    }
  }
  return { problems, edges };
}

/** The (role, subject kind) pairs the synthesized CI roles' trust policies admit. */
export function trustedSubjects(env: EnvironmentConfig, json: StackJson): { role: RoleKind; subject: JobAssumption["subject"] }[] {
  const names = ciRoleNames(env);
  const out: { role: RoleKind; subject: JobAssumption["subject"] }[] = [];
  for (const role of Object.values(ROLE_FIELDS)) {
    const r = roleNamed(json, names[role]);
    if (!r) continue;
    const trust = JSON.parse(r.ref(r.attrs.assume_role_policy)) as {
      Statement: { Condition?: { StringEquals?: Record<string, string | string[]> } }[];
    };
    for (const st of trust.Statement) {
      for (const sub of [st.Condition?.StringEquals?.[`${GITHUB_OIDC_HOST}:sub`] ?? []].flat()) {
        const kind = sub.endsWith(":pull_request")
          ? "pull_request"
          : sub.includes(":ref:refs/heads/")
            ? "main"
            : sub.includes(":environment:")
              ? "environment"
              : undefined;
        if (!kind) throw new Error(`role ${names[role]} trusts an OIDC subject of an unknown kind: ${sub}`);
        out.push({ role, subject: kind });
      }
    }
  }
  return out;
}
