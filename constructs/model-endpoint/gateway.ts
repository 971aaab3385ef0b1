/**
 * The `ingress` exposure of a model endpoint (serving.exposure: "ingress"): an OAuth2 Proxy Deployment in
 * front of the model's Service, authenticating bearer tokens of the platform's issuer
 * (constructs/model-endpoint/gateway-command.ts), behind an ALB Ingress for `<model>.<serving.ingress.domain>`.
 * For clusters without API Gateway. The model's NetworkPolicy admits these pods (gatewayPodLabels).
 *
 * Creates: two generated Secrets (cookie and client secret oauth2-proxy insists on, never used for a
 * sign-in), a ServiceAccount without token, the Deployment (restricted), a ClusterIP Service, a
 * PodDisruptionBudget, a NetworkPolicy (in: the VPC on the proxy port, Prometheus on metrics; out: DNS,
 * the model's pods, the issuer's port) and the Ingress (HTTPS only, modern TLS, `/ping` health check,
 * shared ALB per stack through an IngressGroup); or, on a cluster whose entry is a Gateway (GKE, AKS, or EKS with
 * a Gateway API controller), an HTTPRoute for the model's host name on that Gateway (`gatewayRef`), which
 * terminates TLS with its own listener's certificate.
 */
import { PropError } from "../core/prop-error";
import { Fn, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { Bytes } from "@cdktf/provider-random/lib/bytes";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { issuerPort } from "../auth-proxy";
import { MODERN_ALB_TLS_POLICY, certificateCovers } from "../core/aws-limits";
import type { ServiceContract } from "../core/contracts";
import { modelGatewayCommand } from "./gateway-command";
import {
  AUTH_PROXY_METRICS_PORT,
  AUTH_PROXY_PING_PATH,
  AUTH_PROXY_PORT,
  AUTH_PROXY_PORT_NAME,
  AUTH_PROXY_READY_PATH,
  AUTH_PROXY_UID,
} from "../auth-proxy/oauth2-proxy-command";
import { MODEL_SERVER_PORT } from "./server-command";
import {
  containerResources,
  httpGetProbe,
  prometheusPeer,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  toK8sEnv,
} from "../core/pod-spec";
import { labelValue, podSelectorLabels } from "../core/labels";

/** Labels of one model's gateway pods (what the model's NetworkPolicy admits). */
export function modelGatewayPodLabels(instance: string): Record<string, string> {
  return podSelectorLabels("model-gateway", labelValue(instance), "model-gateway");
}

export interface ModelGatewayProps {
  /** Base name of the objects, e.g. `mlflow-dev-iris-classifier-gateway`. Required. */
  readonly name: string;
  /** The model endpoint's namespace and Service. Required. */
  readonly model: ServiceContract;
  /** Pod labels of the gateway (use {@link modelGatewayPodLabels}). Required. */
  readonly podLabels: Record<string, string>;
  /** oauth2-proxy image (exact version). Required. */
  readonly image: string;
  /** The platform's OIDC issuer and client id (the audience of accepted tokens). Required. */
  readonly issuerUrl: string;
  readonly clientId: string;
  /** Other accepted issuer/audience pairs. @default [] */
  readonly extraJwtIssuers?: readonly { readonly issuer: string; readonly audience: string }[];
  /** Who may call (deny by default: at least one of the two). Required. */
  readonly allowedEmailDomains: readonly string[];
  readonly allowedGroups: readonly string[];
  /** Any e-mail domain passes (the groups decide): the named choice `auth.allowAnyEmailDomain`. @default false */
  readonly allowAnyEmailDomain?: boolean;
  /** @default "groups" */
  readonly groupsClaim?: string;
  /** Seconds the gateway waits for the model. @default 35 */
  readonly upstreamTimeoutSeconds?: number;
  /** The VPC's CIDRs: where the load balancer (or the Gateway's proxies) come from. Required. */
  readonly vpcCidrs: readonly string[];
  /** Public host name of this model, e.g. `iris-classifier.models.example.com`. Required. */
  readonly hostname: string;
  /**
   * The Gateway the model's HTTPRoute attaches to, instead of an ALB Ingress. Its listener terminates TLS and must
   * admit routes from the model's namespace.
   * @default none: an ALB Ingress (certificateArn and ingressGroup required)
   */
  readonly gatewayRef?: { readonly namespace: string; readonly name: string };
  /** With gatewayRef: the domains the Gateway's listener certificate covers; one must cover `hostname`. Required then. */
  readonly certificateDomains?: readonly string[];
  /** ALB: the ACM certificate covering `hostname`. Required without gatewayRef. */
  readonly certificateArn?: string;
  /** ALB: `internal` or `internet-facing` load balancer. @default "internal" */
  readonly scheme?: "internal" | "internet-facing";
  /** ALB TLS policy (TLS 1.2+ only). @default "ELBSecurityPolicy-TLS13-1-2-2021-06" */
  readonly sslPolicy?: string;
  /** ALB: the IngressGroup sharing one ALB between the models of a stack. Required without gatewayRef. */
  readonly ingressGroup?: string;
  /** Replicas. @default 2 */
  readonly replicas?: number;
  /** Prometheus that scrapes the metrics port. @default monitoring / { "app.kubernetes.io/name": "prometheus" } */
  readonly monitoringNamespace?: string;
  readonly prometheusPodLabels?: Record<string, string>;
  readonly dependsOn?: ITerraformDependable[];
}

export class ModelGateway extends Construct {
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
  /** The ALB Ingress (without gatewayRef). */
  readonly ingress?: IngressV1;
  /** The HTTPRoute (with gatewayRef). */
  readonly httpRoute?: Manifest;

  constructor(scope: Construct, id: string, props: ModelGatewayProps) {
    super(scope, id);
    const { name, model } = props;
    const namespace = model.namespace;
    if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(props.hostname))
      throw new PropError(this, "hostname", props.hostname, `a DNS name such as "iris-classifier.models.example.com"`);
    const gw = props.gatewayRef;
    const sslPolicy = props.sslPolicy ?? "ELBSecurityPolicy-TLS13-1-2-2021-06";
    if (gw) {
      // What configures an ALB means nothing on a Gateway: refused rather than silently dropped.
      for (const prop of ["certificateArn", "scheme", "sslPolicy", "ingressGroup"] as const)
        if (props[prop] !== undefined)
          throw new PropError(this, prop, props[prop], "nothing with gatewayRef (it configures the ALB; the Gateway's listener decides)");
      if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(gw.namespace ?? "") || !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(gw.name ?? ""))
        throw new PropError(this, "gatewayRef", gw, "the Gateway's namespace and name");
      const domains = props.certificateDomains ?? [];
      if (!domains.some((d) => certificateCovers(d, props.hostname)))
        throw new PropError(
          this,
          "hostname",
          props.hostname,
          `a name the Gateway's certificate covers (certificateDomains: ${domains.join(", ") || "none given"})`,
        );
    } else {
      if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/.test(props.certificateArn ?? ""))
        throw new PropError(this, "certificateArn", props.certificateArn, `an ACM certificate ARN`);
      if (!MODERN_ALB_TLS_POLICY.test(sslPolicy))
        throw new PropError(this, "sslPolicy", sslPolicy, 'a policy without TLS below 1.2, e.g. "ELBSecurityPolicy-TLS13-1-2-2021-06"');
      if (!props.ingressGroup) throw new PropError(this, "ingressGroup", props.ingressGroup, "the IngressGroup of the stack's models");
    }
    if (props.vpcCidrs.length === 0)
      throw new PropError(this, "vpcCidrs", props.vpcCidrs, "the VPC's CIDRs (where the load balancer sends from)");
    const replicas = props.replicas ?? 2;
    const labels = { ...props.podLabels, "app.kubernetes.io/managed-by": "cdktf", "mlflow-platform/model": model.serviceName };
    const metadata = (n: string) => ({ name: n, namespace, labels });
    const dependsOn = props.dependsOn ?? [];

    // oauth2-proxy insists on a client secret and a cookie secret; this gateway never redeems an
    // authorization code nor sets a cookie, so random values it alone knows are enough.
    const cookieSeed = new Bytes(this, "cookie_seed", { length: 32 });
    const clientSeed = new Bytes(this, "client_seed", { length: 32 });
    const secretName = `${name}-secrets`.slice(0, 63);
    const secret = new SecretV1(this, "secrets", {
      metadata: metadata(secretName),
      type: "Opaque",
      data: {
        "cookie-secret": Fn.replace(Fn.replace(cookieSeed.base64, "/[+]/", "-"), "/[/]/", "_"),
        "client-secret": clientSeed.hex,
      },
      dependsOn,
    });
    const upstreamTimeoutSeconds = props.upstreamTimeoutSeconds ?? 35;
    const cmd = modelGatewayCommand({
      image: props.image,
      issuerUrl: props.issuerUrl,
      clientId: props.clientId,
      extraJwtIssuers: props.extraJwtIssuers ?? [],
      allowedEmailDomains: props.allowedEmailDomains,
      allowedGroups: props.allowedGroups,
      allowAnyEmailDomain: props.allowAnyEmailDomain,
      groupsClaim: props.groupsClaim ?? "groups",
      upstreamUrl: `http://${model.serviceName}.${namespace}.svc:${model.port}/`,
      upstreamTimeoutSeconds,
      trustedProxyCidrs: props.vpcCidrs,
      cookieSecret: { name: secretName, key: "cookie-secret" },
      clientSecret: { name: secretName, key: "client-secret" },
    });
    const sa = new ServiceAccountV1(this, "service_account", { metadata: metadata(name), automountServiceAccountToken: false, dependsOn });
    const uid = String(AUTH_PROXY_UID);
    const probe = (p: string, periodSeconds: number, failureThreshold: number) =>
      httpGetProbe({ path: p, port: AUTH_PROXY_PORT_NAME, periodSeconds, timeoutSeconds: 2, failureThreshold });
    this.deployment = new DeploymentV1(this, "deployment", {
      metadata: metadata(name),
      spec: {
        replicas: String(replicas),
        revisionHistoryLimit: 5,
        selector: { matchLabels: props.podLabels },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "1", maxUnavailable: "0" } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: sa.metadata.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: upstreamTimeoutSeconds + 5,
            securityContext: restrictedPodSecurityContext(uid),
            container: [
              {
                name: "model-gateway",
                image: cmd.image,
                imagePullPolicy: "IfNotPresent",
                command: [...cmd.command],
                args: [...cmd.args],
                env: cmd.env.map(toK8sEnv),
                port: Object.entries(cmd.ports ?? {}).map(([n, containerPort]) => ({ name: n, containerPort, protocol: "TCP" })),
                livenessProbe: probe(AUTH_PROXY_PING_PATH, 10, 3),
                readinessProbe: probe(AUTH_PROXY_READY_PATH, 5, 2),
                resources: containerResources({ requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "256Mi" } }),
                securityContext: restrictedContainerSecurityContext(uid),
              },
            ],
          },
        },
      },
      dependsOn: [secret, ...dependsOn],
    });
    this.service = new ServiceV1(this, "service", {
      metadata: metadata(name),
      spec: {
        type: "ClusterIP",
        selector: props.podLabels,
        port: [{ name: AUTH_PROXY_PORT_NAME, port: 80, targetPort: AUTH_PROXY_PORT_NAME, protocol: "TCP" }],
      },
      dependsOn,
    });
    if (replicas >= 2) {
      new PodDisruptionBudgetV1(this, "pdb", {
        metadata: metadata(name),
        spec: { maxUnavailable: "1", selector: { matchLabels: props.podLabels } },
        dependsOn,
      });
    }
    new NetworkPolicyV1(this, "network_policy", {
      metadata: metadata(name),
      spec: {
        podSelector: { matchLabels: props.podLabels },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          { from: props.vpcCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: String(AUTH_PROXY_PORT), protocol: "TCP" }] },
          {
            from: [
              prometheusPeer(
                props.monitoringNamespace ?? "monitoring",
                props.prometheusPodLabels ?? { "app.kubernetes.io/name": "prometheus" },
              ),
            ],
            ports: [{ port: String(AUTH_PROXY_METRICS_PORT), protocol: "TCP" }],
          },
        ],
        egress: [
          {
            ports: [
              { port: "53", protocol: "UDP" },
              { port: "53", protocol: "TCP" },
            ],
          },
          { to: [{ podSelector: { matchLabels: model.podLabels } }], ports: [{ port: String(MODEL_SERVER_PORT), protocol: "TCP" }] },
          // The issuer's discovery and keys (its addresses are not known in advance).
          {
            ports: [...new Set([props.issuerUrl, ...(props.extraJwtIssuers ?? []).map((e) => e.issuer)].map(issuerPort))].map((p) => ({
              port: String(p),
              protocol: "TCP",
            })),
          },
        ],
      },
      dependsOn,
    });
    if (gw) {
      this.httpRoute = new Manifest(this, "http_route", {
        manifest: {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "HTTPRoute",
          metadata: { name, namespace, labels },
          spec: {
            parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: gw.namespace, name: gw.name }],
            hostnames: [props.hostname],
            rules: [
              {
                matches: [{ path: { type: "PathPrefix", value: "/" } }],
                backendRefs: [{ group: "", kind: "Service", name, port: 80 }],
                // A prediction is bounded: past the gateway's own upstream timeout (and a margin) nobody waits.
                timeouts: { request: `${upstreamTimeoutSeconds + 5}s` },
              },
            ],
          },
        },
        dependsOn: [this.service, ...dependsOn],
      });
      return;
    }
    this.ingress = new IngressV1(this, "ingress", {
      metadata: {
        name,
        namespace,
        labels,
        annotations: {
          "alb.ingress.kubernetes.io/group.name": props.ingressGroup!,
          "alb.ingress.kubernetes.io/scheme": props.scheme ?? "internal",
          "alb.ingress.kubernetes.io/target-type": "ip",
          "alb.ingress.kubernetes.io/listen-ports": JSON.stringify([{ HTTPS: 443 }]),
          "alb.ingress.kubernetes.io/certificate-arn": props.certificateArn!,
          "alb.ingress.kubernetes.io/ssl-policy": sslPolicy,
          "alb.ingress.kubernetes.io/healthcheck-path": AUTH_PROXY_PING_PATH,
          "alb.ingress.kubernetes.io/success-codes": "200",
          "alb.ingress.kubernetes.io/load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true",
        },
      },
      spec: {
        ingressClassName: "alb",
        rule: [
          {
            host: props.hostname,
            http: { path: [{ path: "/", pathType: "Prefix", backend: { service: { name, port: { number: 80 } } } }] },
          },
        ],
      },
      dependsOn: [this.service, ...dependsOn],
    });
  }
}
