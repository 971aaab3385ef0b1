/**
 * The configuration tests' own environments: valid, complete and independent of config/environments.ts,
 * so that a fork's shipped values can change without touching these tests.
 */
import { ConfigError, resolveEnvironments } from "../../config/load";
import { deepMerge, type DeepPartial } from "../../config/merge";
import type { EnvironmentConfig, EnvironmentInput } from "../../config/schema";
import { partitionOf } from "../../constructs/core/aws";

export const ACCOUNT = "123456789012";

/** A valid environment named `name` in `region`, its ARNs in that region's partition and in ACCOUNT. */
export function fixture(name = "alpha", region = "eu-central-1"): DeepPartial<EnvironmentInput> {
  const arn = `arn:${partitionOf(region)}`;
  return {
    name,
    project: "acme",
    aws: { accountId: ACCOUNT, region },
    state: { backend: "s3", bucket: "acme-terraform-state", key: "ml/{env}/terraform.tfstate" },
    cluster: { name: `ml-${name}` },
    hostname: `mlflow-${name}.acme.example`,
    artifacts: {},
    database: {
      instanceClass: "db.t4g.micro",
      allocatedStorageGb: 20,
      maxAllocatedStorageGb: 50,
      multiAz: false,
      deletionProtection: false,
      finalSnapshot: false,
      backupRetentionDays: 1,
    },
    mlflow: { replicas: { min: 1, max: 2 }, resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi" } } },
    auth: {
      issuerUrl: "https://id.acme.example/realms/ml",
      clientId: `mlflow-${name}`,
      clientSecret: {
        source: "secrets-manager",
        secretArn: `${arn}:secretsmanager:${region}:${ACCOUNT}:secret:mlflow-${name}/oidc-AbCdEf`,
      },
      allowedEmailDomains: ["acme.example"],
      replicas: { min: 1, max: 2 },
      resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    },
    ingress: {
      certificateArn: `${arn}:acm:${region}:${ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555`,
      certificateDomains: ["*.acme.example"],
      vpcCidrs: ["10.20.0.0/16"],
    },
    monitoring: { alertsReachNobody: true },
    // Production promotions need a second person's approval by default: say who may approve.
    registry: { approverGroups: ["ml-approvers"] },
  };
}

/** What a production environment must have besides (deletion protection, snapshots, backups, a receiver). */
export const PRODUCTION: DeepPartial<EnvironmentInput> = {
  production: true,
  database: { deletionProtection: true, finalSnapshot: true, backupRetentionDays: 7 },
  monitoring: { alertsReachNobody: false, slack: { channel: "#alerts", webhookSecretName: "alertmanager-slack" } },
};

/** The fixture with `overrides` merged on top, validated. */
export function valid(overrides: DeepPartial<EnvironmentInput> = {}, base = fixture()): EnvironmentConfig {
  return resolveEnvironments({}, [deepMerge(base, overrides)])[0];
}

/** The problems reported for `entries` (each merged on nothing); fails when they are accepted. */
export function refusals(...entries: DeepPartial<EnvironmentInput>[]): string[] {
  try {
    resolveEnvironments({}, entries);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("configuration was accepted");
}
