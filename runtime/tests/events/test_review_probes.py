"""The outside review's probes of the events service, through its public surface only (the service, its
HTTP app, the channels' payload builders), so that they run unchanged against any version of it."""

import asyncio
import json

from mlflow_platform.events.model import Event
from mlflow_platform.events.service import Service
from mlflow_platform.events.settings import load
from mlflow_platform.notify import channels

from .conftest import settings_env

STATE_TAG = "platform.events.notified"


def recording_service(settings, client):
    sent = []
    svc = Service(settings, client, sender=lambda c, e: sent.append((c.name, e.kind)), sleep=lambda s: None)
    return svc, sent


def test_promotions_cannot_be_hidden_by_setting_the_notified_tags_ahead(settings, client):
    client.create_registered_model("clf")
    v = str(client.create_model_version("clf", source="/tmp/m", run_id=None).version)
    recording_service(settings, client)[0].reconcile_once()
    svc, sent = recording_service(settings, client)  # restarted: only the tags are left to trust
    client.set_registered_model_tag("clf", STATE_TAG, json.dumps({"created": True, "aliases": {"production": v}}))
    client.set_registered_model_alias("clf", "production", v)
    svc.reconcile_once()
    assert ("github", "model_version_alias.created") in sent


def test_one_line_break_does_not_jam_every_notification(client):
    """A CR/LF in a watched tag value: the e-mail channel raised and nothing was recorded, so every pass
    failed and Slack received the same event every time."""
    env = settings_env(
        channels={
            "slack": {"events": ["model_version_tag.set"]},
            "email": {
                "events": ["model_version_tag.set"],
                "smtpHost": "smtp.invalid",
                "from": "mlflow@example.com",
                "to": ["team@example.com"],
            },
        },
        retry={"attempts": 1, "backoffSeconds": 0.1},
    )
    sent = []

    def sender(channel, event):
        if channel.name == "email":
            channels.email_message(event, channel.options)  # the real message, built for real
        sent.append((channel.name, event.kind))

    svc = Service(load(env), client, sender=sender, sleep=lambda s: None)
    client.create_registered_model("clf")
    v = str(client.create_model_version("clf", source="/tmp/m", run_id=None).version)
    client.set_model_version_tag("clf", v, "production-ready", "yes\r\nBcc: attacker@example.net")
    results = [svc.reconcile_once() for _ in range(3)]
    assert all(n >= 0 for n in results), results  # no pass failed
    assert sent.count(("slack", "model_version_tag.set")) == 1
    assert sent.count(("email", "model_version_tag.set")) == 1


def test_tag_values_cannot_mention_everyone_or_disguise_links():
    e = Event(
        "model_version_tag.set",
        "m",
        "1",
        {"key": "k", "value": "<!channel> <https://evil.example|docs> [x](https://evil.example) @everyone"},
    )
    assert "<!channel>" not in channels.slack_payload(e)["text"]
    assert "<https://evil.example|" not in channels.slack_payload(e)["text"]
    discord = channels.discord_payload(e)["content"]
    assert "[x](https" not in discord and "@everyone" not in discord


def test_the_body_limit_holds_while_reading(settings):
    """A declared 10 MiB body: refused before the body is read (the review saw the whole body read first)."""
    app = Service(settings, client=None, sender=lambda c, e: None, sleep=lambda s: None).app()
    reads, sent = [], []

    async def receive():
        reads.append(1)
        if len(reads) > 1:
            await asyncio.sleep(3600)  # the client never sends the rest
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "method": "POST",
        "path": "/webhooks/mlflow",
        "raw_path": b"/webhooks/mlflow",
        "query_string": b"",
        "headers": [(b"content-length", str(10 * 1024 * 1024).encode())],
        "server": ("127.0.0.1", 8080),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 5))
    assert sent[0]["status"] == 413
