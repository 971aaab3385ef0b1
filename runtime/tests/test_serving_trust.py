"""The model path's trust boundaries, one probe per way around them: who may call (the verified identity),
hostile bodies, slow uploads, what the access log holds, which port serves the metrics, what the image
installs, and the OpenAPI document kept true against real answers. Property-based tests of the same rules
are in test_serving_properties.py."""

import asyncio
import json

import pytest

from mlflow_platform.serving.app import Exchange, ModelServer, ServerConfig
from mlflow_platform.serving.context import inference_requirements
from mlflow_platform.serving.identity import IdentityPolicy, parse_groups
from mlflow_platform.serving.inference_log import InferenceLogger
from mlflow_platform.serving.obfuscation import Obfuscator, keyed_hash, redact_text
from mlflow_platform.serving.openapi import document

from .test_serving import fake_loader, real_model  # noqa: F401 - real_model is a fixture

ROW = [5.1, 3.5, 1.4, 0.2]
GOOD = json.dumps({"data": ROW}).encode()
POLICY = IdentityPolicy.of(["example.com"], False, [], ["smoke-test"])


def call(app, method, path, body=b"", headers=None, port=8080):
    """One request through the ASGI app on local ``port``; returns (status, headers, body)."""
    hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if body:
        hdrs.append((b"content-length", str(len(body)).encode()))
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "method": method, "path": path, "headers": hdrs, "server": ("127.0.0.1", port)}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], {k.decode(): v.decode() for k, v in sent[0]["headers"]}, sent[1]["body"]


def server(**kw):
    cfg = {"model_dir": "/x", "model_name": "iris", "model_version": "3", "caller_header": "X-Forwarded-Email", **kw}
    app = ModelServer(ServerConfig(**cfg), loader=fake_loader)
    app.lines = []
    app._write = app.lines.append
    app.start_loading().join()
    assert app.ready
    return app


# ── Identity: the gateway's verified identity, checked again by the server ──
@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        # oauth2-proxy passes a token with neither email nor sub: no identity header at all.
        ({}, 403, "no verified identity"),
        ({"X-Forwarded-Email": ""}, 403, "no verified identity"),
        # A token whose sub is not an address (oauth2-proxy falls back to it).
        ({"X-Forwarded-Email": "system:serviceaccount:ns:app"}, 403, "not an address"),
        ({"X-Forwarded-Email": "mallory@evil.example"}, 403, "not an address in an allowed"),
        ({"X-Forwarded-Email": "two@at@example.com"}, 403, "not an address"),
        ({"X-Forwarded-Email": "jane@example.com"}, 200, ""),
        ({"X-Forwarded-Email": "JANE@Example.COM"}, 200, ""),
        # API Gateway maps a claim as JSON text: a quoted string is the same address.
        ({"X-Forwarded-Email": '"jane@example.com"'}, 200, ""),
        ({"X-Forwarded-Email": "smoke-test"}, 200, ""),
    ],
)
def test_only_an_allowed_verified_identity_may_predict(headers, status, words):
    app = server(identity=POLICY)
    got, _, body = call(app, "POST", "/predict", GOOD, headers)
    assert got == status, body
    if words:
        assert words in json.loads(body)["message"]
    assert got != 403 or b"evil" not in body  # the refusal does not echo the identity


def test_groups_are_checked_in_every_form_a_gateway_writes_them():
    app = server(identity=IdentityPolicy.of([], True, ["ml-users"], []))
    ok = {"X-Forwarded-Email": "jane@anywhere.org"}
    assert call(app, "POST", "/predict", GOOD, ok)[0] == 403
    for groups in ("engineering,ml-users", '["ml-users","design"]', "[design ml-users]", '"ml-users"'):
        assert call(app, "POST", "/predict", GOOD, {**ok, "X-Forwarded-Groups": groups})[0] == 200, groups
    assert call(app, "POST", "/predict", GOOD, {**ok, "X-Forwarded-Groups": "ml-users-not"})[0] == 403
    assert parse_groups("[a b]") == {"a", "b"} and parse_groups('["a b"]') == {"a b"}


def test_identity_policy_refuses_open_or_ambiguous_settings():
    with pytest.raises(ValueError, match="named choice"):
        IdentityPolicy.of(["*"], False, [], [])
    with pytest.raises(ValueError, match="needs --allowed-groups"):
        IdentityPolicy.of([], True, [], [])
    with pytest.raises(ValueError, match="never an address"):
        IdentityPolicy.of(["example.com"], False, [], ["bot@example.com"])


# ── Hostile bodies: a 4xx naming the problem, never a 5xx ──
HOSTILE = [
    (b'{"data":[1' + b"0" * 400 + b",1,1,1]}", "out of range"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"data":' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    (b'{"data":[[[[[[1]]]]],1,1,1]}', "the model expects 4"),
    (b'{"data":[[[1],2,3,4]]}', "is a list of 1"),
    (b'{"data":[1e999,1,1,1]}', "not a finite number"),
    (b"\xff\xfe", "not JSON"),
]


@pytest.mark.parametrize(("body", "words"), HOSTILE)
def test_hostile_bodies_on_predict_are_4xx(body, words):
    app = server()
    status, _, out = call(app, "POST", "/predict", body, {"X-Forwarded-Email": "jane@example.com"})
    assert 400 <= status < 500, out[:300]
    assert words in json.loads(out)["message"]
    assert call(app, "POST", "/predict", GOOD)[0] == 200


def test_hostile_bodies_on_invocations_are_4xx_and_never_counted_as_5xx(real_model):  # noqa: F811
    app = ModelServer(ServerConfig(model_dir=real_model, model_name="iris", model_version="1"))
    app._write = lambda s: None
    app.start_loading().join()
    ct = {"Content-Type": "application/json"}
    for body in (
        b'{"inputs":[[1' + b"0" * 400 + b",1,1,1]]}",
        b'{"dataframe_split":{"data":[[1' + b"0" * 400 + b",1,1,1]]}}",
        b'{"inputs":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"instances":' + b"[" * 200 + b"1" + b"]" * 200 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
    ):
        status, _, out = call(app, "POST", "/invocations", body, ct)
        assert 400 <= status < 500, (body[:40], status, out[:300])
        assert json.loads(out)["message"]
    text = app.metrics.render().decode()
    assert 'status="5' not in text
    assert call(app, "POST", "/invocations", json.dumps({"inputs": [ROW]}).encode(), ct)[0] == 200


# ── Slow uploads: the body is read before a prediction slot is taken ──
def test_a_slow_upload_holds_no_prediction_slot_and_is_capped_per_caller():
    app = server(max_concurrency=1, max_uploads_per_caller=2, body_timeout=0.5)

    async def scenario():
        never = asyncio.Event()
        answers = {}

        async def trickle(name, caller):
            sent = []

            async def receive():
                await never.wait()  # the rest of the body never arrives

            async def send(m):
                sent.append(m)

            hdrs = [(b"x-forwarded-email", caller.encode()), (b"content-length", b"100")]
            await app({"type": "http", "method": "POST", "path": "/predict", "headers": hdrs}, receive, send)
            answers[name] = (sent[0]["status"], json.loads(sent[1]["body"]))

        slow = [asyncio.create_task(trickle(f"slow{i}", "slowpoke@example.com")) for i in range(3)]
        await asyncio.sleep(0.05)
        # While two bodies trickle (and a third is refused), another caller is served at once.
        loop = asyncio.get_running_loop()
        status = await loop.run_in_executor(
            None, lambda: call(app, "POST", "/predict", GOOD, {"X-Forwarded-Email": "patient@example.com"})[0]
        )
        await asyncio.gather(*slow)
        return status, answers

    status, answers = asyncio.run(scenario())
    assert status == 200
    codes = sorted((s, a["error"]) for s, a in answers.values())
    assert codes == [(408, "request_timeout"), (408, "request_timeout"), (429, "too_many_uploads")], codes
    assert app.uploads == {} and app.in_flight == 0


# ── The access log holds no address ──
def test_access_log_holds_the_callers_hmac_never_the_address():
    key = b"k" * 32
    app = server(log_key=key)
    call(app, "POST", "/predict", GOOD, {"X-Forwarded-Email": "jane@example.com"})
    (line,) = [json.loads(x) for x in app.lines if '"request_id"' in x]
    assert line["caller"] == keyed_hash(key, "jane@example.com")
    assert "jane" not in "".join(app.lines)
    # Without a key the server makes one of its own: still no address.
    other = server()
    call(other, "POST", "/predict", GOOD, {"X-Forwarded-Email": "jane@example.com"})
    assert "jane" not in "".join(other.lines) and len(json.loads(other.lines[-1])["caller"]) == 64


# ── /metrics and liveness: the admin port only ──
def test_metrics_and_liveness_only_on_the_admin_port():
    app = server(admin_port=9090)
    for path in ("/metrics", "/healthz", "/health"):
        assert call(app, "GET", path, port=8080)[0] == 404, path
        assert call(app, "GET", path, port=9090)[0] == 200, path
    for path in ("/readyz", "/ping"):
        assert call(app, "GET", path, port=8080)[0] == 200, path
    assert call(app, "GET", "/openapi.json", port=8080)[0] == 200
    assert call(app, "POST", "/predict", GOOD, port=9090)[0] == 404
    assert call(app, "POST", "/predict", GOOD, port=8080)[0] == 200


# ── Obfuscation: by column name, into nested values, every variant ──
FEATURES = ["sepal_length", "customer_id", "income", "comment"]
KEY = b"k" * 32
RULES = [{"field": "customer_id", "kind": "hash"}, {"field": "comment", "kind": "redact"}]


def _records(body, route="/invocations"):
    lg = InferenceLogger(
        None, model="m", version="1", prefix="p", feature_names=FEATURES, context_fields=[], rules=RULES, key=KEY
    )
    ex = Exchange("r", "jane@example.com", route, 200, 0.0, json.dumps(body).encode(), b'{"predictions":[0]}')
    return lg.records(0.0, ex)


def test_dataframe_split_is_logged_by_column_name_in_any_order():
    body = {
        "dataframe_split": {
            "columns": ["income", "customer_id", "comment", "sepal_length"],
            "data": [[52000, "c-42", "x", 5.1]],
        }
    }
    (rec,) = _records(body)
    assert rec["inputs"] == {
        "income": 52000,
        "customer_id": keyed_hash(KEY, "c-42"),
        "comment": "x",
        "sepal_length": 5.1,
    }
    # Records and column-oriented inputs likewise; undeclared columns never logged.
    (rec,) = _records({"dataframe_records": [{"secret": "s", "customer_id": "c-42", "income": 1}]})
    assert rec["inputs"] == {"customer_id": keyed_hash(KEY, "c-42"), "income": 1}
    (rec,) = _records({"inputs": {"customer_id": ["c-42"], "income": [1]}})
    assert rec["inputs"]["customer_id"] == keyed_hash(KEY, "c-42")
    # What cannot be mapped (a column named twice) is not logged.
    assert _records({"dataframe_split": {"columns": ["income", "income"], "data": [["c-42", 1]]}}) == []


def test_redact_reaches_into_nested_values_and_numbers():
    o = Obfuscator([{"field": "comment", "kind": "redact"}], None)
    out = o.apply({"comment": {"note": ["mail jane@example.com", {"card": 4111111111111111}], "jane@example.com": 1}})
    text = json.dumps(out)
    assert "jane" not in text and "4111" not in text, text


@pytest.mark.parametrize(
    "text",
    [
        "4111.1111.1111.1111",
        "4111  1111  1111  1111",
        "4111\u00a01111\u00a01111\u00a01111",
        "4111/1111/1111/1111",
        "4111\u20131111\u20131111\u20131111",
        "\uff14\uff11\uff11\uff11 1111 1111 1111",
        "4111 1111 1111 1111 123",
        "card 4111111111111111, exp 2030",
        "jane\uff20example.com",
        "jane @ example.com",
        "j\u00f6rg@example.de",
    ],
)
def test_redaction_variants(text):
    out = redact_text(text)
    assert "[card]" in out or "[email]" in out, out


# ── The image holds what inference needs ──
def test_inference_requirements_drop_test_and_dev_tools():
    kept, dropped = inference_requirements(
        ["mlflow-skinny==3.17.2", "pytest==9.2.0", "scikit-learn==1.9.1", "pytest-cov==6", "ipython==9", "numpy==2.3"]
    )
    assert kept == ["mlflow-skinny==3.17.2", "scikit-learn==1.9.1", "numpy==2.3"]
    assert dropped == ["pytest==9.2.0", "pytest-cov==6", "ipython==9"]


# ── The OpenAPI document: valid, and true of the real server's answers ──
def test_openapi_document_is_valid_and_true_of_real_answers(real_model):  # noqa: F811
    from jsonschema import Draft202012Validator
    from openapi_spec_validator import validate

    app = ModelServer(
        ServerConfig(model_dir=real_model, model_name="iris", model_version="1", caller_rate=1, caller_burst=10)
    )
    app._write = lambda s: None
    app.start_loading().join()
    status, _, raw = call(app, "GET", "/openapi.json")
    doc = json.loads(raw)
    assert status == 200
    validate(doc)  # OpenAPI 3.1
    assert doc["components"]["schemas"]["Row"] == {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 4,
        "maxItems": 4,
    }
    assert doc["info"]["x-limits"]["maxBodyBytes"] == app.config.max_body_bytes

    def check(route, body, ctype="application/json", headers=None):
        status, hdrs, out = call(app, "POST", route, body, {"Content-Type": ctype, **(headers or {})})
        op = doc["paths"][route]["post"]
        assert str(status) in op["responses"], (route, status)
        response = op["responses"][str(status)]
        schema = response["content"]["application/json"]["schema"]
        # The response's schema at the root, beside the components its references point into.
        Draft202012Validator({**schema, "components": doc["components"]}).validate(json.loads(out))
        for h in response.get("headers", {}):
            assert h.lower() in hdrs, (route, status, h)
        return status

    seen = set()
    for route, body in [
        ("/predict", GOOD),
        ("/predict", json.dumps({"data": [ROW, ROW]}).encode()),
        ("/predict", b"not json"),
        ("/predict", b'{"data":[1,2]}'),
        ("/invocations", json.dumps({"inputs": [ROW]}).encode()),
        ("/invocations", json.dumps({"dataframe_split": {"data": [ROW]}}).encode()),
        ("/invocations", json.dumps({"dataframe_records": [dict(zip("abcd", ROW, strict=True))]}).encode()),
        ("/invocations", json.dumps({"instances": [ROW]}).encode()),
        ("/invocations", b'{"inputs":[[1,"x",3,4]]}'),
        ("/invocations", b"{nope"),
        ("/predict", GOOD),
        ("/predict", GOOD),
    ]:
        seen.add((route, check(route, body)))
    assert {
        ("/predict", 200),
        ("/predict", 400),
        ("/predict", 422),
        ("/predict", 429),
        ("/invocations", 200),
        ("/invocations", 400),
    } <= seen, seen
    # The document the build context writes describes the same contract (limits aside).
    from mlflow.pyfunc import load_model

    built = document(load_model(real_model).metadata.get_input_schema(), model_name="iris", model_version="1")
    assert built["paths"] == doc["paths"] and built["components"] == doc["components"]
