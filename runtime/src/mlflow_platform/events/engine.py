"""Exactly-once event detection: one comparison between the registry and what was already notified.

Where the "already notified" state lives: on the registry objects themselves, as tags
(``platform.events.notified``) written by this service after it notified. A model version's tag holds
whether its creation was notified, the stage last notified and the watched tags' last notified values;
a registered model's tag holds whether its creation was notified and the aliases last notified. So:

- no new stateful store (no volume, no table, no database credentials): the state is as durable,
  backed up and replicated as the registry it describes, and survives restarts and rescheduling;
- a webhook is only a hint ("look at this version now"): the webhook path and the scheduled
  reconciliation run the same comparison, one at a time in one worker thread, so whichever sees a
  change first notifies it and the other finds it already recorded (exactly once, whatever the order);
- a lost delivery, a stage transition (no webhook at all) or a change made while the service was
  down is found by the next reconciliation.

The order is notify, then record: a crash between the two repeats one notification (at-least-once
inside that window, milliseconds), never loses one. SIGTERM lets the current event finish first.
Versions and models older than ``max_age_seconds`` found without state (first deployment onto an
existing registry) are recorded without notifying.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .model import Event
from .settings import Settings

STATE_TAG = "platform.events.notified"
#: Tags the registry tool (runtime/src/mlflow_platform/registry) writes for gate decisions.
GATE_TAG_PREFIX = "platform.gate."
#: Our own tags (and any platform.events.* tag): never events.
OWN_TAG_PREFIX = "platform.events."
REFUSED_WORDS = ("refused", "failed", "rejected", "denied")

log = logging.getLogger("mlflow_platform.events")


def gate_refusal(value: str) -> dict | None:
    """The detail of a refused-gate tag value, or None when the gate passed.

    The registry tool writes a JSON object (``{"result": "refused", "reason": ..., "by": ..., "at": ...}``);
    a plain string starting with a refusal word (``refused: ...``) is accepted too.
    """
    try:
        parsed = json.loads(value)
    except (ValueError, TypeError):
        parsed = None
    if isinstance(parsed, dict):
        result = str(parsed.get("result", parsed.get("decision", ""))).lower()
        if result in REFUSED_WORDS:
            return {k: parsed[k] for k in ("reason", "by", "at") if k in parsed}
        return None
    text = str(value).strip().lower()
    if text.startswith(REFUSED_WORDS):
        return {"reason": str(value).strip()[:300]}
    return None


def _load(tags: dict[str, str]) -> dict | None:
    raw = tags.get(STATE_TAG)
    if raw is None:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def _dump(state: dict) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


@dataclass
class Registry:
    """The registry operations the engine needs, over an MlflowClient."""

    client: object

    def versions(self) -> Iterable:
        token = None
        while True:
            page = self.client.search_model_versions(max_results=200, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    def models(self) -> Iterable:
        token = None
        while True:
            page = self.client.search_registered_models(max_results=200, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    def version(self, name: str, version: str):
        return self.client.get_model_version(name, version)

    def model(self, name: str):
        return self.client.get_registered_model(name)

    def record_version(self, name: str, version: str, state: dict) -> None:
        self.client.set_model_version_tag(name, version, STATE_TAG, _dump(state))

    def record_model(self, name: str, state: dict) -> None:
        self.client.set_registered_model_tag(name, STATE_TAG, _dump(state))


class Engine:
    """Compares registry objects with their recorded state and emits what changed (exactly once)."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        emit: Callable[[Event], None],
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.emit = emit
        self.now = now

    def _watched(self, key: str) -> bool:
        return not key.startswith(OWN_TAG_PREFIX) and (
            key in self.settings.watched_tags or key.startswith(GATE_TAG_PREFIX)
        )

    # ── model versions: creation, stage, watched tags, gate decisions ──
    def reconcile_version(self, mv, source: str) -> int:
        tags = dict(mv.tags or {})
        state = _load(tags)
        created_s = (mv.creation_timestamp or 0) / 1000
        updated_s = (mv.last_updated_timestamp or mv.creation_timestamp or 0) / 1000
        stage = mv.current_stage or "None"
        watched = {k: v for k, v in tags.items() if self._watched(k)}
        if state is None and self.now() - created_s > self.settings.max_age_seconds:
            # Older than anything we could still owe a notification for: record, do not notify.
            self.registry.record_version(mv.name, mv.version, {"created": True, "stage": stage, "tags": watched})
            return 0
        new = dict(state or {"created": False, "stage": "None", "tags": {}})
        events: list[Event] = []
        if not new.get("created"):
            events.append(
                Event(
                    "model_version.created",
                    mv.name,
                    str(mv.version),
                    {"source": mv.source, "run_id": mv.run_id},
                    source,
                    created_s,
                )
            )
            new["created"] = True
        if new.get("stage", "None") != stage:
            events.append(
                Event(
                    "model_version.stage_changed",
                    mv.name,
                    str(mv.version),
                    {"from": new.get("stage", "None"), "to": stage},
                    source,
                    updated_s,
                )
            )
            new["stage"] = stage
        notified_tags = dict(new.get("tags") or {})
        for key, value in sorted(watched.items()):
            if notified_tags.get(key) == value:
                continue
            if key.startswith(GATE_TAG_PREFIX):
                refusal = gate_refusal(value)
                if refusal is not None:
                    events.append(
                        Event(
                            "gate.refused",
                            mv.name,
                            str(mv.version),
                            {"gate": key[len(GATE_TAG_PREFIX) :], **refusal},
                            source,
                        )
                    )
            else:
                events.append(
                    Event("model_version_tag.set", mv.name, str(mv.version), {"key": key, "value": value}, source)
                )
            notified_tags[key] = value
        # A watched tag that was removed is forgotten, so setting it again is a new event.
        new["tags"] = {k: v for k, v in notified_tags.items() if k in watched}
        if new == state:
            return 0
        for e in events:
            self.emit(e)
        self.registry.record_version(mv.name, mv.version, new)
        return len(events)

    # ── registered models: creation, aliases ──
    def reconcile_model(self, rm, source: str) -> int:
        state = _load(dict(rm.tags or {}))
        aliases = {str(a): str(v) for a, v in (rm.aliases or {}).items()}
        created_s = (rm.creation_timestamp or 0) / 1000
        if state is None and self.now() - created_s > self.settings.max_age_seconds:
            self.registry.record_model(rm.name, {"created": True, "aliases": aliases})
            return 0
        new = dict(state or {"created": False, "aliases": {}})
        events: list[Event] = []
        if not new.get("created"):
            events.append(Event("registered_model.created", rm.name, None, {}, source, created_s))
            new["created"] = True
        old = dict(new.get("aliases") or {})
        for alias in sorted(set(old) | set(aliases)):
            if alias in aliases and old.get(alias) != aliases[alias]:
                detail = {"alias": alias, **({"previous_version": old[alias]} if alias in old else {})}
                events.append(Event("model_version_alias.created", rm.name, aliases[alias], detail, source))
            elif alias not in aliases:
                events.append(Event("model_version_alias.deleted", rm.name, old[alias], {"alias": alias}, source))
        new["aliases"] = aliases
        if new == state:
            return 0
        for e in events:
            self.emit(e)
        self.registry.record_model(rm.name, new)
        return len(events)

    def reconcile_all(self) -> int:
        count = 0
        # Models first: "new model" before "new version 1 of it".
        for rm in self.registry.models():
            count += self.reconcile_model(rm, "reconcile")
        for mv in self.registry.versions():
            count += self.reconcile_version(mv, "reconcile")
        return count

    def on_webhook(self, payload: dict) -> int:
        """A delivery names what changed; compare that object now (the same comparison reconciliation makes)."""
        entity = payload.get("entity")
        data = payload.get("data") or {}
        name = data.get("name")
        if not isinstance(name, str) or not name:
            return 0
        if entity == "model_version_tag" and str(data.get("key", "")).startswith(OWN_TAG_PREFIX):
            return 0  # our own state write, echoed back
        if entity in ("registered_model", "model_version_alias"):
            return self.reconcile_model(self.registry.model(name), "webhook")
        if entity in ("model_version", "model_version_tag") and data.get("version") is not None:
            count = 0
            if entity == "model_version":
                # A new version of a model nobody notified yet: the model first.
                count += self.reconcile_model(self.registry.model(name), "webhook")
            return count + self.reconcile_version(self.registry.version(name, str(data["version"])), "webhook")
        return 0
