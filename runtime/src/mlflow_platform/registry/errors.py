"""The three ways the registry tool can fail, each with its own exit code."""

from __future__ import annotations

from . import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_REFUSED


class RegistryToolError(Exception):
    """An error (exit 1): MLflow unreachable, an unexpected answer. Retrying may help."""

    exit_code = EXIT_ERROR


class BadInput(RegistryToolError):
    """Bad input (exit 2): the message names what to fix. Nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class Refused(RegistryToolError):
    """Refused by a gate (exit 3). The decision is recorded on the model version and in the history."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, decision: dict | None = None):
        super().__init__(message)
        self.decision = decision
