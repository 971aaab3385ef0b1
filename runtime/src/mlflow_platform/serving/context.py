"""``mlflow-platform serve build-context``: the build context of a model's image, from ``models:/<name>/<version>``.

Writes into ``--output``:
  model/               the model's files, downloaded through the tracking server (MLFLOW_TRACKING_URI,
                       with the pipeline's token in MLFLOW_TRACKING_TOKEN)
  requirements.txt     the model's own requirements (MLflow's requirements.txt), with ``mlflow`` replaced by
                       ``mlflow-skinny`` of the same version (the pyfunc loader without the tracking server)
                       and without test and development tools (pytest, IPython, linters: MLflow infers
                       requirements from the modules loaded in the training process, which may include the
                       test runner), plus the server's pinned requirements (images/model-server/requirements.txt)
                       and, with ``--store gs`` or ``--store wasbs``, the SDK of the inference log's store (the
                       runtime's ``gcs`` or ``azure`` extra, pinned as runtime/requirements.txt pins it)
  requirements.lock    every package of the image, exact version and sha256 (``pip --require-hashes``):
                       resolved once, here, so the image build downloads exactly these bytes
  runtime/             this package's sources (pyproject.toml, src/)
  Dockerfile           images/model-server/Dockerfile with the model's Python version
  model-info.json      name, version, run, source, MLflow version, digests of the inputs, requirements dropped
  openapi.json         the server's OpenAPI 3.1 document for this model (serving/openapi.py, from its
                       signature): what application teams and client generators read, published beside the image

Same inputs, same bytes: files are written in sorted order with a fixed mtime (SOURCE_DATE_EPOCH, default
0), so a BuildKit build with ``SOURCE_DATE_EPOCH`` and ``rewrite-timestamp=true`` gives the same layers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from mlflow_platform.common.command import ArgumentParser
from mlflow_platform.common.errors import BadInput, CommandError

MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(/(?P<version>\d+)|@(?P<alias>[\w-]+))$")
_PYTHON_LINE = re.compile(r"^ARG PYTHON_VERSION=.*$", re.MULTILINE)


def parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="mlflow-platform serve build-context",
        description="Write the build context of a model server image for models:/<name>/<version>.",
    )
    p.add_argument(
        "--model-uri",
        required=True,
        help="models:/<name>/<version> (an alias, models:/<name>@<alias>, is resolved to its version).",
    )
    p.add_argument("--output", required=True, help="Directory to write (must not exist or be empty).")
    p.add_argument(
        "--image-dir", default="images/model-server", help="The image definition (Dockerfile, requirements.txt)."
    )
    p.add_argument("--runtime-dir", default="runtime", help="The runtime package's sources.")
    p.add_argument(
        "--store",
        default="s3",
        help="The inference log's store the image writes to, by scheme or URI (s3, gs, wasbs, or the environment's "
        "destination): gs and wasbs add the runtime's gcs or azure extra (the server refuses to start with a "
        "destination whose SDK it lacks). Default: s3 (boto3 is always in).",
    )
    p.add_argument(
        "--no-lock",
        action="store_true",
        help="Skip resolving requirements.lock (offline use; the build is then not reproducible).",
    )
    return p


def rewrite_requirements(model_requirements: str, mlflow_version: str | None) -> list[str]:
    """The model's requirement lines, with ``mlflow`` replaced by ``mlflow-skinny`` (same version)."""
    out = []
    for raw in model_requirements.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^mlflow(\[[^\]]*\])?\s*(==\s*(?P<v>[\w.+-]+))?\s*$", line)
        if m:
            version = m.group("v") or mlflow_version
            out.append(f"mlflow-skinny=={version}" if version else "mlflow-skinny")
            continue
        out.append(line)
    return out


#: Distributions that inference never needs: test runners, notebooks, linters and formatters. MLflow's
#: inferred requirements list whatever the training process had imported (pytest, when it ran under a
#: test); each is dropped from the image with its plugins (``pytest-*``).
NOT_FOR_INFERENCE = frozenset(
    (
        "pytest",
        "hypothesis",
        "coverage",
        "tox",
        "nox",
        "ipython",
        "ipykernel",
        "jupyter",
        "jupyterlab",
        "notebook",
        "nbconvert",
        "black",
        "ruff",
        "flake8",
        "pylint",
        "mypy",
        "isort",
        "pre-commit",
    )
)
_PLUGIN_PREFIXES = ("pytest-", "jupyter-", "jupyterlab-", "flake8-", "mypy-")


def inference_requirements(lines: list[str]) -> tuple[list[str], list[str]]:
    """(kept, dropped): the requirement lines without the distributions inference never needs."""
    kept, dropped = [], []
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        name = re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""
        if name in NOT_FOR_INFERENCE or name.startswith(_PLUGIN_PREFIXES):
            dropped.append(line)
        else:
            kept.append(line)
    return kept, dropped


#: The runtime's extra (runtime/pyproject.toml) each inference-log store needs in the image; s3's boto3 is among
#: the server's own requirements (images/model-server/requirements.txt).
STORE_EXTRAS = {"s3": None, "gs": "gcs", "wasbs": "azure"}


def _dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def store_requirements(store: str, runtime_dir: Path) -> list[str]:
    """The pinned requirement lines an image writing its inference log to ``store`` (a scheme or a store URI)
    needs besides the server's: the distributions of the scheme's extra, at runtime/requirements.txt's pins."""
    scheme = store.split("://", 1)[0]
    if scheme not in STORE_EXTRAS:
        raise BadInput(f"--store must be one of {', '.join(STORE_EXTRAS)} (or a URI of one), got {store!r}")
    extra = STORE_EXTRAS[scheme]
    if extra is None:
        return []
    names = tomllib.loads((runtime_dir / "pyproject.toml").read_text())["project"]["optional-dependencies"][extra]
    pins = {}
    for raw in (runtime_dir / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", raw.split("#", 1)[0].strip())
        if m:
            pins[_dist(m.group(1))] = f"{m.group(1)}=={m.group(2)}"
    missing = [n for n in names if _dist(n) not in pins]
    if missing:
        raise CommandError(f"{', '.join(missing)} (the runtime's {extra} extra) not pinned in runtime/requirements.txt")
    return [pins[_dist(n)] for n in names]


def _python_version(model_dir: Path) -> str:
    env = model_dir / "python_env.yaml"
    if env.exists():
        m = re.search(r"^python:\s*['\"]?([\d.]+)", env.read_text(), re.MULTILINE)
        if m:
            return m.group(1)
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def lock(requirements: Path, python_version: str) -> list[str]:
    """Resolves ``requirements`` with pip (no install) into ``name==version --hash=sha256:...`` lines."""
    wanted = ".".join(python_version.split(".")[:2])
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted != have:
        raise SystemExit(
            f"build-context: the model wants Python {python_version}, this is Python {have}: "
            f"resolve the lock with Python {wanted} (the image's interpreter), or pass --no-lock"
        )
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(  # noqa: S603 - our own interpreter and pip, arguments are no shell
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                "--disable-pip-version-check",
                "--only-binary=:all:",
                "--report",
                str(report),
                "-r",
                str(requirements),
            ],
            check=True,
        )
        data = json.loads(report.read_text())
    lines = []
    for item in data["install"]:
        meta = item["metadata"]
        info = item.get("download_info", {}).get("archive_info", {})
        digest = (info.get("hashes") or {}).get("sha256") or (
            info.get("hash", "").split("=", 1)[-1] if info.get("hash", "").startswith("sha256=") else None
        )
        if not digest:
            raise SystemExit(f"build-context: pip reported no sha256 for {meta['name']}: cannot lock it")
        lines.append(f"{meta['name'].lower()}=={meta['version']} --hash=sha256:{digest}")
    return sorted(lines)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _normalise(root: Path, epoch: int) -> None:
    for p in sorted(root.rglob("*"), reverse=True):
        os.utime(p, (epoch, epoch), follow_symlinks=False)
        if p.is_file():
            p.chmod(0o644)
        elif p.is_dir():
            p.chmod(0o755)
    os.utime(root, (epoch, epoch))


def run(args) -> int:
    m = MODEL_URI.match(args.model_uri)
    if not m:
        raise BadInput(
            f"--model-uri must be models:/<name>/<version> or models:/<name>@<alias>, got {args.model_uri!r}"
        )
    out = Path(args.output)
    if out.exists() and any(out.iterdir()):
        raise BadInput(f"{out} is not empty; give a new directory")
    image_dir, runtime_dir = Path(args.image_dir), Path(args.runtime_dir)
    for needed in (image_dir / "Dockerfile", image_dir / "requirements.txt", runtime_dir / "pyproject.toml"):
        if not needed.exists():
            raise BadInput(f"{needed} not found (run from the repository root or pass --image-dir/--runtime-dir)")
    # Before any download: a store this image cannot write to is refused first.
    store_reqs = store_requirements(args.store, runtime_dir)

    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts
    from mlflow.version import VERSION

    client = MlflowClient()
    name = m.group("name")
    if m.group("alias"):
        mv = client.get_model_version_by_alias(name, m.group("alias"))
    else:
        mv = client.get_model_version(name, m.group("version"))
    out.mkdir(parents=True, exist_ok=True)
    model_dir = out / "model"
    download_artifacts(artifact_uri=f"models:/{name}/{mv.version}", dst_path=str(model_dir))
    if not (model_dir / "MLmodel").exists():
        raise CommandError(f"models:/{name}/{mv.version} has no MLmodel file")
    model_reqs = (
        (model_dir / "requirements.txt").read_text()
        if (model_dir / "requirements.txt").exists()
        else f"mlflow=={VERSION}\n"
    )
    reqs, dropped = inference_requirements(rewrite_requirements(model_reqs, VERSION))
    if not any(r.startswith("mlflow-skinny") for r in reqs):
        reqs.insert(0, f"mlflow-skinny=={VERSION}")
    server_reqs = [
        ln.strip()
        for ln in (image_dir / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    (out / "requirements.txt").write_text(
        "# The model's requirements (MLflow's requirements.txt; mlflow -> mlflow-skinny)\n"
        + "\n".join(reqs)
        + "\n# The server's (images/model-server/requirements.txt)\n"
        + "\n".join(server_reqs)
        + "\n"
        + (
            f"# The inference log's store ({args.store.split('://', 1)[0]}: runtime/requirements.txt's pins)\n"
            + "\n".join(store_reqs)
            + "\n"
            if store_reqs
            else ""
        )
    )
    python_version = _python_version(model_dir)
    if not args.no_lock:
        (out / "requirements.lock").write_text("\n".join(lock(out / "requirements.txt", python_version)) + "\n")
    shutil.copytree(
        runtime_dir / "src",
        out / "runtime" / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    shutil.copy2(runtime_dir / "pyproject.toml", out / "runtime" / "pyproject.toml")
    dockerfile = (image_dir / "Dockerfile").read_text()
    dockerfile = _PYTHON_LINE.sub(f"ARG PYTHON_VERSION={python_version}", dockerfile, count=1)
    (out / "Dockerfile").write_text(dockerfile)
    info = {
        "name": name,
        "version": str(mv.version),
        "run_id": mv.run_id,
        "source": mv.source,
        "mlflow": VERSION,
        "python": python_version,
        "model_sha256": _digest(model_dir),
        "locked": not args.no_lock,
        "requirements_dropped": dropped,
    }
    from mlflow.models import Model

    from .openapi import document

    (out / "openapi.json").write_text(
        json.dumps(
            document(Model.load(str(model_dir)).get_input_schema(), model_name=name, model_version=str(mv.version)),
            indent=1,
        )
        + "\n"
    )
    (out / "model-info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    _normalise(out, int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    print(json.dumps({"context": str(out), **info}))
    return 0
