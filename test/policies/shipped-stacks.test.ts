/**
 * Walks every shipped stack (dev, staging, prod) as `cdktf synth` writes it, and the test fixture's
 * every-option environment synthesized the same way, plus the optional features switched on, and runs
 * every policy rule over each cdk.tf.json: the resources of every issue are checked, not only the stores'.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, Testing } from "cdktf";
import { buildApp } from "../../main";
import { allRules, type TfJson } from "../../policies";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { configured, envConfig, EVERY_OPTION, resourcesOf, SHIPPED } from "../helpers/synth";

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-policies-"));
const read = (stack: string) => {
  const file = path.join(outdir, "stacks", stack, "cdk.tf.json");
  return { text: fs.readFileSync(file, "utf8"), json: JSON.parse(fs.readFileSync(file, "utf8")) as TfJson };
};

describe("every shipped stack", () => {
  beforeAll(() => {
    // Throws when any policy aspect annotated an error.
    buildApp({ outdir, filter: "" }).synth();
    // The every-option environment is not in config/environments.ts: synthesized into the same folder (the policies run as aspects here too).
    const app = new App({ outdir });
    new MlflowStack(app, configured(EVERY_OPTION));
    app.synth();
  });

  describe.each(SHIPPED)("mlflow-%s cdk.tf.json", (env) => {
    it("passes every policy rule", () => {
      const { json } = read(`mlflow-${env}`);
      for (const rule of allRules()) expect({ rule: rule.id, findings: rule.check(json) }).toEqual({ rule: rule.id, findings: [] });
    });

    it("gives the rules something to check: buckets, a database, a 5432 rule, IAM policies, secrets", () => {
      const { json } = read(`mlflow-${env}`);
      expect(Object.keys(resourcesOf(json, "aws_s3_bucket")).length).toBeGreaterThanOrEqual(1);
      expect(Object.keys(resourcesOf(json, "aws_db_instance")).length).toBeGreaterThanOrEqual(1);
      expect(Object.values(resourcesOf(json, "aws_vpc_security_group_ingress_rule")).some((r) => r.from_port === 5432)).toBe(true);
      expect(Object.keys(resourcesOf(json, "aws_iam_role_policy")).length).toBeGreaterThanOrEqual(1);
      expect(Object.keys(resourcesOf(json, "kubernetes_secret_v1")).length).toBeGreaterThanOrEqual(1);
    });

    it("contains no literal after any password, secret or token key, anywhere in the file text", () => {
      const { text } = read(`mlflow-${env}`);
      const literal = /"([a-z_]*(password|secret_string|client_secret|cookie_secret|token))"\s*:\s*"(?!\$\{)[^"]+"/gi;
      expect([...text.matchAll(literal)].map((m) => m[0])).toEqual([]);
    });
  });

  it.each<[string, Parameters<typeof envConfig>[1]]>([
    [
      "prod with replica, access logs and cross-region replication",
      { database: { readReplica: true }, artifacts: { accessLogging: true, replicationRegion: "eu-central-1" } },
    ],
    [
      "staging with IRSA and configured subnets",
      {
        identity: { mode: "irsa" },
        cluster: {
          oidcProviderArn: "arn:aws:iam::{account}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/X",
          privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        },
      },
    ],
  ])("%s passes every rule", (what, overrides) => {
    const env = what.split(" ")[0];
    // ARNs in the environment's own account and region, whatever the configuration (a fork's) says.
    const own = configured(env);
    const local = JSON.parse(JSON.stringify(overrides).replaceAll("{account}", own.aws.accountId).replaceAll("{region}", own.aws.region));
    const stack = new MlflowStack(Testing.app(), configured(env, local));
    const json = JSON.parse(Testing.synth(stack)) as TfJson;
    expect(Object.keys(resourcesOf(json, "aws_s3_bucket")).length).toBeGreaterThanOrEqual(env === "prod" ? 3 : 1);
    for (const rule of allRules()) expect({ rule: rule.id, findings: rule.check(json) }).toEqual({ rule: rule.id, findings: [] });
  });
});
