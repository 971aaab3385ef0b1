/**
 * The registry events service on Kubernetes: receives MLflow's registry webhooks, reconciles
 * with the registry on a schedule, and notifies Slack, Discord, e-mail and GitHub exactly once per event.
 *
 * Creates, in the MLflow namespace:
 * - a generated Secret with the webhook's signing secret (random), MLflow's webhook-secret encryption key
 *   (32 random bytes, the Fernet key the tracking server needs) and the key the service signs its state
 *   tags with (random; only this service reads it), and, for channels whose secret lives in the cloud's
 *   secret store (AWS Secrets Manager, Google Secret Manager, Azure Key Vault), a Secret copied from it by the
 *   data sources `copiedSecrets` creates (the construct itself uses no cloud's provider);
 * - a ServiceAccount without an API token, a one-replica Deployment (`Recreate`: never two workers at
 *   once) with restricted pods, and a ClusterIP Service;
 * - a NetworkPolicy: ingress only from the tracking server's pods (webhooks) and Prometheus; egress only
 *   DNS, the tracking server, and the channels' ports (443, the SMTP port) outside the cluster, never the cloud's
 *   metadata and credential endpoints (`metadataCidrs`).
 *
 * The command comes from `constructs/registry-events/command.ts`, which the end-to-end run starts too.
 * The mapping from configuration to these props is {@link registryEventsProps}.
 */
import { PropError } from "../core/prop-error";
import { Fn, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Bytes } from "@cdktf/provider-random/lib/bytes";
import { Password } from "@cdktf/provider-random/lib/password";
import {
  ENCRYPTION_KEY_KEY,
  EVENTS_HEALTH_PATH,
  EVENTS_METRICS_PATH,
  EVENTS_PORT_NAME,
  EVENTS_READY_PATH,
  SIGNING_SECRET_KEY,
  STATE_KEY_KEY,
} from "./command";
import type { ContainerCommand } from "../core/command-types";
import type { ServiceContract } from "../core/contracts";
import { DNS_LABEL } from "../core/names";
import {
  PROMETHEUS_OPERATOR_POD_LABELS,
  containerResources,
  httpGetProbe,
  labelSelectorProblem,
  prometheusPeer,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  toK8sEnv,
} from "../core/pod-spec";

/** Props of {@link RegistryEvents}. */
export interface RegistryEventsProps {
  /** Namespace of the service (the tracking server's). Required. */
  readonly namespace: string;
  /** Name of the Deployment, Service, ServiceAccount and NetworkPolicy. Required. */
  readonly name: string;
  /** The container command (`registryEventsCommand`). It must declare the port named `http`. Required. */
  readonly command: ContainerCommand;
  /** Labels of the service's pods. Must not be empty. Required. */
  readonly podLabels: Record<string, string>;
  /** The tracking server: the only in-cluster peer of the service, both ways. Required. */
  readonly trackingServer: Pick<ServiceContract, "namespace" | "port" | "podLabels">;
  /** Name of the generated Secret (signing secret, encryption key). Required. */
  readonly generatedSecretName: string;
  /**
   * The cloud-held secrets to copy into the Secret `managedSecretName`, by key: each reads its value with a data
   * source it creates in the construct's scope under the id it is given (`copy-from-aws.ts`, `copy-from-gcp.ts`,
   * `copy-from-azure.ts`). The values pass through Terraform state; use Kubernetes-sourced secrets to avoid that.
   * @default {}
   */
  readonly copiedSecrets?: Readonly<Record<string, SecretValueReader>>;
  /** Name of the Secret filled from `copiedSecrets`. @default `${name}-channels` */
  readonly managedSecretName?: string;
  /** TCP ports the channels are reached on outside the cluster (HTTPS, SMTP). @default [443] */
  readonly channelPorts?: readonly number[];
  /** Namespace of the Prometheus that scrapes `/metrics`. @default "monitoring" */
  readonly monitoringNamespace?: string;
  /** Labels of the Prometheus pods. Must not be empty. @default { "app.kubernetes.io/name": "prometheus" } */
  readonly prometheusPodLabels?: Record<string, string>;
  /** Resources of the container. @default requests 50m / 256Mi, limit 512Mi */
  readonly resources?: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly memory: string };
  };
  /** Non-root user and group id. @default 10001 */
  readonly runAsUser?: number;
  /**
   * The cloud's instance metadata and credential endpoints, which the channels' egress rule leaves out (the service
   * needs no cloud credential). @default AWS's: the instance metadata service, ECS's and EKS Pod Identity's agents
   */
  readonly metadataCidrs?: readonly string[];
  /** Create the NetworkPolicy (enforced only when the CNI's network policy support is on). @default true */
  readonly networkPolicy?: boolean;
  /** Extra labels on every resource. @default {} */
  readonly labels?: Record<string, string>;
  /** Resources everything waits for (the namespace, operator Secrets). @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * Reads one cloud-held secret's value in Terraform: creates its data source in `scope` under `id` and returns the
 * value's token.
 */
export type SecretValueReader = (scope: Construct, id: string) => string;

/** The instance metadata service, ECS's task metadata endpoint and the EKS Pod Identity agent. */
export const AWS_METADATA_CIDRS: readonly string[] = ["169.254.169.254/32", "169.254.170.2/32", "169.254.170.23/32"];

/** What the service offers monitoring. */
export interface RegistryEventsContract extends ServiceContract {
  readonly metricsPath: string;
}

function validate(scope: Construct, props: RegistryEventsProps): number {
  if (!DNS_LABEL.test(props.namespace)) throw new PropError(scope, "namespace", props.namespace, "a Kubernetes namespace name");
  if (!DNS_LABEL.test(props.name)) throw new PropError(scope, "name", props.name, "a DNS label (lower-case letters, digits, '-')");
  const port = props.command.ports?.[EVENTS_PORT_NAME];
  if (port === undefined)
    throw new PropError(scope, "command.ports", props.command.ports, `a port named "${EVENTS_PORT_NAME}" (webhooks, probes, metrics)`);
  const literal = props.command.env.find(
    (e) => "value" in e && /^MLFLOW_EVENTS_(WEBHOOK_SECRET|STATE_KEY|SLACK_URL|DISCORD_URL|GITHUB_TOKEN|SMTP_PASSWORD)$/.test(e.name),
  );
  if (literal) {
    // The literal is the secret itself: redacted, never in the message.
    throw new PropError(
      scope,
      `command.env.${literal.name}`,
      literal,
      "every secret as a Secret reference (secretKeyRef), never a literal",
      { secret: true },
    );
  }
  for (const [field, labels] of [
    ["podLabels", props.podLabels],
    ["trackingServer.podLabels", props.trackingServer.podLabels],
  ] as const) {
    const problem = labelSelectorProblem(labels);
    if (problem) throw new PropError(scope, field, labels, `pod labels; it ${problem}`);
  }
  if (props.prometheusPodLabels !== undefined) {
    const problem = labelSelectorProblem(props.prometheusPodLabels);
    if (problem)
      throw new PropError(scope, "prometheusPodLabels", props.prometheusPodLabels, `the labels of the Prometheus pods; it ${problem}`);
  }
  if (Object.entries(props.podLabels).every(([k, v]) => props.trackingServer.podLabels[k] === v)) {
    throw new PropError(scope, "podLabels", props.podLabels, "labels that do not also select the tracking server's pods");
  }
  for (const p of props.channelPorts ?? []) {
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      throw new PropError(scope, "channelPorts", props.channelPorts, "TCP ports from 1 to 65535");
  }
  for (const cidr of props.metadataCidrs ?? []) {
    // An ipBlock's except entries must be IPv4 CIDRs inside 0.0.0.0/0 (the API server refuses anything else at apply).
    if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr))
      throw new PropError(scope, "metadataCidrs", props.metadataCidrs, 'IPv4 CIDR blocks such as "169.254.169.254/32"');
  }
  if (props.runAsUser !== undefined && (!Number.isInteger(props.runAsUser) || props.runAsUser < 1)) {
    throw new PropError(scope, "runAsUser", props.runAsUser, "a non-zero user id (the restricted Pod Security Standard forbids root)");
  }
  return port;
}

/** The registry events service, its secrets and its network boundary. */
export class RegistryEvents extends Construct {
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
  readonly generatedSecret: SecretV1;
  readonly networkPolicy?: NetworkPolicyV1;
  readonly contract: RegistryEventsContract;

  constructor(scope: Construct, id: string, props: RegistryEventsProps) {
    super(scope, id);
    const port = validate(this, props);
    const { namespace, name, command, podLabels } = props;
    const uid = String(props.runAsUser ?? 10001);
    const labels = { ...podLabels, "app.kubernetes.io/managed-by": "cdktf", ...(props.labels ?? {}) };
    const metadata = (n: string) => ({ name: n, namespace, labels });
    const dependsOn = props.dependsOn;

    // ── Secrets ──
    // The signing secret MLflow's webhook uses and the service verifies (alphanumeric: safe in any header or env).
    const signing = new Password(this, "signing_secret", { length: 48, special: false });
    // 32 random bytes in URL-safe base64: the Fernet key MLflow encrypts stored webhook secrets with.
    const encryption = new Bytes(this, "encryption_key", { length: 32 });
    // The key the service signs its "already notified" state with: not the signing secret, which MLflow holds too.
    const stateKey = new Password(this, "state_key", { length: 48, special: false });
    this.generatedSecret = new SecretV1(this, "generated_secret", {
      metadata: metadata(props.generatedSecretName),
      type: "Opaque",
      data: {
        [SIGNING_SECRET_KEY]: signing.result,
        [ENCRYPTION_KEY_KEY]: Fn.replace(Fn.replace(encryption.base64, "/[+]/", "-"), "/[/]/", "_"),
        [STATE_KEY_KEY]: stateKey.result,
      },
      dependsOn,
    });
    const secretDependencies: ITerraformDependable[] = [this.generatedSecret];
    const copied = Object.entries(props.copiedSecrets ?? {});
    if (copied.length > 0) {
      const data: Record<string, string> = {};
      for (const [key, read] of copied) data[key] = read(this, `secret_source_${key}`);
      secretDependencies.push(
        new SecretV1(this, "channel_secret", {
          metadata: metadata(props.managedSecretName ?? `${name}-channels`),
          type: "Opaque",
          data,
          dependsOn,
        }),
      );
    }

    // ── Workload ──
    const serviceAccount = new ServiceAccountV1(this, "service_account", {
      metadata: metadata(name),
      // The service never calls the Kubernetes API.
      automountServiceAccountToken: false,
      dependsOn,
    });
    const probe = (path: string, periodSeconds: number, failureThreshold: number) =>
      httpGetProbe({ path, port: EVENTS_PORT_NAME, periodSeconds, timeoutSeconds: 3, failureThreshold });
    const resources = props.resources ?? { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } };
    this.deployment = new DeploymentV1(this, "deployment", {
      metadata: metadata(name),
      spec: {
        // One worker compares and notifies; two at once (a rolling update's surge) could both notify.
        replicas: "1",
        revisionHistoryLimit: 5,
        selector: { matchLabels: podLabels },
        strategy: { type: "Recreate" },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            // Room for the event in hand to finish (channel retries) after SIGTERM.
            terminationGracePeriodSeconds: 60,
            securityContext: restrictedPodSecurityContext(uid),
            container: [
              {
                name: "registry-events",
                image: command.image,
                imagePullPolicy: "IfNotPresent",
                command: [...command.command],
                args: [...command.args],
                env: command.env.map(toK8sEnv),
                workingDir: "/tmp",
                port: Object.entries(command.ports ?? {}).map(([n, containerPort]) => ({ name: n, containerPort, protocol: "TCP" })),
                startupProbe: probe(EVENTS_HEALTH_PATH, 5, 24),
                livenessProbe: probe(EVENTS_HEALTH_PATH, 20, 3),
                readinessProbe: probe(EVENTS_READY_PATH, 10, 3),
                resources: containerResources(resources),
                securityContext: restrictedContainerSecurityContext(uid),
                volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
              },
            ],
            volume: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
          },
        },
      },
      waitForRollout: false,
      dependsOn: [...(dependsOn ?? []), ...secretDependencies],
    });

    this.service = new ServiceV1(this, "service", {
      metadata: metadata(name),
      spec: {
        type: "ClusterIP",
        selector: podLabels,
        port: [{ name: EVENTS_PORT_NAME, port, targetPort: EVENTS_PORT_NAME, protocol: "TCP" }],
      },
      dependsOn,
    });

    // ── NetworkPolicy ──
    if (props.networkPolicy ?? true) {
      const ts = props.trackingServer;
      const trackingPeer = {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ts.namespace } },
        podSelector: { matchLabels: { ...ts.podLabels } },
      };
      const channelPorts = [...new Set(props.channelPorts ?? [443])].sort((a, b) => a - b);
      this.networkPolicy = new NetworkPolicyV1(this, "network_policy", {
        metadata: metadata(name),
        spec: {
          podSelector: { matchLabels: podLabels },
          policyTypes: ["Ingress", "Egress"],
          ingress: [
            // Webhook deliveries: from the tracking server's pods only.
            { from: [trackingPeer], ports: [{ port: String(port), protocol: "TCP" }] },
            // Scrapes: Prometheus only, not the whole monitoring namespace.
            {
              from: [
                prometheusPeer(props.monitoringNamespace ?? "monitoring", props.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS),
              ],
              ports: [{ port: String(port), protocol: "TCP" }],
            },
          ],
          egress: [
            {
              ports: [
                { port: "53", protocol: "UDP" },
                { port: "53", protocol: "TCP" },
              ],
            },
            // Reconciliation and webhook declaration.
            { to: [trackingPeer], ports: [{ port: String(ts.port), protocol: "TCP" }] },
            // The channels (Slack, Discord, GitHub on 443; SMTP) are outside the cluster; the cloud's
            // metadata and credential endpoints are not among them.
            {
              to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...(props.metadataCidrs ?? AWS_METADATA_CIDRS)] } }],
              ports: channelPorts.map((p) => ({ port: String(p), protocol: "TCP" })),
            },
          ],
        },
        dependsOn,
      });
    }

    this.contract = {
      namespace,
      serviceName: name,
      port,
      portName: EVENTS_PORT_NAME,
      podLabels,
      serviceLabels: labels,
      metricsPath: EVENTS_METRICS_PATH,
    };
  }
}
