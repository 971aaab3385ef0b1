/** Jest runs TypeScript through SWC (transpile only); `npm run typecheck` does the type-checking. */
const os = require("os");

// Workers inherit this: a smaller young generation than V8's default (16 MB semi-spaces). Test suites
// allocate in bursts (a stack synthesis) and keep little; measured on the full suite, each worker's peak
// RSS fell by about 100 MB at the same wall time (docs/benchmarks.md).
if (!/--max-semi-space-size/.test(process.env.NODE_OPTIONS ?? "")) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --max-semi-space-size=4`.trim();
}

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }] },
  // test/setup.ts also frees each suite's modules before the next one (a full GC) and keeps cdktf's token
  // stack traces away from source-map-support: see there.
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  // The one MLflow process the suites share (test/helpers/mlflow-tool.ts): named here, stopped after the run.
  globalSetup: "<rootDir>/test/global-setup.ts",
  globalTeardown: "<rootDir>/test/global-teardown.ts",
  // Those suites first, then jest's own order: see test/sequencer.js.
  testSequencer: "<rootDir>/test/sequencer.js",
  // Jest's default is one worker fewer than the cores, for its own process; that process only collects
  // results, so on the 2-core machines this runs on one worker left a core idle (twice the wall time).
  maxWorkers: Math.max(2, os.availableParallelism() - 1),
  // A worker that grew past this between two suites is replaced: a safety net for small machines (with
  // the GC after each suite, workers stay well below it).
  workerIdleMemoryLimit: "700MB",
  // *.kube.test.ts need the kube-apiserver: `npm run test:kube` (jest.kube.config.js) runs them.
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/cdktf.out/", "\\.kube\\.test\\.ts$"],
};
