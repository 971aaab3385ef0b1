/**
 * The public entry to MLflow: the environment's hostname, routed to the authenticating proxy and
 * never to the tracking server.
 *
 * - `ingress.kind: alb`: a Kubernetes Ingress for the AWS Load Balancer Controller (IngressClass `alb`):
 *   HTTPS only with the configured ACM certificate and TLS policy, HTTP answered with a redirect to HTTPS,
 *   health check on the proxy's `/ping`, idle timeout from `ingress.idleTimeoutSeconds` (the same value
 *   the proxy and MLflow derive their timeouts from), internet-facing or internal, pods as targets.
 * - `ingress.kind: gateway-api`: an HTTPRoute attached to an existing Gateway (`ingress.gatewayRef`),
 *   whose listeners own TLS and the certificate. The Gateway API CRDs and the Gateway must exist before
 *   this stack is planned (kubernetes_manifest reads them at plan time).
 *
 * ingress-nginx is retired: nothing here needs it.
 */
import { PropError } from "../core/prop-error";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { certificateCovers } from "../core/aws-limits";
import type { AuthProxyContract } from "../core/contracts";
import { AUTH_PROXY_PING_PATH } from "../auth-proxy/oauth2-proxy-command";
import { MODERN_ALB_TLS_POLICY } from "../core/aws-limits";
import { albTagsAnnotation } from "../core/aws";
import { ALB_MAX_DEREGISTRATION_DELAY_SECONDS, defaultDeregistrationDelaySeconds } from "../core/drain";

/**
 * Props of {@link MlflowIngress}. Nothing here is the environment's configuration: the mapping from
 * configuration lives in one place, `constructs/ingress/from-config.ts`.
 */
export interface MlflowIngressProps {
  /** The authenticating proxy: the only backend the entry routes to. */
  readonly target: AuthProxyContract;

  /** The public hostname routed to the proxy. */
  readonly hostname: string;

  /**
   * `alb`: an Ingress for the AWS Load Balancer Controller; `gateway-api`: an HTTPRoute on `gatewayRef`.
   * @default "alb"
   */
  readonly kind?: "alb" | "gateway-api";

  /** ALB only: the ACM certificate for `hostname`. Required when `kind` is "alb". */
  readonly certificateArn?: string;

  /** Domains the certificate (or the Gateway's listener) covers; one must cover `hostname`. */
  readonly certificateDomains: readonly string[];

  /**
   * ALB only: `internal` or `internet-facing`.
   * @default "internal"
   */
  readonly scheme?: "internal" | "internet-facing";

  /**
   * ALB only: the TLS policy (TLS 1.2 or newer).
   * @default "ELBSecurityPolicy-TLS13-1-2-2021-06"
   */
  readonly sslPolicy?: string;

  /**
   * ALB only: idle timeout in seconds (60-4000).
   * @default 60
   */
  readonly idleTimeoutSeconds?: number;

  /**
   * ALB only: the target group's deregistration delay in seconds (0-3600): how long requests in flight
   * to a stopping proxy pod may finish. The proxy pods must keep serving longer than this
   * (AuthProxyProps.drainSeconds; constructs/core/drain.ts).
   * @default the idle timeout, at most 3600
   */
  readonly deregistrationDelaySeconds?: number;

  /** Gateway API only: the Gateway the HTTPRoute attaches to. Required when `kind` is "gateway-api". */
  readonly gatewayRef?: { readonly namespace: string; readonly name: string };

  /**
   * Tags the AWS Load Balancer Controller puts on the load balancer, its target groups and security
   * group (the AWS provider's default tags never reach them). No "," anywhere, no "=" in a key.
   * @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;

  /**
   * The `app.kubernetes.io/part-of` label.
   * @default "mlflow"
   */
  readonly partOf?: string;

  /**
   * Name of the Ingress or HTTPRoute.
   * @default partOf (e.g. "mlflow")
   */
  readonly name?: string;

  /**
   * Resources that must exist first (the namespace, the proxy's Service, the load balancer controller).
   * @default none
   */
  readonly dependsOn?: ITerraformDependable[];
}

/** Defaults of {@link MlflowIngressProps}. */
export const INGRESS_DEFAULTS = {
  kind: "alb",
  scheme: "internal",
  sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
  idleTimeoutSeconds: 60,
  partOf: "mlflow",
} as const;

/** The IngressClass the AWS Load Balancer Controller serves. */
export const ALB_INGRESS_CLASS = "alb";
/** ALB TLS policies that allow only TLS 1.2 and 1.3 (defined with AWS's other limits, which config checks too). */
export { MODERN_ALB_TLS_POLICY };

/** The annotations the AWS Load Balancer Controller reads for the MLflow entry. */
export function albAnnotations(props: Omit<MlflowIngressProps, "target">): Record<string, string> {
  const ing = {
    scheme: props.scheme ?? INGRESS_DEFAULTS.scheme,
    certificateArn: props.certificateArn ?? "",
    sslPolicy: props.sslPolicy ?? INGRESS_DEFAULTS.sslPolicy,
    idleTimeoutSeconds: props.idleTimeoutSeconds ?? INGRESS_DEFAULTS.idleTimeoutSeconds,
  };
  const deregistrationDelay = props.deregistrationDelaySeconds ?? defaultDeregistrationDelaySeconds(ing.idleTimeoutSeconds);
  return {
    "alb.ingress.kubernetes.io/scheme": ing.scheme,
    // Pods (the proxy's) are the targets directly: no NodePort, no extra hop.
    "alb.ingress.kubernetes.io/target-type": "ip",
    "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
    "alb.ingress.kubernetes.io/listen-ports": JSON.stringify([{ HTTP: 80 }, { HTTPS: 443 }]),
    // The HTTP listener only redirects to HTTPS; nothing is served over plain HTTP.
    "alb.ingress.kubernetes.io/ssl-redirect": "443",
    "alb.ingress.kubernetes.io/certificate-arn": ing.certificateArn,
    "alb.ingress.kubernetes.io/ssl-policy": ing.sslPolicy,
    "alb.ingress.kubernetes.io/healthcheck-path": AUTH_PROXY_PING_PATH,
    "alb.ingress.kubernetes.io/healthcheck-port": "traffic-port",
    "alb.ingress.kubernetes.io/success-codes": "200",
    "alb.ingress.kubernetes.io/load-balancer-attributes": [
      `idle_timeout.timeout_seconds=${ing.idleTimeoutSeconds}`,
      // Drop requests with malformed header names instead of passing them on.
      "routing.http.drop_invalid_header_fields.enabled=true",
    ].join(","),
    // Let in-flight transfers finish while a target drains (rollouts, scale-in); the proxy pods keep
    // serving longer than this (constructs/core/drain.ts).
    "alb.ingress.kubernetes.io/target-group-attributes": `deregistration_delay.timeout_seconds=${deregistrationDelay}`,
    // The controller creates the ALB, its target group and security group: the AWS provider's default
    // tags never reach them, so the tags go in the annotation.
    ...(props.tags && Object.keys(props.tags).length > 0 ? { "alb.ingress.kubernetes.io/tags": albTagsAnnotation({ ...props.tags }) } : {}),
  };
}

export class MlflowIngress extends Construct {
  /** The ALB Ingress (kind `alb`). */
  readonly ingress?: IngressV1;
  /** The HTTPRoute (kind `gateway-api`). */
  readonly httpRoute?: Manifest;

  constructor(scope: Construct, id: string, props: MlflowIngressProps) {
    super(scope, id);
    const { target } = props;
    const hostname = props.hostname;
    const kind = props.kind ?? INGRESS_DEFAULTS.kind;
    const sslPolicy = props.sslPolicy ?? INGRESS_DEFAULTS.sslPolicy;
    const partOf = props.partOf ?? INGRESS_DEFAULTS.partOf;
    const name = props.name ?? partOf;

    // ── Validation (synth time) ──
    if (!props.certificateDomains.some((d) => certificateCovers(d, hostname))) {
      throw new PropError(
        this,
        "hostname",
        hostname,
        `a name covered by certificateDomains (${props.certificateDomains.join(", ")}), or another certificate`,
      );
    }
    if (kind === "alb" && !MODERN_ALB_TLS_POLICY.test(sslPolicy)) {
      throw new PropError(
        this,
        "sslPolicy",
        sslPolicy,
        'a policy without TLS versions below 1.2, e.g. "ELBSecurityPolicy-TLS13-1-2-2021-06"',
      );
    }
    if (kind === "alb" && !props.certificateArn) {
      throw new PropError(this, "certificateArn", props.certificateArn, 'the ACM certificate for the hostname when kind is "alb"');
    }
    if (kind === "gateway-api" && !props.gatewayRef) {
      throw new PropError(this, "gatewayRef", props.gatewayRef, 'the Gateway\'s namespace and name when kind is "gateway-api"');
    }
    const idle = props.idleTimeoutSeconds ?? INGRESS_DEFAULTS.idleTimeoutSeconds;
    if (!Number.isInteger(idle) || idle < 1 || idle > 4000) {
      throw new PropError(this, "idleTimeoutSeconds", idle, "a whole number from 1 to 4000 (the ALB limit)");
    }
    const dereg = props.deregistrationDelaySeconds;
    if (dereg !== undefined && (!Number.isInteger(dereg) || dereg < 0 || dereg > ALB_MAX_DEREGISTRATION_DELAY_SECONDS)) {
      throw new PropError(
        this,
        "deregistrationDelaySeconds",
        dereg,
        `a whole number from 0 to ${ALB_MAX_DEREGISTRATION_DELAY_SECONDS} (the ALB limit)`,
      );
    }
    if (target.serviceName === "" || !Number.isInteger(target.port)) {
      throw new PropError(this, "target", target, "the auth proxy's contract (service name and port)");
    }

    const labels = { "app.kubernetes.io/part-of": partOf, "app.kubernetes.io/component": "entry", "app.kubernetes.io/managed-by": "cdktf" };

    if (kind === "alb") {
      this.ingress = new IngressV1(this, "ingress", {
        metadata: { name, namespace: target.namespace, labels, annotations: albAnnotations(props) },
        spec: {
          ingressClassName: ALB_INGRESS_CLASS,
          rule: [
            {
              host: hostname,
              http: {
                path: [
                  {
                    path: "/",
                    pathType: "Prefix",
                    backend: { service: { name: target.serviceName, port: { number: target.port } } },
                  },
                ],
              },
            },
          ],
        },
        dependsOn: props.dependsOn,
      });
    } else {
      const gw = props.gatewayRef!;
      this.httpRoute = new Manifest(this, "http_route", {
        manifest: {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "HTTPRoute",
          metadata: { name, namespace: target.namespace, labels },
          spec: {
            parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: gw.namespace, name: gw.name }],
            hostnames: [hostname],
            rules: [
              {
                matches: [{ path: { type: "PathPrefix", value: "/" } }],
                backendRefs: [{ group: "", kind: "Service", name: target.serviceName, port: target.port }],
                // No limit on a whole request (a large artifact transfer may take longer than any fixed
                // bound); silence is bounded by the Gateway's idle timeout and the proxy's upstream timeout.
                timeouts: { request: "0s" },
              },
            ],
          },
        },
        dependsOn: props.dependsOn,
      });
    }
  }
}
