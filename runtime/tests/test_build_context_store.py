"""``serve build-context --store``: an image for a GCP or Azure environment gets the inference log sink's SDK of
that cloud (the runtime's ``gcs`` / ``azure`` extra, at runtime/requirements.txt's pins); one for AWS is as before."""

import json
import re
from pathlib import Path

import pytest

from mlflow_platform.common.errors import BadInput
from mlflow_platform.serving import context

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "runtime"


def pinned(name: str) -> str:
    """runtime/requirements.txt's line for ``name`` (name==version), read independently of the code under test."""
    for line in (RUNTIME / "requirements.txt").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split()[0]
    raise AssertionError(f"{name} is not pinned in runtime/requirements.txt")


def test_each_store_brings_its_extra_at_the_pinned_versions():
    assert context.store_requirements(RUNTIME, "s3") == []
    assert context.store_requirements(RUNTIME, "gs") == [pinned("google-cloud-storage")]
    assert context.store_requirements(RUNTIME, "wasbs") == [pinned("azure-storage-blob"), pinned("azure-identity")]


def test_the_flag_takes_the_destination_schemes_and_defaults_to_s3():
    base = ["--model-uri", "models:/m/1", "--output", "o"]
    assert context.parser().parse_args(base).store == "s3"
    assert context.parser().parse_args([*base, "--store", "gs"]).store == "gs"
    with pytest.raises(BadInput, match="invalid choice: 'gcs'"):
        context.parser().parse_args([*base, "--store", "gcs"])


def test_an_extra_without_a_pin_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text((RUNTIME / "pyproject.toml").read_text())
    (tmp_path / "requirements.txt").write_text("uvicorn==0.54.0\n")
    with pytest.raises(BadInput, match="pins no google-cloud-storage"):
        context.store_requirements(tmp_path, "gs")


@pytest.fixture
def fake_registry(monkeypatch):
    """MLflow's client and download, faked: a model version 1 of "m" with a minimal MLmodel and no signature."""
    import mlflow
    import mlflow.artifacts

    class Version:
        version, run_id, source = "1", "r", "models:/m/1"

    class Client:
        def get_model_version(self, name, version):
            return Version()

    def download(artifact_uri, dst_path):
        d = Path(dst_path)
        d.mkdir(parents=True, exist_ok=True)
        (d / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: m\n")
        (d / "requirements.txt").write_text("scikit-learn==1.5.0\n")
        return dst_path

    monkeypatch.setattr(mlflow, "MlflowClient", Client)
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)


@pytest.mark.parametrize("store", ["s3", "gs", "wasbs"])
def test_the_context_requirements_carry_the_store_sdk(tmp_path, fake_registry, store):
    out = tmp_path / "ctx"
    args = context.parser().parse_args(
        [
            "--model-uri",
            "models:/m/1",
            "--output",
            str(out),
            "--image-dir",
            str(REPO / "images" / "model-server"),
            "--runtime-dir",
            str(RUNTIME),
            "--no-lock",
            *(["--store", store] if store != "s3" else []),
        ]
    )
    assert context.run(args) == 0
    names = {
        re.match(r"[A-Za-z0-9._-]+", ln).group(0).lower()
        for ln in (out / "requirements.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    }
    assert "boto3" in names  # the server's own, on every cloud
    assert ("google-cloud-storage" in names) == (store == "gs")
    assert ({"azure-storage-blob", "azure-identity"} <= names) == (store == "wasbs")
    assert "azure-storage-blob" not in names or store == "wasbs"
    assert json.loads((out / "model-info.json").read_text())["inference_log_store"] == store
