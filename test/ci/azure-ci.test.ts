/**
 * CI for an Azure environment: the matrix row (scripts/ci/environments.ts) carries `cloud: "azure"` and azure/login's
 * inputs (client id, tenant id, subscription id), the identities its stack creates; every job of the plan, deploy and
 * drift workflows takes the Azure login steps for an Azure row and never an AWS or GCP step (nor an Azure step for
 * another row); each Azure job logs in as the identity whose federated credential admits the job's GitHub subject;
 * Terraform gets the OIDC sign-in and an Entra ID token for AKS (scripts/ci/azure-terraform-env.sh), and the plan
 * files travel through the Azure CLI with Entra ID (scripts/ci/plan-store.sh), both run for real with stand-ins.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ciEnvironments, main, releasePath, type AzureCiEnvironment, type CiEnvironment } from "../../scripts/ci/environments";
import { loadEnvironments } from "../../config";
import { azureConfig, synthAzure } from "../helpers/azure";
import { gcpConfig } from "../helpers/gcp";
import { repoFile, runShell } from "../helpers/shell-steps";
import { forkedConfiguration } from "../helpers/fork-config";

const ROOT = path.join(__dirname, "..", "..");
const ids = { planClientId: "11111111-2222-4333-8444-555555555555", deployClientId: "66666666-7777-4888-8999-000000000000" };
const ci = { repository: "acme/ml-platform", ...ids };
const azure = azureConfig({ ci });
const aws = loadEnvironments()[0];
const gcp = gcpConfig({ ci: { repository: "acme/ml-platform", projectNumber: "123456789012" } });

type Step = { if?: string; uses?: string; run?: string; name?: string; env?: Record<string, string>; with?: Record<string, string> };
type Job = { environment?: string; strategy?: { matrix?: string }; steps: Step[] };
const workflow = (f: string) =>
  parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", f), "utf8")) as { on: object; jobs: Record<string, Job> };
const MATRIX_JOBS = ["plan.yml", "deploy.yml", "drift.yml"].flatMap((f) =>
  Object.entries(workflow(f).jobs)
    .filter(([, j]) => /fromJSON\(needs\.environments\.outputs\.matrix\)/.test(String(j.strategy?.matrix ?? "")))
    .map(([name, j]) => ({ file: f, name, job: j, pullRequest: Object.keys(workflow(f).on).includes("pull_request") })),
);
const runsFor = (step: Step, cloud: string) =>
  [...String(step.if ?? "").matchAll(/matrix\.cloud == '(\w+)'/g)].every((m) => m[1] === cloud) &&
  !/matrix\.cloud != /.test(String(step.if ?? ""));
const AWS_STEP = (s: Step) => s.uses?.startsWith("aws-actions/") || /(^|\s)aws\s/m.test(s.run ?? "");
const GCP_STEP = (s: Step) => s.uses?.startsWith("google-github-actions/") || /(^|\s)gcloud\s/m.test(s.run ?? "");
const AZURE_STEP = (s: Step) => s.uses?.startsWith("azure/") || /(^|\s)az\s|azure-terraform-env/m.test(s.run ?? "");

describe("the matrix row of an Azure environment", () => {
  const [row] = ciEnvironments([azure]) as AzureCiEnvironment[];

  it("says its cloud and carries azure/login's inputs, and nothing of AWS or GCP", () => {
    expect(row).toEqual({
      env: "azure-dev",
      stack: "mlflow-azure-dev",
      cloud: "azure",
      region: "westeurope",
      tenantId: "5e3c1a7d-2b4f-4c6e-8a9b-0c1d2e3f4a5b",
      subscriptionId: "0b1f6471-1bf0-4dda-aec3-111122223333",
      resourceGroup: "ml-dev",
      production: false,
      autoDeploy: false,
      githubEnvironment: "azure-dev",
      ...ids,
      planStore: "https://exampleorgtfstate.blob.core.windows.net/tfstate/ci-plans/mlflow-azure-dev",
      trackingUri: "https://mlflow-azure-dev.example.com",
      // The fixture runs the registry events service (test/fixtures/environments.ts).
      registry: true,
      servingNamespace: expect.any(String),
      models: "iris-classifier",
      githubTokenAudience: "",
    });
  });

  it("a configuration of three clouds prints the three rows", () => {
    let out = "";
    expect(
      main(
        [],
        () => [aws, gcp, azure],
        (s) => (out += s),
      ),
    ).toBe(0);
    expect((JSON.parse(out).include as CiEnvironment[]).map((r) => `${r.env}:${r.cloud}`)).toEqual([
      `${aws.name}:aws`,
      "gcp-dev:gcp",
      "azure-dev:azure",
    ]);
  });

  it("an Azure environment without its own ci, without the client ids, or with local state, is an error naming it", () => {
    expect(() => ciEnvironments([azureConfig()])).toThrow(
      'environment "azure-dev": field ci is missing: expected a ci section in the Azure environment\'s own entry',
    );
    expect(() => ciEnvironments([azureConfig({ ci: { repository: "acme/ml-platform" } })])).toThrow(
      'environment "azure-dev": field ci.planClientId is missing: expected the client ids of the plan and deploy identities (Azure assigns them when npm run bootstrap -- azure-dev creates them',
    );
    expect(() => ciEnvironments([azureConfig({ ci: { repository: "acme/ml-platform", planClientId: ids.planClientId } })])).toThrow(
      "field ci.deployClientId is missing: expected the client id of the deploy identity",
    );
    expect(() => ciEnvironments([azureConfig({ ci, state: { backend: "local", path: "x.tfstate" } })])).toThrow(
      'environment "azure-dev": field state.backend = "local": expected "azurerm"',
    );
  });

  it("takes no part in model releases, even of a model it serves (the release pipeline pushes to ECR only)", () => {
    let out = "";
    expect(
      main(
        ["--release-model", "iris-classifier"],
        () => [{ ...aws, events: { ...aws.events, enabled: true } }, azure],
        (s) => (out += s),
      ),
    ).toBe(0);
    expect(JSON.stringify(JSON.parse(out))).not.toContain("azure-dev");
    // ...but it is named, to be released by hand.
    expect(releasePath(ciEnvironments([{ ...aws, events: { ...aws.events, enabled: true } }, azure]), "iris-classifier").byHand).toEqual([
      expect.objectContaining({ env: "azure-dev", cloud: "azure" }),
    ]);
  });
});

describe("the workflows log an Azure row in with azure/login only", () => {
  const { json } = synthAzure(azure);
  const credentials = Object.entries(json.resource!.azurerm_federated_identity_credential) as [string, Record<string, string>][];

  it.each(MATRIX_JOBS.map((j) => [`${j.file}/${j.name}`, j] as const))(
    "%s: an Azure row gets azure/login and Terraform's sign-in, no AWS or GCP step; other rows no Azure step",
    (_n, { job }) => {
      const azureSteps = job.steps.filter((s) => runsFor(s, "azure"));
      expect(azureSteps.filter(AWS_STEP)).toEqual([]);
      expect(azureSteps.filter(GCP_STEP)).toEqual([]);
      expect(azureSteps.filter((s) => s.uses?.startsWith("azure/login@"))).toHaveLength(1);
      expect(azureSteps.filter((s) => /scripts\/ci\/azure-terraform-env\.sh/.test(s.run ?? ""))).toHaveLength(1);
      // The sign-in comes before Terraform runs (the plan script, or the apply).
      const signIn = job.steps.findIndex((s) => /azure-terraform-env/.test(s.run ?? ""));
      const terraform = job.steps.findIndex((s) => /terraform-plan\.sh|terraform -chdir/.test(s.run ?? ""));
      expect(signIn).toBeGreaterThan(job.steps.findIndex((s) => s.uses?.startsWith("azure/login@")));
      expect(signIn).toBeLessThan(terraform);
      for (const cloud of ["aws", "gcp"]) expect(job.steps.filter((s) => runsFor(s, cloud)).filter(AZURE_STEP)).toEqual([]);
      for (const s of job.steps.filter(AZURE_STEP)) expect(s.if).toMatch(/matrix\.cloud == 'azure'/);
    },
  );

  it.each(MATRIX_JOBS.map((j) => [`${j.file}/${j.name}`, j] as const))(
    "%s: the Azure job logs in as the identity whose federated credential admits its GitHub subject",
    (_n, { job, pullRequest }) => {
      const login = job.steps.find((s) => s.uses?.startsWith("azure/login@"))!;
      expect(login.with).toEqual({
        "client-id": expect.stringMatching(/^\$\{\{ matrix\.(plan|deploy)ClientId \}\}$/),
        "tenant-id": "${{ matrix.tenantId }}",
        "subscription-id": "${{ matrix.subscriptionId }}",
      });
      const kind = /matrix\.(plan|deploy)ClientId/.exec(login.with!["client-id"])![1];
      const env = job.steps.find((s) => /azure-terraform-env/.test(s.run ?? ""))!.env!;
      expect(env.CLIENT_ID).toBe(login.with!["client-id"]);
      const sub =
        job.environment !== undefined
          ? "repo:acme/ml-platform:environment:azure-dev"
          : pullRequest
            ? "repo:acme/ml-platform:pull_request"
            : "repo:acme/ml-platform:ref:refs/heads/main";
      const admitted = credentials.filter(([n]) => n.startsWith(`ci_identities_${kind}_github_`)).map(([, c]) => c.subject);
      expect(admitted).toContain(sub);
      if (kind === "deploy") expect(job.environment).toBe("${{ matrix.githubEnvironment }}");
    },
  );
});

describe("scripts/ci/azure-terraform-env.sh (with a stand-in az)", () => {
  const script = repoFile("scripts/ci/azure-terraform-env.sh");
  const env = { S: script, CLIENT_ID: ids.planClientId, TENANT_ID: "t-1", SUBSCRIPTION_ID: "s-1", GITHUB_ENV: ".github_env" };

  it("gives Terraform the OIDC sign-in of the logged-in identity and a masked Entra ID token for AKS", () => {
    const r = runShell(`bash -c "$S"; cat .github_env`, {
      standIns: { az: 'echo "az $*" >> "$LOG"; echo eyJ.token' },
      env,
    });
    expect(r.code).toBe(0);
    expect(r.calls).toEqual(["az account get-access-token --resource 6dae42f8-4368-4678-94ff-3960e28e3630 --query accessToken -o tsv"]);
    expect(r.stdout.split("\n")).toEqual([
      "::add-mask::eyJ.token",
      "ARM_USE_OIDC=true",
      `ARM_CLIENT_ID=${ids.planClientId}`,
      "ARM_TENANT_ID=t-1",
      "ARM_SUBSCRIPTION_ID=s-1",
      "TF_VAR_aks_access_token=eyJ.token",
      "",
    ]);
  });

  it("fails, writing nothing, without a token", () => {
    const r = runShell(`bash -c "$S"; test ! -e .github_env`, { standIns: { az: "true" }, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("no Entra ID token for AKS");
  });
});

describe("plan files of an Azure environment (scripts/ci/plan-store.sh through deploy.yml's steps)", () => {
  const deploy = workflow("deploy.yml");
  const save = deploy.jobs.plan.steps.find((s) => s.name === "save the plan file for the apply job")!;
  const apply = deploy.jobs.apply.steps.find((s) => s.name === "apply exactly the reviewed plan")!;
  const envOf = (step: Step, row: CiEnvironment) =>
    Object.fromEntries(
      Object.entries(step.env ?? {}).map(([k, v]) => [
        k,
        String(v).replace(/\$\{\{ matrix\.(\w+) \}\}/g, (_m, f: string) => String((row as unknown as Record<string, unknown>)[f] ?? "")),
      ]),
    );
  const standIns = {
    aws: 'echo "aws $*" >> "$LOG"',
    gcloud: 'echo "gcloud $*" >> "$LOG"',
    az: 'echo "az $*" >> "$LOG"',
    terraform: 'echo "terraform $*" >> "$LOG"',
  };
  const row = ciEnvironments([azure])[0];
  const run = (step: Step) =>
    runShell(step.run!, {
      standIns,
      files: {
        "scripts/ci/plan-store.sh": repoFile("scripts/ci/plan-store.sh"),
        [`cdktf.out/stacks/${row.stack}/plan.tfplan`]: "plan",
        "reviewed/.keep": "",
      },
      env: { ...envOf(step, row), GITHUB_RUN_ID: "7", GITHUB_RUN_ATTEMPT: "1" },
    });

  it("go to the state's container with the Azure CLI signed in with Entra ID, and come back the same way; no AWS or Google CLI", () => {
    const saved = run(save);
    expect(saved.code).toBe(0);
    expect(saved.calls).toEqual([
      "az storage blob upload --only-show-errors --auth-mode login --account-name exampleorgtfstate --container-name tfstate --name ci-plans/mlflow-azure-dev/7-1.tfplan --file cdktf.out/stacks/mlflow-azure-dev/plan.tfplan",
    ]);
    const applied = run(apply);
    expect(applied.calls[0]).toBe(
      "az storage blob download --only-show-errors --auth-mode login --account-name exampleorgtfstate --container-name tfstate --name ci-plans/mlflow-azure-dev/7-1.tfplan --file cdktf.out/stacks/mlflow-azure-dev/reviewed.tfplan",
    );
    expect(saved.calls.concat(applied.calls).filter((c) => /^(aws|gcloud) /.test(c))).toEqual([]);
  });

  it("refuses a store that is not a blob container's URL", () => {
    const r = runShell(`bash -c "$S" plan-store put a b`, {
      standIns,
      env: { S: repoFile("scripts/ci/plan-store.sh"), CLOUD: "azure", PLAN_STORE: "gs://b/p" },
    });
    expect([r.code, r.stderr.trim()]).toEqual([
      2,
      "plan-store: PLAN_STORE gs://b/p is not a https://<account>.blob.core.windows.net/<container>/<prefix> location (cloud azure)",
    ]);
    expect(r.calls).toEqual([]);
  });
});

describe("fork: the fork check's Azure environment, with its own ci section", () => {
  it("is in the plan and deploy matrix with the fork's repository, beside the AWS and GCP ones", () => {
    const { all } = forkedConfiguration();
    const rows = ciEnvironments(all);
    const azureRows = rows.filter((r): r is AzureCiEnvironment => r.cloud === "azure");
    expect(azureRows).toHaveLength(all.filter((e) => e.cloud === "azure").length);
    expect(azureRows.length).toBeGreaterThan(0);
    for (const r of azureRows) {
      const e = all.find((x) => x.name === r.env && x.cloud === "azure")! as Extract<(typeof all)[number], { cloud: "azure" }>;
      expect(e.ci?.repository).toBe(all.find((x) => x.cloud === "aws")!.ci?.repository);
      expect(r.planClientId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
