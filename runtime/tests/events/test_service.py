"""The receiver (dedup, replay window, refusals), the dispatcher (routing, retries, failure reports)
and the channels' payloads (recorded by local HTTP and SMTP stand-ins)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature

from mlflow_platform.events.model import Event
from mlflow_platform.events.service import Dispatcher, Metrics, Service
from mlflow_platform.events.settings import SettingsError, load
from mlflow_platform.notify import channels

from .conftest import SECRET, settings_env

BODY = json.dumps({"entity": "model_version", "action": "created", "data": {"name": "clf", "version": "1"}})


def signed(delivery_id="d-1", ts=None, body=BODY, secret=SECRET):
    ts = str(int(time.time())) if ts is None else ts
    return {
        "X-MLflow-Delivery-Id": delivery_id,
        "X-MLflow-Timestamp": ts,
        "X-MLflow-Signature": _generate_hmac_signature(secret, delivery_id, ts, body),
    }


@pytest.fixture
def service(settings):
    return Service(settings, client=None, sender=lambda c, e: None, sleep=lambda s: None)


def counter(svc, name, **labels):
    return svc.metrics.registry.get_sample_value(f"mlflow_events_{name}_total", labels) or 0


def test_accepts_once_then_refuses_the_replay(service):
    assert service.receive(signed(), BODY.encode()) == (202, "accepted")
    assert service.receive(signed(), BODY.encode()) == (409, "duplicate")
    assert service.queue.qsize() == 1
    assert counter(service, "webhook_deliveries", result="duplicate") == 1


def test_refuses_forged_altered_and_stale(service):
    assert service.receive(signed(secret="guessed"), BODY.encode()) == (401, "bad_signature")
    assert service.receive(signed(), BODY.replace("clf", "cl f").encode()) == (401, "bad_signature")
    assert service.receive(signed(ts=str(int(time.time()) - 3600)), BODY.encode()) == (401, "stale")
    assert service.queue.qsize() == 0
    # A refused delivery does not burn its id: the genuine one still goes through.
    assert service.receive(signed(), BODY.encode()) == (202, "accepted")


def test_dedup_memory_is_bounded_by_the_window(service):
    now = time.time()
    service.receive(signed("old"), BODY.encode(), now=now)
    for i in range(3):
        service.receive(signed(f"n{i}", ts=str(int(now + 700))), BODY.encode(), now=now + 700)
    assert "old" not in service.seen and len(service.seen) == 3


def test_settings_require_every_secret_and_name_the_variable():
    env = settings_env()
    del env["MLFLOW_EVENTS_SLACK_URL"]
    with pytest.raises(SettingsError, match="MLFLOW_EVENTS_SLACK_URL"):
        load(env)
    with pytest.raises(SettingsError, match="unknown"):
        load(settings_env(channels={"slack": {"events": ["model_version.exploded"]}}))


def test_retries_with_backoff_then_reports_on_the_other_channels(settings):
    calls, sleeps = [], []

    def sender(channel, event):
        calls.append((channel.name, event.kind))
        if channel.name == "discord":
            raise channels.DeliveryError("discord: HTTP 500")

    d = Dispatcher(settings, Metrics(), sender, sleeps.append)
    d.dispatch(Event("model_version.created", "clf", "3"))
    assert calls.count(("discord", "model_version.created")) == 3
    assert sleeps == [0.5, 1.0]
    # Slack routes delivery.failed; Discord (the failing one) is never asked to report itself.
    assert ("slack", "delivery.failed") in calls and ("discord", "delivery.failed") not in calls
    assert calls.count(("github", "model_version.created")) == 1


class Recorder(BaseHTTPRequestHandler):
    requests: list = []  # noqa: RUF012 - reset by the fixture
    status = 204

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http():
    Recorder.requests = []
    Recorder.status = 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_channel_payloads(http):
    env = settings_env(
        channels={
            "slack": {"events": ["model_version.created"]},
            "discord": {"events": ["model_version.created"]},
            "github": {"events": ["model_version.created"], "repository": "acme/models", "apiUrl": http},
        }
    )
    env["MLFLOW_EVENTS_SLACK_URL"] = http + "/slack/T000/B000/XXX"
    env["MLFLOW_EVENTS_DISCORD_URL"] = http + "/discord/api/webhooks/1/abc"
    s = load(env)
    event = Event("model_version.created", "clf", "3", {"source": "s3://b/m", "run_id": "r1"})
    for c in s.channels:
        channels.send(c, event)
    by_path = {p: (h, b) for p, h, b in Recorder.requests}
    assert by_path["/slack/T000/B000/XXX"][1] == {
        "text": "New model version: clf version 3",
        "unfurl_links": False,
        "unfurl_media": False,
    }
    assert by_path["/discord/api/webhooks/1/abc"][1]["allowed_mentions"] == {"parse": []}
    headers, body = by_path["/repos/acme/models/dispatches"]
    assert headers["Authorization"] == "Bearer ghp-test" and headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert body == {
        "event_type": "mlflow.model_version.created",
        "client_payload": {
            "event": "model_version.created",
            "model": "clf",
            "version": "3",
            "source": "s3://b/m",
            "run_id": "r1",
        },
    }


def test_a_failing_channel_error_names_no_secret(http):
    Recorder.status = 500
    env = settings_env(channels={"slack": {"events": ["model_version.created"]}})
    env["MLFLOW_EVENTS_SLACK_URL"] = http + "/slack/SECRET-PATH"
    c = load(env).channels[0]
    with pytest.raises(channels.DeliveryError) as e:
        channels.send(c, Event("model_version.created", "clf", "1"))
    assert "SECRET" not in str(e.value) and "500" in str(e.value)


def test_email_message_and_starttls(monkeypatch):
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def starttls(self, context):
            sent.append(("starttls",))

        def login(self, user, password):
            sent.append(("login", user, password))

        def send_message(self, msg):
            sent.append(("send", msg["Subject"], msg["To"], msg.get_content()))

    monkeypatch.setattr(channels.smtplib, "SMTP", FakeSMTP)
    env = settings_env(
        channels={
            "email": {
                "events": ["gate.refused"],
                "smtpHost": "smtp.example.com",
                "smtpPort": 587,
                "startTls": True,
                "username": "bot",
                "from": "mlflow@example.com",
                "to": ["a@example.com", "b@example.com"],
            }
        }
    )
    env["MLFLOW_EVENTS_SMTP_PASSWORD"] = "pw"
    c = load(env).channels[0]
    channels.send(c, Event("gate.refused", "clf", "2", {"gate": "metrics", "reason": "accuracy too low"}))
    assert sent[:3] == [("connect", "smtp.example.com", 587), ("starttls",), ("login", "bot", "pw")]
    assert sent[3][1] == "[MLflow registry] clf version 2: gate metrics refused: accuracy too low"
    assert sent[3][2] == "a@example.com, b@example.com"
