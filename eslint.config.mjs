// Lint TypeScript sources; type-checking itself is `tsc --noEmit` (npm run typecheck).
import tseslint from "typescript-eslint";

// A later config object's options for a rule replace an earlier one's for the files both match, so each
// layer below repeats the patterns of the layers it sits in.
const PROVIDER_ROOT = {
  regex: "^@cdktf/provider-(aws|kubernetes|helm|random|google)$",
  message:
    "Import the resource from its own module (@cdktf/provider-aws/lib/<resource>): the package root loads every resource and makes synth 5-10x slower.",
};
// Constructs never see the configuration: each feature's from-config.ts maps it onto the construct's props.
const NO_CONFIG = {
  regex: "^(\\.\\./)+config(/.*)?$",
  message: "Only a feature's from-config.ts imports config/: a construct or a command takes its own props or inputs.",
};
// The container commands are pure values the end-to-end harness runs as local processes, without cdktf.
const NO_CDKTF = {
  regex: "^(cdktf|constructs|@cdktf/.*)$",
  message: "A command module is pure (the end-to-end harness runs it): no cdktf, @cdktf/* or constructs import.",
};
// Configuration builds on the constructs' shared rules (constructs/core) and nothing else of theirs.
const CONFIG_ONLY_CORE = {
  regex: "^(\\.\\./)+constructs/(?!core(/|$)).*$|^(\\.\\./)+constructs$",
  message:
    "config/ imports nothing from constructs/ but constructs/core/ (the constructs depend on configuration only through from-config.ts).",
};
const restrict = (...patterns) => ["error", { patterns }];

/** The command modules: every feature's command.ts and *-command.ts, and the pure helpers they share. */
export const COMMAND_FILES = [
  "constructs/*/command.ts",
  "constructs/*/*-command.ts",
  "constructs/core/command-types.ts",
  "constructs/core/render.ts",
  "constructs/core/tcp-nodelay.ts",
];

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "cdktf.out/**", "**/*.js", "**/*.mjs", ".gen/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "no-restricted-imports": restrict(PROVIDER_ROOT),
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["constructs/**/*.ts"],
    ignores: ["constructs/*/from-config.ts"],
    rules: { "no-restricted-imports": restrict(PROVIDER_ROOT, NO_CONFIG) },
  },
  {
    files: COMMAND_FILES,
    rules: { "no-restricted-imports": restrict(PROVIDER_ROOT, NO_CONFIG, NO_CDKTF) },
  },
  {
    files: ["config/**/*.ts"],
    rules: { "no-restricted-imports": restrict(PROVIDER_ROOT, CONFIG_ONLY_CORE) },
  },
  {
    // Tests walk synthesized JSON, whose shape is the provider's, not ours.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
