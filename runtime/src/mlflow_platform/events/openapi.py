"""The events service's HTTP contract as an OpenAPI 3.1 document (served at ``/openapi.json``).

It is what the end-to-end run's schema-driven fuzzing (Schemathesis) generates requests from and checks
every answer against, and a unit test keeps it true: every route the app serves is documented, every
documented operation exists, and every status the handlers can answer is listed.
"""

from __future__ import annotations

from .signature import DELIVERY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

PATH = "/openapi.json"
WEBHOOK_PATH = "/webhooks/mlflow"

_RESULT = {
    "type": "object",
    "required": ["result"],
    "properties": {"result": {"type": "string"}, "detail": {"type": "string"}},
}


def _result(*values: str) -> dict:
    schema = {**_RESULT, "properties": {**_RESULT["properties"], "result": {"type": "string", "enum": list(values)}}}
    return {"application/json": {"schema": schema}}


def _text(description: str, *values: str) -> dict:
    return {
        "description": description,
        "content": {"text/plain": {"schema": {"type": "string", **({"enum": list(values)} if values else {})}}},
    }


def document(max_body: int) -> dict:
    header = lambda name, description, schema: {  # noqa: E731
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": schema,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mlflow-platform registry events service",
            "version": "1",
            "description": (
                "Receives MLflow's registry webhooks (signed, replay-protected, de-duplicated) and serves probes "
                "and metrics. See docs/registry-events.md."
            ),
        },
        "paths": {
            WEBHOOK_PATH: {
                "post": {
                    "operationId": "receiveDelivery",
                    "summary": "One MLflow webhook delivery: verified, then queued as a hint to compare that object.",
                    "parameters": [
                        header(
                            DELIVERY_ID_HEADER, "Delivery id (de-duplicated).", {"type": "string", "maxLength": 128}
                        ),
                        header(
                            TIMESTAMP_HEADER,
                            "Unix seconds; refused outside the replay window.",
                            {"type": "string", "pattern": "^[0-9]{1,12}$"},
                        ),
                        header(
                            SIGNATURE_HEADER,
                            'v1,<base64 HMAC-SHA256 of "{delivery id}.{timestamp}.{raw body}">',
                            {"type": "string", "pattern": "^v1,"},
                        ),
                    ],
                    "requestBody": {
                        "required": True,
                        "description": f"MLflow's delivery; at most {max_body} bytes.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["entity", "action", "data"],
                                    "properties": {
                                        "entity": {"type": "string"},
                                        "action": {"type": "string"},
                                        "timestamp": {"type": "string"},
                                        "data": {"type": "object"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {"description": "Accepted and queued.", "content": _result("accepted")},
                        "400": {
                            "description": "Not a delivery (a JSON object with entity, action and data), or a "
                            "Content-Length that is not a number.",
                            "content": _result("malformed"),
                        },
                        "401": {
                            "description": "Missing or malformed signature headers, a signature that does not "
                            "match the body, or a timestamp outside the replay window.",
                            "content": _result("malformed", "bad_signature", "stale"),
                        },
                        "409": {
                            "description": "A delivery id seen before (a replay).",
                            "content": _result("duplicate"),
                        },
                        "413": {
                            "description": f"Declared or sent body larger than {max_body} bytes (refused while "
                            "reading).",
                            "content": _result("too_large"),
                        },
                        "503": {
                            "description": "The queue is full; MLflow retries, and reconciliation finds the change "
                            "anyway.",
                            "content": _result("busy"),
                        },
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness: the worker thread is alive.",
                    "responses": {
                        "200": _text("Alive.", "ok"),
                        "503": _text("The worker thread stopped.", "worker stopped"),
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "summary": "Readiness: the webhook is declared and one reconciliation pass succeeded.",
                    "responses": {"200": _text("Ready.", "ready"), "503": _text("Starting.", "starting")},
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format).",
                    "responses": {"200": _text("The metrics.")},
                }
            },
            PATH: {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
    }
