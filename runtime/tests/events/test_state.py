"""The "already notified" state can only be written by the service: a state someone else wrote, removed,
copied or put back never hides a change (against a real MLflow registry, SQLite store)."""

import json
import time

from mlflow_platform.events.engine import Engine, Registry
from mlflow_platform.events.service import Service
from mlflow_platform.events.state import STATE_TAG, Sealer

from .conftest import STATE_KEY, Recorder

OLD = 10 * 3600  # seconds: older than maxAgeSeconds (3600 in the test settings)


def make(settings, client, now=time.time):
    rec = Recorder()
    return Engine(settings, Registry(client), rec, now), rec


def model_with_version(client, name="clf"):
    client.create_registered_model(name)
    return str(client.create_model_version(name, source="/tmp/model", run_id=None).version)


def aliases_announced(rec):
    return [
        (e.kind, e.version, e.detail.get("alias"))
        for e in rec.emitted_events
        if e.kind.startswith("model_version_alias")
    ]


def test_a_state_set_ahead_by_a_user_does_not_hide_a_promotion(settings, client):
    """The review's probe: write the state a user would need to hide the move (the old format, unsigned:
    what the service itself wrote before), then move @production. The move is notified."""
    v = model_with_version(client)
    e, rec = make(settings, client)
    e.reconcile_all()
    # A restart (nothing in memory): only the tag is left to trust.
    e, rec = make(settings, client)
    forged = {"created": True, "aliases": {"production": v}}
    client.set_registered_model_tag("clf", STATE_TAG, json.dumps(forged))
    client.set_registered_model_alias("clf", "production", v)
    e.reconcile_all()
    assert aliases_announced(rec) == [("model_version_alias.created", v, "production")]
    assert [ch for ch, x in rec.sent if x.kind == "model_version_alias.created"] == ["slack"]


def test_a_state_signed_for_another_object_or_with_another_key_is_no_state(settings, client):
    v = model_with_version(client)
    model_with_version(client, "other")
    client.set_registered_model_alias("other", "production", v)
    e, _ = make(settings, client)
    e.reconcile_all()
    # Copy other's genuine, signed state (it says production -> v) onto clf, then promote clf.
    genuine = client.get_registered_model("other").tags[STATE_TAG]
    assert Sealer(STATE_KEY).open("registered_model", "other", None, genuine)[1] == "ok"
    e, rec = make(settings, client)
    client.set_registered_model_tag("clf", STATE_TAG, genuine)
    client.set_registered_model_alias("clf", "production", v)
    e.reconcile_all()
    assert aliases_announced(rec) == [("model_version_alias.created", v, "production")]
    # A state sealed with a key the attacker chose.
    e, rec = make(settings, client)
    fake = Sealer("attacker-key-0123456789abcdef0123456789").seal(
        "registered_model", "clf", None, {"created": True, "aliases": {"production": v, "staging": v}, "owed": []}
    )
    client.set_registered_model_tag("clf", STATE_TAG, fake)
    client.set_registered_model_alias("clf", "staging", v)
    e.reconcile_all()
    assert ("model_version_alias.created", v, "staging") in aliases_announced(rec)


def test_a_removed_state_on_an_old_model_still_notifies_the_alias(settings, client):
    """Older than maxAgeSeconds and no state: first deployment or a removed tag. Not announced as new, but
    the aliases are announced (first seen)."""
    v = model_with_version(client)
    e, _ = make(settings, client, now=lambda: time.time() + OLD)
    e.reconcile_all()
    e, rec = make(settings, client, now=lambda: time.time() + OLD)  # restart
    client.delete_registered_model_tag("clf", STATE_TAG)
    client.set_registered_model_alias("clf", "production", v)
    e.reconcile_all()
    assert aliases_announced(rec) == [("model_version_alias.created", v, "production")]
    assert rec.emitted_events[0].detail["unverified"] is True
    assert not [x for x in rec.emitted_events if x.kind.endswith(".created") and "alias" not in x.kind]


def test_while_running_an_older_signed_state_put_back_is_not_trusted(settings, client):
    v1 = model_with_version(client)
    v2 = str(client.create_model_version("clf", source="/tmp/model", run_id=None).version)
    client.set_registered_model_alias("clf", "production", v1)
    e, rec = make(settings, client)
    e.reconcile_all()
    old_value = client.get_registered_model("clf").tags[STATE_TAG]  # signed: production -> v1
    client.set_registered_model_alias("clf", "production", v2)
    e.reconcile_all()
    # Back to v1, with the state that says "production -> v1 was notified" put back: still notified.
    client.set_registered_model_alias("clf", "production", v1)
    client.set_registered_model_tag("clf", STATE_TAG, old_value)
    rec.emitted_events.clear()
    assert e.reconcile_all() == 1
    assert aliases_announced(rec) == [("model_version_alias.created", v1, "production")]
    assert rec.emitted_events[0].detail["previous_version"] == v2


def test_limit_an_older_signed_state_put_back_while_the_service_was_down_is_trusted(settings, client):
    """The documented limit (docs/registry-events.md): with nothing in memory after a restart, a value the
    service itself once wrote on the same object is indistinguishable from the latest."""
    v1 = model_with_version(client)
    v2 = str(client.create_model_version("clf", source="/tmp/model", run_id=None).version)
    client.set_registered_model_alias("clf", "production", v1)
    e, _ = make(settings, client)
    e.reconcile_all()
    old_value = client.get_registered_model("clf").tags[STATE_TAG]
    client.set_registered_model_alias("clf", "production", v2)
    e.reconcile_all()
    client.set_registered_model_alias("clf", "production", v1)
    client.set_registered_model_tag("clf", STATE_TAG, old_value)
    e, rec = make(settings, client)  # restarted after the change
    assert e.reconcile_all() == 0 and aliases_announced(rec) == []


def test_rejected_states_are_counted_by_reason(settings, client):
    v = model_with_version(client)
    svc = Service(settings, client, sender=lambda c, e: None, sleep=lambda s: None)
    svc.engine.reconcile_all()
    client.set_registered_model_tag("clf", STATE_TAG, "{}")  # forged while the service runs
    client.set_model_version_tag("clf", v, STATE_TAG, "not json")
    svc.engine.reconcile_all()
    sample = svc.metrics.registry.get_sample_value
    assert sample("mlflow_events_state_rejected_total", {"reason": "invalid"}) == 2
    # The service wrote its own (valid) state back.
    assert (
        Sealer(STATE_KEY).open("registered_model", "clf", None, client.get_registered_model("clf").tags[STATE_TAG])[1]
        == "ok"
    )


def test_probe_through_the_service_a_forged_state_hides_nothing(settings, client):
    """The same probe through the service's public surface (what ran in the review): the tags set ahead
    by a user, then @production moved; the message reaches the channel."""
    v = model_with_version(client)
    sent = []
    svc = Service(settings, client, sender=lambda c, e: sent.append((c.name, e.kind, e.version)), sleep=lambda s: None)
    svc.reconcile_once()
    svc = Service(settings, client, sender=lambda c, e: sent.append((c.name, e.kind, e.version)), sleep=lambda s: None)
    client.set_registered_model_tag("clf", STATE_TAG, json.dumps({"created": True, "aliases": {"production": v}}))
    client.set_model_version_tag("clf", v, STATE_TAG, json.dumps({"created": True, "stage": "None", "tags": {}}))
    client.set_registered_model_alias("clf", "production", v)
    svc.reconcile_once()
    assert ("github", "model_version_alias.created", v) in sent
