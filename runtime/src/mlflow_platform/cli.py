"""``mlflow-platform``: one console script, one sub-command per process the platform runs.

Sub-commands are looked up lazily, so ``mlflow-platform serve`` never imports the events service's
dependencies and the other way round (start-up time and memory of each container stay its own).
"""

from __future__ import annotations

import importlib
import sys

# sub-command -> module exposing ``main(argv: list[str]) -> int``
COMMANDS: dict[str, str] = {
    "serve": "mlflow_platform.serving.cli",
    "registry": "mlflow_platform.registry.cli",
    "retention": "mlflow_platform.retention.job",
    "events": "mlflow_platform.events.cli",
    "drift": "mlflow_platform.drift.job",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        names = ", ".join(sorted(COMMANDS)) or "(none yet)"
        print(f"usage: mlflow-platform <command> [options]\ncommands: {names}")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    module = COMMANDS.get(command)
    if module is None:
        known = ", ".join(sorted(COMMANDS))
        print(f"mlflow-platform: unknown command {command!r}; expected one of {known}", file=sys.stderr)
        return 2
    return int(importlib.import_module(module).main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
