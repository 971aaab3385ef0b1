/**
 * OAuth2 Proxy in front of the tracking server: nothing reaches MLflow without an identity from the
 * organisation's OpenID Connect provider. People sign in with their browser (authorization code flow
 * with PKCE); pipelines present an OIDC token as `Authorization: Bearer` (`MLFLOW_TRACKING_TOKEN`).
 *
 * Creates, in the tracking server's namespace:
 * - a generated cookie secret (32 random bytes, kept only in Terraform state and a Kubernetes Secret);
 * - when the client secret lives in AWS Secrets Manager, a Kubernetes Secret filled from it;
 * - a ServiceAccount without an API token, a Deployment running {@link oauth2ProxyCommand}, a Service,
 *   a PodDisruptionBudget, a HorizontalPodAutoscaler (when the replica range allows scaling);
 * - the proxy's NetworkPolicy: its port from the VPC (the load balancer), its metrics port only from
 *   the Prometheus pods of the monitoring namespace, egress only to DNS, the tracking server and the
 *   issuers.
 *
 * The tracking server's own NetworkPolicy (admit only the proxy, Prometheus and its jobs) is decided by
 * the tracking server construct, from {@link authProxyPodLabels}.
 */
import { PropError } from "../core/prop-error";
import { Fn, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { Bytes } from "@cdktf/provider-random/lib/bytes";
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { AuthProxyContract, TrackingServerContract } from "../core/contracts";
import { DNS_LABEL } from "../core/names";
import { defaultDeregistrationDelaySeconds, drainTimings } from "../core/drain";
import {
  AUTH_PROXY_METRICS_PORT,
  AUTH_PROXY_METRICS_PORT_NAME,
  AUTH_PROXY_NAME,
  AUTH_PROXY_PING_PATH,
  AUTH_PROXY_PORT,
  AUTH_PROXY_PORT_NAME,
  AUTH_PROXY_READY_PATH,
  AUTH_PROXY_UID,
  COOKIE_SECRET_KEY,
  COOKIE_SECRET_NAME,
  MANAGED_CLIENT_SECRET_KEY,
  MANAGED_CLIENT_SECRET_NAME,
  type ClientSecretSource,
  type OAuth2ProxySettings,
  type WorkloadIdentities,
  authProxyPodLabels,
  authProxySecretRefs,
  oauth2ProxyCommand,
} from "./oauth2-proxy-command";
import {
  PROMETHEUS_OPERATOR_POD_LABELS,
  containerResources,
  httpGetProbe,
  labelSelectorProblem,
  prometheusPeer,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  toK8sEnv,
  topologySpread,
} from "../core/pod-spec";

/** Resources of the proxy's container, as Kubernetes quantities. */
export interface AuthProxyResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

/** Defaults of {@link AuthProxyProps}. */
export const AUTH_PROXY_DEFAULTS = {
  proxyVersion: "7.15.6",
  scopes: ["openid", "email", "profile", "groups"],
  groupsClaim: "groups",
  cookieExpireHours: 12,
  cookieRefreshMinutes: 60,
  loadBalancerIdleTimeoutSeconds: 60,
  partOf: "mlflow",
  replicas: { min: 2, max: 2 },
  resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
  monitoringNamespace: "monitoring",
} as const;

/**
 * Props of {@link AuthProxy}. Nothing here is the environment's configuration: the mapping from
 * configuration lives in one place, `constructs/auth-proxy/from-config.ts`.
 */
export interface AuthProxyProps {
  /** OpenID Connect issuer URL (https://; the configuration allows plain http only in a local test profile). */
  readonly issuerUrl: string;

  /** OIDC client id registered for this installation (the audience bearer tokens must carry). */
  readonly clientId: string;

  /** Where the OIDC client secret lives: AWS Secrets Manager (copied into a Secret) or an existing Kubernetes Secret. */
  readonly clientSecret: ClientSecretSource;

  /** Public hostname: the redirect URL is `https://<publicHostname>/oauth2/callback`. */
  readonly publicHostname: string;

  /**
   * E-mail domains allowed to sign in. Deny by default: this or `allowedGroups` must be non-empty.
   * With both, a user needs both.
   * @default []
   */
  readonly allowedEmailDomains?: readonly string[];

  /**
   * Groups (from `groupsClaim`) allowed to sign in.
   * @default []
   */
  readonly allowedGroups?: readonly string[];

  /**
   * Open the e-mail domain check ("*") and let `allowedGroups` decide alone: a named choice, never the
   * result of an empty list or a "*" value.
   * @default false
   */
  readonly allowAnyEmailDomain?: boolean;

  /**
   * In-cluster workloads admitted by their projected service-account tokens: the cluster's issuer as an
   * extra JWT issuer, and only the listed subjects (the ConfigMap WORKLOAD_IDENTITIES_CONFIGMAP in the
   * proxy's namespace must hold them: see workloadIdentitiesFileContent).
   * @default none
   */
  readonly workloadIdentities?: WorkloadIdentities;

  /**
   * Extra issuer/audience pairs whose bearer tokens pipelines may present.
   * @default []
   */
  readonly extraJwtIssuers?: readonly { readonly issuer: string; readonly audience: string }[];

  /**
   * oauth2-proxy version (exact 7.x): the image `quay.io/oauth2-proxy/oauth2-proxy:v<version>-alpine`.
   * @default "7.15.6"
   */
  readonly proxyVersion?: string;

  /**
   * OIDC scopes requested at sign-in.
   * @default ["openid", "email", "profile", "groups"]
   */
  readonly scopes?: readonly string[];

  /**
   * Claim holding the user's groups.
   * @default "groups"
   */
  readonly groupsClaim?: string;

  /**
   * Session cookie lifetime in hours.
   * @default 12
   */
  readonly cookieExpireHours?: number;

  /**
   * Session refresh interval in minutes (shorter than the lifetime).
   * @default 60
   */
  readonly cookieRefreshMinutes?: number;

  /**
   * CIDR blocks of the load balancer (the VPC's): the only sources admitted to the proxy's port, and the
   * only ones trusted to set X-Forwarded-* headers. Must not be empty.
   */
  readonly loadBalancerCidrs: readonly string[];

  /**
   * The load balancer's idle timeout in seconds: the upstream timeout and the pod's shutdown drain
   * derive from it.
   * @default 60
   */
  readonly loadBalancerIdleTimeoutSeconds?: number;

  /**
   * The target group's deregistration delay at the load balancer in front (seconds, 0-3600): how long it
   * lets requests in flight to a stopping proxy pod finish. The pod keeps serving longer (`drainSeconds`).
   * @default the idle timeout, at most 3600 (what MlflowIngress sets when not told otherwise)
   */
  readonly loadBalancerDeregistrationDelaySeconds?: number;

  /**
   * How long a stopping proxy pod keeps serving before it gets SIGTERM (a preStop pause): longer than
   * the deregistration delay, for the load balancer to stop sending it requests. oauth2-proxy stops
   * accepting within milliseconds of SIGTERM, so without it a rollout or a scale-in answers 502s. The
   * grace period is this plus 30 s. The image is the official `-alpine` variant, which has `sleep` (the
   * default distroless one has no program to pause with).
   * @default loadBalancerDeregistrationDelaySeconds + 15
   */
  readonly drainSeconds?: number;

  /**
   * The `app.kubernetes.io/part-of` label (part of the pod selector).
   * @default "mlflow"
   */
  readonly partOf?: string;

  /**
   * Replica range: autoscaling on CPU between `min` and `max` when `max` > `min`.
   * @default { min: 2, max: 2 }
   */
  readonly replicas?: { readonly min: number; readonly max: number };

  /**
   * Requests and limits of the container.
   * @default requests { cpu: "50m", memory: "64Mi" }, limits { memory: "256Mi" }
   */
  readonly resources?: AuthProxyResources;

  /** The tracking server the proxy forwards authenticated requests to. The proxy runs in its namespace. */
  readonly trackingServer: TrackingServerContract;

  /**
   * The namespace of the Prometheus that scrapes the proxy's metrics port. Only its pods matching
   * `prometheusPodLabels` are admitted, not the whole namespace.
   * @default "monitoring"
   */
  readonly monitoringNamespace?: string;

  /**
   * Labels of the Prometheus pods (in `monitoringNamespace`) that may scrape the metrics port. Must not
   * be empty.
   * @default { "app.kubernetes.io/name": "prometheus" } (what the Prometheus Operator puts on its pods)
   */
  readonly prometheusPodLabels?: Record<string, string>;

  /**
   * Scale between `replicas.min` and `replicas.max` on CPU with a HorizontalPodAutoscaler
   * (needs metrics-server). Without it the Deployment runs `replicas.min` replicas.
   * @default true when `replicas.max` > `replicas.min`
   */
  readonly autoscaling?: boolean;

  /**
   * Average CPU utilisation (percent of the request) the autoscaler aims for.
   * @default 70
   */
  readonly targetCpuUtilizationPercent?: number;

  /**
   * Create the proxy's NetworkPolicy (enforced only when the VPC CNI's network policy support is on).
   * @default true
   */
  readonly networkPolicy?: boolean;

  /**
   * Also restrict the proxy's egress: DNS, the tracking server's pods, and the issuers' ports
   * (any address: an identity provider's addresses are not known in advance).
   * @default true
   */
  readonly restrictEgress?: boolean;

  /**
   * Resources that must exist before the proxy's (typically the namespace).
   * @default none
   */
  readonly dependsOn?: ITerraformDependable[];
}

/** The port an issuer's HTTPS endpoints (discovery, JWKS, token) listen on. */
export function issuerPort(issuerUrl: string): number {
  const url = new URL(issuerUrl);
  if (url.port) return Number(url.port);
  return url.protocol === "http:" ? 80 : 443;
}

export class AuthProxy extends Construct {
  /** What the ingress and monitoring need. */
  readonly contract: AuthProxyContract;
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
  /** The proxy's NetworkPolicy, when enabled. */
  readonly networkPolicy?: NetworkPolicyV1;
  /** The autoscaler, when enabled. */
  readonly autoscaler?: HorizontalPodAutoscalerV2;

  constructor(scope: Construct, id: string, props: AuthProxyProps) {
    super(scope, id);
    const { trackingServer } = props;
    const d = AUTH_PROXY_DEFAULTS;
    const settings: OAuth2ProxySettings = {
      proxyVersion: props.proxyVersion ?? d.proxyVersion,
      issuerUrl: props.issuerUrl,
      clientId: props.clientId,
      scopes: props.scopes ?? d.scopes,
      groupsClaim: props.groupsClaim ?? d.groupsClaim,
      allowedEmailDomains: props.allowedEmailDomains ?? [],
      allowedGroups: props.allowedGroups ?? [],
      allowAnyEmailDomain: props.allowAnyEmailDomain ?? false,
      workloadIdentities: props.workloadIdentities,
      extraJwtIssuers: props.extraJwtIssuers ?? [],
      cookieExpireHours: props.cookieExpireHours ?? d.cookieExpireHours,
      cookieRefreshMinutes: props.cookieRefreshMinutes ?? d.cookieRefreshMinutes,
      publicHostname: props.publicHostname,
      loadBalancerIdleTimeoutSeconds: props.loadBalancerIdleTimeoutSeconds ?? d.loadBalancerIdleTimeoutSeconds,
      trustedProxyCidrs: props.loadBalancerCidrs,
    };
    const auth = {
      ...settings,
      clientSecret: props.clientSecret,
      replicas: props.replicas ?? d.replicas,
      resources: props.resources ?? d.resources,
    };
    const partOf = props.partOf ?? d.partOf;
    const namespace = trackingServer.namespace;
    const monitoringNamespace = props.monitoringNamespace ?? d.monitoringNamespace;
    const prometheusPodLabels = props.prometheusPodLabels ?? PROMETHEUS_OPERATOR_POD_LABELS;
    const autoscaling = props.autoscaling ?? auth.replicas.max > auth.replicas.min;
    const targetCpu = props.targetCpuUtilizationPercent ?? 70;
    const drain = drainTimings(
      props.loadBalancerDeregistrationDelaySeconds ?? defaultDeregistrationDelaySeconds(settings.loadBalancerIdleTimeoutSeconds),
      props.drainSeconds,
    );

    // ── Validation (synth time, before any cloud call) ──
    if (!DNS_LABEL.test(namespace)) {
      throw new PropError(this, "trackingServer.namespace", namespace, "a Kubernetes namespace name (lower-case letters, digits, '-')");
    }
    if (!Number.isInteger(trackingServer.port) || trackingServer.port < 1 || trackingServer.port > 65535) {
      throw new PropError(this, "trackingServer.port", trackingServer.port, "a port number from 1 to 65535");
    }
    if (Object.keys(trackingServer.podLabels).length === 0) {
      throw new PropError(
        this,
        "trackingServer.podLabels",
        trackingServer.podLabels,
        "the labels that select the tracking server's pods (the NetworkPolicy needs them)",
      );
    }
    if (!DNS_LABEL.test(monitoringNamespace)) {
      throw new PropError(this, "monitoringNamespace", monitoringNamespace, "a Kubernetes namespace name");
    }
    const prometheusLabelsProblem = labelSelectorProblem(prometheusPodLabels);
    if (prometheusLabelsProblem) {
      throw new PropError(
        this,
        "prometheusPodLabels",
        prometheusPodLabels,
        `the labels of the Prometheus pods, such as {"app.kubernetes.io/name": "prometheus"}; it ${prometheusLabelsProblem}`,
      );
    }
    if (!Number.isInteger(targetCpu) || targetCpu < 10 || targetCpu > 100) {
      throw new PropError(this, "targetCpuUtilizationPercent", targetCpu, "a whole number from 10 to 100");
    }
    for (const k of ["min", "max"] as const) {
      if (!Number.isInteger(auth.replicas[k]) || auth.replicas[k] < 1) {
        throw new PropError(this, `replicas.${k}`, auth.replicas[k], "a whole number of at least 1");
      }
    }
    if (auth.replicas.min > auth.replicas.max) {
      throw new PropError(this, "replicas.min", auth.replicas.min, `at most replicas.max (${auth.replicas.max}); raise max or lower min`);
    }
    if (autoscaling && auth.replicas.max <= auth.replicas.min) {
      throw new PropError(
        this,
        "replicas.max",
        auth.replicas.max,
        `above replicas.min (${auth.replicas.min}) with autoscaling; raise max or set autoscaling: false`,
      );
    }
    if (auth.clientSecret.source === "kubernetes" && auth.clientSecret.secretName === COOKIE_SECRET_NAME) {
      throw new PropError(
        this,
        "clientSecret.secretName",
        auth.clientSecret.secretName,
        `a name other than "${COOKIE_SECRET_NAME}", the Secret this construct creates for the cookie secret`,
      );
    }
    if ("problem" in drain) {
      const { prop, value, expected } = drain.problem;
      throw new PropError(this, prop === "drainSeconds" ? prop : "loadBalancerDeregistrationDelaySeconds", value, expected);
    }
    if (props.loadBalancerCidrs.length === 0) {
      throw new PropError(
        this,
        "loadBalancerCidrs",
        props.loadBalancerCidrs,
        "the CIDR blocks the load balancer connects from (the VPC's), or nothing could reach the proxy",
      );
    }
    if (!DNS_LABEL.test(partOf)) {
      throw new PropError(this, "partOf", partOf, "a DNS label (lower-case letters, digits, '-')");
    }
    const podLabels = authProxyPodLabels(partOf);
    if (Object.entries(podLabels).every(([k, v]) => trackingServer.podLabels[k] === v)) {
      throw new PropError(
        this,
        "trackingServer.podLabels",
        trackingServer.podLabels,
        "labels that do not also select the proxy's pods: give the tracking server distinct labels",
      );
    }

    const dependsOn = props.dependsOn;
    const labels = { ...podLabels, "app.kubernetes.io/managed-by": "cdktf" };
    const metadata = (name: string) => ({ name, namespace, labels });
    const secrets = authProxySecretRefs(auth.clientSecret);

    // ── Secrets ──
    // 32 random bytes, written in base64url: oauth2-proxy decodes that alphabet (only) into a 32-byte
    // AES-256 key. Standard base64's '+' and '/' would make it fall back to the 44-character string,
    // which is not a valid key length.
    const cookieSeed = new Bytes(this, "cookie_seed", { length: 32 });
    new SecretV1(this, "cookie_secret", {
      metadata: metadata(COOKIE_SECRET_NAME),
      type: "Opaque",
      data: { [COOKIE_SECRET_KEY]: Fn.replace(Fn.replace(cookieSeed.base64, "/[+]/", "-"), "/[/]/", "_") },
      dependsOn,
    });
    const secretDependencies: ITerraformDependable[] = [];
    if (auth.clientSecret.source === "secrets-manager") {
      // The value passes through Terraform state (encrypted at rest): use `source: kubernetes` with an
      // operator such as External Secrets to keep it out of state entirely.
      const version = new DataAwsSecretsmanagerSecretVersion(this, "client_secret_source", { secretId: auth.clientSecret.secretArn });
      secretDependencies.push(
        new SecretV1(this, "client_secret", {
          metadata: metadata(MANAGED_CLIENT_SECRET_NAME),
          type: "Opaque",
          data: { [MANAGED_CLIENT_SECRET_KEY]: version.secretString },
          dependsOn,
        }),
      );
    }

    // ── Workload ──
    const serviceAccount = new ServiceAccountV1(this, "service_account", {
      metadata: metadata(AUTH_PROXY_NAME),
      // The proxy never calls the Kubernetes API.
      automountServiceAccountToken: false,
      dependsOn,
    });

    const command = oauth2ProxyCommand({ ...settings, upstream: trackingServer, secrets });
    const containerPorts = Object.entries(command.ports ?? {}).map(([name, containerPort]) => ({ name, containerPort, protocol: "TCP" }));
    const probe = (path: string, periodSeconds: number, failureThreshold: number) =>
      httpGetProbe({ path, port: AUTH_PROXY_PORT_NAME, scheme: "HTTP", periodSeconds, timeoutSeconds: 2, failureThreshold });
    const spread = (topologyKey: string) => topologySpread(topologyKey, "ScheduleAnyway", podLabels);

    this.deployment = new DeploymentV1(this, "deployment", {
      metadata: metadata(AUTH_PROXY_NAME),
      spec: {
        replicas: String(auth.replicas.min),
        revisionHistoryLimit: 5,
        selector: { matchLabels: podLabels },
        // Never fewer ready pods than wanted during a rollout.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "0", maxSurge: "1" } },
        template: {
          metadata: { labels: { ...podLabels, "app.kubernetes.io/version": auth.proxyVersion } },
          spec: {
            serviceAccountName: serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            // Keep serving while the load balancer deregisters the pod (preStop below), then let
            // oauth2-proxy finish what it accepted after SIGTERM. See constructs/core/drain.ts.
            terminationGracePeriodSeconds: drain.terminationGracePeriodSeconds,
            securityContext: restrictedPodSecurityContext(String(AUTH_PROXY_UID)),
            topologySpreadConstraint: [spread("topology.kubernetes.io/zone"), spread("kubernetes.io/hostname")],
            container: [
              {
                name: AUTH_PROXY_NAME,
                image: command.image,
                imagePullPolicy: "IfNotPresent",
                command: [...command.command],
                args: [...command.args],
                env: command.env.map(toK8sEnv),
                port: containerPorts,
                livenessProbe: probe(AUTH_PROXY_PING_PATH, 10, 3),
                readinessProbe: probe(AUTH_PROXY_READY_PATH, 5, 2),
                // SIGTERM only after the drain: the load balancer still sends requests for a while.
                lifecycle: { preStop: [{ exec: { command: ["sleep", String(drain.drainSeconds)] } }] },
                resources: containerResources(auth.resources),
                securityContext: restrictedContainerSecurityContext(String(AUTH_PROXY_UID)),
                // Files the command reads (e.g. the workload identities' subjects).
                volumeMount: (command.files ?? []).map((f, i) => ({
                  name: `file-${i}`,
                  mountPath: f.path,
                  subPath: "file",
                  readOnly: true,
                })),
              },
            ],
            volume: (command.files ?? []).map((f, i) =>
              f.secretKeyRef
                ? { name: `file-${i}`, secret: { secretName: f.secretKeyRef.name, items: [{ key: f.secretKeyRef.key, path: "file" }] } }
                : {
                    name: `file-${i}`,
                    configMap: { name: f.configMapKeyRef!.name, items: [{ key: f.configMapKeyRef!.key, path: "file" }] },
                  },
            ),
          },
        },
      },
      // The autoscaler owns the replica count once it exists.
      lifecycle: autoscaling ? { ignoreChanges: ["spec[0].replicas"] } : undefined,
      dependsOn: [...(dependsOn ?? []), ...secretDependencies],
    });

    this.service = new ServiceV1(this, "service", {
      metadata: metadata(AUTH_PROXY_NAME),
      spec: {
        type: "ClusterIP",
        selector: podLabels,
        port: [
          { name: AUTH_PROXY_PORT_NAME, port: AUTH_PROXY_PORT, targetPort: AUTH_PROXY_PORT_NAME, protocol: "TCP" },
          { name: AUTH_PROXY_METRICS_PORT_NAME, port: AUTH_PROXY_METRICS_PORT, targetPort: AUTH_PROXY_METRICS_PORT_NAME, protocol: "TCP" },
        ],
      },
      dependsOn,
    });

    // One voluntary disruption at a time: with 2+ replicas one keeps serving; a single replica
    // (dev) can still be drained.
    new PodDisruptionBudgetV1(this, "pdb", {
      metadata: metadata(AUTH_PROXY_NAME),
      spec: { maxUnavailable: "1", selector: { matchLabels: podLabels } },
      dependsOn,
    });

    if (autoscaling) {
      this.autoscaler = new HorizontalPodAutoscalerV2(this, "hpa", {
        metadata: metadata(AUTH_PROXY_NAME),
        spec: {
          minReplicas: auth.replicas.min,
          maxReplicas: auth.replicas.max,
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: AUTH_PROXY_NAME },
          metric: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: targetCpu } } }],
        },
        dependsOn: [this.deployment],
      });
    }

    // ── NetworkPolicy ──
    if (props.networkPolicy ?? true) {
      const restrictEgress = props.restrictEgress ?? true;
      const issuerPorts = [...new Set([auth.issuerUrl, ...auth.extraJwtIssuers.map((e) => e.issuer)].map(issuerPort))].sort(
        (a, b) => a - b,
      );
      const upstreamPorts = [trackingServer.port];
      this.networkPolicy = new NetworkPolicyV1(this, "network_policy", {
        metadata: metadata(AUTH_PROXY_NAME),
        spec: {
          podSelector: { matchLabels: podLabels },
          policyTypes: restrictEgress ? ["Ingress", "Egress"] : ["Ingress"],
          ingress: [
            {
              // The load balancer (and kubelet probes) come from addresses in the VPC.
              from: props.loadBalancerCidrs.map((cidr) => ({ ipBlock: { cidr } })),
              ports: [{ port: String(AUTH_PROXY_PORT), protocol: "TCP" }],
            },
            {
              // Prometheus only, not the whole monitoring namespace.
              from: [prometheusPeer(monitoringNamespace, prometheusPodLabels)],
              ports: [{ port: String(AUTH_PROXY_METRICS_PORT), protocol: "TCP" }],
            },
          ],
          egress: restrictEgress
            ? [
                {
                  ports: [
                    { port: "53", protocol: "UDP" },
                    { port: "53", protocol: "TCP" },
                  ],
                },
                {
                  to: [
                    {
                      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
                      podSelector: { matchLabels: trackingServer.podLabels },
                    },
                  ],
                  ports: upstreamPorts.map((port) => ({ port: String(port), protocol: "TCP" })),
                },
                { ports: issuerPorts.map((port) => ({ port: String(port), protocol: "TCP" })) },
              ]
            : undefined,
        },
        dependsOn,
      });
    }

    this.contract = {
      namespace,
      serviceName: AUTH_PROXY_NAME,
      port: AUTH_PROXY_PORT,
      portName: AUTH_PROXY_PORT_NAME,
      podLabels,
      serviceLabels: labels,
      metricsPort: AUTH_PROXY_METRICS_PORT,
      metricsPortName: AUTH_PROXY_METRICS_PORT_NAME,
    };
  }
}
