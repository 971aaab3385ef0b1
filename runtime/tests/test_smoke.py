"""``mlflow-platform serve smoke`` against a stub server: pass, wrong version, wrong label, retry on 503."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlflow_platform.serving.cli import main
from mlflow_platform.serving.smoke import smoke

BODY = '{"data": [5.1, 3.5, 1.4, 0.2]}'


@pytest.fixture
def stub():
    state = {"answers": [], "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            state["seen"].append((self.path, self.headers.get("X-Caller-Id"), self.rfile.read(length)))
            status, doc = (
                state["answers"].pop(0)
                if state["answers"]
                else (200, {"version": "3", "predictions": [0], "labels": ["setosa"]})
            )
            raw = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{srv.server_address[1]}"
    yield state
    srv.shutdown()


def test_passes_on_the_expected_version_and_label(stub):
    r = smoke(stub["url"], BODY, expect_version="3", expect_label="setosa", interval=0)
    assert r.ok and r.status == 200 and r.attempts == 1
    assert stub["seen"] == [("/predict", "smoke-test", BODY.encode())]


def test_fails_on_another_version_or_label_without_retrying(stub, capsys):
    assert main(["smoke", "--url", stub["url"], "--body", BODY, "--expect-version", "4", "--interval", "0"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["smoke"] == "fail" and "expected '4'" in out["problems"][0]
    r = smoke(stub["url"], BODY, expect_label="virginica", interval=0)
    assert not r.ok and "expected 'virginica'" in r.problems[0]
    assert len(stub["seen"]) == 2


def test_retries_while_not_ready_then_passes(stub):
    stub["answers"] = [(503, {"error": "not_ready"}), (503, {"error": "not_ready"})]
    r = smoke(stub["url"], BODY, expect_version="3", attempts=3, interval=0)
    assert r.ok and r.attempts == 3


def test_a_4xx_fails_at_once_and_nothing_listening_fails_after_the_attempts(stub):
    stub["answers"] = [(422, {"message": "row 0 has 3 features; the model expects 4"})]
    r = smoke(stub["url"], BODY, attempts=3, interval=0)
    assert not r.ok and r.attempts == 1 and "status 422" in r.problems[0]
    r = smoke("http://127.0.0.1:9", BODY, attempts=2, interval=0, timeout=1)
    assert not r.ok and r.attempts == 2 and r.status is None
    with pytest.raises(ValueError):
        smoke("file:///etc/passwd", BODY)
