"""Who may call the model: the identity the gateway verified, checked again where nothing bypasses it.

Both exposures put a gateway in front of the model server that verifies a bearer token and overwrites
the caller header with the token's e-mail (the ``ingress`` exposure's oauth2-proxy sets
``X-Forwarded-Email``; the ``apiGateway`` exposure's integration sets the caller header from
``$context.authorizer.claims.email``), and the groups header with the token's groups. Neither gateway
applies the allow-lists on every path: oauth2-proxy 7.15 skips its e-mail domain check for a token
without an e-mail claim (with neither ``email`` nor ``sub`` the request passes), and API Gateway's JWT
authorizer checks issuer, audience and expiry only. So the server checks the identity itself, with
oauth2-proxy's rules (``email-domain``, ``allowed-group``; with both, a caller needs both):

- the caller header holds exactly one address in an allowed domain (or any domain, when that is the
  configured choice), or exactly one of the ``internal_callers`` (the release's smoke test Job: never an
  address, so no token's e-mail can be one);
- with ``allowed_groups``, the groups header names at least one of them.

The headers are trusted because only the gateway reaches the pods (the NetworkPolicy admits the
gateway's pods or the internal load balancer's subnets, Prometheus on the metrics port, and the smoke
test Job) and both gateways overwrite them from the verified token, whatever the client sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityPolicy:
    email_domains: tuple[str, ...] = ()
    any_email_domain: bool = False
    allowed_groups: frozenset[str] = frozenset()
    internal_callers: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        email_domains: list[str],
        any_email_domain: bool,
        allowed_groups: list[str],
        internal_callers: list[str],
    ) -> IdentityPolicy:
        domains = tuple(d.strip().lower() for d in email_domains if d.strip())
        if "*" in domains:
            raise ValueError(
                "--allowed-email-domains lists '*': allowing any domain is the named choice --any-email-domain"
            )
        if any_email_domain and not allowed_groups:
            raise ValueError("--any-email-domain needs --allowed-groups (else every account of the issuer could call)")
        if not domains and not any_email_domain:
            raise ValueError(
                "say which e-mail domains may call (--allowed-email-domains) or --any-email-domain with groups"
            )
        internal = frozenset(c.strip() for c in internal_callers if c.strip())
        bad = sorted(c for c in internal if "@" in c)
        if bad:
            raise ValueError(
                f"--internal-callers {bad}: an internal caller is never an address (a token could carry it)"
            )
        return cls(domains, any_email_domain, frozenset(g.strip() for g in allowed_groups if g.strip()), internal)

    def refusal(self, caller: str | None, groups: str | None) -> str | None:
        """None when ``caller`` (and ``groups``) may call; else why not (the 403's message, no value echoed)."""
        if caller and caller in self.internal_callers:
            return None
        if not caller:
            return "no verified identity: the gateway sets it from the token's e-mail, and this token has none"
        if not email_allowed(self, caller):
            return "the verified identity is not an address in an allowed e-mail domain"
        if self.allowed_groups and not (parse_groups(groups) & self.allowed_groups):
            return "the verified identity is in none of the allowed groups"
        return None


def email_allowed(policy: IdentityPolicy, email: str) -> bool:
    """oauth2-proxy's domain rule, never skipped: one ``@``, a local part, and a domain from the list
    (``example.com`` exactly; ``.example.com`` or ``*.example.com`` for its sub-domains), or any domain."""
    email = email.strip().lower()
    if email.count("@") != 1 or any(c.isspace() for c in email):
        return False
    local, domain = email.split("@")
    if not local or not domain or "." not in domain:
        return False
    if policy.any_email_domain:
        return True
    for allowed in policy.email_domains:
        if allowed.startswith("*."):
            allowed = allowed[1:]
        if allowed.startswith("."):
            if domain.endswith(allowed):
                return True
        elif domain == allowed:
            return True
    return False


def parse_groups(value: str | None) -> frozenset[str]:
    """Groups from the header, in each form a gateway writes them: oauth2-proxy's ``a,b``, a JSON array
    ``["a","b"]`` (claims mapped as JSON text) or a bracketed list ``[a b]``."""
    if not value:
        return frozenset()
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = text[1:-1].split() if text.endswith("]") else []
        if isinstance(items, list):
            return frozenset(str(g).strip() for g in items if str(g).strip())
        return frozenset()
    if text.startswith('"'):
        try:
            text = str(json.loads(text))
        except ValueError:
            return frozenset()
    return frozenset(g.strip() for g in text.split(",") if g.strip())


def caller_value(raw: str) -> str:
    """The caller header's value: a claim mapped as JSON text (``"jane@example.com"``) is unquoted."""
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        try:
            v = json.loads(raw)
        except ValueError:
            return raw
        return v if isinstance(v, str) else raw
    return raw
