import json

import pytest
from mlflow.tracking import MlflowClient

from mlflow_platform.events.settings import load

SECRET = "whsec-test-0123456789"
STATE_KEY = "state-key-for-tests-0123456789abcdef"


def settings_env(**overrides):
    cfg = {
        "trackingUri": "http://tracking.invalid:5000",
        "webhook": {
            "name": "platform-events",
            "url": "http://events.invalid:8080/webhooks/mlflow",
            "events": ["model_version.created", "model_version_tag.set"],
        },
        "reconcileSeconds": 5,
        "maxAgeSeconds": 3600,
        "replayWindowSeconds": 300,
        "watchedTags": ["production-ready"],
        "retry": {"attempts": 3, "backoffSeconds": 0.5},
        "channels": {
            "slack": {
                "events": ["model_version.created", "model_version.stage_changed", "gate.refused", "delivery.failed"]
            },
            "discord": {"events": ["model_version.created", "delivery.failed"]},
            "github": {
                "events": ["model_version.created", "model_version_tag.set", "model_version_alias.created"],
                "repository": "acme/models",
                "apiUrl": "http://github.invalid",
            },
        },
    }
    cfg.update(overrides)
    return {
        "MLFLOW_EVENTS_CONFIG": json.dumps(cfg),
        "MLFLOW_EVENTS_WEBHOOK_SECRET": SECRET,
        "MLFLOW_EVENTS_STATE_KEY": STATE_KEY,
        "MLFLOW_EVENTS_SLACK_URL": "http://slack.invalid/hook",
        "MLFLOW_EVENTS_DISCORD_URL": "http://discord.invalid/hook",
        "MLFLOW_EVENTS_GITHUB_TOKEN": "ghp-test",
    }


@pytest.fixture
def settings():
    return load(settings_env())


class Recorder:
    """The engine's channels in tests: every event goes to the channels named in ``routes_to``; a channel
    in ``failing`` fails (or raises ``raising``)."""

    def __init__(self, routes_to=("slack",)):
        self.routes_to = list(routes_to)
        self.emitted_events = []
        self.sent = []  # (channel, event)
        self.failures = []  # (channel, event kind)
        self.failing = set()
        self.raising = None

    def routes(self, event):
        return list(self.routes_to)

    def emitted(self, event):
        self.emitted_events.append(event)

    def configured(self, channel):
        return channel in self.routes_to

    def deliver(self, channel, event):
        if channel in self.failing:
            if self.raising is not None:
                raise self.raising
            return False, 3, f"{channel}: HTTP 500"
        self.sent.append((channel, event))
        return True, 1, ""

    def failed(self, event, channel, attempts, error):
        self.failures.append((channel, event.kind))


@pytest.fixture
def client(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)
