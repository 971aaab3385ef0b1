/**
 * A minimal OpenID Connect issuer and a recording upstream, both on loopback, for running the real
 * oauth2-proxy binary in unit tests: discovery document, JWKS, and RS256 tokens signed with a key
 * generated per test run. Nothing here is a secret: every key lives only in this process.
 */
import * as crypto from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";

export interface OidcStub {
  /** `http://127.0.0.1:<port>/realms/test` */
  readonly issuer: string;
  /** Signs a JWT with the issuer's key; `claims` override the defaults (iss, iat, exp). */
  sign(claims: Record<string, unknown>, key?: crypto.KeyObject): string;
  close(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** Starts the stub issuer on a free loopback port. */
export async function startOidcStub(): Promise<OidcStub> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = "test-key";
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };
  let issuer = "";
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const json = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (path.endsWith("/.well-known/openid-configuration")) {
      json({
        issuer,
        authorization_endpoint: `${issuer}/protocol/openid-connect/auth`,
        token_endpoint: `${issuer}/protocol/openid-connect/token`,
        userinfo_endpoint: `${issuer}/protocol/openid-connect/userinfo`,
        jwks_uri: `${issuer}/protocol/openid-connect/certs`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
      });
    } else if (path.endsWith("/protocol/openid-connect/certs")) {
      json({ keys: [jwk] });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realms/test`;
  return {
    issuer,
    sign(claims, key = privateKey) {
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
      const payload = b64url(JSON.stringify({ iss: issuer, iat: now, exp: now + 300, ...claims }));
      const signature = crypto.sign("sha256", Buffer.from(`${header}.${payload}`), key);
      return `${header}.${payload}.${b64url(signature)}`;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface RecordingUpstream {
  readonly url: string;
  readonly port: number;
  /** Headers of every request that reached the upstream, in order. */
  readonly requests: { path: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** An upstream that answers 200 "upstream" to everything and records what reached it. */
export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: { path: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? "", headers: req.headers });
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("upstream");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A free loopback TCP port (bound then released). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
