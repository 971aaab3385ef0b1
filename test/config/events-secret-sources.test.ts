/**
 * A registry events channel's secret comes from the environment's own cloud (AWS Secrets Manager, Google Secret
 * Manager, Azure Key Vault) or from a Kubernetes Secret: another cloud's store is refused naming the field, and each
 * store's names are held to its documented rules (constructs/core/gcp-limits.ts, azure-limits.ts).
 */
import { gcpConfig, gcpProblems } from "../helpers/gcp";
import { azureConfig, azureProblems } from "../helpers/azure";
import { configProblems, envConfig } from "../helpers/synth";
import { keyVaultIdProblem, keyVaultSecretNameProblem } from "../../constructs/core/azure-limits";
import { secretManagerSecretProblem, secretManagerVersionProblem } from "../../constructs/core/gcp-limits";

const ARN = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:slack-AbCdEf";
const GCP_SECRET = "projects/example-ml-dev/secrets/mlflow-events-slack-url";
const VAULT_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/ml-secrets/providers/Microsoft.KeyVault/vaults/ml-channels";
const slack = (webhookUrl: object) => ({ events: { slack: { webhookUrl } } });
// The Azure fixture's Slack reference names its vault: a channel it lacks is merged onto nothing.
const discord = (webhookUrl: object) => ({ events: { discord: { webhookUrl } } });
const onField = (problems: string[], field: string) => problems.filter((p) => p.includes(` field ${field} `));

describe("a GCP environment's channel secrets", () => {
  it('take { source: "secret-manager", secret } (version "latest" by default) and a version number', () => {
    expect(gcpConfig().events.slack?.webhookUrl).toEqual({ source: "secret-manager", secret: GCP_SECRET, version: "latest" });
    const pinned = gcpConfig(slack({ source: "secret-manager", secret: "projects/123456789012/secrets/slack_url-2", version: 3 }));
    expect(pinned.events.slack?.webhookUrl).toEqual({
      source: "secret-manager",
      secret: "projects/123456789012/secrets/slack_url-2",
      version: 3,
    });
  });

  it.each([
    [
      { source: "secrets-manager", secretArn: ARN },
      /"secret-manager" or "kubernetes" on a GCP environment: "secrets-manager" \(AWS Secrets Manager\) is for AWS environments only/,
    ],
    [
      { source: "key-vault", vaultName: "ml-channels", secretName: "slack" },
      /"key-vault" \(Azure Key Vault\) is for Azure environments only/,
    ],
  ])("refuse another cloud's store (%#), naming the field", (ref, message) => {
    expect(onField(gcpProblems(slack(ref)), "events.slack.webhookUrl.source")).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    ["slack-url", "not a full name"],
    ["projects/example-ml-dev/secrets/slack url", "a space"],
    [`projects/example-ml-dev/secrets/${"s".repeat(256)}`, "256 characters"],
    ["projects/Example/secrets/slack", "not a project id"],
  ])("refuse a secret name Secret Manager would refuse: %s (%s)", (secret) => {
    expect(onField(gcpProblems(slack({ source: "secret-manager", secret })), "events.slack.webhookUrl.secret")).toEqual([
      expect.stringContaining("expected a Secret Manager secret's full name"),
    ]);
  });

  it("refuse a version that is neither latest nor a number from 1", () => {
    for (const version of [0, 1.5, "current"])
      expect(
        onField(gcpProblems(slack({ source: "secret-manager", secret: GCP_SECRET, version })), "events.slack.webhookUrl.version"),
      ).toHaveLength(1);
  });
});

describe("an Azure environment's channel secrets", () => {
  it('take { source: "key-vault" } with the vault by name (its resource group by default the environment\'s) or by id', () => {
    expect(azureConfig().events.slack?.webhookUrl).toEqual({
      source: "key-vault",
      vaultName: "ml-dev-channels",
      secretName: "mlflow-events-slack-url",
    });
    const byId = azureConfig(
      discord({ source: "key-vault", vaultId: VAULT_ID, secretName: "slack", version: "0123456789abcdef0123456789abcdef" }),
    );
    expect(byId.events.discord?.webhookUrl).toMatchObject({ vaultId: VAULT_ID, version: "0123456789abcdef0123456789abcdef" });
  });

  it.each([
    [
      { source: "secrets-manager", secretArn: ARN },
      /"key-vault" or "kubernetes" on an Azure environment: "secrets-manager" \(AWS Secrets Manager\) is for AWS environments only/,
    ],
    [{ source: "secret-manager", secret: GCP_SECRET }, /"secret-manager" \(Google Secret Manager\) is for GCP environments only/],
  ])("refuse another cloud's store (%#), naming the field", (ref, message) => {
    expect(onField(azureProblems(discord(ref)), "events.discord.webhookUrl.source")).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    ["secretName", { vaultName: "ml-channels", secretName: "slack_url" }, "a Key Vault secret name"],
    ["secretName", { vaultName: "ml-channels", secretName: "s".repeat(128) }, "this one has 128 characters"],
    ["vaultName", { vaultName: "ml--channels", secretName: "slack" }, "a Key Vault name"],
    ["vaultId", { vaultId: "ml-channels", secretName: "slack" }, "a Key Vault's resource id"],
    ["vaultId", { secretName: "slack" }, "either vaultId or vaultName"],
    ["vaultId", { vaultId: VAULT_ID, vaultName: "ml-channels", secretName: "slack" }, "either vaultId or vaultName"],
    ["resourceGroupName", { vaultId: VAULT_ID, resourceGroupName: "ml-secrets", secretName: "slack" }, "no resourceGroupName with vaultId"],
    ["version", { vaultName: "ml-channels", secretName: "slack", version: "latest" }, "32 hexadecimal digits"],
  ])("refuse what Key Vault would refuse, at %s: %j", (field, ref, message) => {
    expect(onField(azureProblems(discord({ source: "key-vault", ...ref })), `events.discord.webhookUrl.${field}`)).toEqual([
      expect.stringContaining(message),
    ]);
  });
});

describe("an AWS environment's channel secrets", () => {
  it("take Secrets Manager and Kubernetes Secrets as before", () => {
    expect(envConfig("dev", slack({ source: "secrets-manager", secretArn: ARN })).events.slack?.webhookUrl).toEqual({
      source: "secrets-manager",
      secretArn: ARN,
    });
  });

  it.each([
    [
      { source: "secret-manager", secret: GCP_SECRET },
      /"secrets-manager" or "kubernetes" on an AWS environment: "secret-manager" \(Google Secret Manager\) is for GCP environments only/,
    ],
    [
      { source: "key-vault", vaultName: "ml-channels", secretName: "slack" },
      /"key-vault" \(Azure Key Vault\) is for Azure environments only/,
    ],
  ])("refuse another cloud's store (%#), naming the field", (ref, message) => {
    expect(onField(configProblems(slack(ref)), "events.slack.webhookUrl.source")).toEqual([expect.stringMatching(message)]);
  });

  it("refuse another cloud's store for every channel secret: the GitHub token and the SMTP password too", () => {
    const problems = configProblems({
      events: {
        github: { repository: "acme/release", token: { source: "secret-manager", secret: GCP_SECRET } },
        email: {
          smtpHost: "smtp.example.com",
          username: "u",
          password: { source: "key-vault", vaultName: "ml-channels", secretName: "smtp" },
          from: "a@example.com",
          to: ["b@example.com"],
        },
      },
    });
    expect(onField(problems, "events.github.token.source")).toHaveLength(1);
    expect(onField(problems, "events.email.password.source")).toHaveLength(1);
  });
});

describe("the stores' name rules", () => {
  it("Secret Manager: a secret id of 1-255 letters, digits, '-' and '_' in a project id or number", () => {
    expect(secretManagerSecretProblem(`projects/acme-ml-prod/secrets/${"a".repeat(255)}`)).toBeUndefined();
    expect(secretManagerSecretProblem("projects/123/secrets/A_b-9")).toBeUndefined();
    expect(secretManagerSecretProblem("projects/acme-ml-prod/secrets/a.b")).toBeDefined();
    expect(secretManagerVersionProblem("latest")).toBeUndefined();
    expect(secretManagerVersionProblem(1)).toBeUndefined();
  });
  it("Key Vault: a secret name of 1-127 letters, digits and '-'; a vault id with a GUID, a group and a vault name", () => {
    expect(keyVaultSecretNameProblem("a".repeat(127))).toBeUndefined();
    expect(keyVaultSecretNameProblem("")).toBeDefined();
    expect(keyVaultIdProblem(VAULT_ID)).toBeUndefined();
    expect(keyVaultIdProblem(VAULT_ID.replace("0b1f6471-1bf0-4dda-aec3-111122223333", "my-subscription"))).toContain("GUID");
  });
});
