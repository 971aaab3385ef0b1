"""The registry tool end to end on a server-free registry (sqlite store): register, gates, approval,
promotion (alias and stage agree), rollback, history, idempotence and exit codes."""

from __future__ import annotations

import json

import pytest

from mlflow_platform.common.errors import ExitCode
from mlflow_platform.registry.cli import main

GATES = {
    "defaults": {
        "staging": {"metrics": [{"metric": "accuracy", "threshold": 0.5}]},
        "production": {
            "metrics": [{"metric": "accuracy", "threshold": 0.8, "notWorseThanCurrent": True}],
            "requiredTags": {"validation": "passed"},
            "requireSignature": True,
            "requireInputExample": True,
            "approval": {"required": True, "groups": ["ml-approvers"]},
        },
    },
    "models": {},
}
JANE = "jane@example.com"
BOB = "bob@example.com"


MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.pyfunc.model
    python_version: 3.11.0
mlflow_version: 3.17.2
"""
SIGNATURE = """signature:
  inputs: '[{"type": "double", "name": "x", "required": true}]'
  outputs: '[{"type": "double", "name": "x", "required": true}]'
  params: null
saved_input_example_info:
  artifact_path: input_example.json
  type: dataframe
  pandas_orient: split
"""


def log_model(accuracy: float, signature: bool = True) -> str:
    """A run with a metric and a model directory (an MLmodel file is all the gates read; logging a real
    model takes tens of seconds on a loaded machine)."""
    import mlflow

    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", accuracy)
        mlflow.log_text(MLMODEL + (SIGNATURE if signature else ""), "model/MLmodel")
        if signature:
            mlflow.log_text('{"columns": ["x"], "data": [[1.0]]}', "model/input_example.json")
    return run.info.run_id


@pytest.fixture
def gates_file(tmp_path, monkeypatch):
    path = tmp_path / "gates.json"
    path.write_text(json.dumps(GATES))
    monkeypatch.setenv("MLFLOW_PLATFORM_REGISTRY_GATES", str(path))
    return path


def cli(token_for, who, groups, *argv):
    token_for(who, groups)
    return main(list(argv))


def register(token_for, run_id, *extra):
    assert (
        cli(token_for, JANE, [], "register", "--model", "iris", "--run-id", run_id, "--artifact-path", "model", *extra)
        == ExitCode.OK
    )


def model_state(name="iris"):
    from mlflow import MlflowClient

    c = MlflowClient()
    m = c.get_registered_model(name)
    stages = {str(v.version): v.current_stage for v in c.search_model_versions(f"name='{name}'")}
    return {k: int(v) for k, v in m.aliases.items()}, stages, dict(m.tags)


def history(name="iris"):
    _, _, tags = model_state(name)
    return [json.loads(tags[k]) for k in sorted(tags) if k.startswith("platform.history.")]


def test_the_whole_promotion_flow(tracking, token_for, gates_file, capsys):
    good, bad, better = log_model(0.95), log_model(0.40), log_model(0.97)
    for run_id in (good, bad, better):
        register(token_for, run_id, "--tag", "validation=passed", "--description", "iris")
    # register is idempotent: same source, no new version
    register(token_for, good, "--tag", "validation=passed", "--description", "iris")
    assert len(model_state()[1]) == 3

    # staging needs no approval
    assert cli(token_for, JANE, [], "promote", "--model", "iris", "--version", "1", "--to", "staging") == ExitCode.OK
    aliases, stages, _ = model_state()
    assert aliases == {"staging": 1} and stages["1"] == "Staging"

    # version 1 to production: bob approves (second person, approvers group), jane promotes
    assert (
        cli(token_for, BOB, ["ml-approvers"], "approve", "--model", "iris", "--version", "1", "--to", "production")
        == ExitCode.OK
    )
    assert cli(token_for, JANE, [], "promote", "--model", "iris", "--version", "1", "--to", "production") == ExitCode.OK
    aliases, stages, _ = model_state()
    assert aliases["production"] == 1 and stages["1"] == "Production"

    # the worse version is refused by the metric gate, even approved
    assert (
        cli(token_for, BOB, ["ml-approvers"], "approve", "--model", "iris", "--version", "2", "--to", "production")
        == ExitCode.OK
    )
    capsys.readouterr()
    assert (
        cli(token_for, JANE, [], "promote", "--model", "iris", "--version", "2", "--to", "production")
        == ExitCode.REFUSED
    )
    assert "metric:accuracy" in capsys.readouterr().err
    refused = history()[-1]
    assert (refused["action"], refused["result"], refused["version"], refused["by"]) == (
        "promote",
        "refused",
        "2",
        JANE,
    )
    assert [g["gate"] for g in refused["gates"] if g["result"] == "fail"] == ["metric:accuracy"]
    # ... and the decision is on the version too
    from mlflow import MlflowClient

    v2_tags = MlflowClient().get_model_version("iris", "2").tags
    assert json.loads(v2_tags[f"platform.decision.{refused['seq']:06d}"])["result"] == "refused"
    # a repeated refusal with the same outcome is not recorded twice
    n = len(history())
    assert (
        cli(token_for, JANE, [], "promote", "--model", "iris", "--version", "2", "--to", "production")
        == ExitCode.REFUSED
    )
    assert len(history()) == n

    # the better version without approval: refused by the approval gate
    assert (
        cli(token_for, JANE, [], "promote", "--model", "iris", "--version", "3", "--to", "production")
        == ExitCode.REFUSED
    )
    assert [g["gate"] for g in history()[-1]["gates"] if g["result"] == "fail"] == ["approval"]
    # check runs the gates and writes nothing
    n = len(history())
    assert (
        cli(token_for, JANE, [], "check", "--model", "iris", "--version", "3", "--to", "production") == ExitCode.REFUSED
    )
    assert len(history()) == n

    # approved by bob, promoted by jane: alias and stage move, the previous holder is archived and reachable
    assert (
        cli(token_for, BOB, ["ml-approvers"], "approve", "--model", "iris", "--version", "3", "--to", "production")
        == ExitCode.OK
    )
    assert cli(token_for, JANE, [], "check", "--model", "iris", "--version", "3", "--to", "production") == ExitCode.OK
    assert cli(token_for, JANE, [], "promote", "--model", "iris", "--version", "3", "--to", "production") == ExitCode.OK
    aliases, stages, _ = model_state()
    assert aliases["production"] == 3 and aliases["production-previous"] == 1
    assert stages["3"] == "Production" and stages["1"] == "Archived"
    # idempotent: a second promote changes nothing
    n = len(history())
    assert cli(token_for, JANE, [], "promote", "--model", "iris", "--version", "3", "--to", "production") == ExitCode.OK
    assert len(history()) == n and model_state()[:2] == (aliases, stages)

    # rollback restores version 1; a second rollback changes nothing
    assert cli(token_for, JANE, [], "rollback", "--model", "iris", "--to", "production") == ExitCode.OK
    aliases, stages, _ = model_state()
    # consumed: the -previous alias names the holder itself (nothing earlier to go back to)
    assert aliases.get("production") == 1 and aliases.get("production-previous") == 1
    assert stages["1"] == "Production" and stages["3"] == "Archived"
    n = len(history())
    assert cli(token_for, JANE, [], "rollback", "--model", "iris", "--to", "production") == ExitCode.OK
    assert len(history()) == n and model_state()[:2] == (aliases, stages)

    # status shows the whole history
    capsys.readouterr()
    assert cli(token_for, JANE, [], "status", "--model", "iris", "--json") == ExitCode.OK
    status = json.loads(capsys.readouterr().out)
    actions = [(e["action"], e["result"], e["version"]) for e in status["history"]]
    assert actions == [
        ("register", "registered", "1"),
        ("register", "registered", "2"),
        ("register", "registered", "3"),
        ("promote", "promoted", "1"),
        ("approve", "approved", "1"),
        ("promote", "promoted", "1"),
        ("approve", "approved", "2"),
        ("promote", "refused", "2"),
        ("promote", "refused", "3"),
        ("approve", "approved", "3"),
        ("promote", "promoted", "3"),
        ("rollback", "rolled-back", "1"),
    ]
    assert [e["seq"] for e in status["history"]] == list(range(1, 13))


def test_bad_input_names_what_to_fix_and_changes_nothing(tracking, token_for, gates_file, tmp_path, capsys):
    register(token_for, log_model(0.95), "--tag", "validation=passed")
    before = model_state()

    def bad(who, groups, *argv, expect):
        capsys.readouterr()
        assert cli(token_for, who, groups, *argv) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err
        assert expect in err, err
        assert model_state() == before

    bad(JANE, [], "promote", "--model", "nope", "--version", "1", "--to", "production", expect="unknown model 'nope'")
    bad(JANE, [], "promote", "--model", "iris", "--version", "7", "--to", "production", expect="unknown version 7")
    bad(JANE, [], "promote", "--model", "iris", "--version", "1", "--to", "prod", expect="invalid choice")
    # a gate naming a metric the run never logged
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"defaults": {"staging": {"metrics": [{"metric": "f1", "threshold": 0.5}]}}}))
    bad(
        JANE,
        [],
        "check",
        "--model",
        "iris",
        "--version",
        "1",
        "--to",
        "staging",
        "--gates",
        str(odd),
        expect="gate metric 'f1'",
    )
    # the registrant cannot approve their own version
    bad(
        JANE,
        ["ml-approvers"],
        "approve",
        "--model",
        "iris",
        "--version",
        "1",
        "--to",
        "production",
        expect="the approver must be a second person",
    )
    # an approver who is also the requester
    assert (
        cli(token_for, BOB, ["ml-approvers"], "approve", "--model", "iris", "--version", "1", "--to", "production")
        == ExitCode.OK
    )
    before = model_state()
    bad(
        BOB,
        ["ml-approvers"],
        "promote",
        "--model",
        "iris",
        "--version",
        "1",
        "--to",
        "production",
        expect="who is also the requester",
    )
    bad(JANE, [], "rollback", "--model", "iris", "--to", "production", expect="nothing to roll back to")


def test_approver_outside_the_group_is_refused(tracking, token_for, gates_file, capsys):
    register(token_for, log_model(0.95), "--tag", "validation=passed")
    assert (
        cli(token_for, BOB, ["engineering"], "approve", "--model", "iris", "--version", "1", "--to", "production")
        == ExitCode.REFUSED
    )
    assert "not in an approvers group" in capsys.readouterr().err


def test_signature_and_required_tags_gates(tracking, token_for, gates_file, capsys):
    register(token_for, log_model(0.95, signature=False))
    assert (
        cli(token_for, BOB, ["ml-approvers"], "approve", "--model", "iris", "--version", "1", "--to", "production")
        == ExitCode.OK
    )
    capsys.readouterr()
    assert (
        cli(token_for, JANE, [], "check", "--model", "iris", "--version", "1", "--to", "production", "--json")
        == ExitCode.REFUSED
    )
    decision = json.loads(capsys.readouterr().out)
    failed = sorted(g["gate"] for g in decision["gates"] if g["result"] == "fail")
    assert failed == ["input-example", "signature", "tag:validation"]


def test_no_gates_is_bad_input(tracking, token_for, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_PLATFORM_REGISTRY_GATES", raising=False)
    assert (
        cli(token_for, JANE, [], "check", "--model", "iris", "--version", "1", "--to", "staging") == ExitCode.BAD_INPUT
    )
    assert "no gate definitions" in capsys.readouterr().err


def test_unreachable_server_is_an_error(token_for, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    import mlflow

    mlflow.set_tracking_uri("http://127.0.0.1:9")
    try:
        assert cli(token_for, JANE, [], "status", "--model", "iris") == 1
    finally:
        mlflow.set_tracking_uri(None)
    assert "error" in capsys.readouterr().err
