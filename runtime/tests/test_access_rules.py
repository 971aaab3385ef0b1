"""The access module without a server: the policy document, the protected-promotion rules, the auth ini, the
guard's registry-write routes and the sync command's exit codes."""

from __future__ import annotations

import asyncio
import configparser
import json

import pytest

import mlflow_platform_access as access
import mlflow_platform_guard as guard

DOC = {
    "version": 1,
    "admins": {"groups": ["platform-admins"]},
    "workspaces": [{"name": "team-a", "description": "team team-a"}],
    "roles": [{"name": "platform.team-a.members", "workspace": "team-a", "permission": "EDIT", "groups": ["ds"]}],
    "protected": {
        "aliases": ["production", "staging"],
        "stages": ["Production", "Staging"],
        "releaseIdentities": ["system:serviceaccount:ci:release"],
        "approvers": {"team-a": ["approvers"]},
        "fourEyes": True,
    },
}
POLICY = access.Policy.from_dict(DOC)


def refuse(identity, write, groups=(), state=None, workspace="team-a", policy=POLICY):
    got = access.promotion_refusal(policy, identity, groups, workspace, write, lambda n, v: state)
    return got and got[0]


def tag(key, value="x", kind="version-tag", method="POST"):
    return access.RegistryWrite(kind, method, "m", "1", tags=((key, None if method == "DELETE" else value),))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version 1"),
        ({"roles": [{"name": "team-a", "workspace": "team-a", "permission": "EDIT", "groups": ["g"]}]}, "platform."),
        (
            {"roles": [{"name": "platform.x", "workspace": "team-a", "permission": "ALL", "groups": ["g"]}]},
            "permission",
        ),
        ({"roles": [{"name": "platform.x", "workspace": "team-a", "permission": "READ", "groups": []}]}, "groups"),
        (
            {"roles": [{"name": "platform.x", "workspace": "team-a", "permission": "READ", "identities": "sa"}]},
            "identities",
        ),
        ({"protected": {"approvers": {"team-a": "approvers"}}}, "approvers"),
    ],
)
def test_a_malformed_policy_is_refused_naming_the_field(change, message):
    with pytest.raises(access.PolicyError, match=message):
        access.Policy.from_dict({**DOC, **change})


def test_role_grants_follow_mlflows_workspace_tier():
    edit = access.Role("platform.a", "a", "EDIT", ("g",)).grants()
    assert ("workspace", "*", "USE") in edit and ("experiment", "*", "EDIT") in edit
    assert ("registered_model", "*", "EDIT") in edit
    assert access.Role("platform.a", "a", "MANAGE", ("g",)).grants() == {("workspace", "*", "MANAGE")}


def test_roles_admin_and_release_from_groups_and_identity():
    assert [r.name for r in POLICY.roles_for(["ds", "other"])] == ["platform.team-a.members"]
    assert POLICY.roles_for(["other"]) == ()
    assert POLICY.is_admin("x@example.com", ["platform-admins"]) and POLICY.is_admin("platform-internal", [])
    assert not POLICY.is_admin("x@example.com", ["ds"])
    assert POLICY.is_release("System:ServiceAccount:CI:Release")


def test_a_workload_without_groups_has_the_roles_that_name_its_identity_and_no_other():
    pipeline = "system:serviceaccount:ml-pipelines:training-pipeline"
    doc = {
        **DOC,
        "roles": [
            *DOC["roles"],
            {"name": "platform.team-b.members", "workspace": "team-b", "permission": "USE", "groups": ["b"]},
            {
                "name": "platform.team-b.pipeline",
                "workspace": "team-b",
                "permission": "EDIT",
                "groups": [],
                "identities": ["System:ServiceAccount:ML-Pipelines:Training-Pipeline"],
            },
        ],
    }
    policy = access.Policy.from_dict(doc)
    assert [(r.workspace, r.name) for r in policy.roles_for([], pipeline)] == [("team-b", "platform.team-b.pipeline")]
    assert [r.name for r in policy.roles_for([], pipeline.upper())] == ["platform.team-b.pipeline"]
    # Another service account, or a person, gets nothing from it; groups still work beside identities.
    assert policy.roles_for([], "system:serviceaccount:ml-pipelines:other") == ()
    assert policy.roles_for([], None) == ()
    assert [r.name for r in policy.roles_for(["ds"], pipeline)] == [
        "platform.team-a.members",
        "platform.team-b.pipeline",
    ]
    # A policy without identities (what the synthesis wrote before) reads as before.
    assert POLICY.roles[0].identities == ()


def test_protected_alias():
    w = access.RegistryWrite("alias", "POST", "m", "1", alias="Production")
    assert refuse("alice@example.com", w) == "protected-alias"
    assert refuse("alice@example.com", w, groups=["platform-admins"]) == "protected-alias"  # admins not exempt
    assert refuse("system:serviceaccount:ci:release", w) is None
    assert refuse("platform-internal", w) is None
    assert refuse("alice@example.com", access.RegistryWrite("alias", "DELETE", "m", None, alias="staging"))
    assert refuse("alice@example.com", access.RegistryWrite("alias", "POST", "m", "1", alias="champion")) is None


def test_protected_stage_to_and_from():
    to = access.RegistryWrite("stage", "POST", "m", "1", stage="production")
    assert refuse("alice@example.com", to) == "protected-stage"
    assert refuse("platform-internal", to) == "protected-stage"  # stages are the release pipeline's only
    assert refuse("system:serviceaccount:ci:release", to) is None
    out = access.RegistryWrite("stage", "POST", "m", "1", stage="Archived")
    assert refuse("alice@example.com", out, state={"current_stage": "Production"}) == "protected-stage"
    assert refuse("alice@example.com", out, state={"current_stage": "None"}) is None


def test_events_tags_are_the_events_services():
    assert refuse("platform-internal", tag("platform.events.notified")) is None
    assert refuse("system:serviceaccount:ci:release", tag("platform.events.notified")) == "platform-tag"


def test_approvals_need_an_approver_of_the_workspace_and_a_second_person():
    w = tag("platform.approval.production")
    registrant = {"tags": {"platform.registrant": json.dumps({"email": "alice@example.com"})}, "user_id": "x"}
    assert refuse("anna@example.com", w, ["approvers"], registrant) is None
    assert refuse("anna@example.com", w, ["ds"], registrant) == "platform-tag"
    assert refuse("anna@example.com", w, ["approvers"], registrant, workspace="team-b") == "platform-tag"
    assert refuse("alice@example.com", w, ["approvers"], registrant) == "four-eyes"
    # Without the platform's record, MLflow's creator is the registrant.
    assert refuse("bob@example.com", w, ["approvers"], {"tags": {}, "user_id": "Bob@Example.com"}) == "four-eyes"
    legacy = {"tags": {"platform.registered_by": "carl@example.com"}, "user_id": "bob@example.com"}
    assert refuse("carl@example.com", w, ["approvers"], legacy) == "four-eyes"
    no_four_eyes = access.Policy.from_dict({**DOC, "protected": {**DOC["protected"], "fourEyes": False}})
    assert refuse("alice@example.com", w, ["approvers"], registrant, policy=no_four_eyes) is None
    create = access.RegistryWrite("create-version", "POST", "m", None, tags=(("platform.approval.x", "y"),))
    assert refuse("anna@example.com", create, ["approvers"]) == "four-eyes"


def test_an_approval_of_a_version_without_a_known_registrant_is_refused():
    # A version from before teams: no registrant record, no registered_by, and MLflow records no creator.
    w = tag("platform.approval.production")
    unknown = {"tags": {"note": "x"}, "user_id": None}
    got = access.promotion_refusal(POLICY, "anna@example.com", ["approvers"], "team-a", w, lambda n, v: unknown)
    assert got[0] == "four-eyes" and "no recorded registrant" in got[1] and "register it again" in got[1]
    # Unreadable is refused too: nobody can be shown to be a second person.
    assert refuse("anna@example.com", w, ["approvers"], None) == "four-eyes"
    # Removing an approval is not an approval.
    assert refuse("anna@example.com", tag("platform.approval.production", method="DELETE"), ["approvers"]) is None


def test_registration_tags_are_written_only_in_the_create_request():
    # A version from before teams carries none: set afterwards, it would let anyone name themselves its registrant
    # (so that its real author becomes a valid second person for the four-eyes rule).
    none_yet = {"tags": {"note": "x"}, "user_id": None}
    me = access.registrant_record("bob@example.com")
    written = (("platform.registrant", me), ("platform.registered_by", "bob@example.com"), ("platform.source", "r"))
    for key, value in written:
        got = access.promotion_refusal(
            POLICY, "bob@example.com", ("ds",), "team-a", tag(key, value), lambda *_: none_yet
        )
        assert got[0] == "platform-tag" and "only when the version is created" in got[1]
    create = access.RegistryWrite("create-version", "POST", "m", None, tags=(("platform.registrant", me),))
    assert refuse("bob@example.com", create, ["ds"]) is None


def test_the_recorded_registrant_is_the_registry_tools_record_of_the_caller():
    from mlflow_platform.registry.core import Registry
    from mlflow_platform.registry.identity import Identity, Person, same_person

    rec = json.loads(access.registrant_record("alice@example.com"))
    assert rec == {"by": "alice@example.com", "email": "alice@example.com", "iss": "", "started_by": [], "sub": ""}
    assert set(rec) == set(Identity("a", "s", "i").as_record()) - {"groups"} | {"started_by"}
    workload = "system:serviceaccount:ci:train"
    assert json.loads(access.registrant_record(workload)) == {**rec, "by": workload, "email": None, "sub": workload}
    # The registry tool reads it as the same person, and the server's rules as the caller.
    version = type("V", (), {"tags": {"platform.registrant": access.registrant_record("alice@example.com")}})
    who, starters = Registry.registrant(version)
    assert same_person(who, Person(email="alice@example.com")) and starters == []
    assert access.registrant_of({"tags": version.tags}) == {"alice@example.com"}
    assert access._names_caller("platform.registrant", access.registrant_record("s1"), "s1")


def test_a_create_version_body_gets_the_callers_registrant_unless_it_names_one():
    got = access.with_recorded_registrant({"name": "m", "tags": [{"key": "note", "value": "x"}]}, "bob@example.com")
    assert got["tags"][0] == {"key": "note", "value": "x"}
    assert got["tags"][1] == {"key": "platform.registrant", "value": access.registrant_record("bob@example.com")}
    assert access.with_recorded_registrant({"name": "m"}, "bob@example.com")["tags"][0]["key"] == "platform.registrant"
    own = {"name": "m", "tags": [{"key": "platform.registrant", "value": json.dumps({"email": "bob@example.com"})}]}
    assert access.with_recorded_registrant(own, "bob@example.com") is None
    assert access.with_recorded_registrant({"name": "m", "tags": "nonsense"}, "bob@example.com") is None


def run_guard(tmp_path, path, body, headers=()):
    """The request the app behind AccessGuard receives: (headers, body), or None when refused."""
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(DOC))
    settings = guard.Settings.from_env(
        {"MLFLOW_PLATFORM_PUBLIC_HOSTS": "mlflow.example.com", "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com"}
    )
    seen = []

    async def app(scope, receive, send):
        got = await receive()
        seen.append((dict(scope["headers"]), got["body"], await receive()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    chunks = [body[:7], body[7:]]

    async def receive():
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(m):
        pass

    hs = [(b"host", b"mlflow.example.com"), (b"x-forwarded-email", b"Alice@Example.com"), *headers]
    scope = {"type": "http", "method": "POST", "path": path, "headers": hs}
    asyncio.run(access.AccessGuard(guard.PlatformGuard(app, settings), settings, str(policy))(scope, receive, send))
    return seen[0] if seen else None


@pytest.mark.parametrize("prefix", ["/api", "/ajax-api"])
def test_the_guard_records_the_registrant_of_a_plain_create_version(tmp_path, prefix):
    body = json.dumps({"name": "m", "source": "runs:/r/model", "tags": [{"key": "note", "value": "x"}]}).encode()
    chunked = [(b"transfer-encoding", b"chunked")]
    headers, got, after = run_guard(tmp_path, f"{prefix}/2.0/mlflow/model-versions/create", body, chunked)
    doc = json.loads(got)
    assert doc["tags"] == [
        {"key": "note", "value": "x"},
        {"key": "platform.registrant", "value": access.registrant_record("alice@example.com")},
    ]
    assert headers[b"content-length"] == str(len(got)).encode() and b"transfer-encoding" not in headers
    assert after["type"] == "http.disconnect"  # the client's receive, not the old body again
    # One that names the caller goes as sent; other writes are never rewritten.
    own = json.dumps({"name": "m", "tags": [{"key": "platform.registrant", "value": '{"email": "alice@example.com"}'}]})
    assert run_guard(tmp_path, f"{prefix}/2.0/mlflow/model-versions/create", own.encode())[1] == own.encode()
    model = json.dumps({"name": "m"}).encode()
    assert run_guard(tmp_path, f"{prefix}/2.0/mlflow/registered-models/create", model)[1] == model


def test_registration_tags():
    me = json.dumps({"email": "alice@example.com", "sub": "s1"})
    create = access.RegistryWrite(
        "create-version",
        "POST",
        "m",
        None,
        tags=(("platform.registrant", me), ("platform.registered_by", "alice@example.com"), ("platform.source", "r")),
    )
    assert refuse("alice@example.com", create) is None
    assert refuse("bob@example.com", create) == "platform-tag"
    assert (
        refuse("s1", access.RegistryWrite("create-version", "POST", "m", None, tags=(("platform.registrant", me),)))
        is None
    )
    # Set afterwards, even on a version that has none, it is refused: only the create request carries it.
    assert refuse("alice@example.com", tag("platform.registrant", me), state={"tags": {}}) == "platform-tag"
    assert refuse("alice@example.com", tag("platform.registrant", me), state={"tags": {"platform.registrant": me}})
    assert refuse("alice@example.com", tag("platform.source", method="DELETE"), state={"tags": {}}) == "platform-tag"


def record(by, **more):
    return json.dumps({"action": "approve", "by": by, **more})


@pytest.mark.parametrize("prefix", ["platform.history.", "platform.decision.", "Platform.History."])
def test_append_only_records_are_added_by_their_author_and_never_rewritten(prefix):
    key = prefix + "000003"
    kind = "version-tag" if "decision" in prefix else "model-tag"
    mine = record("Alice@Example.com")
    fresh = {"tags": {prefix + "000002": record("bob@example.com")}}
    # A data scientist, an approver, the release identity: each adds a record as themselves.
    assert refuse("alice@example.com", tag(key, mine, kind=kind), state=fresh) is None
    assert refuse("anna@example.com", tag(key, record("anna@example.com"), kind=kind), ["approvers"], fresh) is None
    release = "system:serviceaccount:ci:release"
    assert refuse(release, tag(key, record(release), kind=kind), state=fresh) is None
    # Not as someone else, not without a "by", not a value that is not a JSON object.
    for value in (record("bob@example.com"), "{}", "alice@example.com", json.dumps(["alice@example.com"])):
        got = access.promotion_refusal(
            POLICY, "alice@example.com", (), "team-a", tag(key, value, kind=kind), lambda n, v: fresh
        )
        assert got[0] == "platform-tag" and '"by" is the caller (alice@example.com)' in got[1]
    # Never rewritten or removed, by anyone: the release identity and the record's own author included.
    taken = {"tags": {key.lower(): mine}}
    for who in ("alice@example.com", release, "platform-internal"):
        got = access.promotion_refusal(
            POLICY, who, ["platform-admins"], "team-a", tag(key, record(who), kind=kind), lambda n, v: taken
        )
        assert got[0] == "platform-tag" and "already has it" in got[1]
        assert refuse(who, tag(key, kind=kind, method="DELETE"), state=fresh) == "platform-tag"
    # An object the rules cannot read is not shown to lack the record.
    assert refuse("alice@example.com", tag(key, mine, kind=kind), state=None) == "platform-tag"


def test_append_only_records_in_a_create_request_name_the_caller():
    def create(value):
        return access.RegistryWrite("create-model", "POST", "m", None, tags=(("platform.history.000001", value),))

    assert refuse("alice@example.com", create(record("alice@example.com"))) is None
    assert refuse("alice@example.com", create(record("bob@example.com"))) == "platform-tag"


def test_gates_stay_the_release_identities():
    assert refuse("alice@example.com", tag("platform.gate.metric", record("alice@example.com"))) == "platform-tag"
    assert refuse("system:serviceaccount:ci:release", tag("platform.gate.metric", "pass")) is None
    assert refuse("alice@example.com", tag("platform.historyx", record("alice@example.com"))) == "platform-tag"


def test_the_rollback_target_of_a_protected_alias_is_protected():
    for name in ("production-previous", "Staging-Previous"):
        w = access.RegistryWrite("alias", "POST", "m", "1", alias=name)
        assert refuse("alice@example.com", w) == "protected-alias"
        assert refuse("system:serviceaccount:ci:release", w) is None
    assert (
        refuse("alice@example.com", access.RegistryWrite("alias", "POST", "m", "1", alias="champion-previous")) is None
    )


def test_auth_ini_reads_back_with_percent_signs():
    uri = "postgresql+psycopg2://mlflow:p%40ss%25w@db:5432/mlflow"
    cp = configparser.ConfigParser()
    cp.read_string(access.auth_ini(uri))
    assert cp["mlflow"]["database_uri"] == uri
    assert cp["mlflow"]["default_permission"] == "NO_PERMISSIONS"
    assert cp["mlflow"]["authorization_function"] == "mlflow_platform_access:authenticate"
    assert cp.getboolean("mlflow", "grant_default_workspace_access") is False


def test_the_platform_auth_factory_refuses_to_start_without_workspaces(monkeypatch, tmp_path):
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(DOC))
    monkeypatch.setenv("MLFLOW_PLATFORM_EMAIL_DOMAINS", "example.com")
    monkeypatch.setenv("MLFLOW_PLATFORM_ACCESS_POLICY", str(policy))
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "false")
    with pytest.raises(ValueError, match="MLFLOW_ENABLE_WORKSPACES"):
        access.create_app()
    monkeypatch.delenv("MLFLOW_PLATFORM_ACCESS_POLICY")
    with pytest.raises(ValueError, match="MLFLOW_PLATFORM_ACCESS_POLICY"):
        access.create_app()


@pytest.mark.parametrize(
    ("path", "method", "checked"),
    [
        ("/api/2.0/mlflow/registered-models/alias", "POST", True),
        ("/ajax-api/2.0/mlflow/registered-models/alias", "DELETE", True),
        ("/prefix/api/2.0/mlflow/model-versions/transition-stage", "POST", True),
        ("//api/2.0/mlflow//model-versions/set-tag/", "POST", True),
        ("/api/2.0/mlflow/registered-models/delete-tag", "DELETE", True),
        ("/api/2.0/mlflow/model-versions/create", "POST", True),
        ("/api/2.0/mlflow/registered-models/create", "POST", True),
        ("/api/2.0/mlflow/registered-models/alias", "GET", False),
        ("/api/2.0/mlflow/experiments/create", "POST", False),
    ],
)
def test_the_guard_checks_every_registry_write_route(tmp_path, path, method, checked):
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(DOC))
    settings = guard.Settings.from_env(
        {
            "MLFLOW_PLATFORM_PUBLIC_HOSTS": "mlflow.example.com",
            "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com",
        }
    )
    seen = []

    async def app(scope, receive, send):
        seen.append(dict(scope["headers"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    body = json.dumps(
        {
            "name": "m",
            "version": "1",
            "alias": "production",
            "stage": "Production",
            "key": "platform.gate.x",
            "value": "1",
            "tags": [{"key": "platform.gate.x", "value": "1"}],
        }
    ).encode()
    headers = [(b"host", b"mlflow.example.com"), (b"x-forwarded-email", b"alice@example.com")]
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    asyncio.run(access.AccessGuard(guard.PlatformGuard(app, settings), settings, str(policy))(scope, receive, send))
    status = next(m for m in sent if m["type"] == "http.response.start")["status"]
    assert (status == 403) is checked
    if not checked:
        assert seen[0][b"x-mlflow-platform-identity"] == b"alice@example.com"


def test_sync_exit_codes(tmp_path, capsys, monkeypatch):
    # main() turns workspaces on for the sync's process: restored after this test, for the others.
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "false")
    assert access.main(["sync", "--policy", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**DOC, "version": 7}))
    assert access.main(["sync", "--policy", str(bad)]) == 2
    good = tmp_path / "good.json"
    good.write_text(json.dumps(DOC))

    def broken(policy, uri):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(access, "sync", broken)
    assert access.main(["sync", "--policy", str(good), "--backend-store-uri", "sqlite:///x.db"]) == 1
    assert access.main(["frobnicate"]) == 2
    assert capsys.readouterr().out == ""


def test_two_workspace_headers_on_a_registry_write_are_refused(tmp_path):
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(DOC))
    settings = guard.Settings.from_env(
        {
            "MLFLOW_PLATFORM_PUBLIC_HOSTS": "mlflow.example.com",
            "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com",
        }
    )
    sent = []

    async def app(scope, receive, send):
        raise AssertionError("MLflow must not see it")

    async def receive():
        return {"type": "http.request", "body": b'{"name": "m", "alias": "champion", "version": "1"}'}

    async def send(m):
        sent.append(m)

    headers = [(b"host", b"mlflow.example.com"), (b"x-forwarded-email", b"anna@example.com")]
    headers += [(b"x-mlflow-workspace", b"team-a"), (b"x-mlflow-workspace", b"team-b")]
    scope = {"type": "http", "method": "POST", "path": "/api/2.0/mlflow/registered-models/alias", "headers": headers}
    asyncio.run(access.AccessGuard(guard.PlatformGuard(app, settings), settings, str(policy))(scope, receive, send))
    assert sent[0]["status"] == 400
