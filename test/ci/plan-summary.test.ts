/** The plan summary from `terraform show -json` fixtures: a change, a no-op, and a failure. */
import * as fs from "fs";
import * as path from "path";
import { main, renderMarkdown, summarize, type PlanJson } from "../../scripts/ci/plan-summary";

const FIX = path.join(__dirname, "fixtures");
const plan = (name: string) => JSON.parse(fs.readFileSync(path.join(FIX, name), "utf8")) as PlanJson;
const run = (argv: string[]) => {
  let out = "";
  const code = main(argv, (s) => { out += s; });
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
    const r = run(["--env", "staging", "--exitcode", "1", "--plan", path.join(FIX, "missing.json"), "--log", path.join(FIX, "plan-failure.log")]);
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
    const many: PlanJson = { resource_changes: Array.from({ length: 60 }, (_, i) => ({ address: `aws_s3_object.o${i}`, mode: "managed" as const, change: { actions: ["create" as const] } })) };
    const md = renderMarkdown(summarize("dev", 2, many), 50);
    expect(md).toContain("... and 10 more");
  });

  test("bad usage exits 2", () => {
    expect(run(["--env", "dev"]).code).toBe(2);
  });
});
