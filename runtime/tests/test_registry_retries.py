"""The tool retries 429 and 5xx with backoff (MLflow's client, with the tool's bounded defaults)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlflow_platform.common.errors import BadInput
from mlflow_platform.registry.core import Registry, apply_retry_defaults


@pytest.fixture
def flaky_server():
    """Answers registered-models/get with 429, then 503, then the model; counts requests."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            if "registered-models/get" in self.path and len(seen) <= 2:
                self.send_response(429 if len(seen) == 1 else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if "name=missing" in self.path:
                body = json.dumps(
                    {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=missing not found"}
                ).encode()
                self.send_response(404)
            else:
                body = json.dumps(
                    {"registered_model": {"name": "iris", "aliases": [{"alias": "production", "version": "3"}]}}
                ).encode()
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_transient_errors_are_retried(flaky_server):
    url, seen = flaky_server
    from mlflow import MlflowClient

    apply_retry_defaults()
    model = Registry(MlflowClient(tracking_uri=url, registry_uri=url)).model("iris")
    assert Registry.aliases(model) == {"production": "3"}
    assert len(seen) == 3  # 429, 503, 200


def test_not_found_is_bad_input_not_retried(flaky_server):
    url, seen = flaky_server
    from mlflow import MlflowClient

    seen.extend(["x", "y"])  # skip the flaky answers
    with pytest.raises(BadInput, match="unknown model 'missing'"):
        Registry(MlflowClient(tracking_uri=url, registry_uri=url)).model("missing")
    assert len(seen) == 3


def test_retry_defaults_never_override_the_callers():
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "9"}
    apply_retry_defaults(env)
    assert env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "9" and env["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "1"
