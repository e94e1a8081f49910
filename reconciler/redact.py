"""Removes secrets from any text or JSON value before it is printed or logged (invariant 10).

Secrets: the configured API key and any value registered with `register_secret` (stream tokens
read from the account, declared passphrases, every value read from `${VAR}`), `token`- and
`srt_passphrase`-like fields, the key part of push URLs (`rtmp://.../in/<id>?<token>`,
`rtmp://host/app/<key>`, `srt://...#<token>`) and secret-looking URL parameters
(`?token=`, `?auth=`, `?access_token=`, `&X-Amz-Signature=`, ...).
Knows nothing of the API client, the planner or the CLI.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words; tokens and keys are longer

# Field names whose values are secret wherever they appear (JSON keys, `name: value`, `name=v`).
SECRET_FIELDS = frozenset(
    {
        "token",
        "srt_passphrase",
        "passphrase",
        "api_key",
        "apikey",
        "password",
        "secret",
        "stream_key",
        "authorization",
    }
)
# In free text "Authorization: APIKey <key>" is handled by the scheme pattern, keeping the scheme.
_TEXT_FIELDS = SECRET_FIELDS - {"authorization"}
_FIELD_ALTERNATION = "|".join(sorted((re.escape(f) for f in _TEXT_FIELDS), key=len, reverse=True))


def _mask_rtmp_key(match: re.Match[str]) -> str:
    head, key, query = match.groups()
    gcore_form = head.lower().endswith("/in/") and query  # the key is the query: masked there
    if key.isdigit() or gcore_form or key == MASK:
        return match.group(0)
    return f"{head}{MASK}{query}"


def _mask_field_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if value in ("null", "None", '""', "''", "~"):
        return match.group(0)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{quote}{MASK}{quote}"


Replacement = str | Callable[[re.Match[str]], str]

_PATTERNS: tuple[tuple[re.Pattern[str], Replacement], ...] = (
    # Authorization header values: "APIKey <key>", "Bearer <jwt>".
    (re.compile(r"(?i)\b(apikey|bearer)(\s+)[^\s\"',;]+"), rf"\1\2{MASK}"),
    # RTMP push URL: the whole query is the stream key (rtmp://host/in/123?08cd54f0).
    (re.compile(r"(?i)(\brtmps?://[^\s\"'?#]+)\?[^\s\"'<>)\]]+"), rf"\1?{MASK}"),
    # RTMP stream key in the path (rtmp://a.rtmp.youtube.com/live2/<key>): the last segment after
    # the application is the stream key, except Gcore's own `/in/<id>?<key>` form.
    (
        re.compile(r"(?i)(\brtmps?://[^\s\"'/?#]+/(?:[^\s\"'/?#]+/)+)([^\s\"'/?#<>)\]]+)(\??)"),
        _mask_rtmp_key,
    ),
    # SRT push URL: the fragment is the stream key (srt://host:5001?streamid=123#08cd54f0).
    (re.compile(r"(?i)(\bsrt://[^\s\"'#]+)#[^\s\"'<>)\]]+"), rf"\1#{MASK}"),
    # A password in a URL's user info (https://user:password@proxy/): keep the user.
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s\"'/@:]*:)[^\s\"'/@]+@"), rf"\1{MASK}@"),
    # Secret-looking query or fragment parameters in any URL (?token=..., &access_token=...,
    # ?auth=..., &X-Amz-Signature=...): a name ending with one of these words, or starting auth.
    (
        re.compile(
            r"(?i)([?&#;](?:auth[\w.-]*|[\w.-]*(?:token|auth|key|sig|signature|secret|pass|"
            r"passphrase|password|pwd|credential|hmac|hash|hdnts|policy))=)[^&#\s\"'<>]+"
        ),
        rf"\1{MASK}",
    ),
    # JSON or YAML-ish text: "token": "abc", token: abc, srt_passphrase=abc.
    (
        re.compile(
            rf"(?i)(\b(?:{_FIELD_ALTERNATION})[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,&}}\]]+)"
        ),
        _mask_field_value,  # keeps the quotes so JSON stays JSON
    ),
)

# Every pattern above needs one of these (a URL, a scheme word, a parameter, a field name): one
# search spares the seven substitutions on the names and numbers that make most of an output.
_MAY_MATCH = re.compile(rf"(?i)://|apikey|bearer|[?&#;][\w.-]*=|{_FIELD_ALTERNATION}")

_lock = threading.Lock()
# Registered literal secrets. Plain alphanumeric ones (stream tokens: thousands of them) are found
# by a set lookup over the alphanumeric runs of a text; the few others (the API key may hold any
# character) by one small regex alternation. One alternation of 10,000 tokens costs ~1.5 ms per
# line, which an apply printing a line per change cannot afford.
_words: set[str] = set()
_word_lengths: frozenset[int] = frozenset()
_others: set[str] = set()
_other_pattern: re.Pattern[str] | None = None
_WORD_RUN = re.compile(r"[A-Za-z0-9]+")
# Only runs at least as long as the shortest registered word can hold one: the regex engine
# skips the rest (names, numbers) without a Python call per word.
_candidate_run: re.Pattern[str] = _WORD_RUN


def register_secret(value: str | None) -> None:
    """Mask this literal value wherever it appears from now on (the API key, stream tokens)."""
    register_secrets([value])


def register_secrets(values: Iterable[str | None]) -> None:
    global _other_pattern, _word_lengths, _candidate_run
    fresh = {v for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LENGTH}
    with _lock:
        words = {v for v in fresh if _WORD_RUN.fullmatch(v)}
        others = fresh - words - _others
        _words.update(words)
        _word_lengths = frozenset(len(w) for w in _words)
        _candidate_run = re.compile(rf"[A-Za-z0-9]{{{min(_word_lengths, default=1)},}}")
        if others:
            _others.update(others)
            # Longest first so that a secret containing another is masked whole.
            ordered = sorted(_others, key=len, reverse=True)
            _other_pattern = re.compile("|".join(re.escape(v) for v in ordered))


def forget_secrets() -> None:
    """Drop registered literal secrets (tests; a long-lived process switching accounts)."""
    global _other_pattern, _word_lengths, _candidate_run
    with _lock:
        _words.clear()
        _others.clear()
        _word_lengths = frozenset()
        _candidate_run = _WORD_RUN
        _other_pattern = None


def redact_registered(text: str) -> str:
    """Mask only the registered literal secrets (the API key, stream tokens). For texts whose
    shape is ours and that never quote a secret value, such as manifest problems, where the
    `field: value` rule would mask the words after `spec.srt_passphrase:`."""
    if not text:
        return text
    if _other_pattern is not None:
        text = _other_pattern.sub(MASK, text)
    if _words:
        text = _candidate_run.sub(_mask_word_run, text)
    return text


def redact_text(text: str) -> str:
    """Mask every secret in free text (messages, logs, rendered output)."""
    text = redact_registered(text)
    if not text or not _MAY_MATCH.search(text):
        return text
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


def _mask_word_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if run in _words:
        return MASK
    if len(run) <= min(_word_lengths, default=len(run)):
        return run
    # A token glued to other letters or digits: look at every window of a registered length.
    for length in sorted(_word_lengths, reverse=True):
        for start in range(len(run) - length + 1):
            if run[start : start + length] in _words:
                head, tail = run[:start], run[start + length :]
                return (
                    _WORD_RUN.sub(_mask_word_run, head) + MASK + _WORD_RUN.sub(_mask_word_run, tail)
                )
    return run


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like value with secret fields masked and every string redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in SECRET_FIELDS and item not in (None, ""):
                out[key] = MASK
            else:
                out[key] = redact_value(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value
