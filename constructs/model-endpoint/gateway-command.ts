/**
 * The model gateway's container command: OAuth2 Proxy in front of one model endpoint, for the `ingress`
 * exposure (serving.exposure). It authenticates API callers only: a bearer token (an OIDC ID token of the
 * platform's issuer, audience the platform's client id, or a configured `issuer=audience` pair) or 401/403.
 * No sign-in page, no cookie session is ever issued. It overwrites `X-Forwarded-Email`/`X-Forwarded-User`
 * with the verified token's claims (whatever the caller sent), and the model server keys its per-caller
 * limit on that header and checks it again against the allow-lists (oauth2-proxy skips its domain check
 * for a token without an e-mail claim; the server refuses it with 403); the token itself is not passed on.
 *
 * The same binary and image as the tracking server's proxy (constructs/auth-proxy/oauth2-proxy-command.ts); the
 * end-to-end run starts this command for real in front of the model server and shows the refusals.
 */
import type { SecretKeyRef } from "../core/contracts";
import type { ContainerCommand, EnvVar } from "../core/command-types";
import {
  AUTH_PROXY_ENTRYPOINT,
  AUTH_PROXY_METRICS_PORT,
  AUTH_PROXY_METRICS_PORT_NAME,
  AUTH_PROXY_PORT,
  AUTH_PROXY_PORT_NAME,
  allowListEnv,
  listenerEnv,
} from "../auth-proxy/oauth2-proxy-command";

/** The header the gateway sets from the verified token: the model server's caller header behind it. */
export const MODEL_GATEWAY_CALLER_HEADER = "X-Forwarded-Email";

export interface ModelGatewayCommandInputs {
  /** `quay.io/oauth2-proxy/oauth2-proxy:v<version>`. */
  readonly image: string;
  readonly issuerUrl: string;
  /** The audience a token must have (the platform's OIDC client id). */
  readonly clientId: string;
  /** Other `issuer`/`audience` pairs accepted (e.g. a CI provider's tokens). */
  readonly extraJwtIssuers: readonly { readonly issuer: string; readonly audience: string }[];
  /** Who may call: e-mail domains and/or groups (deny by default). */
  readonly allowedEmailDomains: readonly string[];
  readonly allowedGroups: readonly string[];
  /** Any e-mail domain ("*"; the groups decide): a named choice, never derived from an empty list. @default false */
  readonly allowAnyEmailDomain?: boolean;
  readonly groupsClaim: string;
  /** The model's Service URL, e.g. `http://mlflow-dev-iris-classifier.models.svc:80/`. */
  readonly upstreamUrl: string;
  /** Seconds to wait for the model's answer (its request timeout plus a margin). */
  readonly upstreamTimeoutSeconds: number;
  /** CIDRs allowed to set X-Forwarded-For (the load balancer's VPC). */
  readonly trustedProxyCidrs: readonly string[];
  /** Generated secrets: oauth2-proxy insists on both although this gateway never redeems a code nor sets a cookie. */
  readonly cookieSecret: SecretKeyRef;
  readonly clientSecret: SecretKeyRef;
}

export function modelGatewayCommand(i: ModelGatewayCommandInputs): ContainerCommand {
  const allowList = allowListEnv("modelGatewayCommand", "call the model", i);
  const v = (name: string, value: string): EnvVar => ({ name: `OAUTH2_PROXY_${name}`, value });
  const secret = (name: string, ref: SecretKeyRef): EnvVar => ({
    name: `OAUTH2_PROXY_${name}`,
    secretKeyRef: { name: ref.name, key: ref.key },
  });
  const env: EnvVar[] = [
    v("PROVIDER", "oidc"),
    v("OIDC_ISSUER_URL", i.issuerUrl),
    v("CLIENT_ID", i.clientId),
    secret("CLIENT_SECRET", i.clientSecret),
    v("OIDC_GROUPS_CLAIM", i.groupsClaim),
    ...allowList,
    // Bearer tokens only: every route answers 401 without one and 403 with an invalid one.
    v("SKIP_JWT_BEARER_TOKENS", "true"),
    ...(i.extraJwtIssuers.length > 0 ? [v("EXTRA_JWT_ISSUERS", i.extraJwtIssuers.map((e) => `${e.issuer}=${e.audience}`).join(","))] : []),
    v("BEARER_TOKEN_LOGIN_FALLBACK", "false"),
    v("API_ROUTES", "^/"),
    v("SKIP_PROVIDER_BUTTON", "true"),
    secret("COOKIE_SECRET", i.cookieSecret),
    v("COOKIE_SECURE", "true"),
    v("COOKIE_HTTPONLY", "true"),
    // The verified identity in X-Forwarded-User/Email (replacing what the caller sent); never the token.
    v("PASS_USER_HEADERS", "true"),
    v("PASS_ACCESS_TOKEN", "false"),
    v("PASS_AUTHORIZATION_HEADER", "false"),
    v("UPSTREAMS", i.upstreamUrl),
    v("UPSTREAM_TIMEOUT", `${i.upstreamTimeoutSeconds}s`),
    v("REVERSE_PROXY", "true"),
    v("TRUSTED_PROXY_IPS", i.trustedProxyCidrs.join(",")),
    v("REAL_CLIENT_IP_HEADER", "X-Forwarded-For"),
    ...listenerEnv(),
  ];
  return {
    image: i.image,
    command: [AUTH_PROXY_ENTRYPOINT],
    args: [],
    env,
    ports: { [AUTH_PROXY_PORT_NAME]: AUTH_PROXY_PORT, [AUTH_PROXY_METRICS_PORT_NAME]: AUTH_PROXY_METRICS_PORT },
  };
}
