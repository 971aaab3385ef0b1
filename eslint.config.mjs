// Lint TypeScript sources; type-checking itself is `tsc --noEmit` (npm run typecheck).
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "cdktf.out/**", "**/*.js", "**/*.mjs", ".gen/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{
          regex: "^@cdktf/provider-(aws|kubernetes|helm|random)$",
          message: "Import the resource from its own module (@cdktf/provider-aws/lib/<resource>): the package root loads every resource and makes synth 5-10x slower.",
        }],
      }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Tests walk synthesized JSON, whose shape is the provider's, not ours.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
