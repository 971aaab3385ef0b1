/**
 * The registry events service on GCP and Azure (stacks/cloud-events.ts): the fixture environments turn it on with a
 * Slack URL in the cloud's secret store and a GitHub token in an operator's Kubernetes Secret. The stacks read the
 * cloud's secret with their own provider only, wire the tracking server's webhooks and monitoring as an AWS stack
 * does, and the NetworkPolicies admit the service's flows and keep it from the cloud's metadata endpoints.
 */
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { azureConfig, synthAzure } from "../helpers/azure";
import { resourcesOf, type TfJson } from "../helpers/synth";
import { addressIn, allowed, policiesOf, type AddressEnd, type Labels, type PodEnd } from "../helpers/network-model";
import { registryEventsPodLabels } from "../../constructs/registry-events/command";
import { trackingServerPodLabels } from "../../constructs/tracking-server";
import { trackingInstance } from "../../constructs/tracking-server/from-config";
import { PROMETHEUS_OPERATOR_POD_LABELS } from "../../constructs/core/pod-spec";

const VAULT_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/ml-secrets/providers/Microsoft.KeyVault/vaults/ml-channels";

const named = (json: TfJson, type: string, match: RegExp): Record<string, any>[] =>
  Object.entries(resourcesOf(json, type))
    .filter(([name]) => match.test(name))
    .map(([, r]) => r);
const one = (json: TfJson, type: string, match: RegExp): Record<string, any> => {
  const found = named(json, type, match);
  if (found.length !== 1) throw new Error(`${found.length} ${type} matching ${match}`);
  return found[0];
};
const envOf = (json: TfJson, match: RegExp): { name: string; value?: string; value_from?: any }[] =>
  one(json, "kubernetes_deployment_v1", match).spec.template.spec.container[0].env;
const secretRef = (env: { name: string; value_from?: any }[], name: string) => env.find((e) => e.name === name)?.value_from?.secret_key_ref;

describe.each([
  ["GCP", () => synthGcp().json, () => gcpConfig(), ["169.254.169.254", "169.254.169.252"]],
  ["Azure", () => synthAzure().json, () => azureConfig(), ["169.254.169.254", "168.63.129.16"]],
] as const)("the registry events service on %s", (_cloud, synth, configOf, metadata) => {
  const json = synth();
  const config = configOf();

  it("runs with the cloud's secret copied into the channels' Secret and the operator's Secret referenced as is", () => {
    const channels = one(json, "kubernetes_secret_v1", /^registry_events_channel_secret/);
    expect(channels.metadata).toMatchObject({ name: "mlflow-registry-events-channels", namespace: "mlflow" });
    expect(Object.keys(channels.data)).toEqual(["slack"]);
    const env = envOf(json, /^registry_events_deployment/);
    expect(secretRef(env, "MLFLOW_EVENTS_SLACK_URL")).toEqual({ name: "mlflow-registry-events-channels", key: "slack" });
    expect(secretRef(env, "MLFLOW_EVENTS_GITHUB_TOKEN")).toEqual({ name: "mlflow-events-channels", key: "github-token" });
    // Nothing of AWS: the construct no longer brings a Secrets Manager data source of its own.
    expect(Object.keys(json.data ?? {}).filter((t) => t.startsWith("aws_"))).toEqual([]);
  });

  it("gives the tracking server the webhook-secret encryption key, after the Secret holding it exists", () => {
    const tracking = one(json, "kubernetes_deployment_v1", /^tracking_server_deployment/);
    expect(secretRef(tracking.spec.template.spec.container[0].env, "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY")).toEqual({
      name: "mlflow-registry-events-webhook",
      key: "encryption-key",
    });
    expect(JSON.stringify(tracking.depends_on)).toContain("kubernetes_secret_v1.registry_events_generated_secret");
  });

  it("is scraped and alerted on by the stack's monitoring", () => {
    expect(JSON.stringify(json.resource)).toContain("RegistryEventsBehind");
  });

  it("NetworkPolicies: webhooks from the tracking server, scrapes; to MLflow and its channels; never the cloud's metadata endpoints", () => {
    const policies = policiesOf(json);
    const vpc = config.ingress.vpcCidrs[0];
    let next = 1000;
    const pod = (namespace: string, labels: Labels): PodEnd => ({ namespace, labels, ip: addressIn(vpc, next++) });
    const at = (ip: string): AddressEnd => ({ ip });
    const tracking = pod("mlflow", trackingServerPodLabels(trackingInstance(config)));
    const events = pod("mlflow", registryEventsPodLabels(config));
    const prometheus = pod(config.monitoring.namespace, config.monitoring.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS);
    const stranger = pod("mlflow", { "app.kubernetes.io/name": "something-else" });
    const flows = (list: [PodEnd | AddressEnd, PodEnd | AddressEnd, number][]) =>
      list.map(([src, dst, port]) => allowed(policies, src, dst, port));
    expect(
      flows([
        [tracking, events, config.events.port],
        [prometheus, events, config.events.port],
        [events, tracking, config.mlflow.port],
        [events, at("203.0.113.10"), 443],
      ]),
    ).toEqual([true, true, true, true]);
    expect(
      flows([
        [stranger, events, config.events.port],
        [events, at("203.0.113.10"), 80],
        // The channels' port is the one an open rule would let through to the metadata endpoints.
        ...metadata.map((ip): [PodEnd, AddressEnd, number] => [events, at(ip), 443]),
      ]),
    ).toEqual([false, false, ...metadata.map(() => false)]);
  });
});

describe("channel secrets' data sources", () => {
  it("GCP: google_secret_manager_secret_version in the secret's own project, the latest version unless pinned", () => {
    const data = (json: TfJson) => json.data!.google_secret_manager_secret_version as Record<string, Record<string, unknown>>;
    expect(Object.values(data(synthGcp().json))).toEqual([{ project: "example-ml-dev", secret: "mlflow-events-slack-url" }]);
    const pinned = synthGcp(
      gcpConfig({
        events: { slack: { webhookUrl: { source: "secret-manager", secret: "projects/123456789012/secrets/slack", version: 4 } } },
      }),
    ).json;
    expect(Object.values(data(pinned))).toEqual([{ project: "123456789012", secret: "slack", version: "4" }]);
    const channels = one(pinned, "kubernetes_secret_v1", /^registry_events_channel_secret/);
    expect(channels.data.slack).toMatch(
      /^\$\{data\.google_secret_manager_secret_version\.registry_events_secret_source_slack_\w+\.secret_data\}$/,
    );
  });

  it("Azure: azurerm_key_vault_secret, in a vault found by name in the environment's resource group, or by id", () => {
    const { json } = synthAzure();
    expect(Object.values(json.data!.azurerm_key_vault)).toEqual([{ name: "ml-dev-channels", resource_group_name: "ml-dev" }]);
    const [secret] = Object.values(json.data!.azurerm_key_vault_secret) as Record<string, unknown>[];
    expect(secret).toEqual({
      name: "mlflow-events-slack-url",
      key_vault_id: expect.stringMatching(/^\$\{data\.azurerm_key_vault\.registry_events_secret_source_slack_vault_\w+\.id\}$/),
    });
    const byId = synthAzure(
      azureConfig({
        events: {
          discord: {
            webhookUrl: { source: "key-vault", vaultId: VAULT_ID, secretName: "discord", version: "0123456789abcdef0123456789abcdef" },
          },
        },
      }),
    ).json;
    expect(Object.values(byId.data!.azurerm_key_vault)).toHaveLength(1); // Slack's, by name; Discord's vault is given by id
    expect(Object.values(byId.data!.azurerm_key_vault_secret)).toContainEqual({
      name: "discord",
      key_vault_id: VAULT_ID,
      version: "0123456789abcdef0123456789abcdef",
    });
    expect(Object.keys(one(byId, "kubernetes_secret_v1", /^registry_events_channel_secret/).data).sort()).toEqual(["discord", "slack"]);
  });

  it("off (the default): no events service, no webhook key on the tracking server", () => {
    for (const json of [
      synthGcp(gcpConfig({ events: { enabled: false } })).json,
      synthAzure(azureConfig({ events: { enabled: false } })).json,
    ]) {
      expect(JSON.stringify(json.resource)).not.toContain("registry_events");
      expect(JSON.stringify(json.resource)).not.toContain("MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY");
    }
  });
});
