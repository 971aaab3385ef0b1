"""``mlflow-platform retention run [--dry-run] --keep N --artifacts-destination <s3|gs|wasbs>://...``.

Exit codes (the table in :mod:`mlflow_platform.common.errors`): 0 done (or, with ``--dry-run``, listed),
1 MLflow or the artifact store could not be read or written, 2 bad input.
"""

from __future__ import annotations

import json
import os
import sys

from mlflow_platform.common.command import ArgumentParser, run_command
from mlflow_platform.common.errors import BadInput, CommandError

from .plan import destination_scheme, plan, validate
from .stores import marker, store_errors

EXCEPTIONS_ENV = "MLFLOW_PLATFORM_RETENTION_EXCEPTIONS"


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="mlflow-platform retention", description="Archive the artifacts of old model versions.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    ap = sub.add_parser("run", help="tag the objects of every version retention does not keep")
    ap.add_argument("--dry-run", action="store_true", help="list what would be tagged; change nothing")
    ap.add_argument(
        "--keep", type=int, required=True, help="N: versions kept per model besides alias/stage/served holders"
    )
    ap.add_argument(
        "--artifacts-destination",
        required=True,
        help="the tracking server's --artifacts-destination (s3://bucket/prefix, gs://bucket/prefix, "
        "wasbs://container@account.blob.core.windows.net/prefix)",
    )
    ap.add_argument(
        "--served",
        action="append",
        default=[],
        metavar="MODEL/VERSION",
        help="a version served by an endpoint (repeatable)",
    )
    ap.add_argument(
        "--exceptions",
        default=os.environ.get(EXCEPTIONS_ENV, "{}"),
        help='per-model JSON: {"<model>": {"keepVersions": 3, "skip": false}}',
    )
    return p


def run(args) -> int:
    try:
        exceptions = json.loads(args.exceptions)
    except ValueError:
        exceptions = None
    if not isinstance(exceptions, dict):
        raise BadInput(f"--exceptions: expected a JSON object of models, got {args.exceptions[:80]!r}")
    # Bad input changes nothing: checked before a client exists (MLflow's client alone can create a store).
    validate(args.keep, exceptions)
    scheme = destination_scheme(args.artifacts_destination)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        p = plan(MlflowClient(), args.keep, set(args.served), exceptions, args.artifacts_destination)
        mark, mark_name = marker(args.artifacts_destination)
        verb = "would tag" if args.dry_run else "tagged"
        total_new = total_old = 0
        for name in sorted(p.keep):
            for ver, why in p.keep[name]:
                print(f"keep    {name}/{ver}: {why}")
            for ver, loc in p.archive[name]:
                new, old = mark(loc, args.dry_run)
                total_new += new
                total_old += old
                print(f"archive {name}/{ver}: {loc}: {verb} {new} objects, {old} already tagged")
    except (MlflowException, *store_errors(scheme), OSError) as err:
        # The registry or the artifact store failed (unreachable, denied): exit 1, a later run may succeed.
        raise CommandError(f"{type(err).__name__}: {str(err)[:300]}") from err
    for s in p.skipped:
        print(f"skip    {s}")
    versions = sum(len(v) for v in p.archive.values())
    print(
        f"retention: {versions} versions to archive, {verb} {total_new} objects "
        f"({mark_name}), "
        f"{total_old} already tagged{' (dry run: nothing changed)' if args.dry_run else ''}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(parser(), run, sys.argv[1:] if argv is None else argv)
