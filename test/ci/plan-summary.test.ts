/** The plan summary from `terraform show -json` fixtures: a change, a no-op, a failure, and administrator-only changes. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main, renderMarkdown, summarize, type PlanJson } from "../../scripts/ci/plan-summary";
import { administeredBy } from "../../policies/iam/administered";
import type { StackJson } from "../../policies/iam/instances";
import { envConfig, synthJson } from "../helpers/synth";
import { repoFile, runShell, workflowStepRun } from "../helpers/shell-steps";

const FIX = path.join(__dirname, "fixtures");
const plan = (name: string) => JSON.parse(fs.readFileSync(path.join(FIX, name), "utf8")) as PlanJson;
const run = (argv: string[]) => {
  let out = "";
  const code = main(argv, (s) => {
    out += s;
  });
  return { code, out };
};

describe("plan summary", () => {
  test("a change: counts as Terraform prints them (a replace is one add and one destroy), data reads and no-ops left out", () => {
    const s = summarize("dev", 2, plan("plan-change.json"));
    expect(s.status).toBe("changes");
    expect(s.counts).toEqual({ add: 2, change: 1, destroy: 2, import: 0, move: 0 });
    expect(s.changes.map((c) => c.kind)).toEqual(["create", "update", "replace", "delete"]);
    expect(s.drift).toEqual([{ address: "aws_s3_bucket_versioning.artifact_store_versioning_4E1F2A3B", kind: "update" }]);
    const md = renderMarkdown(s);
    expect(md).toContain("### 🟡 `dev`: 2 to add, 1 to change, 2 to destroy");
    expect(md).toContain("[!WARNING]");
    expect(md).toContain("-/+ aws_db_parameter_group.backend_store_parameters_9C0D1E2F (replace)");
    expect(md).toContain("Changed outside Terraform");
    expect(md).not.toContain("data.aws_eks_cluster");
    // Attribute values are never printed: a plan holds secrets in clear text.
    expect(md).not.toContain("s3cr3t-value-never-printed");
    expect(md).not.toContain("postgres17");
  });

  test("a no-op: no changes, exit 0", () => {
    const r = run(["--env", "staging", "--exitcode", "0", "--plan", path.join(FIX, "plan-noop.json")]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("### 🟢 `staging`: no changes");
  });

  test("a failure: the error block of the log, exit 1 (the check fails)", () => {
    const r = run([
      "--env",
      "staging",
      "--exitcode",
      "1",
      "--plan",
      path.join(FIX, "missing.json"),
      "--log",
      path.join(FIX, "plan-failure.log"),
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("### 🔴 `staging`: plan failed");
    expect(r.out).toContain("Error: reading EKS Cluster (ml-staging)");
    expect(r.out).not.toContain("Initializing provider plugins");
  });

  test("an errored plan file is a failure even with exit code 2", () => {
    expect(summarize("dev", 2, { ...plan("plan-change.json"), errored: true }).status).toBe("failed");
  });

  test("exit code 0 with changes in the file: mixed-up inputs are a failure, not a green check", () => {
    expect(summarize("dev", 0, plan("plan-change.json")).status).toBe("failed");
  });

  test("long change lists are cut, with the rest counted", () => {
    const many: PlanJson = {
      resource_changes: Array.from({ length: 60 }, (_, i) => ({
        address: `aws_s3_object.o${i}`,
        mode: "managed" as const,
        change: { actions: ["create" as const] },
      })),
    };
    const md = renderMarkdown(summarize("dev", 2, many), 50);
    expect(md).toContain("... and 10 more");
  });

  test("bad usage exits 2", () => {
    expect(run(["--env", "dev"]).code).toBe(2);
  });
});

describe("changes only an administrator may apply (the bootstrap's)", () => {
  const ADMIN = [
    "aws_iam_role_policy.ci_roles_deploy_policy_5E6F7A8B",
    "aws_iam_role_policy_attachment.ci_roles_plan_extra_0A1B2C3D",
    "aws_iam_policy.workload_boundary_policy_4D5E6F7A",
    "aws_iam_openid_connect_provider.ci_roles_github_oidc_provider_8B9C0D1E",
  ];

  test("flagged from the plan itself: the tag before or after (tags, tags_all), and the policies of a role carrying it, deleted ones too", () => {
    const s = summarize("dev", 2, plan("plan-administered.json"));
    expect(s.status).toBe("changes");
    expect(s.administered.map((a) => a.address).sort()).toEqual([...ADMIN].sort());
    // The image-push role is the deploy role's to change; the tracking server is an ordinary change.
    expect(s.changes.map((c) => c.address)).toEqual(
      expect.arrayContaining([
        "aws_iam_role_policy_attachment.ci_roles_image_push_0_2F3A4B5C",
        "kubernetes_deployment_v1.tracking_server_deployment_5E6F7A8B",
      ]),
    );
    const md = renderMarkdown(s);
    expect(md).toContain("> [!CAUTION]");
    expect(md).toContain("re-run `npm run bootstrap -- dev` as an administrator");
    expect(md).toContain("`aws_iam_openid_connect_provider.ci_roles_github_oidc_provider_8B9C0D1E` (delete)");
    expect(md).not.toContain("s3cr3t-value-never-printed");
    // An ordinary plan says nothing of the kind.
    expect(summarize("dev", 2, plan("plan-change.json")).administered).toEqual([]);
    expect(renderMarkdown(summarize("dev", 2, plan("plan-change.json")))).not.toContain("CAUTION");
  });

  test("flagged from the synthesized stack where the plan shows no tag (a new role's policy names its role by a value known only after apply)", () => {
    const json = synthJson(envConfig("dev")) as StackJson;
    const known = administeredBy(json);
    const deployPolicy = [...known].find((a) => a.startsWith("aws_iam_role_policy.") && a.includes("deploy"))!;
    expect(deployPolicy).toBeDefined();
    const p: PlanJson = {
      resource_changes: [
        {
          address: deployPolicy,
          mode: "managed",
          type: "aws_iam_role_policy",
          change: { actions: ["update"], before: { name: "deploy" }, after: { name: "deploy" } },
        },
      ],
    };
    expect(summarize("dev", 2, p).administered).toEqual([]);
    expect(summarize("dev", 2, p, "", known).administered).toEqual([{ address: deployPolicy, kind: "update" }]);

    // The command line reads the stack's cdk.tf.json and writes the addresses for the apply jobs.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-admin-"));
    fs.writeFileSync(path.join(dir, "plan.json"), JSON.stringify(p));
    fs.writeFileSync(path.join(dir, "cdk.tf.json"), JSON.stringify(json));
    const out = path.join(dir, "dev.administered");
    const r = run([
      "--env",
      "dev",
      "--exitcode",
      "2",
      "--plan",
      path.join(dir, "plan.json"),
      "--stack-json",
      path.join(dir, "cdk.tf.json"),
      "--administered-out",
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Administrator needed");
    expect(fs.readFileSync(out, "utf8")).toBe(`${deployPolicy}\n`);
    // A plan without such changes leaves no file (a stale one is removed).
    const r2 = run(["--env", "dev", "--exitcode", "2", "--plan", path.join(FIX, "plan-change.json"), "--administered-out", out]);
    expect(r2.code).toBe(0);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("the plan step (scripts/ci/terraform-plan.sh) hands the stack to the summary and leaves the list beside it, where the apply job reads it", () => {
    const r = runShell("bash scripts/ci/terraform-plan.sh prod mlflow-prod reviewed plan.tfplan", {
      env: { GITHUB_STEP_SUMMARY: "/dev/null" },
      files: { "scripts/ci/terraform-plan.sh": repoFile("scripts/ci/terraform-plan.sh") },
      standIns: {
        terraform: 'echo "terraform $*" >> "$LOG"; case "$*" in *" plan "*) exit 2;; *" show "*) echo "{}";; esac',
        // The summary: writes the list as plan-summary.js does when the plan changes administered resources.
        node: 'echo "node $*" >> "$LOG"; out=""; while [ $# -gt 0 ]; do [ "$1" = "--administered-out" ] && out=$2; shift; done; echo "aws_iam_role_policy.x" > "$out"; echo "### summary"',
      },
    });
    expect(r.code).toBe(0);
    expect(r.calls.find((c) => c.startsWith("node "))).toMatch(
      / --stack-json cdktf\.out\/stacks\/mlflow-prod\/cdk\.tf\.json --administered-out reviewed\/prod\.administered$/,
    );
    expect(fs.readFileSync(path.join(r.dir, "reviewed", "prod.administered"), "utf8")).toBe("aws_iam_role_policy.x\n");
    expect(r.stdout).toContain("::warning title=Administrator needed (prod)::");
  });

  describe("deploy.yml's apply stops before anything is applied", () => {
    const step = workflowStepRun("deploy.yml", "apply", "changes");
    const files = { "reviewed/prod.outcome": "ok\n", "reviewed/prod.sha256": "abc\n", "reviewed/prod.md": "### plan\n" };

    test("with administrator-only changes: the error names the bootstrap, no apply", () => {
      const r = runShell(step, {
        env: { ENV_NAME: "prod", GITHUB_STEP_SUMMARY: "/dev/null" },
        files: { ...files, "reviewed/prod.administered": `${ADMIN.join("\n")}\n` },
      });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        "::error title=Administrator needed::the plan of prod changes 4 resource(s) only an administrator may apply",
      );
      expect(r.stdout).toContain("re-run npm run bootstrap -- prod as an administrator");
      expect(
        fs.existsSync(path.join(r.dir, ".github_output")) ? fs.readFileSync(path.join(r.dir, ".github_output"), "utf8") : "",
      ).not.toContain("apply=true");
    });

    test("without: the apply goes on", () => {
      const r = runShell(step, { env: { ENV_NAME: "prod", GITHUB_STEP_SUMMARY: "/dev/null" }, files });
      expect(r.code).toBe(0);
      expect(fs.readFileSync(path.join(r.dir, ".github_output"), "utf8")).toContain("apply=true");
    });
  });

  describe("the release job (scripts/ci/release-apply.sh) stops before its apply too", () => {
    const standIns = {
      node: 'echo "node $*" >> "$LOG"; case "$*" in *release-file.js*) echo "{}";; esac',
      npm: 'echo "npm $*" >> "$LOG"',
      git: 'echo "git $*" >> "$LOG"',
      terraform: 'echo "terraform $*" >> "$LOG"',
    };
    const files = (administered: string | undefined) => ({
      "scripts/ci/release-apply.sh": repoFile("scripts/ci/release-apply.sh"),
      "scripts/ci/release-tag.sh": 'echo "release-tag $*" >> "$LOG"\n',
      // The plan step: its summary and, when the plan changes administered resources, their list.
      "scripts/ci/terraform-plan.sh": `echo "plan $*" >> "$LOG"; mkdir -p "$3"; ${administered ? `printf '%s\\n' '${administered}' > "$3/$1.administered"` : "true"}\n`,
    });
    const release = (administered?: string) =>
      runShell("bash scripts/ci/release-apply.sh staging mlflow-staging iris 3 sha256:abc", { standIns, files: files(administered) });

    test("with administrator-only changes: no apply, the error names the bootstrap", () => {
      const r = release("aws_iam_role_policy.ci_roles_deploy_policy_5E6F7A8B");
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("re-run npm run bootstrap -- staging as an administrator");
      expect(r.calls.some((c) => c.startsWith("plan staging mlflow-staging"))).toBe(true);
      expect(r.calls.filter((c) => c.startsWith("terraform") && c.includes(" apply "))).toEqual([]);
    });

    test("without: it applies the plan it made", () => {
      const r = release();
      expect(r.code).toBe(0);
      expect(r.calls).toContain("terraform -chdir=cdktf.out/stacks/mlflow-staging apply -input=false -no-color release.tfplan");
    });
  });
});
