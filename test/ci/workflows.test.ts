/**
 * The workflows' check (scripts/lint-workflows.sh: actionlint, pinned, with ShellCheck on every run:
 * block) passes on the repository's workflows and fails on a deliberately broken one; and no workflow
 * hard-codes what configuration decides (environment names, accounts, role ARNs, regions).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { loadEnvironments } from "../../config";
import { ciRoleArns } from "../../config/ci";
import { parse } from "yaml";

const ROOT = path.join(__dirname, "..", "..");
const lint = (...files: string[]) =>
  spawnSync("bash", ["scripts/lint-workflows.sh", ...files], { cwd: ROOT, encoding: "utf8", env: process.env });
const WORKFLOWS = fs
  .readdirSync(path.join(ROOT, ".github", "workflows"))
  .filter((f) => f.endsWith(".yml"))
  .map((f) => path.join(ROOT, ".github", "workflows", f));

describe("workflow check (actionlint + ShellCheck)", () => {
  test("the repository's workflows and CI scripts pass", () => {
    const r = lint();
    expect(r.stderr + r.stdout).toMatch(/workflows and \d+ CI scripts clean/);
    expect(r.status).toBe(0);
  });

  test("a deliberately broken workflow fails, with every mistake named", () => {
    const r = lint("test/ci/fixtures/broken-workflow.yml");
    expect(r.status).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/shellcheck reported issue in this script: SC2086/);
    expect(out).toMatch(/property "env" is not defined/);
    expect(out).toMatch(/"github\.event\.pull_request\.title" is potentially untrusted/);
    expect(out).toMatch(/property "nope" is not defined/);
  });
});

describe("workflows hard-code nothing the configuration decides", () => {
  const envs = loadEnvironments();
  const text = WORKFLOWS.map((f) =>
    fs
      .readFileSync(f, "utf8")
      .split("\n")
      .filter((l) => !l.trimStart().startsWith("#"))
      .join("\n"),
  ).join("\n");

  test.each(envs.map((e) => [e.name, e] as const))("environment %s: no account id, role ARN or region in any workflow", (_name, env) => {
    expect(text).not.toContain(env.aws.accountId);
    expect(text).not.toContain(env.aws.region);
    for (const arn of Object.values(ciRoleArns(env))) expect(text).not.toContain(arn);
  });

  test("no environment list in a matrix: every matrix comes from scripts/ci/environments.ts", () => {
    let matrices = 0;
    for (const f of WORKFLOWS) {
      const src = fs.readFileSync(f, "utf8");
      // The `matrix:` of each `strategy:` (not a job output that happens to be called matrix).
      for (const m of src.matchAll(/^\s+strategy:\n(?:\s+(?:#.*|[\w-]+:.*)\n)*?\s+matrix:\s*(.*)$/gm)) {
        if (path.basename(f) === "ci.yml") continue; // Node versions, not environments
        expect(`${path.basename(f)}: ${m[1]}`).toMatch(/fromJSON\(needs\.\w+\.outputs\.\w+\)/);
        matrices++;
      }
      expect(src).not.toMatch(/\benv:\s*\[/);
      expect(src).not.toMatch(/arn:aws[a-z-]*:iam::\d{12}/);
    }
    // plan, deploy (plan and apply), drift, release-model (stage and production)
    expect(matrices).toBeGreaterThanOrEqual(6);
  });
});

describe("deploy.yml: environments do not block each other", () => {
  const wf = parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", "deploy.yml"), "utf8")) as { jobs: Record<string, any> };
  const apply = wf.jobs.apply;

  test("every environment's apply runs after the plan job whatever another environment's plan did, and checks its own plan", () => {
    expect(apply.needs).toEqual(["environments", "plan"]);
    // Without a condition, one failed plan leg (prod's) would skip every apply (dev's, staging's).
    expect(apply.if).toMatch(/!cancelled\(\)|always\(\)/);
    expect(apply.if).toContain("needs.environments.result == 'success'");
    const check = apply.steps.find((s: { id?: string }) => s.id === "changes");
    expect(check.run).toMatch(/reviewed\/\$ENV_NAME\.outcome/);
    expect(check.run).toMatch(/exit 1/);
    // The plan job records each environment's outcome even when its plan failed.
    const record = wf.jobs.plan.steps.find((s: { run?: string }) => s.run?.includes(".outcome"));
    expect(record.if).toBe("always()");
    expect(wf.jobs.plan.steps.find((s: { uses?: string }) => s.uses?.startsWith("actions/upload-artifact")).if).toBe("always()");
  });

  test("one environment's failure or pending approval neither cancels nor holds another's apply", () => {
    expect(apply.strategy["fail-fast"]).toBe(false);
    expect(apply.strategy["max-parallel"]).toBeUndefined();
    expect(wf.jobs.plan.strategy["fail-fast"]).toBe(false);
  });
});
