"""Verification of MLflow's webhook signatures.

MLflow (mlflow/webhooks/delivery.py) signs ``"{delivery_id}.{timestamp}.{raw body}"`` with HMAC-SHA256
and sends ``X-MLflow-Signature: v1,<base64 digest>``, ``X-MLflow-Delivery-Id`` and ``X-MLflow-Timestamp``
(unix seconds). A delivery is accepted only when the signature matches in constant time and the
timestamp is within ``window`` seconds of now (both ways), so a captured delivery cannot be replayed
later; inside the window the caller de-duplicates by delivery id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
SIGNATURE_HEADER = "X-MLflow-Signature"
SIGNATURE_VERSION = "v1"


class SignatureError(Exception):
    """A delivery that must be refused; ``reason`` is a short label for metrics and logs."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The signature header value MLflow would send (used by tests and the e2e's forged deliveries)."""
    content = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(secret: str, headers: dict[str, str], body: bytes, now: float, window: float) -> tuple[str, int]:
    """Checks one delivery; returns ``(delivery_id, timestamp)`` or raises :class:`SignatureError`.

    ``headers`` must be case-insensitive (Starlette's are) or use the canonical spelling.
    """
    delivery_id = headers.get(DELIVERY_ID_HEADER) or ""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    signature = headers.get(SIGNATURE_HEADER) or ""
    if not delivery_id or len(delivery_id) > 128:
        raise SignatureError("malformed", f"missing or oversized {DELIVERY_ID_HEADER}")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("malformed", f"missing or non-numeric {TIMESTAMP_HEADER}")
    if not signature.startswith(SIGNATURE_VERSION + ","):
        raise SignatureError("malformed", f"missing {SIGNATURE_HEADER} or not a {SIGNATURE_VERSION} signature")
    expected = sign(secret, delivery_id, timestamp, body)
    # Constant time: the comparison takes as long whatever prefix of the signature is right.
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureError("bad_signature", "signature does not match the body (forged, or changed after signing)")
    ts = int(timestamp)
    if abs(now - ts) > window:
        raise SignatureError(
            "stale", f"timestamp {ts} is {int(now - ts)} s from now, outside the {int(window)} s window"
        )
    return delivery_id, ts
