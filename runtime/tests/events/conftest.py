import json

import pytest
from mlflow.tracking import MlflowClient

from mlflow_platform.events.settings import load

SECRET = "whsec-test-0123456789"


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
        "MLFLOW_EVENTS_SLACK_URL": "http://slack.invalid/hook",
        "MLFLOW_EVENTS_DISCORD_URL": "http://discord.invalid/hook",
        "MLFLOW_EVENTS_GITHUB_TOKEN": "ghp-test",
    }


@pytest.fixture
def settings():
    return load(settings_env())


@pytest.fixture
def client(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)
