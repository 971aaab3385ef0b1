/**
 * The first deploy into an empty account, in one command, by an administrator of that account:
 *
 *   npm run bootstrap -- <env> [--dry-run] [--yes] [--skip-checks] [--outdir cdktf.out]
 *
 * 1. checks the credentials are the environment's account, and the prerequisites the stack reads but does
 *    not create (the EKS cluster, the OIDC client secret, the certificate, aws.assumeRoleArn's role);
 * 2. creates what Terraform's state needs, idempotently: the account's state key (customer-managed, rotated,
 *    alias `alias/<project>-terraform-state` unless state.kmsKeyArn names one) and the state bucket
 *    (versioned, encrypted with that key, public access blocked, ACLs off, TLS only, no principal of
 *    another account, old versions expire), every setting put again on each run;
 * 3. synthesizes the stack and applies, with Terraform, what only an administrator may apply: GitHub's OIDC
 *    provider, the CI roles and their cluster access, the workload permissions boundary (constructs/ci-roles,
 *    constructs/core/permissions-boundary.ts), and the namespaces whose Secrets an operator creates by hand;
 * 4. prints what is left: the Secrets to create, the GitHub Environments, the first full deploy.
 *
 * A GCP environment (`cloud: "gcp"`) gets the same steps in its project (scripts/bootstrap-gcp.ts).
 *
 * Run it again after a change to the CI roles or the boundary (the deploy role may not apply those).
 * `--dry-run` prints every command instead of running it (a probe is taken as "missing", so the whole
 * first-deploy sequence shows). Exit code 0 on success, 1 on a failed step, 2 on bad arguments.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { loadAllEnvironments, type AnyEnvironmentConfig, type EnvironmentConfig } from "../config";
import { gcpBootstrap } from "./bootstrap-gcp";
import { stateKeyAlias, stateLocation, type StateLocation } from "../config/state";
import { ciRoleNames } from "../config/ci";
import { ADMINISTERED_BY_BOOTSTRAP, ADMINISTERED_BY_TAG } from "../constructs/ci-roles";

/** One command's outcome. */
export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How the bootstrap runs things (tests give it a fake `aws` and `terraform` on PATH). */
export interface BootstrapDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  /** Every environment of the configuration, of any cloud. */
  readonly environments: () => AnyEnvironmentConfig[];
  /** Synthesizes `config`'s stack into `outdir` (with every environment of the configuration: the image copies it grants) and returns the stack's folder. */
  readonly synth: (config: AnyEnvironmentConfig, outdir: string, environments: readonly AnyEnvironmentConfig[]) => string;
}

export class BootstrapError extends Error {}

/** The state bucket's policy: TLS only, and no principal of another account (the state never leaves it). */
export function stateBucketPolicy(s: StateLocation): Record<string, unknown> {
  const bucket = `arn:${s.partition}:s3:::${s.bucket}`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "TlsOnly",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucket, `${bucket}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "OnlyThisAccount",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucket, `${bucket}/*`],
        Condition: { StringNotEquals: { "aws:PrincipalAccount": s.account } },
      },
    ],
  };
}

/** Resources of the synthesized stack only an administrator applies (their Terraform addresses). */
export function administeredTargets(
  stackJson: { resource?: Record<string, Record<string, Record<string, unknown>>> },
  stack: string,
): string[] {
  const targets: string[] = [];
  for (const [type, byName] of Object.entries(stackJson.resource ?? {})) {
    for (const [name, attrs] of Object.entries(byName)) {
      const p = (attrs["//"] as { metadata?: { path?: string } } | undefined)?.metadata?.path ?? "";
      const administered =
        p.startsWith(`${stack}/ci_roles/`) ||
        p.startsWith(`${stack}/workload_boundary/`) ||
        (attrs.tags as Record<string, string> | undefined)?.[ADMINISTERED_BY_TAG] === ADMINISTERED_BY_BOOTSTRAP ||
        // The namespaces, so an operator can create the Secrets the configuration names before the first deploy.
        type === "kubernetes_namespace_v1";
      if (administered) targets.push(`${type}.${name}`);
    }
  }
  if (!targets.some((t) => t.startsWith("aws_iam_role.")))
    throw new BootstrapError(`the stack ${stack} has no CI roles: add a ci section (ci.repository) to the environment`);
  return targets.sort();
}

/** Kubernetes Secrets the configuration names, which an operator creates (namespace/name). */
export function operatorSecrets(c: EnvironmentConfig): string[] {
  const out = new Set<string>();
  const auth = c.auth.clientSecret;
  if (auth.source === "kubernetes") out.add(`${c.mlflow.namespace}/${auth.secretName} (key ${auth.key}: the OIDC client secret)`);
  const m = c.monitoring;
  if (m.slack) out.add(`${m.namespace}/${m.slack.webhookSecretName} (key url: the Slack webhook URL)`);
  if (m.discord) out.add(`${m.namespace}/${m.discord.webhookSecretName} (key url: the Discord webhook URL)`);
  if (m.email?.authPasswordSecretName) out.add(`${m.namespace}/${m.email.authPasswordSecretName} (key password: the SMTP password)`);
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (o.source === "kubernetes" && typeof o.secretName === "string" && typeof o.key === "string")
        out.add(`${c.mlflow.namespace}/${o.secretName} (key ${o.key})`);
      Object.values(o).forEach(walk);
    }
  };
  if (c.events.enabled) walk(c.events);
  return [...out].sort();
}

export function main(argv: readonly string[], deps: BootstrapDeps): number {
  const envName = argv.find((a) => !a.startsWith("--") && argv[argv.indexOf(a) - 1] !== "--outdir");
  const dryRun = argv.includes("--dry-run");
  const outdirAt = argv.indexOf("--outdir");
  const outdir = outdirAt >= 0 ? argv[outdirAt + 1] : "cdktf.out";
  const log = deps.log;
  const all = deps.environments();
  if (!envName) {
    log(`usage: npm run bootstrap -- <env> [--dry-run] [--yes] [--skip-checks]; environments: ${all.map((e) => e.name).join(", ")}`);
    return 2;
  }
  const found = all.find((e) => e.name === envName);
  if (!found) {
    log(`bootstrap: no environment "${envName}"; expected one of ${all.map((e) => e.name).join(", ")}`);
    return 2;
  }
  if (found.cloud === "gcp") return gcpBootstrap(found, argv, outdir, { env: deps.env, log, synth: (g, dir) => deps.synth(g, dir, all) });
  if (found.cloud === "azure") {
    log(
      `bootstrap: environment "${found.name}" is on Azure: the bootstrap does not handle Azure yet; follow docs/azure.md (prerequisites and first deploy)`,
    );
    return 2;
  }
  const c = found;
  const s = stateLocation(c);
  if (!s) {
    log(
      `bootstrap: environment "${c.name}": field state.backend = "local": expected "s3" (the bootstrap creates the account's state bucket)`,
    );
    return 2;
  }
  const region = ["--region", s.region];

  const run = (cmd: string[], opts: { probe?: boolean; input?: string } = {}): Outcome => {
    log(
      `${dryRun ? "would run" : "$"} ${cmd.map((a) => (/^[\w@%+=:,./{}-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ")}`,
    );
    if (dryRun)
      return opts.probe
        ? { code: 254, stdout: "", stderr: "An error occurred (404) when calling the operation: Not Found (dry run)" }
        : { code: 0, stdout: "", stderr: "" };
    const r = spawnSync(cmd[0], cmd.slice(1), {
      env: deps.env,
      encoding: "utf8",
      input: opts.input,
      stdio: [opts.input === undefined ? "inherit" : "pipe", "pipe", "pipe"],
    });
    if (r.error) throw new BootstrapError(`${cmd[0]}: ${r.error.message} (is it installed and on PATH?)`);
    return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const must = (cmd: string[]): Outcome => {
    const r = run(cmd);
    if (r.code !== 0)
      throw new BootstrapError(`${cmd.slice(0, 3).join(" ")} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  };

  try {
    // ── 1. the account, and what the stack reads but does not create ──
    log(`== ${c.name}: account ${c.aws.accountId}, region ${c.aws.region}, state s3://${s.bucket}/${s.key} (${s.region})`);
    const who = run(["aws", "sts", "get-caller-identity", "--query", "Account", "--output", "text"]);
    if (!dryRun && (who.code !== 0 || who.stdout.trim() !== c.aws.accountId)) {
      throw new BootstrapError(
        `the AWS credentials are ${who.code === 0 ? `for account ${who.stdout.trim()}` : "missing or expired"}; environment "${c.name}" lives in ${c.aws.accountId} (aws.accountId): sign in to that account as an administrator (e.g. aws sso login, AWS_PROFILE)`,
      );
    }
    if (!argv.includes("--skip-checks")) {
      const checks: [string, string[], string][] = [
        [
          `the EKS cluster ${c.cluster.name}`,
          [
            "aws",
            "eks",
            "describe-cluster",
            "--name",
            c.cluster.name,
            "--region",
            c.aws.region,
            "--query",
            "cluster.status",
            "--output",
            "text",
          ],
          "create the cluster first (cluster.name names an existing one)",
        ],
        [
          `the certificate of ${c.hostname}`,
          [
            "aws",
            "acm",
            "describe-certificate",
            "--certificate-arn",
            c.ingress.certificateArn,
            "--region",
            c.ingress.certificateArn.split(":")[3],
            "--query",
            "Certificate.Status",
            "--output",
            "text",
          ],
          "request it in ACM and validate it (ingress.certificateArn)",
        ],
        ...(c.auth.clientSecret.source === "secrets-manager"
          ? [
              [
                `the OIDC client secret`,
                [
                  "aws",
                  "secretsmanager",
                  "describe-secret",
                  "--secret-id",
                  c.auth.clientSecret.secretArn,
                  "--region",
                  c.aws.region,
                  "--query",
                  "ARN",
                  "--output",
                  "text",
                ],
                "aws secretsmanager create-secret --name <name> --secret-string <client secret> (auth.clientSecret.secretArn)",
              ] as [string, string[], string],
            ]
          : []),
        ...(c.aws.assumeRoleArn
          ? ([
              [
                `the role Terraform assumes for people (aws.assumeRoleArn)`,
                ["aws", "iam", "get-role", "--role-name", c.aws.assumeRoleArn.split("/").pop()!, "--query", "Role.Arn", "--output", "text"],
                "create it, trusting the people who deploy by hand (docs/ci-cd.md)",
              ],
              // The Kubernetes and Helm providers authenticate as that role too (aws eks get-token --role-arn).
              [
                `the EKS access entry of aws.assumeRoleArn`,
                [
                  "aws",
                  "eks",
                  "describe-access-entry",
                  "--cluster-name",
                  c.cluster.name,
                  "--principal-arn",
                  c.aws.assumeRoleArn,
                  "--region",
                  c.aws.region,
                  "--query",
                  "accessEntry.principalArn",
                  "--output",
                  "text",
                ],
                `aws eks create-access-entry --cluster-name ${c.cluster.name} --principal-arn ${c.aws.assumeRoleArn} && aws eks associate-access-policy --cluster-name ${c.cluster.name} --principal-arn ${c.aws.assumeRoleArn} --policy-arn arn:${s.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy --access-scope type=cluster`,
              ],
            ] as [string, string[], string][])
          : []),
      ];
      const missing: string[] = [];
      for (const [what, cmd, fix] of checks) {
        const r = run(cmd, { probe: true });
        if (!dryRun && r.code !== 0) missing.push(`${what}: ${r.stderr.trim().split("\n").pop()} -> ${fix}`);
        else if (!dryRun && what.startsWith("the certificate") && r.stdout.trim() !== "ISSUED")
          missing.push(`${what} is ${r.stdout.trim()}, not ISSUED -> finish its DNS validation`);
        else if (!dryRun) log(`ok: ${what} (${r.stdout.trim()})`);
      }
      if (missing.length > 0)
        throw new BootstrapError(
          `prerequisites missing (nothing was changed; --skip-checks to go on anyway):\n  - ${missing.join("\n  - ")}`,
        );
    }

    // ── 2. the state key and bucket, idempotently (the bucket's owner first: a name taken elsewhere changes nothing) ──
    const head = run(["aws", "s3api", "head-bucket", "--bucket", s.bucket, "--expected-bucket-owner", s.account, ...region], {
      probe: true,
    });
    const bucketExists = head.code === 0;
    if (!bucketExists && /\b(403|Forbidden)\b/.test(head.stderr)) {
      throw new BootstrapError(
        `environment "${c.name}": field state.bucket: the bucket "${s.bucket}" exists but not in account ${s.account} (or you may not read it): bucket names are global, choose another (e.g. with {account} in it)`,
      );
    }
    if (!bucketExists && !/\b(404|Not Found|NoSuchBucket)\b/.test(head.stderr)) {
      throw new BootstrapError(`aws s3api head-bucket ${s.bucket} failed (exit ${head.code}): ${head.stderr.trim()}`);
    }
    let keyArn = s.kmsKeyArn;
    const keyId = s.kmsAlias ?? s.kmsKeyArn;
    const key = run(["aws", "kms", "describe-key", "--key-id", keyId, ...region, "--query", "KeyMetadata.Arn", "--output", "text"], {
      probe: true,
    });
    if (key.code === 0 && key.stdout.trim()) {
      keyArn = key.stdout.trim();
      log(`ok: state key ${keyId} exists (${keyArn})`);
    } else if (!s.kmsAlias) {
      throw new BootstrapError(
        `environment "${c.name}": field state.kmsKeyArn = "${s.kmsKeyArn}": the key does not exist or you cannot read it: create it, or remove state.kmsKeyArn to let the bootstrap create ${stateKeyAlias(c.project)}`,
      );
    } else {
      const created = must([
        "aws",
        "kms",
        "create-key",
        ...region,
        "--description",
        `Terraform state of ${c.project} in account ${c.aws.accountId}`,
        "--tags",
        `TagKey=project,TagValue=${c.project}`,
        `TagKey=${ADMINISTERED_BY_TAG},TagValue=${ADMINISTERED_BY_BOOTSTRAP}`,
        "--query",
        "KeyMetadata.Arn",
        "--output",
        "text",
      ]);
      keyArn = created.stdout.trim() || "<new key ARN>";
      must(["aws", "kms", "create-alias", ...region, "--alias-name", s.kmsAlias, "--target-key-id", keyArn]);
    }
    must(["aws", "kms", "enable-key-rotation", ...region, "--key-id", keyArn]);

    if (bucketExists) {
      log(`ok: state bucket ${s.bucket} exists in ${s.account}`);
    } else {
      must([
        "aws",
        "s3api",
        "create-bucket",
        "--bucket",
        s.bucket,
        ...region,
        "--object-ownership",
        "BucketOwnerEnforced",
        ...(s.region === "us-east-1" ? [] : ["--create-bucket-configuration", `LocationConstraint=${s.region}`]),
      ]);
    }
    const bucket = ["--bucket", s.bucket, "--expected-bucket-owner", s.account, ...region];
    must([
      "aws",
      "s3api",
      "put-public-access-block",
      ...bucket,
      "--public-access-block-configuration",
      "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
    ]);
    must([
      "aws",
      "s3api",
      "put-bucket-ownership-controls",
      ...bucket,
      "--ownership-controls",
      "Rules=[{ObjectOwnership=BucketOwnerEnforced}]",
    ]);
    must(["aws", "s3api", "put-bucket-versioning", ...bucket, "--versioning-configuration", "Status=Enabled"]);
    must([
      "aws",
      "s3api",
      "put-bucket-encryption",
      ...bucket,
      "--server-side-encryption-configuration",
      JSON.stringify({
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn }, BucketKeyEnabled: true }],
      }),
    ]);
    must([
      "aws",
      "s3api",
      "put-bucket-lifecycle-configuration",
      ...bucket,
      "--lifecycle-configuration",
      JSON.stringify({
        Rules: [
          {
            ID: "old-state-versions",
            Status: "Enabled",
            Filter: {},
            NoncurrentVersionExpiration: { NoncurrentDays: 90, NewerNoncurrentVersions: 10 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
          },
        ],
      }),
    ]);
    must(["aws", "s3api", "put-bucket-policy", ...bucket, "--policy", JSON.stringify(stateBucketPolicy(s))]);
    must([
      "aws",
      "s3api",
      "put-bucket-tagging",
      ...bucket,
      "--tagging",
      `TagSet=[{Key=project,Value=${c.project}},{Key=${ADMINISTERED_BY_TAG},Value=${ADMINISTERED_BY_BOOTSTRAP}}]`,
    ]);

    // ── 3. what only an administrator applies ──
    const stackDir = dryRun ? path.join(outdir, "stacks", `${c.project}-${c.name}`) : deps.synth(c, outdir, all);
    const targets = dryRun
      ? ["<the CI roles, their policies and cluster access, GitHub's OIDC provider, the workload boundary, the namespaces>"]
      : administeredTargets(JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")), `${c.project}-${c.name}`);
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
      throw new BootstrapError(
        `terraform apply of the administered resources failed (exit ${apply.code}): ${apply.stderr.trim().split("\n").slice(-5).join(" ")}`,
      );
    log(apply.stdout.trim().split("\n").slice(-3).join("\n"));

    // ── 4. what is left ──
    const names = ciRoleNames(c);
    log(
      `\nDone: the state of ${c.name} lives in s3://${s.bucket}/${s.key}, and its CI roles exist (${names.plan}, ${names.deploy}, ${names.imagePush}). Left to do:`,
    );
    const secrets = operatorSecrets(c);
    let step = 1;
    if (secrets.length > 0)
      log(
        `${step++}. create the Kubernetes Secrets the configuration names:\n${secrets.map((x) => `     kubectl -n ${x.split("/")[0]} create secret generic ${x.split("/")[1].split(" ")[0]} --from-literal=...   # ${x}`).join("\n")}`,
      );
    log(
      `${step++}. in GitHub (${c.ci?.repository ?? "ci.repository"}): the Environment "${c.ci?.deployEnvironment ?? c.name}"${c.ci?.autoDeploy ? " (ci.autoDeploy: no reviewers)" : " with required reviewers"} (docs/ci-cd.md)`,
    );
    log(`${step++}. the first full deploy: merge to main (deploy.yml), or by hand: npm run deploy -- ${c.project}-${c.name}`);
    return 0;
  } catch (err) {
    if (err instanceof BootstrapError) {
      log(`bootstrap: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/** Synthesizes one environment's stack into `outdir` (cdktf's layout) and returns the stack's folder. */
export function synthStack(config: AnyEnvironmentConfig, outdir: string, environments: readonly AnyEnvironmentConfig[] = [config]): string {
  /* eslint-disable @typescript-eslint/no-require-imports -- the app's modules only when synthesizing */
  const { App } = require("cdktf") as typeof import("cdktf");
  const { MlflowStack } = require("../stacks/mlflow-stack") as typeof import("../stacks/mlflow-stack");
  const { GcpMlflowStack } = require("../stacks/gcp-stack") as typeof import("../stacks/gcp-stack");
  const { AzureMlflowStack } = require("../stacks/azure-stack") as typeof import("../stacks/azure-stack");
  /* eslint-enable @typescript-eslint/no-require-imports */
  const app = new App({ outdir });
  if (config.cloud === "gcp") new GcpMlflowStack(app, config);
  else if (config.cloud === "azure") new AzureMlflowStack(app, config);
  else new MlflowStack(app, config, { environments: environments.filter((e): e is EnvironmentConfig => e.cloud === "aws") });
  app.synth();
  return path.join(outdir, "stacks", `${config.project}-${config.name}`);
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), {
    env: process.env,
    log: (line) => console.log(line),
    environments: loadAllEnvironments,
    synth: synthStack,
  });
}
