"""
One MLflow of the pinned version (the tools virtualenv) answering every MLflow check of a jest run.

Started once per run by the first suite that needs it (test/helpers/mlflow-tool.ts), it imports MLflow's
CLI, server, SQLAlchemy, alembic and uvicorn once (seconds), then forks a child per request: each check
runs in a fresh copy of a process that has already imported them, instead of a new interpreter paying
the import again (that import was most of the Python time of `npx jest`).

Requests, one JSON object per connection on the Unix socket given as argv[1]. The answer is two JSON
lines: {"pid"} of the child that runs the request (the caller may kill it), then {"ok"} or {"error"}:
- {"kind": "cli-check", "processes": [{"argv", "env", "hostProbes"}]}: parses each rendered command line
  with MLflow's own click CLI, in its rendered environment, without running it (`check` below).
- {"kind": "run", "argv": ["mlflow", ...], "env": {...}, "cwd": "..."}: runs the command for real through
  the entry point of the `mlflow` console script (mlflow.cli:cli, standalone, as the script calls it), with
  exactly that environment (nothing inherited) and working directory. Answers {"code", "output"}.
- {"kind": "python", "code": "...", "argv": [...], "env": {...}}: runs a Python snippet as `python -c`
  would. Answers {"code", "output"}.

The directory on PYTHONPATH at start holds the tracking guard's files as the kubelet mounts them: the
choices of `mlflow server --app-name` are read from entry points when mlflow.cli is imported, so they
must be importable before that import. The server exits when the process named by argv[2] (the jest run)
is gone, or after IDLE_EXIT_S without a request; it then removes its start lock (argv[3]), so that the next
request starts a new one.
"""

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

START = time.time()

import click  # noqa: E402
import mlflow.cli  # noqa: E402
import mlflow.server  # noqa: E402
import mlflow.store.db.utils  # noqa: E402 (db upgrade's migrations)
import mlflow.store.tracking.sqlalchemy_store  # noqa: E402 (gc, db upgrade)
import sqlalchemy.engine  # noqa: E402,F401
import uvicorn.main  # noqa: E402,F401

# Idle this long, the process exits (its memory is most of a jest run's Python footprint); the next check
# that needs MLflow starts a new one.
IDLE_EXIT_S = 3


def parse(argv, env):
    # Options with an envvar (e.g. --backend-store-uri / MLFLOW_BACKEND_STORE_URI) resolve from the
    # process environment, exactly as in the container.
    os.environ.clear()
    os.environ.update(env)
    if argv[0] != "mlflow":
        raise SystemExit(f"entrypoint is {argv[0]!r}, not mlflow")
    cmd, name, args, ctx, path = mlflow.cli.cli, "mlflow", list(argv[1:]), None, []
    while True:
        ctx = cmd.make_context(name, args, parent=ctx)
        if not isinstance(cmd, click.Group):
            return cmd, ctx, path
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, cmd, args = cmd.resolve_command(ctx, rest)
        path.append(name)


def check(proc):
    """The resolved sub-command, its parsed parameters and, for `mlflow server`, the uvicorn command
    MLflow would spawn (parsed by uvicorn's own CLI) and MLflow's Host-header verdict for each probe."""
    _cmd, ctx, path = parse(proc["argv"], proc["env"])
    from mlflow.version import VERSION

    result = {
        "command": " ".join(path),
        "params": json.loads(json.dumps(ctx.params, default=str)),
        "mlflowVersion": VERSION,
    }
    if path == ["server"]:
        from mlflow.cli import _validate_server_args
        from mlflow.server import _build_uvicorn_command
        from mlflow.server.security_utils import is_allowed_host_header

        p = ctx.params
        _validate_server_args(
            ctx=ctx,
            gunicorn_opts=p["gunicorn_opts"],
            workers=p["workers"],
            waitress_opts=p["waitress_opts"],
            uvicorn_opts=p["uvicorn_opts"],
            allowed_hosts=p["allowed_hosts"],
            cors_allowed_origins=p["cors_allowed_origins"],
            x_frame_options=p["x_frame_options"],
            disable_security_middleware=p["disable_security_middleware"],
        )
        uv = _build_uvicorn_command(
            p["uvicorn_opts"], p["host"], p["port"], p["workers"], "mlflow.server.fastapi_app:app"
        )
        import importlib

        # `uvicorn.main` the attribute is a function; the click command lives in the module of that name.
        uv_ctx = importlib.import_module("uvicorn.main").main.make_context("uvicorn", uv[3:])
        result["uvicorn"] = json.loads(json.dumps(uv_ctx.params, default=str))
        allowed = [h.strip() for h in p["allowed_hosts"].split(",")]
        result["hostCheck"] = {h: is_allowed_host_header(allowed, h) for h in proc.get("hostProbes", [])}
    uri = proc["env"].get("MLFLOW_BACKEND_STORE_URI")
    if uri:
        from mlflow.utils.uri import extract_db_type_from_uri
        from sqlalchemy.engine import make_url

        url = make_url(uri)
        _cargs, ckwargs = url.get_dialect()().create_connect_args(url)
        result["database"] = {
            "dbType": extract_db_type_from_uri(uri),
            "driver": url.drivername,
            "connectKwargs": ckwargs,
        }
    return result


def cli_check(request):
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
    return out


def captured(request, body):
    """Runs body() with the request's environment and working directory, fds 1 and 2 into one file."""
    if request.get("cwd"):
        os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request.get("env", {}))
    out = tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    code = 0
    try:
        body()
    except SystemExit as e:
        if isinstance(e.code, int):
            code = e.code
        elif e.code is not None:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 (reported to the caller as the process's output)
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    out.seek(0)
    return {"code": code, "output": out.read().decode("utf-8", "replace")}


def run(request):
    argv = request["argv"]
    if argv[0] != "mlflow":
        raise SystemExit(f"entrypoint is {argv[0]!r}, not mlflow")
    sys.argv = list(argv)
    # What the `mlflow` console script does: sys.exit(cli()), click in standalone mode.
    return captured(request, lambda: mlflow.cli.cli.main(args=list(argv[1:]), prog_name="mlflow"))


def python(request):
    sys.argv = ["-c", *request.get("argv", [])]
    code = compile(request["code"], "<string>", "exec")
    return captured(request, lambda: exec(code, {"__name__": "__main__", "__builtins__": __builtins__}))  # noqa: S102 (the caller's snippet, as python -c runs it)


HANDLERS = {"cli-check": cli_check, "run": run, "python": python}


def serve(conn):
    # First line: the pid of the process that runs the request (the caller may stop it); then the answer.
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    try:
        request = json.loads(data)
        answer = {"ok": HANDLERS[request["kind"]](request)}
    except BaseException as e:  # noqa: BLE001 (the caller gets the failure, the server stays up)
        answer = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
    conn.sendall(json.dumps(answer).encode() + b"\n")


def main():
    path, owner, lock = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    server.listen(64)
    os.rename(path + ".tmp", path)  # clients find the socket only once it listens
    print(f"mlflow-tool {os.getpid()}: ready {time.time() - START:.1f} s after start", flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    last = time.monotonic()
    server.settimeout(0.5)
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                break  # the jest run is gone
            if time.monotonic() - last > IDLE_EXIT_S:
                break
            continue
        last = time.monotonic()
        fork_and_serve(server, conn)
    # No new client can find the socket once it is unlinked; the ones already queued are still served.
    os.unlink(path)
    server.setblocking(False)
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            break
        fork_and_serve(server, conn)
    server.close()
    print(f"mlflow-tool {os.getpid()}: exits, {time.monotonic() - last:.1f} s after its last request", flush=True)
    shutil.rmtree(lock, ignore_errors=True)  # the next client that needs MLflow starts a new process


def fork_and_serve(server, conn):
    if os.fork() == 0:
        server.close()
        # A child's own children (subprocesses MLflow starts) must be waitable again.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            conn.setblocking(True)
            serve(conn)
        finally:
            os._exit(0)
    conn.close()


if __name__ == "__main__":
    main()
