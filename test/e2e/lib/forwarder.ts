/**
 * Loopback stand-ins for the two pieces of network the cluster provides and this machine lacks:
 *
 * - "alb": the load balancer in front of the Ingress. Clients reach the public hostname through it;
 *   it terminates TLS and forwards to the proxy Service with the Host header of the public name and
 *   X-Forwarded-Proto/Port/For, as the AWS Load Balancer Controller's ALB does. Client headers pass
 *   through unchanged (so spoofed X-Forwarded-Email reaches the proxy, as it would). Given `tls`, the
 *   listener speaks HTTPS with that certificate (what a browser needs for the public name); without
 *   it, plain HTTP on loopback stands for the already-terminated connection (the HTTP-level clients).
 * - "dns": an in-cluster Service name (`mlflow.mlflow.svc.cluster.local:5000`): kube-proxy forwards TCP,
 *   one upstream connection per client connection, bytes untouched. So this stand-in is an L4 forwarder:
 *   a client that keeps its connection alive (oauth2-proxy's pool to MLflow) keeps it alive to the server
 *   too, and sees what it would see in the cluster (an HTTP-level stand-in with a new upstream connection
 *   per request hid a 40 ms wait per kept-alive response, see docs/runtime.md). It adds no delay of its
 *   own: Nagle's algorithm is off on both of its sockets (kube-proxy's iptables/IPVS rules hold no socket
 *   at all). Clients send the Host they were given (a loopback address, which MLflow's host check
 *   accepts); the proxy forwards the public Host as in the cluster.
 */
import * as http from "http";
import * as https from "https";
import * as net from "net";
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

/** kube-proxy's part: TCP from a Service address to a pod, one upstream connection per client connection. */
export async function startTcpForwarder(targetPort: number): Promise<Forwarder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (down) => {
    fwd.requests++;
    const up = net.connect({ host: LOOPBACK, port: targetPort, noDelay: true });
    for (const s of [down, up]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const fwd: Forwarder = {
    port,
    url: `http://${LOOPBACK}:${port}`,
    // Connections, not requests: an L4 forwarder does not see requests.
    requests: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return fwd;
}

export async function startForwarder(
  mode: "alb" | "dns",
  originalAuthority: string,
  targetPort: number,
  tls?: TlsKeyPair,
): Promise<Forwarder> {
  if (tls && mode !== "alb") throw new Error("only the load balancer stand-in terminates TLS");
  if (mode === "dns") return startTcpForwarder(targetPort);
  const handler: http.RequestListener = (req, res) => {
    fwd.requests++;
    const headers = { ...req.headers };
    headers.host = originalAuthority;
    headers["x-forwarded-proto"] = "https";
    headers["x-forwarded-port"] = "443";
    const prior = req.headers["x-forwarded-for"];
    headers["x-forwarded-for"] = prior ? `${prior}, ${req.socket.remoteAddress}` : req.socket.remoteAddress;
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
  const fwd: Forwarder = {
    port,
    url: `${tls ? "https" : "http"}://${LOOPBACK}:${port}`,
    requests: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fwd;
}
