/**
 * The first deploy of an Azure environment into its resource group, by an administrator of it (called by
 * scripts/bootstrap.ts for an environment with `cloud: "azure"`; same arguments, same exit codes):
 *
 * 1. checks the Azure CLI is signed in to the environment's subscription, and the prerequisites the CI identities
 *    rely on: the AKS cluster, with Azure RBAC for Kubernetes authorization (their roles on the cluster are what
 *    reaches the Kubernetes API), and the state's storage account (docs/azure.md#prerequisites);
 * 2. synthesizes the stack and applies, with Terraform, what only an administrator may apply: the CI identities
 *    (constructs/azure-ci-identities: the plan and deploy identities, GitHub's federated credentials, their roles)
 *    and the namespaces whose Secrets an operator creates by hand, reaching AKS with the administrator's Entra ID
 *    token;
 * 3. reads the identities' client ids (Azure assigns them) and says where they go: ci.planClientId and
 *    ci.deployClientId, which the workflows log in with;
 * 4. prints what is left: the client ids, the Secrets to create, the GitHub Environment, the first full deploy.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { AzureEnvironmentConfig } from "../config/azure";
import { azureCiNames, azureDeployEnvironmentOf } from "../config/azure-ci";
import { azurermStateLocation } from "../constructs/azure-ci-identities/from-config";
import { CI_IDENTITIES_ID } from "../policies/iam/administered";

/**
 * stacks/azure-stack.ts's AKS_ENTRA_SERVER_APP_ID and AKS_TOKEN_VARIABLE, written again so that the bootstrap loads
 * the stack's modules only when it synthesizes (test/scripts/bootstrap-azure.test.ts keeps them equal).
 */
export const AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630";
export const AKS_TOKEN_VARIABLE_NAME = "aks_access_token";

/** What the Azure bootstrap needs of scripts/bootstrap.ts's dependencies. */
export interface AzureBootstrapDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  /** Synthesizes the environment's stack into `outdir` and returns the stack's folder. */
  readonly synth: (config: AzureEnvironmentConfig, outdir: string) => string;
}

class AzureBootstrapError extends Error {}

/** Resources of the synthesized Azure stack only an administrator applies (their Terraform addresses). */
export function azureAdministeredTargets(stackJson: { resource?: Record<string, Record<string, unknown>> }, stack: string): string[] {
  const targets: string[] = [];
  for (const [type, byName] of Object.entries(stackJson.resource ?? {}))
    for (const name of Object.keys(byName))
      if ((type.startsWith("azurerm_") && name.startsWith(`${CI_IDENTITIES_ID}_`)) || type === "kubernetes_namespace_v1")
        targets.push(`${type}.${name}`);
  if (!targets.some((t) => t.startsWith("azurerm_user_assigned_identity.")))
    throw new AzureBootstrapError(`the stack ${stack} has no CI identities: add a ci section (ci.repository) to the environment`);
  return targets.sort();
}

/** Kubernetes Secrets an Azure environment's configuration names (namespace/name), which an operator creates. */
function operatorSecrets(c: AzureEnvironmentConfig): string[] {
  const out = new Set<string>();
  const auth = c.auth.clientSecret;
  out.add(`${c.mlflow.namespace}/${auth.secretName} (key ${auth.key}: the OIDC client secret)`);
  const m = c.monitoring;
  if (m.slack) out.add(`${m.namespace}/${m.slack.webhookSecretName} (key url: the Slack webhook URL)`);
  if (m.discord) out.add(`${m.namespace}/${m.discord.webhookSecretName} (key url: the Discord webhook URL)`);
  if (m.email?.authPasswordSecretName) out.add(`${m.namespace}/${m.email.authPasswordSecretName} (key password: the SMTP password)`);
  return [...out].sort();
}

export function azureBootstrap(c: AzureEnvironmentConfig, argv: readonly string[], outdir: string, deps: AzureBootstrapDeps): number {
  const dryRun = argv.includes("--dry-run");
  const log = deps.log;
  const az = c.azure;
  const state = azurermStateLocation(c);
  if (!state) {
    log(
      `bootstrap: environment "${c.name}": field state.backend = "local": expected "azurerm" (the pipelines keep the state, and the plan files, in its container)`,
    );
    return 2;
  }
  if (!c.ci) {
    log(
      `bootstrap: environment "${c.name}": field ci is missing: expected a ci section in the Azure environment's own entry (ci.repository): the bootstrap applies its CI identities (docs/azure.md#ci)`,
    );
    return 2;
  }
  const ci = c.ci;

  const run = (cmd: string[], opts: { probe?: boolean; env?: Record<string, string>; secret?: boolean } = {}) => {
    log(
      `${dryRun ? "would run" : "$"} ${cmd.map((a) => (/^[\w@%+=:,./{}()-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ")}`,
    );
    if (dryRun) return opts.probe ? { code: 3, stdout: "", stderr: "ERROR: (dry run)" } : { code: 0, stdout: "", stderr: "" };
    const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...deps.env, ...opts.env }, encoding: "utf8", stdio: ["inherit", "pipe", "pipe"] });
    if (r.error) throw new AzureBootstrapError(`${cmd[0]}: ${r.error.message} (is it installed and on PATH?)`);
    return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const lastLine = (s: string) => s.trim().split("\n").pop() ?? "";

  try {
    // ── 1. the subscription, and what the CI identities rely on ──
    const clusterGroup = az.clusterResourceGroupName ?? az.resourceGroupName;
    log(
      `== ${c.name}: subscription ${az.subscriptionId}, resource group ${az.resourceGroupName}, state ${state.storageAccountName}/${state.containerName}/${state.key}`,
    );
    const account = run(["az", "account", "show", "--query", "id", "-o", "tsv"], { probe: true });
    if (!dryRun && (account.code !== 0 || account.stdout.trim().toLowerCase() !== az.subscriptionId.toLowerCase()))
      throw new AzureBootstrapError(
        `the Azure CLI is ${account.code === 0 ? `on subscription ${account.stdout.trim()}` : "not signed in"}; environment "${c.name}" lives in ${az.subscriptionId} (azure.subscriptionId): az login, then az account set --subscription ${az.subscriptionId}, as an administrator (Owner, or User Access Administrator and Contributor) of resource group ${az.resourceGroupName}`,
      );
    if (!argv.includes("--skip-checks")) {
      const missing: string[] = [];
      const rbac = run(
        [
          "az",
          "aks",
          "show",
          "--resource-group",
          clusterGroup,
          "--name",
          az.clusterName,
          "--query",
          "aadProfile.enableAzureRbac",
          "-o",
          "tsv",
        ],
        { probe: true },
      );
      if (!dryRun && rbac.code !== 0)
        missing.push(
          `the AKS cluster ${az.clusterName} in ${clusterGroup}: ${lastLine(rbac.stderr)} -> create it first (azure.clusterName names an existing one)`,
        );
      else if (!dryRun && rbac.stdout.trim() !== "true")
        missing.push(
          `Azure RBAC for Kubernetes authorization on ${az.clusterName} -> az aks update --resource-group ${clusterGroup} --name ${az.clusterName} --enable-azure-rbac (the CI identities reach the Kubernetes API through their Azure roles)`,
        );
      const stateAccount = run(
        [
          "az",
          "storage",
          "account",
          "show",
          "--resource-group",
          state.resourceGroupName,
          "--name",
          state.storageAccountName,
          "--query",
          "id",
          "-o",
          "tsv",
        ],
        { probe: true },
      );
      if (!dryRun && stateAccount.code !== 0)
        missing.push(
          `the state's storage account ${state.storageAccountName} in ${state.resourceGroupName}: ${lastLine(stateAccount.stderr)} -> create it and its container ${state.containerName} (docs/azure.md#prerequisites)`,
        );
      if (missing.length > 0)
        throw new AzureBootstrapError(
          `prerequisites missing (nothing was changed; --skip-checks to go on anyway):\n${missing.map((m) => `  - ${m}`).join("\n")}`,
        );
      if (!dryRun) log(`ok: the AKS cluster ${az.clusterName} (Azure RBAC) and the state's storage account ${state.storageAccountName}`);
    }

    // ── 2. what only an administrator applies ──
    const stack = `${c.project}-${c.name}`;
    const stackDir = dryRun ? path.join(outdir, "stacks", stack) : deps.synth(c, outdir);
    const targets = dryRun
      ? ["<the plan and deploy identities, their federated credentials, roles and role assignments, the namespaces>"]
      : azureAdministeredTargets(JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")), stack);
    // The administrator's own Entra ID token for AKS: the namespaces are Kubernetes objects (never printed).
    const token = run(["az", "account", "get-access-token", "--resource", AKS_SERVER_APP_ID, "--query", "accessToken", "-o", "tsv"]);
    if (token.code !== 0) throw new AzureBootstrapError(`no Entra ID token for AKS (exit ${token.code}): ${lastLine(token.stderr)}`);
    const tfEnv = { [`TF_VAR_${AKS_TOKEN_VARIABLE_NAME}`]: token.stdout.trim() };
    const init = run(["terraform", `-chdir=${stackDir}`, "init", "-input=false"], { env: tfEnv });
    if (init.code !== 0) throw new AzureBootstrapError(`terraform init failed (exit ${init.code}): ${lastLine(init.stderr)}`);
    const apply = run(
      [
        "terraform",
        `-chdir=${stackDir}`,
        "apply",
        "-input=false",
        ...(argv.includes("--yes") ? ["-auto-approve"] : []),
        ...targets.map((t) => `-target=${t}`),
      ],
      { env: tfEnv },
    );
    if (apply.code !== 0)
      throw new AzureBootstrapError(
        `terraform apply of the administered resources failed (exit ${apply.code}): ${apply.stderr.trim().split("\n").slice(-5).join(" ")}`,
      );
    log(apply.stdout.trim().split("\n").slice(-3).join("\n"));

    // ── 3. the client ids the workflows log in with ──
    const names = azureCiNames(c);
    const clientIdOf = (name: string) => {
      const r = run([
        "az",
        "identity",
        "show",
        "--resource-group",
        az.resourceGroupName,
        "--name",
        name,
        "--query",
        "clientId",
        "-o",
        "tsv",
      ]);
      if (r.code !== 0) throw new AzureBootstrapError(`az identity show ${name} failed (exit ${r.code}): ${lastLine(r.stderr)}`);
      return dryRun ? `<client id of ${name}>` : r.stdout.trim();
    };
    const plan = clientIdOf(names.planIdentityName);
    const deploy = clientIdOf(names.deployIdentityName);

    // ── 4. what is left ──
    log(
      `\nDone: the CI identities of ${c.name} exist (${names.planIdentityName}: ${plan}; ${names.deployIdentityName}: ${deploy}). Left to do:`,
    );
    let step = 1;
    if (ci.planClientId?.toLowerCase() !== plan.toLowerCase() || ci.deployClientId?.toLowerCase() !== deploy.toLowerCase())
      log(
        `${step++}. in the environment's ci section (config/environments.ts), the client ids the workflows log in with:\n     ci: { planClientId: "${plan}", deployClientId: "${deploy}" }`,
      );
    log(
      `${step++}. create the Kubernetes Secrets the configuration names:\n${operatorSecrets(c)
        .map((x) => `     kubectl -n ${x.split("/")[0]} create secret generic ${x.split("/")[1].split(" ")[0]} --from-literal=...   # ${x}`)
        .join("\n")}`,
    );
    log(
      `${step++}. in GitHub (${ci.repository}): the Environment "${azureDeployEnvironmentOf(c)}"${ci.autoDeploy ? " (ci.autoDeploy: no reviewers)" : " with required reviewers"} (docs/azure.md#ci)`,
    );
    log(
      `${step++}. let the runners reach the Key Vault's and the state account's firewalls (azure.keyVaultAllowedCidrs, or self-hosted runners in the virtual network: docs/azure.md#ci)`,
    );
    log(`${step++}. the first full deploy: merge to main (deploy.yml)`);
    return 0;
  } catch (err) {
    if (err instanceof AzureBootstrapError) {
      log(`bootstrap: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
