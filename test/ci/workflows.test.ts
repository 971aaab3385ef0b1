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

const ROOT = path.join(__dirname, "..", "..");
const lint = (...files: string[]) => spawnSync("bash", ["scripts/lint-workflows.sh", ...files], { cwd: ROOT, encoding: "utf8", env: process.env });
const WORKFLOWS = fs.readdirSync(path.join(ROOT, ".github", "workflows")).filter((f) => f.endsWith(".yml")).map((f) => path.join(ROOT, ".github", "workflows", f));

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
  const text = WORKFLOWS.map((f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n")).join("\n");

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
