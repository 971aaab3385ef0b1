"""Channels: Slack (incoming webhook), Discord (webhook), e-mail (SMTP, optional STARTTLS) and GitHub
(``repository_dispatch``). Each turns one message (:class:`Message`: a registry event, a drift alert) into
one notification; :func:`deliver` retries with exponential backoff. No secret (webhook URL, token,
password) appears in an exception or a log line.

Registry content (model names, tag values, gate reasons) is anyone's input: every notification is built
from :meth:`Message.summary` (one line, no control or format characters: :func:`plain`) and then escaped by
each channel's own documented rules, so no value can mention people, disguise a link or add an e-mail header:

- Slack: ``&``, ``<`` and ``>`` are Slack's control characters (mentions ``<!channel>``, ``<@U123>``,
  links ``<https://x|text>``) and must be sent as ``&amp;``, ``&lt;``, ``&gt;``; nothing else is
  entity-encoded ("Formatting text for app surfaces", Escaping text:
  https://docs.slack.dev/messaging/formatting-message-text/#escaping-text). Bare ``@here``/``@channel``
  get a zero-width space after the ``@`` as well, in case a workspace's webhook links names.
- Discord: ``allowed_mentions: {"parse": []}`` (Execute Webhook, Allowed Mentions Object:
  https://discord.com/developers/docs/resources/message#allowed-mentions-object) so nothing in the text
  can ping anyone; every ASCII punctuation character outside a URL is backslash-escaped (Discord's
  markdown treats a backslash before a symbol as the literal symbol: no masked link ``[text](url)``,
  no ``<@id>``/``<t:...>`` tokens, no headings, spoilers or code), ``@everyone``/``@here`` get a
  zero-width space, and ``flags: 4`` (SUPPRESS_EMBEDS, Execute Webhook JSON params:
  https://discord.com/developers/docs/resources/webhook#execute-webhook) keeps links from unfurling.
- E-mail: header values carry no CR/LF (the summary is one line; :func:`header_value` removes any
  that a future caller might pass), so no value can add a header or start the body.
- GitHub: JSON only (``client_payload``); nothing is rendered.
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import requests

from mlflow_platform.common.errors import BadInput

#: Every channel there is.
CHANNELS = ("slack", "discord", "email", "github")
#: The variable holding each channel's secret (filled from a Kubernetes Secret): the webhook URL, the
#: token, the SMTP password (needed only with ``options.username``).
SECRET_ENV = {
    "slack": "MLFLOW_EVENTS_SLACK_URL",
    "discord": "MLFLOW_EVENTS_DISCORD_URL",
    "github": "MLFLOW_EVENTS_GITHUB_TOKEN",
    "email": "MLFLOW_EVENTS_SMTP_PASSWORD",
}

#: The longest value of a field a message carries, by default (tag value, gate reason, feature name).
MAX_FIELD = 500

#: Unicode categories that never belong in a one-line notification: control characters (CR, LF, TAB,
#: ESC...), format characters (bidirectional overrides that reorder what the reader sees, zero-width
#: characters) and line/paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def plain(value: object, limit: int = MAX_FIELD) -> str:
    """``value`` as one line of visible text: every control, format or separator character becomes a
    space, and the result is cut to ``limit`` characters (an ellipsis marks the cut).

    What each channel does on top (escaping its markup) is below.
    """
    text = "".join(" " if unicodedata.category(c) in _INVISIBLE else c for c in str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Message(Protocol):
    """What a channel needs of what it notifies."""

    kind: str

    def summary(self) -> str:
        """One line of plain text (every value through :func:`plain`)."""
        ...

    def as_dict(self) -> dict:
        """The structured form (GitHub's ``client_payload``, the e-mail's body)."""
        ...

    def message_id(self) -> str:
        """Stable identity: the same message, notified twice, has the same id."""
        ...


@dataclass(frozen=True)
class Channel:
    name: str
    events: tuple[str, ...]
    options: dict = field(default_factory=dict)
    secret: str | None = None


def _has_control(value: object) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in str(value))


def channel(name: str, options: Mapping, events: tuple[str, ...], env: Mapping[str, str]) -> Channel:
    """A channel from its configuration and its secret in ``env``; :class:`BadInput` names what to fix.
    Nothing here is echoed back in an error but names: never a secret's value."""
    if name not in CHANNELS:
        raise BadInput(f"channels.{name}: unknown channel; expected one of {', '.join(CHANNELS)}")
    if name == "email":
        for key in ("from", "smtpHost", "username"):
            if _has_control(options.get(key, "")):
                raise BadInput(f"channels.email.{key}: contains a control character (CR, LF, ...)")
        if any(_has_control(t) for t in options.get("to", [])):
            raise BadInput("channels.email.to: an address contains a control character (CR, LF, ...)")
    secret = None
    if name != "email" or options.get("username"):
        secret = env.get(SECRET_ENV[name], "")
        if not secret:
            why = f"channel {name} is enabled" if name != "email" else "channels.email.username is set"
            raise BadInput(f"{SECRET_ENV[name]} is empty: {why} (check the Secret the stack references)")
    return Channel(name=name, events=tuple(events), options=dict(options), secret=secret)


USER_AGENT = "mlflow-platform-events"
#: GitHub's limit on a repository_dispatch event_type.
EVENT_TYPE_MAX = 100
#: Discord's limit on a message's content.
DISCORD_MAX = 2000
#: Discord's SUPPRESS_EMBEDS message flag (1 << 2).
SUPPRESS_EMBEDS = 4
#: Longest Subject: RFC 5322 recommends lines of at most 78 characters; the header is folded below
#: that, and 250 characters keep it readable in every client.
SUBJECT_MAX = 250

ZWSP = "\u200b"
# Bare words some renderers turn into group mentions.
_GROUP_MENTION = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
# A URL kept as it is in Discord messages (escaping inside it would break it); it cannot contain the
# characters a masked link or a mention needs.
_URL = re.compile(r"https?://[^\s<>()\[\]`|*_~\\]+")
_ASCII_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


class DeliveryError(Exception):
    """A channel refused or could not be reached; the message carries no secret."""


def _defuse_mentions(text: str) -> str:
    return _GROUP_MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)


def slack_escape(text: str) -> str:
    """Slack's escaping: ``&`` first, then ``<`` and ``>``; group mentions defused."""
    text = plain(text, 40_000).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _defuse_mentions(text)


def discord_escape(text: str) -> str:
    """Discord markdown escaping: every ASCII punctuation character outside a URL gets a backslash."""
    text = plain(text, 10_000)
    out, last = [], 0
    for m in _URL.finditer(text):
        out.append(_ASCII_PUNCT.sub(r"\\\1", text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_ASCII_PUNCT.sub(r"\\\1", text[last:]))
    return _defuse_mentions("".join(out))


def header_value(text: str, limit: int) -> str:
    """A one-line header value: no CR, LF or other control character, at most ``limit`` characters."""
    return plain(text, limit)


def slack_payload(event: Message) -> dict:
    return {"text": slack_escape(event.summary()), "unfurl_links": False, "unfurl_media": False}


def discord_payload(event: Message) -> dict:
    content = discord_escape(event.summary())
    if len(content) > DISCORD_MAX:
        # Never cut an escape in two (a lone backslash would escape the ellipsis instead).
        content = content[: DISCORD_MAX - 1].rstrip("\\") + "…"
    # No mentions at all: a model or tag name must never ping @everyone, a role or a user.
    return {
        "content": content,
        "username": "MLflow registry",
        "allowed_mentions": {"parse": []},
        "flags": SUPPRESS_EMBEDS,
    }


def github_payload(event: Message) -> dict:
    return {"event_type": f"mlflow.{event.kind}"[:EVENT_TYPE_MAX], "client_payload": event.as_dict()}


def email_message(event: Message, options: dict) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = header_value(f"[MLflow registry] {event.summary()}", SUBJECT_MAX)
    msg["From"] = header_value(options["from"], 320)
    msg["To"] = header_value(", ".join(options["to"]), 4000)
    msg["Message-ID"] = f"<{event.message_id()}@mlflow-platform-events>"
    msg.set_content(event.summary() + "\n\n" + json.dumps(event.as_dict(), indent=2, sort_keys=True) + "\n")
    return msg


def _post(url: str, payload: dict, headers: dict[str, str], what: str, timeout: float) -> None:
    try:
        r = requests.post(url, json=payload, headers={"User-Agent": USER_AGENT, **headers}, timeout=timeout)
    except requests.RequestException as e:
        # The URL may be a secret (Slack, Discord): name the channel, never the URL.
        raise DeliveryError(f"{what}: {type(e).__name__}") from None
    if r.status_code >= 300:
        raise DeliveryError(f"{what}: HTTP {r.status_code}")


def send(channel: Channel, event: Message, timeout: float = 10.0) -> None:
    """Sends one message; raises :class:`DeliveryError`."""
    o = channel.options
    if channel.name == "slack":
        _post(channel.secret or "", slack_payload(event), {}, "slack", timeout)
    elif channel.name == "discord":
        _post(channel.secret or "", discord_payload(event), {}, "discord", timeout)
    elif channel.name == "github":
        api = o.get("apiUrl", "https://api.github.com").rstrip("/")
        url = f"{api}/repos/{o['repository']}/dispatches"
        headers = {
            "Authorization": f"Bearer {channel.secret}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        _post(url, github_payload(event), headers, "github", timeout)
    elif channel.name == "email":
        try:
            with smtplib.SMTP(o["smtpHost"], int(o.get("smtpPort", 587)), timeout=timeout) as smtp:
                if o.get("startTls", True):
                    smtp.starttls(context=ssl.create_default_context())
                if o.get("username"):
                    smtp.login(o["username"], channel.secret or "")
                smtp.send_message(email_message(event, o))
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"email: {type(e).__name__}") from None
    else:  # pragma: no cover - channel() refuses unknown channels
        raise DeliveryError(f"unknown channel {channel.name}")


def deliver(
    channel: Channel,
    event: Message,
    attempts: int,
    backoff: float,
    sender: Callable[[Channel, Message], None] = send,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, int, str]:
    """Sends with retries (backoff, 2*backoff, 4*backoff, ...). Returns (sent, attempts used, last error).

    Never raises: any failure of building or sending the message is this channel's failure alone (the
    caller goes on with the other channels). A failure that is not a :class:`DeliveryError` (a bug, a
    value the message could not carry) is not retried: it would fail the same way again.
    """
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            sender(channel, event)
            return True, attempt, ""
        except DeliveryError as e:
            error = str(e)
        except Exception as e:  # noqa: BLE001 - one channel's failure must never stop the others
            # The type only: an exception's text may quote the channel's URL or the message.
            return False, attempt, f"{channel.name}: {type(e).__name__}"
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    return False, attempts, error
