"""``mlflow-platform serve``: the model server; ``mlflow-platform serve build-context``: an image's build context
(context.py); ``mlflow-platform serve smoke``: the release smoke test (smoke.py).

Every flag has an environment variable (``MODEL_SERVER_<FLAG>``), so a container can be configured
either way; flags win.

Exit codes (the table in :mod:`mlflow_platform.common.errors`): 0 stopped by SIGTERM, 1 the model failed to
load, 2 bad flags (the log names which).
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from mlflow_platform.common.command import ArgumentParser, run_command
from mlflow_platform.common.errors import BadInput


def _env(name: str, default):
    return os.environ.get(f"MODEL_SERVER_{name.upper().replace('-', '_')}", default)


def serve_parser() -> ArgumentParser:
    p = ArgumentParser(prog="mlflow-platform serve", description="Serve one MLflow model (pyfunc) over HTTP.")
    p.add_argument("--model-dir", default=_env("model-dir", "/opt/model"), help="Directory with the MLmodel file.")
    p.add_argument(
        "--model-name",
        default=_env("model-name", None),
        help="Registered model name (reported in answers and metrics).",
    )
    p.add_argument("--model-version", default=_env("model-version", None), help="Registered model version.")
    p.add_argument("--host", default=_env("host", "0.0.0.0"))  # noqa: S104 - a container listens on its pod IP
    p.add_argument("--port", type=int, default=int(_env("port", 8080)))
    p.add_argument(
        "--max-concurrency",
        type=int,
        default=int(_env("max-concurrency", 8)),
        help="Requests this pod works on at once; more get 429 with Retry-After.",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(_env("max-body-bytes", 1_048_576)),
        help="Largest request body; larger gets 413.",
    )
    p.add_argument(
        "--caller-header",
        default=_env("caller-header", "X-Caller-Id"),
        help="Header naming the authenticated caller, set (overwritten) by the gateway; the per-caller limit "
        "is keyed on it.",
    )
    p.add_argument(
        "--caller-rate",
        type=float,
        default=float(_env("caller-rate", 50)),
        help="Requests per second per caller, on average.",
    )
    p.add_argument("--caller-burst", type=int, default=int(_env("caller-burst", 100)), help="Burst per caller.")
    p.add_argument(
        "--request-timeout",
        type=float,
        default=float(_env("request-timeout", 30)),
        help="Seconds a prediction may take (504 after); the body has its own --body-timeout.",
    )
    p.add_argument(
        "--keep-alive-timeout",
        type=int,
        default=int(_env("keep-alive-timeout", 75)),
        help="Idle keep-alive seconds; above the load balancer's idle timeout so the server never closes first.",
    )
    p.add_argument(
        "--drain-seconds",
        type=float,
        default=float(_env("drain-seconds", 5)),
        help="After SIGTERM, seconds /readyz (and /ping) answer 503 while requests are still served, before the server "
        "stops accepting.",
    )
    p.add_argument(
        "--graceful-shutdown-seconds",
        type=int,
        default=int(_env("graceful-shutdown-seconds", 20)),
        help="After draining, seconds in-flight requests get to finish.",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=float(_env("body-timeout", 10)),
        help="Seconds a request body gets to arrive (408 after); no prediction slot is held meanwhile.",
    )
    p.add_argument(
        "--max-uploads-per-caller",
        type=int,
        default=int(_env("max-uploads-per-caller", 8)),
        help="Request bodies one caller may be sending at once; more get 429.",
    )
    p.add_argument(
        "--admin-port",
        type=int,
        default=int(_env("admin-port", 0)) or None,
        help="Port serving liveness (/healthz, /health) and /metrics (Prometheus, the kubelet), which the traffic "
        "port then does not serve. Default: none, every route on --port.",
    )
    p.add_argument(
        "--allowed-email-domains",
        default=_env("allowed-email-domains", ""),
        help="Comma-separated e-mail domains the caller (the caller header, set by the gateway from the "
        "verified token) must belong to; with this, --any-email-domain or --allowed-groups every prediction "
        "needs an allowed identity (403 otherwise).",
    )
    p.add_argument(
        "--any-email-domain",
        action="store_true",
        default=_env("any-email-domain", "false").lower() == "true",
        help="Any e-mail domain (the groups decide): a named choice, needs --allowed-groups.",
    )
    p.add_argument(
        "--allowed-groups",
        default=_env("allowed-groups", ""),
        help="Comma-separated groups of which the caller must be in one (the groups header).",
    )
    p.add_argument(
        "--groups-header",
        default=_env("groups-header", "X-Forwarded-Groups"),
        help="Header the gateway sets (overwrites) with the verified token's groups.",
    )
    p.add_argument(
        "--internal-callers",
        default=_env("internal-callers", ""),
        help="Comma-separated caller ids admitted without the identity rule (the release's smoke test; "
        "never an address).",
    )
    p.add_argument(
        "--class-names",
        default=_env("class-names", ""),
        help="Comma-separated names of the classes; /predict then adds labels.",
    )
    from .observability import add_arguments

    add_arguments(p, _env)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "build-context":
        from . import context

        return run_command(context.parser(), context.run, argv[1:])
    if argv and argv[0] == "smoke":
        from . import smoke

        return run_command(smoke.parser(), smoke.run, argv[1:])
    return run_command(serve_parser(), serve, argv)


def serve(args) -> int:
    if not args.model_name or not args.model_version:
        raise BadInput("--model-name and --model-version are required (or MODEL_SERVER_MODEL_NAME/_VERSION)")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    import uvicorn

    from .app import ModelServer, ServerConfig
    from .identity import IdentityPolicy
    from .inference_log import KEY_ENV

    names = lambda v: [x.strip() for x in v.split(",") if x.strip()]  # noqa: E731
    identity = None
    if args.allowed_email_domains or args.any_email_domain or args.allowed_groups:
        try:
            identity = IdentityPolicy.of(
                names(args.allowed_email_domains),
                args.any_email_domain,
                names(args.allowed_groups),
                names(args.internal_callers),
            )
        except ValueError as e:
            raise BadInput(str(e)) from None
    if args.admin_port is not None and args.admin_port == args.port:
        raise BadInput("--admin-port must differ from --port")
    config = ServerConfig(
        model_dir=args.model_dir,
        model_name=args.model_name,
        model_version=str(args.model_version),
        max_concurrency=args.max_concurrency,
        max_body_bytes=args.max_body_bytes,
        caller_header=args.caller_header,
        caller_rate=args.caller_rate,
        caller_burst=args.caller_burst,
        request_timeout=args.request_timeout,
        class_names=tuple(c.strip() for c in args.class_names.split(",") if c.strip()),
        drain_seconds=args.drain_seconds,
        identity=identity,
        groups_header=args.groups_header,
        body_timeout=args.body_timeout,
        max_uploads_per_caller=args.max_uploads_per_caller,
        admin_port=args.admin_port,
        log_key=os.environ.get(KEY_ENV, "").encode() or None,
    )
    app = ModelServer(config)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame) -> None:
            # First SIGTERM: not ready (endpoints drop the pod), keep serving for drain_seconds, then
            # uvicorn's own graceful shutdown (stop accepting, finish in-flight requests).
            if sig == signal.SIGTERM and not app.draining and config.drain_seconds > 0:
                app.drain()
                threading.Timer(config.drain_seconds, super().handle_exit, (sig, frame)).start()
                return
            app.drain()
            super().handle_exit(sig, frame)

    server = Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=args.keep_alive_timeout,
            timeout_graceful_shutdown=args.graceful_shutdown_seconds,
            server_header=False,
            date_header=False,
        )
    )

    def loaded() -> None:
        if app.failed:
            server.should_exit = True

    app.on_loaded = loaded
    from .observability import install

    try:
        inference_log = install(app, args)
    except ValueError as e:  # an obfuscation rule the server cannot apply: refuse to start, say why
        raise BadInput(str(e)) from None
    app.start_loading()
    # One server, one or two listening sockets: the app tells the admin port's requests by their local port.
    sockets = [_listen(args.host, args.port)]
    if args.admin_port is not None:
        sockets.append(_listen(args.host, args.admin_port))
    server.run(sockets=sockets)
    if inference_log is not None:
        inference_log.close()  # what is queued gets one last flush
    return 1 if app.failed else 0


def _listen(host: str, port: int):
    """A listening TCP socket for uvicorn. Made with ``IPPROTO_TCP`` and ``TCP_NODELAY``: asyncio sets
    ``TCP_NODELAY`` on an accepted connection only when the socket's proto is ``IPPROTO_TCP`` (a socket made
    as ``socket(family)`` has proto 0), and uvicorn writes a response as two sends (headers, body), so a
    kept-alive client would wait for its delayed ACK, about 40 ms per response (measured: 0.19x the
    throughput). Linux also copies the option from the listening socket to every accepted connection."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
