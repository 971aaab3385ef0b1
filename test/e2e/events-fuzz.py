"""Schema-driven fuzzing of the running registry events service (step 3 of the end-to-end run).

Two passes over the service's own OpenAPI document (``/openapi.json``), both with Schemathesis:

1. **Unsigned**, Schemathesis' command line with every check (``--checks all``), positive and negative
   inputs, its coverage and fuzzing phases: headers, bodies, methods and lengths as anyone on the network
   could send them. Every delivery must be refused with a documented 4xx; nothing may answer 5xx.
2. **Signed**, through Schemathesis' Python API: each generated delivery is signed the way MLflow signs
   (fresh delivery id, current timestamp, HMAC over the exact bytes sent), so it gets past the signature
   check into JSON parsing, the queue and the worker. Every answer must be documented and match its schema.

Prints one JSON object (the figures) on the last line of its output; exit status 1 when any input found a
failure. The signing secret comes from ``MLFLOW_EVENTS_WEBHOOK_SECRET`` (never an argument).
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SECRET_ENV = "MLFLOW_EVENTS_WEBHOOK_SECRET"  # noqa: S105 - the name of the variable, not a secret
WEBHOOK = "/webhooks/mlflow"


def unsigned(base: str, examples: int, run_seed: int, report: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        str(run_seed),
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603 - our own interpreter
    sys.stderr.write(out.stdout[-4000:] + out.stderr[-2000:])
    doc = json.loads(report.read_text())
    cases = doc["test_cases"]
    return {
        "exit_code": out.returncode,
        "operations": doc["operations"]["tested"],
        "inputs": cases["generated"],
        "failures": cases["with_failures"] + cases["errored"],
        "failure_details": [str(f)[:300] for f in doc.get("failures", [])][:5],
        "errors": [str(e)[:300] for e in doc.get("errors", [])][:5],
    }


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    content = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest()).decode()


def signed(base: str, secret: str, examples: int, run_seed: int) -> dict:
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operation = schema[WEBHOOK]["POST"]
    session = requests.Session()
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    figures = {"inputs": 0, "statuses": collections.Counter(), "failures": 0, "failure_details": []}

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @seed(run_seed)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(mode))
        def one(case) -> None:
            kwargs = case.as_transport_kwargs(base_url=base)
            request = requests.Request(
                method=kwargs["method"],
                url=kwargs["url"],
                headers=kwargs.get("headers"),
                params=kwargs.get("params"),
                json=kwargs.get("json"),
                data=kwargs.get("data"),
            )
            prepared = session.prepare_request(request)
            body = prepared.body or b""
            body = body.encode() if isinstance(body, str) else body
            delivery_id, ts = str(uuid.uuid4()), str(int(time.time()))
            prepared.headers["X-MLflow-Delivery-Id"] = delivery_id
            prepared.headers["X-MLflow-Timestamp"] = ts
            prepared.headers["X-MLflow-Signature"] = sign(secret, delivery_id, ts, body)
            response = session.send(prepared, timeout=30)
            figures["inputs"] += 1
            figures["statuses"][response.status_code] += 1
            try:
                case.validate_response(response, checks=checks)
            except Exception as failure:  # noqa: BLE001 - every failed check is counted and shown, the run goes on
                figures["failures"] += 1
                if len(figures["failure_details"]) < 5:
                    figures["failure_details"].append(
                        f"{response.status_code} {response.text[:200]!r}: {str(failure)[:300]}"
                    )

        one()
    figures["statuses"] = {str(k): v for k, v in sorted(figures["statuses"].items())}
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", help="the service's base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--examples", type=int, default=100, help="examples per operation and generation mode")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--report-dir", type=Path, required=True)
    args = p.parse_args()
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        print(f"{SECRET_ENV} is empty: the signed pass needs the webhook secret", file=sys.stderr)
        return 2
    args.report_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    result = {
        "seed": args.seed,
        "unsigned": unsigned(args.base, args.examples, args.seed, args.report_dir / "schemathesis.json"),
        "signed": signed(args.base, secret, args.examples, args.seed),
    }
    result["seconds"] = round(time.time() - started, 1)
    print(json.dumps(result))
    ok = (
        result["unsigned"]["failures"] == 0
        and result["unsigned"]["exit_code"] == 0
        and result["signed"]["failures"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
