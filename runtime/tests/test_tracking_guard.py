"""The tracking server's guard (mlflow_platform_guard): identity re-checked, no internals in 5xx."""

from __future__ import annotations

import asyncio
import json

import pytest

import mlflow_platform_guard as guard

SETTINGS = guard.Settings.from_env(
    {
        "MLFLOW_PLATFORM_PUBLIC_HOSTS": "mlflow.example.com",
        "MLFLOW_PLATFORM_INTERNAL_HOSTS": "mlflow-tracking,mlflow-tracking.mlflow.svc.cluster.local",
        "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com,.corp.example",
    }
)

MISSING_ARTIFACT_500 = json.dumps(
    {
        "error_code": "INTERNAL_ERROR",
        "message": "The following failures occurred while downloading one or more artifacts from "
        "s3://mlflow-dev-artifacts-111111111111/mlartifacts:\n##### File 1/abc/artifacts/missing.txt #####\n"
        "An error occurred (404) when calling the HeadObject operation: Not Found",
    }
).encode()


def inner_app(status: int, body: bytes, chunks: int = 1):
    calls = []

    async def app(scope, receive, send):
        calls.append(scope)
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        step = max(1, len(body) // chunks)
        parts = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})

    app.calls = calls
    return app


def call(app, path="/api/2.0/mlflow/experiments/search", host="mlflow.example.com", email=None):
    headers = [(b"host", host.encode())]
    if email is not None:
        headers.append((b"x-forwarded-email", email.encode()))
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(guard.PlatformGuard(app, SETTINGS)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


@pytest.mark.parametrize(
    "email",
    [
        None,
        "",
        "svc-no-mail",
        "eve@not-allowed.example",
        "a@b@example.com",
        "@example.com",
        "x@example.com.evil",
        "x@sub.example.com",
    ],
)
def test_public_host_without_an_allowed_identity_is_refused(email):
    app = inner_app(200, b"{}")
    status, body = call(app, email=email)
    assert status == 403
    assert json.loads(body)["error_code"] == "PERMISSION_DENIED"
    assert app.calls == []  # MLflow never saw it


@pytest.mark.parametrize("email", ["jane.doe@example.com", "JANE@EXAMPLE.COM", "ops@team.corp.example"])
def test_public_host_with_an_allowed_identity_passes(email):
    assert call(inner_app(200, b"{}"), email=email) == (200, b"{}")


@pytest.mark.parametrize(
    "host", ["mlflow.example.com:443", "unknown.example.org", "mlflow.example.com.evil", "MLFLOW.EXAMPLE.COM"]
)
def test_any_other_name_is_held_to_the_rule_fail_closed(host):
    assert call(inner_app(200, b"{}"), host=host)[0] == 403


@pytest.mark.parametrize(
    "host",
    [
        "mlflow-tracking",
        "mlflow-tracking.mlflow.svc.cluster.local:5000",
        "10.0.3.7:5000",
        "127.0.0.1",
        "localhost:5000",
        "[::1]:5000",
    ],
)
def test_in_cluster_names_and_addresses_are_the_platform_own_callers(host):
    assert call(inner_app(200, b"{}"), host=host) == (200, b"{}")


@pytest.mark.parametrize("chunks", [1, 3])
def test_a_missing_artifact_is_404_without_bucket_or_account(chunks):
    path = "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/missing.txt"
    status, body = call(inner_app(500, MISSING_ARTIFACT_500, chunks), path=path, email="jane@example.com")
    assert status == 404
    text = body.decode()
    assert json.loads(text)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for secret in ("mlflow-dev-artifacts", "111111111111", "s3://", "HeadObject"):
        assert secret not in text


def test_other_5xx_keep_their_status_but_lose_their_detail(caplog):
    detail = b'{"error_code": "INTERNAL_ERROR", "message": "psycopg2.OperationalError: host db.internal password=..."}'
    with caplog.at_level("ERROR", logger="mlflow_platform_guard"):
        status, body = call(inner_app(500, detail), email="jane@example.com")
    assert status == 500
    assert b"psycopg2" not in body and b"db.internal" not in body
    reference = json.loads(body)["message"].split("reference ")[1][:12]
    assert any(reference in r.getMessage() and "db.internal" in r.getMessage() for r in caplog.records)
    # A 5xx on a non-artifact path is never turned into 404, even with "not found" in its text.
    assert call(inner_app(503, b"Not Found"), path="/api/2.0/mlflow/runs/get", email="jane@example.com")[0] == 500


def test_2xx_and_4xx_pass_unchanged():
    assert call(inner_app(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}'), email="jane@example.com") == (
        404,
        b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}',
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MLFLOW_PLATFORM_EMAIL_DOMAINS": "*"}, "named choice"),
        ({}, "access is denied by default"),
        (
            {
                "MLFLOW_PLATFORM_EMAIL_DOMAINS": "a.com",
                "MLFLOW_PLATFORM_PUBLIC_HOSTS": "x",
                "MLFLOW_PLATFORM_INTERNAL_HOSTS": "x",
            },
            "both public and internal",
        ),
    ],
)
def test_settings_refuse_open_or_contradictory_configuration(env, message):
    with pytest.raises(ValueError, match=message):
        guard.Settings.from_env(env)


def test_any_domain_is_a_named_choice_that_still_needs_an_address():
    s = guard.Settings.from_env({"MLFLOW_PLATFORM_ANY_EMAIL_DOMAIN": "true"})
    assert guard.email_allowed(s, "someone@anywhere.example")
    assert not guard.email_allowed(s, "")
    assert not guard.email_allowed(s, "no-address")


def test_workload_identities_are_admitted_exactly_and_nothing_like_them():
    s = guard.Settings.from_env(
        {
            "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com",
            "MLFLOW_PLATFORM_WORKLOAD_IDENTITIES": "system:serviceaccount:ml-pipelines:training-pipeline",
        }
    )
    assert guard.email_allowed(s, "system:serviceaccount:ml-pipelines:training-pipeline")
    assert not guard.email_allowed(s, "system:serviceaccount:ml-pipelines:other")
    assert not guard.email_allowed(s, "system:serviceaccount:default:training-pipeline")
    assert guard.email_allowed(s, "jane@example.com")
    without = guard.Settings.from_env({"MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com"})
    assert not guard.email_allowed(without, "system:serviceaccount:ml-pipelines:training-pipeline")


def test_workload_identities_must_be_service_account_subjects():
    with pytest.raises(ValueError, match="only service-account subjects"):
        guard.Settings.from_env(
            {"MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com", "MLFLOW_PLATFORM_WORKLOAD_IDENTITIES": "*"}
        )
