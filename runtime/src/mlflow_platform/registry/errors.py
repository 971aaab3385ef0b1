"""The registry tool's own failures, beside :class:`~mlflow_platform.common.errors.BadInput` (exit 2); exit
codes: the table in :mod:`mlflow_platform.common.errors`."""

from __future__ import annotations

from mlflow_platform.common.errors import CommandError, ExitCode


class RegistryToolError(CommandError):
    """An error (exit 1): MLflow unreachable, an unexpected answer. Retrying may help."""


class Refused(CommandError):
    """Refused by a gate (exit 3). The decision is recorded on the model version and in the history."""

    exit_code = ExitCode.REFUSED

    def __init__(self, message: str, decision: dict | None = None):
        super().__init__(message)
        self.decision = decision


class AccessRefused(CommandError):
    """Refused by the tracking server's access rules (exit 3, like a gate: retrying does not help). The message
    is the server's, which names the rule (``protected-alias``, ``four-eyes``, ``platform-tag``...) and who may."""

    exit_code = ExitCode.REFUSED
