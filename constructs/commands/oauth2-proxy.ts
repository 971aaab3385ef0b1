/**
 * The OAuth2 Proxy's container command: one pure function of the environment's configuration and the
 * tracking server's contract. The AuthProxy construct turns it into a Deployment; the end-to-end harness
 * runs the same value as a local process (the real oauth2-proxy binary), swapping only addresses.
 *
 * Everything is configured through `OAUTH2_PROXY_*` environment variables (oauth2-proxy reads every flag
 * from `OAUTH2_PROXY_<CFG_NAME>`, lists comma-separated) so that:
 *  - the client secret and the cookie secret are Kubernetes Secret references, never literals, and never
 *    in the process's arguments (`ps` would show them);
 *  - a harness swaps an address by overwriting one variable (see {@link AUTH_PROXY_ADDRESS_ENV}).
 */
import type { EnvironmentConfig } from "../../config";
import type { SecretKeyRef, TrackingServerContract } from "../contracts";
import type { ContainerCommand, EnvVar, MountedFile } from "./types";

/** Port the proxy serves users and pipelines on (container and Service). */
export const AUTH_PROXY_PORT = 4180;
/** Port `/metrics` is served on (Prometheus only; never behind the load balancer). */
export const AUTH_PROXY_METRICS_PORT = 44180;
export const AUTH_PROXY_PORT_NAME = "http";
export const AUTH_PROXY_METRICS_PORT_NAME = "metrics";
/** Base name of the proxy's Kubernetes objects (Deployment, Service, PDB, ...). */
export const AUTH_PROXY_NAME = "oauth2-proxy";
/** The entrypoint of the official image (`ENTRYPOINT ["/bin/oauth2-proxy"]`). */
export const AUTH_PROXY_ENTRYPOINT = "/bin/oauth2-proxy";
/** The official image runs as distroless `nonroot`. */
export const AUTH_PROXY_UID = 65532;
/** Liveness: answers 200 as soon as the server runs. */
export const AUTH_PROXY_PING_PATH = "/ping";
/** Readiness: also checks the session store. */
export const AUTH_PROXY_READY_PATH = "/ready";
/** Where the identity provider sends the browser back; register `https://<hostname>` + this. */
export const AUTH_PROXY_CALLBACK_PATH = "/oauth2/callback";

/**
 * Paths answered with 401 (never a redirect to the sign-in page) when the request has no valid session
 * or token: MLflow's REST API used by the client and pipelines, and the UI's AJAX API.
 */
export const AUTH_PROXY_API_ROUTES: readonly string[] = ["^/api/", "^/ajax-api/"];

/**
 * The variables holding addresses: what a harness overwrites to run the same command on loopback.
 * Everything else it must keep as synthesized.
 */
export const AUTH_PROXY_ADDRESS_ENV = {
  /** `host:port` the proxy listens on. */
  httpAddress: "OAUTH2_PROXY_HTTP_ADDRESS",
  /** `host:port` of `/metrics`. */
  metricsAddress: "OAUTH2_PROXY_METRICS_ADDRESS",
  /** The tracking server's URL. */
  upstream: "OAUTH2_PROXY_UPSTREAMS",
  /** The OpenID Connect issuer. */
  issuerUrl: "OAUTH2_PROXY_OIDC_ISSUER_URL",
  /** `https://<hostname>/oauth2/callback`. */
  redirectUrl: "OAUTH2_PROXY_REDIRECT_URL",
  /** `issuer=audience` pairs accepted for bearer tokens (absent when none are configured). */
  extraJwtIssuers: "OAUTH2_PROXY_EXTRA_JWT_ISSUERS",
  /** CIDRs allowed to set X-Forwarded-* headers (the VPC: the load balancer). */
  trustedProxyIps: "OAUTH2_PROXY_TRUSTED_PROXY_IPS",
} as const;

/** The Kubernetes Secrets the proxy reads its two secrets from. */
export interface AuthProxySecretRefs {
  /** Seed of the session cookie's encryption: 32 random bytes, base64 (URL-safe alphabet). */
  readonly cookieSecret: SecretKeyRef;
  /** The OIDC client's secret. */
  readonly clientSecret: SecretKeyRef;
}

/** Name of the Secret the AuthProxy construct creates with a generated cookie secret. */
export const COOKIE_SECRET_NAME = `${AUTH_PROXY_NAME}-cookie`;
export const COOKIE_SECRET_KEY = "cookie-secret";
/** Name of the Secret the AuthProxy construct creates when the client secret comes from Secrets Manager. */
export const MANAGED_CLIENT_SECRET_NAME = `${AUTH_PROXY_NAME}-oidc-client`;
export const MANAGED_CLIENT_SECRET_KEY = "client-secret";

/**
 * Where the proxy's secrets live for `config`: the generated cookie secret, and the client secret either
 * in the operator's Secret (`auth.clientSecret.source: kubernetes`) or in the Secret the construct fills
 * from AWS Secrets Manager.
 */
export function authProxySecretRefs(config: EnvironmentConfig): AuthProxySecretRefs {
  const client = config.auth.clientSecret;
  return {
    cookieSecret: { name: COOKIE_SECRET_NAME, key: COOKIE_SECRET_KEY },
    clientSecret: client.source === "kubernetes"
      ? { name: client.secretName, key: client.key }
      : { name: MANAGED_CLIENT_SECRET_NAME, key: MANAGED_CLIENT_SECRET_KEY },
  };
}

/**
 * Labels of the proxy's pods: its Deployment's selector, its PodDisruptionBudget's, and the peer the
 * tracking server's NetworkPolicy admits. Stable across versions (a selector cannot change).
 */
export function authProxyPodLabels(config: EnvironmentConfig): Record<string, string> {
  return {
    "app.kubernetes.io/name": AUTH_PROXY_NAME,
    "app.kubernetes.io/component": "auth-proxy",
    "app.kubernetes.io/part-of": config.project,
  };
}

/** The official image at the configured exact version (the e2e tests build the same version). */
export function oauth2ProxyImage(config: EnvironmentConfig): string {
  return `quay.io/oauth2-proxy/oauth2-proxy:v${config.auth.proxyVersion}`;
}

/** The in-cluster URL of the tracking server's Service. */
export function upstreamUrl(upstream: Pick<TrackingServerContract, "namespace" | "serviceName" | "port">): string {
  return `http://${upstream.serviceName}.${upstream.namespace}.svc:${upstream.port}/`;
}

/**
 * Timeouts that agree along the path browser/pipeline -> load balancer -> proxy -> MLflow, so that a large
 * artifact upload or download is not cut by one hop while the others still wait.
 *
 * - The load balancer closes a connection that stays silent for `ingress.idleTimeoutSeconds`.
 * - The proxy waits that long for MLflow's response headers (`--upstream-timeout`; oauth2-proxy uses it as
 *   the transport's ResponseHeaderTimeout, so a long streamed body is never cut, only a silent wait such
 *   as MLflow copying a large upload to S3 before answering).
 * - The proxy's own server has no idle or write timeout (only a 1-minute header read timeout), so the load
 *   balancer, not the proxy, ends idle client connections: no race on reused connections there.
 * - The proxy keeps idle connections to MLflow for Go's default 90 s; MLflow's server keep-alive must be
 *   longer (see {@link UPSTREAM_IDLE_CONNECTION_SECONDS}), or a reused connection may be closed under a request.
 */
export function authProxyTimeouts(config: EnvironmentConfig): { upstreamTimeoutSeconds: number } {
  return { upstreamTimeoutSeconds: config.ingress.idleTimeoutSeconds };
}

/** How long the proxy keeps an idle connection to MLflow open (Go's http.DefaultTransport IdleConnTimeout). */
export const UPSTREAM_IDLE_CONNECTION_SECONDS = 90;

/**
 * Name of the session cookie: `__Host-` binds it to the exact host over HTTPS (no Domain, Path=/).
 * Secure in every environment, the local test profile included: the end-to-end run serves the public
 * name over HTTPS at its load balancer stand-in, so a real browser enforces the same cookie rules there
 * as in production.
 */
export const AUTH_PROXY_COOKIE_NAME = "__Host-mlflow-auth";

/** The session cookie's name for `config`: {@link AUTH_PROXY_COOKIE_NAME} in every environment. */
export function authProxyCookieName(_config: EnvironmentConfig): string {
  return AUTH_PROXY_COOKIE_NAME;
}

/** The inputs of {@link oauth2ProxyCommand} besides the configuration. */
export interface OAuth2ProxyCommandInputs {
  /** The tracking server the proxy forwards authenticated requests to. */
  readonly upstream: Pick<TrackingServerContract, "namespace" | "serviceName" | "port">;
  /** Where the secrets are; defaults to {@link authProxySecretRefs}(config). */
  readonly secrets?: AuthProxySecretRefs;
}

/**
 * The OAuth2 Proxy's full command: `oidc` provider with PKCE (S256), deny-by-default allow-lists, secure
 * session cookies, bearer tokens for pipelines, 401 on API paths, probes and metrics on their own port,
 * timeouts derived from the load balancer's idle timeout.
 */
export function oauth2ProxyCommand(config: EnvironmentConfig, inputs: OAuth2ProxyCommandInputs): ContainerCommand {
  const auth = config.auth;
  const secrets = inputs.secrets ?? authProxySecretRefs(config);
  if (auth.allowedEmailDomains.length === 0 && auth.allowedGroups.length === 0) {
    // The schema refuses this already; a command built from a hand-made config must not open up either.
    throw new Error("auth.allowedEmailDomains and auth.allowedGroups are both empty: say who may sign in (access is denied by default)");
  }
  const { upstreamTimeoutSeconds } = authProxyTimeouts(config);
  const v = (name: string, value: string): EnvVar => ({ name: `OAUTH2_PROXY_${name}`, value });
  const secret = (name: string, ref: SecretKeyRef): EnvVar => ({ name: `OAUTH2_PROXY_${name}`, secretKeyRef: { name: ref.name, key: ref.key } });

  const env: EnvVar[] = [
    // Identity provider.
    v("PROVIDER", "oidc"),
    v("OIDC_ISSUER_URL", auth.issuerUrl),
    v("CLIENT_ID", auth.clientId),
    secret("CLIENT_SECRET", secrets.clientSecret),
    v("REDIRECT_URL", `https://${config.hostname}${AUTH_PROXY_CALLBACK_PATH}`),
    v("SCOPE", auth.scopes.join(" ")),
    v("CODE_CHALLENGE_METHOD", "S256"),
    v("OIDC_GROUPS_CLAIM", auth.groupsClaim),
    v("SKIP_PROVIDER_BUTTON", "true"),
    // Who may sign in. oauth2-proxy always checks the e-mail domain; with only groups configured the
    // domain check is opened ("*") and the group check does the limiting. With both, a user needs both.
    v("EMAIL_DOMAINS", auth.allowedEmailDomains.length > 0 ? auth.allowedEmailDomains.join(",") : "*"),
    ...(auth.allowedGroups.length > 0 ? [v("ALLOWED_GROUPS", auth.allowedGroups.join(","))] : []),
    // Pipelines: `Authorization: Bearer <OIDC token>` (audience = client id, or a configured pair).
    v("SKIP_JWT_BEARER_TOKENS", "true"),
    ...(auth.extraJwtIssuers.length > 0 || workloadIdentities(config)
      ? [v("EXTRA_JWT_ISSUERS", [...auth.extraJwtIssuers, ...(workloadIdentities(config)?.issuers ?? [])].map((e) => `${e.issuer}=${e.audience}`).join(","))]
      : []),
    // An invalid token gets 403, not a sign-in page a pipeline cannot follow.
    v("BEARER_TOKEN_LOGIN_FALLBACK", "false"),
    v("API_ROUTES", AUTH_PROXY_API_ROUTES.join(",")),
    // Session: encrypted cookie (stateless: any replica serves any request), HTTPS-only, not readable
    // by scripts, not sent on cross-site sub-requests.
    secret("COOKIE_SECRET", secrets.cookieSecret),
    v("SESSION_STORE_TYPE", "cookie"),
    v("COOKIE_NAME", AUTH_PROXY_COOKIE_NAME),
    v("COOKIE_SECURE", "true"),
    v("COOKIE_HTTPONLY", "true"),
    v("COOKIE_SAMESITE", "lax"),
    v("COOKIE_EXPIRE", `${auth.cookieExpireHours}h`),
    v("COOKIE_REFRESH", `${auth.cookieRefreshMinutes}m`),
    // Upstream: the tracking server only, with the original Host (MLflow's --allowed-hosts lists it).
    v("UPSTREAMS", upstreamUrl(inputs.upstream)),
    v("UPSTREAM_TIMEOUT", `${upstreamTimeoutSeconds}s`),
    v("PASS_HOST_HEADER", "true"),
    // Behind the load balancer: trust X-Forwarded-* only from the VPC.
    v("REVERSE_PROXY", "true"),
    v("TRUSTED_PROXY_IPS", config.ingress.vpcCidrs.join(",")),
    v("REAL_CLIENT_IP_HEADER", "X-Forwarded-For"),
    // Listeners: all interfaces in the pod; metrics on their own port.
    v("HTTP_ADDRESS", `0.0.0.0:${AUTH_PROXY_PORT}`),
    v("METRICS_ADDRESS", `0.0.0.0:${AUTH_PROXY_METRICS_PORT}`),
    v("PING_PATH", AUTH_PROXY_PING_PATH),
    v("READY_PATH", AUTH_PROXY_READY_PATH),
    v("SILENCE_PING_LOGGING", "true"),
    ...(workloadIdentities(config) ? [v("AUTHENTICATED_EMAILS_FILE", WORKLOAD_IDENTITIES_FILE)] : []),
  ];

  return {
    image: oauth2ProxyImage(config),
    command: [AUTH_PROXY_ENTRYPOINT],
    args: [],
    env,
    ...(workloadIdentities(config) ? { files: workloadIdentityFiles() } : {}),
    ports: { [AUTH_PROXY_PORT_NAME]: AUTH_PROXY_PORT, [AUTH_PROXY_METRICS_PORT_NAME]: AUTH_PROXY_METRICS_PORT },
  };
}

// ── Workload identities (issue 16): in-cluster service accounts by their projected tokens ─────────
//
// Training workflow pods present a projected service-account token of the cluster's issuer with a
// dedicated audience (training.identity). The proxy accepts that issuer/audience pair as an extra JWT
// issuer; such a token has no e-mail claim, so oauth2-proxy uses its `sub`
// (`system:serviceaccount:<namespace>:<name>`) as the e-mail, which no e-mail domain matches. The only
// subjects let in are the ones listed in the authenticated-emails file below (a ConfigMap the stack
// writes): any other service account of the cluster, even with the right audience, is refused.
// Why this is safe: docs/training-pipelines.md.

/** Where the proxy reads the allowed workload subjects (one per line). */
export const WORKLOAD_IDENTITIES_FILE = "/etc/oauth2-proxy/workload-identities/subjects";
/** The ConfigMap (in the proxy's namespace) holding them. */
export const WORKLOAD_IDENTITIES_CONFIGMAP = `${AUTH_PROXY_NAME}-workload-identities`;
export const WORKLOAD_IDENTITIES_KEY = "subjects";

/** The service-account subject of the training pipeline's pods. */
export function trainingSubject(config: EnvironmentConfig): string {
  return `system:serviceaccount:${config.training.namespace}:training-pipeline`;
}

/** The extra issuers and allowed subjects of in-cluster workloads, or undefined when there are none. */
export function workloadIdentities(config: EnvironmentConfig): { issuers: { issuer: string; audience: string }[]; subjects: string[] } | undefined {
  const t = config.training;
  if (!t?.enabled || !t.identity) return undefined;
  return { issuers: [{ issuer: t.identity.issuerUrl, audience: t.identity.audience }], subjects: [trainingSubject(config)] };
}

/** The ConfigMap's content: one subject per line. */
export function workloadIdentitiesFileContent(config: EnvironmentConfig): string {
  return (workloadIdentities(config)?.subjects ?? []).map((s) => `${s}\n`).join("");
}

function workloadIdentityFiles(): MountedFile[] {
  return [{ path: WORKLOAD_IDENTITIES_FILE, configMapKeyRef: { name: WORKLOAD_IDENTITIES_CONFIGMAP, key: WORKLOAD_IDENTITIES_KEY } }];
}
