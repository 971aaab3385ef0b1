/**
 * A fork's configuration, made the way the fork check makes it, in a temporary copy of config/ (and
 * constructs/, which config/ imports): scripts/fork-config.mjs on the shipped configuration (placeholders
 * replaced, a fourth environment, a GCP one and an Azure one), or, when config/environments.ts already is a fork's (this suite runs
 * inside the fork check too), one more environment of its own. Both added environments take the first free
 * name (config/free-name.ts), so a fork whose own environments are called "qa" or "extra" still passes.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { resolveAllEnvironments, resolveEnvironments, type AnyEnvironmentConfig, type EnvironmentConfig } from "../../config";

const ROOT = path.join(__dirname, "..", "..");

/** The "already a fork" case's own addition: another account, region and domain. */
const EXTRA_ENVIRONMENT = `
import { freeEnvironmentName as extraFreeName } from "./free-name";
environments.push({
  name: extraFreeName("extra", environments.map((e) => e.name)),
  aws: { accountId: "598765432109", region: "ap-southeast-2" },
  state: { backend: "s3", bucket: "extra-ml-tfstate", key: "mlflow/{env}/terraform.tfstate", region: "ap-southeast-2" },
  cluster: { name: "eks-ml-extra" },
  hostname: "tracking.ml-extra.example.net",
  auth: {
    clientId: "mlflow-extra",
    clientSecret: { source: "secrets-manager", secretArn: "arn:aws:secretsmanager:ap-southeast-2:598765432109:secret:mlflow-extra/oidc-AbCdEf" },
    replicas: { min: 1, max: 2 },
  },
  ingress: {
    certificateArn: "arn:aws:acm:ap-southeast-2:598765432109:certificate/00000000-0000-0000-0000-000000000009",
    certificateDomains: ["*.ml-extra.example.net"],
    vpcCidrs: ["10.99.0.0/16"],
  },
  mlflow: { replicas: { min: 1, max: 2 } },
  database: { instanceClass: "db.t4g.micro", deletionProtection: false, finalSnapshot: false, backupRetentionDays: 1 },
});
`;

/** The resolved environments, and the names there were before the fork check's (or the test's) addition. */
export type ForkedConfiguration = { environments: EnvironmentConfig[]; before: string[]; all: AnyEnvironmentConfig[] };

/**
 * Resolves the fork check's configuration from a copy of this checkout's config/, after `edit` (if given)
 * changed the copy's environments.ts first (a test that plays a fork with environments of its own).
 */
export function forkedConfiguration(edit?: (source: string) => string): ForkedConfiguration {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ci-fork-"));
  try {
    for (const d of ["config", "constructs"]) fs.cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    const file = path.join(dir, "config", "environments.ts");
    if (edit) fs.writeFileSync(file, edit(fs.readFileSync(file, "utf8")));
    // The names before the fork check's own addition: what the addition had to avoid.
    fs.appendFileSync(file, "\nexport const namesBeforeForkCheck = environments.map((e) => e.name);\n");
    if (fs.readFileSync(file, "utf8").includes("example-org/mlflow-platform")) {
      execFileSync("node", [path.join(ROOT, "scripts", "fork-config.mjs"), file], { stdio: "pipe" });
    } else {
      fs.appendFileSync(file, EXTRA_ENVIRONMENT);
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, "config", "environments.ts")) as typeof import("../../config/environments");
    const before = (mod as unknown as { namesBeforeForkCheck: string[] }).namesBeforeForkCheck;
    return {
      environments: resolveEnvironments(mod.shared, mod.environments),
      before,
      all: resolveAllEnvironments(mod.shared, mod.environments),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
