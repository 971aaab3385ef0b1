"""``serve build-context --store``: an image whose inference log goes to Cloud Storage or Blob Storage carries that
cloud's SDK (the runtime's ``gcs`` / ``azure`` extra at runtime/requirements.txt's pins); an S3 one adds nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlflow_platform.common.errors import BadInput, CommandError
from mlflow_platform.serving.context import parser, store_requirements

RUNTIME = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    out = {}
    for raw in (RUNTIME / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", raw.split("#", 1)[0].strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_wasbs_adds_the_azure_sdk_at_the_runtime_pins():
    pins = _pins()
    want = [f"azure-storage-blob=={pins['azure-storage-blob']}", f"azure-identity=={pins['azure-identity']}"]
    assert store_requirements("wasbs", RUNTIME) == want
    # The environment's destination URI says the same.
    assert store_requirements("wasbs://mlflow@mlflowdev0b1f64.blob.core.windows.net", RUNTIME) == want


def test_gs_adds_the_cloud_storage_sdk_and_s3_nothing():
    assert store_requirements("gs://bucket", RUNTIME) == [f"google-cloud-storage=={_pins()['google-cloud-storage']}"]
    assert store_requirements("s3", RUNTIME) == []


def test_the_default_store_is_s3_and_an_unknown_one_is_refused():
    args = parser().parse_args(["--model-uri", "models:/m/1", "--output", "ctx"])
    assert args.store == "s3"
    with pytest.raises(BadInput, match="--store must be one of s3, gs, wasbs"):
        store_requirements("abfss://c@a.dfs.core.windows.net", RUNTIME)


def test_an_extra_without_a_pin_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project.optional-dependencies]\nazure = ["azure-storage-blob"]\n')
    (tmp_path / "requirements.txt").write_text("boto3==1.0\n")
    with pytest.raises(CommandError, match=r"azure-storage-blob .*not pinned"):
        store_requirements("wasbs", tmp_path)
