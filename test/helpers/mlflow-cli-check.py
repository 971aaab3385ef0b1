"""
Parses rendered MLflow command lines with the real MLflow CLI (click) of the pinned version, without
running them. Reads JSON from stdin:
  {"processes": [{"argv": [...], "env": {...}, "hostProbes": [...]}]}
and writes one JSON result per process: the resolved sub-command, its parsed parameters, and for
`mlflow server` the uvicorn command MLflow would spawn, parsed by uvicorn's own CLI, and the verdict
of MLflow's Host-header check for each probe. Any usage error exits non-zero with the message.
"""
import json
import os
import sys

import click


def parse(argv, env):
    # Options with an envvar (e.g. --backend-store-uri / MLFLOW_BACKEND_STORE_URI) resolve from the
    # process environment, exactly as in the container.
    os.environ.clear()
    os.environ.update(env)
    from mlflow.cli import cli

    if argv[0] != "mlflow":
        raise SystemExit(f"entrypoint is {argv[0]!r}, not mlflow")
    cmd, name, args, ctx, path = cli, "mlflow", list(argv[1:]), None, []
    while True:
        ctx = cmd.make_context(name, args, parent=ctx)
        if not isinstance(cmd, click.Group):
            return cmd, ctx, path
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, cmd, args = cmd.resolve_command(ctx, rest)
        path.append(name)


def check(proc):
    cmd, ctx, path = parse(proc["argv"], proc["env"])
    from mlflow.version import VERSION

    result = {"command": " ".join(path), "params": json.loads(json.dumps(ctx.params, default=str)), "mlflowVersion": VERSION}
    if path == ["server"]:
        from mlflow.cli import _validate_server_args
        from mlflow.server import _build_uvicorn_command
        from mlflow.server.security_utils import is_allowed_host_header

        p = ctx.params
        _validate_server_args(
            ctx=ctx, gunicorn_opts=p["gunicorn_opts"], workers=p["workers"], waitress_opts=p["waitress_opts"],
            uvicorn_opts=p["uvicorn_opts"], allowed_hosts=p["allowed_hosts"], cors_allowed_origins=p["cors_allowed_origins"],
            x_frame_options=p["x_frame_options"], disable_security_middleware=p["disable_security_middleware"],
        )
        uv = _build_uvicorn_command(p["uvicorn_opts"], p["host"], p["port"], p["workers"], "mlflow.server.fastapi_app:app")
        import importlib

        # `uvicorn.main` the attribute is a function; the click command lives in the module of that name.
        uv_ctx = importlib.import_module("uvicorn.main").main.make_context("uvicorn", uv[3:])
        result["uvicorn"] = json.loads(json.dumps(uv_ctx.params, default=str))
        allowed = [h.strip() for h in p["allowed_hosts"].split(",")]
        result["hostCheck"] = {h: is_allowed_host_header(allowed, h) for h in proc.get("hostProbes", [])}
    uri = proc["env"].get("MLFLOW_BACKEND_STORE_URI")
    if uri:
        from sqlalchemy.engine import make_url

        from mlflow.utils.uri import extract_db_type_from_uri

        url = make_url(uri)
        cargs, ckwargs = url.get_dialect()().create_connect_args(url)
        result["database"] = {"dbType": extract_db_type_from_uri(uri), "driver": url.drivername, "connectKwargs": ckwargs}
    return result


def main():
    request = json.load(sys.stdin)
    env = dict(os.environ)
    out = []
    for proc in request["processes"]:
        try:
            out.append(check(proc))
        except click.exceptions.ClickException as e:
            out.append({"error": f"{type(e).__name__}: {e.format_message()}"})
        finally:
            os.environ.clear()
            os.environ.update(env)
    json.dump(out, sys.stdout)


main()
