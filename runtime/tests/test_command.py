"""The run wrapper every sub-command goes through (mlflow_platform.common.command): exit codes, messages,
JSON logs on stderr, stdout left to the command, no traceback for bad input."""

from __future__ import annotations

import json

import pytest

from mlflow_platform import cli
from mlflow_platform.common.command import ArgumentParser, run_command
from mlflow_platform.common.errors import BadInput, CommandError, ExitCode


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="mlflow-platform demo")
    p.add_argument("--what", required=True, choices=("ok", "none", "bad", "error", "refused", "bug"))
    return p


class Refusal(CommandError):
    exit_code = ExitCode.REFUSED


def handler(args):
    print("the result")
    if args.what == "ok":
        return ExitCode.OK
    if args.what == "none":
        return None
    if args.what == "bad":
        raise BadInput("--model 'nope': no such model")
    if args.what == "error":
        raise CommandError("MLflow: connection refused")
    if args.what == "refused":
        raise Refusal("gate metric:accuracy refused")
    return {}["missing"]  # a bug: KeyError


def run(capsys, *argv):
    code = run_command(parser(), handler, list(argv))
    out, err = capsys.readouterr()
    logs = [json.loads(line) for line in err.splitlines() if line.strip()]
    return code, out, logs


def test_the_exit_code_table_is_what_pipelines_rely_on():
    assert {c.name: int(c) for c in ExitCode} == {"OK": 0, "ERROR": 1, "BAD_INPUT": 2, "REFUSED": 3, "INTERNAL": 70}
    assert BadInput.exit_code == ExitCode.BAD_INPUT and CommandError.exit_code == ExitCode.ERROR


@pytest.mark.parametrize("what", ["ok", "none"])
def test_success_is_0_and_stdout_is_the_command_s(capsys, what):
    code, out, logs = run(capsys, "--what", what)
    assert code == 0 and out == "the result\n" and logs == []


def test_bad_input_is_2_with_its_message_and_no_traceback(capsys):
    code, out, logs = run(capsys, "--what", "bad")
    assert code == ExitCode.BAD_INPUT == 2
    assert out == "the result\n"  # stdout stays the command's: a pipeline parses it
    [log] = logs
    assert log["level"] == "error" and log["exit_code"] == 2 and log["command"] == "mlflow-platform demo"
    assert log["message"] == "mlflow-platform demo: bad input: --model 'nope': no such model"
    assert "traceback" not in log and "exception" not in log and "Traceback" not in json.dumps(log)


def test_argument_errors_are_bad_input_logged_the_same_way(capsys):
    code, out, logs = run(capsys, "--what", "nonsense")
    assert code == 2 and out == ""
    [log] = logs
    assert log["exit_code"] == 2 and "bad input: argument --what: invalid choice: 'nonsense'" in log["message"]
    assert "see mlflow-platform demo --help" in log["message"] and "traceback" not in log
    code, _, logs = run(capsys)
    assert code == 2 and "the following arguments are required: --what" in logs[0]["message"]


def test_help_is_0(capsys):
    code = run_command(parser(), handler, ["--help"])
    assert code == 0 and "usage: mlflow-platform demo" in capsys.readouterr().out


@pytest.mark.parametrize(("what", "expected"), [("error", 1), ("refused", 3)])
def test_an_expected_failure_exits_with_its_own_code_and_message(capsys, what, expected):
    code, _, logs = run(capsys, "--what", what)
    assert code == expected
    [log] = logs
    assert log["exit_code"] == expected and "traceback" not in log
    assert log["message"].startswith("mlflow-platform demo: ") and log["message"].endswith(
        {"error": "MLflow: connection refused", "refused": "gate metric:accuracy refused"}[what]
    )


def test_an_unexpected_exception_is_70_with_its_traceback_in_the_json_log(capsys):
    code, _, logs = run(capsys, "--what", "bug")
    assert code == ExitCode.INTERNAL == 70
    [log] = logs
    assert log["exit_code"] == 70 and log["exception"] == "KeyError"
    assert log["message"] == "mlflow-platform demo: unexpected error KeyError: 'missing'"
    assert "Traceback (most recent call last)" in log["traceback"] and "handler" in log["traceback"]


@pytest.mark.parametrize(
    "argv",
    [
        ["registry", "promote", "--model", "m"],
        ["retention", "run", "--keep", "3"],
        ["events", "nope"],
        ["drift", "--model-name", "m"],
        ["serve", "--port", "x"],
        ["serve", "build-context"],
        ["serve", "smoke"],
    ],
)
def test_every_sub_command_reports_bad_arguments_through_the_wrapper(capsys, argv):
    assert cli.main(argv) == 2
    [log] = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert log["exit_code"] == 2 and "bad input" in log["message"] and "traceback" not in log
