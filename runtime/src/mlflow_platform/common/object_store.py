"""The artifact store of each cloud, named by one URI: ``s3://<bucket>``, ``gs://<bucket>`` or
``wasbs://<container>@<account>.blob.core.windows.net`` (MLflow's own schemes, so an environment names its
store the same way to MLflow and to the platform's jobs), and the clients that reach it.

The cloud SDKs are imported only when their scheme is used: a model image without the Google or Azure SDK
still starts with an S3 destination. Credentials are the cloud's ambient ones (an IAM role, GKE or AKS
Workload Identity); no encryption key is ever sent: each store's default key (its customer-managed key)
applies, and its policy refuses any other.

Azure authenticates as MLflow's Azure Blob repository does: ``AZURE_STORAGE_CONNECTION_STRING`` when it is
set (an emulator, a development account), else ``DefaultAzureCredential`` against the URI's account.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"

#: S3: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: GCS: the same, plus underscores, and up to 222 characters when dotted (each part at most 63).
_GCS_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
#: Azure: a container is 3-63 lowercase letters, digits and single hyphens; an account 3-24 letters and digits.
_AZ_CONTAINER = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
_AZ_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
#: The public, China and US Government clouds' blob endpoints, as MLflow's Azure repository accepts them.
_AZ_SUFFIX = re.compile(r"blob\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)")

SCHEMES = ("s3", "gs", "wasbs")


@dataclass(frozen=True)
class Destination:
    """A parsed store URI. ``bucket`` is the S3/GCS bucket or the Azure container."""

    scheme: str
    bucket: str
    account: str = ""
    suffix: str = ""

    @property
    def account_url(self) -> str:
        return f"https://{self.account}.{self.suffix}"

    def uri(self, key: str = "") -> str:
        base = (
            f"wasbs://{self.bucket}@{self.account}.{self.suffix}"
            if self.scheme == "wasbs"
            else f"{self.scheme}://{self.bucket}"
        )
        return f"{base}/{key.lstrip('/')}" if key else base


def parse(uri: str) -> Destination:
    """The destination ``uri`` names; ValueError says what is wrong with it. The URI names a bucket or
    container only: where under it is the caller's prefix, given apart."""
    parts = urlsplit(uri.strip())
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"{uri!r}: expected s3://<bucket>, gs://<bucket> or wasbs://<container>@<account>.blob.core.windows.net"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(f"{uri!r}: name the bucket or container only, without a path (the prefix is its own option)")
    if parts.scheme == "wasbs":
        container, at, host = parts.netloc.partition("@")
        account, _, suffix = host.partition(".")
        if not at or not _AZ_CONTAINER.fullmatch(container):
            raise ValueError(f"{uri!r}: {container!r} is not an Azure container name (3-63 a-z, 0-9, single -)")
        if not _AZ_ACCOUNT.fullmatch(account) or not _AZ_SUFFIX.fullmatch(suffix):
            raise ValueError(f"{uri!r}: expected <account>.blob.core.windows.net with an account of 3-24 a-z, 0-9")
        return Destination("wasbs", container, account, suffix)
    name = parts.netloc
    pattern = _S3_BUCKET if parts.scheme == "s3" else _GCS_BUCKET
    if (
        not pattern.fullmatch(name)
        or ".." in name
        or (parts.scheme == "gs" and any(len(p) > 63 for p in name.split(".")))
    ):
        raise ValueError(f"{uri!r}: {name!r} is not a bucket name {'S3' if parts.scheme == 's3' else 'GCS'} accepts")
    return Destination(parts.scheme, name)


def _require(module: str, distribution: str, scheme: str) -> None:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise ValueError(f"a {scheme}:// destination needs {distribution}, which is not installed here") from None


def gcs_client() -> Any:
    """A Cloud Storage client with the ambient credentials (GKE Workload Identity; anonymous against the
    emulator ``STORAGE_EMULATOR_HOST`` names). No project: objects are named by bucket, not project."""
    from google.cloud import storage

    return storage.Client(project=None)


def azure_client(dest: Destination, **kwargs: Any) -> Any:
    """A Blob service client of ``dest``'s account. With ``AZURE_STORAGE_CONNECTION_STRING``, that account
    must be the URI's: writing to another one because of a stray variable would be silent."""
    from azure.storage.blob import BlobServiceClient

    conn = os.environ.get(CONNECTION_STRING_ENV)
    if conn:
        client = BlobServiceClient.from_connection_string(conn, **kwargs)
        if client.account_name != dest.account:
            raise ValueError(
                f"{CONNECTION_STRING_ENV} is for account {client.account_name!r}, "
                f"the destination names {dest.account!r}"
            )
        return client
    from azure.identity import DefaultAzureCredential

    return BlobServiceClient(account_url=dest.account_url, credential=DefaultAzureCredential(), **kwargs)


def check_sdk(dest: Destination) -> None:
    """ValueError when the SDK ``dest`` needs is not installed (said at start, not at the first write)."""
    if dest.scheme == "s3":
        _require("boto3", "boto3", "s3")
    elif dest.scheme == "gs":
        _require("google.cloud.storage", "google-cloud-storage", "gs")
    else:
        _require("azure.storage.blob", "azure-storage-blob", "wasbs")
        if not os.environ.get(CONNECTION_STRING_ENV):
            _require("azure.identity", "azure-identity", "wasbs")


# ── reading (the drift job) ──
class S3Reader:
    def __init__(self, bucket: str, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client, self.bucket = client, bucket

    def keys(self, prefix: str) -> Iterator[str]:
        token = None
        while True:
            kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            page = self.client.list_objects_v2(**kw)
            for obj in page.get("Contents", []):
                yield obj["Key"]
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


class GcsReader:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = (client or gcs_client()).bucket(bucket)

    def keys(self, prefix: str) -> Iterator[str]:
        for blob in self.bucket.client.list_blobs(self.bucket, prefix=prefix):
            yield blob.name

    def read(self, key: str) -> bytes:
        # The stored bytes: the log's objects are gzip with Content-Encoding gzip, which the client would
        # otherwise decompress on the way (and Cloud Storage may transcode).
        return self.bucket.blob(key).download_as_bytes(raw_download=True)


class AzureBlobReader:
    def __init__(self, dest: Destination, client: Any = None) -> None:
        self.container = (client or azure_client(dest)).get_container_client(dest.bucket)

    def keys(self, prefix: str) -> Iterator[str]:
        for blob in self.container.list_blobs(name_starts_with=prefix):
            yield blob.name

    def read(self, key: str) -> bytes:
        # The stored bytes: the SDK decompresses a Content-Encoding gzip blob unless told not to.
        return self.container.download_blob(key, decompress=False).readall()


def reader_for(uri: str) -> S3Reader | GcsReader | AzureBlobReader:
    dest = parse(uri)
    check_sdk(dest)
    if dest.scheme == "s3":
        return S3Reader(dest.bucket)
    if dest.scheme == "gs":
        return GcsReader(dest.bucket)
    return AzureBlobReader(dest)
