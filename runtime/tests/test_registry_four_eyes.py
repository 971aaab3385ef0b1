"""The four-eyes rule compares verified identities, not the names people happen to write: case and
Unicode variants of one address are one person, a version whose registrant is unknown cannot be
approved, and whoever started the pipeline that registered a version cannot approve it."""

from __future__ import annotations

import json

import pytest

from mlflow_platform.common.errors import ExitCode
from mlflow_platform.registry.cli import main

from .test_registry_tool import BOB, GATES, log_model

ALICE = "alice@example.com"
# The same address in full-width letters (NFKC folds them back to ASCII).
FULLWIDTH_ALICE = "".join(chr(ord(c) + 0xFEE0) if c != "@" else c for c in ALICE)
PIPELINE = "system:serviceaccount:training:training-pipeline"


@pytest.fixture
def gates_file(tmp_path, monkeypatch):
    path = tmp_path / "gates.json"
    path.write_text(json.dumps(GATES))
    monkeypatch.setenv("MLFLOW_PLATFORM_REGISTRY_GATES", str(path))
    return path


def as_(token_for, email, groups=(), sub=None):
    token_for(email, list(groups), sub=sub)


def run(*argv):
    return main(list(argv))


def approve(version="1"):
    return run("approve", "--model", "iris", "--version", version, "--to", "production")


def register(*extra):
    return run("register", "--model", "iris", "--run-id", log_model(0.95), "--artifact-path", "model", *extra)


@pytest.mark.parametrize("variant", ["Alice@Example.com", "ALICE@EXAMPLE.COM", FULLWIDTH_ALICE, " alice@example.com"])
def test_a_case_or_unicode_variant_of_the_registrant_cannot_approve(tracking, token_for, gates_file, capsys, variant):
    """The review's probe: alice@example.com approved her own Alice@Example.com registration (another
    subject each time, as two accounts of an identity provider would have)."""
    as_(token_for, variant, sub="alice-account-1")
    assert register("--tag", "validation=passed") == ExitCode.OK
    as_(token_for, ALICE, ["ml-approvers"], sub="alice-account-2")
    capsys.readouterr()
    assert approve() == ExitCode.BAD_INPUT
    assert "the approver must be a second person" in capsys.readouterr().err


def test_the_same_subject_under_another_email_cannot_approve(tracking, token_for, gates_file, capsys):
    as_(token_for, ALICE, sub="u-42")
    assert register() == ExitCode.OK
    as_(token_for, "alice.smith@example.com", ["ml-approvers"], sub="u-42")
    assert approve() == ExitCode.BAD_INPUT


def test_a_version_registered_outside_the_tool_cannot_be_approved(tracking, token_for, gates_file, capsys):
    """No registrant recorded (created through the REST API directly): nobody can be shown to be a second
    person, so approving is refused, and an approval tag written by hand does not pass the gate."""
    from mlflow import MlflowClient

    c = MlflowClient()
    run_id = log_model(0.95)
    c.create_registered_model("iris")
    c.create_model_version("iris", f"runs:/{run_id}/model", run_id=run_id, tags={"validation": "passed"})
    as_(token_for, BOB, ["ml-approvers"])
    capsys.readouterr()
    assert approve() == ExitCode.BAD_INPUT
    assert "no recorded registrant" in capsys.readouterr().err
    hand_written = {"by": BOB, "sub": f"id-{BOB}", "iss": "https://issuer.test", "groups": ["ml-approvers"]}
    c.set_model_version_tag("iris", "1", "platform.approval.production", json.dumps(hand_written))
    as_(token_for, ALICE)
    assert run("check", "--model", "iris", "--version", "1", "--to", "production", "--json") == ExitCode.REFUSED
    gates = {g["gate"]: g for g in json.loads(capsys.readouterr().out)["gates"]}
    assert gates["approval"]["result"] == "fail" and "no recorded registrant" in gates["approval"]["detail"]


def test_whoever_started_the_pipeline_cannot_approve_what_it_registered(tracking, token_for, gates_file, capsys):
    as_(token_for, None, sub=PIPELINE)  # the pipeline's own identity: a service account, no e-mail
    assert register("--tag", "validation=passed", "--started-by", "Rita@Example.com") == ExitCode.OK
    as_(token_for, "rita@example.com", ["ml-approvers"])
    capsys.readouterr()
    assert approve() == ExitCode.BAD_INPUT
    assert "started the pipeline" in capsys.readouterr().err
    as_(token_for, BOB, ["ml-approvers"])
    assert approve() == ExitCode.OK


def test_argo_creator_label_names_the_starter(tracking, token_for, gates_file, monkeypatch, capsys):
    """Argo's Server labels a workflow submitted through its SSO with the submitter's e-mail ("@" written
    ".at."); the training WorkflowTemplate passes {{workflow.labels.json}}."""
    labels = {"workflows.argoproj.io/creator-email": "rita.at.example.com", "workflows.argoproj.io/creator": "x"}
    monkeypatch.setenv("MLFLOW_PLATFORM_WORKFLOW_LABELS", json.dumps(labels))
    as_(token_for, None, sub=PIPELINE)
    assert register() == ExitCode.OK
    monkeypatch.delenv("MLFLOW_PLATFORM_WORKFLOW_LABELS")
    from mlflow import MlflowClient

    registrant = json.loads(MlflowClient().get_model_version("iris", "1").tags["platform.registrant"])
    assert registrant["started_by"] == ["rita@example.com"] and registrant["sub"] == PIPELINE
    as_(token_for, "Rita@example.com", ["ml-approvers"])
    assert approve() == ExitCode.BAD_INPUT


def test_the_approval_by_a_variant_of_the_requester_is_refused_at_promotion(tracking, token_for, gates_file, capsys):
    as_(token_for, ALICE)
    assert register("--tag", "validation=passed") == ExitCode.OK
    as_(token_for, "bob@example.com", ["ml-approvers"], sub="bob-1")
    assert approve() == ExitCode.OK
    as_(token_for, "BOB@example.com", sub="bob-2")
    capsys.readouterr()
    assert run("promote", "--model", "iris", "--version", "1", "--to", "production") == ExitCode.BAD_INPUT
    assert "who is also the requester" in capsys.readouterr().err


def test_the_tool_s_own_tags_cannot_be_passed_as_tags(tracking, token_for, gates_file, capsys):
    as_(token_for, ALICE)
    assert register("--tag", 'platform.registrant={"by": "nobody@example.com"}') == ExitCode.BAD_INPUT
