"""Exactly-once event detection: one comparison between the registry and what was already notified.

Where the "already notified" state lives: on the registry objects themselves, as a tag
(``platform.events.notified``, :mod:`.state`) that only this service can write validly: its value is
signed with a key only the service holds, and bound to the object it describes. A model version's state
holds whether its creation was notified, the stage last notified and digests of the watched tags' last
notified values; a registered model's state holds whether its creation was notified and the aliases
last notified. Both also hold what some channel still owes (below). So:

- no new stateful store (no volume, no table, no database credentials): the state is as durable,
  backed up and replicated as the registry it describes, and survives restarts and rescheduling;
- nobody else can hide a change: a state that is missing, forged, copied from another object or
  signed with another key counts as "nothing notified", so the change is notified; while the service
  runs, what it wrote last (kept in memory) wins over the tag, so putting back an older signed value
  (a replay) hides nothing either;
- a webhook is only a hint ("look at this version now"): the webhook path and the scheduled
  reconciliation run the same comparison, one at a time in one worker thread, so whichever sees a
  change first notifies it and the other finds it already recorded (exactly once, whatever the order);
- a lost delivery, a stage transition (no webhook at all) or a change made while the service was
  down is found by the next reconciliation.

Delivery state is per channel. The order is: record the new state together with the messages each
channel owes, then send, then record what is still owed. A channel that fails (after its retries, or
at once for an error that is not worth retrying) keeps its message owed and is tried again on the next
pass, alone: the channels that did receive it are not sent it again. The first failure is reported
on the other channels (``delivery.failed``); a message still owed after ``retry.keepSeconds`` is given
up (logged). A crash between a send and the next record repeats that one channel's message
(milliseconds), never loses one. SIGTERM lets the current event finish first.

Objects older than ``max_age_seconds`` found without a valid state (a first deployment onto an existing
registry, or someone removed or forged the state) are not announced as new, and a version's stage None
or Archived is taken as it is; its other stages, its watched tags and a model's aliases are announced
(marked "first seen"), because a missing state must never be the way to hide a promotion.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from mlflow_platform.common.paging import all_pages

from .model import MAX_FIELD, Event
from .settings import Settings
from .state import INVALID, MISSING, OK, STATE_TAG, Sealer, value_digest

#: Tags the registry tool (runtime/src/mlflow_platform/registry) writes for gate decisions.
GATE_TAG_PREFIX = "platform.gate."
#: Our own tags (and any platform.events.* tag): never events.
OWN_TAG_PREFIX = "platform.events."
REFUSED_WORDS = ("refused", "failed", "rejected", "denied")
#: At most this many undelivered messages are kept per object (the oldest go first), and the state
#: stays below this many characters (MLflow's limit on a registry tag value is 100,000).
MAX_OWED = 20
MAX_STATE_CHARS = 60_000

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
            return {k: str(parsed[k])[:MAX_FIELD] for k in ("reason", "by", "at") if k in parsed}
        return None
    text = str(value).strip().lower()
    if text.startswith(REFUSED_WORDS):
        return {"reason": str(value).strip()[:300]}
    return None


@dataclass
class Registry:
    """The registry operations the engine needs, over an MlflowClient."""

    client: object

    def versions(self) -> Iterable:
        return all_pages(self.client.search_model_versions)

    def models(self) -> Iterable:
        return all_pages(self.client.search_registered_models)

    def version(self, name: str, version: str):
        return self.client.get_model_version(name, version)

    def model(self, name: str):
        return self.client.get_registered_model(name)

    def record(self, kind: str, name: str, version: str | None, value: str) -> None:
        if kind == "model_version":
            self.client.set_model_version_tag(name, version, STATE_TAG, value)
        else:
            self.client.set_registered_model_tag(name, STATE_TAG, value)


class Notifier(Protocol):
    """What the engine needs from the channels (``service.Dispatcher``)."""

    def routes(self, event: Event) -> list[str]: ...

    def emitted(self, event: Event) -> None: ...

    def configured(self, channel: str) -> bool: ...

    def deliver(self, channel: str, event: Event) -> tuple[bool, int, str]: ...

    def failed(self, event: Event, channel: str, attempts: int, error: str) -> None: ...


class Engine:
    """Compares registry objects with their recorded state and notifies what changed (exactly once per
    channel)."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        notifier: Notifier,
        now: Callable[[], float] = time.time,
        on_rejected_state: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.notifier = notifier
        self.now = now
        self.sealer = Sealer(settings.state_key)
        self.on_rejected_state = on_rejected_state
        #: The state this process last wrote or verified, per object: trusted over the tag.
        self.memory: dict[tuple[str, str, str | None], dict] = {}

    def _watched(self, key: str) -> bool:
        return not key.startswith(OWN_TAG_PREFIX) and (
            key in self.settings.watched_tags or key.startswith(GATE_TAG_PREFIX)
        )

    # ── state ──
    def _load(self, kind: str, name: str, version: str | None, tags: dict) -> tuple[dict | None, bool]:
        """The state to compare against, and whether the tag holds exactly that (else it is rewritten)."""
        key = (kind, name, version)
        state, status = self.sealer.open(kind, name, version, tags.get(STATE_TAG))
        remembered = self.memory.get(key)
        if remembered is not None and state != remembered:
            # Not what this process wrote last: removed, forged, or an older value of ours put back.
            reason = {OK: "replayed", MISSING: "removed", INVALID: "invalid"}[status]
            self._rejected(reason, kind, name, version)
            return remembered, False
        if status == INVALID:
            self._rejected(reason="invalid", kind=kind, name=name, version=version)
        if state is not None:
            self.memory[key] = state
        return state, status == OK

    def _rejected(self, reason: str, kind: str, name: str, version: str | None) -> None:
        log.warning(
            "state tag rejected: compared against what this service notified instead",
            extra={"fields": {"reason": reason, "object": kind, "model": name, "version": version}},
        )
        self.on_rejected_state(reason)

    def _record(self, kind: str, name: str, version: str | None, state: dict) -> None:
        owed = list(state.get("owed") or [])
        value = self.sealer.seal(kind, name, version, state)
        while len(value) > MAX_STATE_CHARS and owed:
            dropped = owed.pop(0)
            log.error(
                "undelivered message dropped: too many owed on one object",
                extra={"fields": {"kind": dropped["event"]["kind"], "model": name, "channels": dropped["channels"]}},
            )
            state = {**state, "owed": owed}
            value = self.sealer.seal(kind, name, version, state)
        self.registry.record(kind, name, version, value)
        self.memory[(kind, name, version)] = json.loads(json.dumps(state))

    # ── delivery: record what is owed, send, record what is still owed ──
    def _settle(
        self, kind: str, name: str, version: str | None, loaded: tuple[dict | None, bool], observed: dict, events
    ) -> int:
        state, tag_holds_state = loaded
        now = self.now()
        owed = [dict(x) for x in ((state or {}).get("owed") or []) if isinstance(x, dict)]
        for e in events:
            self.notifier.emitted(e)
            channels = self.notifier.routes(e)
            if channels:
                owed.append({"event": e.as_record(), "channels": channels, "since": now})
        for dropped in owed[:-MAX_OWED]:
            log.error(
                "undelivered message dropped: too many owed on one object",
                extra={"fields": {"kind": dropped["event"]["kind"], "model": name, "channels": dropped["channels"]}},
            )
        owed = owed[-MAX_OWED:]
        wanted = {**observed, "owed": owed}
        if wanted != state or not tag_holds_state:
            self._record(kind, name, version, wanted)
        if not owed:
            return len(events)
        remaining = []
        for entry in owed:
            event = Event.from_record(entry["event"])
            reported = list(entry.get("reported") or [])
            left = []
            for channel in entry["channels"]:
                if not self.notifier.configured(channel):
                    continue  # the channel was removed from the configuration: nothing to owe
                ok, attempts, error = self.notifier.deliver(channel, event)
                if ok:
                    continue
                if channel not in reported:
                    self.notifier.failed(event, channel, attempts, error)
                    reported.append(channel)
                if now - float(entry.get("since", now)) < self.settings.retry_keep_seconds:
                    left.append(channel)
                else:
                    log.error(
                        "undelivered message given up",
                        extra={
                            "fields": {"channel": channel, "kind": event.kind, "model": event.model, "error": error}
                        },
                    )
            if left:
                remaining.append({**entry, "channels": left, "reported": reported})
        final = {**observed, "owed": remaining}
        if final != wanted:
            self._record(kind, name, version, final)
        return len(events)

    # ── model versions: creation, stage, watched tags, gate decisions ──
    def reconcile_version(self, mv, source: str) -> int:
        tags = dict(mv.tags or {})
        name, version = mv.name, str(mv.version)
        loaded = self._load("model_version", name, version, tags)
        state = loaded[0]
        created_s = (mv.creation_timestamp or 0) / 1000
        updated_s = (mv.last_updated_timestamp or mv.creation_timestamp or 0) / 1000
        stage = mv.current_stage or "None"
        values = {k: v for k, v in tags.items() if self._watched(k)}
        digests = {k: value_digest(v) for k, v in values.items()}
        unverified = state is None and self.now() - created_s > self.settings.max_age_seconds
        if state is None:
            # Older than anything we could still owe a "new version" for: not announced as new; a version
            # never staged or retired is taken as it is. Anything else is announced (first seen).
            base = {"created": unverified, "stage": stage if unverified and stage in ("None", "Archived") else "None"}
            base["tags"] = {}
        else:
            base = state
        mark = {"unverified": True} if unverified else {}
        events: list[Event] = []
        if not base.get("created"):
            events.append(
                Event(
                    "model_version.created",
                    name,
                    version,
                    {"source": mv.source, "run_id": mv.run_id},
                    source,
                    created_s,
                )
            )
        if base.get("stage", "None") != stage:
            events.append(
                Event(
                    "model_version.stage_changed",
                    name,
                    version,
                    {"from": base.get("stage", "None"), "to": stage, **mark},
                    source,
                    updated_s,
                )
            )
        notified = base.get("tags") if isinstance(base.get("tags"), dict) else {}
        for key, value in sorted(values.items()):
            if notified.get(key) == digests[key]:
                continue
            if key.startswith(GATE_TAG_PREFIX):
                refusal = gate_refusal(value)
                if refusal is not None:
                    events.append(
                        Event(
                            "gate.refused",
                            name,
                            version,
                            {"gate": key[len(GATE_TAG_PREFIX) :], **refusal, **mark},
                            source,
                        )
                    )
            else:
                events.append(
                    Event(
                        "model_version_tag.set",
                        name,
                        version,
                        {"key": key, "value": value[:MAX_FIELD], **mark},
                        source,
                    )
                )
        # A watched tag that was removed is forgotten, so setting it again is a new event.
        observed = {"created": True, "stage": stage, "tags": digests}
        return self._settle("model_version", name, version, loaded, observed, events)

    # ── registered models: creation, aliases ──
    def reconcile_model(self, rm, source: str) -> int:
        name = rm.name
        loaded = self._load("registered_model", name, None, dict(rm.tags or {}))
        state = loaded[0]
        aliases = {str(a): str(v) for a, v in (rm.aliases or {}).items()}
        created_s = (rm.creation_timestamp or 0) / 1000
        unverified = state is None and self.now() - created_s > self.settings.max_age_seconds
        base = state if state is not None else {"created": unverified, "aliases": {}}
        mark = {"unverified": True} if unverified else {}
        events: list[Event] = []
        if not base.get("created"):
            events.append(Event("registered_model.created", name, None, {}, source, created_s))
        old = base.get("aliases") if isinstance(base.get("aliases"), dict) else {}
        for alias in sorted(set(old) | set(aliases)):
            if alias in aliases and old.get(alias) != aliases[alias]:
                detail = {"alias": alias, **({"previous_version": old[alias]} if alias in old else {}), **mark}
                events.append(Event("model_version_alias.created", name, aliases[alias], detail, source))
            elif alias not in aliases:
                events.append(Event("model_version_alias.deleted", name, old[alias], {"alias": alias}, source))
        return self._settle("registered_model", name, None, loaded, {"created": True, "aliases": aliases}, events)

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
        data = payload.get("data")
        if not isinstance(data, dict):
            return 0
        name = data.get("name")
        if not isinstance(name, str) or not name:
            return 0
        if entity == "model_version_tag" and str(data.get("key", "")).startswith(OWN_TAG_PREFIX):
            return 0  # our own state write, echoed back
        if entity in ("registered_model", "model_version_alias"):
            return self.reconcile_model(self.registry.model(name), "webhook")
        version = data.get("version")
        if entity in ("model_version", "model_version_tag") and isinstance(version, (str, int)):
            count = 0
            if entity == "model_version":
                # A new version of a model nobody notified yet: the model first.
                count += self.reconcile_model(self.registry.model(name), "webhook")
            return count + self.reconcile_version(self.registry.version(name, str(version)), "webhook")
        return 0
