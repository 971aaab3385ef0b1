"""Teams and authorization on MLflow's own auth app: identity, role assignments from groups, protected promotions.

One standalone file (standard library plus what ``mlflow[auth]`` brings) because it runs inside the
official MLflow image, shipped in the tracking guard's ConfigMap when the configuration sets ``teams``.
It reads the policy document the synthesis writes (``MLFLOW_PLATFORM_ACCESS_POLICY``, see
``constructs/access/policy.ts``) and has three uses:

- ``authenticate``: MLflow's ``authorization_function`` (auth ini). It trusts only the two headers the
  tracking guard sets after deleting any client-sent copy (``x-mlflow-platform-identity`` and
  ``x-mlflow-platform-groups``): it creates the MLflow user on first sight (a random password, as nobody logs
  in with one), sets ``is_admin`` from the admin groups, and makes the user's ``platform.*`` role
  assignments exactly the roles whose groups meet the caller's or whose identities name the caller (a
  workload, whose token has no groups). MLflow's workspaces, roles and permissions then decide every
  request, as they would for its own users.
- ``create_app``: the ``platform-auth`` app (``mlflow server --app-name platform-auth``, entry point
  ``platform-auth = mlflow_platform_access:create_app`` in the guard's dist-info): MLflow's basic-auth app
  with workspaces, inside the tracking guard (``mlflow_platform_guard``, unchanged: a stack without teams
  ships exactly what it did), inside ``AccessGuard``, the outermost layer. ``AccessGuard`` deletes any
  incoming ``x-mlflow-platform-identity`` / ``x-mlflow-platform-groups`` and sets them from the proxy's
  verified headers (public host: the lower-cased ``X-Forwarded-Email``, else ``X-Forwarded-User``; the
  groups of every ``X-Forwarded-Groups`` line) or, on an internal host, to ``platform-internal``; and
  applies the protected-promotion rules (``promotion_refusal``: protected aliases and stages,
  ``platform.*`` tags, four eyes) to registry writes before MLflow sees them: 403 naming the rule.
- ``python -m mlflow_platform_access sync --policy FILE``: applies the document with MLflow's stores
  (auth DB migrations, workspaces, ``platform.*`` roles and their grants, the ``platform-internal``
  admin), idempotently; removes ``platform.*`` roles the document no longer names. Exit codes: 0 done,
  1 error, 2 bad input (nothing changed).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass

_logger = logging.getLogger("mlflow_platform_access")

#: The headers the guard sets (after deleting any incoming copy); nothing else is trusted.
IDENTITY_HEADER = "x-mlflow-platform-identity"
GROUPS_HEADER = "x-mlflow-platform-groups"
#: The platform's own in-cluster callers (gc, retention, the events service): an MLflow admin.
INTERNAL_IDENTITY = "platform-internal"
ENV_POLICY = "MLFLOW_PLATFORM_ACCESS_POLICY"
ROLE_PREFIX = "platform."
PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE")
#: The resource types a team role's permission applies to (type-wildcard grants). MLflow 3.17's workspace
#: slot only takes USE or MANAGE, so READ/USE/EDIT become ``(workspace, *, USE)`` plus one ``(type, *, P)``
#: grant per type: the same fan-out MLflow's own migration applies to legacy workspace EDIT grants.
RESOURCE_TYPES = ("experiment", "registered_model", "prompt", "scorer")
#: How long a worker trusts its last assignment of a (identity, groups) pair.
CACHE_SECONDS = 5.0
#: Tags only the registry tool writes, once, at registration.
WRITE_ONCE_TAGS = ("platform.registrant", "platform.registered_by", "platform.source")
#: Who registered a version (a JSON record): the registry tool writes it, or this layer on a create without it.
REGISTRANT_TAG = "platform.registrant"
#: The registry tool's append-only records (its history on the model, each decision on its version): whoever
#: acts writes them, as themselves, and nobody rewrites or removes one.
APPEND_ONLY_PREFIXES = ("platform.history.", "platform.decision.")
#: The registry tool keeps a protected alias's last holder as ``<alias>-previous`` and ``rollback`` moves the
#: alias there: whoever could set it would choose what the release pipeline's next rollback promotes.
ROLLBACK_SUFFIX = "-previous"
#: Headers oauth2-proxy sets from the verified token (and strips from the client's request).
FORWARDED_EMAIL_HEADER = b"x-forwarded-email"
FORWARDED_USER_HEADER = b"x-forwarded-user"
FORWARDED_GROUPS_HEADER = b"x-forwarded-groups"
#: MLflow's workspace header (mlflow.utils.workspace_utils.WORKSPACE_HEADER_NAME); absent: ``default``.
WORKSPACE_HEADER = b"x-mlflow-workspace"
#: The largest registry write body read to apply the rules (MLflow's are a few KB).
MAX_REGISTRY_BODY = 256 * 1024
#: Registry writes that can move an alias or a stage or carry a ``platform.*`` tag: MLflow 3.17.2's
#: ModelRegistryService routes (mlflow.server.handlers.get_endpoints), REST and ajax forms, any static
#: prefix. None is served with GET (MLflow reads query parameters for GET only); GraphQL has no registry
#: mutation.
REGISTRY_WRITE_PATH = re.compile(
    r"^(?:/.*)?/(?:api|ajax-api)/[^/]+/mlflow/(?P<suffix>registered-models/(?:alias|set-tag|delete-tag|create)"
    r"|model-versions/(?:transition-stage|set-tag|delete-tag|create))/?$",
    re.IGNORECASE,
)
#: Where the auth ini is written at start (a writable directory: an emptyDir in the pod); default: the temp dir.
ENV_AUTH_DIR = "MLFLOW_PLATFORM_AUTH_DIR"
AUTH_INI = "mlflow-platform-auth.ini"


class PolicyError(ValueError):
    """The policy document is not what the synthesis writes."""


# ---------------------------------------------------------------------------------------------- identity


def parse_groups(values) -> tuple[str, ...]:
    """Groups from header values: every line, each split on ",", trimmed; sorted, without duplicates."""
    out = set()
    for value in values or ():
        for part in str(value).split(","):
            part = part.strip()
            if part:
                out.add(part)
    return tuple(sorted(out))


def identity_from(email: str | None, user: str | None) -> str | None:
    """The caller as the proxy verified it: the lower-cased e-mail, else the user (a workload's ``sub``)."""
    email = (email or "").strip().lower()
    if email:
        return email
    user = (user or "").strip()
    return user or None


def with_platform_identity(headers: list, public: bool) -> tuple[list, str | None, tuple[str, ...]]:
    """ASGI ``headers`` without any client-sent platform identity header, plus the ones this layer vouches
    for: (new headers, identity, groups). ``public``: the request came through the proxy."""
    names = (IDENTITY_HEADER.encode(), GROUPS_HEADER.encode())
    kept = [(k, v) for k, v in headers if k.lower() not in names]
    if not public:
        identity, groups = INTERNAL_IDENTITY, ()
    else:

        def last(name):  # the value the guard's e-mail check reads (a dict of the headers keeps the last)
            return next((v.decode("latin-1") for k, v in reversed(headers) if k.lower() == name), None)

        identity = identity_from(last(FORWARDED_EMAIL_HEADER), last(FORWARDED_USER_HEADER))
        groups = parse_groups(v.decode("latin-1") for k, v in headers if k.lower() == FORWARDED_GROUPS_HEADER)
    if identity:
        kept.append((names[0], identity.encode("latin-1", errors="replace")))
        kept.append((names[1], ",".join(groups).encode("latin-1", errors="replace")))
    return kept, identity, groups


def parse_json_body(body: bytes | None):
    """A request body as MLflow reads it (``get_json(force=True)``, then a second decoding for the
    double-encoded JSON of older clients); raises ValueError when it is not a JSON object."""
    doc = json.loads(body) if (body or b"").strip() else {}
    if isinstance(doc, str):
        doc = json.loads(doc)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def is_platform_tag(key: str) -> bool:
    """True for a tag key the protected-promotion rules govern (case-insensitive: ``Platform.x`` too)."""
    return isinstance(key, str) and key.strip().lower().startswith(ROLE_PREFIX)


# ------------------------------------------------------------------------------------------------ policy


@dataclass(frozen=True)
class Role:
    name: str
    workspace: str
    permission: str
    groups: tuple[str, ...]
    #: Members by identity (lower-cased): workloads, whose projected tokens carry no groups.
    identities: tuple[str, ...] = ()

    def grants(self) -> frozenset[tuple[str, str, str]]:
        """The role's MLflow grants: (resource_type, pattern, permission)."""
        if self.permission == "MANAGE":
            return frozenset({("workspace", "*", "MANAGE")})
        return frozenset({("workspace", "*", "USE")} | {(t, "*", self.permission) for t in RESOURCE_TYPES})


@dataclass(frozen=True)
class Policy:
    admin_groups: frozenset[str]
    workspaces: tuple[tuple[str, str], ...]
    roles: tuple[Role, ...]
    protected_aliases: frozenset[str]
    protected_stages: frozenset[str]
    release_identities: frozenset[str]
    approvers: dict
    four_eyes: bool

    @classmethod
    def from_dict(cls, doc) -> Policy:
        def need(cond, what):
            if not cond:
                raise PolicyError(f"policy: {what}")

        need(isinstance(doc, dict) and doc.get("version") == 1, "a JSON object with version 1")
        admins = doc.get("admins") or {}
        need(isinstance(admins, dict), "admins: an object")
        admin_groups = admins.get("groups") or []
        need(isinstance(admin_groups, list) and all(isinstance(g, str) for g in admin_groups), "admins.groups")
        workspaces = []
        for i, w in enumerate(doc.get("workspaces") or []):
            need(isinstance(w, dict) and isinstance(w.get("name"), str) and w["name"], f"workspaces[{i}].name")
            workspaces.append((w["name"], str(w.get("description") or "")))
        roles = []
        seen = set()
        for i, r in enumerate(doc.get("roles") or []):
            need(isinstance(r, dict), f"roles[{i}]: an object")
            name, ws = r.get("name"), r.get("workspace")
            need(isinstance(name, str) and name.startswith(ROLE_PREFIX), f"roles[{i}].name starts with platform.")
            need(isinstance(ws, str) and ws, f"roles[{i}].workspace")
            need(r.get("permission") in PERMISSIONS, f"roles[{i}].permission is one of {PERMISSIONS}")
            groups = r.get("groups") or []
            need(isinstance(groups, list) and all(isinstance(g, str) for g in groups), f"roles[{i}].groups")
            identities = r.get("identities") or []
            need(isinstance(identities, list) and all(isinstance(x, str) for x in identities), f"roles[{i}].identities")
            need(groups or identities, f"roles[{i}]: groups or identities (a role nobody has)")
            need((ws, name) not in seen, f"roles[{i}]: {name} twice in {ws}")
            seen.add((ws, name))
            members = tuple(sorted({x.strip().lower() for x in identities}))
            roles.append(Role(name, ws, r["permission"], tuple(sorted(set(groups))), members))
        prot = doc.get("protected") or {}
        need(isinstance(prot, dict), "protected: an object")
        approvers = prot.get("approvers") or {}
        need(
            isinstance(approvers, dict)
            and all(isinstance(v, list) and all(isinstance(g, str) for g in v) for v in approvers.values()),
            "protected.approvers: workspace -> groups",
        )
        for key in ("aliases", "stages", "releaseIdentities"):
            v = prot.get(key) or []
            need(isinstance(v, list) and all(isinstance(x, str) for x in v), f"protected.{key}: strings")
        return cls(
            admin_groups=frozenset(admin_groups),
            workspaces=tuple(workspaces),
            roles=tuple(roles),
            protected_aliases=frozenset(a.lower() for a in prot.get("aliases") or []),
            protected_stages=frozenset(s.lower() for s in prot.get("stages") or []),
            release_identities=frozenset(x.strip().lower() for x in prot.get("releaseIdentities") or []),
            approvers={k: frozenset(v) for k, v in approvers.items()},
            four_eyes=prot.get("fourEyes", True) is not False,
        )

    @classmethod
    def load(cls, path: str) -> Policy:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as err:
            raise PolicyError(f"policy: cannot read {path}: {err}") from err
        return cls.from_dict(doc)

    def roles_for(self, groups, identity: str | None = None) -> tuple[Role, ...]:
        """The roles of a caller: one of its groups is a role's, or it is one of the role's identities."""
        groups = set(groups)
        who = (identity or "").strip().lower()
        return tuple(r for r in self.roles if groups.intersection(r.groups) or (who and who in r.identities))

    def is_admin(self, identity: str, groups) -> bool:
        return identity == INTERNAL_IDENTITY or bool(self.admin_groups.intersection(groups))

    def is_release(self, identity: str) -> bool:
        return identity.strip().lower() in self.release_identities


_policy_lock = threading.Lock()
_policy_cache: dict = {}


def current_policy(path: str | None = None) -> Policy:
    """The policy at ``path`` (default: the environment's), re-read when the file changes."""
    path = path or os.environ.get(ENV_POLICY)
    if not path:
        raise PolicyError(f"{ENV_POLICY} is not set: the access policy is required with teams")
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    with _policy_lock:
        if _policy_cache.get("key") != key:
            _policy_cache["policy"] = Policy.load(path)
            _policy_cache["key"] = key
        return _policy_cache["policy"]


# ---------------------------------------------------------------------------------- protected promotions


@dataclass(frozen=True)
class RegistryWrite:
    """A registry write the rules look at: what it is and what it carries."""

    kind: str  # "alias", "stage", "tag", "create-model", "create-version"
    method: str
    name: str | None
    version: str | None = None
    alias: str | None = None
    stage: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()  # (key, value); value None for a delete


#: (path suffix after /mlflow/, HTTP method) -> kind. Enumerated from MLflow 3.17.2's registry handlers
#: (mlflow.server.handlers.get_endpoints: ModelRegistryService); each is served under /api/2.0 and /ajax-api/2.0.
REGISTRY_WRITES = {
    ("registered-models/alias", "POST"): "alias",
    ("registered-models/alias", "DELETE"): "alias",
    ("model-versions/transition-stage", "POST"): "stage",
    ("registered-models/set-tag", "POST"): "model-tag",
    ("registered-models/delete-tag", "DELETE"): "model-tag",
    ("model-versions/set-tag", "POST"): "version-tag",
    ("model-versions/delete-tag", "DELETE"): "version-tag",
    ("registered-models/create", "POST"): "create-model",
    ("model-versions/create", "POST"): "create-version",
}


def parse_write(suffix: str, method: str, doc: dict) -> RegistryWrite:
    """The write a request body describes (``doc``: the parsed JSON object)."""
    kind = REGISTRY_WRITES[(suffix, method)]

    def s(key):
        v = doc.get(key)
        return None if v is None else str(v)

    if kind == "alias":
        return RegistryWrite("alias", method, s("name"), s("version"), alias=s("alias"))
    if kind == "stage":
        return RegistryWrite("stage", method, s("name"), s("version"), stage=s("stage"))
    if kind in ("model-tag", "version-tag"):
        value = s("value") if method == "POST" else None
        return RegistryWrite(kind, method, s("name"), s("version"), tags=((s("key") or "", value),))
    tags = []
    for t in doc.get("tags") or []:
        if isinstance(t, dict):
            tags.append((str(t.get("key") or ""), None if t.get("value") is None else str(t.get("value"))))
    return RegistryWrite(kind, method, s("name"), None, tags=tuple(tags))


def _names_caller(key: str, value: str | None, identity: str) -> bool:
    """Whether a registration tag's value names the caller (``platform.source`` names a model, not a person)."""
    if key == "platform.source":
        return True
    if value is None:
        return False
    if key == "platform.registered_by":
        return value.strip().lower() == identity
    try:
        rec = json.loads(value)
    except ValueError:
        return False
    if not isinstance(rec, dict):
        return False
    return any(isinstance(rec.get(k), str) and rec[k].strip().lower() == identity for k in ("email", "sub", "by"))


def registrant_record(identity: str) -> str:
    """The ``platform.registrant`` value this layer records for a version created without one: the registry
    tool's record (``{by, email, iss, started_by, sub}``, see ``mlflow_platform.registry.core``) filled with
    what the verified headers say: an e-mail identity is ``email``, any other (a workload's subject) is
    ``sub``. The proxy does not forward the issuer, so ``iss`` stays empty, as the tool writes a missing one."""
    email = identity if "@" in identity else None
    record = {"by": identity, "email": email, "iss": "", "started_by": [], "sub": "" if email else identity}
    return json.dumps(record, sort_keys=True)


def with_recorded_registrant(doc: dict, identity: str) -> dict | None:
    """A ``model-versions/create`` body with the caller recorded as the registrant, or None when it needs no
    change: it carries a ``platform.registrant`` tag (the rules have checked it names the caller) or its
    ``tags`` is not a list (MLflow refuses the request). MLflow 3.17 records no creator on a version, so
    without this a version created by a plain REST call would have no known registrant and four eyes could
    not tell its author from a second person."""
    tags = doc.get("tags")
    if tags is None:
        tags = []
    if not isinstance(tags, list):
        return None
    if any(isinstance(t, dict) and t.get("key") == REGISTRANT_TAG for t in tags):
        return None
    return {**doc, "tags": [*tags, {"key": REGISTRANT_TAG, "value": registrant_record(identity)}]}


def registrant_of(version_info: dict | None) -> set[str]:
    """Who registered a version, as identities: the ``platform.registrant`` record's e-mail/sub, else the
    ``platform.registered_by`` tag, else MLflow's creator (``user_id``)."""
    if not version_info:
        return set()
    tags = version_info.get("tags") or {}
    out = set()
    raw = tags.get("platform.registrant")
    if raw:
        try:
            rec = json.loads(raw)
        except ValueError:
            rec = None
        if isinstance(rec, dict):
            out |= {rec[k].strip().lower() for k in ("email", "sub") if isinstance(rec.get(k), str) and rec[k]}
    if not out and tags.get("platform.registered_by"):
        out.add(tags["platform.registered_by"].strip().lower())
    if not out and version_info.get("user_id"):
        out.add(str(version_info["user_id"]).strip().lower())
    return out


def promotion_refusal(
    policy: Policy, identity: str, groups, workspace: str, write: RegistryWrite, lookup
) -> tuple[str, str] | None:
    """Why ``write`` by ``identity`` is refused, as (rule id, message); None when it may pass.

    ``lookup(name, version)`` returns the current state as ``{"tags": {...}, "user_id": ..., "current_stage":
    ...}`` (the registered model's when ``version`` is None), or None when it cannot be read (MLflow then
    answers the request itself: not found, or its own 403). Admins are not exempt: their job is access."""
    identity = identity.strip().lower()
    release = policy.is_release(identity)
    internal = identity == INTERNAL_IDENTITY
    if write.kind == "alias":
        name = (write.alias or "").strip().lower()
        if release or internal:
            return None
        if name in policy.protected_aliases:
            return (
                "protected-alias",
                f"protected-alias: the alias '{write.alias}' is moved only by the release pipeline's identities",
            )
        if name.endswith(ROLLBACK_SUFFIX) and name[: -len(ROLLBACK_SUFFIX)] in policy.protected_aliases:
            return (
                "protected-alias",
                f"protected-alias: the alias '{write.alias}' (where a rollback of "
                f"'{write.alias[: -len(ROLLBACK_SUFFIX)]}' goes) is moved only by the release pipeline's identities",
            )
        return None
    if write.kind == "stage":
        target = (write.stage or "").strip().lower()
        if release:
            return None
        if target in policy.protected_stages:
            return (
                "protected-stage",
                f"protected-stage: a transition to '{write.stage}' is made only by the release pipeline's identities",
            )
        current = (lookup(write.name, write.version) or {}).get("current_stage") if write.name else None
        if current and str(current).strip().lower() in policy.protected_stages:
            return (
                "protected-stage",
                f"protected-stage: a version in '{current}' leaves it only by the release pipeline's identities",
            )
        return None
    on_version = write.kind in ("version-tag", "create-version")
    state = None
    state_read = False
    for key, value in write.tags:
        if not is_platform_tag(key):
            continue
        low = key.strip().lower()
        if low.startswith("platform.events."):
            if not internal:
                return (
                    "platform-tag",
                    f"platform-tag: '{key}' is written only by the platform's registry events service",
                )
        elif low.startswith("platform.approval."):
            approvers = policy.approvers.get(workspace) or frozenset()
            if not approvers.intersection(groups):
                return (
                    "platform-tag",
                    f"platform-tag: '{key}' is written only by the approvers of workspace '{workspace}'",
                )
            if policy.four_eyes and on_version and value is not None:
                if write.kind == "create-version":
                    registrants = {identity}
                else:
                    if not state_read:
                        state, state_read = lookup(write.name, write.version), True
                    registrants = registrant_of(state)
                    # Unknown is refused, not let through: nobody could be shown to be a second person.
                    if state is None:
                        return (
                            "four-eyes",
                            f"four-eyes: {write.name} version {write.version} could not be read to check who "
                            "registered it, so the approval is refused",
                        )
                    if not registrants:
                        return (
                            "four-eyes",
                            f"four-eyes: {write.name} version {write.version} has no recorded registrant (it was "
                            "created before teams), so no approver can be shown to be a second person: register "
                            "it again (a new version from the same source records who registered it) and approve "
                            "that version",
                        )
                if identity in registrants:
                    return (
                        "four-eyes",
                        "four-eyes: the approver of a version must be someone other than who registered it",
                    )
        elif low in WRITE_ONCE_TAGS:
            if value is None:
                return "platform-tag", f"platform-tag: '{key}' is written once, at registration, and never removed"
            # Only in the create request: set afterwards on a version that has none (one from before teams),
            # anyone could name themselves its registrant and so make its real author a valid second person.
            if not write.kind.startswith("create"):
                return (
                    "platform-tag",
                    f"platform-tag: '{key}' is written only when the version is created (in its create request), "
                    "never afterwards",
                )
            if not _names_caller(low, value, identity):
                return "platform-tag", f"platform-tag: '{key}' must name the caller ({identity})"
        elif low.startswith(APPEND_ONLY_PREFIXES):
            if not write.kind.startswith("create") and not state_read:
                state, state_read = lookup(write.name, write.version), True
            problem = append_only_problem(key, value, identity, write.kind, state)
            if problem is not None:
                return "platform-tag", problem
        elif not release:
            return (
                "platform-tag",
                f"platform-tag: '{key}' (gates) is written only by the release pipeline's identities",
            )
    return None


def append_only_problem(key: str, value: str | None, identity: str, kind: str, state: dict | None) -> str | None:
    """Why a write of the append-only record ``key`` is refused; None when it may pass. Anyone MLflow lets
    edit the object adds a record, as themselves (the JSON value's ``by`` is the caller, compared as the
    registration tags' are); nobody, the release identities included, removes or rewrites one: the history is
    the audit of who did what, so its author cannot be someone else and it cannot be edited afterwards.
    ``state``: the object's current tags (ignored for a create request, whose object is new)."""
    what = "registered model" if kind in ("model-tag", "create-model") else "model version"
    if value is None:
        return f"platform-tag: '{key}' is an append-only record: nobody removes it"
    if not kind.startswith("create"):
        if state is None:
            return (
                f"platform-tag: '{key}' is an append-only record, and the {what} could not be read to check it is new"
            )
        if any(str(k).strip().lower() == key.strip().lower() for k in state.get("tags") or {}):
            return (
                f"platform-tag: '{key}' is an append-only record and the {what} already has it: "
                "append a new one (the next sequence number) instead of rewriting it"
            )
    try:
        rec = json.loads(value)
    except ValueError:
        rec = None
    by = rec.get("by") if isinstance(rec, dict) else None
    if not isinstance(by, str) or by.strip().lower() != identity:
        return (
            f"platform-tag: '{key}' is an append-only record written by its author: its value must be a JSON "
            f'object whose "by" is the caller ({identity})'
        )
    return None


# ------------------------------------------------------------------------------------- the ASGI layer


class AccessGuard:
    """The outermost layer of ``platform-auth``: the platform identity headers and the protected-promotion
    rules, around the tracking guard (``inner``, which keeps its own rules: identity domain, webhooks, 5xx).
    ``settings``: the guard's ``Settings``; ``policy_path``: the access policy."""

    def __init__(self, inner, settings, policy_path: str):
        self._inner = inner
        self._settings = settings
        self._policy_path = policy_path

    async def __call__(self, scope, receive, send):
        import mlflow_platform_guard as guard

        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        headers = list(scope.get("headers") or [])
        host = dict(headers).get(b"host", b"").decode("latin-1")
        public = guard.identity_required(self._settings, host)
        raw, identity, groups = with_platform_identity(headers, public)
        scope = {**scope, "headers": raw}
        email = dict(headers).get(FORWARDED_EMAIL_HEADER, b"").decode("latin-1")
        if public and not guard.email_allowed(self._settings, email):
            await self._inner(scope, receive, send)  # the guard refuses it, before any rule reads the registry
            return
        path = str(scope.get("path", ""))
        method = str(scope.get("method", "GET")).upper()
        match = REGISTRY_WRITE_PATH.match(re.sub(r"/{2,}", "/", path))
        key = match and (match.group("suffix").lower().rstrip("/"), method)
        if key in REGISTRY_WRITES:
            client_receive = receive  # read to its end by _buffer: it still reports the client's disconnect
            body, receive = await guard._buffer(receive, MAX_REGISTRY_BODY)
            if body is None:
                await guard._refuse(send, 413, "INVALID_PARAMETER_VALUE", "The request body is too large.")
                return
            refusal, doc = await self._refusal(identity, groups, raw, key, body)
            if refusal is not None:
                _logger.warning("refused %s %s for %r: %s", method, path, identity, refusal[2])
                await guard._refuse(send, *refusal)
                return
            recorded = with_recorded_registrant(doc, identity) if key == ("model-versions/create", "POST") else None
            if recorded is not None:
                scope, receive = with_body(scope, client_receive, json.dumps(recorded).encode())
        await self._inner(scope, receive, send)

    async def _refusal(self, identity, groups, headers, key, body):
        """((status, error_code, message), None) when the rules refuse this registry write; (None, the parsed
        body) when it may pass."""
        import asyncio

        named = {v.decode("latin-1").strip() for k, v in headers if k.lower() == WORKSPACE_HEADER}
        if len(named) > 1:  # the rules and MLflow must judge the same workspace
            return (400, "INVALID_PARAMETER_VALUE", "Name one workspace (X-MLflow-Workspace)."), None
        workspace = next(iter(named), "") or "default"
        try:
            doc = parse_json_body(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return (400, "INVALID_PARAMETER_VALUE", "The request body is not a JSON object."), None
        if not identity:
            return (401, "UNAUTHENTICATED", "No verified identity on this request."), None
        policy = current_policy(self._policy_path)
        write = parse_write(key[0], key[1], doc)
        refusal = await asyncio.to_thread(
            promotion_refusal, policy, identity, groups, workspace, write, registry_lookup(workspace)
        )
        return (None, doc) if refusal is None else ((403, "PERMISSION_DENIED", refusal[1]), None)


def with_body(scope: dict, receive, body: bytes):
    """(scope, receive) that hand the app ``body`` instead of the request's (already read to its end from
    ``receive``, which then still reports the client's disconnect). Content-Length is the new length; a
    chunked request's Transfer-Encoding goes, the body being whole now."""
    drop = (b"content-length", b"transfer-encoding")
    headers = [(k, v) for k, v in scope.get("headers") or [] if k.lower() not in drop]
    headers.append((b"content-length", str(len(body)).encode()))
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return {**scope, "headers": headers}, replay


def registry_lookup(workspace: str):
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


def auth_ini(database_uri: str) -> str:
    """MLflow's auth configuration with teams: everything comes from roles (no default permission, no
    implicit access to the ``default`` workspace), identities from :func:`authenticate`. ``%`` is doubled:
    configparser would read it as interpolation (URL-encoded passwords have them)."""
    return (
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {database_uri.replace('%', '%%')}\n"
        f"admin_username = {INTERNAL_IDENTITY}\n"
        "authorization_function = mlflow_platform_access:authenticate\n"
        "grant_default_workspace_access = false\n"
    )


def create_app():
    """The ``platform-auth`` app: MLflow's basic-auth app with workspaces, in the guard, in ``AccessGuard``.

    The guard's dist-info declares it (``mlflow.app`` group):
    ``platform-auth = mlflow_platform_access:create_app``. A function, so ``mlflow server`` runs it as a
    uvicorn ``--factory`` in each worker. It writes the auth ini (no password in a ConfigMap: the database
    URI comes from the server's environment), points ``MLFLOW_AUTH_CONFIG_PATH`` at it and only then
    imports MLflow's auth app, which reads its configuration at import.
    """
    import tempfile

    import mlflow_platform_guard as guard

    settings = guard.Settings.from_env()
    policy_path = os.environ.get(ENV_POLICY, "").strip()
    if not policy_path:
        raise ValueError(f"{ENV_POLICY} is not set: platform-auth needs the access policy")
    current_policy(policy_path)  # a broken policy fails the start, not each request
    for var in ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_BASIC_AUTH_FAIL_CLOSED"):
        if os.environ.setdefault(var, "true").strip().lower() not in ("true", "1"):
            raise ValueError(f"{var} must be true with platform-auth (teams rely on it)")
    directory = os.environ.get(ENV_AUTH_DIR) or tempfile.gettempdir()
    fd, tmp = tempfile.mkstemp(prefix=".auth-", suffix=".ini", dir=directory)  # mode 0600
    with os.fdopen(fd, "w") as f:
        f.write(auth_ini(backend_store_uri()))
    path = os.path.join(directory, AUTH_INI)
    os.replace(tmp, path)  # atomic: the workers write the same content at the same time
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = path
    os.environ["MLFLOW_AUTH_ADMIN_USERNAME"] = INTERNAL_IDENTITY
    # Only needed when the admin user does not exist yet (the sync Job creates it); nobody logs in with it.
    os.environ.setdefault("MLFLOW_AUTH_ADMIN_PASSWORD", secrets.token_urlsafe(32))
    # Flask's secret signs only the auth app's create-user form (CSRF), unused here: nobody has a password.
    os.environ.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_urlsafe(32))
    from mlflow.server.auth import create_app as create_auth_app

    return AccessGuard(guard.PlatformGuard(create_auth_app(), settings), settings, policy_path)


# --------------------------------------------------------------------------------- authorization_function

_assign_lock = threading.Lock()
_assigned: dict = {}  # (identity, groups) -> monotonic time of the last assignment


def _unauthorized():
    from flask import Response

    body = json.dumps({"error_code": "UNAUTHENTICATED", "message": "No verified identity on this request."})
    return Response(body, status=401, mimetype="application/json")


def authenticate():
    """MLflow's ``authorization_function``: the caller from the guard's headers, its user and roles made
    to match the policy. Returns werkzeug's ``Authorization`` (what MLflow expects) or a 401 response."""
    from flask import request
    from werkzeug.datastructures import Authorization

    identity = (request.headers.get(IDENTITY_HEADER) or "").strip()
    if not identity:
        return _unauthorized()
    groups = parse_groups(request.headers.getlist(GROUPS_HEADER))
    key = (identity, groups)
    now = time.monotonic()
    with _assign_lock:
        fresh = now - _assigned.get(key, -1e9) < CACHE_SECONDS
    if not fresh:
        ensure_user(identity, groups)
        with _assign_lock:
            if len(_assigned) > 10000:
                _assigned.clear()
            _assigned[key] = now
    return Authorization("basic", {"username": identity})


def _auth_store():
    from mlflow.server.auth import store

    return store


def ensure_user(identity: str, groups, policy: Policy | None = None, store=None) -> None:
    """Creates ``identity`` on first sight, sets its admin flag, makes its ``platform.*`` roles the policy's."""
    from mlflow.exceptions import MlflowException

    policy = policy or current_policy()
    store = store or _auth_store()
    admin = policy.is_admin(identity, groups)
    if not store.has_user(identity):
        try:
            store.create_user(identity, secrets.token_urlsafe(32) + "aA1!", is_admin=admin)
        except MlflowException:
            if not store.has_user(identity):  # another worker created it meanwhile
                raise
    user = store.get_user(identity)
    if bool(user.is_admin) != admin:
        store.update_user(identity, is_admin=admin)
    wanted = {(r.workspace, r.name) for r in policy.roles_for(groups, identity)}
    roles = store.list_user_roles(user.id)
    have = {(r.workspace, r.name): r.id for r in roles if r.name.startswith(ROLE_PREFIX)}
    # MLflow keeps a per-user role in each workspace for the grants a user gets outside roles (MANAGE on
    # what they create). Someone no longer in any of a workspace's teams loses those too: otherwise a
    # person removed from a team would keep full access to everything they created there.
    own = f"__user_{user.id}__"
    member_of = {ws for ws, _ in wanted}
    for r in roles:
        if r.name == own and r.workspace not in member_of and not admin:
            try:
                store.delete_role(r.id)
            except MlflowException:
                pass  # deleted meanwhile by another worker
    for ws_name, role_id in have.items():
        if ws_name not in wanted:
            try:
                store.unassign_role_from_user(user.id, role_id)
            except MlflowException:
                pass  # already gone (another worker, or the sync deleted the role)
    for ws, name in wanted - set(have):
        try:
            role = store.get_role_by_name(ws, name)
        except MlflowException:
            _logger.warning("role %s in workspace %s is in the policy but not in MLflow: run the sync", name, ws)
            continue
        try:
            store.assign_role_to_user(user.id, role.id)
        except MlflowException:
            pass  # assigned meanwhile by another worker


# ------------------------------------------------------------------------------------------------- sync


def backend_store_uri(env=None) -> str:
    env = os.environ if env is None else env
    for var in ("_MLFLOW_SERVER_FILE_STORE", "MLFLOW_BACKEND_STORE_URI", "MLFLOW_TRACKING_URI"):
        if env.get(var):
            return env[var]
    raise PolicyError("no backend store URI: set MLFLOW_BACKEND_STORE_URI")


def sync(policy: Policy, db_uri: str) -> dict:
    """Applies ``policy`` to the stores at ``db_uri``; returns {created, updated, deleted, unchanged}."""
    from mlflow.entities import Workspace
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
    from mlflow.store.workspace.sqlalchemy_store import SqlAlchemyStore as WorkspaceStore

    summary = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    workspaces = WorkspaceStore(db_uri)
    existing = {w.name: w for w in workspaces.list_workspaces()}
    declared = dict(policy.workspaces)
    if "default" not in declared:
        declared = {"default": None, **declared}  # a pre-existing installation's experiments live there
    for name, description in declared.items():
        if name not in existing:
            existing[name] = workspaces.create_workspace(Workspace(name=name, description=description or None))
            summary["created"].append(f"workspace/{name}")
        elif description is not None and (existing[name].description or "") != description:
            workspaces.update_workspace(Workspace(name=name, description=description))
            summary["updated"].append(f"workspace/{name}")
        else:
            summary["unchanged"].append(f"workspace/{name}")
    # A workspace the policy no longer names stays, with everything in it: only its roles go (below).
    missing = sorted({r.workspace for r in policy.roles} - set(existing))
    if missing:
        raise PolicyError(f"policy: roles name workspaces {missing} that the policy does not declare")

    store = SqlAlchemyStore()
    store.init_db(db_uri)  # runs the auth DB's migrations
    wanted = {(r.workspace, r.name): r for r in policy.roles}
    for role in store.list_roles():
        key = (role.workspace, role.name)
        if not role.name.startswith(ROLE_PREFIX):
            continue
        if key not in wanted:
            store.delete_role(role.id)
            summary["deleted"].append(f"role/{role.workspace}/{role.name}")
            continue
        want = wanted.pop(key)
        perms = store.list_role_permissions(role.id)
        have = {(p.resource_type, p.resource_pattern, p.permission) for p in perms}
        if have == want.grants():
            summary["unchanged"].append(f"role/{role.workspace}/{role.name}")
            continue
        for p in perms:
            if (p.resource_type, p.resource_pattern, p.permission) not in want.grants():
                store.remove_role_permission(p.id)
        for rt, pattern, perm in sorted(want.grants() - have):
            store.add_role_permission(role.id, rt, pattern, perm)
        summary["updated"].append(f"role/{role.workspace}/{role.name}")
    for (ws, name), want in sorted(wanted.items()):
        role = store.create_role(name, ws, description="managed by the platform's access policy")
        for rt, pattern, perm in sorted(want.grants()):
            store.add_role_permission(role.id, rt, pattern, perm)
        summary["created"].append(f"role/{ws}/{name}")
    if store.has_user(INTERNAL_IDENTITY):
        if not store.get_user(INTERNAL_IDENTITY).is_admin:
            store.update_user(INTERNAL_IDENTITY, is_admin=True)
            summary["updated"].append(f"user/{INTERNAL_IDENTITY}")
        else:
            summary["unchanged"].append(f"user/{INTERNAL_IDENTITY}")
    else:
        try:
            store.create_user(INTERNAL_IDENTITY, secrets.token_urlsafe(32) + "aA1!", is_admin=True)
        except MlflowException:
            if not store.has_user(INTERNAL_IDENTITY):
                raise
        summary["created"].append(f"user/{INTERNAL_IDENTITY}")
    return summary


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlflow_platform_access")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sync", help="apply the access policy to MLflow's workspaces, roles and users")
    p.add_argument(
        "--policy", default=os.environ.get(ENV_POLICY), help=f"the policy document (default: the {ENV_POLICY} variable)"
    )
    p.add_argument("--backend-store-uri", default=None, help="default: MLFLOW_BACKEND_STORE_URI")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        if not args.policy:
            raise PolicyError(f"--policy: name the policy document (or set {ENV_POLICY})")
        policy = Policy.load(args.policy)
        uri = args.backend_store_uri or backend_store_uri()
        os.environ["MLFLOW_ENABLE_WORKSPACES"] = "true"  # the stores resolve workspaces as the server does
        summary = sync(policy, uri)
    except PolicyError as err:
        print(f"mlflow_platform_access sync: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # any failure of the stores is exit 1, logged with its cause
        _logger.exception("sync failed")
        print(f"mlflow_platform_access sync: failed: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
