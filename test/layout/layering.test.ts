/**
 * The layering rules of eslint.config.mjs (`no-restricted-imports`), each proven on a planted import: the
 * lint of the real tree (npm run lint) passing means nothing if a rule was dropped or its glob no longer
 * matches the files it is meant for.
 */
import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");

interface Planted {
  /** Where the planted source pretends to live (its folder decides which rules apply). */
  readonly file: string;
  readonly code: string;
}

/**
 * Lints each planted source with the repository's own configuration (ESLint's API, in a child process:
 * ESLint loads its flat config with a dynamic import, which jest's module sandbox does not run) and returns
 * the `no-restricted-imports` messages of each.
 */
function restrictedImports(planted: readonly Planted[]): string[][] {
  const script = `
    const { ESLint } = require("eslint");
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd(), overrideConfigFile: "eslint.config.mjs" });
      const planted = JSON.parse(process.argv[1]);
      const out = [];
      for (const p of planted) {
        const [result] = await eslint.lintText(p.code, { filePath: require("path").join(process.cwd(), p.file) });
        out.push(result.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((err) => { console.error(err); process.exit(1); });
  `;
  const run = spawnSync(process.execPath, ["-e", script, JSON.stringify(planted)], { cwd: ROOT, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`eslint failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as string[][];
}

const CASES: { what: string; planted: Planted; fires: RegExp | undefined }[] = [
  // Nothing under constructs/ but a feature's from-config.ts imports config/.
  {
    what: "a construct importing config/",
    planted: {
      file: "constructs/artifact-store/index.ts",
      code: 'import { loadEnvironments } from "../../config";\nexport const x = loadEnvironments;\n',
    },
    fires: /Only a feature's from-config\.ts imports config/,
  },
  {
    what: "a construct importing a config/ module",
    planted: {
      file: "constructs/monitoring/rules.ts",
      code: 'import { defaultTags } from "../../config/tags";\nexport const x = defaultTags;\n',
    },
    fires: /Only a feature's from-config\.ts imports config/,
  },
  {
    what: "a core helper importing config/",
    planted: {
      file: "constructs/core/names.ts",
      code: 'import type { EnvironmentConfig } from "../../config/schema";\nexport type X = EnvironmentConfig;\n',
    },
    fires: /Only a feature's from-config\.ts imports config/,
  },
  {
    what: "a command importing config/",
    planted: {
      file: "constructs/drift-job/command.ts",
      code: 'import type { EnvironmentConfig } from "../../config";\nexport type X = EnvironmentConfig;\n',
    },
    fires: /Only a feature's from-config\.ts imports config/,
  },
  {
    what: "a from-config.ts importing config/ (allowed)",
    planted: {
      file: "constructs/artifact-store/from-config.ts",
      code: 'import type { EnvironmentConfig } from "../../config";\nexport type X = EnvironmentConfig;\n',
    },
    fires: undefined,
  },
  // No command module imports cdktf, @cdktf/* or constructs.
  {
    what: "a command importing cdktf",
    planted: { file: "constructs/tracking-server/mlflow-command.ts", code: 'import { Fn } from "cdktf";\nexport const x = Fn;\n' },
    fires: /A command module is pure/,
  },
  {
    what: "a command importing a provider resource",
    planted: {
      file: "constructs/registry-events/command.ts",
      code: 'import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";\nexport const x = SecretV1;\n',
    },
    fires: /A command module is pure/,
  },
  {
    what: "a command importing constructs",
    planted: {
      file: "constructs/model-endpoint/server-command.ts",
      code: 'import { Construct } from "constructs";\nexport const x = Construct;\n',
    },
    fires: /A command module is pure/,
  },
  {
    what: "a shared command helper importing cdktf",
    planted: { file: "constructs/core/render.ts", code: 'import { Token } from "cdktf";\nexport const x = Token;\n' },
    fires: /A command module is pure/,
  },
  {
    what: "a construct importing cdktf (allowed)",
    planted: { file: "constructs/artifact-store/index.ts", code: 'import { Fn } from "cdktf";\nexport const x = Fn;\n' },
    fires: undefined,
  },
  // config/ imports nothing from constructs/ but constructs/core/.
  {
    what: "config importing a feature",
    planted: {
      file: "config/schema.ts",
      code: 'import { ArtifactStore } from "../constructs/artifact-store";\nexport const x = ArtifactStore;\n',
    },
    fires: /config\/ imports nothing from constructs\//,
  },
  {
    what: "config importing a feature's command",
    planted: {
      file: "config/serving.ts",
      code: 'import { modelServerCommand } from "../constructs/model-endpoint/server-command";\nexport const x = modelServerCommand;\n',
    },
    fires: /config\/ imports nothing from constructs\//,
  },
  {
    what: "config importing constructs/core (allowed)",
    planted: { file: "config/ci.ts", code: 'import { partitionOf } from "../constructs/core/aws";\nexport const x = partitionOf;\n' },
    fires: undefined,
  },
  // The layers keep the rule they sit in (a later override replaces an earlier one's options).
  {
    what: "a command importing a provider's package root",
    planted: { file: "constructs/drift-job/command.ts", code: 'import * as aws from "@cdktf/provider-aws";\nexport const x = aws;\n' },
    fires: /package root loads every resource/,
  },
  {
    what: "config importing a provider's package root",
    planted: { file: "config/ci.ts", code: 'import * as aws from "@cdktf/provider-aws";\nexport const x = aws;\n' },
    fires: /package root loads every resource/,
  },
];

describe("layering rules (eslint.config.mjs) on planted imports", () => {
  const results = restrictedImports(CASES.map((c) => c.planted));

  it.each(CASES.map((c, i) => [c.what, i] as const))("%s", (_what, i) => {
    const { fires } = CASES[i];
    const messages = results[i];
    if (fires) expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(fires)]));
    else expect(messages).toEqual([]);
  });
});
