/**
 * The OpenID provider: test/e2e/mockoidc (github.com/oauth2-proxy/mockoidc behind a small Go main),
 * built by scripts/install-tools.sh. It signs RS256 ID tokens with a key generated at its start.
 */
import * as fs from "fs";
import * as path from "path";
import { LOOPBACK, freePort, request, waitFor, waitForHttp } from "../lib/net";
import type { Processes } from "../lib/processes";

export interface Oidc {
  readonly issuer: string;
  readonly clientId: string;
  /** A token through the real authorization-code flow (authorize -> code -> token endpoint). */
  login(): Promise<{ idToken: string; accessToken: string }>;
  /**
   * A token the negative checks need (other audience, already expired, or signed by an unknown key), or
   * one for another person (email, sub, groups), signed like the provider's own.
   */
  mint(options: {
    aud?: string;
    ttl?: number;
    key?: "other";
    email?: string;
    sub?: string;
    groups?: string[];
    omit?: string[];
  }): Promise<string>;
}

export async function startOidc(
  procs: Processes,
  bin: string,
  runDir: string,
  clientId: string,
  clientSecret: string,
  email: string,
): Promise<Oidc> {
  const secretFile = path.join(runDir, "oidc-client-secret");
  fs.writeFileSync(secretFile, clientSecret, { mode: 0o600 });
  const port = await freePort();
  const proc = procs.start("mockoidc", [
    bin,
    "-addr",
    `${LOOPBACK}:${port}`,
    "-client-id",
    clientId,
    "-client-secret-file",
    secretFile,
    "-email",
    email,
  ]);
  let issuer = "";
  await waitFor(
    "mockoidc",
    async () => {
      const m = /^issuer=(\S+)$/m.exec(fs.readFileSync(proc.logFile, "utf8"));
      if (m) issuer = m[1];
      return issuer !== "";
    },
    proc,
    30_000,
  );
  await waitForHttp(`${issuer}/.well-known/openid-configuration`, proc, 30_000, 200);
  const base = issuer.replace(/\/oidc$/, "");

  return {
    issuer,
    clientId,
    async login() {
      const redirectUri = "http://127.0.0.1/cli-callback";
      const q = new URLSearchParams({
        client_id: clientId,
        response_type: "code",
        scope: "openid email profile groups",
        state: "e2e",
        redirect_uri: redirectUri,
      });
      const auth = await request(`${issuer}/authorize?${q}`, { caller: "probe" });
      const location = auth.headers.location;
      if (auth.status !== 302 || !location) throw new Error(`authorize answered ${auth.status}: ${auth.body.slice(0, 200)}`);
      const code = new URL(location).searchParams.get("code");
      if (!code) throw new Error(`authorize redirect carries no code: ${location}`);
      const form = new URLSearchParams({
        grant_type: "authorization_code",
        code,
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uri: redirectUri,
      });
      const tok = await request(`${issuer}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
        caller: "probe",
      });
      if (tok.status !== 200) throw new Error(`token endpoint answered ${tok.status}: ${tok.body.slice(0, 200)}`);
      const body = JSON.parse(tok.body) as { id_token?: string; access_token?: string };
      if (!body.id_token) throw new Error("token endpoint returned no id_token");
      return { idToken: body.id_token, accessToken: body.access_token ?? "" };
    },
    async mint(options) {
      const form = new URLSearchParams();
      if (options.aud) form.set("aud", options.aud);
      if (options.ttl !== undefined) form.set("ttl", String(options.ttl));
      if (options.key) form.set("key", options.key);
      if (options.email) form.set("email", options.email);
      if (options.sub) form.set("sub", options.sub);
      if (options.groups) form.set("groups", options.groups.join(","));
      if (options.omit) form.set("omit", options.omit.join(","));
      const res = await request(`${base}/e2e/mint`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
        caller: "probe",
      });
      if (res.status !== 200) throw new Error(`mint answered ${res.status}: ${res.body}`);
      return (JSON.parse(res.body) as { id_token: string }).id_token;
    },
  };
}

/** The claims of a JWT (no verification: for logging and checks only). */
export function claims(jwt: string): Record<string, any> {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}
