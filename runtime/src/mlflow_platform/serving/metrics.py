"""Prometheus metrics of the model server (one process per pod: no multiprocess mode needed)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

#: Routes counted by name; anything else is counted as "other" (bounded label cardinality).
COUNTED_ROUTES = ("/predict", "/invocations")
#: Buckets in seconds: sub-millisecond to the request timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, model: str, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        labels = ("model", "version", "route")
        self.requests = Counter(
            "model_server_requests",
            "Requests answered, by model, version, route and HTTP status (probes and scrapes not counted).",
            (*labels, "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "model_server_request_duration_seconds",
            "Time from the request's arrival to the end of the response, by model, version and route.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "model_server_in_flight_requests",
            "Requests admitted and not yet answered, in this pod.",
            ("model", "version"),
            registry=self.registry,
        ).labels(model, version)
        self.ready = Gauge(
            "model_server_ready",
            "1 once the model is loaded and the pod accepts traffic.",
            ("model", "version"),
            registry=self.registry,
        ).labels(model, version)
        self.rows = Counter(
            "model_server_predicted_rows", "Rows predicted.", ("model", "version"), registry=self.registry
        ).labels(model, version)
        self._model = model
        self._version = version
        self._counters: dict[tuple[str, int], object] = {}
        self._histograms = {r: self.latency.labels(model, version, r) for r in (*COUNTED_ROUTES, "other")}

    def observe(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = self.requests.labels(self._model, self._version, route, str(status))
        child.inc()  # type: ignore[attr-defined]
        self._histograms[route].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
