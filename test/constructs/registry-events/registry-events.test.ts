import { TerraformStack, Testing } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import type { EnvironmentConfig } from "../../../config";
import {
  EVENTS_ENV,
  MLFLOW_WEBHOOK_EVENTS,
  registryEventsCommand,
  registryEventsSettings,
  registryEventsSecretRefs,
  registryEventsWebhookUrl,
} from "../../../constructs/registry-events/command";
import { trackingServerCommand, trackingServerWebhookEnv } from "../../../constructs/tracking-server/mlflow-command";
import { RegistryEvents, type RegistryEventsProps } from "../../../constructs/registry-events";
import { registryEventsProps } from "../../../constructs/registry-events/from-config";
import { mlflowCommandInputs, trackingServerPodLabels } from "../../../constructs/tracking-server";
import { trackingInstance, trackingServerProps } from "../../../constructs/tracking-server/from-config";
import { authProxyPodLabels } from "../../../constructs/auth-proxy/oauth2-proxy-command";
import { configProblems, envConfig, onlyResource, resourcesOf, synthJson, type TfJson } from "../../helpers/synth";

const dev = envConfig("dev");
const trackingServer = { namespace: "mlflow", port: 5000, podLabels: trackingServerPodLabels(trackingInstance(dev)) };

function synth(config: EnvironmentConfig, over: Partial<RegistryEventsProps> = {}): TfJson {
  const stack = new TerraformStack(Testing.app(), "test");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new KubernetesProvider(stack, "kubernetes", {});
  new RandomProvider(stack, "random");
  new RegistryEvents(stack, "events", { ...registryEventsProps(config, { trackingServer }), ...over });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

describe("registry events configuration", () => {
  it("is off by default and on in the shipped dev configuration only", () => {
    expect(envConfig("staging").events.enabled).toBe(false);
    expect(envConfig("prod").events.enabled).toBe(false);
    expect(dev.events.enabled).toBe(true);
  });

  it("refuses an enabled service without an image or a channel, and an SMTP user without a password", () => {
    expect(configProblems({ events: { enabled: true } }, "staging").join("\n")).toMatch(
      /events\.image.*runtime package[\s\S]*events\.enabled.*at least one channel/,
    );
    const email = { smtpHost: "smtp.example.com", username: "u", from: "a@example.com", to: ["b@example.com"] };
    expect(configProblems({ events: { enabled: true, image: "r/i:1", email } }, "staging").join("\n")).toMatch(/events\.email\.password/);
    expect(configProblems({ events: { slack: { events: ["model_version.exploded"] } } }).join("\n")).toMatch(
      /events\.slack\.events\.0 = "model_version.exploded": expected an event kind/,
    );
  });
});

describe("registry events command", () => {
  const cmd = registryEventsCommand(dev);

  it("runs mlflow-platform events serve with every secret as a reference", () => {
    expect([...cmd.command, ...cmd.args]).toEqual(["mlflow-platform", "events", "serve"]);
    const refs = cmd.env
      .filter((e) => "secretKeyRef" in e)
      .map((e) => e.name)
      .sort();
    expect(refs).toEqual(
      [EVENTS_ENV.discord, EVENTS_ENV.github, EVENTS_ENV.slack, EVENTS_ENV.smtp, EVENTS_ENV.stateKey, EVENTS_ENV.webhookSecret].sort(),
    );
    // The state key is the service's own: generated, and not the signing secret (which MLflow holds too).
    expect(cmd.env.find((e) => e.name === EVENTS_ENV.stateKey)).toEqual({
      name: EVENTS_ENV.stateKey,
      secretKeyRef: { name: "mlflow-registry-events-webhook", key: "state-key" },
    });
    expect(cmd.env.find((e) => e.name === EVENTS_ENV.webhookSecret)).toEqual({
      name: EVENTS_ENV.webhookSecret,
      secretKeyRef: { name: "mlflow-registry-events-webhook", key: "signing-secret" },
    });
  });

  it("declares the webhook at the service's in-cluster address for every registry event MLflow fires", () => {
    const s = registryEventsSettings(dev) as any;
    expect(s.webhook.url).toBe("http://mlflow-registry-events.mlflow.svc.cluster.local:8080/webhooks/mlflow");
    expect(s.webhook.events).toEqual([...MLFLOW_WEBHOOK_EVENTS]);
    expect(s.trackingUri).toBe("http://mlflow-tracking.mlflow.svc.cluster.local:5000");
    expect(s.channels.github).toEqual({
      events: ["model_version.created", "model_version_tag.set", "model_version_alias.created", "model_version_alias.deleted"],
      repository: "example-org/model-release",
      apiUrl: "https://api.github.com",
    });
    expect(s.channels.email).toMatchObject({ smtpPort: 587, startTls: true, username: "mlflow-dev-smtp" });
  });

  it("gives the tracking server the webhook variables only when events are on", () => {
    const names = (c: EnvironmentConfig) =>
      trackingServerCommand(
        mlflowCommandInputs(
          trackingServerProps(c, {
            backendStore: {
              host: "db",
              port: 5432,
              database: "mlflow",
              credentials: { secretName: "s", usernameKey: "u", passwordKey: "p" },
            },
            artifactStore: { bucketName: "b", destinationUri: "s3://b/p" },
            identity: { serviceAccountName: "mlflow", serviceAccountAnnotations: {} },
            authProxyPodLabels: authProxyPodLabels(c.project),
          }),
        ),
      ).env.map((e) => e.name);
    expect(names(dev)).toEqual(expect.arrayContaining(trackingServerWebhookEnv(registryEventsSecretRefs(dev)).map((e) => e.name)));
    expect(names(envConfig("prod")).filter((n) => n.startsWith("MLFLOW_WEBHOOK"))).toEqual([]);
  });

  it("copies Secrets Manager channel secrets into the managed Secret", () => {
    const c = envConfig("dev", {
      events: {
        slack: {
          webhookUrl: { source: "secrets-manager", secretArn: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:slack-AbCdEf" },
        },
      },
    });
    expect(registryEventsSecretRefs(c).channels.slack).toEqual({ name: "mlflow-registry-events-channels", key: "slack" });
    const json = synth(c);
    const secrets = Object.values(resourcesOf(json, "kubernetes_secret_v1"));
    expect(secrets.map((s: any) => s.metadata.name).sort()).toEqual(["mlflow-registry-events-channels", "mlflow-registry-events-webhook"]);
    expect(JSON.stringify(json)).not.toMatch(/hooks\.slack\.com/);
  });
});

describe("RegistryEvents construct: cloud-neutral", () => {
  it("reads each cloud-held secret through the reader it is given, in its own scope, under secret_source_<key>", () => {
    const calls: string[] = [];
    const json = synth(dev, {
      copiedSecrets: {
        slack: (scope, id) => {
          calls.push(`${scope.node.path}/${id}`);
          return "${data.example.slack.value}";
        },
      },
    });
    expect(calls).toEqual(["test/events/secret_source_slack"]);
    const channels = Object.values(resourcesOf(json, "kubernetes_secret_v1")).find(
      (s: any) => s.metadata.name === "mlflow-registry-events-channels",
    );
    expect(channels?.data).toEqual({ slack: "${data.example.slack.value}" });
    // The construct itself creates no data source of any cloud: the reader does.
    expect(json.data ?? {}).toEqual({});
  });

  it("leaves the given metadata endpoints out of the channels' rule (AWS's by default), and refuses what is not an IPv4 CIDR", () => {
    const except = (j: TfJson) => onlyResource(j, "kubernetes_network_policy_v1").spec.egress[2].to[0].ip_block.except;
    expect(except(synth(dev))).toEqual(["169.254.169.254/32", "169.254.170.2/32", "169.254.170.23/32"]);
    expect(except(synth(dev, { metadataCidrs: ["169.254.169.254/32", "168.63.129.16/32"] }))).toEqual([
      "169.254.169.254/32",
      "168.63.129.16/32",
    ]);
    expect(() => synth(dev, { metadataCidrs: ["169.254.169.254"] })).toThrow(/metadataCidrs.*IPv4 CIDR blocks/);
  });
});

describe("RegistryEvents construct (dev)", () => {
  const json = synth(dev);
  const deployment = onlyResource(json, "kubernetes_deployment_v1");
  const pod = deployment.spec.template.spec;
  const np = onlyResource(json, "kubernetes_network_policy_v1");

  it("runs one restricted replica at a time, without an API token", () => {
    expect(deployment.spec.replicas).toBe("1");
    expect(deployment.spec.strategy).toEqual({ type: "Recreate" });
    expect(pod.automount_service_account_token).toBe(false);
    expect(onlyResource(json, "kubernetes_service_account_v1").automount_service_account_token).toBe(false);
    expect(pod.security_context).toMatchObject({ run_as_non_root: true, seccomp_profile: { type: "RuntimeDefault" } });
    expect(pod.container[0].security_context).toMatchObject({
      read_only_root_filesystem: true,
      allow_privilege_escalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.container[0].readiness_probe.http_get.path).toBe("/readyz");
    expect(pod.container[0].liveness_probe.http_get.path).toBe("/healthz");
  });

  it("generates the signing secret, a Fernet key (URL-safe base64 of 32 random bytes) and the state key", () => {
    const secret = onlyResource(json, "kubernetes_secret_v1");
    expect(Object.keys(secret.data).sort()).toEqual(["encryption-key", "signing-secret", "state-key"]);
    expect(secret.data["state-key"]).toMatch(/^\$\{random_password\.\w+\.result\}$/);
    expect(secret.data["state-key"]).not.toBe(secret.data["signing-secret"]);
    expect(Object.values(resourcesOf(json, "random_password")).every((p: any) => p.length >= 32)).toBe(true);
    expect(secret.data["encryption-key"]).toMatch(/replace\(replace\(random_bytes\.\w+\.base64/);
    expect(Object.values(resourcesOf(json, "random_bytes"))[0].length).toBe(32);
  });

  it("admits only the tracking server (webhooks) and Prometheus; lets out only DNS, the tracking server and the channel ports", () => {
    expect(np.spec.policy_types).toEqual(["Ingress", "Egress"]);
    expect(np.spec.ingress).toEqual([
      {
        from: [
          {
            namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "mlflow" } },
            pod_selector: { match_labels: trackingServer.podLabels },
          },
        ],
        ports: [{ port: "8080", protocol: "TCP" }],
      },
      {
        from: [
          {
            namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "monitoring" } },
            pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } },
          },
        ],
        ports: [{ port: "8080", protocol: "TCP" }],
      },
    ]);
    const egressPorts = np.spec.egress.map((r: any) => r.ports.map((p: any) => `${p.port}/${p.protocol}`).join(","));
    expect(egressPorts).toEqual(["53/UDP,53/TCP", "5000/TCP", "443/TCP,587/TCP"]);
    expect(np.spec.egress[2].to[0].ip_block.except).toContain("169.254.169.254/32");
  });

  it("refuses a secret written as a literal, and selectors that would also pick the tracking server", () => {
    const cmd = registryEventsCommand(dev);
    const literal = { ...cmd, env: [...cmd.env, { name: EVENTS_ENV.slack, value: "https://hooks.slack.com/services/x" }] };
    expect(() => synth(dev, { command: literal })).toThrow(/command\.env.*Secret reference/);
    expect(() => synth(dev, { podLabels: { "app.kubernetes.io/name": "mlflow" } })).toThrow(
      /podLabels.*do not also select the tracking server/,
    );
  });
});

describe("the dev stack", () => {
  const json = synthJson(dev);
  it("deploys the service, and the tracking server waits for the encryption key", () => {
    const deployments = resourcesOf(json, "kubernetes_deployment_v1");
    const events = Object.entries(deployments).find(([, d]) => d.metadata.name === "mlflow-registry-events");
    expect(events).toBeDefined();
    const tracking = Object.values(deployments).find((d) => d.metadata.name === "mlflow-tracking")!;
    expect(JSON.stringify(tracking.depends_on)).toContain("registry_events_generated_secret");
    expect(tracking.spec.template.spec.container[0].env).toContainEqual({
      name: "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY",
      value_from: { secret_key_ref: { name: "mlflow-registry-events-webhook", key: "encryption-key" } },
    });
  });

  it("lets webhooks post to the events service only, and keeps the state key from the tracking server", () => {
    const tracking = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d) => d.metadata.name === "mlflow-tracking")!;
    const env = tracking.spec.template.spec.container[0].env as any[];
    expect(env).toContainEqual({ name: "MLFLOW_PLATFORM_WEBHOOK_URLS", value: registryEventsWebhookUrl(dev) });
    expect(registryEventsWebhookUrl(dev)).toBe("http://mlflow-registry-events.mlflow.svc.cluster.local:8080/webhooks/mlflow");
    expect(JSON.stringify(env)).not.toContain("state-key");
  });

  it("with the service off (staging), no webhook destination is allowed at all", () => {
    const staging = envConfig("staging");
    expect(staging.events.enabled).toBe(false);
    const tracking = Object.values(resourcesOf(synthJson(staging), "kubernetes_deployment_v1")).find(
      (d) => d.metadata.name === "mlflow-tracking",
    )!;
    expect((tracking.spec.template.spec.container[0].env as any[]).map((e) => e.name)).not.toContain("MLFLOW_PLATFORM_WEBHOOK_URLS");
  });
});
