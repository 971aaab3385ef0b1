"""The tracking server's guard keeps MLflow's webhook API for the platform: users (through the proxy)
may only read it, and a webhook may only post to the events service."""

from __future__ import annotations

import asyncio
import json

import pytest

import mlflow_platform_guard as guard

EVENTS_URL = "http://mlflow-registry-events.mlflow.svc.cluster.local:8080/webhooks/mlflow"
SETTINGS = guard.Settings.from_env(
    {
        "MLFLOW_PLATFORM_PUBLIC_HOSTS": "mlflow.example.com",
        "MLFLOW_PLATFORM_INTERNAL_HOSTS": "mlflow-tracking,mlflow-tracking.mlflow.svc.cluster.local",
        "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com",
        "MLFLOW_PLATFORM_WEBHOOK_URLS": EVENTS_URL,
    }
)
USER = ("mlflow.example.com", "jane@example.com")  # through the proxy, signed in
IN_CLUSTER = ("mlflow-tracking.mlflow.svc.cluster.local:5000", None)  # the events service, jobs


def call(method, path, who, body: bytes = b"", chunk: int = 0, settings=SETTINGS):
    host, email = who
    headers = [(b"host", host.encode())] + ([(b"x-forwarded-email", email.encode())] if email else [])
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    seen = {"body": b"", "calls": 0}
    sent = []

    async def app(scope, receive, send):
        seen["calls"] += 1
        while True:
            m = await receive()
            seen["body"] += m.get("body", b"")
            if not m.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    queue = list(parts)

    async def receive():
        if queue:
            p = queue.pop(0)
            return {"type": "http.request", "body": p, "more_body": bool(queue)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    asyncio.run(guard.PlatformGuard(app, settings)(scope, receive, send))
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(payload) if payload else None, seen


def hook(url, **extra):
    return json.dumps(
        {"name": "x", "url": url, "events": [{"entity": "model_version", "action": "created"}], **extra}
    ).encode()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/2.0/mlflow/webhooks"),
        ("POST", "/ajax-api/2.0/mlflow/webhooks"),
        ("PATCH", "/api/2.0/mlflow/webhooks/abc123"),
        ("DELETE", "/api/2.0/mlflow/webhooks/abc123"),
        ("POST", "/api/2.0/mlflow/webhooks/abc123/test"),
        ("POST", "//api/2.0/mlflow//webhooks/"),
        ("POST", "/mlflow/api/2.0/mlflow/webhooks"),  # behind a static prefix
        ("PUT", "/API/2.0/MLFLOW/WEBHOOKS"),
    ],
)
def test_users_through_the_proxy_cannot_write_webhooks(method, path):
    """The review's probe: a signed-in user created a webhook posting registry events to an internal
    address (allowed by MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS) or retargeted the platform's own."""
    status, body, seen = call(method, path, USER, hook("http://169.254.169.254/latest/meta-data/"))
    assert status == 403 and body["error_code"] == "PERMISSION_DENIED" and seen["calls"] == 0
    assert "events service" in body["message"]


@pytest.mark.parametrize("path", ["/api/2.0/mlflow/webhooks", "/api/2.0/mlflow/webhooks/abc123"])
def test_users_may_read_webhooks(path):
    assert call("GET", path, USER)[0] == 200


def test_the_events_service_declares_its_webhook_and_the_body_reaches_mlflow_intact():
    body = hook(EVENTS_URL, secret="s3cret", status="ACTIVE")
    status, _, seen = call("POST", "/api/2.0/mlflow/webhooks", IN_CLUSTER, body, chunk=7)
    assert status == 200 and seen["body"] == body
    update = json.dumps({"url": EVENTS_URL, "secret": "rotated"}).encode()
    assert call("PATCH", "/api/2.0/mlflow/webhooks/abc", IN_CLUSTER, update)[0] == 200
    assert call("PATCH", "/api/2.0/mlflow/webhooks/abc", IN_CLUSTER, b'{"status": "ACTIVE"}')[0] == 200


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://collector.example.net/hook",
        EVENTS_URL + "?x=1",
        EVENTS_URL.upper(),
        "http://mlflow-registry-events.mlflow.svc.cluster.local:8080/webhooks/mlflow/../../other",
        None,
        123,
    ],
)
def test_in_cluster_callers_may_only_point_webhooks_at_the_events_service(url):
    body = json.dumps({"name": "x", "url": url}).encode()
    status, resp, seen = call("POST", "/api/2.0/mlflow/webhooks", IN_CLUSTER, body)
    assert status == 403 and seen["calls"] == 0, resp
    patch = json.dumps({"url": url}).encode()
    if url is not None:
        assert call("PATCH", "/api/2.0/mlflow/webhooks/abc", IN_CLUSTER, patch)[0] == 403


@pytest.mark.parametrize(("body", "status"), [(b"not json", 400), (b"[1]", 400), (b"x" * (70 * 1024), 413)])
def test_a_body_the_guard_cannot_read_is_refused_not_passed_on(body, status):
    assert call("POST", "/api/2.0/mlflow/webhooks", IN_CLUSTER, body, chunk=4096)[0] == status


def test_with_the_events_service_off_no_webhook_can_be_created():
    off = guard.Settings.from_env(
        {"MLFLOW_PLATFORM_PUBLIC_HOSTS": "mlflow.example.com", "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com"}
    )
    assert call("POST", "/api/2.0/mlflow/webhooks", IN_CLUSTER, hook(EVENTS_URL), settings=off)[0] == 403


def test_other_api_calls_are_not_affected():
    assert call("POST", "/api/2.0/mlflow/registered-models/create", USER, b'{"name": "webhooks"}')[0] == 200


def test_allowed_urls_must_be_absolute_http_urls():
    with pytest.raises(ValueError, match="MLFLOW_PLATFORM_WEBHOOK_URLS"):
        guard.Settings.from_env(
            {"MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com", "MLFLOW_PLATFORM_WEBHOOK_URLS": "events:8080"}
        )
