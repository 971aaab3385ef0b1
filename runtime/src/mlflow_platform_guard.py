"""The tracking server's guard: an ASGI middleware around MLflow's own app (``mlflow server --app-name``).

It is one standalone file (standard library only, plus MLflow itself when it loads the app) because it
runs inside the official MLflow image: the stack ships it in a ConfigMap, puts it on ``PYTHONPATH`` with
a ``mlflow.app`` entry point, and the synthesized command starts ``mlflow server --app-name
platform-guard``. Three rules, each enforced where nothing can bypass it:

1. **Identity.** A request addressed to the public hostname came through the authenticating proxy
   (oauth2-proxy forwards the original Host). oauth2-proxy skips its e-mail domain check when a token
   carries no e-mail (it falls back to ``sub``, and with neither claim the request passes), so MLflow
   checks again: the proxy's ``X-Forwarded-Email`` (which the proxy always strips from the client's
   request and sets from the verified token) must hold one address in an allowed domain. Requests
   addressed to an in-cluster name or an IP address (the platform's own jobs, Prometheus, probes; the
   NetworkPolicy admits only those) are not affected. Any other Host is held to the rule: fail closed.
2. **Webhooks go to the platform's events service only.** With the events service on, MLflow's own
   SSRF guard is relaxed (``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS``) so that its in-cluster receiver can be
   reached, and MLflow lets any caller create, change, test or delete webhooks. So the webhook API
   (``/api/*/mlflow/webhooks...`` and its ``/ajax-api`` twin) is read-only for everyone who comes through
   the proxy (a user); only in-cluster callers (the events service declares its webhook at start) may
   write, and a create or update may only name one of the allowed destination URLs (the events service's;
   none when the service is off). A body the guard cannot read as JSON is refused, never passed on.
3. **No internals in 5xx answers.** MLflow answers some failures with 500 and the storage's message
   (a missing artifact: ``500`` naming the bucket, its prefix and the account id). A 5xx body is
   replaced by a generic message with a reference that is logged next to the original; a 5xx caused
   by a missing stored object (the storage answered 404) becomes ``404 RESOURCE_DOES_NOT_EXIST``:
   clients do not retry it and the error-ratio alert does not count it.

Settings come from the environment (see ``Settings.from_env``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass

_logger = logging.getLogger("mlflow_platform_guard")

#: The app this guard wraps (what ``mlflow server`` runs without ``--app-name``).
MLFLOW_APP = "mlflow.server.fastapi_app:app"
#: Header oauth2-proxy sets from the verified token's e-mail claim (``--pass-user-headers``).
IDENTITY_HEADER = b"x-forwarded-email"
#: The largest 5xx body read to classify it; the rest is dropped (5xx bodies are short JSON).
MAX_ERROR_BODY = 64 * 1024
#: The largest webhook create/update body read to check its destination (MLflow's are a few hundred bytes).
MAX_WEBHOOK_BODY = 64 * 1024
#: MLflow's webhook API, REST and UI (ajax) forms, any version, behind any static prefix.
_WEBHOOK_API = re.compile(
    r"^(?:/.*)?/(?:api|ajax-api)/[^/]+/mlflow/webhooks(?:/[^/]+)?(?P<test>/test)?/?$", re.IGNORECASE
)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# What a storage backend says when the object is not there (S3 HeadObject/GetObject, local files).
_MISSING_OBJECT = re.compile(
    r"\(404\)|\bNoSuchKey\b|\bNot Found\b|does not exist|No such file or directory|\bFileNotFoundError\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Settings:
    """What the guard enforces.

    - ``public_hosts``: host names (without port) that arrive through the proxy: identity required.
    - ``internal_hosts``: in-cluster names (Service DNS names) exempt from the identity rule.
    - ``email_domains``: allowed e-mail domains (oauth2-proxy's syntax: ``example.com`` exactly,
      ``.example.com`` or ``*.example.com`` for sub-domains); empty with ``any_email_domain``.
    - ``any_email_domain``: any domain, still one well-formed address (an explicit configuration choice).
    - ``workload_identities``: exact identities admitted besides addresses: the in-cluster workloads'
      service-account subjects (``system:serviceaccount:<ns>:<name>``), the same list the proxy's
      authenticated-emails file holds (docs/training-pipelines.md).
    - ``webhook_urls``: the only destinations a webhook may have (the events service's receiver); empty:
      no webhook can be created or pointed anywhere.
    """

    public_hosts: frozenset[str]
    internal_hosts: frozenset[str]
    email_domains: tuple[str, ...]
    any_email_domain: bool
    workload_identities: frozenset[str] = frozenset()
    webhook_urls: frozenset[str] = frozenset()

    ENV_PUBLIC_HOSTS = "MLFLOW_PLATFORM_PUBLIC_HOSTS"
    ENV_INTERNAL_HOSTS = "MLFLOW_PLATFORM_INTERNAL_HOSTS"
    ENV_EMAIL_DOMAINS = "MLFLOW_PLATFORM_EMAIL_DOMAINS"
    ENV_ANY_EMAIL_DOMAIN = "MLFLOW_PLATFORM_ANY_EMAIL_DOMAIN"
    ENV_WORKLOAD_IDENTITIES = "MLFLOW_PLATFORM_WORKLOAD_IDENTITIES"
    ENV_WEBHOOK_URLS = "MLFLOW_PLATFORM_WEBHOOK_URLS"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def names(var: str) -> list[str]:
            return [v.strip().lower() for v in env.get(var, "").split(",") if v.strip()]

        any_domain = env.get(cls.ENV_ANY_EMAIL_DOMAIN, "false").strip().lower() == "true"
        domains = tuple(names(cls.ENV_EMAIL_DOMAINS))
        if "*" in domains:
            raise ValueError(
                f"{cls.ENV_EMAIL_DOMAINS} lists '*': allowing every domain is a named choice "
                f"({cls.ENV_ANY_EMAIL_DOMAIN}=true, auth.allowAnyEmailDomain in the configuration)"
            )
        if not domains and not any_domain:
            raise ValueError(
                f"{cls.ENV_EMAIL_DOMAINS} is empty and {cls.ENV_ANY_EMAIL_DOMAIN} is not true: "
                "say which e-mail domains may use MLflow (access is denied by default)"
            )
        public = frozenset(_strip_port(h) for h in names(cls.ENV_PUBLIC_HOSTS))
        internal = frozenset(_strip_port(h) for h in names(cls.ENV_INTERNAL_HOSTS))
        if public & internal:
            raise ValueError(f"{sorted(public & internal)} is both public and internal")
        workloads = frozenset(names(cls.ENV_WORKLOAD_IDENTITIES))
        bad = sorted(w for w in workloads if not re.fullmatch(r"system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+", w))
        if bad:
            raise ValueError(
                f"{cls.ENV_WORKLOAD_IDENTITIES} lists {bad}: "
                "only service-account subjects (system:serviceaccount:<ns>:<name>)"
            )
        urls = frozenset(u.strip() for u in env.get(cls.ENV_WEBHOOK_URLS, "").split(",") if u.strip())
        bad_urls = sorted(u for u in urls if not re.fullmatch(r"https?://[^\s/?#]+/[^\s?#]*", u))
        if bad_urls:
            raise ValueError(f"{cls.ENV_WEBHOOK_URLS} lists {bad_urls}: absolute http(s) URLs with a path only")
        return cls(
            public_hosts=public,
            internal_hosts=internal,
            email_domains=domains,
            any_email_domain=any_domain,
            workload_identities=workloads,
            webhook_urls=urls,
        )


def _strip_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [v6]:port
        return host[1 : host.index("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def identity_required(settings: Settings, host: str) -> bool:
    """True unless ``host`` is an in-cluster name, an IP address or localhost (traffic inside the cluster)."""
    name = _strip_port(host)
    if name in settings.public_hosts:
        return True
    return not (name in settings.internal_hosts or name == "localhost" or _is_ip(name))


def email_allowed(settings: Settings, email: str) -> bool:
    """oauth2-proxy's domain rule, never skipped: one ``@``, and a domain from the list (or any, if chosen);
    or exactly one of the admitted workload identities."""
    email = email.strip().lower()
    if email and email in settings.workload_identities:
        return True
    if email.count("@") != 1:
        return False
    local, domain = email.split("@")
    if not local or not domain or any(c.isspace() for c in email):
        return False
    if settings.any_email_domain:
        return True
    for allowed in settings.email_domains:
        if allowed.startswith("*."):
            allowed = allowed[1:]
        if allowed.startswith("."):
            if domain.endswith(allowed):
                return True
        elif domain == allowed:
            return True
    return False


def webhook_refusal(
    settings: Settings, method: str, path: str, public: bool, body: bytes | None
) -> tuple[int, str, str] | None:
    """Why a request to MLflow's webhook API is refused, as (status, error_code, message); None when it
    may pass. ``body`` is the request body of a create or update (None for other requests)."""
    m = _WEBHOOK_API.match(re.sub(r"/{2,}", "/", path))
    if m is None or method.upper() in _READ_METHODS:
        return None
    if public:
        return (
            403,
            "PERMISSION_DENIED",
            "Webhooks are managed by the platform: only its registry events service may create, change, test or "
            "delete them.",
        )
    if m.group("test") or method.upper() not in ("POST", "PATCH"):
        return None
    try:
        doc = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return 400, "INVALID_PARAMETER_VALUE", "The webhook request body is not JSON."
    if not isinstance(doc, dict):
        return 400, "INVALID_PARAMETER_VALUE", "The webhook request body is not a JSON object."
    url = doc.get("url")
    if url is None and method.upper() == "PATCH":
        return None  # the destination stays what it is (an allowed one)
    if not isinstance(url, str) or url not in settings.webhook_urls:
        return (
            403,
            "PERMISSION_DENIED",
            "This webhook destination is not allowed: webhooks may only post to the platform's registry events "
            "service.",
        )
    return None


def classify_error(path: str, body: bytes) -> tuple[int, str, str]:
    """The answer that replaces a 5xx: (status, error_code, message). No internal detail in any of them."""
    text = body.decode("utf-8", errors="replace")
    if "artifact" in path.lower() and _MISSING_OBJECT.search(text):
        return 404, "RESOURCE_DOES_NOT_EXIST", "The requested artifact does not exist."
    return 500, "INTERNAL_ERROR", "Internal error in the tracking server"


def _json(status: int, error_code: str, message: str) -> tuple[dict, bytes]:
    body = json.dumps({"error_code": error_code, "message": message}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, body


class PlatformGuard:
    """ASGI middleware: the identity rule, then the 5xx rule, around ``app``.

    ``app`` may be given lazily (``app=None``): MLflow's app is then imported on first use, inside the
    server's worker, so that ``mlflow server`` (which imports this module to inspect it) stays light.
    """

    def __init__(self, app=None, settings: Settings | None = None):
        self._app = app
        self._settings = settings

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def _inner(self):
        if self._app is None:
            import importlib

            module, attr = MLFLOW_APP.split(":")
            self._app = getattr(importlib.import_module(module), attr)
        return self._app

    async def __call__(self, scope, receive, send):
        app = self._inner()
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if identity_required(self.settings, host):
            email = headers.get(IDENTITY_HEADER, b"").decode("latin-1")
            if not email_allowed(self.settings, email):
                _logger.warning(
                    "refused %s %s for host %r: no allowed identity (X-Forwarded-Email %r)",
                    scope.get("method"),
                    scope.get("path"),
                    host,
                    email,
                )
                start, body = _json(403, "PERMISSION_DENIED", "No verified identity from an allowed e-mail domain.")
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
        path = scope.get("path", "")
        method = str(scope.get("method", "GET"))
        if _WEBHOOK_API.match(re.sub(r"/{2,}", "/", path)) and method.upper() not in _READ_METHODS:
            public = identity_required(self.settings, host)
            body = None
            if not public and method.upper() in ("POST", "PATCH"):
                body, receive = await _buffer(receive, MAX_WEBHOOK_BODY)
                if body is None:
                    await _refuse(send, 413, "INVALID_PARAMETER_VALUE", "The webhook request body is too large.")
                    return
            refusal = webhook_refusal(self.settings, method, path, public, body)
            if refusal is not None:
                _logger.warning("refused %s %s for host %r: %s", method, path, host, refusal[2])
                await _refuse(send, *refusal)
                return
        await app(scope, receive, _ErrorRewriter(path, send))


async def _refuse(send, status: int, code: str, message: str) -> None:
    start, body = _json(status, code, message)
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def _buffer(receive, limit: int):
    """Reads the whole request body (at most ``limit`` bytes): ``(body, receive)`` where the new
    ``receive`` hands the same body to the app; ``(None, receive)`` when it is larger."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            return None, receive
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}
        return await receive()

    return bytes(body), replay


class _ErrorRewriter:
    """Passes every response through, except a 5xx, whose body is logged and replaced."""

    def __init__(self, path: str, send):
        self._path = path
        self._send = send
        self._start: dict | None = None
        self._body = bytearray()
        self._done = False

    async def __call__(self, message):
        if self._done:
            return
        kind = message["type"]
        if kind == "http.response.start":
            if message["status"] >= 500:
                self._start = message
                return
            await self._send(message)
            return
        if kind == "http.response.body" and self._start is not None:
            if len(self._body) < MAX_ERROR_BODY:
                self._body.extend(message.get("body", b"")[: MAX_ERROR_BODY - len(self._body)])
            if message.get("more_body", False):
                return
            self._done = True
            status, code, text = classify_error(self._path, bytes(self._body))
            reference = uuid.uuid4().hex[:12]
            _logger.error(
                "answered %d (was %d) for %s, reference %s: %s",
                status,
                self._start["status"],
                self._path,
                reference,
                bytes(self._body).decode("utf-8", errors="replace"),
            )
            start, body = _json(status, code, f"{text} (reference {reference}; details are in the server's log).")
            await self._send(start)
            await self._send({"type": "http.response.body", "body": body})
            return
        await self._send(message)


#: What ``mlflow server --app-name platform-guard`` runs (entry point ``mlflow.app``).
app = PlatformGuard()
