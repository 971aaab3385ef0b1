/**
 * CI for a GCP environment: the matrix row (scripts/ci/environments.ts) carries `cloud: "gcp"` and
 * google-github-actions/auth's inputs, exactly the provider and accounts its stack creates; every job of the
 * plan, deploy and drift workflows takes the login step of its row's cloud only, so a GCP row never runs an
 * AWS step; each GCP job's GitHub subject is one its service account is bound to; and the plan files travel
 * through gcloud on GCP, the AWS CLI on AWS (scripts/ci/plan-store.sh, run for real with stand-ins).
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ciEnvironments, main, type CiEnvironment, type GcpCiEnvironment } from "../../scripts/ci/environments";
import { loadEnvironments } from "../../config";
import { gcpCiIdentities } from "../../config/gcp-ci";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { repoFile, runShell } from "../helpers/shell-steps";
import { forkedConfiguration } from "../helpers/fork-config";

const ROOT = path.join(__dirname, "..", "..");
const ci = { repository: "acme/ml-platform", projectNumber: "123456789012" };
const gcp = gcpConfig({ ci });
const aws = loadEnvironments()[0];

type Step = {
  if?: string;
  uses?: string;
  run?: string;
  name?: string;
  id?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
};
type Job = { environment?: string; strategy?: { matrix?: string }; steps: Step[] };
const workflow = (f: string) =>
  parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", f), "utf8")) as { on: object; jobs: Record<string, Job> };
/** The jobs whose matrix is the environments' (plan, deploy's plan and apply, drift). */
const MATRIX_JOBS = ["plan.yml", "deploy.yml", "drift.yml"].flatMap((f) =>
  Object.entries(workflow(f).jobs)
    .filter(([, j]) => /fromJSON\(needs\.environments\.outputs\.matrix\)/.test(String(j.strategy?.matrix ?? "")))
    .map(([name, j]) => ({ file: f, name, job: j, pullRequest: Object.keys(workflow(f).on).includes("pull_request") })),
);

/** Whether a step runs for `row`: its `if`'s `matrix.cloud == '...'` terms decide (the others are taken as true). */
const runsFor = (step: Step, row: { cloud: string }) =>
  [...String(step.if ?? "").matchAll(/matrix\.cloud == '(\w+)'/g)].every((m) => m[1] === row.cloud) &&
  !/matrix\.cloud != /.test(String(step.if ?? ""));
const AWS_STEP = (s: Step) => s.uses?.startsWith("aws-actions/") || /(^|\s)aws\s/m.test(s.run ?? "");
const GCP_STEP = (s: Step) => s.uses?.startsWith("google-github-actions/") || /(^|\s)gcloud\s/m.test(s.run ?? "");

describe("the matrix row of a GCP environment", () => {
  const [row] = ciEnvironments([gcp]) as GcpCiEnvironment[];

  it("says its cloud and carries google-github-actions/auth's inputs, and nothing of AWS", () => {
    expect(row).toEqual({
      env: "gcp-dev",
      stack: "mlflow-gcp-dev",
      cloud: "gcp",
      region: "europe-west1",
      project: "example-ml-dev",
      production: false,
      autoDeploy: false,
      githubEnvironment: "gcp-dev",
      workloadIdentityProvider: "projects/123456789012/locations/global/workloadIdentityPools/mlflow-gcp-dev-github/providers/github",
      planServiceAccount: "mlflow-gcp-dev-ci-plan@example-ml-dev.iam.gserviceaccount.com",
      deployServiceAccount: "mlflow-gcp-dev-ci-deploy@example-ml-dev.iam.gserviceaccount.com",
      planStore: "gs://example-org-terraform-state-ml-dev/ci-plans/mlflow-gcp-dev",
      trackingUri: "https://mlflow-gcp-dev.example.com",
      // The fixture runs the registry events service (test/fixtures/environments.ts).
      registry: true,
      servingNamespace: expect.any(String),
      // The fixture's served model: the release pipeline names this environment to release it by hand.
      models: "iris-classifier",
      githubTokenAudience: "",
    });
    expect(ciEnvironments([aws])[0]).toMatchObject({ cloud: "aws", planRoleArn: expect.stringMatching(/^arn:aws/) });
  });

  it("names the provider and the accounts its stack creates", () => {
    const { json } = synthGcp(gcp);
    const [pool] = Object.values(json.resource!.google_iam_workload_identity_pool) as Record<string, any>[];
    expect(row.workloadIdentityProvider).toContain(`/workloadIdentityPools/${pool.workload_identity_pool_id}/providers/`);
    const accounts = (Object.values(json.resource!.google_service_account) as Record<string, any>[]).map(
      (sa) => `${sa.account_id}@${sa.project}.iam.gserviceaccount.com`,
    );
    expect(accounts).toEqual(expect.arrayContaining([row.planServiceAccount, row.deployServiceAccount]));
  });

  it("a configuration of both clouds prints both rows; a GCP environment without its own ci, or with local state, is an error naming it", () => {
    let out = "";
    expect(
      main(
        [],
        () => [aws, gcp],
        (s) => (out += s),
      ),
    ).toBe(0);
    expect((JSON.parse(out).include as CiEnvironment[]).map((r) => `${r.env}:${r.cloud}`)).toEqual([`${aws.name}:aws`, "gcp-dev:gcp"]);
    expect(() => ciEnvironments([gcpConfig()])).toThrow(
      'environment "gcp-dev": field ci is missing: expected a ci section in the GCP environment\'s own entry',
    );
    expect(() => ciEnvironments([gcpConfig({ ci, state: { backend: "local", path: "x.tfstate" } })])).toThrow(
      'environment "gcp-dev": field state.backend = "local": expected "gcs"',
    );
  });

  it("takes no part in model releases (served models and the events service are refused on GCP)", () => {
    let out = "";
    const withRegistry = () => [{ ...aws, events: { ...aws.events, enabled: true } }, gcp];
    expect(main(["--release-model", "iris"], withRegistry, (s) => (out += s))).toBe(0);
    expect(JSON.stringify(JSON.parse(out))).not.toContain("gcp-dev");
  });
});

describe("the workflows pick the login step by matrix.cloud", () => {
  it("finds the environment jobs: plan, deploy's plan and apply, drift", () => {
    expect(MATRIX_JOBS.map((j) => `${j.file}/${j.name}`)).toEqual([
      "plan.yml/plan",
      "deploy.yml/plan",
      "deploy.yml/apply",
      "drift.yml/drift",
    ]);
  });

  it.each(MATRIX_JOBS.map((j) => [`${j.file}/${j.name}`, j] as const))(
    "%s: a GCP row gets the GCP login and no AWS step; an AWS row the reverse",
    (_n, { job }) => {
      const gcpSteps = job.steps.filter((s) => runsFor(s, { cloud: "gcp" }));
      const awsSteps = job.steps.filter((s) => runsFor(s, { cloud: "aws" }));
      expect(gcpSteps.filter(AWS_STEP)).toEqual([]);
      expect(awsSteps.filter(GCP_STEP)).toEqual([]);
      expect(gcpSteps.filter((s) => s.uses?.startsWith("google-github-actions/auth@"))).toHaveLength(1);
      expect(awsSteps.filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"))).toHaveLength(1);
      // Every cloud-specific step says its cloud: another cloud's row skips it.
      for (const s of job.steps.filter((x) => AWS_STEP(x) || GCP_STEP(x))) expect(s.if).toMatch(/matrix\.cloud == '(aws|gcp)'/);
    },
  );

  it.each(MATRIX_JOBS.map((j) => [`${j.file}/${j.name}`, j] as const))(
    "%s: the GCP job's GitHub subject is one its service account is bound to",
    (_n, { job, pullRequest }) => {
      const auth = job.steps.find((s) => s.uses?.startsWith("google-github-actions/auth@"))!;
      expect(auth.with!.workload_identity_provider).toBe("${{ matrix.workloadIdentityProvider }}");
      const field = /matrix\.(planServiceAccount|deployServiceAccount)\b/.exec(auth.with!.service_account)![1] as
        "planServiceAccount" | "deployServiceAccount";
      const kind = field === "planServiceAccount" ? "plan" : "deploy";
      const sub =
        job.environment !== undefined
          ? `repo:${ci.repository}:environment:gcp-dev`
          : pullRequest
            ? `repo:${ci.repository}:pull_request`
            : `repo:${ci.repository}:ref:refs/heads/main`;
      const { json } = synthGcp(gcp);
      const bound = (Object.values(json.resource!.google_service_account_iam_member) as Record<string, any>[])
        .filter((m) => m.service_account_id.includes(`.ci_identities_${kind}_`))
        .map((m) => m.member.split("/subject/")[1]);
      expect(bound).toContain(sub);
      // The deploy account admits only its GitHub Environment's jobs.
      if (kind === "deploy") expect(job.environment).toBe("${{ matrix.githubEnvironment }}");
      expect(gcpCiIdentities(gcp)![field]).toBe((ciEnvironments([gcp])[0] as GcpCiEnvironment)[field]);
    },
  );
});

describe("plan files (scripts/ci/plan-store.sh through deploy.yml's steps)", () => {
  const deploy = workflow("deploy.yml");
  const save = deploy.jobs.plan.steps.find((s) => s.name === "save the plan file for the apply job")!;
  const apply = deploy.jobs.apply.steps.find((s) => s.name === "apply exactly the reviewed plan")!;
  /** The step's env with `${{ matrix.x }}` replaced by the row's values. */
  const envOf = (step: Step, row: CiEnvironment) =>
    Object.fromEntries(
      Object.entries(step.env ?? {}).map(([k, v]) => [
        k,
        String(v).replace(/\$\{\{ matrix\.(\w+) \}\}/g, (_m, f) => String((row as any)[f] ?? "")),
      ]),
    );
  const standIns = { aws: 'echo "aws $*" >> "$LOG"', gcloud: 'echo "gcloud $*" >> "$LOG"', terraform: 'echo "terraform $*" >> "$LOG"' };
  const files = (stack: string) => ({
    "scripts/ci/plan-store.sh": repoFile("scripts/ci/plan-store.sh"),
    [`cdktf.out/stacks/${stack}/plan.tfplan`]: "plan",
    "reviewed/.keep": "",
  });
  const run = (step: Step, row: CiEnvironment) =>
    runShell(step.run!, { standIns, files: files(row.stack), env: { ...envOf(step, row), GITHUB_RUN_ID: "7", GITHUB_RUN_ATTEMPT: "1" } });

  it("a GCP environment's plan file goes to its state bucket with gcloud, and comes back the same way; no AWS CLI", () => {
    const row = ciEnvironments([gcp])[0];
    const saved = run(save, row);
    expect(saved.code).toBe(0);
    expect(saved.calls).toEqual([`gcloud storage cp --quiet cdktf.out/stacks/mlflow-gcp-dev/plan.tfplan ${row.planStore}/7-1.tfplan`]);
    const applied = run(apply, row);
    expect(applied.calls[0]).toBe(`gcloud storage cp --quiet ${row.planStore}/7-1.tfplan cdktf.out/stacks/mlflow-gcp-dev/reviewed.tfplan`);
    expect(applied.calls.filter((c) => c.startsWith("aws "))).toEqual([]);
  });

  it("an AWS environment's still goes with the AWS CLI, encrypted with the state key", () => {
    const row = ciEnvironments([aws])[0];
    const saved = run(save, row);
    expect(saved.code).toBe(0);
    expect(saved.calls).toEqual([
      `aws s3 cp --only-show-errors --region ${row.stateRegion} --sse aws:kms --sse-kms-key-id ${row.stateKmsKey} cdktf.out/stacks/${row.stack}/plan.tfplan ${row.planStore}/7-1.tfplan`,
    ]);
  });

  it("refuses a store of another cloud, or a cloud it does not know", () => {
    const script = repoFile("scripts/ci/plan-store.sh");
    const r1 = runShell(`bash -c "$S" plan-store put a b`, { standIns, env: { S: script, CLOUD: "gcp", PLAN_STORE: "s3://b/p" } });
    expect([r1.code, r1.stderr.trim()]).toEqual([2, "plan-store: PLAN_STORE s3://b/p is not a gs:// location (cloud gcp)"]);
    const r2 = runShell(`bash -c "$S" plan-store put a b`, { standIns, env: { S: script, CLOUD: "oracle", PLAN_STORE: "x://b/p" } });
    expect([r2.code, r2.stderr.trim()]).toEqual([2, 'plan-store: cloud "oracle" has no plan store']);
    expect(r1.calls.concat(r2.calls)).toEqual([]);
  });
});

describe("fork: the fork check's GCP environment, with its own ci section", () => {
  it("is in the plan and deploy matrix with the fork's repository, beside the AWS ones", () => {
    const { all } = forkedConfiguration();
    const rows = ciEnvironments(all);
    const gcpRows = rows.filter((r): r is GcpCiEnvironment => r.cloud === "gcp");
    expect(gcpRows).toHaveLength(all.filter((e) => e.cloud === "gcp").length);
    expect(gcpRows.length).toBeGreaterThan(0);
    for (const r of gcpRows) {
      expect(r.workloadIdentityProvider).toMatch(
        /^projects\/\d+\/locations\/global\/workloadIdentityPools\/[a-z0-9-]+\/providers\/github$/,
      );
      const e = all.find((x) => x.name === r.env && x.cloud === "gcp")! as Extract<(typeof all)[number], { cloud: "gcp" }>;
      expect(e.ci?.repository).toBe(all.find((x) => x.cloud === "aws")!.ci?.repository);
    }
    expect(rows.filter((r) => r.cloud === "aws").length).toBe(all.filter((e) => e.cloud === "aws").length);
  });
});
