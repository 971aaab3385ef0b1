"""The service's settings: non-secret configuration as JSON (``MLFLOW_EVENTS_CONFIG``, written by the
stack from config/events.ts), secrets as environment variables filled from Kubernetes Secrets.

Secrets are read once and never logged or echoed in an error message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from mlflow_platform.common.errors import BadInput
from mlflow_platform.notify import SECRET_ENV as CHANNEL_SECRET_ENV
from mlflow_platform.notify import Channel, channel

CONFIG_ENV = "MLFLOW_EVENTS_CONFIG"
SECRET_ENV = {
    "webhook": "MLFLOW_EVENTS_WEBHOOK_SECRET",
    "state": "MLFLOW_EVENTS_STATE_KEY",
    "slack": CHANNEL_SECRET_ENV["slack"],
    "discord": CHANNEL_SECRET_ENV["discord"],
    "github": CHANNEL_SECRET_ENV["github"],
    "smtp": CHANNEL_SECRET_ENV["email"],
}

#: Every event kind the service emits, and where it comes from.
EVENT_KINDS = (
    "registered_model.created",  # webhook + reconciliation
    "model_version.created",  # webhook + reconciliation
    "model_version.stage_changed",  # reconciliation only (MLflow fires no webhook)
    "model_version_tag.set",  # webhook + reconciliation, watched tag keys only
    "model_version_alias.created",  # webhook + reconciliation
    "model_version_alias.deleted",  # webhook + reconciliation
    "gate.refused",  # a platform.gate.* tag whose result is "refused" (written by the registry tool)
    "delivery.failed",  # a channel kept failing; reported on the other channels
    "service.behind",  # reconciliation is failing or slower than configured
)
__all__ = ["SECRET_ENV", "Channel", "Settings", "SettingsError", "load"]


class SettingsError(BadInput):
    """The configuration or a secret is missing or wrong (exit 2): the message names which."""


@dataclass(frozen=True)
class Settings:
    tracking_uri: str
    listen_host: str
    port: int
    webhook_name: str
    webhook_url: str
    webhook_events: tuple[str, ...]
    webhook_secret: str
    #: Signs the service's state tags; held by this service only (not the webhook secret, which MLflow holds too).
    state_key: str
    reconcile_seconds: float
    max_age_seconds: float
    replay_window_seconds: float
    behind_seconds: float
    watched_tags: tuple[str, ...]
    retry_attempts: int
    retry_backoff_seconds: float
    #: How long a message a channel failed to take is tried again on later passes.
    retry_keep_seconds: float
    channels: tuple[Channel, ...]


def state_key(value: str) -> str:
    from .state import MIN_KEY_LENGTH

    if len(value.encode()) < MIN_KEY_LENGTH:
        raise SettingsError(
            f"{SECRET_ENV['state']} is shorter than {MIN_KEY_LENGTH} bytes: "
            "use a random value (the stack generates one)"
        )
    return value


def load(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    raw = env.get(CONFIG_ENV)
    if not raw:
        raise SettingsError(f"{CONFIG_ENV} is not set: the stack writes it from config/events.ts")
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as e:
        raise SettingsError(f"{CONFIG_ENV} is not valid JSON: {e}") from e

    def need_secret(what: str, why: str) -> str:
        value = env.get(SECRET_ENV[what], "")
        if not value:
            raise SettingsError(f"{SECRET_ENV[what]} is empty: {why} (check the Secret the stack references)")
        return value

    missing = [
        k for k, v in (("trackingUri", cfg), ("webhook.url", cfg.get("webhook", {}))) if k.split(".")[-1] not in v
    ]
    if missing:
        raise SettingsError(f"{CONFIG_ENV}: {', '.join(missing)} is not set: the stack writes it from config/events.ts")
    webhook = cfg.get("webhook", {})
    channels = []
    for name, opts in (cfg.get("channels") or {}).items():
        events = tuple(opts.get("events", ()))
        unknown = sorted(set(events) - set(EVENT_KINDS))
        if unknown:
            raise SettingsError(f"channels.{name}.events: unknown {unknown}; expected some of {', '.join(EVENT_KINDS)}")
        try:
            channels.append(channel(name, opts, events, env))
        except BadInput as e:
            raise SettingsError(str(e)) from None
    return Settings(
        tracking_uri=cfg["trackingUri"],
        listen_host=cfg.get("host", "0.0.0.0"),  # noqa: S104 - a container listens on its pod address
        port=int(cfg.get("port", 8080)),
        webhook_name=webhook.get("name", "mlflow-platform-events"),
        webhook_url=webhook["url"],
        webhook_events=tuple(webhook.get("events", ())),
        webhook_secret=need_secret("webhook", "deliveries could not be verified"),
        state_key=state_key(need_secret("state", "the service's state tags could not be signed")),
        reconcile_seconds=float(cfg.get("reconcileSeconds", 30)),
        max_age_seconds=float(cfg.get("maxAgeSeconds", 86400)),
        replay_window_seconds=float(cfg.get("replayWindowSeconds", 300)),
        behind_seconds=float(cfg.get("behindSeconds", 300)),
        watched_tags=tuple(cfg.get("watchedTags", ["production-ready"])),
        retry_attempts=int(cfg.get("retry", {}).get("attempts", 4)),
        retry_backoff_seconds=float(cfg.get("retry", {}).get("backoffSeconds", 1)),
        retry_keep_seconds=float(cfg.get("retry", {}).get("keepSeconds", 3600)),
        channels=tuple(channels),
    )
