"""The one way a sub-command runs: parse, run, turn the outcome into an exit code (:mod:`.errors`), log in
JSON (:mod:`.logs`).

Every entry module (``<sub-package>/cli.py``) builds its parser with :class:`ArgumentParser` and calls
:func:`run_command`; none of them catches exceptions to choose an exit code itself.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence

from .errors import BadInput, CommandError, ExitCode
from .logs import configure_logging

#: The level of the JSON logs when a command has no ``--log-level`` of its own.
LOG_LEVEL_ENV = "MLFLOW_PLATFORM_LOG_LEVEL"

log = logging.getLogger("mlflow_platform")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with its errors raised as :class:`BadInput` (exit 2, logged like every other bad input)
    instead of printed and exited from inside ``parse_args``."""

    def error(self, message: str):  # type: ignore[override]
        raise BadInput(f"{message} (see {self.prog} --help)")


def run_command(
    parser: argparse.ArgumentParser,
    handler: Callable[[argparse.Namespace], int | None],
    argv: Sequence[str],
) -> int:
    """Parses ``argv`` with ``parser``, runs ``handler(args)`` and returns the exit code:

    - what ``handler`` returns (None: 0);
    - :class:`BadInput`: 2, its message logged as it is (no traceback: the input is at fault, not the code);
    - another :class:`CommandError`: its ``exit_code``, its message logged;
    - any other exception: 70 (``ExitCode.INTERNAL``), logged with its traceback.
    """
    configure_logging(os.environ.get(LOG_LEVEL_ENV, "INFO"))
    prog = parser.prog
    fields: dict = {"command": prog}
    try:
        try:
            args = parser.parse_args(list(argv))
        except SystemExit as e:  # --help, --version: argparse printed it; a parser of another class: bad input
            if e.code in (0, None):
                return ExitCode.OK
            raise BadInput(f"invalid arguments (see {prog} --help)") from None
        return int(handler(args) or 0)
    except BadInput as e:
        code = ExitCode.BAD_INPUT
        log.error("%s: bad input: %s", prog, e, extra={"fields": {**fields, "exit_code": int(code)}})
        return code
    except CommandError as e:
        code = e.exit_code
        log.error("%s: %s", prog, e, extra={"fields": {**fields, "exit_code": int(code)}})
        return code
    except Exception as e:
        code = ExitCode.INTERNAL
        log.error(
            "%s: unexpected error %s: %s",
            prog,
            type(e).__name__,
            str(e)[:500],
            exc_info=True,
            extra={"fields": {**fields, "exit_code": int(code)}},
        )
        return code
