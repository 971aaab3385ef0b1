"""Only the service's key, for this very object, opens a state: any change to the state, the object it
is bound to or the key, and any value someone else writes, is "no state" (so the change is notified)."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from mlflow_platform.events.state import FORMAT, INVALID, MISSING, OK, Sealer

from .conftest import PROPERTY, tried

KEY = "k" * 16 + "0123456789abcdef"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
STATES = st.dictionaries(st.text(max_size=12), JSON, max_size=6)
OBJECTS = st.tuples(
    st.sampled_from(["model_version", "registered_model"]),
    st.text(min_size=1, max_size=30),
    st.one_of(st.none(), st.text(max_size=6)),
)


@PROPERTY
@given(OBJECTS, STATES)
def test_a_sealed_state_opens_to_itself(obj, state):
    s = Sealer(KEY)
    assert s.open(*obj, s.seal(*obj, state)) == (json.loads(json.dumps(state)), OK)
    tried("State: what the service sealed opens, unchanged")


@PROPERTY
@given(OBJECTS, OBJECTS, STATES, STATES)
def test_another_object_or_another_state_does_not_open(obj, other_obj, state, other_state):
    s = Sealer(KEY)
    sealed = s.seal(*obj, state)
    if other_obj != obj:
        assert s.open(*other_obj, sealed) == (None, INVALID)
    canon = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731
    assume(canon(other_state) != canon(state))
    doc = json.loads(sealed)
    doc["state"] = other_state
    assert s.open(*obj, json.dumps(doc)) == (None, INVALID)
    tried("State: a seal moved to another object, or a state edited under its seal, is refused")


@PROPERTY
@given(OBJECTS, STATES, st.text(min_size=32, max_size=64))
def test_another_key_does_not_open(obj, state, other_key):
    assume(other_key.encode() != KEY.encode())
    assert Sealer(KEY).open(*obj, Sealer(other_key).seal(*obj, state)) == (None, INVALID)
    tried("State: a state sealed with any other key is refused")


@PROPERTY
@given(
    OBJECTS,
    st.one_of(
        st.text(max_size=200),
        JSON.map(json.dumps),
        STATES.map(lambda s: json.dumps({"v": FORMAT, "state": s, "sig": "x"})),
    ),
)
def test_anything_a_user_writes_is_no_state_and_never_an_error(obj, raw):
    assert Sealer(KEY).open(*obj, raw) == (None, INVALID)
    assert Sealer(KEY).open(*obj, None) == (None, MISSING)
    tried("State: any value a user writes opens to nothing, without an exception")
