import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import {
  AUTH_PROXY_ADDRESS_ENV,
  AUTH_PROXY_METRICS_PORT,
  AUTH_PROXY_PORT,
  authProxyPodLabels,
  authProxySecretRefs,
  oauth2ProxyCommand,
  type AuthProxySecretRefs,
  type OAuth2ProxyCommandInputs,
} from "../../../constructs/auth-proxy/oauth2-proxy-command";
import { oauth2ProxySettings } from "../../../constructs/auth-proxy/from-config";
import { renderProcess } from "../../../constructs/core/render";
import type { ContainerCommand, EnvVar } from "../../../constructs/core/command-types";
import type { EnvironmentConfig } from "../../../config";
import { configured, envConfig, SHIPPED } from "../../helpers/synth";
import { freePort, startOidcStub, startRecordingUpstream, type OidcStub, type RecordingUpstream } from "../../helpers/oidc-stub";
import { oauth2ProxyBin } from "../../helpers/tools";

const upstream = { namespace: "mlflow", serviceName: "mlflow-tracking", port: 5000 };

/** The proxy command of an environment, through the one mapping the stack uses (auth-proxy/from-config.ts). */
function commandOf(
  config: EnvironmentConfig,
  over: { upstream: OAuth2ProxyCommandInputs["upstream"]; secrets?: AuthProxySecretRefs },
): ContainerCommand {
  return oauth2ProxyCommand({
    ...oauth2ProxySettings(config),
    upstream: over.upstream,
    secrets: over.secrets ?? authProxySecretRefs(config.auth.clientSecret),
  });
}

/** The env var `name` of `cmd`; fails when it is absent. */
function envOf(cmd: ContainerCommand, name: string): EnvVar {
  const found = cmd.env.filter((e) => e.name === name);
  expect(found).toHaveLength(1);
  return found[0];
}
const valueOf = (cmd: ContainerCommand, name: string) => {
  const e = envOf(cmd, name);
  expect("value" in e).toBe(true);
  return (e as { value: string }).value;
};
const names = (cmd: ContainerCommand) => cmd.env.map((e) => e.name);

describe("oauth2ProxyCommand (pure)", () => {
  const config = envConfig("staging");
  const cmd = commandOf(config, { upstream });

  it("runs the official image at the pinned version, with its own entrypoint and no arguments", () => {
    expect(cmd.image).toBe("quay.io/oauth2-proxy/oauth2-proxy:v7.15.6-alpine");
    expect(cmd.command).toEqual(["/bin/oauth2-proxy"]);
    expect(cmd.args).toEqual([]);
    expect(cmd.ports).toEqual({ http: 4180, metrics: 44180 });
  });

  it("follows auth.proxyVersion", () => {
    expect(commandOf(envConfig("dev", { auth: { proxyVersion: "7.15.9" } }), { upstream }).image).toBe(
      "quay.io/oauth2-proxy/oauth2-proxy:v7.15.9-alpine",
    );
  });

  it("uses the oidc provider with the configured issuer and client id, PKCE S256, the callback on the public hostname", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_PROVIDER")).toBe("oidc");
    expect(valueOf(cmd, "OAUTH2_PROXY_OIDC_ISSUER_URL")).toBe("https://login.example.com/realms/ml");
    expect(valueOf(cmd, "OAUTH2_PROXY_CLIENT_ID")).toBe("mlflow-staging");
    expect(valueOf(cmd, "OAUTH2_PROXY_CODE_CHALLENGE_METHOD")).toBe("S256");
    expect(valueOf(cmd, "OAUTH2_PROXY_REDIRECT_URL")).toBe("https://mlflow-staging.example.com/oauth2/callback");
    expect(valueOf(cmd, "OAUTH2_PROXY_SCOPE")).toBe("openid email profile groups");
    expect(valueOf(cmd, "OAUTH2_PROXY_OIDC_GROUPS_CLAIM")).toBe("groups");
  });

  it("takes both secrets from Kubernetes Secret references, never as values or arguments", () => {
    // The shipped environments keep the client secret in Secrets Manager; the construct copies it into this Secret.
    expect(envOf(cmd, "OAUTH2_PROXY_CLIENT_SECRET")).toEqual({
      name: "OAUTH2_PROXY_CLIENT_SECRET",
      secretKeyRef: { name: "oauth2-proxy-oidc-client", key: "client-secret" },
    });
    const operatorSecret = envConfig("staging", {
      auth: { clientSecret: { source: "kubernetes", secretName: "oauth2-proxy-client", key: "client-secret" } },
    });
    expect(envOf(commandOf(operatorSecret, { upstream }), "OAUTH2_PROXY_CLIENT_SECRET")).toEqual({
      name: "OAUTH2_PROXY_CLIENT_SECRET",
      secretKeyRef: { name: "oauth2-proxy-client", key: "client-secret" },
    });
    expect(envOf(cmd, "OAUTH2_PROXY_COOKIE_SECRET")).toEqual({
      name: "OAUTH2_PROXY_COOKIE_SECRET",
      secretKeyRef: { name: "oauth2-proxy-cookie", key: "cookie-secret" },
    });
    const secretish = cmd.env.filter((e) => /SECRET|PASSWORD|TOKEN$/.test(e.name) && !e.name.startsWith("OAUTH2_PROXY_SKIP_JWT"));
    expect(secretish.map((e) => e.name).sort()).toEqual(["OAUTH2_PROXY_CLIENT_SECRET", "OAUTH2_PROXY_COOKIE_SECRET"]);
    expect(secretish.every((e) => "secretKeyRef" in e)).toBe(true);
    expect([...cmd.command, ...cmd.args].join(" ")).not.toMatch(/secret/i);
  });

  it("reads a Secrets Manager client secret from the Secret the construct fills", () => {
    const sm = envConfig("staging", {
      auth: { clientSecret: { source: "secrets-manager", secretArn: "arn:aws:secretsmanager:eu-west-1:222222222222:secret:oidc-AbCdEf" } },
    });
    expect(envOf(commandOf(sm, { upstream }), "OAUTH2_PROXY_CLIENT_SECRET")).toEqual({
      name: "OAUTH2_PROXY_CLIENT_SECRET",
      secretKeyRef: { name: "oauth2-proxy-oidc-client", key: "client-secret" },
    });
    expect(authProxySecretRefs(sm.auth.clientSecret).clientSecret).toEqual({ name: "oauth2-proxy-oidc-client", key: "client-secret" });
  });

  it("uses secrets passed in explicitly", () => {
    const c = commandOf(config, { upstream, secrets: { cookieSecret: { name: "c", key: "k1" }, clientSecret: { name: "s", key: "k2" } } });
    expect(envOf(c, "OAUTH2_PROXY_COOKIE_SECRET")).toMatchObject({ secretKeyRef: { name: "c", key: "k1" } });
    expect(envOf(c, "OAUTH2_PROXY_CLIENT_SECRET")).toMatchObject({ secretKeyRef: { name: "s", key: "k2" } });
  });

  it("limits sign-in to the configured e-mail domains, and sets no group limit when none is configured", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_EMAIL_DOMAINS")).toBe("example.com");
    expect(names(cmd)).not.toContain("OAUTH2_PROXY_ALLOWED_GROUPS");
  });

  it("with groups only and the named choice allowAnyEmailDomain, opens the domain check and limits by group", () => {
    const c = commandOf(
      envConfig("staging", { auth: { allowedEmailDomains: [], allowedGroups: ["ml-users", "ml-admins"], allowAnyEmailDomain: true } }),
      { upstream },
    );
    expect(valueOf(c, "OAUTH2_PROXY_EMAIL_DOMAINS")).toBe("*");
    expect(valueOf(c, "OAUTH2_PROXY_ALLOWED_GROUPS")).toBe("ml-users,ml-admins");
  });

  it("with domains and groups, requires both", () => {
    const c = commandOf(envConfig("staging", { auth: { allowedEmailDomains: ["a.com", "b.org"], allowedGroups: ["ml"] } }), { upstream });
    expect(valueOf(c, "OAUTH2_PROXY_EMAIL_DOMAINS")).toBe("a.com,b.org");
    expect(valueOf(c, "OAUTH2_PROXY_ALLOWED_GROUPS")).toBe("ml");
  });

  it('never derives "*" from an empty domain list, nor passes a "*" value: a hand-made configuration is refused', () => {
    const groupsOnly = {
      ...config,
      auth: { ...config.auth, allowedEmailDomains: [], allowedGroups: ["ml"], allowAnyEmailDomain: false },
    } as EnvironmentConfig;
    expect(() => commandOf(groupsOnly, { upstream })).toThrow(
      /allowedEmailDomains is \[\]: expected at least one domain, or allowAnyEmailDomain: true/,
    );
    const star = { ...config, auth: { ...config.auth, allowedEmailDomains: ["*"] } } as EnvironmentConfig;
    expect(() => commandOf(star, { upstream })).toThrow(/set allowAnyEmailDomain: true instead/);
  });

  it("passes the verified identity to MLflow (X-Forwarded-Email, which the tracking server's guard checks)", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_PASS_USER_HEADERS")).toBe("true");
  });

  it("refuses a hand-made configuration that allows nobody explicitly (deny by default)", () => {
    const open = { ...config, auth: { ...config.auth, allowedEmailDomains: [], allowedGroups: [] } } as EnvironmentConfig;
    expect(() => commandOf(open, { upstream })).toThrow(
      /allowedEmailDomains is \[\]: expected at least one domain, or a group in allowedGroups/,
    );
  });

  it("accepts pipelines' bearer tokens, with extra issuer=audience pairs, and answers 403 (not a login page) to a bad one", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS")).toBe("true");
    expect(valueOf(cmd, "OAUTH2_PROXY_BEARER_TOKEN_LOGIN_FALLBACK")).toBe("false");
    expect(names(cmd)).not.toContain("OAUTH2_PROXY_EXTRA_JWT_ISSUERS");
    const c = commandOf(
      envConfig("staging", {
        auth: {
          extraJwtIssuers: [
            { issuer: "https://token.actions.githubusercontent.com", audience: "mlflow" },
            { issuer: "https://gitlab.example.com", audience: "mlflow-ci" },
          ],
        },
      }),
      { upstream },
    );
    expect(valueOf(c, "OAUTH2_PROXY_EXTRA_JWT_ISSUERS")).toBe(
      "https://token.actions.githubusercontent.com=mlflow,https://gitlab.example.com=mlflow-ci",
    );
  });

  it("answers 401 on MLflow's REST and AJAX API paths instead of redirecting", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_API_ROUTES")).toBe("^/api/,^/ajax-api/");
  });

  it("keeps sessions in a secure, HttpOnly, SameSite=Lax, host-only cookie with the configured lifetime and refresh", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_SESSION_STORE_TYPE")).toBe("cookie");
    expect(valueOf(cmd, "OAUTH2_PROXY_COOKIE_NAME")).toBe("__Host-mlflow-auth");
    expect(valueOf(cmd, "OAUTH2_PROXY_COOKIE_SECURE")).toBe("true");
    expect(valueOf(cmd, "OAUTH2_PROXY_COOKIE_HTTPONLY")).toBe("true");
    expect(valueOf(cmd, "OAUTH2_PROXY_COOKIE_SAMESITE")).toBe("lax");
    expect(valueOf(cmd, "OAUTH2_PROXY_COOKIE_EXPIRE")).toBe("12h");
    expect(valueOf(cmd, "OAUTH2_PROXY_COOKIE_REFRESH")).toBe("60m");
    expect(names(cmd)).not.toContain("OAUTH2_PROXY_COOKIE_DOMAINS");
    const c = commandOf(envConfig("staging", { auth: { cookieExpireHours: 8, cookieRefreshMinutes: 15 } }), { upstream });
    expect(valueOf(c, "OAUTH2_PROXY_COOKIE_EXPIRE")).toBe("8h");
    expect(valueOf(c, "OAUTH2_PROXY_COOKIE_REFRESH")).toBe("15m");
  });

  it("keeps the Secure flag and the __Host- prefix in a local test profile too (it only allows a plain-HTTP issuer)", () => {
    const local = envConfig("dev", { auth: { localTestProfile: true, issuerUrl: "http://127.0.0.1:9999/oidc" } });
    const c = commandOf(local, { upstream });
    expect(valueOf(c, "OAUTH2_PROXY_COOKIE_SECURE")).toBe("true");
    expect(valueOf(c, "OAUTH2_PROXY_COOKIE_NAME")).toBe("__Host-mlflow-auth");
  });

  it("forwards to the tracking server's Service with the original Host, waiting as long as the load balancer's idle timeout", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_UPSTREAMS")).toBe("http://mlflow-tracking.mlflow.svc:5000/");
    expect(valueOf(cmd, "OAUTH2_PROXY_PASS_HOST_HEADER")).toBe("true");
    expect(valueOf(cmd, "OAUTH2_PROXY_UPSTREAM_TIMEOUT")).toBe("600s");
    const c = commandOf(envConfig("staging", { ingress: { idleTimeoutSeconds: 1800 } }), { upstream: { ...upstream, port: 8080 } });
    expect(valueOf(c, "OAUTH2_PROXY_UPSTREAM_TIMEOUT")).toBe("1800s");
    expect(valueOf(c, "OAUTH2_PROXY_UPSTREAMS")).toBe("http://mlflow-tracking.mlflow.svc:8080/");
  });

  it("trusts X-Forwarded-* only from the VPC, listens on all interfaces, serves metrics on its own port, has probe paths", () => {
    expect(valueOf(cmd, "OAUTH2_PROXY_REVERSE_PROXY")).toBe("true");
    expect(valueOf(cmd, "OAUTH2_PROXY_TRUSTED_PROXY_IPS")).toBe("10.0.0.0/16");
    expect(valueOf(cmd, "OAUTH2_PROXY_REAL_CLIENT_IP_HEADER")).toBe("X-Forwarded-For");
    expect(valueOf(cmd, "OAUTH2_PROXY_HTTP_ADDRESS")).toBe(`0.0.0.0:${AUTH_PROXY_PORT}`);
    expect(valueOf(cmd, "OAUTH2_PROXY_METRICS_ADDRESS")).toBe(`0.0.0.0:${AUTH_PROXY_METRICS_PORT}`);
    expect(valueOf(cmd, "OAUTH2_PROXY_PING_PATH")).toBe("/ping");
    expect(valueOf(cmd, "OAUTH2_PROXY_READY_PATH")).toBe("/ready");
    const c = commandOf(envConfig("staging", { ingress: { vpcCidrs: ["10.0.0.0/16", "100.64.0.0/16"] } }), { upstream });
    expect(valueOf(c, "OAUTH2_PROXY_TRUSTED_PROXY_IPS")).toBe("10.0.0.0/16,100.64.0.0/16");
  });

  it("names every address in AUTH_PROXY_ADDRESS_ENV (what a harness may swap), and each is set or optional", () => {
    for (const name of Object.values(AUTH_PROXY_ADDRESS_ENV)) {
      if (name === AUTH_PROXY_ADDRESS_ENV.extraJwtIssuers) continue;
      expect(names(cmd)).toContain(name);
    }
  });

  it("has unique variable names, all OAUTH2_PROXY_*", () => {
    expect(new Set(names(cmd)).size).toBe(cmd.env.length);
    expect(names(cmd).every((n) => n.startsWith("OAUTH2_PROXY_"))).toBe(true);
  });

  it("gives pods stable labels (no version: a selector never changes)", () => {
    expect(authProxyPodLabels(config.project)).toEqual({
      "app.kubernetes.io/name": "oauth2-proxy",
      "app.kubernetes.io/component": "auth-proxy",
      "app.kubernetes.io/part-of": "mlflow",
    });
    expect(authProxyPodLabels(envConfig("dev", { auth: { proxyVersion: "7.16.0" } }).project)).toEqual(authProxyPodLabels(config.project));
  });
});

// ── The same command, run by the real oauth2-proxy binary (v7.15.6) on loopback ────────────────────

interface Run {
  code: number | null;
  output: string;
}

function run(argv: string[], env: Record<string, string>, timeoutMs = 15000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timed out: ${output}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Values for the Secret references: placeholders generated per run, never committed. */
const cookieSecret = crypto.randomBytes(32).toString("base64url");
const resolveRef = (e: EnvVar) => {
  if ("secretKeyRef" in e) return e.secretKeyRef.key === "cookie-secret" ? cookieSecret : "placeholder-client-secret";
  throw new Error(`unexpected reference ${e.name}`);
};

/**
 * The process Kubernetes would start, with only addresses swapped for loopback ones: what the e2e
 * harness does too. The issuer is the stub's, set after validation so the configuration keeps its
 * HTTPS-only rules (secure cookies) while the binary talks to a loopback issuer.
 */
function localProcess(config: EnvironmentConfig, oidc: OidcStub, up: RecordingUpstream, port: number, metricsPort: number) {
  const cfg = { ...config, auth: { ...config.auth, issuerUrl: oidc.issuer } };
  const cmd = commandOf(cfg, { upstream });
  const p = renderProcess(cmd, resolveRef);
  expect(p.argv).toEqual(["/bin/oauth2-proxy"]);
  return {
    argv: [oauth2ProxyBin()],
    env: {
      ...p.env,
      [AUTH_PROXY_ADDRESS_ENV.httpAddress]: `127.0.0.1:${port}`,
      [AUTH_PROXY_ADDRESS_ENV.metricsAddress]: `127.0.0.1:${metricsPort}`,
      [AUTH_PROXY_ADDRESS_ENV.upstream]: up.url,
    },
  };
}

/** The env as an oauth2-proxy TOML config file: its loader refuses unknown keys, so a misspelt variable fails. */
function asTomlConfig(env: Record<string, string>): string {
  return (
    Object.entries(env)
      .map(([k, v]) => `${k.replace(/^OAUTH2_PROXY_/, "").toLowerCase()} = ${JSON.stringify(v)}`)
      .join("\n") + "\n"
  );
}

describe("the real oauth2-proxy binary accepts and enforces the command", () => {
  jest.setTimeout(60000);
  let oidc: OidcStub;
  let up: RecordingUpstream;
  let dir: string;
  beforeAll(async () => {
    oidc = await startOidcStub();
    up = await startRecordingUpstream();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "oauth2-proxy-test-"));
  });
  afterAll(async () => {
    await oidc?.close();
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each(SHIPPED)("--config-test passes for %s (through the environment, as Kubernetes passes it)", async (name) => {
    const p = localProcess(configured(name), oidc, up, 4180, 44180);
    const r = await run([...p.argv, "--config-test"], p.env);
    expect(r.output).toMatch(/configuration is valid/);
    expect(r.code).toBe(0);
  });

  it("knows every variable name (as a config file, whose loader refuses unknown keys)", async () => {
    const config = envConfig("staging", {
      auth: { allowedGroups: ["ml"], extraJwtIssuers: [{ issuer: "https://ci.example.com", audience: "mlflow" }] },
    });
    const p = localProcess(config, oidc, up, 4180, 44180);
    const file = path.join(dir, "known.toml");
    fs.writeFileSync(file, asTomlConfig(p.env), { mode: 0o600 });
    const r = await run([...p.argv, "--config-test", "--config", file], {});
    expect(r.output).toMatch(/configuration is valid/);
    expect(r.code).toBe(0);
  });

  it("the config-file check fails on a misspelt variable (so the check above can fail)", async () => {
    const p = localProcess(envConfig("staging"), oidc, up, 4180, 44180);
    const file = path.join(dir, "typo.toml");
    fs.writeFileSync(file, asTomlConfig({ ...p.env, OAUTH2_PROXY_COOKIE_SECRUE: "true" }), { mode: 0o600 });
    const r = await run([...p.argv, "--config-test", "--config", file], {});
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/invalid keys: cookie_secrue/);
  });

  it("parses lists and durations as meant (the proxy's own view of its configuration)", async () => {
    const config = envConfig("staging", {
      auth: { allowedEmailDomains: [], allowedGroups: ["ml-users", "ml-admins"], allowAnyEmailDomain: true },
      ingress: { idleTimeoutSeconds: 900 },
    });
    const p = localProcess(config, oidc, up, 4180, 44180);
    const r = await run([...p.argv, "--convert-config-to-alpha"], p.env);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/allowedGroups:\n\s+- ml-users\n\s+- ml-admins\n/);
    expect(r.output).toMatch(/code_challenge_method: S256/);
    expect(r.output).toMatch(/scope: openid email profile groups/);
    expect(r.output).toMatch(/timeout: 15m0s/);
    expect(r.output).toMatch(/passHostHeader: true/);
    expect(r.output).toMatch(/metricsServer:\n\s+bindAddress: 127\.0\.0\.1:44180/);
  });

  it("refuses to start with a cookie secret of the wrong length (so the generated one must be 32 bytes)", async () => {
    const p = localProcess(envConfig("staging"), oidc, up, 4180, 44180);
    const r = await run([...p.argv, "--config-test"], { ...p.env, OAUTH2_PROXY_COOKIE_SECRET: "too-short" });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/cookie_secret must be 16, 24, or 32 bytes/);
  });

  describe("running on loopback", () => {
    const config = envConfig("staging", { auth: { allowedGroups: ["ml-users"] } });
    let child: ReturnType<typeof spawn> | undefined;
    let port = 0;
    let metricsPort = 0;
    let output = "";

    beforeAll(async () => {
      port = await freePort();
      metricsPort = await freePort();
      const p = localProcess(config, oidc, up, port, metricsPort);
      child = spawn(p.argv[0], p.argv.slice(1), { env: p.env });
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      for (let i = 0; i < 100; i++) {
        try {
          if ((await fetch(`http://127.0.0.1:${port}/ping`)).ok) return;
        } catch {
          /* not up yet */
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`oauth2-proxy did not start: ${output}`);
    });
    afterAll(() => {
      child?.kill("SIGTERM");
    });

    const get = (p: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${port}${p}`, { headers, redirect: "manual" });
    const token = (claims: Record<string, unknown>) =>
      oidc.sign({ sub: "u1", aud: "mlflow-staging", email: "jane@example.com", email_verified: true, groups: ["ml-users"], ...claims });

    it("answers /ping and /ready", async () => {
      expect((await get("/ping")).status).toBe(200);
      expect((await get("/ready")).status).toBe(200);
    });

    it("answers 401 without credentials on the MLflow REST and AJAX APIs, and never reaches the upstream", async () => {
      const before = up.requests.length;
      expect((await get("/api/2.0/mlflow/experiments/search")).status).toBe(401);
      expect((await get("/ajax-api/2.0/mlflow/experiments/search")).status).toBe(401);
      expect(up.requests.length).toBe(before);
    });

    it("redirects a browser to the issuer with PKCE S256 and the public callback", async () => {
      const r = await get("/");
      expect(r.status).toBe(302);
      const location = new URL(r.headers.get("location")!);
      expect(`${location.origin}${location.pathname}`).toBe(`${oidc.issuer}/protocol/openid-connect/auth`);
      expect(location.searchParams.get("code_challenge_method")).toBe("S256");
      expect(location.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(location.searchParams.get("redirect_uri")).toBe("https://mlflow-staging.example.com/oauth2/callback");
      expect(location.searchParams.get("client_id")).toBe("mlflow-staging");
      const csrf = r.headers.get("set-cookie")!;
      expect(csrf).toMatch(/^__Host-mlflow-auth_csrf=/);
      expect(csrf).toMatch(/; Secure/);
      expect(csrf).toMatch(/; HttpOnly/);
      expect(csrf).toMatch(/; SameSite=Lax/);
    });

    it("lets a pipeline's bearer token (audience = client id, allowed domain and group) through, with the original Host", async () => {
      // fetch() cannot set Host: use a raw request, as the load balancer would send it.
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get(
            {
              host: "127.0.0.1",
              port,
              path: "/api/2.0/mlflow/experiments/search",
              headers: { authorization: `Bearer ${token({})}`, host: "mlflow-staging.example.com" },
            },
            (res) => {
              let body = "";
              res.on("data", (d) => (body += d));
              res.on("end", () => resolve({ status: res.statusCode!, body }));
            },
          )
          .on("error", reject);
      });
      expect(r.status).toBe(200);
      expect(r.body).toBe("upstream");
      const last = up.requests[up.requests.length - 1];
      expect(last.path).toBe("/api/2.0/mlflow/experiments/search");
      expect(last.headers["x-forwarded-email"]).toBe("jane@example.com");
      expect(last.headers.host).toBe("mlflow-staging.example.com");
    });

    it.each([
      ["another audience", { aud: "someone-else" }],
      ["an e-mail outside the allowed domains", { email: "mallory@evil.example" }],
      ["no allowed group", { groups: ["finance"] }],
      ["an expired token", { exp: Math.floor(Date.now() / 1000) - 60 }],
      // oauth2-proxy then checks the subject against the e-mail domains: a service token needs an e-mail claim here.
      ["no e-mail claim while e-mail domains are configured", { email: undefined, email_verified: undefined }],
    ])("refuses a token with %s (403, no redirect) and never reaches the upstream", async (_what, claims) => {
      const before = up.requests.length;
      const r = await get("/api/2.0/mlflow/experiments/search", { authorization: `Bearer ${token(claims)}` });
      expect(r.status).toBe(403);
      expect(r.headers.get("location")).toBeNull();
      expect(up.requests.length).toBe(before);
    });

    it("refuses a token signed by another key", async () => {
      const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
      const forged = oidc.sign(
        { sub: "u1", aud: "mlflow-staging", email: "jane@example.com", email_verified: true, groups: ["ml-users"] },
        privateKey,
      );
      expect((await get("/api/2.0/mlflow/experiments/search", { authorization: `Bearer ${forged}` })).status).toBe(403);
    });

    it("serves Prometheus metrics on the metrics port only", async () => {
      const m = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(m.status).toBe(200);
      expect(await m.text()).toMatch(/oauth2_proxy_requests_total\{code="200"\}/);
      expect((await get("/metrics")).status).not.toBe(200);
    });
  });
});
