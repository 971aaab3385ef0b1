"""``serve build-context --store`` end to end (MLflow's client and download faked): the requirements the image is
built from carry the inference log store's SDK for gs and wasbs, and boto3 (the server's own) on every cloud."""

import re
from pathlib import Path

import pytest

from mlflow_platform.serving import context

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "runtime"


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
