"""The exit codes of every ``mlflow-platform`` sub-command (one table) and the exceptions that carry them.

======  ==========  =====================================================================================
 code    name        meaning
======  ==========  =====================================================================================
 0       OK          done, or nothing to do
 1       ERROR       something the command depends on failed (MLflow, S3, the model, an endpoint); the
                     message says what; retrying may help
 2       BAD_INPUT   an argument, a variable or the configuration is wrong; the message names what to fix;
                     nothing was changed
 3       REFUSED     a gate refused (``registry promote``/``check``); the decision is recorded. Or the
                     tracking server's access rules refused a registry call (teams on): the message is the
                     server's, naming the rule
 70      INTERNAL    an unexpected exception: a fault of the command itself; the log holds its traceback
                     (70 is ``EX_SOFTWARE`` of sysexits.h, apart from every code a command returns on purpose)
======  ==========  =====================================================================================

Pipelines act on these: 2 and 3 are final (do not retry), 1 may be retried, 70 wants a bug report.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    BAD_INPUT = 2
    REFUSED = 3
    INTERNAL = 70


class CommandError(Exception):
    """A failure the command expected and explains (exit 1 unless a subclass says otherwise)."""

    exit_code: ExitCode = ExitCode.ERROR


class BadInput(CommandError):
    """The input is wrong (exit 2; in a service, a 4xx answer): the message names what to fix. Nothing was
    changed. Its message is shown as it is, never with a traceback."""

    exit_code = ExitCode.BAD_INPUT
