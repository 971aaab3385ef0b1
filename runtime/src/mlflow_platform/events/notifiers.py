"""Channels: Slack (incoming webhook), Discord (webhook), e-mail (SMTP, optional STARTTLS) and GitHub
(``repository_dispatch``). Each turns one event into one message; :func:`deliver` retries with
exponential backoff. No secret (webhook URL, token, password) appears in an exception or a log line.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage

import requests

from .model import Event
from .settings import Channel

USER_AGENT = "mlflow-platform-events"
#: GitHub's limit on a repository_dispatch event_type.
EVENT_TYPE_MAX = 100


class DeliveryError(Exception):
    """A channel refused or could not be reached; the message carries no secret."""


def slack_payload(event: Event) -> dict:
    return {"text": event.summary(), "unfurl_links": False}


def discord_payload(event: Event) -> dict:
    # No mentions: a model or tag name must never ping @everyone.
    return {"content": event.summary()[:2000], "username": "MLflow registry", "allowed_mentions": {"parse": []}}


def github_payload(event: Event) -> dict:
    return {"event_type": f"mlflow.{event.kind}"[:EVENT_TYPE_MAX], "client_payload": event.as_dict()}


def email_message(event: Event, options: dict) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[MLflow registry] {event.summary()}"[:250]
    msg["From"] = options["from"]
    msg["To"] = ", ".join(options["to"])
    msg["Message-ID"] = f"<{event.message_id()}@mlflow-platform-events>"
    msg.set_content(event.summary() + "\n\n" + json.dumps(event.as_dict(), indent=2, sort_keys=True) + "\n")
    return msg


def _post(url: str, payload: dict, headers: dict[str, str], what: str, timeout: float) -> None:
    try:
        r = requests.post(url, json=payload, headers={"User-Agent": USER_AGENT, **headers}, timeout=timeout)
    except requests.RequestException as e:
        # The URL may be a secret (Slack, Discord): name the channel, never the URL.
        raise DeliveryError(f"{what}: {type(e).__name__}") from None
    if r.status_code >= 300:
        raise DeliveryError(f"{what}: HTTP {r.status_code}")


def send(channel: Channel, event: Event, timeout: float = 10.0) -> None:
    """Sends one message; raises :class:`DeliveryError`."""
    o = channel.options
    if channel.name == "slack":
        _post(channel.secret or "", slack_payload(event), {}, "slack", timeout)
    elif channel.name == "discord":
        _post(channel.secret or "", discord_payload(event), {}, "discord", timeout)
    elif channel.name == "github":
        api = o.get("apiUrl", "https://api.github.com").rstrip("/")
        url = f"{api}/repos/{o['repository']}/dispatches"
        headers = {
            "Authorization": f"Bearer {channel.secret}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        _post(url, github_payload(event), headers, "github", timeout)
    elif channel.name == "email":
        try:
            with smtplib.SMTP(o["smtpHost"], int(o.get("smtpPort", 587)), timeout=timeout) as smtp:
                if o.get("startTls", True):
                    smtp.starttls(context=ssl.create_default_context())
                if o.get("username"):
                    smtp.login(o["username"], channel.secret or "")
                smtp.send_message(email_message(event, o))
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"email: {type(e).__name__}") from None
    else:  # pragma: no cover - settings.load refuses unknown channels
        raise DeliveryError(f"unknown channel {channel.name}")


def deliver(
    channel: Channel,
    event: Event,
    attempts: int,
    backoff: float,
    sender: Callable[[Channel, Event], None] = send,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, int, str]:
    """Sends with retries (backoff, 2*backoff, 4*backoff, ...). Returns (sent, attempts used, last error)."""
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            sender(channel, event)
            return True, attempt, ""
        except DeliveryError as e:
            error = str(e)
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    return False, attempts, error
