/**
 * The Kubernetes API check (`npm run test:kube`): one etcd + kube-apiserver for the whole run
 * (test/kube/global-setup.ts), test files in band because they share the server's namespaces.
 */
const base = require("./jest.config");

module.exports = {
  ...base,
  testMatch: ["**/test/kube/**/*.kube.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/cdktf.out/"],
  globalSetup: "<rootDir>/test/kube/global-setup.ts",
  globalTeardown: "<rootDir>/test/kube/global-teardown.ts",
  maxWorkers: 1,
  testTimeout: 180000,
};
