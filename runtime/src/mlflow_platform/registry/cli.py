"""``mlflow-platform registry <register|promote|rollback|status|check|approve>``.

Talks to MLFLOW_TRACKING_URI as the identity of MLFLOW_TRACKING_TOKEN (an OIDC ID token, sent as
``Authorization: Bearer``: exactly how pipelines pass the platform's OAuth2 Proxy).

Exit codes (the table in :mod:`mlflow_platform.common.errors`): 0 done (or nothing to do), 1 error (MLflow
unreachable after retries, unexpected answer), 2 bad input (the message names what to fix; nothing was
changed), 3 refused by a gate (the decision is recorded on the model version and in the model's history) or by
the tracking server's access rules (the message is the server's, naming the rule).

With teams on, each team's models live in its MLflow workspace: ``--workspace`` or $MLFLOW_WORKSPACE names it.
"""

from __future__ import annotations

import json
import os
import sys

from mlflow_platform.common.command import ArgumentParser, run_command
from mlflow_platform.common.errors import BadInput

from .errors import Refused
from .gates import TARGETS


def _parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="mlflow-platform registry",
        description="Register, promote, roll back and inspect models through MLflow's REST API.",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    def common(sp, version=True, target=True):
        sp.add_argument("--model", required=True, help="registered model name")
        if version:
            sp.add_argument("--version", required=True, help="model version number")
        if target:
            sp.add_argument(
                "--to", "--target", dest="target", required=True, choices=TARGETS, help="alias and stage to move"
            )
        sp.add_argument("--json", action="store_true", help="print the result as JSON")
        sp.add_argument(
            "--groups-claim", default="groups", help="token claim holding the caller's groups (default: groups)"
        )
        sp.add_argument(
            "--workspace",
            help=f"the team's MLflow workspace the model lives in (with teams on); default ${WORKSPACE_ENV}, "
            "else the server's default workspace",
        )

    r = sub.add_parser("register", help="register a version from a run's artifact path or a model URI")
    common(r, version=False, target=False)
    r.add_argument("--run-id")
    r.add_argument("--artifact-path", help="artifact path of the model in the run (with --run-id)")
    r.add_argument("--model-uri", help="runs:/..., models:/<logged model id> or any URI mlflow.register_model accepts")
    r.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    r.add_argument("--description")
    r.add_argument(
        "--started-by",
        action="append",
        default=[],
        metavar="EMAIL",
        help="e-mail of the person who started the pipeline that registers (may not approve the version); also "
        f"${STARTED_BY_ENV}, and Argo's creator label in ${WORKFLOW_LABELS_ENV} ({{{{workflow.labels.json}}}})",
    )

    for name, helptext in (
        ("promote", "run the gates, then move alias and stage"),
        ("check", "run the gates without promoting"),
        ("approve", "record my approval of a version for a target"),
    ):
        sp = sub.add_parser(name, help=helptext)
        common(sp)
        sp.add_argument(
            "--gates",
            help="gate definitions (JSON rendered from configuration); default $MLFLOW_PLATFORM_REGISTRY_GATES",
        )

    rb = sub.add_parser("rollback", help="give the target back to its previous holder")
    common(rb, version=False)
    st = sub.add_parser("status", help="who holds which alias, the versions and the promotion history")
    common(st, version=False, target=False)
    return p


#: MLflow's own client variable: the client sends it as X-MLflow-Workspace on every REST call, artifacts included.
WORKSPACE_ENV = "MLFLOW_WORKSPACE"
STARTED_BY_ENV = "MLFLOW_PLATFORM_STARTED_BY"
#: Argo Workflows' ``{{workflow.labels.json}}``: the Argo Server labels a workflow submitted through its
#: SSO with the submitter's e-mail (``workflows.argoproj.io/creator-email``, "@" written ".at.").
WORKFLOW_LABELS_ENV = "MLFLOW_PLATFORM_WORKFLOW_LABELS"
ARGO_CREATOR_EMAIL = "workflows.argoproj.io/creator-email"


def argo_creator_emails(label: str) -> list[str]:
    """Every address Argo's creator-email label can stand for. Argo writes the first "@" as ".at." (and
    any character outside [-_.a-zA-Z0-9] as "-"), so "pat.at.home.at.example.com" is pat@home.at.example.com
    or pat.at.home@example.com: every reading is kept, and none of them may approve."""
    out = []
    start = 0
    while (i := label.find(".at.", start)) >= 0:
        local, domain = label[:i], label[i + 4 :]
        if local and "." in domain:
            out.append(f"{local}@{domain}")
        start = i + 1
    return out


def started_by(args, environ) -> list[str]:
    """Who started the pipeline that runs this registration: the option, the variable, Argo's label."""
    out = list(args.started_by)
    if environ.get(STARTED_BY_ENV, "").strip():
        out += [x.strip() for x in environ[STARTED_BY_ENV].split(",") if x.strip()]
    raw = environ.get(WORKFLOW_LABELS_ENV, "").strip()
    if raw:
        try:
            labels = json.loads(raw)
        except ValueError as err:
            raise BadInput(f"{WORKFLOW_LABELS_ENV} is not JSON (Argo's {{{{workflow.labels.json}}}}): {err}") from err
        creator = labels.get(ARGO_CREATOR_EMAIL) if isinstance(labels, dict) else None
        if isinstance(creator, str) and creator:
            out += argo_creator_emails(creator)
    bad = [x for x in out if x.count("@") != 1 or any(c.isspace() for c in x)]
    if bad:
        raise BadInput(f"--started-by {bad[0]!r}: an e-mail address of the person who started the pipeline")
    return out


def _tags(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"--tag {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def use_workspace(option: str | None, environ=os.environ) -> str | None:
    """Chooses the workspace every call of this process goes to: ``--workspace``, else $MLFLOW_WORKSPACE (MLflow's
    client reads it on each request), else none: the server's default workspace. Checked here, with MLflow's own
    rule for workspace names, so a typo is bad input instead of a server error on the first write."""
    chosen = (option if option is not None else environ.get(WORKSPACE_ENV, "")).strip()
    if not chosen:
        return None
    from mlflow.exceptions import MlflowException
    from mlflow.utils.workspace_context import set_workspace

    try:
        set_workspace(chosen)  # the context and $MLFLOW_WORKSPACE: threads MLflow starts see it too
    except MlflowException as err:
        source = "--workspace" if option is not None else WORKSPACE_ENV
        raise BadInput(f"{source} {chosen!r}: {err.message}") from err
    return chosen


def run(args, registry=None) -> int:
    from mlflow.exceptions import MlflowException

    from .core import access_refused

    use_workspace(args.workspace)
    try:
        return _run(args, registry)
    except MlflowException as err:
        # A write the server's access rules refuse (protected alias, four-eyes, another team's workspace).
        if err.error_code == "PERMISSION_DENIED":
            raise access_refused(err) from err
        raise


def _run(args, registry=None) -> int:
    from .core import Registry
    from .gates import load_gates
    from .identity import identity_from_token

    me = identity_from_token(groups_claim=args.groups_claim)
    reg = registry or Registry()
    cmd = args.command
    if cmd == "register":
        if args.model_uri and (args.run_id or args.artifact_path):
            raise BadInput("pass either --model-uri, or --run-id with --artifact-path, not both")
        if not args.model_uri and not (args.run_id and args.artifact_path):
            raise BadInput("name what to register: --run-id and --artifact-path, or --model-uri")
        uri = args.model_uri or f"runs:/{args.run_id}/{args.artifact_path.strip('/')}"
        out = reg.register(args.model, uri, me, _tags(args.tag), args.description, started_by(args, os.environ))
    elif cmd == "status":
        out = reg.status(args.model)
    elif cmd == "rollback":
        out = reg.rollback(args.model, args.target, me)
    else:
        gates = load_gates(args.gates)
        try:
            out = getattr(reg, cmd)(args.model, args.version, args.target, gates, me)
        except Refused as err:
            if err.decision is not None and args.json:
                print(json.dumps(err.decision, indent=2))
            raise
    print(
        json.dumps(out.data if out.data else {"message": out.message, "changed": out.changed}, indent=2)
        if args.json
        else out.message
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(_parser(), run, sys.argv[1:] if argv is None else argv)
