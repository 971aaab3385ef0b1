"""The HTTP service: webhook receiver, reconciliation loop, notifier, /metrics, /healthz, /readyz.

One worker thread does all registry reads, state writes and notifications, in order: the webhook
handler only verifies and queues, so MLflow's delivery (30 s timeout) never waits on Slack or SMTP.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import OrderedDict

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mlflow_platform import notify

from . import openapi
from .engine import Engine, Registry
from .model import Event
from .settings import Settings
from .signature import SignatureError, verify

WEBHOOK_PATH = openapi.WEBHOOK_PATH
DESCRIPTION = "Managed by the mlflow-platform registry events service; overwritten at its every start."
#: Largest delivery body accepted (MLflow's payloads are a few hundred bytes).
MAX_BODY = 256 * 1024

log = logging.getLogger("mlflow_platform.events")


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        p = "mlflow_events_"
        self.deliveries = Counter(
            p + "webhook_deliveries", "Webhook deliveries received, by result.", ["result"], registry=r
        )
        self.events = Counter(
            p + "emitted",
            "Registry events emitted, by kind and by the path that saw them first.",
            ["kind", "source"],
            registry=r,
        )
        self.notifications = Counter(
            p + "notifications", "Messages to channels, by channel and result.", ["channel", "result"], registry=r
        )
        self.reconciles = Counter(p + "reconcile_runs", "Reconciliation passes, by result.", ["result"], registry=r)
        self.last_reconcile = Gauge(
            p + "reconcile_last_success_timestamp_seconds", "When the last reconciliation pass succeeded.", registry=r
        )
        self.reconcile_duration = Histogram(
            p + "reconcile_duration_seconds",
            "Duration of a reconciliation pass.",
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.latency = Histogram(
            p + "notification_delay_seconds",
            "From the registry change to the notification, by path.",
            ["source"],
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
        )
        self.queue = Gauge(p + "queue_depth", "Deliveries waiting for the worker.", registry=r)
        self.webhook_registered = Gauge(
            p + "webhook_registered", "1 once the declared webhook exists in MLflow as configured.", registry=r
        )
        self.state_rejected = Counter(
            p + "state_rejected",
            "State tags not written by this service (removed, forged, another object's, an older value put back), "
            "by reason: the service compared against what it notified instead.",
            ["reason"],
            registry=r,
        )
        self.interval = Gauge(
            p + "reconcile_interval_seconds", "Configured time between reconciliation passes.", registry=r
        )


class Dispatcher:
    """Routes an event to the channels configured for its kind, with retries. Each channel fails alone:
    a channel that keeps failing becomes a ``delivery.failed`` event on the other channels, and is not
    tried again for the rest of the current unit of work (one reconciliation pass, one webhook), so a
    channel that is down costs one retry cycle per pass, not one per owed message."""

    def __init__(self, settings: Settings, metrics: Metrics, sender=notify.send, sleep=time.sleep) -> None:
        self.settings = settings
        self.metrics = metrics
        self.sender = sender
        self.sleep = sleep
        self.channels = {c.name: c for c in settings.channels}
        #: Channels that failed during the current unit of work: (attempts, error).
        self.down: dict[str, tuple[int, str]] = {}

    def new_pass(self) -> None:
        self.down.clear()

    def routes(self, event: Event) -> list[str]:
        return [c.name for c in self.settings.channels if event.kind in c.events]

    def configured(self, channel: str) -> bool:
        return channel in self.channels

    def emitted(self, event: Event) -> None:
        self.metrics.events.labels(event.kind, event.source).inc()
        log.info(
            "event",
            extra={
                "fields": {
                    "kind": event.kind,
                    "model": event.model,
                    "version": event.version,
                    "source": event.source,
                    "detail": event.detail,
                }
            },
        )

    def deliver(self, channel: str, event: Event) -> tuple[bool, int, str]:
        """One event to one channel, with the configured retries; counted as sent or failed. Never raises."""
        if channel in self.down:
            attempts, error = self.down[channel]
            self.metrics.notifications.labels(channel, "failed").inc()
            return False, attempts, error
        ok, attempts, error = notify.deliver(
            self.channels[channel],
            event,
            self.settings.retry_attempts,
            self.settings.retry_backoff_seconds,
            self.sender,
            self.sleep,
        )
        self.metrics.notifications.labels(channel, "sent" if ok else "failed").inc()
        if ok:
            if event.changed_at:
                self.metrics.latency.labels(event.source).observe(max(0.0, time.time() - event.changed_at))
        else:
            self.down[channel] = (attempts, error)
            log.error(
                "delivery failed",
                extra={"fields": {"channel": channel, "kind": event.kind, "attempts": attempts, "error": error}},
            )
        return ok, attempts, error

    def failed(self, event: Event, channel: str, attempts: int, error: str) -> None:
        """Reports a channel's failure to deliver ``event`` on the other channels (never on itself, and a
        failure report's own failure is not reported: no loops)."""
        if event.kind == "delivery.failed":
            return
        report = Event(
            "delivery.failed",
            event.model,
            event.version,
            {"channel": channel, "attempts": attempts, "error": error, "failed_event": event.summary()},
            event.source,
        )
        self.metrics.events.labels(report.kind, report.source).inc()
        for other in self.routes(report):
            if other != channel:
                self.deliver(other, report)

    def dispatch(self, event: Event) -> None:
        """An event that is not about a registry object (``service.behind``): sent once, not recorded."""
        self.emitted(event)
        for channel in self.routes(event):
            ok, attempts, error = self.deliver(channel, event)
            if not ok:
                self.failed(event, channel, attempts, error)


class Service:
    def __init__(self, settings: Settings, client, sender=notify.send, sleep=time.sleep) -> None:
        self.settings = settings
        self.client = client
        self.metrics = Metrics()
        self.metrics.interval.set(settings.reconcile_seconds)
        self.dispatcher = Dispatcher(settings, self.metrics, sender, sleep)
        self.engine = Engine(
            settings,
            Registry(client),
            self.dispatcher,
            on_rejected_state=lambda reason: self.metrics.state_rejected.labels(reason).inc(),
        )
        self.queue: queue.Queue = queue.Queue(maxsize=10000)
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.seen_lock = threading.Lock()
        self.stopping = threading.Event()
        self.webhook_ready = False
        self.reconciled_once = False
        self.behind_reported = False
        self.last_success = time.time()
        self.thread: threading.Thread | None = None

    # ── webhook registration (declared in configuration, never by hand) ──
    def ensure_webhook(self) -> str:
        """Creates the declared webhook, or updates it to match (URL, events, secret, active). Idempotent."""
        s = self.settings
        existing = None
        token = None
        while True:
            page = self.client.list_webhooks(max_results=100, page_token=token)
            for w in page:
                if w.name == s.webhook_name:
                    existing = w
            token = page.token
            if not token:
                break
        if existing is None:
            w = self.client.create_webhook(
                name=s.webhook_name,
                url=s.webhook_url,
                events=list(s.webhook_events),
                description=DESCRIPTION,
                secret=s.webhook_secret,
                status="ACTIVE",
            )
            action = "created"
        else:
            # The secret cannot be read back: set it on every start (it may have been rotated).
            w = self.client.update_webhook(
                existing.webhook_id,
                url=s.webhook_url,
                events=list(s.webhook_events),
                secret=s.webhook_secret,
                status="ACTIVE",
            )
            action = "updated"
        self.metrics.webhook_registered.set(1)
        self.webhook_ready = True
        log.info(
            "webhook " + action,
            extra={
                "fields": {
                    "name": s.webhook_name,
                    "id": w.webhook_id,
                    "url": s.webhook_url,
                    "events": list(s.webhook_events),
                }
            },
        )
        return action

    # ── receiving ──
    def receive(self, headers, body: bytes, now: float | None = None) -> tuple[int, str]:
        now = time.time() if now is None else now
        try:
            delivery_id, _ = verify(
                self.settings.webhook_secret, headers, body, now, self.settings.replay_window_seconds
            )
        except SignatureError as e:
            self.metrics.deliveries.labels(e.reason).inc()
            log.warning("delivery refused", extra={"fields": {"reason": e.reason, "detail": str(e)}})
            return 401, e.reason
        with self.seen_lock:
            horizon = now - 2 * self.settings.replay_window_seconds
            while self.seen and next(iter(self.seen.values())) < horizon:
                self.seen.popitem(last=False)
            if delivery_id in self.seen:
                self.metrics.deliveries.labels("duplicate").inc()
                log.warning("delivery refused", extra={"fields": {"reason": "duplicate", "delivery_id": delivery_id}})
                return 409, "duplicate"
            self.seen[delivery_id] = now
        try:
            payload = json.loads(body)
        except ValueError:
            self.metrics.deliveries.labels("malformed").inc()
            return 400, "malformed"
        if not well_formed(payload):
            self.metrics.deliveries.labels("malformed").inc()
            return 400, "malformed"
        try:
            self.queue.put_nowait(("webhook", payload))
        except queue.Full:
            # Reconciliation will find it: refusing with 503 lets MLflow retry meanwhile.
            self.metrics.deliveries.labels("queue_full").inc()
            with self.seen_lock:
                self.seen.pop(delivery_id, None)
            return 503, "busy"
        self.metrics.queue.set(self.queue.qsize())
        self.metrics.deliveries.labels("accepted").inc()
        return 202, "accepted"

    # ── the worker ──
    def reconcile_once(self) -> int:
        started = time.time()
        self.dispatcher.new_pass()
        try:
            n = self.engine.reconcile_all()
        except Exception as e:  # noqa: BLE001 - any failure of a pass is reported and retried
            self.metrics.reconciles.labels("error").inc()
            log.error("reconciliation failed", extra={"fields": {"error": f"{type(e).__name__}: {str(e)[:300]}"}})
            since = time.strftime("%H:%M:%S", time.gmtime(self.last_success))
            self._check_behind(f"reconciliation failing since {since} UTC: {type(e).__name__}")
            return -1
        duration = time.time() - started
        self.metrics.reconcile_duration.observe(duration)
        self.metrics.reconciles.labels("ok").inc()
        self.metrics.last_reconcile.set(time.time())
        self.last_success = time.time()
        self.reconciled_once = True
        if duration > self.settings.behind_seconds:
            self._check_behind(f"one reconciliation pass took {duration:.0f} s", force=True)
        elif self.behind_reported:
            self.behind_reported = False
        return n

    def _check_behind(self, reason: str, force: bool = False) -> None:
        """Reports ``service.behind`` once per episode: reconciliation failing for longer than
        ``behind_seconds``, or one pass taking longer than that."""
        if not force and time.time() - self.last_success < self.settings.behind_seconds:
            return
        if not self.behind_reported:
            self.behind_reported = True
            self.dispatcher.new_pass()
            self.dispatcher.dispatch(Event("service.behind", "-", None, {"reason": reason}, "reconcile"))

    def run(self) -> None:
        next_reconcile = 0.0
        while not self.stopping.is_set():
            if not self.webhook_ready:
                try:
                    self.ensure_webhook()
                except Exception as e:  # noqa: BLE001 - the tracking server may not be up yet: retry
                    log.error(
                        "webhook registration failed; retrying",
                        extra={"fields": {"error": f"{type(e).__name__}: {str(e)[:300]}"}},
                    )
                    self.stopping.wait(min(5.0, self.settings.reconcile_seconds))
                    continue
            now = time.time()
            if now >= next_reconcile:
                self.reconcile_once()
                next_reconcile = time.time() + self.settings.reconcile_seconds
                continue
            try:
                _, payload = self.queue.get(timeout=max(0.0, min(1.0, next_reconcile - now)))
            except queue.Empty:
                continue
            self.metrics.queue.set(self.queue.qsize())
            self.dispatcher.new_pass()
            try:
                self.engine.on_webhook(payload)
            except Exception as e:  # noqa: BLE001 - the next reconciliation compares this object again
                # Reconciliation will compare this object again.
                log.error(
                    "webhook processing failed", extra={"fields": {"error": f"{type(e).__name__}: {str(e)[:300]}"}}
                )

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="events-worker", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout)

    # ── HTTP ──
    def app(self) -> Starlette:
        async def webhook(request: Request) -> Response:
            body, refusal = await read_limited(request, MAX_BODY)
            if refusal is not None:
                self.metrics.deliveries.labels(refusal[1]).inc()
                return JSONResponse({"result": refusal[1], "detail": refusal[2]}, status_code=refusal[0])
            status, result = self.receive(request.headers, body)
            return JSONResponse({"result": result}, status_code=status)

        async def openapi_document(_: Request) -> Response:
            return JSONResponse(openapi.document(MAX_BODY))

        async def healthz(_: Request) -> Response:
            alive = self.thread is not None and self.thread.is_alive()
            return PlainTextResponse("ok" if alive else "worker stopped", status_code=200 if alive else 503)

        async def readyz(_: Request) -> Response:
            ready = self.webhook_ready and self.reconciled_once
            return PlainTextResponse("ready" if ready else "starting", status_code=200 if ready else 503)

        async def metrics(_: Request) -> Response:
            return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        return Starlette(
            routes=[
                Route(WEBHOOK_PATH, webhook, methods=["POST"]),
                Route("/healthz", healthz),
                Route("/readyz", readyz),
                Route("/metrics", metrics),
                Route(openapi.PATH, openapi_document),
            ]
        )


def well_formed(payload) -> bool:
    """MLflow's delivery shape (mlflow/webhooks/delivery.py): ``{"entity": str, "action": str, "data": {...},
    "timestamp": str}``. Anything else is refused as malformed, even when signed."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("entity"), str)
        and isinstance(payload.get("action"), str)
        and isinstance(payload.get("data"), dict)
        and isinstance(payload.get("timestamp", ""), str)
    )


async def read_limited(request: Request, limit: int) -> tuple[bytes, tuple[int, str, str] | None]:
    """The request body, read no further than ``limit`` bytes: ``(body, None)``, or ``(b"", (status,
    result, detail))`` as soon as the declared length or the bytes received so far exceed the limit. A
    sender never makes the service hold more than ``limit`` bytes (plus one chunk) of its body."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 18:
            return b"", (400, "malformed", "Content-Length is not a number")
        if int(declared) > limit:
            return b"", (413, "too_large", f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return b"", (413, "too_large", f"the body is larger than {limit} bytes")
    return bytes(body), None
