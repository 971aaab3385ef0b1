"""The retention job on Cloud Storage (gs://) and Blob Storage (wasbs://): the mark each store's lifecycle rule acts
on, idempotent, other metadata kept, nothing outside the location touched, a dry run changing nothing; and the
whole command against fake-gcs-server and Azurite with a registry of five versions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from mlflow_platform.common.errors import BadInput
from mlflow_platform.retention.cli import main
from mlflow_platform.retention.plan import ARCHIVE_TAG_KEY, artifact_location, destination_scheme
from mlflow_platform.retention.stores import mark_azure_blobs, mark_gcs_objects

WASBS = "wasbs://mlflow@acct.blob.core.windows.net/mlartifacts"
_names = itertools.count()


@pytest.mark.parametrize(
    ("uri", "dest", "loc"),
    [
        ("mlflow-artifacts:/1/models/m-a/artifacts", "gs://b/mlartifacts", ("b", "mlartifacts/1/models/m-a/artifacts")),
        ("gs://b/mlartifacts/2/x", "gs://b/mlartifacts", ("b", "mlartifacts/2/x")),
        ("gs://other/x", "gs://b/mlartifacts", None),
        ("s3://b/mlartifacts/2/x", "gs://b/mlartifacts", None),
        (
            "mlflow-artifacts:/1/r/artifacts/model",
            WASBS,
            ("mlflow@acct.blob.core.windows.net", "mlartifacts/1/r/artifacts/model"),
        ),
        (f"{WASBS}/3/x", WASBS, ("mlflow@acct.blob.core.windows.net", "mlartifacts/3/x")),
        ("wasbs://other@acct.blob.core.windows.net/mlartifacts/3/x", WASBS, None),
    ],
)
def test_artifact_uri_mapping_per_scheme(uri, dest, loc):
    assert artifact_location(uri, dest) == loc


@pytest.mark.parametrize(
    "dest", ["file:///tmp/x", "gs:///nobucket", "wasbs://acct.blob.core.windows.net/p", "abfss://c@a/p"]
)
def test_other_destinations_are_bad_input(dest):
    with pytest.raises(BadInput, match="expected s3://<bucket>/<prefix>, gs://"):
        destination_scheme(dest)


@pytest.fixture
def gcs(fake_gcs, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "test-project")
    from google.cloud import storage

    client = storage.Client()
    bucket = client.create_bucket(f"bucket-{next(_names)}")
    return client, bucket


def test_gcs_marks_custom_time_and_metadata_idempotently(gcs):
    client, bucket = gcs
    for name in ("p/1/a", "p/1/b/c", "p/2/a", "p/10/a"):
        bucket.blob(name).upload_from_string(b"x")
    owned = bucket.blob("p/1/a")
    owned.metadata = {"owner": "ml"}
    owned.patch()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    loc = f"gs://{bucket.name}/p/1"

    assert mark_gcs_objects(client, loc, dry_run=True, now=when) == (2, 0)
    assert all(b.custom_time is None for b in client.list_blobs(bucket.name))
    assert mark_gcs_objects(client, loc, dry_run=False, now=when) == (2, 0)
    assert mark_gcs_objects(client, loc, dry_run=False, now=datetime.now(UTC)) == (0, 2)

    blobs = {b.name: b for b in client.list_blobs(bucket.name)}
    assert blobs["p/1/a"].custom_time == when and blobs["p/1/b/c"].custom_time == when
    assert blobs["p/1/a"].metadata == {"owner": "ml", ARCHIVE_TAG_KEY: "archive"}
    # Neither another version's objects nor a prefix that merely starts alike ("p/10" for "p/1").
    for name in ("p/2/a", "p/10/a"):
        assert blobs[name].custom_time is None and not blobs[name].metadata


def test_gcs_keeps_a_custom_time_already_set(gcs):
    client, bucket = gcs
    blob = bucket.blob("p/1/a")
    blob.upload_from_string(b"x")
    earlier = datetime(2025, 6, 1, tzinfo=UTC)
    blob.custom_time = earlier
    blob.patch()
    assert mark_gcs_objects(client, f"gs://{bucket.name}/p/1", dry_run=False) == (1, 0)
    (marked,) = client.list_blobs(bucket.name)
    assert marked.custom_time == earlier and marked.metadata == {ARCHIVE_TAG_KEY: "archive"}


@pytest.fixture
def container(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite).create_container(f"mlflow{next(_names)}")


def test_azure_marks_blob_index_tags_idempotently(container):
    for name in ("p/1/a", "p/1/b/c", "p/2/a", "p/10/a"):
        container.upload_blob(name, b"x", tags={"owner": "ml"} if name == "p/1/a" else None)
    loc = f"wasbs://{container.container_name}@acct.blob.core.windows.net/p/1"

    assert mark_azure_blobs(container, loc, dry_run=True) == (2, 0)
    assert container.get_blob_client("p/1/b/c").get_blob_tags() == {}
    assert mark_azure_blobs(container, loc, dry_run=False) == (2, 0)
    assert mark_azure_blobs(container, loc, dry_run=False) == (0, 2)

    tags = {n: container.get_blob_client(n).get_blob_tags() for n in container.list_blob_names()}
    assert tags == {
        "p/1/a": {"owner": "ml", ARCHIVE_TAG_KEY: "archive"},
        "p/1/b/c": {ARCHIVE_TAG_KEY: "archive"},
        "p/2/a": {},
        "p/10/a": {},
    }


def register_five_versions(tracking, source_of):
    """Versions 1-5 of model "iris" (1 holds alias champion), each with its own artifact directory."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking)
    client.create_registered_model("iris")
    for v in range(1, 6):
        client.create_model_version("iris", source_of(v))
    client.set_registered_model_alias("iris", "champion", "1")


def test_the_command_marks_what_gcs_lifecycle_acts_on(gcs, tracking, capsys):
    client, bucket = gcs
    dest = f"gs://{bucket.name}/mlartifacts"
    for v in range(1, 6):
        for f in ("MLmodel", "model.pkl"):
            bucket.blob(f"mlartifacts/1/m-{v}/artifacts/{f}").upload_from_string(b"x")
    register_five_versions(tracking, lambda v: f"{dest}/1/m-{v}/artifacts")

    assert main(["run", "--keep", "2", "--artifacts-destination", dest, "--dry-run"]) == 0
    assert "would tag 4 objects" in capsys.readouterr().out
    assert all(b.custom_time is None for b in client.list_blobs(bucket.name))
    assert main(["run", "--keep", "2", "--artifacts-destination", dest]) == 0
    assert "tagged 4 objects (customTime and mlflow-platform-retention=archive)" in capsys.readouterr().out
    marked = sorted(b.name for b in client.list_blobs(bucket.name) if b.custom_time is not None)
    assert marked == [f"mlartifacts/1/m-{v}/artifacts/{f}" for v in (2, 3) for f in ("MLmodel", "model.pkl")]
    assert main(["run", "--keep", "2", "--artifacts-destination", dest]) == 0
    assert "tagged 0 objects (customTime and mlflow-platform-retention=archive), 4 already tagged" in (
        capsys.readouterr().out
    )


def test_the_command_marks_what_azure_lifecycle_acts_on(container, tracking, capsys):
    dest = f"wasbs://{container.container_name}@mlflowartifacts.blob.core.windows.net/mlartifacts"
    for v in range(1, 6):
        for f in ("MLmodel", "model.pkl"):
            container.upload_blob(f"mlartifacts/1/m-{v}/artifacts/{f}", b"x")
    register_five_versions(tracking, lambda v: f"{dest}/1/m-{v}/artifacts")

    assert main(["run", "--keep", "2", "--artifacts-destination", dest, "--dry-run"]) == 0
    assert "would tag 4 objects" in capsys.readouterr().out
    assert main(["run", "--keep", "2", "--artifacts-destination", dest]) == 0
    assert "tagged 4 objects (blob index tag mlflow-platform-retention=archive)" in capsys.readouterr().out
    marked = sorted(n for n in container.list_blob_names() if container.get_blob_client(n).get_blob_tags())
    assert marked == [f"mlartifacts/1/m-{v}/artifacts/{f}" for v in (2, 3) for f in ("MLmodel", "model.pkl")]
    assert main(["run", "--keep", "2", "--artifacts-destination", dest]) == 0
    assert ", 4 already tagged" in capsys.readouterr().out
