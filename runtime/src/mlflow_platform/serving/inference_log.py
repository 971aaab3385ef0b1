"""Input and output logging of the model server: sampled, obfuscated, batched, written in the background.

The prediction path only decides sampling and puts the exchange on a bounded queue (``put_nowait``); a
worker thread parses, obfuscates (serving/obfuscation.py), batches and writes. When the queue is full (the
sink is slow or down) or a write fails, records are dropped and counted in
``model_server_inference_log_requests_total{outcome="dropped_queue_full"|"dropped_sink_error"}`` (in
requests: one request may hold several rows): a
prediction never waits for, or fails because of, logging.

Format: JSON lines, gzip-compressed, one object per predicted row (an analyst reads it with
``zcat | jq``, DuckDB's ``read_json`` or Athena's JSON SerDe; the drift job with the standard library; no
Parquet writer, about 150 MB of pyarrow, in the model's image). The sink is the environment's artifact store:
S3, Cloud Storage or Azure Blob Storage (:func:`sink_for`), the same keys and bytes on each. Keys are
partitioned Hive-style so a window or one day is a prefix listing:

    <prefix>/model=<name>/version=<version>/date=YYYY-MM-DD/hour=HH/<unix ms>-<host>-<seq>.jsonl.gz

(a name or version holding a character Hive escapes in a partition value is written ``%XX``, as Hive does).

One record: ``ts``, ``request_id``, ``route``, ``status``, ``row``, ``caller`` (HMAC-hashed when a key is
set, else absent), ``inputs`` (the declared feature fields), ``context`` (declared context fields only),
``prediction`` and ``label``. Rules apply to inputs and context alike. Fields not declared are never logged.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from mlflow_platform.common.object_store import Destination, azure_client, check_sdk, gcs_client, parse

from .obfuscation import Obfuscator, keyed_hash

log = logging.getLogger("mlflow_platform.serving.inference_log")

KEY_ENV = "MODEL_SERVER_INFERENCE_LOG_KEY"


#: The characters Hive escapes in a partition value (FileUtils.escapePathName): a model name holding one is
#: written ``%XX``, so no store reads it as a separator (Azure Blob Storage takes a backslash for "/") and
#: Athena, Spark or DuckDB decode the partition back to the name. Names from the configuration have none.
_HIVE_ESCAPED = frozenset(
    [*map(chr, range(0x20)), '"', "#", "%", "'", "*", "/", ":", "=", "?", "\\", "\x7f", "{", "[", "]", "^"]
)


def partition_value(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPED else c for c in value)


def partition_prefix(prefix: str, model: str, version: str) -> str:
    """``<prefix>/model=<name>/version=<version>``: every object of one model version is under it."""
    return f"{prefix.strip('/')}/model={partition_value(model)}/version={partition_value(version)}"


def partition_key(prefix: str, model: str, version: str, ts: float, suffix: str) -> str:
    t = time.gmtime(ts)
    return (
        f"{partition_prefix(prefix, model, version)}/date={time.strftime('%Y-%m-%d', t)}"
        f"/hour={time.strftime('%H', t)}/{int(ts * 1000)}-{suffix}.jsonl.gz"
    )


#: What every sink's objects say of themselves: JSON lines, gzip-compressed (the bytes are gzip; a reader that
#: honours Content-Encoding gets the JSON lines).
CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"


class S3Sink:
    """Writes one object per batch with boto3. No encryption header: the bucket's default encryption (its
    customer-managed KMS key) applies, and its policy refuses any other; the role may only PutObject."""

    def __init__(self, bucket: str) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        # Short timeouts, one retry: a slow sink must fill the queue (and drop) rather than stall the worker long.
        self.client = boto3.client(
            "s3",
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}),
        )

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=CONTENT_TYPE, ContentEncoding=CONTENT_ENCODING
        )


class GcsSink:
    """Writes one object per batch to Cloud Storage with google-cloud-storage, as the pod's Workload Identity.
    No key is sent: the bucket's default key (its Cloud KMS key) applies. ``Cache-Control: no-transform``
    keeps Cloud Storage from decompressing the objects for a reader that does not ask for gzip: every reader
    gets the bytes that were written, as from S3.

    The client is made at the first write: credentials that cannot be found are a failed write (dropped and
    counted, like a missing S3 role), not a server that does not start."""

    #: Seconds to connect and to read an answer, and how long transient errors are retried. A slow sink must
    #: fill the queue (and drop) rather than stall the worker: the library's retry gives up after 120 s. Its
    #: uploads are retried only when conditional; these keys are unique, so a retry is safe without one.
    timeout = (2.0, 5.0)
    retry_seconds = 5.0

    def __init__(self, bucket: str, client: Any = None) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.bucket_name = bucket
        self._client = client
        self._bucket: Any = None
        self._retry = DEFAULT_RETRY.with_timeout(self.retry_seconds)

    def put(self, key: str, body: bytes) -> None:
        if self._bucket is None:
            self._bucket = (self._client or gcs_client()).bucket(self.bucket_name)
        blob = self._bucket.blob(key)
        blob.content_encoding = CONTENT_ENCODING
        blob.cache_control = "no-transform"
        # Create only (generation 0: the object must not exist), as the server's role allows (objectCreator: no
        # overwrite). Keys are unique (host, pid, sequence): an object already there is this batch, written by an
        # attempt whose answer was lost, so it counts as written.
        from google.api_core.exceptions import PreconditionFailed

        try:
            blob.upload_from_string(
                body, content_type=CONTENT_TYPE, timeout=self.timeout, retry=self._retry, if_generation_match=0
            )
        except PreconditionFailed:
            pass


class AzureBlobSink:
    """Writes one blob per batch with azure-storage-blob: ``AZURE_STORAGE_CONNECTION_STRING`` when set, else
    DefaultAzureCredential (AKS Workload Identity) against the destination's account. No encryption scope
    or customer-provided key is sent: the account's customer-managed key applies."""

    def __init__(self, dest: Destination, client: Any = None) -> None:
        from azure.storage.blob import ContentSettings, LinearRetry

        # Short timeouts and one retry after a second: the SDK's default is three retries 15 s apart and
        # more, which would stall the worker for a minute per batch while the sink is down.
        retry = LinearRetry(backoff=1, random_jitter_range=0, retry_total=1)
        client = client or azure_client(dest, connection_timeout=2, read_timeout=5, retry_policy=retry)
        self.container = client.get_container_client(dest.bucket)
        self._settings = ContentSettings(content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING)

    def put(self, key: str, body: bytes) -> None:
        # Create only (If-None-Match: *), as the server's role allows (blobs/add/action: no overwrite). Keys are
        # unique (host, pid, sequence): a blob already there is this batch, written by an attempt whose answer was
        # lost, so it counts as written.
        from azure.core.exceptions import ResourceExistsError

        try:
            self.container.upload_blob(key, body, overwrite=False, content_settings=self._settings, timeout=5)
        except ResourceExistsError:
            pass


def sink_for(destination: str) -> S3Sink | GcsSink | AzureBlobSink:
    """The sink of a destination URI: ``s3://<bucket>``, ``gs://<bucket>`` or
    ``wasbs://<container>@<account>.blob.core.windows.net``. ValueError when the URI is not one, or the
    SDK its cloud needs is not in the image: the server refuses to start and says which."""
    dest = parse(destination)
    check_sdk(dest)
    if dest.scheme == "s3":
        return S3Sink(dest.bucket)
    if dest.scheme == "gs":
        return GcsSink(dest.bucket)
    return AzureBlobSink(dest)


def _named(records: Any, features: frozenset[str]) -> list[dict] | None:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return None
    return [{k: v for k, v in r.items() if k in features} for r in records]


def inputs_of(route: str, body: dict, features: list[str]) -> list[dict] | None:
    """The declared feature fields of each row of a request body the server accepted (JSON only), mapped
    the way the request named them: by column name when it names columns (``dataframe_split`` with
    ``columns``, ``dataframe_records``, records or columns under ``inputs``/``instances``), by position
    only in the positional forms (``{"data": ...}``, lists of lists, ``dataframe_split`` without
    columns). A value is logged under a field's name only when the request put it there, so the field's
    rule applies to it whatever the column order. Columns that are not declared features are never
    logged; rows that cannot be mapped (a column named twice) give None: nothing is logged of them.
    """
    wanted = frozenset(features)

    def positional(rows: Any) -> list[dict] | None:
        if not isinstance(rows, list) or not rows:
            return None
        rows = rows if isinstance(rows[0], list) else [rows]
        if not all(isinstance(r, list) for r in rows):
            return None
        return [dict(zip(features, r, strict=False)) for r in rows]

    if route == "/predict":
        return positional(body.get("data"))
    split = body.get("dataframe_split")
    if isinstance(split, dict):
        columns = split.get("columns")
        if columns is None:
            return positional(split.get("data"))
        data = split.get("data")
        if not isinstance(columns, list) or len(set(map(str, columns))) != len(columns) or not isinstance(data, list):
            return None
        if not all(isinstance(r, list) for r in data):
            return None
        names = [str(c) for c in columns]
        return [{n: v for n, v in zip(names, r, strict=False) if n in wanted} for r in data]
    if "dataframe_records" in body:
        return _named(body["dataframe_records"], wanted)
    for k in ("inputs", "instances"):
        if k not in body:
            continue
        v = body[k]
        if isinstance(v, dict):  # columns: {"a": [1, 2], "b": [3, 4]}
            cols = {c: vals for c, vals in v.items() if c in wanted}
            if not all(isinstance(vals, list) for vals in cols.values()):
                return None
            n = max((len(vals) for vals in cols.values()), default=0)
            return [{c: vals[i] for c, vals in cols.items() if i < len(vals)} for i in range(n)]
        if isinstance(v, list) and v and isinstance(v[0], dict):
            return _named(v, wanted)
        return positional(v)
    return None


class InferenceLogger:
    """The ``ModelServer.hooks`` entry that logs predictions. Call :meth:`start` once, :meth:`close` at exit."""

    def __init__(
        self,
        sink: Any,
        *,
        model: str,
        version: str,
        prefix: str,
        feature_names: list[str],
        context_fields: list[str],
        rules: list[dict],
        key: bytes | None,
        sampling: float = 1.0,
        queue_size: int = 10_000,
        batch_records: int = 1_000,
        flush_seconds: float = 10.0,
        counter: Callable[[str, int], None] | None = None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 <= sampling <= 1.0:
            raise ValueError(f"sampling must be from 0 to 1, got {sampling}")
        self.sink = sink
        self.model = model
        self.version = version
        self.prefix = prefix
        self.features = list(feature_names)
        self.context_fields = frozenset(context_fields)
        self.obfuscator = Obfuscator(rules, key)
        self.key = key
        self.sampling = sampling
        self.batch_records = batch_records
        self.flush_seconds = flush_seconds
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._count = counter or (lambda _outcome, _n: None)
        self._rng = rng
        self._clock = clock
        self._seq = 0
        self._host = socket.gethostname()[:63]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ── the prediction path: O(1), never blocks ──
    def __call__(self, exchange: Any) -> None:
        if exchange.status != 200:
            return
        if self.sampling < 1.0 and self._rng() >= self.sampling:
            self._count("not_sampled", 1)
            return
        try:
            self.queue.put_nowait((self._clock(), exchange))
        except queue.Full:
            self._count("dropped_queue_full", 1)

    # ── the worker ──
    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()
        return self._thread

    def close(self, timeout: float = 5.0) -> None:
        """Flushes what is queued (best effort within ``timeout``) and stops the worker."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    #: Seconds the worker sleeps between drains of the queue. It never wakes per request: a thread woken
    #: for every exchange takes the GIL from the event loop hundreds of times a second (measured: 0.76-0.90x
    #: of the throughput without logging); draining in bulk a few times a second costs the same work once.
    poll_seconds = 0.1

    def _run(self) -> None:
        batch: list[dict] = []
        deadline = time.monotonic() + self.flush_seconds
        while True:
            stopping = self._stop.is_set()
            while True:
                try:
                    ts, exchange = self.queue.get_nowait()
                except queue.Empty:
                    break
                try:
                    records = self.records(ts, exchange)
                except Exception:  # a record that cannot be built is dropped, never fatal
                    log.exception("an inference record could not be built; dropped")
                    self._count("dropped_invalid", 1)
                    continue
                if records:
                    batch.extend(records)
                else:
                    self._count("skipped_unparsed", 1)
            now = time.monotonic()
            if batch and (len(batch) >= self.batch_records or now >= deadline or stopping):
                self._flush(batch)  # a request's rows stay in one object
                batch = []
            if now >= deadline:
                deadline = now + self.flush_seconds
            if stopping:
                return
            self._stop.wait(self.poll_seconds)

    def records(self, ts: float, exchange: Any) -> list[dict]:
        """The obfuscated records (one per row) of one exchange."""
        try:
            body = json.loads(exchange.request_body)
            answer = json.loads(exchange.response_body)
        except ValueError:
            return []
        if not isinstance(body, dict):
            return []
        rows = inputs_of(exchange.route, body, self.features) or []
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        labels = answer.get("labels") if isinstance(answer, dict) else None
        raw_context = body.get("context") if isinstance(body.get("context"), dict) else {}
        context = {k: v for k, v in raw_context.items() if k in self.context_fields}
        context = self.obfuscator.apply(context)
        out = []
        for i, row in enumerate(rows):
            inputs = self.obfuscator.apply(row)
            rec: dict[str, Any] = {
                "ts": round(ts, 3),
                "request_id": exchange.request_id,
                "route": exchange.route,
                "status": exchange.status,
                "model": self.model,
                "version": self.version,
                "row": i,
                "inputs": inputs,
            }
            if self.key and exchange.caller != "anonymous":
                rec["caller"] = keyed_hash(self.key, exchange.caller)
            if context:
                rec["context"] = context
            if isinstance(predictions, list) and i < len(predictions):
                rec["prediction"] = predictions[i]
            if isinstance(labels, list) and i < len(labels):
                rec["label"] = labels[i]
            out.append(rec)
        return out

    def _flush(self, batch: list[dict]) -> None:
        # One object per hour partition (a batch may straddle an hour).
        groups: dict[tuple[int, int, int, int], list[dict]] = {}
        for r in batch:
            t = time.gmtime(r["ts"])
            groups.setdefault((t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour), []).append(r)
        for records in groups.values():
            self._seq += 1
            key = partition_key(
                self.prefix, self.model, self.version, records[0]["ts"], f"{self._host}-{os.getpid()}-{self._seq}"
            )
            buf = io.BytesIO()
            with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
                for r in records:
                    gz.write(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
            try:
                self.sink.put(key, buf.getvalue())
            except Exception as e:  # noqa: BLE001 - the sink is down or refuses: drop and count, keep serving
                log.warning("inference log: %d records dropped, the sink failed (%s)", len(records), type(e).__name__)
                self._count("dropped_sink_error", len({r["request_id"] for r in records}))
                continue
            self._count("written", len({r["request_id"] for r in records}))
