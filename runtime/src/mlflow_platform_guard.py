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

4. **The identity MLflow's authorization sees** (teams on: ``--app-name platform-auth``). Every request
   loses any incoming ``x-mlflow-platform-identity`` / ``x-mlflow-platform-groups`` header, then gets them
   from the proxy's verified headers (public host: the lower-cased ``X-Forwarded-Email``, else
   ``X-Forwarded-User``; the groups of every ``X-Forwarded-Groups`` line) or, on an internal host, the
   platform's own service identity ``platform-internal``. MLflow's auth app reads only those two
   (``mlflow_platform_access.authenticate``). With an access policy, registry writes are also held to the
   protected-promotion rules (protected aliases and stages, ``platform.*`` tags, four eyes) before MLflow
   sees them: 403 naming the rule.

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
#: Headers oauth2-proxy sets from the verified token (and strips from the client's request).
FORWARDED_USER_HEADER = b"x-forwarded-user"
FORWARDED_GROUPS_HEADER = b"x-forwarded-groups"
#: The headers MLflow's auth app trusts (mlflow_platform_access): only this guard sets them.
PLATFORM_IDENTITY_HEADER = b"x-mlflow-platform-identity"
PLATFORM_GROUPS_HEADER = b"x-mlflow-platform-groups"
#: The platform's own in-cluster callers' identity (an MLflow admin in the auth app).
INTERNAL_IDENTITY = "platform-internal"
#: MLflow's workspace header (mlflow.utils.workspace_utils.WORKSPACE_HEADER_NAME); absent: ``default``.
WORKSPACE_HEADER = b"x-mlflow-workspace"
#: The largest registry write body read to apply the protected-promotion rules (MLflow's are a few KB).
MAX_REGISTRY_BODY = 256 * 1024
#: Registry writes that can move an alias or a stage or carry a ``platform.*`` tag: MLflow 3.17.2's
#: ModelRegistryService routes (mlflow.server.handlers.get_endpoints), REST and ajax forms, any static prefix.
#: None of them is served with GET (MLflow reads query parameters for GET only), and GraphQL has no
#: registry mutation.
_REGISTRY_WRITE = re.compile(
    r"^(?:/.*)?/(?:api|ajax-api)/[^/]+/mlflow/(?P<suffix>registered-models/(?:alias|set-tag|delete-tag|create)"
    r"|model-versions/(?:transition-stage|set-tag|delete-tag|create))/?$",
    re.IGNORECASE,
)
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
    access_policy: str | None = None

    ENV_PUBLIC_HOSTS = "MLFLOW_PLATFORM_PUBLIC_HOSTS"
    ENV_INTERNAL_HOSTS = "MLFLOW_PLATFORM_INTERNAL_HOSTS"
    ENV_EMAIL_DOMAINS = "MLFLOW_PLATFORM_EMAIL_DOMAINS"
    ENV_ANY_EMAIL_DOMAIN = "MLFLOW_PLATFORM_ANY_EMAIL_DOMAIN"
    ENV_WORKLOAD_IDENTITIES = "MLFLOW_PLATFORM_WORKLOAD_IDENTITIES"
    ENV_WEBHOOK_URLS = "MLFLOW_PLATFORM_WEBHOOK_URLS"
    #: The access policy (teams on): the protected-promotion rules apply when it is set.
    ENV_ACCESS_POLICY = "MLFLOW_PLATFORM_ACCESS_POLICY"

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
            access_policy=env.get(cls.ENV_ACCESS_POLICY, "").strip() or None,
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


def parse_groups(values) -> tuple[str, ...]:
    """Groups from the proxy's ``X-Forwarded-Groups`` lines: each split on ",", trimmed; sorted, unique."""
    out = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part:
                out.add(part)
    return tuple(sorted(out))


def caller_identity(email: str | None, user: str | None) -> str | None:
    """The caller as the proxy verified it: the lower-cased e-mail, else the user (a workload's ``sub``)."""
    email = (email or "").strip().lower()
    if email:
        return email
    return (user or "").strip() or None


def with_platform_identity(headers: list, public: bool) -> tuple[list, str | None, tuple[str, ...]]:
    """``headers`` without any client-sent platform identity header, plus the ones this guard vouches for:
    (new headers, identity, groups)."""
    kept = [(k, v) for k, v in headers if k.lower() not in (PLATFORM_IDENTITY_HEADER, PLATFORM_GROUPS_HEADER)]
    if not public:
        identity, groups = INTERNAL_IDENTITY, ()
    else:

        def first(name):
            return next((v.decode("latin-1") for k, v in headers if k.lower() == name), None)

        identity = caller_identity(first(IDENTITY_HEADER), first(FORWARDED_USER_HEADER))
        groups = parse_groups(v.decode("latin-1") for k, v in headers if k.lower() == FORWARDED_GROUPS_HEADER)
    if identity:
        kept.append((PLATFORM_IDENTITY_HEADER, identity.encode("latin-1", errors="replace")))
        kept.append((PLATFORM_GROUPS_HEADER, ",".join(groups).encode("latin-1", errors="replace")))
    return kept, identity, groups


def parse_json_body(body: bytes | None):
    """A request body as MLflow reads it (``get_json(force=True)``, then a second decoding for the
    double-encoded JSON of older clients); raises ValueError when it is not a JSON object."""
    doc = json.loads(body or b"{}") if (body or b"").strip() else {}
    if isinstance(doc, str):
        doc = json.loads(doc)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


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
        public = identity_required(self.settings, host)
        raw_headers, identity, groups = with_platform_identity(list(scope.get("headers") or []), public)
        scope = {**scope, "headers": raw_headers}
        registry = _REGISTRY_WRITE.match(re.sub(r"/{2,}", "/", path))
        if self.settings.access_policy and registry is not None and method.upper() not in _READ_METHODS:
            body, receive = await _buffer(receive, MAX_REGISTRY_BODY)
            if body is None:
                await _refuse(send, 413, "INVALID_PARAMETER_VALUE", "The request body is too large.")
                return
            workspace = (headers.get(WORKSPACE_HEADER, b"").decode("latin-1").strip()) or "default"
            refusal = await _promotion_refusal(
                self.settings.access_policy, identity, groups, workspace, registry.group("suffix"), method, body
            )
            if refusal is not None:
                _logger.warning("refused %s %s for %r: %s", method, path, identity, refusal[2])
                await _refuse(send, *refusal)
                return
        if _WEBHOOK_API.match(re.sub(r"/{2,}", "/", path)) and method.upper() not in _READ_METHODS:
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


async def _promotion_refusal(policy_path, identity, groups, workspace, suffix, method, body):
    """(status, error_code, message) when the protected-promotion rules refuse this registry write."""
    import asyncio

    import mlflow_platform_access as access

    try:
        doc = parse_json_body(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return 400, "INVALID_PARAMETER_VALUE", "The request body is not a JSON object."
    key = (suffix.lower().rstrip("/"), method.upper())
    if key not in access.REGISTRY_WRITES:
        return None  # a method MLflow does not serve on this path: it answers 405 itself
    if not identity:
        return 401, "UNAUTHENTICATED", "No verified identity on this request."
    policy = access.current_policy(policy_path)
    write = access.parse_write(key[0], key[1], doc)
    refusal = await asyncio.to_thread(
        access.promotion_refusal, policy, identity, groups, workspace, write, _registry_lookup(workspace)
    )
    if refusal is None:
        return None
    return 403, "PERMISSION_DENIED", refusal[1]


def _registry_lookup(workspace: str):
    """Reads a registered model or version in ``workspace`` from MLflow's registry store (in this process)."""

    def lookup(name, version):
        if not name:
            return None
        try:
            from mlflow.server.handlers import _get_model_registry_store
            from mlflow.utils.workspace_context import ServerWorkspaceContext

            with ServerWorkspaceContext(workspace):
                store = _get_model_registry_store()
                if version is None:
                    return {"tags": dict(store.get_registered_model(name).tags or {})}
                v = store.get_model_version(name, str(version))
                return {"tags": dict(v.tags or {}), "user_id": v.user_id, "current_stage": v.current_stage}
        except Exception:  # unreadable: MLflow answers the request itself (404 or its own 403)
            _logger.debug("registry lookup of %s/%s in %s failed", name, version, workspace, exc_info=True)
            return None

    return lookup


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

#: Where the auth ini is written at start (a writable directory: an emptyDir in the pod); default: the temp dir.
ENV_AUTH_DIR = "MLFLOW_PLATFORM_AUTH_DIR"
AUTH_INI = "mlflow-platform-auth.ini"


def auth_ini(database_uri: str) -> str:
    """MLflow's auth configuration with teams: everything comes from roles (no default permission, no
    implicit access to the ``default`` workspace), identities from ``mlflow_platform_access.authenticate``.
    ``%`` is doubled: configparser would read it as interpolation (URL-encoded passwords have them)."""
    return (
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {database_uri.replace('%', '%%')}\n"
        f"admin_username = {INTERNAL_IDENTITY}\n"
        "authorization_function = mlflow_platform_access:authenticate\n"
        "grant_default_workspace_access = false\n"
    )


def create_platform_auth_app():
    """The ``platform-auth`` app (teams on): MLflow's basic-auth app with workspaces, inside this guard.

    Declared in the guard's dist-info as the ``mlflow.app`` entry point
    ``platform-auth = mlflow_platform_guard:create_platform_auth_app``; a function, so ``mlflow server``
    runs it as a uvicorn ``--factory`` in each worker. It writes the auth ini (no password in a ConfigMap:
    the database URI comes from the server's environment), points ``MLFLOW_AUTH_CONFIG_PATH`` at it and
    only then imports MLflow's auth app, which reads its configuration at import.
    """
    import secrets
    import tempfile

    import mlflow_platform_access as access

    settings = Settings.from_env()
    if not settings.access_policy:
        raise ValueError(f"{Settings.ENV_ACCESS_POLICY} is not set: platform-auth needs the access policy")
    access.current_policy(settings.access_policy)  # a broken policy fails the start, not each request
    for var in ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_BASIC_AUTH_FAIL_CLOSED"):
        if os.environ.setdefault(var, "true").strip().lower() not in ("true", "1"):
            raise ValueError(f"{var} must be true with platform-auth (teams rely on it)")
    directory = os.environ.get(ENV_AUTH_DIR) or tempfile.gettempdir()
    fd, tmp = tempfile.mkstemp(prefix=".auth-", suffix=".ini", dir=directory)  # mode 0600
    with os.fdopen(fd, "w") as f:
        f.write(auth_ini(access.backend_store_uri()))
    path = os.path.join(directory, AUTH_INI)
    os.replace(tmp, path)  # atomic: the workers write the same content at the same time
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = path
    os.environ["MLFLOW_AUTH_ADMIN_USERNAME"] = INTERNAL_IDENTITY
    # Only needed when the admin user does not exist yet (the sync Job creates it); nobody logs in with it.
    os.environ.setdefault("MLFLOW_AUTH_ADMIN_PASSWORD", secrets.token_urlsafe(32))
    # Flask's secret signs only the auth app's create-user form (CSRF), unused here: nobody has a password.
    os.environ.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_urlsafe(32))
    from mlflow.server.auth import create_app

    return PlatformGuard(create_app(), settings)
