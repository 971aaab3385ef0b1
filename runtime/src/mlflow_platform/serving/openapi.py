"""The model server's OpenAPI 3.1 document: the contract application teams code against.

Generated from the model's input signature (MLflow ``Schema``: columns or one tensor) where there is
one, so the request schemas name the model's features and their types; without a signature a row is
any list of numbers. The same function writes ``openapi.json`` into the image's build context
(context.py, without the server's limits) and serves ``GET /openapi.json`` (app.py, with them). The
end-to-end run fuzzes the running server against the served document (Schemathesis) and the unit tests
validate real answers against it.

What it describes: ``POST /predict`` (the platform's call), ``POST /invocations`` in each of MLflow's
JSON formats (``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``) and CSV, every
error status with its body, the ``X-Request-Id`` and ``Retry-After`` headers, the limits
(``x-limits``), and the bearer token the gateway in front requires.
"""

from __future__ import annotations

from typing import Any

#: MLflow column types -> JSON Schema of one value.
_COLUMN_TYPES: dict[str, dict] = {
    "double": {"type": "number"},
    "float": {"type": "number"},
    "long": {"type": "integer"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "binary": {"type": "string", "contentEncoding": "base64"},
    "datetime": {"type": "string"},
}
_NUMBER = {"type": "number"}
_REQUEST_ID = {
    "description": "The request's id: the caller's X-Request-Id when it is a plain token, else a new one.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


def _value_schema(spec: Any) -> dict:
    t = getattr(spec, "type", None)
    name = getattr(t, "name", None) or str(t)
    if name in _COLUMN_TYPES:
        return dict(_COLUMN_TYPES[name])
    kind = getattr(t, "kind", None)  # numpy dtype of a TensorSpec
    if kind in ("f",):
        return dict(_NUMBER)
    if kind in ("i", "u"):
        return {"type": "integer"}
    if kind == "b":
        return {"type": "boolean"}
    if kind in ("U", "S", "O"):
        return {"type": "string"}
    return {}


def _inputs(schema: Any) -> tuple[list[tuple[str, dict]] | None, int | None, dict]:
    """(named columns with value schemas, or None; features per row, or None; the schema of one value)."""
    if schema is None:
        return None, None, dict(_NUMBER)
    inputs = list(getattr(schema, "inputs", []) or [])
    if schema.is_tensor_spec():
        if len(inputs) == 1:
            shape = tuple(inputs[0].shape)
            n = int(shape[-1]) if len(shape) == 2 and shape[-1] > 0 else None
            return None, n, _value_schema(inputs[0]) or dict(_NUMBER)
        return None, None, {}
    if schema.has_input_names():
        cols = [(c.name, _value_schema(c)) for c in inputs]
        return cols, len(cols), {}
    return None, len(inputs) or None, {}


def _error(kind: str) -> dict:
    if kind == "mlflow":
        return {
            "type": "object",
            "required": ["error_code", "message"],
            "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
        }
    return {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "A stable code, e.g. not_json, wrong_feature_count."},
            "message": {"type": "string", "description": "What is wrong and how to fix it."},
            "request_id": {"type": "string"},
        },
    }


def _responses(ok: dict, mlflow_errors: bool) -> dict:
    platform = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    if mlflow_errors:
        # MLflow's parser answers {error_code, message}; the server's own checks {error, message}.
        either = {"anyOf": [{"$ref": "#/components/schemas/MlflowError"}, {"$ref": "#/components/schemas/Error"}]}
        platform = {"application/json": {"schema": either}}
    err = platform
    rid = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    retry = {**rid, "Retry-After": {"$ref": "#/components/headers/Retry-After"}}

    def r(description: str, content: dict, headers: dict | None = None) -> dict:
        return {"description": description, "headers": headers or rid, "content": content}

    out = {
        "200": r("The predictions, one per row.", ok),
        "400": r("The body is malformed (not JSON, nested too deeply, not in a known format).", err),
        "403": r("No verified identity from an allowed e-mail domain or group.", platform),
        "404": r("No such route.", platform),
        "405": r("Only POST.", platform, {**rid, "Allow": {"schema": {"type": "string"}}}),
        "408": r("The body did not arrive within the body deadline.", platform),
        "413": r("The body is larger than the server accepts.", platform),
        "422": r("Well-formed, but not what the model takes (wrong features, not a number).", err),
        "429": r(
            "The caller is over its rate or upload limit, or the pod is at its concurrency limit.", platform, retry
        ),
        "500": r("A fault of the server or the model (never a malformed input).", platform),
        "503": r("The model is loading or the pod is draining.", platform, retry),
        "504": r("The prediction took longer than the request deadline.", platform),
    }
    if mlflow_errors:
        out["415"] = r("No or an unsupported Content-Type.", err)
    return out


def document(
    schema: Any, config: Any = None, *, model_name: str | None = None, model_version: str | None = None
) -> dict:
    """The OpenAPI 3.1 document of a server for a model with input ``schema`` (MLflow ``Schema`` or None).

    ``config`` (app.ServerConfig) adds the limits and names; without it (the build context) the document
    describes the contract alone.
    """
    name = getattr(config, "model_name", None) or model_name or "model"
    version = getattr(config, "model_version", None) or model_version or "0"
    columns, n, value = _inputs(schema)
    if columns is not None:
        row: dict = {
            "type": "array",
            "prefixItems": [{**v, "title": c} for c, v in columns],
            "minItems": len(columns),
            "maxItems": len(columns),
            "items": False,
        }
        record: dict = {
            "type": "object",
            "properties": {c: v for c, v in columns},
            "required": [c for c, _ in columns],
        }
    else:
        row = {"type": "array", "items": value or {}}
        if n is not None:
            row.update(minItems=n, maxItems=n)
        record = {"type": "object", "additionalProperties": value or {}}
        if n is not None:
            record.update(minProperties=n, maxProperties=n)
    # /predict takes numbers only (the platform's call); bool is not a number there.
    predict_row: dict = {"type": "array", "items": {"type": "number"}}
    if n is not None:
        predict_row.update(minItems=n, maxItems=n)
    rows = {"type": "array", "minItems": 1, "items": row}
    schemas = {
        "Row": predict_row,
        "PredictRequest": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "description": "One row of features, or a list of rows.",
                    "oneOf": [
                        {**predict_row, "minItems": max(1, n or 1)},
                        {"type": "array", "minItems": 1, "items": predict_row},
                    ],
                },
                "context": {
                    "type": "object",
                    "description": "Fields beside the features that the inference log may record "
                    "(by configuration, obfuscated).",
                },
            },
        },
        "PredictResponse": {
            "type": "object",
            "required": ["model", "version", "request_id", "predictions"],
            "properties": {
                "model": {"type": "string", "const": name},
                "version": {"type": "string", "const": str(version)},
                "request_id": {"type": "string"},
                "predictions": {"type": "array"},
                "labels": {"type": "array", "items": {"type": ["string", "null"]}},
            },
        },
        "InvocationsRequest": {
            "description": "MLflow's scoring protocol (one of its JSON formats).",
            "oneOf": [
                {
                    "type": "object",
                    "title": "dataframe_split",
                    "required": ["dataframe_split"],
                    "properties": {
                        "dataframe_split": {
                            "type": "object",
                            "required": ["data"],
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": rows,
                            },
                        },
                        "params": {"type": "object"},
                    },
                },
                {
                    "type": "object",
                    "title": "dataframe_records",
                    "required": ["dataframe_records"],
                    "properties": {
                        "dataframe_records": {"type": "array", "minItems": 1, "items": record},
                        "params": {"type": "object"},
                    },
                },
                {
                    "type": "object",
                    "title": "instances",
                    "required": ["instances"],
                    "properties": {"instances": rows, "params": {"type": "object"}},
                },
                {
                    "type": "object",
                    "title": "inputs",
                    "required": ["inputs"],
                    "properties": {"inputs": rows, "params": {"type": "object"}},
                },
            ],
        },
        "InvocationsResponse": {
            "type": "object",
            "required": ["predictions"],
            "properties": {"predictions": {}},
        },
        "Error": _error("platform"),
        "MlflowError": _error("mlflow"),
    }
    limits = {}
    if config is not None:
        limits = {
            "maxBodyBytes": config.max_body_bytes,
            "bodyTimeoutSeconds": config.body_timeout,
            "requestTimeoutSeconds": config.request_timeout,
            "callerRatePerSecond": config.caller_rate,
            "callerBurst": config.caller_burst,
            "maxUploadsPerCaller": config.max_uploads_per_caller,
            "maxConcurrencyPerPod": config.max_concurrency,
        }
    features = [c for c, _ in columns] if columns else None
    doc: dict = {
        "openapi": "3.1.0",
        "info": {
            "title": f"{name} model server",
            "version": str(version),
            "description": (
                f"Predictions of the registered model {name}, version {version}. Through the platform's "
                "gateway every call needs `Authorization: Bearer <OIDC token>` of the platform's issuer; the "
                "gateway passes the verified identity on. Every malformed input is answered with a 4xx "
                "naming the problem."
                + (f" Features, in order: {', '.join(features)}." if features else "")
                + (f" A row has {n} features." if n and not features else "")
            ),
        },
        "paths": {
            "/predict": {
                "post": {
                    "operationId": "predict",
                    "summary": "Predict one row or a list of rows (the platform's call).",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
                    },
                    "responses": _responses(
                        {"application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}},
                        False,
                    ),
                }
            },
            "/invocations": {
                "post": {
                    "operationId": "invocations",
                    "summary": "MLflow's scoring protocol (dataframe_split, dataframe_records, instances, "
                    "inputs; CSV).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/InvocationsRequest"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": _responses(
                        {"application/json": {"schema": {"$ref": "#/components/schemas/InvocationsResponse"}}},
                        True,
                    ),
                }
            },
            "/readyz": _readiness("readyz", "Readiness: 200 once the model is loaded; 503 while loading or draining."),
            "/ping": _readiness(
                "ping", "Readiness, as MLflow's scoring protocol names it: the same answer as /readyz."
            ),
            "/version": {
                "get": {
                    "operationId": "version",
                    "summary": "Server, MLflow, model name and version.",
                    "responses": {
                        "200": {
                            "description": "Versions.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["server", "model", "version"],
                                        "properties": {
                                            "server": {"type": "string"},
                                            "mlflow": {"type": ["string", "null"]},
                                            "model": {"type": "string"},
                                            "version": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": schemas,
            "headers": {"X-Request-Id": _REQUEST_ID, "Retry-After": _RETRY_AFTER},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An OIDC token of the platform's issuer (checked by the gateway in front).",
                }
            },
        },
        "security": [{"bearer": []}],
    }
    if limits:
        doc["info"]["x-limits"] = limits
    return doc


def _readiness(operation_id: str, summary: str) -> dict:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "responses": {
                "200": {
                    "description": "Ready.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "503": {
                    "description": "Not ready.",
                    "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            },
        }
    }
