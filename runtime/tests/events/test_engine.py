"""Exactly-once detection against a real MLflow registry (SQLite store, MLflow's own client)."""

import json
import time

from mlflow_platform.events.engine import Engine, Registry, gate_refusal
from mlflow_platform.events.state import STATE_TAG, Sealer

from .conftest import STATE_KEY, Recorder


def engine(settings, client, now=time.time):
    rec = Recorder()
    return Engine(settings, Registry(client), rec, now), rec.emitted_events


def opened(kind, name, version, raw):
    state, status = Sealer(STATE_KEY).open(kind, name, version, raw)
    assert status == "ok", status
    return state


def kinds(events):
    return [(e.kind, e.model, e.version, e.source) for e in events]


def new_version(client, name="clf"):
    try:
        client.create_registered_model(name)
    except Exception:  # noqa: S110, BLE001 - already there
        pass
    return str(client.create_model_version(name, source="/tmp/model", run_id=None).version)


def test_reconcile_notifies_a_new_model_and_version_exactly_once_across_restarts(settings, client):
    v = new_version(client)
    e1, out = engine(settings, client)
    assert e1.reconcile_all() == 2
    assert kinds(out) == [
        ("registered_model.created", "clf", None, "reconcile"),
        ("model_version.created", "clf", v, "reconcile"),
    ]
    assert e1.reconcile_all() == 0
    # A restart: a new engine (no memory) reads the state from the registry's tags.
    e2, out2 = engine(settings, client)
    assert e2.reconcile_all() == 0 and out2 == []
    state = opened("model_version", "clf", v, client.get_model_version("clf", v).tags[STATE_TAG])
    assert state == {"created": True, "stage": "None", "tags": {}, "owed": []}


def test_stage_transition_fires_no_webhook_but_is_notified_once(settings, client):
    v = new_version(client)
    e, out = engine(settings, client)
    e.reconcile_all()
    out.clear()
    client.transition_model_version_stage("clf", v, "Staging")
    assert e.reconcile_all() == 1
    assert out[0].kind == "model_version.stage_changed" and out[0].detail == {"from": "None", "to": "Staging"}
    assert e.reconcile_all() == 0


def test_created_and_staged_while_down_gives_both_events_once(settings, client):
    e, _ = engine(settings, client)
    e.reconcile_all()
    v = new_version(client)
    client.transition_model_version_stage("clf", v, "Production")
    e2, out2 = engine(settings, client)
    e2.reconcile_all()
    assert [x.kind for x in out2] == [
        "registered_model.created",
        "model_version.created",
        "model_version.stage_changed",
    ]
    assert out2[2].detail == {"from": "None", "to": "Production"}
    assert e2.reconcile_all() == 0


def test_webhook_then_reconcile_notifies_once_and_reconcile_then_webhook_too(settings, client):
    v = new_version(client)
    e, out = engine(settings, client)
    payload = {"entity": "model_version", "action": "created", "data": {"name": "clf", "version": v}}
    assert e.on_webhook(payload) == 2
    assert {x.source for x in out} == {"webhook"}
    assert e.reconcile_all() == 0
    assert e.on_webhook(payload) == 0  # a replayed delivery that slipped past dedup: still once
    v2 = new_version(client)
    assert e.reconcile_all() == 1
    assert e.on_webhook({"entity": "model_version", "action": "created", "data": {"name": "clf", "version": v2}}) == 0
    assert [x.kind for x in out].count("model_version.created") == 2


def test_watched_tags_gate_refusals_and_own_tags(settings, client):
    v = new_version(client)
    e, out = engine(settings, client)
    e.reconcile_all()
    out.clear()
    client.set_model_version_tag("clf", v, "production-ready", "true")
    client.set_model_version_tag("clf", v, "some-other-tag", "x")
    client.set_model_version_tag(
        "clf",
        v,
        "platform.gate.metrics",
        json.dumps({"result": "refused", "reason": "accuracy 0.71 < 0.8", "by": "ci"}),
    )
    client.set_model_version_tag("clf", v, "platform.gate.signature", json.dumps({"result": "passed"}))
    assert (
        e.on_webhook(
            {
                "entity": "model_version_tag",
                "action": "set",
                "data": {"name": "clf", "version": v, "key": "production-ready"},
            }
        )
        == 2
    )
    assert sorted((x.kind, json.dumps(x.detail, sort_keys=True)) for x in out) == [
        ("gate.refused", json.dumps({"by": "ci", "gate": "metrics", "reason": "accuracy 0.71 < 0.8"}, sort_keys=True)),
        ("model_version_tag.set", json.dumps({"key": "production-ready", "value": "true"}, sort_keys=True)),
    ]
    # Our own state tag echoed back by MLflow's webhook is not an event.
    assert (
        e.on_webhook(
            {"entity": "model_version_tag", "action": "set", "data": {"name": "clf", "version": v, "key": STATE_TAG}}
        )
        == 0
    )
    assert e.reconcile_all() == 0
    # Removing and setting again is a new event; setting the same value again is not.
    client.delete_model_version_tag("clf", v, "production-ready")
    assert e.reconcile_all() == 0
    client.set_model_version_tag("clf", v, "production-ready", "true")
    assert e.reconcile_all() == 1


def test_aliases_created_moved_deleted(settings, client):
    v1 = new_version(client)
    v2 = new_version(client)
    e, out = engine(settings, client)
    e.reconcile_all()
    out.clear()
    client.set_registered_model_alias("clf", "champion", v1)
    assert (
        e.on_webhook(
            {
                "entity": "model_version_alias",
                "action": "created",
                "data": {"name": "clf", "alias": "champion", "version": v1},
            }
        )
        == 1
    )
    client.set_registered_model_alias("clf", "champion", v2)
    assert e.reconcile_all() == 1
    client.delete_registered_model_alias("clf", "champion")
    assert e.reconcile_all() == 1
    assert [(x.kind, x.version, x.detail) for x in out] == [
        ("model_version_alias.created", v1, {"alias": "champion"}),
        ("model_version_alias.created", v2, {"alias": "champion", "previous_version": v1}),
        ("model_version_alias.deleted", v2, {"alias": "champion"}),
    ]


def test_an_existing_registry_is_adopted_announcing_only_what_is_live(settings, client):
    """First deployment onto a registry older than maxAgeSeconds: nothing is announced as new and retired
    or never-staged versions are taken as they are, but a live stage and an alias are announced once,
    marked "first seen" (a missing state must never hide a promotion)."""
    retired = new_version(client)
    client.transition_model_version_stage("clf", retired, "Archived")
    v = new_version(client)
    client.transition_model_version_stage("clf", v, "Production")
    client.set_registered_model_alias("clf", "champion", v)
    e, out = engine(settings, client, now=lambda: time.time() + 10 * 3600)
    assert e.reconcile_all() == 2
    assert [(x.kind, x.version, x.detail) for x in out] == [
        ("model_version_alias.created", v, {"alias": "champion", "unverified": True}),
        ("model_version.stage_changed", v, {"from": "None", "to": "Production", "unverified": True}),
    ]
    assert "(first seen" in out[0].summary()
    assert (
        opened("model_version", "clf", v, client.get_model_version("clf", v).tags[STATE_TAG])["stage"] == "Production"
    )
    assert (
        opened("model_version", "clf", retired, client.get_model_version("clf", retired).tags[STATE_TAG])["stage"]
        == "Archived"
    )
    assert e.reconcile_all() == 0
    client.transition_model_version_stage("clf", v, "Archived")
    assert e.reconcile_all() == 1


def test_gate_refusal_values():
    assert gate_refusal(json.dumps({"result": "refused", "reason": "r"})) == {"reason": "r"}
    assert gate_refusal(json.dumps({"result": "passed"})) is None
    assert gate_refusal("refused: approver is the requester") == {"reason": "refused: approver is the requester"}
    assert gate_refusal("passed") is None
