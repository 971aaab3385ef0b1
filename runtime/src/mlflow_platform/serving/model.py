"""The loaded model and the two ways of calling it: the workflow's ``/predict`` and MLflow's ``/invocations``.

MLflow (and numpy/pandas) are imported only in :func:`load`, which runs in a background thread, so the
server binds its port at once and answers ``/readyz`` (and ``/ping``) with 503 until the model is loaded.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from mlflow_platform.common.errors import BadInput


class BadRequest(BadInput):
    """Bad input in a request: answered with ``status`` (a 4xx), ``code`` and the message, never a 500."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class LoadedModel:
    """A pyfunc model and what the hot path needs to know about its input."""

    pyfunc: Any
    input_schema: Any
    #: Number of features a row must have (from the signature), or None when the model has no signature.
    n_features: int | None
    #: Column names when the signature is column-based (rows are then passed as a DataFrame).
    columns: list[str] | None
    #: numpy dtype the signature asks for (tensor signatures), or float64.
    dtype: Any
    np: Any
    pd: Any
    mlflow_version: str
    invocations: Any
    mlflow_exception: type
    feature_names: list[str] = field(default_factory=list)


def load(model_dir: str) -> LoadedModel:
    """Loads the model with MLflow's pyfunc loader and reads its signature."""
    import numpy as np
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import load_model, scoring_server
    from mlflow.types.schema import TensorSpec
    from mlflow.version import VERSION

    pyfunc = load_model(model_dir)
    schema = pyfunc.metadata.get_input_schema()
    n_features = columns = None
    dtype = np.float64
    names: list[str] = []
    if schema is not None:
        inputs = schema.inputs
        if schema.is_tensor_spec() and len(inputs) == 1 and isinstance(inputs[0], TensorSpec):
            shape = inputs[0].shape
            if len(shape) == 2 and shape[-1] > 0:
                n_features = int(shape[-1])
            dtype = inputs[0].type
        elif not schema.is_tensor_spec() and schema.has_input_names():
            columns = list(schema.input_names())
            n_features = len(columns)
            names = columns
    return LoadedModel(
        pyfunc=pyfunc,
        input_schema=schema,
        n_features=n_features,
        columns=columns,
        dtype=dtype,
        np=np,
        pd=pd,
        mlflow_version=VERSION,
        invocations=scoring_server.invocations,
        mlflow_exception=MlflowException,
        feature_names=names,
    )


#: Deepest nesting of JSON arrays/objects accepted on /invocations (MLflow's inputs are tables or tensors:
#: a handful of levels). Deeper bodies are refused before any parser recurses into them.
MAX_JSON_DEPTH = 32
#: Largest integer magnitude accepted in a body: what a float64 can hold. A larger integer (JSON numbers
#: have no limit) would overflow in numpy or pandas (OverflowError, a 500 before this check).
_MAX_INT = 2**1023


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    text = json.dumps(value) if not isinstance(value, int) or abs(value) < 10**30 else f"{str(value)[:20]}..."
    return text if len(text) <= 40 else text[:37] + "..."


def load_json(body: bytes) -> Any:
    """``body`` parsed as JSON, or :class:`BadRequest` naming the problem (never another exception): not
    JSON, not UTF-8, nested too deeply for the parser."""
    try:
        return json.loads(body)
    except RecursionError:
        raise BadRequest(400, "too_deep", "the body is nested too deeply to parse") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(400, "not_json", f"the body is not JSON ({e.__class__.__name__}: {str(e)[:120]})") from None


_LONG_DIGITS = re.compile(rb"\d{308}")  # an integer of at least 2**1023 has 308 digits or more


def needs_json_check(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether :func:`check_json_input` can refuse ``body``: only with more than ``max_depth`` brackets or a
    run of 308 digits. Two scans in C, so the usual small body is never parsed twice."""
    return body.count(b"[") + body.count(b"{") > max_depth or _LONG_DIGITS.search(body) is not None


def check_json_input(doc: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuses (:class:`BadRequest`) a parsed body MLflow's parsers would fail on with a server error:
    nesting deeper than ``max_depth``, an integer no float can hold. (NaN stays: MLflow reads it as a
    missing value.) Iterative: a hostile body cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            if depth > max_depth:
                raise BadRequest(400, "too_deep", f"the body nests arrays/objects deeper than {max_depth} levels")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items if isinstance(v, (list, dict, int)))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _MAX_INT:
            raise BadRequest(422, "number_too_large", f"an integer of {len(str(abs(value)))} digits is out of range")


def parse_predict_body(body: bytes, n_features: int | None) -> list[list[float]]:
    """``{"data": [f1, f2, ...]}`` (one row) or ``{"data": [[...], [...]]}`` (rows) -> rows of numbers.

    Every problem raises :class:`BadRequest` naming it: not JSON, no ``data``, a row of the wrong length,
    anything but a finite number where a feature belongs.
    """
    doc = load_json(body)
    if not isinstance(doc, dict) or "data" not in doc:
        raise BadRequest(
            400, "missing_data", 'expected a JSON object {"data": [...]}: one row of numbers or a list of rows'
        )
    data = doc["data"]
    if not isinstance(data, list) or not data:
        raise BadRequest(400, "bad_data", '"data" must be a non-empty list: one row of numbers or a list of rows')
    rows = data if isinstance(data[0], list) else [data]
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise BadRequest(422, "bad_row", f"row {i} is {_describe(row)}; expected a list of numbers")
        if n_features is not None and len(row) != n_features:
            raise BadRequest(
                422, "wrong_feature_count", f"row {i} has {len(row)} features; the model expects {n_features}"
            )
        for j, v in enumerate(row):
            # bool is an int in Python; a feature is never true/false.
            if type(v) is float:
                if not math.isfinite(v):
                    raise BadRequest(422, "not_a_number", f"row {i}, feature {j}: {v} is not a finite number")
            elif type(v) is int:
                if abs(v) >= _MAX_INT:
                    raise BadRequest(
                        422,
                        "number_too_large",
                        f"row {i}, feature {j}: an integer of {len(str(abs(v)))} digits is out of range",
                    )
            elif isinstance(v, (list, dict)):
                raise BadRequest(422, "not_a_number", f"row {i}, feature {j} is {_describe(v)}; expected a number")
            else:
                kind = "a string" if isinstance(v, str) else "null" if v is None else f"a {type(v).__name__}"
                raise BadRequest(
                    422, "not_a_number", f"row {i}, feature {j}: {_describe(v)} is {kind}; expected a number"
                )
    return rows


def predict_rows(model: LoadedModel, rows: list[list[float]]) -> list[Any]:
    """Runs the model on rows already checked by :func:`parse_predict_body`; returns JSON-able predictions."""
    np = model.np
    x = np.asarray(rows, dtype=model.dtype)
    if model.columns is not None:
        x = model.pd.DataFrame(x, columns=model.columns)
    out = model.pyfunc.predict(x)
    if hasattr(out, "tolist"):
        return out.tolist()
    if hasattr(out, "to_dict"):
        return out.to_dict(orient="records")
    return list(out)
