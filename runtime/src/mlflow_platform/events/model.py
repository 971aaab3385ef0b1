"""One registry event, as every channel sees it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


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

    def summary(self) -> str:
        mv = f"{self.model} version {self.version}" if self.version else self.model
        d = self.detail
        match self.kind:
            case "registered_model.created":
                return f"New registered model {self.model}"
            case "model_version.created":
                return f"New model version: {mv}"
            case "model_version.stage_changed":
                return f"{mv}: stage {d.get('from')} -> {d.get('to')}"
            case "model_version_tag.set":
                return f"{mv}: tag {d.get('key')}={d.get('value')}"
            case "model_version_alias.created":
                return f"{self.model}: alias @{d.get('alias')} -> version {self.version}"
            case "model_version_alias.deleted":
                return f"{self.model}: alias @{d.get('alias')} removed (was version {self.version})"
            case "gate.refused":
                return f"{mv}: gate {d.get('gate')} refused{(': ' + str(d.get('reason'))) if d.get('reason') else ''}"
            case "delivery.failed":
                return (
                    f"Notification to {d.get('channel')} failed after {d.get('attempts')} attempts: "
                    f"{d.get('failed_event')}"
                )
            case "service.behind":
                return f"Registry events service is behind the registry: {d.get('reason')}"
        return f"{self.kind}: {mv}"
