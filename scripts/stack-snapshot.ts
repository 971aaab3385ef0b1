/**
 * `npm run snapshot -- --write <dir>` / `npm run snapshot -- --check <dir>`: synthesizes every stack and
 * writes, or compares byte for byte, each stack's cdk.tf.json. A refactor that must not change what
 * Terraform sees (moving code, renaming modules) is checked against a snapshot written before it.
 *
 * The stacks: config/environments.ts's (one configuration, what `node dist/main.js` synthesizes), the
 * test fixture's every-option environment (resolved with config/environments.ts's shared values, standing
 * alone, as the tests synthesize it), and the test fixture's own environments (one configuration).
 * Layout: `<dir>/<stack>/cdk.tf.json` for the first two, `<dir>/fixture/<stack>/cdk.tf.json` for the last
 * (their stack names are the shipped ones). The default directory is cdktf.out/snapshot.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App } from "cdktf";
import { environments as configuredEntries, shared as configuredShared } from "../config/environments";
import { resolveEnvironments } from "../config/load";
import type { EnvironmentConfig } from "../config/schema";
import { MlflowStack } from "../stacks/mlflow-stack";
import { environments as fixtureEntries, everyOption, shared as fixtureShared } from "../test/fixtures/environments";

/** One group of stacks synthesized in one app: `configuration` is what each stack sees of the others. */
interface StackSet {
  readonly folder: string;
  readonly stacks: readonly EnvironmentConfig[];
  readonly configuration: readonly EnvironmentConfig[];
}

function stackSets(): StackSet[] {
  const shipped = resolveEnvironments(configuredShared, configuredEntries);
  const [full] = resolveEnvironments(configuredShared, [everyOption]);
  const fixture = resolveEnvironments(fixtureShared, fixtureEntries);
  return [
    { folder: "", stacks: shipped, configuration: shipped },
    { folder: "", stacks: [full], configuration: [full] },
    { folder: "fixture", stacks: fixture, configuration: fixture },
  ];
}

/** Every stack's cdk.tf.json text, by its path relative to the snapshot directory. */
export function synthesizeAll(): Map<string, string> {
  const out = new Map<string, string>();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stack-snapshot-"));
  try {
    stackSets().forEach((set, i) => {
      const app = new App({ outdir: path.join(tmp, String(i)) });
      for (const config of set.stacks) new MlflowStack(app, config, { environments: set.configuration });
      app.synth();
      for (const stack of app.node.children) {
        const file = path.join(app.outdir, "stacks", stack.node.id, "cdk.tf.json");
        out.set(path.join(set.folder, stack.node.id, "cdk.tf.json"), fs.readFileSync(file, "utf8"));
      }
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/** Files of `dir` (relative paths) named cdk.tf.json. */
function snapshotFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.name === "cdk.tf.json") found.push(r);
    }
  };
  if (fs.existsSync(dir)) walk("");
  return found.sort();
}

/** The differences between the snapshot in `dir` and `current`: one line per stack. */
export function compare(dir: string, current: Map<string, string>): string[] {
  const problems: string[] = [];
  const stored = snapshotFiles(dir);
  for (const rel of stored) {
    const text = current.get(rel);
    if (text === undefined) problems.push(`${rel}: in the snapshot, no longer synthesized`);
    else if (text !== fs.readFileSync(path.join(dir, rel), "utf8")) problems.push(`${rel}: differs`);
  }
  for (const rel of current.keys()) if (!stored.includes(rel)) problems.push(`${rel}: synthesized, not in the snapshot`);
  return problems;
}

function main(argv: string[]): void {
  const mode = argv[0];
  const dir = path.resolve(argv[1] ?? path.join(__dirname, "..", "..", "cdktf.out", "snapshot"));
  if (mode !== "--write" && mode !== "--check") {
    console.error("usage: npm run snapshot -- --write|--check [directory]");
    process.exit(2);
  }
  const current = synthesizeAll();
  if (mode === "--write") {
    for (const [rel, text] of current) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    }
    console.log(`wrote ${current.size} stacks to ${dir}`);
    return;
  }
  const problems = compare(dir, current);
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
  console.log(`${current.size} stacks identical to ${dir}`);
}

if (require.main === module) main(process.argv.slice(2));
