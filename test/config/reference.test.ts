import * as fs from "fs";
import * as path from "path";
import { configRows, readmeWithReference } from "../../scripts/config-reference";

describe("configuration reference", () => {
  it("docs/configuration.md's reference is the one rendered from the schema (run `npm run docs` after changing config/schema.ts)", () => {
    const readme = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "configuration.md"), "utf8");
    expect(readmeWithReference(readme)).toBe(readme);
  });

  it("documents every field that is not a grouping object", () => {
    const undocumented = configRows().filter((r) => !r.type.startsWith("object") && !r.own);
    expect(undocumented.map((r) => r.field)).toEqual([]);
  });

  it("covers the fields the foundation promises (account, region, role, cluster, hostname, OIDC, sizing, retention, state)", () => {
    const fields = configRows().map((r) => r.field);
    for (const f of [
      "aws.accountId",
      "aws.region",
      "aws.assumeRoleArn",
      "cluster.name",
      "hostname",
      "auth.issuerUrl",
      "auth.clientId",
      "database.instanceClass",
      "database.allocatedStorageGb",
      "mlflow.replicas.min",
      "mlflow.resources.requests.cpu",
      "database.backupRetentionDays",
      "artifacts.noncurrentExpireDays",
      "mlflow.gc.olderThanDays",
      "state.bucket",
      "state.path",
    ]) {
      expect(fields).toContain(f);
    }
  });
});
