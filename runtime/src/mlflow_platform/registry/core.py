"""The registry tool's operations, over ``mlflow.MlflowClient`` (REST through the platform's proxy,
or any MLflow store in tests).

Every operation is idempotent: running it twice changes nothing the second time. Every promotion
decision (promoted, refused, rolled back, approved) is recorded on the model version and in the
model's append-only history (:mod:`.history`).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field

from mlflow_platform.common.errors import BadInput

from . import history
from .errors import AccessRefused, Refused, RegistryToolError
from .gates import TARGET_STAGES, GateResult, Gates, GateSet, check_target, evaluate_metric
from .identity import Identity, Person, normalize_email, same_person

TAG_REGISTERED_BY = "platform.registered_by"
#: Who registered the version (JSON ``{by, email, sub, iss, started_by}``): the four-eyes rule reads it.
TAG_REGISTRANT = "platform.registrant"
TAG_SOURCE = "platform.source"
APPROVAL_PREFIX = "platform.approval."
PREVIOUS_SUFFIX = "-previous"

#: Retries of MLflow's client on 408/429/500/502/503/504 (urllib3 Retry, every method, exponential
#: backoff, Retry-After honoured), unless the caller set them: bounded so a pipeline fails in minutes.
RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


def apply_retry_defaults(environ=os.environ) -> None:
    for k, v in RETRY_DEFAULTS.items():
        environ.setdefault(k, v)


def _mlflow_error(err: Exception) -> RegistryToolError | AccessRefused:
    if getattr(err, "error_code", "") == "PERMISSION_DENIED":
        return access_refused(err)
    return RegistryToolError(f"MLflow: {getattr(err, 'message', None) or err}")


def access_refused(err: Exception) -> AccessRefused:
    """A 403 of the tracking server: with teams on, its access rules (see docs/access.md); the message is the
    server's, naming the rule, with the workspace the tool acted in (the usual cause of a surprise 403)."""
    from mlflow.utils.workspace_context import get_request_workspace

    message = str(getattr(err, "message", None) or err).removeprefix("PERMISSION_DENIED: ")
    workspace = get_request_workspace() or "default"
    return AccessRefused(f"refused by the tracking server (workspace {workspace}): {message}")


def _read(call, *args, missing: str):
    """``call(*args)``: a registry object; not found is bad input (``missing`` says what to fix), any
    other failure MLflow's error (exit 1)."""
    try:
        return call(*args)
    except Exception as err:
        if _not_found(err):
            raise BadInput(missing) from err
        raise _mlflow_error(err) from err


def _not_found(err: Exception) -> bool:
    return getattr(err, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


@dataclass
class Outcome:
    """What an operation did, for the CLI to print: ``changed`` is false when nothing was written."""

    message: str
    changed: bool
    data: dict = field(default_factory=dict)


class Registry:
    def __init__(self, client=None):
        if client is None:
            apply_retry_defaults()
            from mlflow import MlflowClient

            client = MlflowClient()
        self.client = client

    # ── reading ──────────────────────────────────────────────────────────────
    def model(self, name: str):
        if not name:
            raise BadInput("--model: name a registered model")
        return _read(
            self.client.get_registered_model,
            name,
            missing=f"unknown model {name!r}: no registered model has that name (register a version first)",
        )

    def version(self, name: str, version: str):
        self.model(name)
        if not str(version).isdigit():
            raise BadInput(f"--version {version!r}: a model version is a positive whole number")
        return _read(
            self.client.get_model_version,
            name,
            str(version),
            missing=f"unknown version {version} of model {name!r}: "
            f"see `mlflow-platform registry status --model {name}`",
        )

    @staticmethod
    def aliases(model) -> dict[str, str]:
        raw = model.aliases or {}
        return {k: str(v) for k, v in raw.items()} if isinstance(raw, dict) else {a.alias: str(a.version) for a in raw}

    def status(self, name: str) -> Outcome:
        model = self.model(name)
        aliases = self.aliases(model)
        versions = sorted(self.client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
        rows = [
            {
                "version": v.version,
                "stage": v.current_stage,
                "aliases": sorted(a for a, n in aliases.items() if n == str(v.version)),
                "registered_by": (v.tags or {}).get(TAG_REGISTERED_BY, v.user_id or ""),
                "run_id": v.run_id,
            }
            for v in versions
        ]
        entries = history.read_history(dict(model.tags or {}))
        lines = [f"model {name}"]
        lines += [f"  alias {a} -> version {v}" for a, v in sorted(aliases.items())] or ["  no aliases"]
        lines += [
            f"  version {r['version']}: stage {r['stage']}"
            f"{', aliases ' + ', '.join(r['aliases']) if r['aliases'] else ''}"
            f", registered by {r['registered_by'] or '?'}"
            for r in rows
        ]
        lines.append(f"history ({len(entries)} entries):")
        for e in entries:
            lines.append(
                f"  #{e.get('seq')} {e.get('at')} {e.get('action')} {e.get('result')} v{e.get('version')}"
                f" -> {e.get('target', '')} by {e.get('by')}"
                + (f" (previous v{e['previous']})" if e.get("previous") else "")
                + "".join(
                    f"\n      {g['gate']}: {g['result']}: {g['detail']}"
                    for g in e.get("gates", [])
                    if g.get("result") != "pass"
                )
            )
        return Outcome(
            "\n".join(lines), False, {"model": name, "aliases": aliases, "versions": rows, "history": entries}
        )

    # ── register ─────────────────────────────────────────────────────────────
    def register(
        self,
        name: str,
        model_uri: str,
        me: Identity,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        started_by: list[str] | None = None,
    ) -> Outcome:
        """``started_by``: e-mail addresses of whoever started the pipeline that registers (candidates
        when the source is ambiguous): none of them may approve the version."""
        if not name:
            raise BadInput("--model: name the registered model")
        if not model_uri:
            raise BadInput("name what to register: --run-id and --artifact-path, or --model-uri")
        from mlflow.exceptions import MlflowException

        try:
            existing = self.client.search_model_versions(f"name='{name}'")
        except MlflowException as err:
            raise _mlflow_error(err) from err
        for v in existing:
            if (v.tags or {}).get(TAG_SOURCE) == model_uri:
                changed = self._apply_metadata(name, v, tags or {}, description)
                return Outcome(
                    f"{name} version {v.version} already registered from {model_uri}"
                    + ("; tags/description updated" if changed else "; nothing changed"),
                    changed,
                    {"model": name, "version": v.version},
                )
        reserved = sorted(k for k in (tags or {}) if k in (TAG_REGISTRANT, TAG_REGISTERED_BY, TAG_SOURCE))
        if reserved:
            raise BadInput(f"--tag {reserved[0]}: written by the registry tool itself; choose another key")
        registrant = {
            **me.as_record(),
            "started_by": sorted({normalize_email(x) for x in (started_by or [])}),
        }
        registrant.pop("groups", None)
        all_tags = {
            **(tags or {}),
            TAG_SOURCE: model_uri,
            TAG_REGISTERED_BY: me.name,
            TAG_REGISTRANT: json.dumps(registrant, sort_keys=True),
        }
        import mlflow

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = mlflow.register_model(model_uri, name, tags=all_tags)
        except MlflowException as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise BadInput(f"cannot register {model_uri}: {err.message}") from err
            raise _mlflow_error(err) from err
        if description:
            self.client.update_model_version(name, v.version, description=description)
        history.append(
            self.client,
            name,
            {
                "action": "register",
                "result": "registered",
                "model": name,
                "version": str(v.version),
                "by": me.name,
                "source": model_uri,
            },
            dict(self.model(name).tags or {}),
        )
        return Outcome(
            f"registered {name} version {v.version} from {model_uri} as {me.name}",
            True,
            {"model": name, "version": str(v.version)},
        )

    def _apply_metadata(self, name, v, tags, description) -> bool:
        changed = False
        for k, val in tags.items():
            if (v.tags or {}).get(k) != val:
                self.client.set_model_version_tag(name, v.version, k, val)
                changed = True
        if description is not None and (v.description or "") != description:
            self.client.update_model_version(name, v.version, description=description)
            changed = True
        return changed

    # ── gates ────────────────────────────────────────────────────────────────
    def _metrics_of(self, version) -> dict[str, float]:
        if not version.run_id:
            return {}
        return dict(self.client.get_run(version.run_id).data.metrics)

    def _model_info(self, name: str, version: str):
        from mlflow.models import get_model_info

        try:
            return get_model_info(f"models:/{name}/{version}")
        except Exception as err:  # noqa: BLE001 - any failure to read MLmodel is reported as the gate's
            return err

    def evaluate(
        self, name: str, version: str, target: str, gates: Gates, requester: Identity
    ) -> tuple[list[GateResult], str | None]:
        """Runs every gate of ``target`` for ``version``; raises BadInput on a gate that cannot be evaluated."""
        check_target(target)
        v = self.version(name, version)
        model = self.model(name)
        holder = self.aliases(model).get(target)
        baseline_version = holder if holder and holder != str(v.version) else None
        gs: GateSet = gates.for_model(name, target)
        results: list[GateResult] = []

        if gs.metrics:
            candidate = self._metrics_of(v)
            baseline = (
                self._metrics_of(self.client.get_model_version(name, baseline_version)) if baseline_version else {}
            )
            for g in gs.metrics:
                if g.metric not in candidate:
                    logged = ", ".join(sorted(candidate)) or "none"
                    raise BadInput(
                        f"gate metric {g.metric!r} (target {target} of {name}): the run {v.run_id or '(none)'} "
                        f"of version {v.version} never logged it "
                        f"(it logged: {logged}); fix the gate in registry.gates or log the metric"
                    )
                base = None
                if baseline_version and g.relative:
                    if g.metric not in baseline:
                        raise BadInput(
                            f"gate metric {g.metric!r}: the current {target} holder, version {baseline_version}, "
                            "never logged it; "
                            "relative thresholds need it on both versions"
                        )
                    base = baseline[g.metric]
                results.append(
                    evaluate_metric(g, candidate[g.metric], base, baseline_version if base is not None else None)
                )

        tags = dict(v.tags or {})
        for key, want in gs.required_tags:
            have = tags.get(key)
            ok = have is not None and (want == "*" or have == want)
            results.append(
                GateResult(f"tag:{key}", ok, f"{key}={have!r}, required {'any value' if want == '*' else repr(want)}")
            )

        if gs.require_signature or gs.require_input_example:
            info = self._model_info(name, str(v.version))
            if isinstance(info, Exception):
                detail = f"could not read the model's MLmodel: {info}"
                if gs.require_signature:
                    results.append(GateResult("signature", False, detail))
                if gs.require_input_example:
                    results.append(GateResult("input-example", False, detail))
            else:
                if gs.require_signature:
                    results.append(
                        GateResult(
                            "signature",
                            info.signature is not None,
                            "signature present" if info.signature is not None else "the model has no signature",
                        )
                    )
                if gs.require_input_example:
                    has = bool(getattr(info, "saved_input_example_info", None))
                    results.append(
                        GateResult(
                            "input-example", has, "input example present" if has else "the model has no input example"
                        )
                    )

        if gs.approval_required:
            results.append(self._approval_gate(name, v, target, gs, requester))
        return results, holder

    @staticmethod
    def registrant(v) -> tuple[Person | None, list[Person]]:
        """Who registered ``v`` and who started the pipeline that did; (None, []) when no record says."""
        tags = v.tags or {}
        raw = tags.get(TAG_REGISTRANT)
        if raw:
            try:
                rec = json.loads(raw)
            except ValueError:
                rec = None
            who = Person.from_record(rec)
            if who is not None:
                starters = [
                    Person(email=normalize_email(x)) for x in (rec.get("started_by") or []) if isinstance(x, str) and x
                ]
                return who, starters
        legacy = tags.get(TAG_REGISTERED_BY)
        return (Person(legacy=legacy), []) if legacy else (None, [])

    def _second_person_problem(self, name: str, v, approver: Person) -> str | None:
        """Why ``approver`` may not approve ``v`` (registrant unknown, the registrant, or who started the
        pipeline that registered it); None when they may."""
        registrant, starters = self.registrant(v)
        if registrant is None:
            return (
                f"{name} version {v.version} has no recorded registrant (it was registered outside the registry tool), "
                "so no approver can be shown to be a second person: register it with "
                "`mlflow-platform registry register`"
            )
        if same_person(approver, registrant):
            return f"{approver.describe()} registered {name} version {v.version}: the approver must be a second person"
        for starter in starters:
            if same_person(approver, starter):
                return (
                    f"{approver.describe()} started the pipeline that registered {name} version {v.version}: "
                    "the approver must be a second person"
                )
        return None

    def _approval_gate(self, name: str, v, target: str, gs: GateSet, requester: Identity) -> GateResult:
        raw = (v.tags or {}).get(APPROVAL_PREFIX + target)
        if not raw:
            return GateResult(
                "approval",
                False,
                f"no approval for {target}: a member of {', '.join(gs.approval_groups)} "
                "other than the registrant and the requester runs "
                f"`mlflow-platform registry approve --model {name} --version {v.version} --to {target}`",
            )
        try:
            a = json.loads(raw)
        except ValueError:
            return GateResult("approval", False, f"the approval tag {APPROVAL_PREFIX + target} is not JSON")
        approver = Person.from_record(a) if isinstance(a, dict) else None
        if approver is None:
            return GateResult("approval", False, f"the approval tag {APPROVAL_PREFIX + target} names nobody")
        by = approver.describe()
        if same_person(approver, Person.of(requester)):
            raise BadInput(
                f"the approval of {name} version {v.version} for {target} is by {by}, who is also the requester: "
                "a second person must approve (or another identity must request the promotion)"
            )
        problem = self._second_person_problem(name, v, approver)
        if problem is not None:
            return GateResult("approval", False, problem)
        groups = set(a.get("groups") or [])
        if not groups & set(gs.approval_groups):
            return GateResult(
                "approval",
                False,
                f"approved by {by}, who was not in an approvers group ({', '.join(gs.approval_groups)}) when approving",
            )
        return GateResult(
            "approval",
            True,
            f"approved by {by} at {a.get('at')} (groups {', '.join(sorted(groups & set(gs.approval_groups)))})",
        )

    def check(self, name: str, version: str, target: str, gates: Gates, me: Identity) -> Outcome:
        results, holder = self.evaluate(name, version, target, gates, me)
        ok = all(r.passed for r in results)
        lines = [f"{name} version {version} -> {target}: {'all gates pass' if ok else 'refused'}"]
        lines += [f"  {r.gate}: {'pass' if r.passed else 'FAIL'}: {r.detail}" for r in results] or [
            "  no gates configured"
        ]
        out = Outcome(
            "\n".join(lines), False, {"passed": ok, "gates": [r.as_record() for r in results], "holder": holder}
        )
        if not ok:
            raise Refused(out.message, out.data)
        return out

    # ── approve ──────────────────────────────────────────────────────────────
    def approve(self, name: str, version: str, target: str, gates: Gates, me: Identity) -> Outcome:
        check_target(target)
        v = self.version(name, version)
        gs = gates.for_model(name, target)
        problem = self._second_person_problem(name, v, Person.of(me))
        if problem is not None:
            raise BadInput(problem)
        groups = set(me.groups) & set(gs.approval_groups)
        if gs.approval_groups and not groups:
            raise Refused(
                f"{me.name} is not in an approvers group of {name}/{target} ({', '.join(gs.approval_groups)}); "
                f"the token's groups: {', '.join(me.groups) or 'none'}"
            )
        key = APPROVAL_PREFIX + target
        current = (v.tags or {}).get(key)
        if current:
            try:
                if same_person(Person.from_record(json.loads(current)) or Person(), Person.of(me)):
                    return Outcome(
                        f"{name} version {v.version} is already approved for {target} by {me.name}; nothing changed",
                        False,
                    )
            except (ValueError, AttributeError):
                pass
        record = {**me.as_record(), "groups": sorted(me.groups), "at": history.now(), "via": "tag"}
        self.client.set_model_version_tag(name, str(v.version), key, json.dumps(record, sort_keys=True))
        model_tags = dict(self.model(name).tags or {})
        history.append(
            self.client,
            name,
            {
                "action": "approve",
                "result": "approved",
                "model": name,
                "version": str(v.version),
                "target": target,
                "by": me.name,
            },
            model_tags,
        )
        return Outcome(f"{me.name} approved {name} version {v.version} for {target}", True)

    # ── promote and roll back ────────────────────────────────────────────────
    def promote(self, name: str, version: str, target: str, gates: Gates, me: Identity) -> Outcome:
        check_target(target)
        v = self.version(name, version)
        if v.status != "READY":
            raise BadInput(f"{name} version {v.version} is {v.status}, not READY: wait for its registration to finish")
        stage = TARGET_STAGES[target]
        model = self.model(name)
        holder = self.aliases(model).get(target)
        if holder == str(v.version) and v.current_stage == stage:
            return Outcome(
                f"{name} version {v.version} already holds {target} (alias and stage {stage}); nothing changed", False
            )
        results, holder = self.evaluate(name, version, target, gates, me)
        gate_records = [r.as_record() for r in results]
        model_tags = dict(model.tags or {})
        previous = holder if holder and holder != str(v.version) else None

        def promotion(result: str) -> dict:
            return {
                "action": "promote",
                "result": result,
                "model": name,
                "version": str(v.version),
                "target": target,
                "by": me.name,
                "previous": previous,
                "gates": gate_records,
            }

        if not all(r.passed for r in results):
            entry = promotion("refused")
            past = history.read_history(model_tags)
            same = [
                e
                for e in past
                if e.get("action") == "promote" and e.get("version") == str(v.version) and e.get("target") == target
            ]
            # A refusal repeated with the same outcome is the same decision: recorded once.
            recorded = (
                same[-1]
                if same and history.same_decision(same[-1], {**entry, "format": history.FORMAT_VERSION})
                else None
            )
            if recorded is None:
                recorded = history.append(self.client, name, entry, model_tags)
            failed = [f"{r.gate}: {r.detail}" for r in results if not r.passed]
            raise Refused(
                f"refused: {name} version {v.version} -> {target} (decision #{recorded['seq']}):\n  "
                + "\n  ".join(failed),
                recorded,
            )

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stages are deprecated (FutureWarning) but still served
            if previous:
                self.client.set_registered_model_alias(name, target + PREVIOUS_SUFFIX, previous)
            self.client.set_registered_model_alias(name, target, str(v.version))
            # Both views agree: the version takes the stage, every other version in it is archived.
            self.client.transition_model_version_stage(name, str(v.version), stage, archive_existing_versions=True)
            if previous:
                prev = self.client.get_model_version(name, previous)
                if prev.current_stage != "Archived":
                    self.client.transition_model_version_stage(name, previous, "Archived")
        entry = history.append(
            self.client,
            name,
            promotion("promoted"),
            model_tags,
        )
        msg = (
            f"promoted {name} version {v.version} to {target} (alias {target}, stage {stage}) as {me.name}, "
            f"decision #{entry['seq']}"
        )
        if previous:
            msg += f"; previous holder version {previous} archived, reachable as alias {target}{PREVIOUS_SUFFIX}"
        return Outcome(msg, True, entry)

    def rollback(self, name: str, target: str, me: Identity) -> Outcome:
        check_target(target)
        model = self.model(name)
        aliases = self.aliases(model)
        current = aliases.get(target)
        previous = aliases.get(target + PREVIOUS_SUFFIX)
        model_tags = dict(model.tags or {})
        stage = TARGET_STAGES[target]
        if not previous or previous == current:  # the same version: consumed by the last rollback
            past = [
                e
                for e in history.read_history(model_tags)
                if e.get("target") == target and e.get("result") in ("promoted", "rolled-back")
            ]
            if past and past[-1].get("result") == "rolled-back" and past[-1].get("version") == current:
                return Outcome(f"{name} {target} was already rolled back to version {current}; nothing changed", False)
            raise BadInput(
                f"nothing to roll back to: {name} has no alias {target}{PREVIOUS_SUFFIX} "
                f"(or it names the holder itself: no earlier holder of {target} left by a promotion)"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.client.set_registered_model_alias(name, target, previous)
            self.client.transition_model_version_stage(name, previous, stage, archive_existing_versions=True)
            if current and current != previous:
                cur = self.client.get_model_version(name, current)
                if cur.current_stage != "Archived":
                    self.client.transition_model_version_stage(name, current, "Archived")
            # Consumed: a second rollback finds nothing to do instead of swapping back. Pointed at the version
            # that now holds the target rather than deleted: deleting an alias takes MANAGE in MLflow's auth
            # (can_delete), which a release identity with a team's EDIT does not have, and moving an alias is EDIT.
            self.client.set_registered_model_alias(name, target + PREVIOUS_SUFFIX, previous)
        entry = history.append(
            self.client,
            name,
            {
                "action": "rollback",
                "result": "rolled-back",
                "model": name,
                "version": previous,
                "target": target,
                "by": me.name,
                "previous": current,
            },
            model_tags,
        )
        return Outcome(
            f"rolled back {name} {target} from version {current} to version {previous} as {me.name}, "
            f"decision #{entry['seq']}",
            True,
            entry,
        )
