/**
 * `npm run bootstrap -- <env>` for an Azure environment (scripts/bootstrap-azure.ts through scripts/bootstrap.ts),
 * against stand-ins of az and Terraform on PATH (fake-az.js, fake-terraform.js: they record every call). Before,
 * the bootstrap answered that it did not handle Azure.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main, synthStack, type BootstrapDeps } from "../../scripts/bootstrap";
import { AKS_SERVER_APP_ID, AKS_TOKEN_VARIABLE_NAME, azureAdministeredTargets } from "../../scripts/bootstrap-azure";
import { AKS_ENTRA_SERVER_APP_ID, AKS_TOKEN_VARIABLE } from "../../stacks/azure-stack";
import type { AnyEnvironmentConfig } from "../../config";
import { envConfig } from "../helpers/synth";
import { azureConfig } from "../helpers/azure";

const BIN = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-azure-bin-"));
for (const [tool, file] of [
  ["az", "fake-az.js"],
  ["terraform", "fake-terraform.js"],
]) {
  fs.copyFileSync(path.join(__dirname, file), path.join(BIN, tool));
  fs.chmodSync(path.join(BIN, tool), 0o755);
}
const OUTDIR = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-azure-out-"));
const azure = azureConfig({ ci: { repository: "acme/ml-platform" } });
const STACK_DIR = path.join(OUTDIR, "stacks", "mlflow-azure-dev");
let synthesized: string | undefined;
const synth = (config: AnyEnvironmentConfig, outdir: string) => (synthesized ??= synthStack(config, outdir));

function bootstrap(args: string[], opts: { env?: Record<string, string>; environments?: AnyEnvironmentConfig[] } = {}) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-azure-state-"));
  const lines: string[] = [];
  const deps: BootstrapDeps = {
    env: { PATH: `${BIN}:${process.env.PATH}`, FAKE_AWS_STATE: state, ...opts.env },
    log: (l) => lines.push(l),
    environments: () => opts.environments ?? [envConfig("dev"), azure],
    synth,
  };
  const code = main([...args, "--outdir", OUTDIR], deps);
  const log = path.join(state, "calls.log");
  const calls = fs.existsSync(log)
    ? fs
        .readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[])
    : [];
  return { code, out: lines.join("\n"), calls };
}
const ops = (calls: string[][]) => calls.map((c) => c.slice(0, 3).join(" "));

describe("npm run bootstrap -- <azure env>", () => {
  const first = bootstrap(["azure-dev", "--yes"]);

  test("checks the subscription, the cluster's Azure RBAC and the state account, applies the CI identities, prints their client ids and what is left", () => {
    expect(first.out).not.toContain("does not handle Azure");
    expect(first.code).toBe(0);
    expect(ops(first.calls)).toEqual([
      "az account show",
      "az aks show",
      "az storage account",
      "az account get-access-token",
      `terraform -chdir=${STACK_DIR} init`,
      `terraform -chdir=${STACK_DIR} apply`,
      "az identity show",
      "az identity show",
    ]);
    const apply = first.calls[5];
    expect(apply).toContain("-auto-approve");
    const targets = apply.filter((a) => a.startsWith("-target=")).map((a) => a.slice("-target=".length));
    expect(targets.length).toBeGreaterThan(20);
    for (const t of targets) expect(t).toMatch(/^(azurerm_[a-z_]+\.ci_identities_|kubernetes_namespace_v1\.)/);
    expect(first.out).toContain(
      'ci: { planClientId: "aaaaaaaa-1111-4222-8333-444444444444", deployClientId: "bbbbbbbb-5555-4666-8777-888888888888" }',
    );
    expect(first.out).toContain('the Environment "azure-dev" with required reviewers');
    expect(first.out).not.toContain("eyJ.admin-token");
  });

  test("with the client ids already in the configuration, does not ask for them again", () => {
    const known = azureConfig({
      ci: {
        repository: "acme/ml-platform",
        planClientId: "aaaaaaaa-1111-4222-8333-444444444444",
        deployClientId: "bbbbbbbb-5555-4666-8777-888888888888",
      },
    });
    const r = bootstrap(["azure-dev", "--yes"], { environments: [known] });
    expect(r.code).toBe(0);
    expect(r.out).not.toContain("ci: { planClientId");
  });

  test.each([
    [
      { FAKE_AZ_SUBSCRIPTION: "99999999-0000-4000-8000-000000000000" },
      /on subscription 99999999-.*lives in 0b1f6471-1bf0-4dda-aec3-111122223333 \(azure.subscriptionId\)/,
    ],
    [{ FAKE_AZ_NO_LOGIN: "1" }, /the Azure CLI is not signed in/],
    [{ FAKE_AZ_NO_CLUSTER: "1" }, /prerequisites missing \(nothing was changed.*\n  - the AKS cluster ml-dev in ml-dev: .*not found/],
    [{ FAKE_AZ_NO_AZURE_RBAC: "1" }, /Azure RBAC for Kubernetes authorization on ml-dev -> az aks update .* --enable-azure-rbac/],
  ])("stops before changing anything when %j", (env, message) => {
    const r = bootstrap(["azure-dev", "--yes"], { env });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(message);
    expect(r.calls.filter((c) => c[0] === "terraform")).toEqual([]);
  });

  test("refuses an Azure environment without ci, or with local state, naming the field", () => {
    const noCi = bootstrap(["azure-dev"], { environments: [azureConfig()] });
    expect([noCi.code, noCi.out]).toEqual([
      2,
      `bootstrap: environment "azure-dev": field ci is missing: expected a ci section in the Azure environment's own entry (ci.repository): the bootstrap applies its CI identities (docs/azure.md#ci)`,
    ]);
    const local = bootstrap(["azure-dev"], {
      environments: [azureConfig({ ci: { repository: "acme/ml-platform" }, state: { backend: "local", path: "x.tfstate" } })],
    });
    expect(local.code).toBe(2);
    expect(local.out).toMatch(/field state.backend = "local": expected "azurerm"/);
    expect(noCi.calls.concat(local.calls)).toEqual([]);
  });

  test("--dry-run prints the sequence without running anything", () => {
    const r = bootstrap(["azure-dev", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.out).toMatch(/would run az account show[\s\S]*would run terraform .* apply[\s\S]*would run az identity show/);
  });

  test("the AKS constants are the stack's, and a stack without ci has nothing to apply", () => {
    expect([AKS_SERVER_APP_ID, AKS_TOKEN_VARIABLE_NAME]).toEqual([AKS_ENTRA_SERVER_APP_ID, AKS_TOKEN_VARIABLE]);
    expect(() => azureAdministeredTargets({ resource: { azurerm_key_vault: { key_vault_x: {} } } }, "mlflow-azure-dev")).toThrow(
      "the stack mlflow-azure-dev has no CI identities: add a ci section (ci.repository) to the environment",
    );
  });
});
