"""Signature checks against values computed by MLflow's own signing code."""

import time

import pytest
from mlflow.webhooks.constants import WEBHOOK_DELIVERY_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER
from mlflow.webhooks.delivery import _generate_hmac_signature

from mlflow_platform.events.signature import SignatureError, sign, verify

SECRET = "s3cret-value"
BODY = (
    '{"entity": "model_version", "action": "created", "timestamp": "2026-12-01T00:00:00+00:00", '
    '"data": {"name": "m", "version": "1"}}'
)


def mlflow_headers(delivery_id="d-1", ts=None, body=BODY, secret=SECRET):
    ts = str(int(time.time())) if ts is None else ts
    return {
        WEBHOOK_DELIVERY_ID_HEADER: delivery_id,
        WEBHOOK_TIMESTAMP_HEADER: ts,
        WEBHOOK_SIGNATURE_HEADER: _generate_hmac_signature(secret, delivery_id, ts, body),
    }


def test_header_names_are_mlflows():
    from mlflow_platform.events import signature

    assert (signature.DELIVERY_ID_HEADER, signature.TIMESTAMP_HEADER, signature.SIGNATURE_HEADER) == (
        WEBHOOK_DELIVERY_ID_HEADER,
        WEBHOOK_TIMESTAMP_HEADER,
        WEBHOOK_SIGNATURE_HEADER,
    )


def test_our_signer_matches_mlflows():
    assert sign(SECRET, "abc", "1700000000", BODY.encode()) == _generate_hmac_signature(
        SECRET, "abc", "1700000000", BODY
    )


def test_accepts_a_delivery_signed_by_mlflow():
    h = mlflow_headers()
    delivery_id, ts = verify(SECRET, h, BODY.encode(), time.time(), 300)
    assert delivery_id == "d-1" and ts == int(h[WEBHOOK_TIMESTAMP_HEADER])


def test_non_ascii_body_signed_by_mlflow():
    body = '{"data": {"name": "modèle-ü"}}'
    h = mlflow_headers(body=body)
    assert verify(SECRET, h, body.encode("utf-8"), time.time(), 300)[0] == "d-1"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b.replace(b'"1"', b'"2"')), "bad_signature"),  # body changed after signing
        (
            lambda h, b: (
                {
                    **h,
                    WEBHOOK_SIGNATURE_HEADER: _generate_hmac_signature(
                        "other", "d-1", h[WEBHOOK_TIMESTAMP_HEADER], BODY
                    ),
                },
                b,
            ),
            "bad_signature",
        ),
        (lambda h, b: ({**h, WEBHOOK_DELIVERY_ID_HEADER: "d-2"}, b), "bad_signature"),  # id swapped
        (lambda h, b: ({**h, WEBHOOK_TIMESTAMP_HEADER: str(int(h[WEBHOOK_TIMESTAMP_HEADER]) + 1)}, b), "bad_signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != WEBHOOK_SIGNATURE_HEADER}, b), "malformed"),
        (lambda h, b: ({**h, WEBHOOK_SIGNATURE_HEADER: "v2," + h[WEBHOOK_SIGNATURE_HEADER][3:]}, b), "malformed"),
        (lambda h, b: ({**h, WEBHOOK_TIMESTAMP_HEADER: "soon"}, b), "malformed"),
    ],
)
def test_refuses_forged_or_altered_deliveries(change, reason):
    headers, body = change(mlflow_headers(), BODY.encode())
    with pytest.raises(SignatureError) as e:
        verify(SECRET, headers, body, time.time(), 300)
    assert e.value.reason == reason


@pytest.mark.parametrize("offset", [-301, 301])
def test_refuses_timestamps_outside_the_window(offset):
    now = time.time()
    ts = str(int(now) + offset)
    with pytest.raises(SignatureError) as e:
        verify(SECRET, mlflow_headers(ts=ts), BODY.encode(), now, 300)
    assert e.value.reason == "stale"


def test_a_correctly_signed_old_delivery_is_still_stale():
    # A captured delivery replayed after the window: the signature is valid, the timestamp is not.
    ts = str(int(time.time()) - 3600)
    with pytest.raises(SignatureError, match="outside"):
        verify(SECRET, mlflow_headers(ts=ts), BODY.encode(), time.time(), 300)
