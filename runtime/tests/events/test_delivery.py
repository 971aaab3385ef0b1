"""Per-channel delivery: each channel fails alone, a failed channel is retried alone on later passes
(the others never get the message twice), and header values cannot carry a line break."""

import email
import time

import pytest

from mlflow_platform.events.model import Event
from mlflow_platform.events.service import Service
from mlflow_platform.events.settings import load
from mlflow_platform.events.state import STATE_TAG, Sealer
from mlflow_platform.notify import channels

from .conftest import STATE_KEY, settings_env

TAG_EVENTS = ["model_version_tag.set", "delivery.failed"]
EMAIL = {
    "events": TAG_EVENTS,
    "smtpHost": "smtp.example.com",
    "smtpPort": 587,
    "startTls": False,
    "from": "mlflow@example.com",
    "to": ["team@example.com"],
}


def settings_with_email(**retry):
    env = settings_env(
        channels={"slack": {"events": TAG_EVENTS}, "discord": {"events": TAG_EVENTS}, "email": EMAIL},
        retry={"attempts": 2, "backoffSeconds": 0.1, **retry},
    )
    return load(env)


class Sender:
    """Records what each channel got; ``broken`` channels raise ``error``."""

    def __init__(self):
        self.got = []
        self.broken = {}

    def __call__(self, channel, event):
        if channel.name in self.broken:
            raise self.broken[channel.name]
        self.got.append((channel.name, event.kind, event.detail.get("value")))

    def count(self, channel, kind):
        return sum(1 for c, k, _ in self.got if (c, k) == (channel, kind))


def service(settings, client, sender):
    return Service(settings, client, sender=sender, sleep=lambda s: None)


def tagged_version(client, value):
    client.create_registered_model("clf")
    v = str(client.create_model_version("clf", source="/tmp/model", run_id=None).version)
    client.set_model_version_tag("clf", v, "production-ready", value)
    return v


def owed(client, v):
    state, status = Sealer(STATE_KEY).open(
        "model_version", "clf", v, client.get_model_version("clf", v).tags[STATE_TAG]
    )
    assert status == "ok"
    return [(o["event"]["kind"], o["channels"]) for o in state["owed"]]


def test_a_channel_that_raises_fails_alone_and_is_retried_alone(client):
    """The review's probe: e-mail raised on a value, ``deliver`` let it through, nothing was recorded and
    Slack got the same event on every pass. Now: Slack and Discord get it once, the e-mail is owed."""
    s = settings_with_email()
    sender = Sender()
    sender.broken["email"] = ValueError("Header values may not contain linefeed or carriage return characters")
    svc = service(s, client, sender)
    v = tagged_version(client, "yes\r\nBcc: attacker@example.net")
    for _ in range(3):
        assert svc.reconcile_once() >= 0
    assert sender.count("slack", "model_version_tag.set") == 1
    assert sender.count("discord", "model_version_tag.set") == 1
    # The failure was reported once, on the other channels, not on every pass.
    assert sender.count("slack", "delivery.failed") == 1 and sender.count("discord", "delivery.failed") == 1
    assert owed(client, v) == [("model_version_tag.set", ["email"])]
    sample = svc.metrics.registry.get_sample_value
    assert sample("mlflow_events_reconcile_runs_total", {"result": "ok"}) == 3
    assert not sample("mlflow_events_reconcile_runs_total", {"result": "error"})
    # The mail server is back: e-mail gets it, nobody else gets it again, nothing is owed any more.
    del sender.broken["email"]
    svc.reconcile_once()
    assert sender.count("email", "model_version_tag.set") == 1
    assert sender.count("slack", "model_version_tag.set") == 1
    assert owed(client, v) == []


def test_a_channel_down_costs_one_retry_cycle_per_pass(client):
    s = settings_with_email()
    calls = []

    def sender(channel, event):
        calls.append(channel.name)
        if channel.name == "email":
            raise channels.DeliveryError("email: SMTPServerDisconnected")

    svc = service(s, client, sender)
    client.create_registered_model("clf")
    for i in range(5):
        v = str(client.create_model_version("clf", source="/tmp/model", run_id=None).version)
        client.set_model_version_tag("clf", v, "production-ready", f"v{i}")
    svc.reconcile_once()
    # Two attempts (retry.attempts) for the first message, then e-mail is known to be down for this pass.
    assert calls.count("email") == 2
    calls.clear()
    svc.reconcile_once()
    assert calls.count("email") == 2 and "slack" not in calls


def test_an_undelivered_message_is_given_up_after_keep_seconds(client):
    s = settings_with_email(keepSeconds=60)
    sender = Sender()
    sender.broken["email"] = channels.DeliveryError("email: HTTP 500")
    svc = service(s, client, sender)
    v = tagged_version(client, "true")
    svc.reconcile_once()
    assert owed(client, v) == [("model_version_tag.set", ["email"])]
    later = time.time() + 120
    svc.engine.now = lambda: later
    svc.reconcile_once()
    assert owed(client, v) == []


def test_header_values_cannot_carry_a_line_break(monkeypatch, client):
    """Through the real e-mail channel (a fake SMTP connection): a tag value with CR/LF builds one
    message whose headers are exactly ours."""
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def send_message(self, msg):
            sent.append(msg.as_bytes())

    monkeypatch.setattr(channels.smtplib, "SMTP", FakeSMTP)
    s = settings_with_email()
    email_channel = next(c for c in s.channels if c.name == "email")
    hostile = Event(
        "model_version_tag.set",
        "clf\nX-Injected: 1",
        "1",
        {"key": "production-ready", "value": "yes\r\nBcc: attacker@example.net\r\n\r\nbody"},
    )
    channels.send(email_channel, hostile)
    msg = email.message_from_bytes(sent[0])
    assert sorted(msg.keys()) == sorted(
        ["Subject", "From", "To", "Message-ID", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
    )
    assert "\n" not in msg["Subject"].replace("\n ", " ") and "Bcc" not in msg


@pytest.mark.parametrize("error", [ValueError("x"), KeyError("smtpHost"), RuntimeError("boom")])
def test_deliver_never_raises(error):
    def sender(channel, event):
        raise error

    c = load(settings_env()).channels[0]
    ok, attempts, message = channels.deliver(c, Event("model_version.created", "m", "1"), 3, 0, sender, lambda s: None)
    assert (ok, attempts) == (False, 1) and message == f"{c.name}: {type(error).__name__}"
