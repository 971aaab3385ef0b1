"""The service's HTTP side in-process (its ASGI app): the body limit is enforced while reading, and the
OpenAPI document describes exactly what the app serves and answers."""

import asyncio
import json
import time

import jsonschema
import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature
from starlette.routing import Route

from mlflow_platform.events import openapi
from mlflow_platform.events.service import MAX_BODY, Service

from .conftest import SECRET


def call(app, method, path, headers=(), chunks=(b"",)):
    """One request through the ASGI app; returns (status, headers, body, chunks the app read)."""
    chunks = list(chunks)
    read = {"n": 0}
    out = {"status": None, "headers": {}, "body": b""}

    async def receive():
        if read["n"] < len(chunks):
            i = read["n"]
            read["n"] += 1
            return {"type": "http.request", "body": chunks[i], "more_body": i < len(chunks) - 1}
        await asyncio.sleep(3600)  # the client sends nothing more
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return out["status"], out["headers"], out["body"], read["n"]


@pytest.fixture
def svc(settings):
    return Service(settings, client=None, sender=lambda c, e: None, sleep=lambda s: None)


def signed_headers(body: bytes, delivery_id="d-1"):
    ts = str(int(time.time()))
    return [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("X-MLflow-Delivery-Id", delivery_id),
        ("X-MLflow-Timestamp", ts),
        ("X-MLflow-Signature", _generate_hmac_signature(SECRET, delivery_id, ts, body.decode())),
    ]


def test_a_declared_length_over_the_limit_is_refused_before_reading(svc):
    status, _, body, read = call(
        svc.app(), "POST", "/webhooks/mlflow", [("content-length", str(10 * 1024 * 1024))], [b"x" * 1024] * 10
    )
    assert status == 413 and json.loads(body)["result"] == "too_large"
    assert read == 0  # not one byte of the body was read


def test_a_streamed_body_over_the_limit_is_refused_while_reading(svc):
    """No Content-Length (chunked): the app stops reading at the limit, it never buffers the rest."""
    chunk = b"x" * 65536
    status, _, _, read = call(svc.app(), "POST", "/webhooks/mlflow", [], [chunk] * 64)  # 4 MiB offered
    assert status == 413
    assert read == MAX_BODY // len(chunk) + 1
    assert svc.metrics.registry.get_sample_value("mlflow_events_webhook_deliveries_total", {"result": "too_large"}) == 1


@pytest.mark.parametrize("declared", ["abc", "-1", "1" * 30])
def test_a_content_length_that_is_not_a_number_is_bad_input(svc, declared):
    status, _, body, _ = call(svc.app(), "POST", "/webhooks/mlflow", [("content-length", declared)])
    assert status == 400 and json.loads(body)["result"] == "malformed"


def test_the_document_lists_exactly_the_routes_the_app_serves(svc):
    app = svc.app()
    served = {(r.path, m.lower()) for r in app.routes if isinstance(r, Route) for m in r.methods if m != "HEAD"}
    doc = openapi.document(MAX_BODY)
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented


def test_every_answer_the_handlers_give_is_documented_and_matches_its_schema(svc):
    """Each status the webhook handler and the probes can answer, provoked for real, then validated against
    the document (status listed, content type, body schema)."""
    app = svc.app()
    doc = openapi.document(MAX_BODY)
    body = json.dumps({"entity": "model_version", "action": "created", "data": {"name": "m", "version": "1"}})
    good = signed_headers(body.encode())
    stale = [(k, v) if k != "X-MLflow-Timestamp" else (k, "1") for k, v in good]
    not_json = b"[not json"
    cases = [
        ("POST", "/webhooks/mlflow", good, [body.encode()]),  # 202
        ("POST", "/webhooks/mlflow", good, [body.encode()]),  # 409 (the same delivery again)
        ("POST", "/webhooks/mlflow", stale, [body.encode()]),  # 401
        ("POST", "/webhooks/mlflow", [("content-length", "99999999")], [b""]),  # 413
        ("POST", "/webhooks/mlflow", signed_headers(not_json, "d-2"), [not_json]),  # 400
        ("GET", "/healthz", [], [b""]),  # 503: the worker is not started in this test
        ("GET", "/readyz", [], [b""]),  # 503
        ("GET", "/metrics", [], [b""]),
        ("GET", "/openapi.json", [], [b""]),
    ]
    seen = set()
    for method, path, headers, chunks in cases:
        status, resp_headers, resp_body, _ = call(app, method, path, headers, chunks)
        op = doc["paths"][path][method.lower()]
        assert str(status) in op["responses"], (path, status)
        content = op["responses"][str(status)]["content"]
        media = resp_headers["content-type"].split(";")[0]
        assert media in content, (path, status, media)
        data = json.loads(resp_body) if media == "application/json" else resp_body.decode()
        jsonschema.validate(data, content[media]["schema"])
        seen.add((path, status))
    assert {(p, s) for p, s in seen if p == "/webhooks/mlflow"} == {
        ("/webhooks/mlflow", s) for s in (202, 409, 401, 413, 400)
    }
