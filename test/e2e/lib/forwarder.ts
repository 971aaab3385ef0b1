/**
 * Loopback stand-ins for the two pieces of network the cluster provides and this machine lacks:
 *
 * - "alb": the load balancer in front of the Ingress. Clients reach the public hostname through it;
 *   it terminates TLS and forwards to the proxy Service with the Host header of the public name and
 *   X-Forwarded-Proto/Port/For, as the AWS Load Balancer Controller's ALB does. Client headers pass
 *   through unchanged (so spoofed X-Forwarded-Email reaches the proxy, as it would). Given `tls`, the
 *   listener speaks HTTPS with that certificate (what a browser needs for the public name); without
 *   it, plain HTTP on loopback stands for the already-terminated connection (the HTTP-level clients).
 * - "dns": an in-cluster Service name (`mlflow.mlflow.svc.cluster.local:5000`). A client given the
 *   substituted loopback URL would send `Host: 127.0.0.1:<port>`; with DNS it would have sent the
 *   Service name, so that is what the stand-in restores. An explicit Host a client chose is kept.
 */
import * as http from "http";
import * as https from "https";
import type { AddressInfo } from "net";
import { LOOPBACK } from "./net";

export interface Forwarder {
  readonly port: number;
  readonly url: string;
  requests: number;
  close(): Promise<void>;
}

/** A certificate and its private key, PEM. */
export interface TlsKeyPair {
  readonly cert: string;
  readonly key: string;
}

export async function startForwarder(mode: "alb" | "dns", originalAuthority: string, targetPort: number, tls?: TlsKeyPair): Promise<Forwarder> {
  if (tls && mode !== "alb") throw new Error("only the load balancer stand-in terminates TLS");
  let selfAuthority = "";
  const handler: http.RequestListener = (req, res) => {
    fwd.requests++;
    const headers = { ...req.headers };
    if (mode === "alb") {
      headers.host = originalAuthority;
      headers["x-forwarded-proto"] = "https";
      headers["x-forwarded-port"] = "443";
      const prior = req.headers["x-forwarded-for"];
      headers["x-forwarded-for"] = prior ? `${prior}, ${req.socket.remoteAddress}` : req.socket.remoteAddress;
    } else if (!headers.host || headers.host === selfAuthority) {
      headers.host = originalAuthority;
    }
    const upstream = http.request({ host: LOOPBACK, port: targetPort, method: req.method, path: req.url, headers, agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "Content-Type": "text/plain" });
      res.end(`${mode} stand-in: upstream ${LOOPBACK}:${targetPort} failed: ${err.message}`);
    });
    req.pipe(upstream);
  };
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, handler) : http.createServer(handler);
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  selfAuthority = `${LOOPBACK}:${port}`;
  const fwd: Forwarder = {
    port,
    url: `${tls ? "https" : "http"}://${LOOPBACK}:${port}`,
    requests: 0,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  return fwd;
}
