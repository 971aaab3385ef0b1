/**
 * The commands people and pipelines type: every npm script and workflow step that runs the cdktf CLI
 * turns its telemetry call off (offline it prints an error, and it sends usage data by default), and
 * the supported Node.js lines are the ones CI runs.
 */
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
  engines: { node: string };
};

describe("cdktf CLI invocations", () => {
  const cdktfScripts = Object.entries(pkg.scripts).filter(([, cmd]) => /(^|[\s;&|])(npx\s+)?cdktf\s/.test(cmd));

  it("there are npm scripts for the CLI commands the README shows (synth:hcl, plan, deploy)", () => {
    expect(cdktfScripts.map(([name]) => name).sort()).toEqual(expect.arrayContaining(["deploy", "plan", "synth:hcl"]));
  });

  it.each(cdktfScripts)("npm run %s turns the CLI's telemetry off (CHECKPOINT_DISABLE=1)", (_name, cmd) => {
    for (const part of cmd.split(/&&|;|\|\|/)) {
      if (/(^|\s)(npx\s+)?cdktf\s/.test(part)) expect(part).toMatch(/CHECKPOINT_DISABLE=1\s/);
    }
  });

  it("the README runs the CLI through those scripts, never bare (which would call home)", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    const bare = readme.split("\n").filter((l) => /^\s*(npx\s+)?cdktf\s+(deploy|plan|synth|diff|destroy)\b/.test(l));
    expect(bare).toEqual([]);
  });
});

describe("Node.js versions", () => {
  it("engines names the maintained LTS lines 22 and 24", () => {
    expect(pkg.engines.node).toMatch(/\^22\./);
    expect(pkg.engines.node).toMatch(/\^24\./);
  });

  it("the CI workflow runs every major version engines allows, and only those", () => {
    const ci = fs.readFileSync(path.join(root, ".github", "workflows", "ci.yml"), "utf8");
    const majors = [...pkg.engines.node.matchAll(/\^(\d+)\./g)].map((m) => Number(m[1])).sort();
    const matrix = /node-version:\s*\[([^\]]+)\]/
      .exec(ci)?.[1]
      .split(",")
      .map((v) => Number(v.trim()))
      .sort();
    expect(matrix).toEqual(majors);
  });
});
