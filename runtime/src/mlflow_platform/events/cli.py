"""``mlflow-platform events serve [--log-level LEVEL]``: runs the registry events service until SIGTERM.

Exit codes (the table in :mod:`mlflow_platform.common.errors`): 0 stopped by SIGTERM, 2 the configuration or a
secret is missing or wrong (the log names which).
"""

from __future__ import annotations

import logging
import sys

from mlflow_platform.common.command import ArgumentParser, run_command
from mlflow_platform.common.logs import configure_logging

from .settings import load


def parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="mlflow-platform events",
        description="Registry events: MLflow webhooks + reconciliation -> Slack, Discord, e-mail, GitHub. "
        "Configuration: MLFLOW_EVENTS_CONFIG (JSON) and the secret variables in docs/registry-events.md.",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    serve = sub.add_parser("serve", help="run the service until SIGTERM")
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), type=str.upper)
    return p


def serve(args) -> int:
    configure_logging(args.log_level)
    log = logging.getLogger("mlflow_platform.events")
    settings = load()  # SettingsError is bad input: exit 2, naming what to fix

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


def main(argv: list[str] | None = None) -> int:
    return run_command(parser(), serve, sys.argv[1:] if argv is None else argv)
