"""How each artifact store marks an object for archival, so that the store's own lifecycle rule moves it.

- ``s3://``: the object tag ``mlflow-platform-retention=archive`` (:func:`.plan.tag_objects`); the bucket's
  lifecycle rule filters on the tag.
- ``gs://``: the object's ``customTime`` set to the time of archival, and the custom metadata
  ``mlflow-platform-retention: archive`` (what the job reads back: a second run changes nothing). Cloud Storage's
  lifecycle condition ``daysSinceCustomTime`` then acts on it (https://cloud.google.com/storage/docs/lifecycle
  #dayssincecustomtime). Cloud Storage never lets a Custom-Time be removed or moved earlier
  (https://cloud.google.com/storage/docs/metadata#custom-time): one already set is kept as it is.
- ``wasbs://``: the blob index tag ``mlflow-platform-retention=archive``; the account's lifecycle management
  policy filters on it with ``blobIndexMatch`` (https://learn.microsoft.com/en-us/azure/storage/blobs/
  lifecycle-management-overview#rule-filters). Set Blob Tags replaces a blob's tags: its other tags are kept.

Each marks every object under a location and returns (newly marked, already marked); ``dry_run`` only counts.
Only object metadata is written: the job never reads, writes or deletes an object's data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from .plan import ARCHIVE_TAG_KEY, ARCHIVE_TAG_VALUE, tag_objects

#: The environment variable MLflow's Azure repository reads first; the e2e points it at Azurite. Unset on AKS,
#: where Workload Identity's token (DefaultAzureCredential) is used.
AZURE_CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"


def mark_gcs_objects(client, location: str, dry_run: bool, now: datetime | None = None) -> tuple[int, int]:
    """Sets ``customTime`` (when unset) and the archive metadata on every object under a ``gs://`` location."""
    u = urlparse(location)
    prefix = u.path.strip("/") + "/"
    when = now or datetime.now(UTC)
    marked = already = 0
    for blob in client.list_blobs(u.netloc, prefix=prefix):
        metadata = dict(blob.metadata or {})
        if blob.custom_time is not None and metadata.get(ARCHIVE_TAG_KEY) == ARCHIVE_TAG_VALUE:
            already += 1
            continue
        marked += 1
        if dry_run:
            continue
        if blob.custom_time is None:
            blob.custom_time = when
        # A patch of the metadata merges keys; the whole map is sent all the same, so no emulator drops the others.
        blob.metadata = {**metadata, ARCHIVE_TAG_KEY: ARCHIVE_TAG_VALUE}
        blob.patch()
    return marked, already


def mark_azure_blobs(container, location: str, dry_run: bool) -> tuple[int, int]:
    """Sets the archive blob index tag on every blob under a ``wasbs://`` location (``container``: its client)."""
    prefix = urlparse(location).path.strip("/") + "/"
    marked = already = 0
    for name in container.list_blob_names(name_starts_with=prefix):
        blob = container.get_blob_client(name)
        tags = blob.get_blob_tags()
        if tags.get(ARCHIVE_TAG_KEY) == ARCHIVE_TAG_VALUE:
            already += 1
            continue
        marked += 1
        if not dry_run:
            blob.set_blob_tags({**tags, ARCHIVE_TAG_KEY: ARCHIVE_TAG_VALUE})
    return marked, already


def azure_container(destination: str):
    """The ContainerClient of a ``wasbs://<container>@<account>.blob.core.windows.net/...`` destination."""
    from azure.storage.blob import BlobServiceClient

    u = urlparse(destination)
    container, _, host = u.netloc.partition("@")
    conn = os.environ.get(AZURE_CONNECTION_STRING_ENV)
    if conn:
        service = BlobServiceClient.from_connection_string(conn)
    else:
        from azure.identity import DefaultAzureCredential

        service = BlobServiceClient(f"https://{host}", credential=DefaultAzureCredential())
    return service.get_container_client(container)


def store_errors(scheme: str) -> tuple[type[BaseException], ...]:
    """The errors that mean the destination's store failed (unreachable, denied): exit 1, a later run may succeed."""
    if scheme == "gs":
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError

        return (GoogleAPIError, GoogleAuthError)
    if scheme == "wasbs":
        from azure.core.exceptions import AzureError

        return (AzureError,)
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def marker(destination: str) -> tuple[Callable[[str, bool], tuple[int, int]], str]:
    """The function marking a location of the destination's store (its client made here), and how the summary
    names the mark."""
    scheme = urlparse(destination).scheme
    tag = f"{ARCHIVE_TAG_KEY}={ARCHIVE_TAG_VALUE}"
    if scheme == "gs":
        from google.cloud import storage

        gcs: Any = storage.Client()
        return (lambda loc, dry: mark_gcs_objects(gcs, loc, dry)), f"customTime and {tag}"
    if scheme == "wasbs":
        container = azure_container(destination)
        return (lambda loc, dry: mark_azure_blobs(container, loc, dry)), f"blob index tag {tag}"
    import boto3

    s3 = boto3.client("s3")
    return (lambda loc, dry: tag_objects(s3, loc, dry)), tag
