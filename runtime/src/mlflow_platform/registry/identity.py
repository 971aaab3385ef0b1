"""Who "I" am: the identity in the bearer token the MLflow client sends (MLFLOW_TRACKING_TOKEN), and
when two recorded identities are the same person (the four-eyes rule).

The token is an OpenID Connect ID token that the platform's OAuth2 Proxy verifies (signature, issuer,
audience, expiry) on every request. This module only *reads* its claims; it does not verify the
signature: a token the proxy does not accept never gets a registry call through, so anything the tool
writes was written by a caller holding a token the proxy accepted. See docs/model-registry.md (trust model).

Same person (:func:`same_person`): the same verified ``(iss, sub)`` pair, or the same e-mail address
after normalization (Unicode NFKC and case folding: ``Alice@Example.com`` and the same address in full-width letters
are ``alice@example.com``). ``sub`` is compared exactly (OpenID Connect subjects are case-sensitive and
unique per issuer). Records written before subjects were recorded carry only a name (``by``): it is
compared with the other side's normalized e-mail, or exactly with its subject.
"""

from __future__ import annotations

import base64
import json
import os
import unicodedata
from dataclasses import dataclass, field

from mlflow_platform.common.errors import BadInput

TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"  # noqa: S105 - the name of the variable, not a token


def normalize_email(value: str) -> str:
    """An e-mail address as compared: Unicode compatibility form (NFKC), case-folded, trimmed."""
    out = str(value)
    # NFKC and case folding, until neither changes anything (folding can un-normalize a few sequences).
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", out).casefold()).strip()
        if folded == out:
            break
        out = folded
    return out


@dataclass(frozen=True)
class Identity:
    """The caller: ``name`` is the e-mail claim, else ``sub``."""

    name: str
    subject: str
    issuer: str
    groups: tuple[str, ...] = field(default_factory=tuple)
    email: str | None = None

    def as_record(self) -> dict:
        return {
            "by": self.name,
            "sub": self.subject,
            "iss": self.issuer,
            "email": normalize_email(self.email) if self.email else None,
            "groups": list(self.groups),
        }


@dataclass(frozen=True)
class Person:
    """A recorded identity, as the four-eyes rule compares it."""

    email: str | None = None
    issuer: str | None = None
    subject: str | None = None
    #: A bare name from a record that predates subjects (e-mail, else subject, as the token had it).
    legacy: str | None = None

    @classmethod
    def of(cls, who: Identity) -> Person:
        return cls(
            email=normalize_email(who.email) if who.email else None,
            issuer=who.issuer or None,
            subject=who.subject or None,
        )

    @classmethod
    def from_record(cls, record: dict | None) -> Person | None:
        """A person from a recorded ``{by, sub, iss, email}``; None when it names nobody."""
        if not isinstance(record, dict):
            return None
        email = record.get("email") if isinstance(record.get("email"), str) and record.get("email") else None
        sub = record.get("sub") if isinstance(record.get("sub"), str) and record.get("sub") else None
        iss = record.get("iss") if isinstance(record.get("iss"), str) and record.get("iss") else None
        by = record.get("by") if isinstance(record.get("by"), str) and record.get("by") else None
        if email is None and by and "@" in by and sub is not None:
            email = by  # an e-mail claim recorded as "by" only
        if email is None and sub is None:
            return cls(legacy=by) if by else None
        return cls(email=normalize_email(email) if email else None, issuer=iss, subject=sub, legacy=None)

    def describe(self) -> str:
        return self.email or self.subject or self.legacy or "?"


def same_person(a: Person, b: Person) -> bool:
    """True when ``a`` and ``b`` are the same person by any identifier both carry (see the module doc)."""
    if a.email and b.email and a.email == b.email:
        return True
    if a.subject and b.subject and a.issuer and b.issuer and (a.issuer, a.subject) == (b.issuer, b.subject):
        return True
    for x, y in ((a, b), (b, a)):
        if x.legacy:
            if y.email and normalize_email(x.legacy) == y.email:
                return True
            if y.subject and x.legacy == y.subject:
                return True
            if y.legacy and normalize_email(x.legacy) == normalize_email(y.legacy):
                return True
    return False


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
    return Identity(
        name=name,
        subject=str(sub or ""),
        issuer=str(claims.get("iss") or ""),
        groups=groups,
        email=email if isinstance(email, str) and email else None,
    )
