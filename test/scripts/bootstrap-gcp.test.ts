/**
 * `npm run bootstrap -- <env>` for a GCP environment (scripts/bootstrap-gcp.ts through scripts/bootstrap.ts), against
 * stand-ins of gcloud and Terraform on PATH (fake-gcloud.js, fake-terraform.js: they record every call). Before,
 * the bootstrap knew only the AWS environments and answered `no environment "gcp-dev"`.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main, synthStack, type BootstrapDeps } from "../../scripts/bootstrap";
import { CI_APIS, gcpAdministeredTargets } from "../../scripts/bootstrap-gcp";
import type { AnyEnvironmentConfig } from "../../config";
import { envConfig } from "../helpers/synth";
import { gcpConfig } from "../helpers/gcp";

const BIN = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-gcp-bin-"));
for (const [tool, file] of [
  ["gcloud", "fake-gcloud.js"],
  ["terraform", "fake-terraform.js"],
]) {
  fs.copyFileSync(path.join(__dirname, file), path.join(BIN, tool));
  fs.chmodSync(path.join(BIN, tool), 0o755);
}
const OUTDIR = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-gcp-out-"));
const gcp = gcpConfig({ ci: { repository: "acme/ml-platform", projectNumber: "123456789012" } });
const STACK_DIR = path.join(OUTDIR, "stacks", "mlflow-gcp-dev");
let synthesized: string | undefined;
const synth = (config: AnyEnvironmentConfig, outdir: string) => (synthesized ??= synthStack(config, outdir));

function bootstrap(args: string[], opts: { state?: string; env?: Record<string, string>; environments?: AnyEnvironmentConfig[] } = {}) {
  const state = opts.state ?? fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-gcp-state-"));
  const lines: string[] = [];
  const deps: BootstrapDeps = {
    env: { PATH: `${BIN}:${process.env.PATH}`, FAKE_AWS_STATE: state, ...opts.env },
    log: (l) => lines.push(l),
    environments: () => opts.environments ?? [envConfig("dev"), gcp],
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
  return { code, out: lines.join("\n"), calls, state };
}
const ops = (calls: string[][]) => calls.map((c) => c.slice(0, c[0] === "terraform" ? 3 : 4).join(" "));

describe("npm run bootstrap -- <gcp env>", () => {
  const first = bootstrap(["gcp-dev", "--yes"]);

  test("in an empty project: checks the project and cluster, enables the APIs, creates the state bucket, applies the CI identities, says what is left", () => {
    expect(first.out).not.toContain("no environment");
    expect(first.code).toBe(0);
    expect(ops(first.calls)).toEqual([
      "gcloud projects describe example-ml-dev",
      "gcloud container clusters describe",
      "gcloud services enable iam.googleapis.com",
      "gcloud storage buckets describe",
      "gcloud storage buckets create",
      "gcloud storage buckets update",
      `terraform -chdir=${STACK_DIR} init`,
      `terraform -chdir=${STACK_DIR} apply`,
    ]);
    expect(first.calls[2].slice(3, 3 + CI_APIS.length)).toEqual(CI_APIS);
    const create = first.calls[4];
    expect(create).toEqual(
      expect.arrayContaining([
        "gs://example-org-terraform-state-ml-dev",
        "--location",
        "europe-west1",
        "--uniform-bucket-level-access",
        "--public-access-prevention",
      ]),
    );
    expect(first.calls[5]).toEqual(expect.arrayContaining(["--versioning", "--public-access-prevention"]));
    expect(first.out).toMatch(
      /its CI identities exist \(projects\/123456789012\/locations\/global\/workloadIdentityPools\/mlflow-gcp-dev-github\/providers\/github; mlflow-gcp-dev-ci-plan@example-ml-dev\.iam\.gserviceaccount\.com/,
    );
    expect(first.out).toMatch(/kubectl -n mlflow create secret generic oidc-client-secret/);
    expect(first.out).toContain('the Environment "gcp-dev" with required reviewers');
  });

  test("applies exactly the CI identities and the namespaces, with -target", () => {
    const apply = first.calls.find((c) => c[0] === "terraform" && c[2] === "apply")!;
    const targets = apply.filter((a) => a.startsWith("-target=")).map((a) => a.slice(8));
    expect(targets).toEqual(
      gcpAdministeredTargets(JSON.parse(fs.readFileSync(path.join(STACK_DIR, "cdk.tf.json"), "utf8")), "mlflow-gcp-dev"),
    );
    expect(targets).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^google_iam_workload_identity_pool\.ci_identities_/),
        expect.stringMatching(/^kubernetes_namespace_v1\./),
      ]),
    );
    expect(targets.filter((t) => !/^(google_\w+\.ci_identities_|kubernetes_namespace_v1\.)/.test(t))).toEqual([]);
    expect(apply).toContain("-auto-approve");
  });

  test("a second run creates nothing that exists", () => {
    const again = bootstrap(["gcp-dev", "--yes"], { state: first.state });
    expect(again.code).toBe(0);
    expect(ops(again.calls.slice(first.calls.length))).not.toContain("gcloud storage buckets create");
    expect(again.out).toContain("ok: state bucket example-org-terraform-state-ml-dev exists");
  });

  test("refuses credentials without the project, a project number other than ci.projectNumber, a missing cluster, another project's bucket", () => {
    const noAuth = bootstrap(["gcp-dev"], { env: { FAKE_GCP_NO_AUTH: "1" } });
    expect([noAuth.code, noAuth.out]).toEqual([
      1,
      expect.stringMatching(/cannot read project example-ml-dev \(gcp.projectId\).*gcloud auth login/),
    ]);
    const number = bootstrap(["gcp-dev"], { env: { FAKE_GCP_PROJECT_NUMBER: "999999999999" } });
    expect(number.out).toContain('field ci.projectNumber = "123456789012": expected 999999999999, the number of project example-ml-dev');
    const cluster = bootstrap(["gcp-dev"], { env: { FAKE_GCP_NO_CLUSTER: "1" } });
    expect([cluster.code, cluster.out]).toEqual([
      1,
      expect.stringMatching(/prerequisites missing \(nothing was changed.*the GKE cluster ml-dev in europe-west1/s),
    ]);
    const bucket = bootstrap(["gcp-dev"], { env: { FAKE_GCP_BUCKET_FORBIDDEN: "1" } });
    expect(bucket.out).toMatch(/field state.bucket: the bucket "example-org-terraform-state-ml-dev" exists but you may not read it/);
    for (const r of [noAuth, number, cluster, bucket]) expect(ops(r.calls).filter((o) => /create|terraform/.test(o))).toEqual([]);
  });

  test("a GCP environment without its own ci section, or with local state, is refused naming the field", () => {
    const noCi = bootstrap(["gcp-dev"], { environments: [gcpConfig()] });
    expect([noCi.code, noCi.out]).toEqual([2, expect.stringContaining('environment "gcp-dev": field ci is missing')]);
    const local = bootstrap(["gcp-dev"], {
      environments: [
        gcpConfig({
          ci: { repository: "acme/ml-platform", projectNumber: "123456789012" },
          state: { backend: "local", path: "x.tfstate" },
        }),
      ],
    });
    expect([local.code, local.out]).toEqual([2, expect.stringContaining('field state.backend = "local": expected "gcs"')]);
    expect(noCi.calls.concat(local.calls)).toEqual([]);
  });

  test("--dry-run prints the whole sequence and runs nothing", () => {
    const dry = bootstrap(["gcp-dev", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.calls).toEqual([]);
    expect(dry.out).toMatch(/would run gcloud storage buckets create gs:\/\/example-org-terraform-state-ml-dev/);
    expect(dry.out).toMatch(/would run terraform .* apply/);
  });
});
