"""The model server, driven through its ASGI interface (no sockets): admission, parsing, metrics, logs."""

import asyncio
import json

import pytest

from mlflow_platform.serving.app import ModelServer, ServerConfig
from mlflow_platform.serving.limits import CallerLimiter, retry_after
from mlflow_platform.serving.model import BadRequest, LoadedModel, parse_predict_body


class FakePyfunc:
    def predict(self, x):
        return x.sum(axis=1) * 0  # class 0 for every row


def fake_loader(_dir):
    import numpy as np
    import pandas as pd

    def invocations(data, content_type, model, schema):
        return None  # only the warm-up calls it

    return LoadedModel(
        pyfunc=FakePyfunc(),
        input_schema=None,
        n_features=4,
        columns=None,
        dtype=np.float64,
        np=np,
        pd=pd,
        mlflow_version="test",
        invocations=invocations,
        mlflow_exception=RuntimeError,
    )


def call(app, method, path, body=b"", headers=None, chunks=None):
    """One request through the ASGI app; returns (status, headers, body)."""
    hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if body and chunks is None and "content-length" not in {k.lower() for k in (headers or {})}:
        hdrs.append((b"content-length", str(len(body)).encode()))
    messages = (
        [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
        if chunks
        else [{"type": "http.request", "body": body, "more_body": False}]
    )
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "method": method, "path": path, "headers": hdrs}
    asyncio.run(app(scope, receive, send))
    start, resp = sent[0], sent[1]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, resp["body"]


@pytest.fixture
def server(capsys):
    app = ModelServer(
        ServerConfig(
            model_dir="/nowhere",
            model_name="iris",
            model_version="3",
            caller_rate=1,
            caller_burst=2,
            class_names=("setosa", "versicolor", "virginica"),
        ),
        loader=fake_loader,
    )
    app._write = lambda s: print(s, end="")
    return app


def loaded(app):
    app.start_loading().join()
    assert app.ready
    return app


def test_parse_one_row_and_rows():
    assert parse_predict_body(b'{"data": [5.1, 3.5, 1.4, 0.2]}', 4) == [[5.1, 3.5, 1.4, 0.2]]
    assert parse_predict_body(b'{"data": [[1, 2, 3, 4], [5, 6, 7, 8]]}', 4) == [[1, 2, 3, 4], [5, 6, 7, 8]]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"not json", 400, "not JSON"),
        (b'{"inputs": [1]}', 400, '{"data"'),
        (b'{"data": []}', 400, "non-empty"),
        (b'{"data": [1, 2, 3]}', 422, "has 3 features; the model expects 4"),
        (b'{"data": [1, "x", 3, 4]}', 422, 'feature 1: "x" is a string'),
        (b'{"data": [1, true, 3, 4]}', 422, "is a bool"),
        (b'{"data": [1, null, 3, 4]}', 422, "is null"),
        (b'{"data": [1, NaN, 3, 4]}', 422, "not a finite number"),
        (b'{"data": [[1, 2, 3, 4], [1, 2]]}', 422, "row 1 has 2 features"),
    ],
)
def test_parse_names_the_problem(body, status, words):
    with pytest.raises(BadRequest) as e:
        parse_predict_body(body, 4)
    assert e.value.status == status
    assert words in e.value.message


def test_caller_limiter_bursts_then_refills():
    now = [0.0]
    lim = CallerLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [lim.take("a") for _ in range(3)] == [0, 0, 0]
    assert lim.take("a") == pytest.approx(0.5)
    assert lim.take("b") == 0  # another caller is not affected
    now[0] += 0.5
    assert lim.take("a") == 0
    assert retry_after(0.2) == "1" and retry_after(2.1) == "3"


def test_caller_limiter_memory_is_bounded():
    lim = CallerLimiter(rate=1, burst=1, max_callers=2)
    for c in "abc":
        lim.take(c)
    assert len(lim._buckets) == 2


def test_not_ready_until_loaded(server):
    # /readyz is the platform's readiness path; /ping (MLflow's scoring protocol, the probes) answers the same.
    def ready():
        statuses = {call(server, "GET", path)[0] for path in ("/readyz", "/ping")}
        assert len(statuses) == 1, statuses
        return statuses.pop()

    assert ready() == 503
    assert call(server, "GET", "/healthz")[0] == call(server, "GET", "/health")[0] == 200
    status, headers, _ = call(server, "POST", "/predict", b'{"data": [5.1, 3.5, 1.4, 0.2]}')
    assert status == 503 and headers["retry-after"] == "1"
    loaded(server)
    assert ready() == 200
    server.drain()
    assert ready() == 503


def test_predict_answers_model_version_and_request_id(server):
    loaded(server)
    status, headers, body = call(
        server, "POST", "/predict", b'{"data": [5.1, 3.5, 1.4, 0.2]}', {"X-Request-Id": "req-1"}
    )
    doc = json.loads(body)
    assert status == 200
    assert doc == {"model": "iris", "version": "3", "request_id": "req-1", "predictions": [0.0], "labels": ["setosa"]}
    assert headers["x-request-id"] == "req-1"
    # A request id that is not a plain token is replaced, not echoed.
    _, headers, _ = call(server, "POST", "/predict", b'{"data": [5.1, 3.5, 1.4, 0.2]}', {"X-Request-Id": 'a b"c'})
    assert len(headers["x-request-id"]) == 32


def test_body_limit_413_by_length_and_by_stream(server):
    server.config = ServerConfig(**{**server.config.__dict__, "max_body_bytes": 100})
    loaded(server)
    status, headers, body = call(server, "POST", "/predict", b"", {"content-length": str(100 * 2**20)})
    assert status == 413 and b"at most 100" in body
    # Not closed under a client still sending (that resets the connection before the 413 is read).
    assert "connection" not in headers
    status, _, body = call(server, "POST", "/predict", chunks=[b"x" * 60, b"x" * 60], headers={"X-Caller-Id": "b"})
    assert status == 413
    assert call(server, "POST", "/predict", b'{"data": [5.1, 3.5, 1.4, 0.2]}', {"X-Caller-Id": "c"})[0] == 200


def test_caller_over_its_limit_gets_429_while_another_is_served(server):
    loaded(server)
    body = b'{"data": [5.1, 3.5, 1.4, 0.2]}'
    statuses = [call(server, "POST", "/predict", body, {"X-Caller-Id": "alice"})[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    status, headers, text = call(server, "POST", "/predict", body, {"X-Caller-Id": "alice"})
    assert status == 429 and int(headers["retry-after"]) >= 1 and b"alice" in text
    assert call(server, "POST", "/predict", body, {"X-Caller-Id": "bob"})[0] == 200


def test_overload_429(server):
    loaded(server)
    server.in_flight = server.config.max_concurrency
    status, headers, body = call(server, "POST", "/predict", b'{"data": [5.1, 3.5, 1.4, 0.2]}')
    assert status == 429 and headers["retry-after"] == "1" and b"concurrent" in body


def test_metrics_count_by_status_and_log_never_has_credentials(server, capsys):
    loaded(server)
    good = b'{"data": [5.1, 3.5, 1.4, 0.2]}'
    secret = {"Authorization": "Bearer s3cr3t-token", "Cookie": "session=s3cr3t-cookie", "X-Caller-Id": "carol"}
    for i, b in enumerate((good, good, b"nope")):
        call(server, "POST", "/predict", b, {**secret, "X-Caller-Id": f"carol{i}"})
    call(server, "GET", "/nothing")
    text = call(server, "GET", "/metrics")[2].decode()
    assert 'model_server_requests_total{model="iris",route="/predict",status="200",version="3"} 2.0' in text
    assert 'model_server_requests_total{model="iris",route="/predict",status="400",version="3"} 1.0' in text
    assert 'route="other",status="404"' in text
    out = capsys.readouterr().out
    lines = [json.loads(ln) for ln in out.splitlines() if '"request_id"' in ln]
    assert len(lines) == 4
    assert {ln["status"] for ln in lines} == {200, 400, 404}
    assert all({"request_id", "caller", "version", "status", "latency_ms"} <= set(ln) for ln in lines)
    assert "s3cr3t" not in out


def test_a_bug_in_the_model_is_a_500_and_the_server_keeps_serving(server):
    loaded(server)

    class Broken:
        def predict(self, x):
            raise RuntimeError("boom")

    good = server.model.pyfunc
    server.model.pyfunc = Broken()
    status, _, body = call(server, "POST", "/predict", b'{"data": [5.1, 3.5, 1.4, 0.2]}')
    assert status == 500 and b"boom" not in body
    server.model.pyfunc = good
    assert call(server, "POST", "/predict", b'{"data": [5.1, 3.5, 1.4, 0.2]}')[0] == 200


@pytest.fixture(scope="module")
def real_model(tmp_path_factory):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    path = tmp_path_factory.mktemp("m") / "model"
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(x[:3], model.predict(x[:3])), serialization_format="pickle"
    )
    return str(path)


def test_real_model_predict_and_every_invocations_format(real_model, capsys):
    app = ModelServer(ServerConfig(model_dir=real_model, model_name="iris", model_version="1"))
    app._write = lambda s: None
    loaded(app)
    row = [5.1, 3.5, 1.4, 0.2]
    assert json.loads(call(app, "POST", "/predict", json.dumps({"data": row}).encode())[2])["predictions"] == [0]
    ct = {"Content-Type": "application/json"}
    for body in (
        {"inputs": [row]},
        {"instances": [row]},
        {"dataframe_split": {"data": [row]}},
        {"dataframe_records": [dict(enumerate(row))]},
    ):
        status, _, out = call(app, "POST", "/invocations", json.dumps(body).encode(), ct)
        assert (status, json.loads(out)) == (200, {"predictions": [0]}), body
    for bad, ctype in (
        (b"{not json", "application/json"),
        (b'{"inputs": [[1, "x", 3, 4]]}', "application/json"),
        (b'{"inputs": [[1, 2]]}', "application/json"),
        (b"x", "image/png"),
    ):
        status, _, out = call(app, "POST", "/invocations", bad, {"Content-Type": ctype})
        assert 400 <= status < 500, (bad, status, out)
    assert call(app, "POST", "/invocations", b'{"inputs": [[1, 2, 3, 4]]}')[0] == 415
