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
    assert refuse("alice@example.com", tag("platform.registrant", me), state={"tags": {}}) is None
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
