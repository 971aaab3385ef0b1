"""``mlflow-platform serve``: the model server; ``mlflow-platform serve build-context``: an image's build context;
``mlflow-platform serve smoke``: the release smoke test (smoke.py).

Every flag has an environment variable (``MODEL_SERVER_<FLAG>``), so a container can be configured
either way; flags win.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading


def _env(name: str, default):
    return os.environ.get(f"MODEL_SERVER_{name.upper().replace('-', '_')}", default)


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlflow-platform serve", description="Serve one MLflow model (pyfunc) over HTTP.")
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
        help="Seconds for a body to arrive and for a prediction to finish (408/504 after).",
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
        help="After SIGTERM, seconds /ping answers 503 while requests are still served, before the server "
        "stops accepting.",
    )
    p.add_argument(
        "--graceful-shutdown-seconds",
        type=int,
        default=int(_env("graceful-shutdown-seconds", 20)),
        help="After draining, seconds in-flight requests get to finish.",
    )
    p.add_argument(
        "--class-names",
        default=_env("class-names", ""),
        help="Comma-separated names of the classes; /predict then adds labels.",
    )
    from .observability import add_arguments

    add_arguments(p, _env)
    return p


def main(argv: list[str]) -> int:
    if argv and argv[0] == "build-context":
        from .context import main as build_context

        return build_context(argv[1:])
    if argv and argv[0] == "smoke":
        from .smoke import main as smoke

        return smoke(argv[1:])
    args = serve_parser().parse_args(argv)
    if not args.model_name or not args.model_version:
        print(
            "mlflow-platform serve: --model-name and --model-version are required"
            " (or MODEL_SERVER_MODEL_NAME/_VERSION)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO, format='{"level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}'
    )
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    import uvicorn

    from .app import ModelServer, ServerConfig

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
        print(f"mlflow-platform serve: {e}", file=sys.stderr)
        return 2
    app.start_loading()
    server.run()
    if inference_log is not None:
        inference_log.close()  # what is queued gets one last flush
    return 1 if app.failed else 0
