"""Property-based tests (Hypothesis) of the model path's rules: inputs are generated, not listed.

- Obfuscation: no configured sensitive value (an e-mail address or a card number in free text, a hashed,
  dropped or masked field) ever appears in a logged record, in any column order, request format,
  nesting, Unicode form or separator variant.
- The signature check: any JSON (or any bytes) sent to /predict is either rows of finite numbers of the
  model's width or a 4xx naming the problem, never another exception; the same through the ASGI app for
  /predict and /invocations (the real model): never a 5xx, and the server keeps serving.

``pytest --hypothesis-show-statistics`` (scripts/test-runtime.sh) prints the examples tried per test.
"""

import json
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlflow_platform.serving.app import Exchange, ModelServer, ServerConfig
from mlflow_platform.serving.inference_log import InferenceLogger
from mlflow_platform.serving.model import BadRequest, parse_predict_body

from .test_serving import fake_loader, real_model  # noqa: F401 - real_model is a fixture
from .test_serving_trust import call

# No example database in the repository; no deadline (a loaded CI machine is not a failure).
PROPERTY = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

KEY = b"k" * 32
FEATURES = ["sepal_length", "customer_id", "customer_email", "account", "comment", "notes"]
RULES = [
    {"field": "customer_id", "kind": "hash"},
    {"field": "customer_email", "kind": "drop"},
    {"field": "account", "kind": "mask", "keepLast": 4},
    {"field": "comment", "kind": "redact"},
    {"field": "notes", "kind": "redact"},
]


# ── Sensitive values and the forms a careless or hostile client writes them in ──
def _luhn_complete(prefix: list[int]) -> str:
    total = 0
    for i, d in enumerate(reversed(prefix)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return "".join(map(str, prefix)) + str((10 - total % 10) % 10)


cards = st.integers(12, 18).flatmap(
    lambda n: st.lists(st.integers(0, 9), min_size=n, max_size=n).map(lambda ds: _luhn_complete([4, *ds[1:]]))
)
SEPARATORS = [" ", "  ", "-", ".", "/", "\u00a0", "\u2013", "\u2014", "\u202f", " - ", "_", "\u200b", "\u3000"]
FULL_WIDTH = {c: chr(0xFF10 + int(c)) for c in string.digits}


@st.composite
def card_text(draw) -> tuple[str, str]:
    """(the card number, how it is written: grouped by any separators, maybe full-width digits)."""
    card = draw(cards)
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=8))
    groups, i = [], 0
    for size in sizes:
        if i >= len(card):
            break
        groups.append(card[i : i + size])
        i += size
    if i < len(card):
        groups.append(card[i:])
    sep = draw(st.sampled_from(SEPARATORS))
    text = sep.join(groups)
    if draw(st.booleans()):
        text = "".join(FULL_WIDTH.get(c, c) for c in text)
    return card, text


local_parts = st.tuples(
    st.sampled_from(string.ascii_lowercase + string.digits),
    st.text(string.ascii_lowercase + string.digits + "._+-", max_size=11),
).map("".join)
domains = st.tuples(
    st.text(string.ascii_lowercase, min_size=2, max_size=10), st.sampled_from(["com", "org", "de", "co.uk"])
).map(".".join)


@st.composite
def email_text(draw) -> tuple[str, str]:
    """(the address, how it is written: plain, a full-width at sign, spaces around it, full-width letters)."""
    email = f"{draw(local_parts)}@{draw(domains)}"
    at = draw(st.sampled_from(["@", "\uff20", "\ufe6b", " @ ", "\u00a0@\u00a0"]))
    text = email.replace("@", at)
    if draw(st.booleans()):
        text = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in text)
    return email, text


words = st.text(string.ascii_letters + " ,;:()!?", max_size=15)


@st.composite
def free_text(draw) -> tuple[str, list[str], list[str]]:
    """Free text holding e-mail addresses and card numbers: (text, addresses, cards)."""
    parts, emails, card_numbers = [draw(words)], [], []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            email, text = draw(email_text())
            emails.append(email)
        else:
            card, text = draw(card_text())
            card_numbers.append(card)
        # Whatever stands next to it is separated from it (else it is part of the value).
        parts += [
            draw(st.sampled_from([" ", ", ", " (", ": ", "\n"])),
            text,
            draw(st.sampled_from([" ", ". ", ")", "\n"])),
        ]
        parts.append(draw(words))
    return "".join(parts), emails, card_numbers


def nested(leaf):
    """``leaf`` somewhere inside objects and lists (or not nested at all)."""
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3),
            st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=5), inner, min_size=1, max_size=3),
        ),
        max_leaves=4,
    )


def _leaves(value, found):
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], str):
        found.append(value)
        return value[0]
    if isinstance(value, list):
        return [_leaves(v, found) for v in value]
    if isinstance(value, dict):
        return {k: _leaves(v, found) for k, v in value.items()}
    return value


@st.composite
def request(draw):
    """A request body in one of MLflow's JSON formats with the columns in any order, the secrets to look for."""
    secrets: list[str] = []
    cards_: list[str] = []
    found: list = []
    comment = _leaves(draw(nested(free_text())), found)
    notes, note_emails, note_cards = draw(free_text())
    for _, e, c in found:
        secrets += e
        cards_ += c
    secrets += note_emails
    cards_ += note_cards
    # Values no other part of a record can spell by chance (free text has no "-" and no digits).
    customer_id = "cust-" + draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=12))
    email, _ = draw(email_text())
    account = "DE-" + draw(st.text(string.ascii_uppercase + string.digits, min_size=8, max_size=22))
    row = {
        "sepal_length": draw(st.floats(0, 10, allow_nan=False)),
        "customer_id": customer_id,
        "customer_email": email,
        "account": account,
        "comment": comment,
        "notes": notes,
    }
    secrets += [customer_id, email, account]
    order = draw(st.permutations(FEATURES))
    fmt = draw(st.sampled_from(["dataframe_split", "dataframe_records", "inputs_records", "inputs_columns"]))
    if fmt == "dataframe_split":
        body = {"dataframe_split": {"columns": order, "data": [[row[c] for c in order]]}}
    elif fmt == "dataframe_records":
        body = {"dataframe_records": [{c: row[c] for c in order}]}
    elif fmt == "inputs_records":
        body = {"inputs": [{c: row[c] for c in order}]}
    else:
        body = {"inputs": {c: [row[c]] for c in order}}
    # The context: a declared field (its rule applies) and undeclared ones (never logged).
    body["context"] = {"comment": comment, "customer_id": customer_id, "email": email}
    return body, secrets, cards_


def _logger():
    return InferenceLogger(
        None,
        model="m",
        version="1",
        prefix="p",
        feature_names=FEATURES,
        context_fields=["comment", "customer_id"],
        rules=RULES,
        key=KEY,
    )


def _strings(value, out: list[str]) -> None:
    """Every key, string and number of a record (a card number in clear lives within one of them)."""
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(str(k))
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        out.append(str(value))


def _digits(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text) if c.isdigit())


@PROPERTY
@given(request())
def test_no_sensitive_value_ever_reaches_a_logged_record(case):
    body, secrets, cards_ = case
    lg = _logger()
    records = lg.records(
        0.0, Exchange("r", "jane@example.com", "/invocations", 200, 0.0, json.dumps(body).encode(), b"{}")
    )
    assert len(records) == 1
    logged = unicodedata.normalize("NFKC", json.dumps(records[0], ensure_ascii=False)).lower()
    for s in secrets:
        assert unicodedata.normalize("NFKC", s).lower() not in logged, f"{s!r} in clear in {logged}"
    leaves: list[str] = []
    _strings(records[0], leaves)
    for c in cards_:
        leaked = [leaf for leaf in leaves if c in _digits(leaf)]
        assert not leaked, f"card {c} in clear in {leaked}"
    # The rules follow the names whatever the order: the hash is the hash of that column's value.
    inputs = records[0]["inputs"]
    assert "customer_email" not in inputs and set(inputs) <= set(FEATURES)


# ── The signature check ──
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps({"data": v}).encode()),
    st.lists(st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.text(max_size=3)), max_size=6).map(
        lambda row: json.dumps({"data": row}).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.integers(1, 3000).map(lambda n: b'{"data":' + b"[" * n + b"]" * n + b"}"),
    st.integers(300, 2000).map(lambda n: b'{"data":[1' + b"0" * n + b",1,1,1]}"),
)


@PROPERTY
@given(bodies)
def test_the_signature_check_answers_rows_or_a_4xx_never_anything_else(body):
    try:
        rows = parse_predict_body(body, 4)
    except BadRequest as e:
        assert 400 <= e.status < 500 and e.message
        return
    assert all(len(r) == 4 and all(type(v) in (int, float) for v in r) for r in rows)


@pytest.fixture(scope="module")
def fake_server():
    app = ModelServer(ServerConfig("/x", "iris", "3", caller_rate=1e9, caller_burst=10**9), loader=fake_loader)
    app._write = lambda s: None
    app.start_loading().join()
    return app


@PROPERTY
@given(body=bodies)
def test_predict_never_answers_5xx(fake_server, body):
    status, _, out = call(fake_server, "POST", "/predict", body)
    assert status < 500, out[:300]
    assert json.loads(out)["request_id"]


@pytest.fixture(scope="module")
def real_server(real_model):  # noqa: F811
    app = ModelServer(ServerConfig(real_model, "iris", "1", caller_rate=1e9, caller_burst=10**9))
    app._write = lambda s: None
    app.start_loading().join()
    return app


invocation_bodies = st.one_of(
    st.tuples(st.sampled_from(["inputs", "instances", "dataframe_records"]), json_values).map(
        lambda kv: json.dumps({kv[0]: kv[1]}).encode()
    ),
    st.tuples(st.one_of(st.none(), st.lists(st.text(max_size=3), max_size=5)), json_values).map(
        lambda cd: json.dumps({"dataframe_split": {"columns": cd[0], "data": cd[1]}}).encode()
    ),
    bodies,
)


@settings(PROPERTY, max_examples=200)
@given(
    body=invocation_bodies, ctype=st.sampled_from(["application/json", "text/csv", "application/json; charset=utf-8"])
)
def test_invocations_never_answers_5xx_with_the_real_model(real_server, body, ctype):
    status, _, out = call(real_server, "POST", "/invocations", body, {"Content-Type": ctype})
    assert status < 500, (body[:200], out[:300])
    assert (
        call(
            real_server,
            "POST",
            "/invocations",
            b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
            {"Content-Type": "application/json"},
        )[0]
        == 200
    )


@PROPERTY
@given(bodies)
def test_the_cheap_prefilter_never_skips_a_body_the_full_check_refuses(body):
    from mlflow_platform.serving.model import check_json_input, load_json, needs_json_check

    try:
        doc = load_json(body)
    except BadRequest:
        return  # MLflow's own parser refuses it (not JSON) with a 400
    try:
        check_json_input(doc)
    except BadRequest:
        assert needs_json_check(body), body[:200]
