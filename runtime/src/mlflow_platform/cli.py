"""``mlflow-platform``: one console script, one sub-command per process the platform runs.

Every sub-command's entry module is ``<sub-package>/cli.py`` with ``main(argv) -> int``, which runs the
command through :func:`mlflow_platform.common.command.run_command` (exit codes:
:mod:`mlflow_platform.common.errors`). Sub-commands are imported lazily, so ``mlflow-platform serve``
never imports the events service's dependencies and the other way round (start-up time and memory of
each container stay its own).
"""

from __future__ import annotations

import importlib
import sys

from .common.errors import ExitCode

# sub-command -> entry module exposing ``main(argv: list[str]) -> int``
COMMANDS: dict[str, str] = {
    "serve": "mlflow_platform.serving.cli",
    "registry": "mlflow_platform.registry.cli",
    "retention": "mlflow_platform.retention.cli",
    "events": "mlflow_platform.events.cli",
    "drift": "mlflow_platform.drift.cli",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(f"usage: mlflow-platform <command> [options]\ncommands: {', '.join(sorted(COMMANDS))}")
        return ExitCode.OK if args else ExitCode.BAD_INPUT
    command, rest = args[0], args[1:]
    module = COMMANDS.get(command)
    if module is None:
        known = ", ".join(sorted(COMMANDS))
        print(f"mlflow-platform: unknown command {command!r}; expected one of {known}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    return int(importlib.import_module(module).main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
