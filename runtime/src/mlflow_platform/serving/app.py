"""The model server as one small ASGI application (no framework: the hot path is a few dict lookups).

Routes:
  POST /predict       the workflow's call: ``{"data": [5.1, 3.5, 1.4, 0.2]}`` or ``{"data": [[...], ...]}``
  POST /invocations   MLflow's scoring protocol, parsed by MLflow's own ``scoring_server.invocations``
                      (JSON ``dataframe_split``/``dataframe_records``/``instances``/``inputs``, CSV, Parquet)
  GET  /openapi.json  the OpenAPI 3.1 document of these routes, from the model's signature (openapi.py)
  GET  /readyz        readiness: 200 once the model is loaded, 503 before and while draining
  GET  /version       server, MLflow, model name and version
  GET  /healthz       liveness: 200 while the process serves (503 if the model failed to load)
  GET  /metrics       Prometheus text format

``/healthz`` and ``/readyz`` are what every service the platform writes answers (the registry events service
too). The server also answers ``/ping`` like ``/readyz`` and ``/health`` like ``/healthz``: ``/ping`` is
readiness in MLflow's scoring protocol (``mlflow models serve``) and SageMaker's hosting contract, which
their clients call; and the stack's probes and load balancer health checks stay on ``/ping`` and
``/health`` because they are rendered for whatever image a release names, rollbacks included, and every
image built before ``/readyz``/``/healthz`` existed answers only those two.

With an admin port (``--admin-port``), liveness and ``/metrics`` are served there only: the gateway
reaches the traffic port, Prometheus and the kubelet the admin port, so no caller reads the per-feature
histograms of every other caller or the model's load error.

Admission, in order, for the two prediction routes: ready (else 503), the verified identity (403,
identity.py), per-caller token bucket (429), per-caller uploads in progress (429), body size (413), the
body read under its own short deadline (408), per-pod concurrency (429), then the prediction with a
deadline (504). A prediction slot is taken only once the whole body is there: a slow upload holds no slot.
Every malformed body is a 4xx naming the problem (model.py); a 5xx is a fault of the server or the model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from .identity import IdentityPolicy, caller_value
from .limits import CallerLimiter, retry_after
from .metrics import COUNTED_ROUTES, Metrics
from .model import (
    BadRequest,
    LoadedModel,
    check_json_input,
    load,
    load_json,
    needs_json_check,
    parse_predict_body,
    predict_rows,
)
from .obfuscation import keyed_hash

log = logging.getLogger("mlflow_platform.serving")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CALLER = re.compile(r"^[\x21-\x7e]{1,256}$")
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_PROMETHEUS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
_READY_ROUTES = frozenset(("/readyz", "/ping"))
_LIVE_ROUTES = frozenset(("/healthz", "/health"))
_PROBE_ROUTES = frozenset((*_READY_ROUTES, *_LIVE_ROUTES, "/metrics", "/version"))
#: What the traffic port serves besides predictions when an admin port takes liveness and /metrics.
_TRAFFIC_PROBES = frozenset((*_READY_ROUTES, "/version"))


@dataclass(frozen=True)
class ServerConfig:
    """What ``mlflow-platform serve`` is started with (see serving/cli.py for the flags)."""

    model_dir: str
    model_name: str
    model_version: str
    max_concurrency: int = 8
    max_body_bytes: int = 1_048_576
    caller_header: str = "x-caller-id"
    caller_rate: float = 50.0
    caller_burst: int = 100
    request_timeout: float = 30.0
    class_names: tuple[str, ...] = ()
    #: Seconds /readyz (and /ping) answer 503 after SIGTERM before the server stops accepting (endpoints catch up).
    drain_seconds: float = 5.0
    #: Who may call (identity.py); None: any caller the network admits (no gateway sets an identity).
    identity: IdentityPolicy | None = None
    #: Header the gateway sets (overwrites) with the verified token's groups.
    groups_header: str = "x-forwarded-groups"
    #: Seconds a request body gets to arrive, before any prediction slot is taken (408 after).
    body_timeout: float = 10.0
    #: Bodies one caller may be uploading at once (429 beyond): a slow uploader holds its own share only.
    max_uploads_per_caller: int = 8
    #: Port of liveness and /metrics (Prometheus, the kubelet); None: every route on every port.
    admin_port: int | None = None
    #: HMAC key of caller ids in the access log (the inference log's key); None: a key of this process.
    log_key: bytes | None = None


@dataclass
class Exchange:
    """One prediction request and its answer, as a hook sees it (after the response is sent)."""

    request_id: str
    caller: str
    route: str
    status: int
    latency_seconds: float
    request_body: bytes
    response_body: bytes


class PredictionHook(Protocol):
    """Called after every answered prediction request, off the response path. Input/output logging
    (a later issue) plugs in here: it must not block (queue the exchange and return)."""

    def __call__(self, exchange: Exchange) -> None: ...


class ModelServer:
    def __init__(self, config: ServerConfig, loader: Callable[[str], LoadedModel] = load) -> None:
        self.config = config
        self.loader = loader
        self.model: LoadedModel | None = None
        self.ready = False
        self.draining = False
        self.failed: str | None = None
        self.in_flight = 0
        self.hooks: list[PredictionHook] = []
        self.metrics = Metrics(config.model_name, config.model_version)
        self.limiter = CallerLimiter(config.caller_rate, config.caller_burst)
        self.executor = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="predict")
        self._caller_header = config.caller_header.lower().encode("latin-1")
        self._groups_header = config.groups_header.lower().encode("latin-1")
        # Caller ids are personal data (e-mail addresses): the access log holds their HMAC, as the
        # inference log does (same key, so the two correlate), never the address.
        self._log_key = config.log_key or os.urandom(32)
        self._caller_hashes: dict[str, str] = {}
        self.uploads: dict[str, int] = {}
        #: The OpenAPI document (openapi.py), rendered once the model is loaded.
        self.openapi: bytes | None = None
        self._identity = {"model": config.model_name, "version": config.model_version}
        self._labels = list(config.class_names)
        self._write = sys.stdout.write
        self.on_loaded: Callable[[], None] | None = None
        #: Called in the prediction thread with the checked rows of /predict and their predictions (metrics of
        #: serving/observability.py); must be quick and must not raise.
        self.on_predicted: Callable[[list, list], None] | None = None

    # ── model loading (background thread: the port answers at once, /readyz says 503 until done) ──
    def start_loading(self) -> threading.Thread:
        t = threading.Thread(target=self._load, name="model-loader", daemon=True)
        t.start()
        return t

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            model = self.loader(self.config.model_dir)
            # One prediction before ready: the first real request must not pay for lazy imports.
            if model.n_features is not None:
                row = [0.0] * model.n_features
                predict_rows(model, [row])
                if model.columns is None:
                    body = json.dumps({"inputs": [row]})
                    model.invocations(body, "application/json", model.pyfunc, model.input_schema)
        except BaseException as e:  # noqa: BLE001 - any failure must be reported and make the pod unhealthy
            self.failed = f"{e.__class__.__name__}: {e}"
            log.error("model failed to load from %s: %s", self.config.model_dir, self.failed)
            if self.on_loaded:
                self.on_loaded()
            return
        self.model = model
        from .openapi import document

        self.openapi = json.dumps(document(model.input_schema, self.config), indent=1).encode()
        self.ready = True
        self.metrics.ready.set(1)
        self._log(
            {
                "event": "model_loaded",
                "model": self.config.model_name,
                "version": self.config.model_version,
                "mlflow": model.mlflow_version,
                "features": model.n_features,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        if self.on_loaded:
            self.on_loaded()

    def drain(self) -> None:
        """SIGTERM: stop being ready at once (the Service drops the pod), keep answering what arrives."""
        self.draining = True
        self.metrics.ready.set(0)

    # ── ASGI ──
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.executor.shutdown(wait=False, cancel_futures=True)
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        started = time.perf_counter()
        path = scope["path"]
        admin = self.config.admin_port is not None and _local_port(scope) == self.config.admin_port
        if scope["method"] == "GET" and (
            (path in _PROBE_ROUTES and (admin or self.config.admin_port is None))
            or (path in _TRAFFIC_PROBES and not admin)
        ):
            status, headers, body = self._probe(path)
            await _respond(send, status, headers, body)
            return
        if path == "/openapi.json" and scope["method"] == "GET" and not admin:
            if self.openapi is None:
                await _respond(send, 503, [*_JSON, (b"retry-after", b"1")], b'{"error":"not_ready"}')
            else:
                await _respond(send, 200, _JSON, self.openapi)
            return
        request_id = caller = groups = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                v = value.decode("latin-1")
                if _REQUEST_ID.match(v):
                    request_id = v
            elif name == self._caller_header:
                v = caller_value(value.decode("latin-1"))
                if _CALLER.match(v):
                    caller = v
            elif name == self._groups_header:
                groups = value.decode("latin-1")
        request_id = request_id or uuid.uuid4().hex
        verified = caller
        caller = caller or "anonymous"
        route = path if path in COUNTED_ROUTES and not admin else "other"
        body = b""
        extra: list[tuple[bytes, bytes]] = []
        try:
            if route == "other":
                status, payload = (
                    404,
                    {"error": "not_found", "message": f"no route {path[:200]}; POST /predict or /invocations"},
                )
            elif scope["method"] != "POST":
                status, payload = 405, {"error": "method_not_allowed", "message": f"{path} takes POST"}
                extra.append((b"allow", b"POST"))
            else:
                status, payload, extra, body = await self._predict(
                    scope, receive, route, request_id, caller, verified, groups
                )
        except Exception as e:
            log.exception("request %s failed", request_id)
            status, payload = (
                500,
                {"error": "internal", "message": f"internal error ({e.__class__.__name__}); request id {request_id}"},
            )
        if isinstance(payload, bytes):
            out = payload
            headers = _JSON
        else:
            if status >= 400:
                payload.setdefault("request_id", request_id)
            out = json.dumps(payload).encode()
            headers = _JSON
        await _respond(send, status, [*headers, (b"x-request-id", request_id.encode()), *extra], out)
        latency = time.perf_counter() - started
        self.metrics.observe(route, status, latency)
        self._log(
            {
                "ts": round(time.time(), 3),
                "request_id": request_id,
                "caller": self._caller_hash(caller),
                "method": scope["method"],
                "route": route,
                "model": self.config.model_name,
                "version": self.config.model_version,
                "status": status,
                "latency_ms": round(latency * 1000, 2),
                "bytes_in": len(body),
                "bytes_out": len(out),
            }
        )
        if self.hooks and status < 500 and body:
            exchange = Exchange(request_id, caller, route, status, latency, body, out)
            for hook in self.hooks:
                try:
                    hook(exchange)
                except Exception:
                    log.exception("prediction hook failed")

    def _caller_hash(self, caller: str) -> str:
        """The caller as the access log holds it: ``anonymous``, or the HMAC of the id (cached, bounded)."""
        if caller == "anonymous":
            return caller
        h = self._caller_hashes.get(caller)
        if h is None:
            if len(self._caller_hashes) >= 10_000:
                self._caller_hashes.clear()
            h = self._caller_hashes[caller] = keyed_hash(self._log_key, caller)
        return h

    def _probe(self, path: str) -> tuple[int, list, bytes]:
        if path in _READY_ROUTES:
            if self.ready and not self.draining:
                return 200, _JSON, b'{"status":"ready"}'
            state = "draining" if self.draining else "failed" if self.failed else "loading"
            return 503, [*_JSON, (b"retry-after", b"1")], json.dumps({"status": state}).encode()
        if path in _LIVE_ROUTES:
            if self.failed:
                return 503, _JSON, json.dumps({"status": "failed", "message": self.failed[:500]}).encode()
            return 200, _JSON, json.dumps({"status": "alive", "ready": self.ready}).encode()
        if path == "/version":
            return (
                200,
                _JSON,
                json.dumps(
                    {
                        "server": _server_version(),
                        "mlflow": self.model.mlflow_version if self.model else None,
                        "model": self.config.model_name,
                        "version": self.config.model_version,
                    }
                ).encode(),
            )
        return 200, _PROMETHEUS, self.metrics.render()

    async def _predict(
        self,
        scope: dict,
        receive: Callable,
        route: str,
        request_id: str,
        caller: str,
        verified: str | None,
        groups: str | None,
    ):
        cfg = self.config
        if not self.ready:
            state = "draining" if self.draining else "failed to load" if self.failed else "loading"
            return 503, {"error": "not_ready", "message": f"the model is {state}"}, [(b"retry-after", b"1")], b""
        if cfg.identity is not None:
            why = cfg.identity.refusal(verified, groups)
            if why:
                return 403, {"error": "forbidden", "message": why}, [], b""
        wait = self.limiter.take(caller)
        if wait:
            return (
                429,
                {
                    "error": "caller_rate_limited",
                    "message": f"caller {caller} is over its limit of {cfg.caller_rate:g} requests/s"
                    f" (burst {cfg.caller_burst})",
                },
                [(b"retry-after", retry_after(wait).encode())],
                b"",
            )
        # The body first, under its own short deadline and a per-caller cap, holding no prediction slot:
        # a caller trickling bodies slows only itself.
        uploading = self.uploads.get(caller, 0)
        if uploading >= cfg.max_uploads_per_caller:
            return (
                429,
                {
                    "error": "too_many_uploads",
                    "message": f"caller {caller} is already sending {uploading} request bodies"
                    f" (at most {cfg.max_uploads_per_caller} at once)",
                },
                [(b"retry-after", b"1")],
                b"",
            )
        self.uploads[caller] = uploading + 1
        try:
            body = await asyncio.wait_for(_read_body(scope, receive, cfg.max_body_bytes), cfg.body_timeout)
        except BadRequest as e:
            # No "Connection: close": closing with the client's body still arriving makes the kernel
            # reset the connection, and the client may see ECONNRESET instead of this answer. Kept
            # open, uvicorn discards the rest of the body after the answer (constant memory; the
            # keep-alive timeout ends a client that never finishes) and the client reads the 413.
            return e.status, {"error": e.code, "message": e.message}, [], b""
        except TimeoutError:
            return (
                408,
                {
                    "error": "request_timeout",
                    "message": f"the request body did not arrive within {cfg.body_timeout:g} s",
                },
                [(b"connection", b"close")],
                b"",
            )
        finally:
            left = self.uploads[caller] - 1
            if left:
                self.uploads[caller] = left
            else:
                del self.uploads[caller]
        if self.in_flight >= cfg.max_concurrency:
            return (
                429,
                {
                    "error": "overloaded",
                    "message": f"this pod is at its limit of {cfg.max_concurrency} concurrent requests",
                },
                [(b"retry-after", b"1")],
                body,
            )
        self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            content_type = _header(scope, b"content-type")
            model = self.model
            assert model is not None
            work = self._run_predict if route == "/predict" else self._run_invocations
            loop = asyncio.get_running_loop()
            try:
                status, payload = await asyncio.wait_for(
                    loop.run_in_executor(self.executor, work, model, body, content_type, request_id),
                    cfg.request_timeout,
                )
            except TimeoutError:
                return (
                    504,
                    {"error": "timeout", "message": f"the prediction took longer than {cfg.request_timeout:g} s"},
                    [],
                    body,
                )
            return status, payload, [], body
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()

    def _run_predict(self, model: LoadedModel, body: bytes, content_type: str | None, request_id: str):
        try:
            rows = parse_predict_body(body, model.n_features)
            predictions = predict_rows(model, rows)
        except BadRequest as e:
            return e.status, {"error": e.code, "message": e.message}
        except (ValueError, TypeError) as e:
            return 422, {"error": "model_rejected_input", "message": _short(str(e))}
        except model.mlflow_exception as e:
            return 422, {"error": "model_rejected_input", "message": _short(e.message)}
        self.metrics.rows.inc(len(rows))
        if self.on_predicted:
            self.on_predicted(rows, predictions)
        answer: dict[str, Any] = {**self._identity, "request_id": request_id, "predictions": predictions}
        if self._labels:
            answer["labels"] = [self._label(p) for p in predictions]
        return 200, answer

    def _run_invocations(self, model: LoadedModel, body: bytes, content_type: str | None, request_id: str):
        if not content_type:
            return 415, {
                "error": "no_content_type",
                "message": "set Content-Type: application/json, text/csv or application/vnd.apache.parquet",
            }
        if content_type.split(";")[0].strip().lower() == "application/json" and needs_json_check(body):
            # MLflow's JSON parsing recurses and converts without bounds: a deeply nested body or a huge
            # integer ends in RecursionError/OverflowError there (a 500). Refused here first, naming why.
            try:
                check_json_input(load_json(body))
            except BadRequest as e:
                return e.status, {"error_code": "BAD_REQUEST", "message": e.message}
        try:
            result = model.invocations(body, content_type, model.pyfunc, model.input_schema)
        except (RecursionError, OverflowError) as e:
            # Raised while MLflow converts the input (a model's own errors arrive as MlflowException).
            return 400, {"error_code": "BAD_REQUEST", "message": _short(f"{e.__class__.__name__}: {e}")}
        except model.mlflow_exception as e:
            status = e.get_http_status_code()
            # MLflow's messages may quote the whole input: keep the start, never the stack trace.
            return status, {"error_code": e.error_code, "message": _short(e.message)}
        except (ValueError, TypeError, KeyError) as e:
            return 400, {"error_code": "BAD_REQUEST", "message": _short(f"{e.__class__.__name__}: {e}")}
        if result.status != 200:
            return result.status, {"error_code": "BAD_REQUEST", "message": _short(str(result.response))}
        return 200, result.response.encode()

    def _label(self, p: Any) -> Any:
        if isinstance(p, int) and 0 <= p < len(self._labels):
            return self._labels[p]
        if isinstance(p, float) and p.is_integer() and 0 <= int(p) < len(self._labels):
            return self._labels[int(p)]
        return None

    def _log(self, record: dict) -> None:
        self._write(json.dumps(record, separators=(",", ":")) + "\n")


def _short(message: str, limit: int = 1000) -> str:
    message = str(message)
    return message if len(message) <= limit else message[:limit] + f"... ({len(message)} characters)"


def _local_port(scope: dict) -> int | None:
    server = scope.get("server")
    return server[1] if server else None


def _header(scope: dict, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


async def _read_body(scope: dict, receive: Callable, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest(400, "bad_content_length", f"Content-Length {declared[:40]!r} is not a number") from None
        if size > limit:
            raise BadRequest(413, "body_too_large", f"the body is {size} bytes; this server accepts at most {limit}")
    chunks = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest(400, "disconnected", "the client went away before the body arrived")
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise BadRequest(413, "body_too_large", f"the body is over {limit} bytes, the most this server accepts")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(send: Callable, status: int, headers: list, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _server_version() -> str:
    from mlflow_platform import __version__

    return __version__
