"""``mlflow-platform serve smoke``: the release smoke test of a model endpoint.

Sends the workflow's call (``POST /predict {"data": [...]}``) to a model server and checks the answer:
status 200, the expected model version and, when given, the expected label. Argo Rollouts runs it as the
pre-promotion Job against the preview Service (exit 0 = the metric passed); a release pipeline can run it,
or import :func:`smoke`, against any URL. Standard library only, so it runs in the model's own image.
Prints one JSON line with the outcome; never prints request headers.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

from mlflow_platform.common.command import ArgumentParser
from mlflow_platform.common.errors import BadInput, ExitCode


@dataclass
class SmokeResult:
    ok: bool
    url: str
    attempts: int
    status: int | None = None
    version: str | None = None
    labels: list | None = None
    problems: list[str] = field(default_factory=list)
    latency_ms: float | None = None


def _check(status: int, body: bytes, expect_version: str | None, expect_label: str | None) -> tuple[list[str], dict]:
    problems: list[str] = []
    try:
        doc = json.loads(body)
    except ValueError:
        return [f"answer {status} is not JSON: {body[:200]!r}"], {}
    if status != 200:
        problems.append(f"status {status}, expected 200: {str(doc)[:200]}")
        return problems, doc if isinstance(doc, dict) else {}
    if not isinstance(doc, dict):
        return [f"answer is not a JSON object: {str(doc)[:200]}"], {}
    if expect_version is not None and str(doc.get("version")) != expect_version:
        problems.append(f"the answer names version {doc.get('version')!r}, expected {expect_version!r}")
    if not isinstance(doc.get("predictions"), list) or not doc["predictions"]:
        problems.append("the answer has no predictions")
    if expect_label is not None and (doc.get("labels") or [None])[0] != expect_label:
        problems.append(f"the answer's label is {(doc.get('labels') or [None])[0]!r}, expected {expect_label!r}")
    return problems, doc


def smoke(
    url: str,
    body: str,
    *,
    expect_version: str | None = None,
    expect_label: str | None = None,
    caller: str = "smoke-test",
    caller_header: str = "X-Caller-Id",
    headers: dict[str, str] | None = None,
    attempts: int = 5,
    interval: float = 2.0,
    timeout: float = 10.0,
) -> SmokeResult:
    """POSTs ``body`` to ``<url>/predict`` until the answer passes or ``attempts`` are spent."""
    target = url.rstrip("/") + "/predict"
    if not target.startswith(("http://", "https://")):
        raise ValueError(f"url must be http(s)://, got {url!r}")
    result = SmokeResult(ok=False, url=target, attempts=0)
    for attempt in range(1, max(1, attempts) + 1):
        result.attempts = attempt
        req = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            target,
            data=body.encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json", caller_header: caller, **(headers or {})},
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the URL is the operator's
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            result.status, result.problems = None, [f"no answer from {target}: {getattr(e, 'reason', e)}"]
            if attempt < attempts:
                time.sleep(interval)
            continue
        result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        result.status = status
        result.problems, doc = _check(status, raw, expect_version, expect_label)
        result.version = None if doc.get("version") is None else str(doc.get("version"))
        result.labels = doc.get("labels")
        if not result.problems:
            result.ok = True
            return result
        # A wrong answer is final; only "not there yet" (no answer, 429, 503) is worth another attempt.
        if status not in (429, 502, 503, 504):
            return result
        if attempt < attempts:
            time.sleep(interval)
    return result


def parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="mlflow-platform serve smoke", description="Smoke-test a model endpoint with POST /predict."
    )
    p.add_argument("--url", required=True, help="Base URL of the model server or Service (…/predict is appended).")
    p.add_argument("--body", default='{"data": [5.1, 3.5, 1.4, 0.2]}', help="JSON body of POST /predict.")
    p.add_argument("--expect-version", default=None, help="Model version the answer must name.")
    p.add_argument("--expect-label", default=None, help="Label the answer must give for the first row.")
    p.add_argument("--caller", default="smoke-test", help="Caller id sent in --caller-header.")
    p.add_argument("--caller-header", default="X-Caller-Id")
    p.add_argument("--attempts", type=int, default=5)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--timeout", type=float, default=10.0)
    return p


def run(args) -> int:
    try:
        json.loads(args.body)
    except ValueError as e:
        raise BadInput(f"--body is not JSON ({e})") from None
    r = smoke(
        args.url,
        args.body,
        expect_version=args.expect_version,
        expect_label=args.expect_label,
        caller=args.caller,
        caller_header=args.caller_header,
        attempts=args.attempts,
        interval=args.interval,
        timeout=args.timeout,
    )
    print(json.dumps({"smoke": "pass" if r.ok else "fail", **asdict(r)}), flush=True)
    # A failed check is "the endpoint is not right" (exit 1, like every failure of what a command depends on).
    return ExitCode.OK if r.ok else ExitCode.ERROR
