"""Shared fixtures: a server-free MLflow registry (sqlite store in a temp dir) and identity tokens."""

from __future__ import annotations

import base64
import json

import pytest

# The Cloud Storage and Blob Storage stand-ins (fixtures fake_gcs and azurite).
from .emulators import azurite, fake_gcs  # noqa: F401


def jwt(claims: dict) -> str:
    """An unsigned JWT with ``claims`` (the tool reads claims; the proxy verifies signatures)."""
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'none'})}.{enc(claims)}.sig"


@pytest.fixture
def token_for(monkeypatch):
    def use(email: str | None, groups: list[str] | None = None, sub: str | None = None):
        # One subject per person, as an identity provider issues them.
        sub = sub or (f"id-{email}" if email else "subject")
        claims = {"sub": sub, "iss": "https://issuer.test", "groups": groups or []}
        if email:
            claims["email"] = email
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", jwt(claims))

    return use


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory):
    """A migrated, empty sqlite store, made once (migrations take seconds) and copied per test."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    d = tmp_path_factory.mktemp("store")
    SqlAlchemyStore(f"sqlite:///{d}/mlflow.db", str(d / "artifacts"))
    return d / "mlflow.db"


@pytest.fixture
def tracking(tmp_path, monkeypatch, empty_store):
    """A sqlite-backed tracking + registry store in a temp dir, as MLFLOW_TRACKING_URI."""
    import shutil

    import mlflow

    shutil.copy(empty_store, tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)  # the default experiment's artifacts (./mlruns) land in the temp dir
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("registry-tests")
    yield uri
    mlflow.set_tracking_uri(None)
