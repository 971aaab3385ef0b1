"""The registry tool with teams on, without a server: which workspace it acts in, and a 403 of the server's
access rules as a refusal naming the rule (exit 3), not an internal error."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED
from mlflow.utils.workspace_context import get_request_workspace, set_workspace

from mlflow_platform.common.errors import BadInput, ExitCode
from mlflow_platform.registry import cli, core


@pytest.fixture(autouse=True)
def no_workspace(monkeypatch):
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    yield
    set_workspace(None)


def test_the_option_wins_over_the_variable_and_neither_means_the_servers_default(monkeypatch):
    assert cli.use_workspace(None) is None and get_request_workspace() is None
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    assert cli.use_workspace(None) == "team-a"
    assert cli.use_workspace("team-b") == "team-b" and get_request_workspace() == "team-b"
    import os

    assert os.environ["MLFLOW_WORKSPACE"] == "team-b"  # threads MLflow starts send the same one


@pytest.mark.parametrize(("option", "env", "named"), [("Not A Name", "", "--workspace"), (None, "UPPER", "MLFLOW_")])
def test_a_workspace_name_mlflow_would_refuse_is_bad_input(monkeypatch, option, env, named):
    monkeypatch.setenv("MLFLOW_WORKSPACE", env)
    with pytest.raises(BadInput, match=named):
        cli.use_workspace(option)


class Refusing:
    def __init__(self, *args, **kwargs):
        pass

    def status(self, name):
        raise MlflowException(
            "PERMISSION_DENIED: protected-alias: the alias 'production' is moved only by the release pipeline's "
            "identities",
            error_code=PERMISSION_DENIED,
        )


def test_a_403_of_the_servers_rules_is_a_refusal_naming_the_rule(monkeypatch, token_for, capsys):
    token_for("alice@example.com", ["team-a-ds"])
    monkeypatch.setattr(core, "Registry", Refusing)
    assert cli.main(["status", "--model", "m", "--workspace", "team-a"]) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert "refused by the tracking server (workspace team-a): protected-alias: the alias 'production'" in err
    assert "PERMISSION_DENIED: protected" not in err and "Traceback" not in err
