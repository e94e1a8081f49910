"""Secrets are masked in free text and in JSON values (invariant 10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.redact import (
    forget_secrets,
    redact_text,
    redact_value,
    register_secret,
    register_secrets,
)


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "push to rtmp://vp-push-ix1.gvideo.co/in/1234?0f3a9b8c7d6e now",
            "push to rtmp://vp-push-ix1.gvideo.co/in/1234?*** now",
        ),
        (
            "rtmps://vp-push-ed1.domain.com/in/123b?08cd54f0",
            "rtmps://vp-push-ed1.domain.com/in/123b?***",
        ),
        (
            "srt://vp-push-ix1-srt.gvideo.co:5001?streamid=1234#0f3a9b8c7d6e",
            "srt://vp-push-ix1-srt.gvideo.co:5001?streamid=1234#***",
        ),
        ("https://cdn.example/x.m3u8?token=abc123&w=1", "https://cdn.example/x.m3u8?token=***&w=1"),
        ('{"token": "abc123", "name": "a"}', '{"token": "***", "name": "a"}'),
        ("srt_passphrase: hunter2hunter2", "srt_passphrase: ***"),
        ("srt_passphrase=hunter2hunter2&x=1", "srt_passphrase=***&x=1"),
        ("Authorization: APIKey 12345$abcdef", "Authorization: APIKey ***"),
        ('{"srt_passphrase": null}', '{"srt_passphrase": null}'),
        ("3 tokens used, the key field is fine", "3 tokens used, the key field is fine"),
        # A stream key in an RTMP path, and secret-looking parameters of any name (issue 9, 11).
        ("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl", "rtmp://a.rtmp.youtube.com/live2/***"),
        ("rtmp://live.twitch.tv/app/live_1_ab?bw=1", "rtmp://live.twitch.tv/app/***?***"),
        ("rtmp://h/live and rtmp://h/in/12 stay", "rtmp://h/live and rtmp://h/in/12 stay"),
        ("https://c/a.m3u8?auth=S3cr3t&w=1", "https://c/a.m3u8?auth=***&w=1"),
        ("https://c/b.m3u8?access_token=S3cr3t", "https://c/b.m3u8?access_token=***"),
        (
            "https://s3/x?X-Amz-Signature=ab12&keyframes=2",
            "https://s3/x?X-Amz-Signature=***&keyframes=2",
        ),
        ("", ""),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret("live-key-5f4dcc3b5aa765d61d8327deb882cf99")
    register_secrets(["0f3a9b8c7d6e", None, "ab"])  # too short values are ignored
    text = "GET failed for live-key-5f4dcc3b5aa765d61d8327deb882cf99 on /x/0f3a9b8c7d6e/ab"
    assert redact_text(text) == "GET failed for *** on /x/***/ab"


def test_redact_value_masks_secret_fields_and_strings() -> None:
    value = {
        "id": 7,
        "token": "0f3a9b8c7d6e",
        "srt_passphrase": "hunter2hunter2",
        "push_url": "rtmp://h/in/7?0f3a9b8c7d6e",
        "nested": [{"Token": "x1y2z3"}, "srt://h:5001?streamid=7#0f3a9b8c7d6e"],
        "cleared": {"srt_passphrase": None},
    }
    assert redact_value(value) == {
        "id": 7,
        "token": "***",
        "srt_passphrase": "***",
        "push_url": "rtmp://h/in/7?***",
        "nested": [{"Token": "***"}, "srt://h:5001?streamid=7#***"],
        "cleared": {"srt_passphrase": None},
    }
    assert value["token"] == "0f3a9b8c7d6e"  # a copy: the input is untouched


def test_many_tokens_are_masked_by_lookup_even_glued_to_other_characters() -> None:
    tokens = [f"{n:08x}cafe{n:04d}" for n in range(10_000)]
    register_secrets(tokens)
    register_secret("key/with+odd=chars")
    text = (
        f"push rtmp-less {tokens[42]} then x{tokens[7]}y and {tokens[9999]}, "
        "auth key/with+odd=chars; dvr_duration: 3600 -> 7200"
    )
    assert redact_text(text) == (
        "push rtmp-less *** then x***y and ***, auth ***; dvr_duration: 3600 -> 7200"
    )
