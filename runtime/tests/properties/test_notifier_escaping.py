"""No model name, tag key, tag value or gate reason can make a notification mention people, disguise a
link or add an e-mail header, whatever the characters (each channel's rules: see channels.py)."""

from __future__ import annotations

import email
import email.policy
import re

from hypothesis import given
from hypothesis import strategies as st

from mlflow_platform.events.model import Event, plain
from mlflow_platform.notify import channels

from .conftest import PROPERTY, tried

# Characters that carry meaning somewhere (Slack, Discord markdown, mentions, headers, bidi), plus anything.
NASTY = [
    *"<>&@!|[]()*_~`#-:\\/.=?\r\n\t\x00\x1b\u200b\u202e\u2028\u2029\u3000\uff20",
    "<!channel>",
    "<!here|here>",
    "<@U024BE7LH>",
    "<#C123>",
    "<https://evil.example|docs>",
    "[docs](https://evil.example)",
    "@everyone",
    "@here",
    "@channel",
    "<@&123456789012345678>",
    "<t:1700000000:R>",
    "||spoiler||",
    "```",
    "https://ok.example/a?b=c&d=e#f",
    "\r\nBcc: attacker@example.net",
    "=?utf-8?q?x?=",
]
TEXT = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)), max_size=30).map("".join)
KINDS = [
    "registered_model.created",
    "model_version.created",
    "model_version.stage_changed",
    "model_version_tag.set",
    "model_version_alias.created",
    "model_version_alias.deleted",
    "gate.refused",
    "delivery.failed",
    "service.behind",
]
EVENTS = st.builds(
    Event,
    kind=st.sampled_from(KINDS),
    model=TEXT.filter(bool),
    version=st.one_of(st.none(), TEXT),
    detail=st.fixed_dictionaries(
        {},
        optional={
            k: TEXT for k in ("key", "value", "alias", "gate", "reason", "from", "to", "channel", "failed_event")
        },
    ),
)
GROUP_MENTION = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# What a masked link, a mention, a spoiler, code or emphasis needs unescaped in Discord.
DISCORD_MARKUP = set("[]()<>|*_~`\\")


def slack_unescape(s: str) -> str:
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def discord_render(s: str) -> tuple[str, set[str]]:
    """Discord's escape rule (a backslash before an ASCII punctuation character is that character,
    literally): the displayed text, and the punctuation left unescaped (which markdown could act on)."""
    out, unescaped, i = [], set(), 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in PUNCT:
            out.append(s[i + 1])
            i += 2
            continue
        if c in PUNCT:
            unescaped.add(c)
        out.append(c)
        i += 1
    return "".join(out), unescaped


@PROPERTY
@given(TEXT)
def test_slack_text_has_no_control_characters_left(text):
    out = channels.slack_escape(text)
    assert "<" not in out and ">" not in out
    assert re.fullmatch(r"([^&]|&(amp|lt|gt);)*", out, re.DOTALL)
    assert not GROUP_MENTION.search(out)
    assert slack_unescape(out).replace(channels.ZWSP, "") == plain(text, 40_000)
    tried("Slack escaping: no <, > or bare & reach Slack; the text reads the same")


@PROPERTY
@given(TEXT)
def test_discord_text_has_no_markup_left(text):
    out = channels.discord_escape(text)
    shown, unescaped = discord_render(out)
    assert not unescaped & DISCORD_MARKUP, unescaped
    # Unescaped punctuation only inside URLs, which are kept as they are.
    outside_urls = channels._URL.sub("", out)
    assert not discord_render(outside_urls)[1]
    assert not GROUP_MENTION.search(shown)
    assert shown.replace(channels.ZWSP, "") == plain(text, 10_000)
    tried("Discord escaping: no masked link, mention, spoiler, code or emphasis; the text reads the same")


@PROPERTY
@given(EVENTS)
def test_every_message_is_safe_on_every_channel(event):
    slack = channels.slack_payload(event)
    assert "<" not in slack["text"] and not GROUP_MENTION.search(slack["text"])
    discord = channels.discord_payload(event)
    assert discord["allowed_mentions"] == {"parse": []} and discord["flags"] == channels.SUPPRESS_EMBEDS
    assert len(discord["content"]) <= channels.DISCORD_MAX
    shown, unescaped = discord_render(discord["content"])
    assert not unescaped & DISCORD_MARKUP and not GROUP_MENTION.search(shown)
    assert "\n" not in event.summary() and "\r" not in event.summary()
    tried("Every event kind, hostile fields: Slack/Discord payloads inert, Discord pings nobody")


@PROPERTY
@given(EVENTS)
def test_no_value_adds_an_email_header(event):
    msg = channels.email_message(event, {"from": "mlflow@example.com", "to": ["team@example.com"]})
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert sorted(parsed.keys()) == sorted(
        ["Subject", "From", "To", "Message-ID", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
    )
    assert parsed["To"] == "team@example.com" and parsed["From"] == "mlflow@example.com"
    subject = str(parsed["Subject"])
    assert "\r" not in subject and "\n" not in subject
    tried("E-mail: exactly our headers, one-line Subject, whatever the values")
