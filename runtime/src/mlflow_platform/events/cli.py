"""``mlflow-platform events serve``: runs the registry events service until SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from .settings import SettingsError, load


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Only fields passed explicitly are logged: never a request, a header
    or a settings object (which would carry secrets)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = record.exc_info[0].__name__
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would print every probe; its error log goes through the JSON handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mlflow-platform events serve",
        description="Registry events: MLflow webhooks + reconciliation -> Slack, Discord, e-mail, GitHub.",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level.upper())
    log = logging.getLogger("mlflow_platform.events")
    try:
        settings = load()
    except (SettingsError, KeyError) as e:
        log.error("configuration error", extra={"fields": {"error": str(e)}})
        return 2

    import uvicorn
    from mlflow.tracking import MlflowClient

    from .service import Service

    service = Service(settings, MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri))
    service.start()
    log.info(
        "listening",
        extra={
            "fields": {
                "host": settings.listen_host,
                "port": settings.port,
                "tracking_uri": settings.tracking_uri,
                "channels": [c.name for c in settings.channels],
                "reconcile_seconds": settings.reconcile_seconds,
            }
        },
    )
    config = uvicorn.Config(
        service.app(),
        host=settings.listen_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
    # SIGTERM: uvicorn stopped accepting; let the worker finish the event in hand, then exit.
    service.stop()
    log.info("stopped")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(
            "usage: mlflow-platform events serve [--log-level LEVEL]\n"
            "configuration: MLFLOW_EVENTS_CONFIG (JSON) and the secret variables in docs/registry-events.md"
        )
        return 0 if argv else 2
    if argv[0] != "serve":
        print(f"mlflow-platform events: unknown sub-command {argv[0]!r}; expected serve", file=sys.stderr)
        return 2
    return serve(argv[1:])
