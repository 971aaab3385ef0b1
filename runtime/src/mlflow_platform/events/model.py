"""One registry event, as every channel sees it (a :class:`mlflow_platform.notify.Message`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from mlflow_platform.notify import plain
from mlflow_platform.notify.channels import MAX_FIELD

__all__ = ["MAX_FIELD", "Event", "plain"]


@dataclass(frozen=True)
class Event:
    kind: str
    model: str
    version: str | None = None
    detail: dict = field(default_factory=dict)
    #: "webhook" or "reconcile": which path noticed it first.
    source: str = "reconcile"
    #: When the registry changed (unix seconds), when the registry says so; for the latency figure.
    changed_at: float | None = None

    def key(self) -> str:
        """Identity of the event: the same change seen by both paths has the same key."""
        return json.dumps([self.kind, self.model, self.version, self.detail], sort_keys=True)

    def message_id(self) -> str:
        return hashlib.sha256(self.key().encode()).hexdigest()[:32]

    def as_dict(self) -> dict:
        return {"event": self.kind, "model": self.model, "version": self.version, **self.detail}

    def as_record(self) -> dict:
        """The event as JSON (kept in the service's state until every channel has it)."""
        return {
            "kind": self.kind,
            "model": self.model,
            "version": self.version,
            "detail": self.detail,
            "source": self.source,
            "changed_at": self.changed_at,
        }

    @classmethod
    def from_record(cls, r: dict) -> Event:
        return cls(
            kind=str(r["kind"]),
            model=str(r["model"]),
            version=None if r.get("version") is None else str(r["version"]),
            detail=dict(r.get("detail") or {}),
            source=str(r.get("source") or "reconcile"),
            changed_at=r.get("changed_at"),
        )

    def summary(self) -> str:
        """The message, as plain text on one line (every field passed through :func:`plain`)."""
        p = plain
        mv = f"{p(self.model)} version {p(self.version)}" if self.version else p(self.model)
        d = self.detail
        match self.kind:
            case "registered_model.created":
                text = f"New registered model {p(self.model)}"
            case "model_version.created":
                text = f"New model version: {mv}"
            case "model_version.stage_changed":
                text = f"{mv}: stage {p(d.get('from'))} -> {p(d.get('to'))}"
            case "model_version_tag.set":
                text = f"{mv}: tag {p(d.get('key'))}={p(d.get('value'))}"
            case "model_version_alias.created":
                text = f"{p(self.model)}: alias @{p(d.get('alias'))} -> version {p(self.version)}"
            case "model_version_alias.deleted":
                text = f"{p(self.model)}: alias @{p(d.get('alias'))} removed (was version {p(self.version)})"
            case "gate.refused":
                reason = f": {p(d.get('reason'))}" if d.get("reason") else ""
                text = f"{mv}: gate {p(d.get('gate'))} refused{reason}"
            case "delivery.failed":
                text = (
                    f"Notification to {p(d.get('channel'))} failed after {p(d.get('attempts'))} attempts: "
                    f"{p(d.get('failed_event'))}"
                )
            case "service.behind":
                text = f"Registry events service is behind the registry: {p(d.get('reason'))}"
            case _:
                text = f"{p(self.kind)}: {mv}"
        if d.get("unverified"):
            # No verified record says this was notified before: the first sight of an object older than
            # maxAgeSeconds (a first deployment), or a state tag someone else wrote or deleted.
            text += " (first seen: no verified record of an earlier notification)"
        return text
