"""Teams on a real MLflow server: ``mlflow server --app-name platform-auth`` on sqlite, requests as the proxy
forwards them (Host = the public name, X-Forwarded-Email/-Groups), after ``mlflow_platform_access sync``.

The database is first populated by a plain ``mlflow server`` (no auth, no workspaces), as an existing
single-tenant installation would be, so the same server also proves the upgrade: nothing lost, everything in
the ``default`` workspace for the groups that keep using it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import mlflow_platform_access as access

SRC = Path(__file__).resolve().parents[1] / "src"
PUBLIC = "mlflow.example.com"
INTERNAL = "mlflow-tracking"
API = "/api/2.0/mlflow"
ENTRY_POINTS = (
    "[mlflow.app]\nplatform-guard = mlflow_platform_guard:app\nplatform-auth = mlflow_platform_access:create_app\n"
)

POLICY = {
    "version": 1,
    "admins": {"groups": ["platform-admins"]},
    "workspaces": [{"name": "team-a", "description": "team team-a"}, {"name": "team-b", "description": "team team-b"}],
    "roles": [
        {"name": "platform.team-a.members", "workspace": "team-a", "permission": "EDIT", "groups": ["team-a-ds"]},
        {"name": "platform.team-a.contractors", "workspace": "team-a", "permission": "READ", "groups": ["contractors"]},
        {
            "name": "platform.team-a.approvers",
            "workspace": "team-a",
            "permission": "EDIT",
            "groups": ["team-a-approvers"],
        },
        {"name": "platform.team-a.release", "workspace": "team-a", "permission": "EDIT", "groups": ["release"]},
        {"name": "platform.team-b.members", "workspace": "team-b", "permission": "EDIT", "groups": ["team-b-ds"]},
        {
            "name": "platform.team-b.pipeline",
            "workspace": "team-b",
            "permission": "EDIT",
            "groups": [],
            "identities": ["system:serviceaccount:ml-pipelines:training-pipeline"],
        },
        {"name": "platform.default.members", "workspace": "default", "permission": "EDIT", "groups": ["engineering"]},
    ],
    "protected": {
        "aliases": ["production", "staging"],
        "stages": ["Production", "Staging"],
        "releaseIdentities": ["release-bot@example.com"],
        "approvers": {"team-a": ["team-a-approvers"]},
        "fourEyes": True,
    },
}

ALICE = ("alice@example.com", ["team-a-ds"])  # team A data scientist
BOB = ("bob@example.com", ["team-b-ds"])  # team B data scientist
ANNA = ("anna@example.com", ["team-a-approvers"])  # team A approver
RELEASE = ("release-bot@example.com", ["release"])
DAVE = ("dave@example.com", ["engineering"])  # keeps using the default workspace
CAROL = ("carol@example.com", ["contractors"])
ERIN = ("erin@example.com", ["team-a-ds", "team-a-approvers"])  # team A data scientist and approver
# The training pipeline: the proxy forwards its token's subject as the e-mail, and no groups.
PIPELINE = ("system:serviceaccount:ml-pipelines:training-pipeline", [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, app_name: str | None, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", env["DB"]]
        cmd += ["--artifacts-destination", str(tmp / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--workers", "1", "--allowed-hosts", f"{PUBLIC},{INTERNAL},127.0.0.1:{self.port},localhost:{self.port}"]
        if app_name:
            cmd += ["--app-name", app_name]
        self.log = open(tmp / f"server-{app_name or 'plain'}.log", "ab")  # closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            cmd, env=env["ENV"], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited {self.proc.returncode}: {self.tail()}")
            try:
                if requests.get(self.url + "/health", headers={"Host": INTERNAL}, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer: {self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        self.log.close()

    def call(self, method, path, who=None, workspace=None, body=None, host=PUBLIC, headers=None, params=None):
        h = {"Host": host, **(headers or {})}
        if who is not None:
            h["X-Forwarded-Email"] = who[0]
            if who[1]:  # a workload's token has no groups claim: the proxy sends no groups header
                h["X-Forwarded-Groups"] = ",".join(who[1])
        if workspace:
            h["X-MLflow-Workspace"] = workspace
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        if data is not None:
            h["Content-Type"] = "application/json"
        return requests.request(method, self.url + path, headers=h, data=data, params=params, timeout=30)


def run_sync(env: dict, policy: Path) -> tuple[int, dict | None, str]:
    p = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "mlflow_platform_access", "sync", "--policy", str(policy)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    try:
        out = json.loads(p.stdout)
    except ValueError:
        out = None
    return p.returncode, out, p.stderr


def populate_before_upgrade(url: str) -> dict:
    """What a single-tenant installation has: experiments, runs with metrics, a model with versions and aliases."""
    from mlflow import MlflowClient

    c = MlflowClient(tracking_uri=url, registry_uri=url)
    runs = []
    for i in range(2):
        exp = c.create_experiment(f"legacy-{i}")
        for j in range(2):
            r = c.create_run(exp)
            c.log_metric(r.info.run_id, "rmse", 0.1 * j)
            runs.append(r)
    c.create_registered_model("legacy-model")
    for r in runs[:2]:
        c.create_model_version("legacy-model", f"{r.info.artifact_uri}/model", run_id=r.info.run_id)
    c.set_registered_model_alias("legacy-model", "production", "1")
    c.set_registered_model_alias("legacy-model", "champion", "2")
    return counts(rest(url, {}))


def counts(call) -> dict:
    """Experiments, runs, versions and aliases of the installation, read over REST with ``call(method, path, body)``."""
    exps = [e for e in call("POST", "experiments/search", {"max_results": 1000})["experiments"]]
    ids = [e["experiment_id"] for e in exps if e["name"].startswith("legacy-")]
    runs = call("POST", "runs/search", {"experiment_ids": ids, "max_results": 1000}).get("runs", [])
    versions = call("GET", "model-versions/search", {"filter": "name='legacy-model'"}).get("model_versions", [])
    model = call("GET", "registered-models/get", {"name": "legacy-model"})["registered_model"]
    return {
        "experiments": len(ids),
        "runs": len(runs),
        "versions": len(versions),
        "aliases": sorted((a["alias"], a["version"]) for a in model.get("aliases", [])),
    }


def rest(url, headers):
    def call(method, path, body):
        kw = {"params": body} if method == "GET" else {"json": body}
        r = requests.request(method, f"{url}{API}/{path}", headers=headers, timeout=30, **kw)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    return call


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("platform-auth")
    dist = tmp / "py" / "mlflow_platform_guard-1.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlflow-platform-guard\nVersion: 1.0.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    policy = tmp / "policy.json"
    policy.write_text(json.dumps(POLICY))
    db = f"sqlite:///{tmp}/mlflow.db"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "_MLFLOW")) and k != "PYTHONPATH"}
    base.update(
        {
            "PYTHONPATH": f"{tmp / 'py'}{os.pathsep}{SRC}",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    plain = Server(tmp, None, {"DB": db, "ENV": base})
    try:
        before = populate_before_upgrade(plain.url)
    finally:
        plain.stop()
    env = {
        **base,
        "MLFLOW_BACKEND_STORE_URI": db,
        "MLFLOW_ENABLE_WORKSPACES": "true",
        "MLFLOW_BASIC_AUTH_FAIL_CLOSED": "true",
        "MLFLOW_PLATFORM_ACCESS_POLICY": str(policy),
        "MLFLOW_PLATFORM_PUBLIC_HOSTS": PUBLIC,
        "MLFLOW_PLATFORM_INTERNAL_HOSTS": INTERNAL,
        "MLFLOW_PLATFORM_EMAIL_DOMAINS": "example.com",
        "MLFLOW_PLATFORM_WORKLOAD_IDENTITIES": PIPELINE[0],
        "MLFLOW_PLATFORM_AUTH_DIR": str(tmp),
    }
    first = run_sync(env, policy)
    second = run_sync(env, policy)
    server = Server(tmp, "platform-auth", {"DB": db, "ENV": env})
    server.tmp, server.env, server.policy, server.before, server.syncs = tmp, env, policy, before, (first, second)
    yield server
    server.stop()


def test_sync_creates_then_changes_nothing(platform):
    (rc1, first, err1), (rc2, second, _) = platform.syncs
    assert rc1 == 0, err1
    assert "workspace/team-a" in first["created"] and "role/team-a/platform.team-a.members" in first["created"]
    assert "workspace/default" in first["unchanged"]  # the upgrade's experiments are already there
    assert "user/platform-internal" in first["created"]
    assert rc2 == 0
    assert second["created"] == second["updated"] == second["deleted"] == []
    assert len(second["unchanged"]) == 3 + len(POLICY["roles"]) + 1


def create_experiment(platform, who, workspace, name):
    r = platform.call("POST", f"{API}/experiments/create", who, workspace, {"name": name})
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


def create_run(platform, who, workspace, exp):
    r = platform.call("POST", f"{API}/runs/create", who, workspace, {"experiment_id": exp})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]


def create_version(platform, who, workspace, model, run, tags=()):
    body = {"name": model, "source": f"{run['artifact_uri']}/model", "run_id": run["run_id"], "tags": list(tags)}
    return platform.call("POST", f"{API}/model-versions/create", who, workspace, body)


@pytest.fixture(scope="module")
def team_a(platform):
    """Team A's experiment, run (with an artifact), model and version 1, registered by Alice."""
    exp = create_experiment(platform, ALICE, "team-a", "team-a-exp")
    run = create_run(platform, ALICE, "team-a", exp)
    path = f"/api/2.0/mlflow-artifacts/artifacts/workspaces/team-a/{exp}/{run['run_id']}/artifacts/notes.txt"
    r = platform.call("PUT", path, ALICE, "team-a", b"team a only")
    assert r.status_code == 200, r.text
    r = platform.call("POST", f"{API}/registered-models/create", ALICE, "team-a", {"name": "model-a"})
    assert r.status_code == 200, r.text
    registrant = json.dumps({"email": ALICE[0], "sub": "id-alice"})
    r = create_version(platform, ALICE, "team-a", "model-a", run, [{"key": "platform.registrant", "value": registrant}])
    assert r.status_code == 200, r.text
    return {
        "exp": exp,
        "run": run,
        "artifact": path,
        "model": "model-a",
        "version": r.json()["model_version"]["version"],
    }


def test_team_a_works_in_its_workspace(platform, team_a):
    r = platform.call("GET", f"{API}/experiments/get", ALICE, "team-a", params={"experiment_id": team_a["exp"]})
    assert r.status_code == 200
    assert platform.call("GET", team_a["artifact"], ALICE, "team-a").content == b"team a only"


@pytest.mark.parametrize("workspace", ["team-a", "team-b", None])
def test_team_b_cannot_list_read_or_write_team_a(platform, team_a, workspace):
    def denied(r):
        return r.status_code in (403, 404) or (r.status_code == 401)

    exp, run_id = team_a["exp"], team_a["run"]["run_id"]
    listing = platform.call("POST", f"{API}/experiments/search", BOB, workspace, {"max_results": 100})
    assert listing.status_code in (200, 403)
    if listing.status_code == 200:
        assert all(e["experiment_id"] != exp for e in listing.json().get("experiments", []))
    assert denied(platform.call("GET", f"{API}/experiments/get", BOB, workspace, params={"experiment_id": exp}))
    assert denied(platform.call("GET", f"{API}/runs/get", BOB, workspace, params={"run_id": run_id}))
    assert denied(platform.call("POST", f"{API}/runs/create", BOB, workspace, {"experiment_id": exp}))
    assert denied(platform.call("POST", f"{API}/runs/delete", BOB, workspace, {"run_id": run_id}))
    assert denied(platform.call("POST", f"{API}/experiments/delete", BOB, workspace, {"experiment_id": exp}))
    assert denied(platform.call("GET", team_a["artifact"], BOB, workspace))
    assert denied(platform.call("PUT", team_a["artifact"], BOB, workspace, b"overwritten"))
    models = platform.call("GET", f"{API}/registered-models/search", BOB, workspace)
    assert models.status_code in (200, 403)
    if models.status_code == 200:
        assert all(m["name"] != "model-a" for m in models.json().get("registered_models", []))
    assert denied(platform.call("GET", f"{API}/registered-models/get", BOB, workspace, params={"name": "model-a"}))
    body = {"name": "model-a", "version": team_a["version"], "key": "note", "value": "b"}
    assert denied(platform.call("POST", f"{API}/model-versions/set-tag", BOB, workspace, body))
    assert denied(platform.call("DELETE", f"{API}/registered-models/delete", BOB, workspace, {"name": "model-a"}))
    # Still there, unchanged.
    assert platform.call("GET", team_a["artifact"], ALICE, "team-a").content == b"team a only"


def test_a_workload_identity_without_groups_works_in_its_teams_workspace_and_no_other(platform, team_a):
    exp = create_experiment(platform, PIPELINE, "team-b", "pipeline-exp")
    run = create_run(platform, PIPELINE, "team-b", exp)
    r = platform.call("POST", f"{API}/registered-models/create", PIPELINE, "team-b", {"name": "model-b"})
    assert r.status_code == 200, r.text
    assert create_version(platform, PIPELINE, "team-b", "model-b", run).status_code == 200
    me = platform.call("GET", f"{API}/users/current", PIPELINE, "team-b").json()["user"]
    assert me["username"] == PIPELINE[0] and me["is_admin"] is False
    # Not team A's workspace (neither its experiment nor a new one), nor the default workspace.
    params = {"experiment_id": team_a["exp"]}
    assert platform.call("GET", f"{API}/experiments/get", PIPELINE, "team-a", params=params).status_code in (403, 404)
    for workspace in ("team-a", "default"):
        r = platform.call("POST", f"{API}/experiments/create", PIPELINE, workspace, {"name": "pipeline-elsewhere"})
        assert r.status_code == 403, (workspace, r.status_code, r.text)
    r = platform.call("GET", f"{API}/registered-models/get", PIPELINE, "team-a", params={"name": "model-a"})
    assert r.status_code in (403, 404)
    # Another service account of the cluster gets nothing from the pipeline's role.
    other = ("system:serviceaccount:ml-pipelines:other", [])
    r = platform.call("POST", f"{API}/experiments/create", other, "team-b", {"name": "other-exp"})
    assert r.status_code in (401, 403)


def test_a_client_sent_platform_identity_is_ignored(platform, team_a):
    spoof = {"X-MLflow-Platform-Identity": "platform-internal", "X-MLflow-Platform-Groups": "team-a-ds,platform-admins"}
    params = {"experiment_id": team_a["exp"]}
    r = platform.call("GET", f"{API}/experiments/get", BOB, "team-a", headers=spoof, params=params)
    assert r.status_code == 403
    # Without a proxy identity the guard refuses before MLflow, whatever the platform headers say.
    assert (
        platform.call("GET", f"{API}/experiments/get", None, "team-a", headers=spoof, params=params).status_code == 403
    )
    me = platform.call("GET", f"{API}/users/current", BOB, "team-b", headers=spoof)
    assert me.status_code == 200 and me.json()["user"]["username"] == BOB[0]


def test_an_internal_host_is_platform_internal(platform, team_a):
    me = platform.call("GET", f"{API}/users/current", None, "team-a", host=INTERNAL)
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "platform-internal" and me.json()["user"]["is_admin"] is True
    r = platform.call(
        "GET", f"{API}/experiments/get", None, "team-a", host=INTERNAL, params={"experiment_id": team_a["exp"]}
    )
    assert r.status_code == 200


def test_admin_groups_make_an_mlflow_admin(platform, team_a):
    admin = ("root@example.com", ["platform-admins"])
    me = platform.call("GET", f"{API}/users/current", admin, "team-b")
    assert me.json()["user"]["is_admin"] is True
    assert platform.call("GET", f"{API}/users/current", ALICE, "team-a").json()["user"]["is_admin"] is False


def alias(platform, who, name, version, alias_name, method="POST"):
    body = {"name": name, "alias": alias_name} | ({"version": version} if method == "POST" else {})
    return platform.call(method, f"{API}/registered-models/alias", who, "team-a", body)


@pytest.mark.parametrize("prefix", ["/api", "/ajax-api"])
def test_a_data_scientist_cannot_move_production(platform, team_a, prefix):
    v = team_a["version"]
    for method in ("POST", "DELETE"):
        body = {"name": "model-a", "alias": "production"} | ({"version": v} if method == "POST" else {})
        r = platform.call(method, f"{prefix}/2.0/mlflow/registered-models/alias", ALICE, "team-a", body)
        assert r.status_code == 403, r.text
        assert r.json()["error_code"] == "PERMISSION_DENIED" and r.json()["message"].startswith("protected-alias:")
    # A double-encoded body (older clients) is read as MLflow reads it.
    doubly = json.dumps(json.dumps({"name": "model-a", "alias": "Production", "version": v}))
    r = platform.call("POST", f"{prefix}/2.0/mlflow/registered-models/alias", ALICE, "team-a", doubly)
    assert r.status_code == 403
    # Other aliases are the team's own.
    assert alias(platform, ALICE, "model-a", v, "challenger").status_code == 200


def test_a_data_scientist_cannot_transition_to_production_or_write_platform_tags(platform, team_a):
    v = team_a["version"]
    for stage in ("Production", "staging"):
        body = {"name": "model-a", "version": v, "stage": stage, "archive_existing_versions": False}
        r = platform.call("POST", f"{API}/model-versions/transition-stage", ALICE, "team-a", body)
        assert r.status_code == 403 and r.json()["message"].startswith("protected-stage:")
    for path, body in [
        ("model-versions/set-tag", {"name": "model-a", "version": v, "key": "platform.gate.metric", "value": "pass"}),
        ("registered-models/set-tag", {"name": "model-a", "key": "platform.history.1", "value": "{}"}),
        ("model-versions/delete-tag", {"name": "model-a", "version": v, "key": "platform.gate.metric"}),
        ("model-versions/set-tag", {"name": "model-a", "version": v, "key": "platform.events.notified", "value": "x"}),
        ("model-versions/set-tag", {"name": "model-a", "version": v, "key": "Platform.Gate.x", "value": "pass"}),
        ("model-versions/set-tag", {"name": "model-a", "version": v, "key": "platform.registrant", "value": "{}"}),
        ("registered-models/create", {"name": "model-a2", "tags": [{"key": "platform.gate.x", "value": "1"}]}),
    ]:
        r = platform.call("DELETE" if path.endswith("delete-tag") else "POST", f"{API}/{path}", ALICE, "team-a", body)
        assert r.status_code == 403, (path, body, r.text)
        assert r.json()["message"].startswith("platform-tag:"), r.text
    body = {"name": "model-a", "version": v, "key": "note", "value": "fine"}
    assert platform.call("POST", f"{API}/model-versions/set-tag", ALICE, "team-a", body).status_code == 200


def test_the_release_identity_can(platform, team_a):
    v = team_a["version"]
    body = {"name": "model-a", "version": v, "key": "platform.gate.metric", "value": "pass"}
    assert platform.call("POST", f"{API}/model-versions/set-tag", RELEASE, "team-a", body).status_code == 200
    assert alias(platform, RELEASE, "model-a", v, "production").status_code == 200
    body = {"name": "model-a", "version": v, "stage": "Production", "archive_existing_versions": False}
    r = platform.call("POST", f"{API}/model-versions/transition-stage", RELEASE, "team-a", body)
    assert r.status_code == 200, r.text
    # Out of Production is a release too.
    body = {"name": "model-a", "version": v, "stage": "Archived", "archive_existing_versions": False}
    r = platform.call("POST", f"{API}/model-versions/transition-stage", ALICE, "team-a", body)
    assert r.status_code == 403 and r.json()["message"].startswith("protected-stage:")
    got = platform.call(
        "GET", f"{API}/registered-models/alias", ALICE, "team-a", params={"name": "model-a", "alias": "production"}
    )
    assert got.json()["model_version"]["version"] == v


def test_an_approver_approves_but_not_what_they_registered(platform, team_a):
    v = team_a["version"]
    approve = {"name": "model-a", "version": v, "key": "platform.approval.production", "value": ANNA[0]}
    # Alice (not an approver) cannot approve, Anna can: Alice registered it.
    r = platform.call("POST", f"{API}/model-versions/set-tag", ALICE, "team-a", approve)
    assert r.status_code == 403 and r.json()["message"].startswith("platform-tag:")
    assert platform.call("POST", f"{API}/model-versions/set-tag", ANNA, "team-a", approve).status_code == 200
    # Anna registers a version herself: she cannot approve it, in the create request or afterwards.
    registrant = json.dumps({"email": ANNA[0]})
    tags = [{"key": "platform.registrant", "value": registrant}, {"key": "platform.approval.production", "value": "x"}]
    r = create_version(platform, ANNA, "team-a", "model-a", team_a["run"], tags)
    assert r.status_code == 403 and r.json()["message"].startswith("four-eyes:")
    r = create_version(platform, ANNA, "team-a", "model-a", team_a["run"], tags[:1])
    assert r.status_code == 200, r.text
    own = {**approve, "version": r.json()["model_version"]["version"]}
    r = platform.call("POST", f"{API}/model-versions/set-tag", ANNA, "team-a", own)
    assert r.status_code == 403 and r.json()["message"].startswith("four-eyes:")
    # An approver of team A is nobody in team B's workspace.
    assert platform.call("POST", f"{API}/model-versions/set-tag", ANNA, "team-b", approve).status_code == 403


@pytest.mark.parametrize("prefix", ["/api", "/ajax-api"])
def test_a_plain_create_version_records_its_registrant_for_four_eyes(platform, team_a, prefix):
    # A plain REST call, no platform.registrant tag: MLflow records no creator, the server records Erin.
    body = {"name": "model-a", "source": f"{team_a['run']['artifact_uri']}/model", "run_id": team_a["run"]["run_id"]}
    r = platform.call("POST", f"{prefix}/2.0/mlflow/model-versions/create", ERIN, "team-a", body)
    assert r.status_code == 200, r.text
    v = r.json()["model_version"]["version"]
    approve = {"name": "model-a", "version": v, "key": "platform.approval.production", "value": "{}"}
    r = platform.call("POST", f"{API}/model-versions/set-tag", ERIN, "team-a", approve)
    assert r.status_code == 403 and r.json()["message"].startswith("four-eyes:"), r.text
    assert platform.call("POST", f"{API}/model-versions/set-tag", ANNA, "team-a", approve).status_code == 200
    got = platform.call("GET", f"{API}/model-versions/get", ANNA, "team-a", params={"name": "model-a", "version": v})
    tags = {t["key"]: t["value"] for t in got.json()["model_version"].get("tags", [])}
    assert json.loads(tags["platform.registrant"]) == json.loads(access.registrant_record(ERIN[0]))


def test_registration_tags_name_the_caller_and_are_written_once(platform, team_a):
    someone_else = [{"key": "platform.registrant", "value": json.dumps({"email": BOB[0]})}]
    r = create_version(platform, ALICE, "team-a", "model-a", team_a["run"], someone_else)
    assert r.status_code == 403 and "must name the caller" in r.json()["message"]
    again = {"name": "model-a", "version": team_a["version"], "key": "platform.registrant"}
    again["value"] = json.dumps({"email": ALICE[0]})
    r = platform.call("POST", f"{API}/model-versions/set-tag", ALICE, "team-a", again)
    assert r.status_code == 403 and "only when the version is created" in r.json()["message"]


def test_a_body_the_guard_cannot_read_is_refused(platform, team_a):
    r = platform.call("POST", f"{API}/registered-models/alias", ALICE, "team-a", b"{not json")
    assert r.status_code == 400
    big = json.dumps({"name": "model-a", "alias": "production", "version": "1", "pad": "x" * 300_000})
    assert platform.call("POST", f"{API}/registered-models/alias", ALICE, "team-a", big).status_code == 413


def test_the_upgrade_keeps_everything_in_default_for_its_groups(platform):
    assert platform.before["experiments"] == 2 and platform.before["runs"] == 4 and platform.before["versions"] == 2
    assert platform.before["aliases"] == [("champion", "2"), ("production", "1")]
    # Dave (engineering: the default workspace's group) sees all of it, in the default workspace.
    dave = {"Host": PUBLIC, "X-Forwarded-Email": DAVE[0], "X-Forwarded-Groups": ",".join(DAVE[1])}
    assert counts(rest(platform.url, dave)) == platform.before
    assert counts(rest(platform.url, {**dave, "X-MLflow-Workspace": "default"})) == platform.before
    # Team A sees none of it.
    listed = platform.call("POST", f"{API}/experiments/search", ALICE, None, {"max_results": 100})
    assert listed.status_code == 403 or not [
        e for e in listed.json().get("experiments", []) if e["name"].startswith("legacy-")
    ]
    r = platform.call("GET", f"{API}/registered-models/get", ALICE, "default", params={"name": "legacy-model"})
    assert r.status_code == 403


class TokenProxy:
    """What the platform's OAuth2 Proxy does for the registry tool: the bearer token's claims become
    X-Forwarded-Email/-User/-Groups (client-sent copies dropped), the request goes on to the public host.
    The claims are read without a signature check: these tokens are the test's own."""

    def __init__(self, upstream: str):
        import base64
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
                try:
                    payload = token.split(".")[1]
                    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                except (IndexError, ValueError):
                    self.send_response(401)
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                skip = {"host", "authorization", "content-length", "connection", "accept-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                headers = {k: v for k, v in headers.items() if not k.lower().startswith("x-forwarded-")}
                headers.update(
                    {
                        "Host": PUBLIC,
                        "X-Forwarded-Email": claims.get("email", ""),
                        "X-Forwarded-User": claims.get("sub", ""),
                        "X-Forwarded-Groups": ",".join(claims.get("groups") or []),
                    }
                )
                r = requests.request(self.command, upstream + self.path, headers=headers, data=body or None, timeout=60)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


TOOL_MAIN = "import sys; from mlflow_platform.cli import main; sys.exit(main())"
TOOL_GATES = {
    "defaults": {"production": {"approval": {"required": True, "groups": ["team-a-approvers"]}}},
    "models": {},
}


@pytest.fixture(scope="module")
def tool(platform):
    """``mlflow-platform registry ...`` as a pipeline runs it: a process of its own, through the proxy, as
    ``who`` (the token's e-mail and groups), in ``workspace`` (MLFLOW_WORKSPACE)."""
    from .conftest import jwt

    proxy = TokenProxy(platform.url)
    gates = platform.tmp / "gates.json"
    gates.write_text(json.dumps(TOOL_GATES))

    def run(who, *argv, workspace="team-a"):
        claims = {"email": who[0], "sub": f"id-{who[0]}", "iss": "https://issuer.test", "groups": who[1]}
        env = {k: v for k, v in platform.env.items() if not k.startswith("MLFLOW_")}
        env.update(
            {
                "MLFLOW_TRACKING_URI": proxy.url,
                "MLFLOW_TRACKING_TOKEN": jwt(claims),
                "MLFLOW_PLATFORM_REGISTRY_GATES": str(gates),
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                "MLFLOW_DISABLE_TELEMETRY": "true",
            }
        )
        if workspace:
            env["MLFLOW_WORKSPACE"] = workspace
        p = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-c", TOOL_MAIN, "registry", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        run.stdout = p.stdout
        return p.returncode, p.stdout + p.stderr

    yield run
    proxy.stop()


def run_with_model(platform, who, exp):
    """A run of team A's experiment with a model directory (an MLmodel file is all registration reads)."""
    run = create_run(platform, who, "team-a", exp)
    path = f"/api/2.0/mlflow-artifacts/artifacts/workspaces/team-a/{exp}/{run['run_id']}/artifacts/model/MLmodel"
    r = platform.call("PUT", path, who, "team-a", b"artifact_path: model\nflavors: {}\n")
    assert r.status_code == 200, r.text
    return run["run_id"]


def test_the_registry_tool_in_a_teams_workspace(platform, team_a, tool):
    model = "model-tool"
    runs = [run_with_model(platform, ALICE, team_a["exp"]) for _ in range(2)]

    def register(run_id):
        code, out = tool(ALICE, "register", "--model", model, "--run-id", run_id, "--artifact-path", "model")
        assert code == 0, out

    def approve(who, version):
        return tool(who, "approve", "--model", model, "--version", version, "--to", "production")

    def promote(who, version):
        return tool(who, "promote", "--model", model, "--version", version, "--to", "production")

    register(runs[0])
    # Four-eyes: the registrant cannot approve (the tool says so before the server would).
    code, out = approve(ALICE, "1")
    assert code == 2 and "the approver must be a second person" in out, out
    code, out = approve(ANNA, "1")
    assert code == 0, out
    # A data scientist's promote passes the gates and is refused by the server, naming the rule.
    code, out = promote(ALICE, "1")
    assert code == 3 and "refused by the tracking server (workspace team-a): protected-alias:" in out, out
    code, out = promote(RELEASE, "1")
    assert code == 0, out
    register(runs[1])
    assert approve(ANNA, "2")[0] == 0
    code, out = promote(RELEASE, "2")
    assert code == 0 and "previous holder version 1" in out, out
    # Rolling back is a release too: for a data scientist the server refuses the first alias move.
    code, out = tool(ALICE, "rollback", "--model", model, "--to", "production")
    assert code == 3 and "protected-alias:" in out, out
    code, out = tool(RELEASE, "rollback", "--model", model, "--to", "production")
    assert code == 0, out

    code, out = tool(ALICE, "status", "--model", model, "--json")
    assert code == 0, out
    status = json.loads(tool.stdout)
    assert status["aliases"] == {"production": "1", "production-previous": "1"}  # consumed: nothing earlier
    got = [(e["action"], e["result"], e["version"], e["by"]) for e in status["history"]]
    assert got == [
        ("register", "registered", "1", ALICE[0]),
        ("approve", "approved", "1", ANNA[0]),
        ("promote", "promoted", "1", RELEASE[0]),
        ("register", "registered", "2", ALICE[0]),
        ("approve", "approved", "2", ANNA[0]),
        ("promote", "promoted", "2", RELEASE[0]),
        ("rollback", "rolled-back", "1", RELEASE[0]),
    ]
    assert [e["seq"] for e in status["history"]] == list(range(1, 8))
    v1 = platform.call("GET", f"{API}/model-versions/get", ALICE, "team-a", params={"name": model, "version": "1"})
    decisions = {t["key"] for t in v1.json()["model_version"]["tags"] if t["key"].startswith("platform.decision.")}
    assert decisions == {
        "platform.decision.000001",
        "platform.decision.000002",
        "platform.decision.000003",
        "platform.decision.000007",
    }
    # The workspace is where the model is: in the default one (no MLFLOW_WORKSPACE) Alice has no access,
    # and team B's data scientist has none in team A's.
    code, out = tool(ALICE, "status", "--model", model, workspace=None)
    assert code == 3 and "workspace default" in out, out
    code, out = tool(BOB, "status", "--model", model)
    assert code == 3 and "workspace team-a" in out, out
    code, out = tool(ALICE, "status", "--model", model, "--workspace", "Not A Name")
    assert code == 2 and "--workspace 'Not A Name'" in out, out


def test_removing_a_group_from_the_policy_revokes_access(platform, team_a):
    params = {"experiment_id": team_a["exp"]}
    assert platform.call("GET", f"{API}/experiments/get", CAROL, "team-a", params=params).status_code == 200
    policy = json.loads(json.dumps(POLICY))
    policy["roles"] = [r for r in policy["roles"] if r["name"] != "platform.team-a.contractors"]
    policy["workspaces"][0]["description"] = "Team A: forecasting"
    platform.policy.write_text(json.dumps(policy))
    rc, summary, err = run_sync(platform.env, platform.policy)
    assert rc == 0, err
    assert summary["deleted"] == ["role/team-a/platform.team-a.contractors"]
    assert summary["updated"] == ["workspace/team-a"] and summary["created"] == []
    rc, summary, err = run_sync(platform.env, platform.policy)
    assert rc == 0 and summary["created"] == summary["updated"] == summary["deleted"] == [], (summary, err)
    # A changed group list on a kept role needs no role change: the caller's assignments follow the policy.
    policy["roles"][0]["groups"] = ["team-a-ds-renamed"]
    platform.policy.write_text(json.dumps(policy))
    time.sleep(5.5)  # past the worker's per-caller cache
    assert platform.call("GET", f"{API}/experiments/get", CAROL, "team-a", params=params).status_code == 403
    assert platform.call("GET", f"{API}/experiments/get", ALICE, "team-a", params=params).status_code == 403
    platform.policy.write_text(json.dumps(POLICY))
    assert run_sync(platform.env, platform.policy)[0] == 0
