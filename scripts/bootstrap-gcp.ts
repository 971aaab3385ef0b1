/**
 * The first deploy of a GCP environment into its project, by an administrator of that project (called by
 * scripts/bootstrap.ts for an environment with `cloud: "gcp"`; same arguments, same exit codes):
 *
 * 1. checks the credentials reach the environment's project (and that its number is ci.projectNumber, which
 *    the workflows name the Workload Identity provider by), and the prerequisite the stack reads but does not
 *    create (the GKE cluster);
 * 2. enables the APIs GitHub's token exchange needs (IAM, IAM credentials, STS, Resource Manager) and creates
 *    the state bucket idempotently (in gcp.region, uniform access, public access prevention, versioned),
 *    every setting put again on each run;
 * 3. synthesizes the stack and applies, with Terraform, what only an administrator may apply: the CI
 *    identities (constructs/gcp-ci-identities: the pool, GitHub's provider, the plan and deploy service accounts
 *    and their roles) and the namespaces whose Secrets an operator creates by hand;
 * 4. prints what is left: the Secrets to create, the GitHub Environment, the first full deploy.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { GcpEnvironmentConfig } from "../config/gcp";
import { gcpCiIdentities, gcpDeployEnvironmentOf } from "../config/gcp-ci";
import { gcsStateLocation } from "../constructs/gcp-ci-identities/from-config";
import { GCP_CI_IDENTITIES_ID } from "../policies/iam/administered";

/** What the GCP bootstrap needs of scripts/bootstrap.ts's dependencies. */
export interface GcpBootstrapDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  /** Synthesizes the environment's stack into `outdir` and returns the stack's folder. */
  readonly synth: (config: GcpEnvironmentConfig, outdir: string) => string;
}

class GcpBootstrapError extends Error {}

/** The APIs Workload Identity Federation's token exchange and the service account impersonation call. */
export const CI_APIS = ["iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com", "cloudresourcemanager.googleapis.com"];

/** Resources of the synthesized GCP stack only an administrator applies (their Terraform addresses). */
export function gcpAdministeredTargets(stackJson: { resource?: Record<string, Record<string, unknown>> }, stack: string): string[] {
  const targets: string[] = [];
  for (const [type, byName] of Object.entries(stackJson.resource ?? {}))
    for (const name of Object.keys(byName))
      if ((type.startsWith("google_") && name.startsWith(`${GCP_CI_IDENTITIES_ID}_`)) || type === "kubernetes_namespace_v1")
        targets.push(`${type}.${name}`);
  if (!targets.some((t) => t.startsWith("google_iam_workload_identity_pool.")))
    throw new GcpBootstrapError(
      `the stack ${stack} has no CI identities: add a ci section (ci.repository, ci.projectNumber) to the environment`,
    );
  return targets.sort();
}

/** Kubernetes Secrets a GCP environment's configuration names (namespace/name), which an operator creates. */
function operatorSecrets(c: GcpEnvironmentConfig): string[] {
  const out = new Set<string>();
  const auth = c.auth.clientSecret;
  out.add(`${c.mlflow.namespace}/${auth.secretName} (key ${auth.key}: the OIDC client secret)`);
  const m = c.monitoring;
  if (m.slack) out.add(`${m.namespace}/${m.slack.webhookSecretName} (key url: the Slack webhook URL)`);
  if (m.discord) out.add(`${m.namespace}/${m.discord.webhookSecretName} (key url: the Discord webhook URL)`);
  if (m.email?.authPasswordSecretName) out.add(`${m.namespace}/${m.email.authPasswordSecretName} (key password: the SMTP password)`);
  return [...out].sort();
}

export function gcpBootstrap(c: GcpEnvironmentConfig, argv: readonly string[], outdir: string, deps: GcpBootstrapDeps): number {
  const dryRun = argv.includes("--dry-run");
  const log = deps.log;
  const g = c.gcp;
  const state = gcsStateLocation(c);
  if (!state) {
    log(
      `bootstrap: environment "${c.name}": field state.backend = "local": expected "gcs" (the bootstrap creates the project's state bucket)`,
    );
    return 2;
  }
  if (!c.ci) {
    log(
      `bootstrap: environment "${c.name}": field ci is missing: expected a ci section in the GCP environment's own entry (ci.repository, ci.projectNumber): the bootstrap applies its CI identities (docs/gcp.md#ci)`,
    );
    return 2;
  }
  const project = ["--project", g.projectId];

  const run = (cmd: string[], opts: { probe?: boolean } = {}) => {
    log(
      `${dryRun ? "would run" : "$"} ${cmd.map((a) => (/^[\w@%+=:,./{}()-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ")}`,
    );
    if (dryRun)
      return opts.probe
        ? { code: 1, stdout: "", stderr: "ERROR: (gcloud) HTTPError 404: not found (dry run)" }
        : { code: 0, stdout: "", stderr: "" };
    const r = spawnSync(cmd[0], cmd.slice(1), { env: deps.env, encoding: "utf8", stdio: ["inherit", "pipe", "pipe"] });
    if (r.error) throw new GcpBootstrapError(`${cmd[0]}: ${r.error.message} (is it installed and on PATH?)`);
    return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const must = (cmd: string[]) => {
    const r = run(cmd);
    if (r.code !== 0)
      throw new GcpBootstrapError(`${cmd.slice(0, 4).join(" ")} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  };

  try {
    // ── 1. the project, and what the stack reads but does not create ──
    log(`== ${c.name}: project ${g.projectId}, region ${g.region}, state gs://${state.bucket}/${state.prefix}`);
    const number = run(["gcloud", "projects", "describe", g.projectId, "--format=value(projectNumber)"], { probe: true });
    if (!dryRun && number.code !== 0)
      throw new GcpBootstrapError(
        `the Google credentials cannot read project ${g.projectId} (gcp.projectId): ${number.stderr.trim().split("\n").pop()}; sign in as an administrator of it (gcloud auth login, and gcloud auth application-default login for Terraform)`,
      );
    if (!dryRun && number.stdout.trim() !== c.ci.projectNumber)
      throw new GcpBootstrapError(
        `environment "${c.name}": field ci.projectNumber = "${c.ci.projectNumber}": expected ${number.stdout.trim()}, the number of project ${g.projectId} (the workflows name the Workload Identity provider by it)`,
      );
    if (!argv.includes("--skip-checks")) {
      const location = g.clusterLocation ?? g.region;
      const cluster = run(
        ["gcloud", "container", "clusters", "describe", g.clusterName, "--location", location, ...project, "--format=value(status)"],
        { probe: true },
      );
      if (!dryRun && cluster.code !== 0)
        throw new GcpBootstrapError(
          `prerequisites missing (nothing was changed; --skip-checks to go on anyway):\n  - the GKE cluster ${g.clusterName} in ${location}: ${cluster.stderr.trim().split("\n").pop()} -> create it first, with Workload Identity (gcp.clusterName names an existing one)`,
        );
      if (!dryRun) log(`ok: the GKE cluster ${g.clusterName} (${cluster.stdout.trim()})`);
    }

    // ── 2. the APIs of the token exchange, and the state bucket ──
    must(["gcloud", "services", "enable", ...CI_APIS, ...project]);
    const url = `gs://${state.bucket}`;
    const bucket = run(["gcloud", "storage", "buckets", "describe", url, ...project, "--format=value(name)"], { probe: true });
    if (bucket.code !== 0 && /\b403\b|does not have/.test(bucket.stderr))
      throw new GcpBootstrapError(
        `environment "${c.name}": field state.bucket: the bucket "${state.bucket}" exists but you may not read it (another project's?): bucket names are global, choose another`,
      );
    if (bucket.code === 0) log(`ok: state bucket ${state.bucket} exists`);
    else
      must([
        "gcloud",
        "storage",
        "buckets",
        "create",
        url,
        ...project,
        "--location",
        g.region,
        "--uniform-bucket-level-access",
        "--public-access-prevention",
      ]);
    must([
      "gcloud",
      "storage",
      "buckets",
      "update",
      url,
      ...project,
      "--versioning",
      "--uniform-bucket-level-access",
      "--public-access-prevention",
    ]);

    // ── 3. what only an administrator applies ──
    const stack = `${c.project}-${c.name}`;
    const stackDir = dryRun ? path.join(outdir, "stacks", stack) : deps.synth(c, outdir);
    const targets = dryRun
      ? ["<the Workload Identity pool, GitHub's provider, the plan and deploy service accounts and their roles, the namespaces>"]
      : gcpAdministeredTargets(JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")), stack);
    must(["terraform", `-chdir=${stackDir}`, "init", "-input=false"]);
    const apply = run([
      "terraform",
      `-chdir=${stackDir}`,
      "apply",
      "-input=false",
      ...(argv.includes("--yes") ? ["-auto-approve"] : []),
      ...targets.map((t) => `-target=${t}`),
    ]);
    if (apply.code !== 0)
      throw new GcpBootstrapError(
        `terraform apply of the administered resources failed (exit ${apply.code}): ${apply.stderr.trim().split("\n").slice(-5).join(" ")}`,
      );
    log(apply.stdout.trim().split("\n").slice(-3).join("\n"));

    // ── 4. what is left ──
    const ids = gcpCiIdentities(c)!;
    log(
      `\nDone: the state of ${c.name} lives in gs://${state.bucket}/${state.prefix}, and its CI identities exist (${ids.workloadIdentityProvider}; ${ids.planServiceAccount}, ${ids.deployServiceAccount}). Left to do:`,
    );
    let step = 1;
    log(
      `${step++}. create the Kubernetes Secrets the configuration names:\n${operatorSecrets(c)
        .map((x) => `     kubectl -n ${x.split("/")[0]} create secret generic ${x.split("/")[1].split(" ")[0]} --from-literal=...   # ${x}`)
        .join("\n")}`,
    );
    log(
      `${step++}. in GitHub (${c.ci.repository}): the Environment "${gcpDeployEnvironmentOf(c)}"${c.ci.autoDeploy ? " (ci.autoDeploy: no reviewers)" : " with required reviewers"} (docs/gcp.md#ci)`,
    );
    log(`${step++}. the first full deploy: merge to main (deploy.yml), or by hand: npm run deploy -- ${stack}`);
    return 0;
  } catch (err) {
    if (err instanceof GcpBootstrapError) {
      log(`bootstrap: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
