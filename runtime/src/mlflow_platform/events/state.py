"""The service's "already notified" state, sealed so that only the service can write it.

The state lives on the registry objects it describes (tag :data:`STATE_TAG`), where every signed-in
user can also write. So the value carries an HMAC-SHA256 over the state *and* the object it belongs to
(kind, model name, version), with a key only this service holds (``MLFLOW_EVENTS_STATE_KEY``: not the
webhook secret, which MLflow holds too). A state that is missing, unparseable, signed with another key,
or copied from another object is no state at all: the service compares the registry against "nothing
notified yet", so whatever it finds is notified (a bad or missing signature means notify).

What the signature cannot stop on its own: a user putting back an *older* value this service once
wrote on the same object (a replay), to hide a change back to that older state. While the service runs,
it trusts what it remembers over the tag (see ``Engine``); a replay can only hide a change made while
it was down. docs/registry-events.md has the whole argument.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

STATE_TAG = "platform.events.notified"
FORMAT = 2
#: Domain separation: this key signs nothing else.
_DOMAIN = "mlflow-platform-events/state/v2"
#: The shortest key accepted (bytes of the secret as given).
MIN_KEY_LENGTH = 32

OK = "ok"
MISSING = "missing"
INVALID = "invalid"


class StateKeyError(ValueError):
    pass


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class Sealer:
    """Seals and opens state values for one key."""

    def __init__(self, key: str) -> None:
        if len(key.encode()) < MIN_KEY_LENGTH:
            raise StateKeyError(f"the state key must be at least {MIN_KEY_LENGTH} bytes")
        self._key = key.encode()

    def _mac(self, kind: str, name: str, version: str | None, state: dict) -> str:
        # One JSON array: no two different (object, state) pairs serialize to the same bytes.
        content = _canonical([_DOMAIN, kind, name, version, state]).encode()
        return base64.b64encode(hmac.new(self._key, content, hashlib.sha256).digest()).decode()

    def seal(self, kind: str, name: str, version: str | None, state: dict) -> str:
        return _canonical({"v": FORMAT, "state": state, "sig": self._mac(kind, name, version, state)})

    def open(self, kind: str, name: str, version: str | None, raw: str | None) -> tuple[dict | None, str]:
        """``(state, OK)`` when ``raw`` was sealed by this key for this object; ``(None, MISSING)`` or
        ``(None, INVALID)`` otherwise. Never raises."""
        if raw is None:
            return None, MISSING
        try:
            doc = json.loads(raw)
        except (ValueError, TypeError, RecursionError):
            return None, INVALID
        if not isinstance(doc, dict) or doc.get("v") != FORMAT:
            return None, INVALID
        state, sig = doc.get("state"), doc.get("sig")
        if not isinstance(state, dict) or not isinstance(sig, str):
            return None, INVALID
        expected = self._mac(kind, name, version, state)
        # Constant time: the comparison takes as long whatever prefix of the signature is right.
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return None, INVALID
        return state, OK


def value_digest(value: str) -> str:
    """What the state keeps of a watched tag's value: enough to see a change, never the value itself
    (a tag value can be 100,000 characters; the state must stay far below that limit)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
