"""Obfuscation of logged inference records: per-field rules applied before a record leaves the process.

Rule kinds (configuration: ``serving.models.<model>.inferenceLog.rules``):

``drop``      the field is removed from the record.
``hash``      the value becomes ``HMAC-SHA256(key, canonical JSON of the value)`` as hex: equal values give
              equal hashes (records still correlate), the value cannot be recovered without the key, and a
              guess cannot be checked without it either (a plain hash of an e-mail address can).
``mask``      every character but the last ``keepLast`` (default 4) becomes ``*``.
``coarsen``   a number becomes the lower edge of its ``step``-wide bucket (age 37, step 10 -> 30).
``redact``    in free text, e-mail addresses, card numbers and phone numbers are replaced by ``[email]``,
              ``[card]``, ``[phone]``. The text is NFKC-normalised first (full-width digits and the
              full-width at sign, no-break spaces and other compatibility forms become their plain
              forms); a card number is 13-19 digits passing the Luhn check, in a run of digits separated
              by anything but letters and line breaks (spaces, NBSP, dots, ``/``, dashes of every width,
              several at once), also when more digits come before or after it. The rule reaches into
              nested values: every string, number and key of an object or list is redacted the same way.

A field no rule names is logged as it is; fields the configuration does not declare are never logged
(see inference_log.py). The key comes from the environment (a Kubernetes Secret), never from arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any

RULE_KINDS = ("drop", "hash", "mask", "coarsen", "redact")
PATTERNS = ("email", "card", "phone")

# After NFKC: word characters (any script) around one "@", spaces around it tolerated, a dotted domain.
_EMAIL = re.compile(r"[\w.%+-]+[^\S\n]*@[^\S\n]*[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
# A run of digits with separators between them: up to 3 characters that are neither letters, digits nor
# line breaks (spaces, dots, slashes, dashes, zero-width characters...). Each run is searched for
# Luhn-valid 13-19 digits (a card inside a longer number, or next to a date): see _has_card.
_DIGIT_RUN = re.compile(r"\d(?:[^\w\n]{0,3}\d|_{1,3}\d)*")
# International or national phone numbers: optional +country, at least 7 digits in groups.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?![\w])")


class RuleError(ValueError):
    """A rule the server cannot apply (the stack validates the same at synth)."""


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _windows(digits: str) -> bool:
    n = len(digits)
    return any(
        _luhn(digits[start : start + size]) for size in range(13, min(19, n) + 1) for start in range(n - size + 1)
    )


def _has_card(groups: list[str]) -> bool:
    """True when the digit groups of a run hold a Luhn-valid 13-19 digit number: a whole run of groups
    (a card is separated from the digits around it), or any window of a group of more than 16 digits
    (a card glued to other digits)."""
    for i in range(len(groups)):
        size = 0
        for j in range(i, len(groups)):
            size += len(groups[j])
            if size > 19:
                break
            if size >= 13 and _luhn("".join(groups[i : j + 1])):
                return True
    return any(len(g) > 16 and _windows(g) for g in groups)


def _card(m: re.Match) -> str:
    groups = re.findall(r"\d+", m.group(0))
    return "[card]" if sum(map(len, groups)) >= 13 and _has_card(groups) else m.group(0)


def _phone(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return "[phone]" if 7 <= len(digits) <= 15 else m.group(0)


def redact_text(text: str, patterns: tuple[str, ...] = PATTERNS) -> str:
    """``text`` (NFKC-normalised) with every e-mail address, card number and phone number (as asked) replaced."""
    text = unicodedata.normalize("NFKC", text)
    if "email" in patterns:
        text = _EMAIL.sub("[email]", text)
    if "card" in patterns:
        text = _DIGIT_RUN.sub(_card, text)
    if "phone" in patterns:
        text = _PHONE.sub(_phone, text)
    return text


def redact_value(value: Any, patterns: tuple[str, ...] = PATTERNS, _depth: int = 0) -> Any:
    """``value`` with :func:`redact_text` applied to every string, number and key inside it. A number
    that holds a pattern (a card number sent as an integer) becomes the redacted text. Past 64 levels of
    nesting nothing is kept (``[redacted]``): no stack is spent on a hostile value."""
    if isinstance(value, str):
        return redact_text(value, patterns)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        text = str(value)
        out = redact_text(text, patterns)
        return value if out == text else out
    if _depth >= 64:
        return "[redacted]"
    if isinstance(value, dict):
        return {redact_text(str(k), patterns): redact_value(v, patterns, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, patterns, _depth + 1) for v in value]
    return redact_text(str(value), patterns)


def keyed_hash(key: bytes, value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


_DROP = object()


class Obfuscator:
    """Applies the rules of one model to a flat dict of fields (inputs and context of one row)."""

    def __init__(self, rules: list[dict], key: bytes | None) -> None:
        self._apply: dict[str, Callable[[Any], Any]] = {}
        for i, rule in enumerate(rules):
            field = rule.get("field")
            kind = rule.get("kind")
            if not isinstance(field, str) or not field:
                raise RuleError(f"rule {i}: 'field' must name a field")
            if kind not in RULE_KINDS:
                raise RuleError(f"rule {i} ({field}): unknown kind {kind!r}; expected one of {', '.join(RULE_KINDS)}")
            if field in self._apply:
                raise RuleError(f"rule {i} ({field}): the field already has a rule")
            self._apply[field] = self._make(i, field, kind, rule, key)

    @staticmethod
    def _make(i: int, field: str, kind: str, rule: dict, key: bytes | None) -> Callable[[Any], Any]:
        if kind == "drop":
            return lambda _v: _DROP
        if kind == "hash":
            if not key:
                raise RuleError(
                    f"rule {i} ({field}): a hash rule needs the HMAC key"
                    " (MODEL_SERVER_INFERENCE_LOG_KEY, from the Secret)"
                )
            return lambda v: keyed_hash(key, v)
        if kind == "mask":
            keep = int(rule.get("keepLast", 4))
            if keep < 0:
                raise RuleError(f"rule {i} ({field}): keepLast must be >= 0")

            def mask(v: Any) -> str:
                s = str(v)
                shown = s[-keep:] if keep and len(s) > keep else ""  # too short: all masked
                return "*" * (len(s) - len(shown)) + shown

            return mask
        if kind == "coarsen":
            step = rule.get("step")
            if not isinstance(step, (int, float)) or isinstance(step, bool) or not step > 0:
                raise RuleError(f"rule {i} ({field}): coarsen needs a step > 0")

            def coarsen(v: Any) -> Any:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    return _DROP  # not a number: nothing safe to keep
                edge = math.floor(v / step) * step
                return int(edge) if float(step).is_integer() else round(edge, 10)

            return coarsen
        patterns = tuple(rule.get("patterns") or PATTERNS)
        unknown = sorted(set(patterns) - set(PATTERNS))
        if unknown:
            raise RuleError(f"rule {i} ({field}): unknown patterns {unknown}; expected some of {', '.join(PATTERNS)}")
        return lambda v: redact_value(v, patterns)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self._apply)

    def apply(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new dict with every rule applied (dropped fields absent)."""
        out = {}
        for name, value in fields.items():
            f = self._apply.get(name)
            if f is None:
                out[name] = value
                continue
            v = f(value)
            if v is not _DROP:
                out[name] = v
        return out
