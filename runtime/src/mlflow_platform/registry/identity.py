"""Who "I" am: the identity in the bearer token the MLflow client sends (MLFLOW_TRACKING_TOKEN).

The token is an OpenID Connect ID token that the platform's OAuth2 Proxy verifies (signature, issuer,
audience, expiry) on every request. This module only *reads* its claims; it does not verify the
signature: a token the proxy does not accept never gets a registry call through, so anything the tool
writes was written by a caller holding a token the proxy accepted. See docs/model-registry.md (trust model).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field

from .errors import BadInput

TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"  # noqa: S105 - the name of the variable, not a token


@dataclass(frozen=True)
class Identity:
    """The caller: ``name`` is the e-mail claim, else ``sub``."""

    name: str
    subject: str
    issuer: str
    groups: tuple[str, ...] = field(default_factory=tuple)

    def as_record(self) -> dict:
        return {"by": self.name, "sub": self.subject, "iss": self.issuer, "groups": list(self.groups)}


def claims_of(token: str) -> dict:
    """The claims of a JWT, unverified. Raises BadInput when ``token`` is not a JWT."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise BadInput(f"{TOKEN_ENV} is not a JWT (expected three dot-separated parts): use an OIDC ID token")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError) as err:
        raise BadInput(f"{TOKEN_ENV}: the token's payload is not base64url JSON ({err})") from err
    if not isinstance(claims, dict):
        raise BadInput(f"{TOKEN_ENV}: the token's payload is not a JSON object")
    return claims


def identity_from_token(token: str | None = None, groups_claim: str = "groups") -> Identity:
    """The identity of ``token`` (default: $MLFLOW_TRACKING_TOKEN): e-mail claim, else ``sub``."""
    token = os.environ.get(TOKEN_ENV) if token is None else token
    if not token:
        raise BadInput(f"{TOKEN_ENV} is not set: the registry tool acts as the identity of an OIDC ID token")
    claims = claims_of(token)
    email = claims.get("email")
    sub = claims.get("sub")
    name = email if isinstance(email, str) and email else sub if isinstance(sub, str) and sub else None
    if not name:
        raise BadInput(f"{TOKEN_ENV}: the token has neither an email nor a sub claim; nobody to record decisions as")
    raw_groups = claims.get(groups_claim) or []
    if isinstance(raw_groups, str):
        raw_groups = [raw_groups]
    groups = tuple(str(g) for g in raw_groups) if isinstance(raw_groups, list) else ()
    return Identity(name=name, subject=str(sub or ""), issuer=str(claims.get("iss") or ""), groups=groups)
