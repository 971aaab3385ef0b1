/**
 * TCP_NODELAY on the tracking server's connections (keep-alive latency).
 *
 * With `--workers > 1`, uvicorn (0.54) binds its listening socket itself as `socket.socket(family)`
 * (proto 0, `uvicorn/config.py` `Config.bind_socket`) and hands it to its worker processes. asyncio sets
 * `TCP_NODELAY` on an accepted connection only when the socket's proto is `IPPROTO_TCP`, so the
 * workers' connections keep Nagle's algorithm on. uvicorn writes a response as two sends (headers, then
 * body): on a kept-alive connection the body then waits for the client's delayed ACK, about 40 ms per
 * response. oauth2-proxy keeps its connections to MLflow alive, so in the cluster every request would
 * pay it. (`--workers 1` takes another path, `loop.create_server(host, port)`, and gets the option.)
 *
 * The fix is a `sitecustomize.py` (Python imports it at start-up from the first `sys.path` entry that
 * has one; PYTHONPATH comes first) that sets `TCP_NODELAY` on every TCP socket when it starts
 * listening. Linux copies the option from a listening socket to every connection it accepts, so each
 * worker's connections get it whatever event loop accepts them, and nothing else changes. The module
 * reaches every Python process of the pod (the `mlflow` CLI, uvicorn's supervisor it starts with
 * `python -m uvicorn`, the workers uvicorn spawns) through the inherited PYTHONPATH. The official MLflow
 * image has no `sitecustomize` of its own that this would shadow.
 *
 * docs/runtime.md has the measurements; the e2e asserts them.
 */
import type { EnvVar, MountedFile } from "./command-types";

/** Where the module is mounted (read-only, from a ConfigMap) and what PYTHONPATH names. */
export const PYTHON_SITE_DIR = "/etc/mlflow-platform/python";

/** The ConfigMap key, and the file name Python looks for. */
export const SITECUSTOMIZE_KEY = "sitecustomize.py";

/** The module's source: a ConfigMap's value, loaded by every Python interpreter of the tracking server's pod. */
export const TCP_NODELAY_SITECUSTOMIZE = `# mlflow-platform: TCP_NODELAY on the tracking server's connections. See docs/runtime.md.
# uvicorn --workers > 1 listens on a socket created with proto 0, so asyncio never sets TCP_NODELAY on
# the connections it accepts, and each response on a kept-alive connection waits ~40 ms for a delayed
# ACK. Setting the option on the listening socket is enough: Linux copies it to accepted connections.
import socket as _socket

_listen = _socket.socket.listen


def _listen_nodelay(self, *args):
    if self.type == _socket.SOCK_STREAM and self.family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            self.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
    return _listen(self, *args)


_socket.socket.listen = _listen_nodelay
`;

/** The file the tracking server's container expects: {@link TCP_NODELAY_SITECUSTOMIZE} from `configMapName`. */
export function sitecustomizeFile(configMapName: string): MountedFile {
  return { path: `${PYTHON_SITE_DIR}/${SITECUSTOMIZE_KEY}`, configMapKeyRef: { name: configMapName, key: SITECUSTOMIZE_KEY } };
}

/** PYTHONPATH naming the module's directory. */
export function pythonSiteEnv(): EnvVar {
  return { name: "PYTHONPATH", value: PYTHON_SITE_DIR };
}
