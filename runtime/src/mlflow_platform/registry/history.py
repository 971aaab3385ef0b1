"""The append-only promotion history of a registered model.

Where: one tag per entry on the *registered model*, ``platform.history.<seq>`` (seq zero-padded to six
digits, so tags sort in order), each value one JSON object. Why there:
- aliases move and versions get archived or deleted: the registered model is the one object that lives
  as long as the history is meaningful;
- one key per entry: appending never rewrites an earlier entry (no read-modify-write of a growing blob,
  no lost update of old entries), and each value stays far below MLflow's 100,000-character limit on
  registry tag values;
- not the description: people edit it in the UI;
- not an artifact: registered models have no artifact location of their own, and the events service
  and ``status`` read tags through the same REST call (``registered-models/get``) as the aliases.

Each decision is also written on the model version it concerns, as ``platform.decision.<seq>`` with
the same JSON, so the version carries its own record and a webhook ``model_version_tag.set`` announces it.

Entry (see docs/model-registry.md, "History format", the contract with the registry events service)::

    {"seq": 4, "at": "2026-12-01T01:23:45Z", "action": "promote", "result": "refused",
     "model": "iris", "version": "2", "target": "production", "by": "jane@example.com",
     "previous": "1", "gates": [{"gate": "metric:accuracy", "result": "fail", "detail": "..."}]}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

HISTORY_PREFIX = "platform.history."
DECISION_PREFIX = "platform.decision."
FORMAT_VERSION = 1


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def history_key(seq: int) -> str:
    return f"{HISTORY_PREFIX}{seq:06d}"


def read_history(model_tags: dict[str, str]) -> list[dict]:
    """The entries in order, from a registered model's tags. Unparseable entries are kept, marked."""
    out = []
    for key in sorted(k for k in model_tags if k.startswith(HISTORY_PREFIX)):
        try:
            entry = json.loads(model_tags[key])
        except ValueError:
            entry = {"seq": key[len(HISTORY_PREFIX) :], "unparseable": model_tags[key][:200]}
        out.append(entry)
    return out


def same_decision(a: dict, b: dict) -> bool:
    """Two entries that record the same decision (ignoring when and their sequence numbers)."""
    ignore = {"seq", "at"}
    return {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}


def append(client, model: str, entry: dict, model_tags: dict[str, str]) -> dict:
    """Appends ``entry`` to the history of ``model`` and writes it on its version. Returns the entry."""
    existing = [
        int(k[len(HISTORY_PREFIX) :])
        for k in model_tags
        if k.startswith(HISTORY_PREFIX) and k[len(HISTORY_PREFIX) :].isdigit()
    ]
    seq = max(existing, default=0) + 1
    full = {"seq": seq, "at": now(), "format": FORMAT_VERSION, **entry}
    value = json.dumps(full, sort_keys=True, separators=(",", ":"))
    client.set_registered_model_tag(model, history_key(seq), value)
    if full.get("version"):
        client.set_model_version_tag(model, str(full["version"]), f"{DECISION_PREFIX}{seq:06d}", value)
    model_tags[history_key(seq)] = value
    return full
