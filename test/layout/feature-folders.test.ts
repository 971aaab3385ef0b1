/**
 * The layout of constructs/: one folder per feature holding its construct (index.ts), its container
 * command(s) (command.ts, <name>-command.ts), its from-config.ts and its README.md, and the few sibling
 * modules and charts named below; shared helpers in constructs/core only.
 */
import * as fs from "fs";
import * as path from "path";

const CONSTRUCTS = path.join(__dirname, "..", "..", "constructs");
const FEATURE_FILE = /^(index\.ts|from-config\.ts|README\.md|command\.ts|[a-z0-9-]+-command\.ts)$/;
/** What a feature holds besides those: its construct's parts that no other feature uses. */
const EXTRA: Record<string, readonly string[]> = {
  // The policy document: pure, read by the tracking server's commands too.
  access: ["policy.ts"],
  "model-endpoint": ["analysis.ts", "api-gateway.ts", "chart", "delivery.ts", "gateway.ts", "inference-log.ts"],
  // One reader of a cloud's secret store each, so that a stack loads its own cloud's provider only.
  "registry-events": ["copy-from-aws.ts", "copy-from-azure.ts", "copy-from-gcp.ts"],
  monitoring: ["alertmanager.ts", "chart", "cloudwatch.ts", "dashboards.ts", "layout.ts", "model-serving.ts", "rules.ts"],
  "tracking-server": ["guard.ts", "identity.ts"],
  training: ["chart"],
};

describe("constructs/ layout", () => {
  const folders = fs.readdirSync(CONSTRUCTS, { withFileTypes: true });

  it("holds folders only: the features and core", () => {
    expect(folders.filter((e) => !e.isDirectory()).map((e) => e.name)).toEqual([]);
    expect(folders.map((e) => e.name)).toContain("core");
  });

  it.each(folders.filter((e) => e.isDirectory() && e.name !== "core").map((e) => e.name))(
    "%s holds its construct, commands, from-config and README only",
    (feature) => {
      const entries = fs.readdirSync(path.join(CONSTRUCTS, feature));
      expect(entries).toEqual(expect.arrayContaining(["index.ts", "README.md"]));
      expect(entries.filter((name) => !FEATURE_FILE.test(name) && !(EXTRA[feature] ?? []).includes(name))).toEqual([]);
    },
  );

  it("core holds no construct of a feature and no configuration mapping", () => {
    expect(
      fs.readdirSync(path.join(CONSTRUCTS, "core")).filter((n) => n === "from-config.ts" || n === "index.ts" || n === "chart"),
    ).toEqual([]);
  });
});
