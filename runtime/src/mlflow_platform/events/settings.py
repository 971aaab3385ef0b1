"""The service's settings: non-secret configuration as JSON (``MLFLOW_EVENTS_CONFIG``, written by the
stack from config/events.ts), secrets as environment variables filled from Kubernetes Secrets.

Secrets are read once and never logged or echoed in an error message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

CONFIG_ENV = "MLFLOW_EVENTS_CONFIG"
SECRET_ENV = {
    "webhook": "MLFLOW_EVENTS_WEBHOOK_SECRET",
    "state": "MLFLOW_EVENTS_STATE_KEY",
    "slack": "MLFLOW_EVENTS_SLACK_URL",
    "discord": "MLFLOW_EVENTS_DISCORD_URL",
    "github": "MLFLOW_EVENTS_GITHUB_TOKEN",
    "smtp": "MLFLOW_EVENTS_SMTP_PASSWORD",
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
CHANNELS = ("slack", "discord", "email", "github")


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class Channel:
    name: str
    events: tuple[str, ...]
    options: dict = field(default_factory=dict)
    secret: str | None = None


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

    webhook = cfg.get("webhook", {})
    channels = []
    for name, opts in (cfg.get("channels") or {}).items():
        if name not in CHANNELS:
            raise SettingsError(f"channels.{name}: unknown channel; expected one of {', '.join(CHANNELS)}")
        events = tuple(opts.get("events", ()))
        unknown = sorted(set(events) - set(EVENT_KINDS))
        if unknown:
            raise SettingsError(f"channels.{name}.events: unknown {unknown}; expected some of {', '.join(EVENT_KINDS)}")
        for field_name in ("from", "smtpHost", "username"):
            if name == "email" and any(ord(c) < 32 or ord(c) == 127 for c in str(opts.get(field_name, ""))):
                raise SettingsError(f"channels.email.{field_name}: contains a control character (CR, LF, ...)")
        if name == "email" and any(any(ord(c) < 32 or ord(c) == 127 for c in str(t)) for t in opts.get("to", [])):
            raise SettingsError("channels.email.to: an address contains a control character (CR, LF, ...)")
        secret = None
        if name in ("slack", "discord", "github"):
            secret = need_secret(name, f"channel {name} is enabled")
        elif name == "email" and opts.get("username"):
            secret = need_secret("smtp", "channels.email.username is set")
        channels.append(Channel(name=name, events=events, options=dict(opts), secret=secret))
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
