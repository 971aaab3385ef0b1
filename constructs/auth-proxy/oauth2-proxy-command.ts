/**
 * The OAuth2 Proxy's container command: one pure function of narrow settings (mapped from the
 * environment's configuration in `constructs/auth-proxy/from-config.ts`) and the tracking server's
 * contract. The AuthProxy construct turns it into a Deployment; the end-to-end harness
 * runs the same value as a local process (the real oauth2-proxy binary), swapping only addresses.
 *
 * Everything is configured through `OAUTH2_PROXY_*` environment variables (oauth2-proxy reads every flag
 * from `OAUTH2_PROXY_<CFG_NAME>`, lists comma-separated) so that:
 *  - the client secret and the cookie secret are Kubernetes Secret references, never literals, and never
 *    in the process's arguments (`ps` would show them);
 *  - a harness swaps an address by overwriting one variable (see {@link AUTH_PROXY_ADDRESS_ENV}).
 */
import type { SecretKeyRef, TrackingServerContract } from "../core/contracts";
import type { ContainerCommand, EnvVar, MountedFile } from "../core/command-types";
import { PropError } from "../core/prop-error";

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

/** Where the OIDC client secret comes from (as in the configuration's `auth.clientSecret`). */
export type ClientSecretSource =
  | { readonly source: "secrets-manager"; readonly secretArn: string }
  | { readonly source: "kubernetes"; readonly secretName: string; readonly key: string };

/**
 * Where the proxy's secrets live: the generated cookie secret, and the client secret either in the
 * operator's Secret (`source: kubernetes`) or in the Secret the construct fills from AWS Secrets Manager.
 */
export function authProxySecretRefs(client: ClientSecretSource): AuthProxySecretRefs {
  return {
    cookieSecret: { name: COOKIE_SECRET_NAME, key: COOKIE_SECRET_KEY },
    clientSecret:
      client.source === "kubernetes"
        ? { name: client.secretName, key: client.key }
        : { name: MANAGED_CLIENT_SECRET_NAME, key: MANAGED_CLIENT_SECRET_KEY },
  };
}

/**
 * Labels of the proxy's pods: its Deployment's selector, its PodDisruptionBudget's, and the peer the
 * tracking server's NetworkPolicy admits. Stable across versions (a selector cannot change).
 * `partOf` is the project (`app.kubernetes.io/part-of`).
 */
export function authProxyPodLabels(partOf: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": AUTH_PROXY_NAME,
    "app.kubernetes.io/component": "auth-proxy",
    "app.kubernetes.io/part-of": partOf,
  };
}

/**
 * The official image at an exact version (the e2e tests build the same version), in its `-alpine`
 * flavour: the same binary at the same path, plus the `sleep` the pod's preStop pause runs (the default
 * flavour is distroless and has no program to pause with; see constructs/core/drain.ts).
 */
export function oauth2ProxyImage(proxyVersion: string): string {
  return `quay.io/oauth2-proxy/oauth2-proxy:v${proxyVersion}-alpine`;
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
export function authProxyTimeouts(loadBalancerIdleTimeoutSeconds: number): { upstreamTimeoutSeconds: number } {
  return { upstreamTimeoutSeconds: loadBalancerIdleTimeoutSeconds };
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

/** How the proxy authenticates: the OIDC client, the allow-lists, the session cookie, its place on the path. */
export interface OAuth2ProxySettings {
  /** Exact oauth2-proxy 7.x version (the image tag). */
  readonly proxyVersion: string;
  /** OpenID Connect issuer URL. */
  readonly issuerUrl: string;
  /** OIDC client id (the audience bearer tokens must carry). */
  readonly clientId: string;
  /** Scopes requested at sign-in. */
  readonly scopes: readonly string[];
  /** Claim holding the user's groups. */
  readonly groupsClaim: string;
  /** E-mail domains allowed to sign in. With `allowedGroups`, a user needs both. */
  readonly allowedEmailDomains: readonly string[];
  /** Groups allowed to sign in. */
  readonly allowedGroups: readonly string[];
  /**
   * Open the e-mail domain check ("*") and let `allowedGroups` decide alone. A named choice, never the
   * result of an empty list or a "*" value.
   * @default false
   */
  readonly allowAnyEmailDomain?: boolean;
  /** Extra issuer/audience pairs whose bearer tokens are accepted. */
  readonly extraJwtIssuers: readonly { readonly issuer: string; readonly audience: string }[];
  /** Session cookie lifetime, hours. */
  readonly cookieExpireHours: number;
  /** Session refresh interval, minutes. */
  readonly cookieRefreshMinutes: number;
  /** Public hostname: the redirect URL is `https://<publicHostname>/oauth2/callback`. */
  readonly publicHostname: string;
  /** The load balancer's idle timeout, from which the upstream timeout is derived (seconds). */
  readonly loadBalancerIdleTimeoutSeconds: number;
  /** CIDRs of the load balancer: trusted to set X-Forwarded-* headers. */
  readonly trustedProxyCidrs: readonly string[];
  /**
   * In-cluster workloads admitted by their projected service-account tokens (an extra issuer, and only
   * the listed subjects, read from the ConfigMap {@link WORKLOAD_IDENTITIES_CONFIGMAP}). Unset: none.
   */
  readonly workloadIdentities?: WorkloadIdentities;
}

/** The inputs of {@link oauth2ProxyCommand}. */
export interface OAuth2ProxyCommandInputs extends OAuth2ProxySettings {
  /** The tracking server the proxy forwards authenticated requests to. */
  readonly upstream: Pick<TrackingServerContract, "namespace" | "serviceName" | "port">;
  /** Where the secrets are (see {@link authProxySecretRefs}). */
  readonly secrets: AuthProxySecretRefs;
}

/** What {@link allowListEnv} checks: who may pass. */
export interface AllowLists {
  readonly allowedEmailDomains: readonly string[];
  readonly allowedGroups: readonly string[];
  /** "*" for the domain check: a named choice, never derived from an empty list. @default false */
  readonly allowAnyEmailDomain?: boolean;
}

/**
 * `EMAIL_DOMAINS` (and `ALLOWED_GROUPS`) of an oauth2-proxy that denies by default: refuses empty lists,
 * a "*" value and an open domain list that was not chosen by name. `who` names the caller in errors,
 * `action` what the lists allow ("sign in", "call the model").
 */
export function allowListEnv(who: string, action: string, a: AllowLists): EnvVar[] {
  if (a.allowedEmailDomains.length === 0 && a.allowedGroups.length === 0) {
    throw new PropError(
      who,
      "allowedEmailDomains",
      a.allowedEmailDomains,
      `at least one domain, or a group in allowedGroups: say who may ${action} (access is denied by default)`,
    );
  }
  const anyDomain = a.allowAnyEmailDomain === true;
  if (a.allowedEmailDomains.length === 0 && !anyDomain) {
    throw new PropError(
      who,
      "allowedEmailDomains",
      a.allowedEmailDomains,
      'at least one domain, or allowAnyEmailDomain: true: an open e-mail domain list ("*") is an explicit choice, never the result of an empty list',
    );
  }
  if (a.allowedEmailDomains.includes("*")) {
    throw new PropError(
      who,
      "allowedEmailDomains",
      a.allowedEmailDomains,
      'domains without "*": set allowAnyEmailDomain: true instead (a named choice)',
    );
  }
  return [
    { name: "OAUTH2_PROXY_EMAIL_DOMAINS", value: anyDomain ? "*" : a.allowedEmailDomains.join(",") },
    ...(a.allowedGroups.length > 0 ? [{ name: "OAUTH2_PROXY_ALLOWED_GROUPS", value: a.allowedGroups.join(",") }] : []),
  ];
}

/** The listeners of every oauth2-proxy the stack runs: all interfaces in the pod, metrics on their own port, probes. */
export function listenerEnv(): EnvVar[] {
  return [
    { name: "OAUTH2_PROXY_HTTP_ADDRESS", value: `0.0.0.0:${AUTH_PROXY_PORT}` },
    { name: "OAUTH2_PROXY_METRICS_ADDRESS", value: `0.0.0.0:${AUTH_PROXY_METRICS_PORT}` },
    { name: "OAUTH2_PROXY_PING_PATH", value: AUTH_PROXY_PING_PATH },
    { name: "OAUTH2_PROXY_READY_PATH", value: AUTH_PROXY_READY_PATH },
    { name: "OAUTH2_PROXY_SILENCE_PING_LOGGING", value: "true" },
  ];
}

/**
 * The OAuth2 Proxy's full command: `oidc` provider with PKCE (S256), deny-by-default allow-lists, secure
 * session cookies, bearer tokens for pipelines, 401 on API paths, probes and metrics on their own port,
 * timeouts derived from the load balancer's idle timeout.
 */
export function oauth2ProxyCommand(inputs: OAuth2ProxyCommandInputs): ContainerCommand {
  const auth = inputs;
  const secrets = inputs.secrets;
  // The schema refuses open lists already; a command built from a hand-made config must not open up either.
  const allowList = allowListEnv("oauth2ProxyCommand", "sign in", auth);
  const { upstreamTimeoutSeconds } = authProxyTimeouts(inputs.loadBalancerIdleTimeoutSeconds);
  const workloads = inputs.workloadIdentities && inputs.workloadIdentities.issuers.length > 0 ? inputs.workloadIdentities : undefined;
  const v = (name: string, value: string): EnvVar => ({ name: `OAUTH2_PROXY_${name}`, value });
  const secret = (name: string, ref: SecretKeyRef): EnvVar => ({
    name: `OAUTH2_PROXY_${name}`,
    secretKeyRef: { name: ref.name, key: ref.key },
  });

  const env: EnvVar[] = [
    // Identity provider.
    v("PROVIDER", "oidc"),
    v("OIDC_ISSUER_URL", auth.issuerUrl),
    v("CLIENT_ID", auth.clientId),
    secret("CLIENT_SECRET", secrets.clientSecret),
    v("REDIRECT_URL", `https://${inputs.publicHostname}${AUTH_PROXY_CALLBACK_PATH}`),
    v("SCOPE", auth.scopes.join(" ")),
    v("CODE_CHALLENGE_METHOD", "S256"),
    v("OIDC_GROUPS_CLAIM", auth.groupsClaim),
    v("SKIP_PROVIDER_BUTTON", "true"),
    // Who may sign in. The domain check is opened ("*") only by auth.allowAnyEmailDomain, and the group
    // check then does the limiting. With both lists, a user needs both. oauth2-proxy skips the domain
    // check for a bearer token without an e-mail claim: the tracking server's guard checks the
    // X-Forwarded-Email set below again and refuses a request without one (constructs/tracking-server/guard.ts).
    ...allowList,
    // Pipelines: `Authorization: Bearer <OIDC token>` (audience = client id, or a configured pair).
    v("SKIP_JWT_BEARER_TOKENS", "true"),
    ...(auth.extraJwtIssuers.length > 0 || workloads
      ? [v("EXTRA_JWT_ISSUERS", [...auth.extraJwtIssuers, ...(workloads?.issuers ?? [])].map((e) => `${e.issuer}=${e.audience}`).join(","))]
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
    // X-Forwarded-Email/User/Groups from the verified token; the same headers sent by a client are removed.
    v("PASS_USER_HEADERS", "true"),
    // Behind the load balancer: trust X-Forwarded-* only from the VPC.
    v("REVERSE_PROXY", "true"),
    v("TRUSTED_PROXY_IPS", inputs.trustedProxyCidrs.join(",")),
    v("REAL_CLIENT_IP_HEADER", "X-Forwarded-For"),
    // Listeners: all interfaces in the pod; metrics on their own port.
    ...listenerEnv(),
    ...(workloads ? [v("AUTHENTICATED_EMAILS_FILE", WORKLOAD_IDENTITIES_FILE)] : []),
  ];

  return {
    image: oauth2ProxyImage(auth.proxyVersion),
    command: [AUTH_PROXY_ENTRYPOINT],
    args: [],
    env,
    ...(workloads ? { files: workloadIdentityFiles() } : {}),
    ports: { [AUTH_PROXY_PORT_NAME]: AUTH_PROXY_PORT, [AUTH_PROXY_METRICS_PORT_NAME]: AUTH_PROXY_METRICS_PORT },
  };
}

// ── Workload identities: in-cluster service accounts by their projected tokens ─────────
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

/** In-cluster workloads the proxy admits by their projected service-account tokens. */
export interface WorkloadIdentities {
  /** The cluster's issuer and the dedicated audience of the workloads' tokens. */
  readonly issuers: readonly { readonly issuer: string; readonly audience: string }[];
  /** The admitted subjects, `system:serviceaccount:<namespace>:<name>`. */
  readonly subjects: readonly string[];
}

/** The ConfigMap's content: one subject per line. */
export function workloadIdentitiesFileContent(subjects: readonly string[]): string {
  return subjects.map((s) => `${s}\n`).join("");
}

function workloadIdentityFiles(): MountedFile[] {
  return [{ path: WORKLOAD_IDENTITIES_FILE, configMapKeyRef: { name: WORKLOAD_IDENTITIES_CONFIGMAP, key: WORKLOAD_IDENTITIES_KEY } }];
}
