/** Jest runs TypeScript through SWC (transpile only); `npm run typecheck` does the type-checking. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }] },
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  // A worker that grew past this between two suites (module registries, synthesized stacks) is replaced:
  // the suite's peak memory stays bounded on small machines.
  workerIdleMemoryLimit: "700MB",
  // *.kube.test.ts need the kube-apiserver: `npm run test:kube` (jest.kube.config.js) runs them.
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/cdktf.out/", "\\.kube\\.test\\.ts$"],
};
