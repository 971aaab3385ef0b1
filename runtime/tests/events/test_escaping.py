"""The review's markup-injection probes: tag values and model names reach Slack and Discord as text."""

from mlflow_platform.events.model import Event
from mlflow_platform.notify import channels

HOSTILE = Event(
    "model_version_tag.set",
    "fraud <!channel>",
    "3",
    {
        "key": "production-ready",
        "value": "<https://evil.example|release notes> [docs](https://evil.example) @everyone <@123456789012345678>",
    },
)


def test_slack_gets_no_mention_and_no_disguised_link():
    text = channels.slack_payload(HOSTILE)["text"]
    assert "<!channel>" not in text and "<https://evil.example|" not in text and "<@" not in text
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|release notes&gt;" in text
    assert "@everyone" not in text  # a zero-width space after the @


def test_discord_gets_no_mention_no_masked_link_and_pings_nobody():
    payload = channels.discord_payload(HOSTILE)
    content = payload["content"]
    assert payload["allowed_mentions"] == {"parse": []} and payload["flags"] == channels.SUPPRESS_EMBEDS
    assert "[docs](" not in content and "\\[docs\\]\\(https://evil.example\\)" in content
    assert "<@123" not in content and "\\<\\@123456789012345678\\>" in content
    assert "@everyone" not in content
