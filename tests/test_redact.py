"""Cutting the API key out of texts (igresearch.redact)."""

from __future__ import annotations

import pytest

from igresearch.redact import MARKER, MIN_PART, scrub, secrets

KEY = "sk-SECRET/redact-test-key-0123456789"


def test_the_whole_key_is_cut_from_text_and_bytes_and_the_change_is_said() -> None:
    assert scrub(f"a {KEY} b {KEY}", [KEY]) == (f"a {MARKER} b {MARKER}", True)
    assert scrub(f"a {KEY}".encode(), [KEY]) == (f"a {MARKER}".encode(), True)
    assert scrub("nothing here", [KEY]) == ("nothing here", False)


@pytest.mark.parametrize("size", [MIN_PART, MIN_PART + 1, len(KEY) - 1])
def test_item10_a_part_of_8_or_more_at_a_cut_is_cut_too(size: int) -> None:
    """Issue 11, item 10: where a snippet or cap cut the key, its first or last `size`
    characters left at the cut are scrubbed too, when `size` is 8 or more."""
    assert scrub("..." + KEY[:size], [KEY], cut=True) == ("..." + MARKER, True)
    assert scrub(KEY[-size:] + "...", [KEY], cut=True) == (MARKER + "...", True)
    assert scrub("..." + KEY[:size], [KEY]) == ("..." + KEY[:size], False), "only at a cut"


def test_a_part_shorter_than_8_is_left() -> None:
    short = KEY[: MIN_PART - 1]
    assert scrub("..." + short, [KEY], cut=True) == ("..." + short, False)


def test_secrets_are_the_given_key_and_the_environments_also_as_json_escapes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11, item 10: whatever way the key was given (api_key= or the environment), and
    however JSON escaped it (PHP escapes "/")."""
    monkeypatch.setenv("MEMORIES_API_KEY", "env-key-0123456789")
    escaped = KEY.replace("/", "\\/")
    encoded = KEY.replace("/", "%2F")
    assert secrets(KEY) == [encoded, escaped, KEY, "env-key-0123456789"]
    monkeypatch.delenv("MEMORIES_API_KEY")
    assert secrets(None) == []
    assert scrub(f'{{"msg": "{escaped}"}}', secrets(KEY)) == (f'{{"msg": "{MARKER}"}}', True)


def test_attack_a_key_too_short_to_be_one_is_not_cut_from_the_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Attack: with a key of one character ("e"), every "e" of a paid answer became the marker:
    the body was no longer JSON, the answer was retried and paid for five times, then stored as
    failed with its text mangled. Keys shorter than MIN_PART are no keys to cut (the client
    refuses to send them)."""
    monkeypatch.setenv("MEMORIES_API_KEY", "e" * (MIN_PART - 1))
    assert secrets("e") == []
    assert secrets("x" * MIN_PART) == ["x" * MIN_PART]
    assert scrub('{"code": "0000"}', secrets("e")) == ('{"code": "0000"}', False)


def test_attack_a_key_echoed_url_or_form_encoded_is_cut_too() -> None:
    """Attack: a server echoing the request back in a URL (a redirect's Location, a link in the
    body) percent-encodes a key with ``/``, ``+`` or ``=`` in it: ``%2F``, ``%2B``, ``%3D``, and
    ``+`` for a space in a form. Those forms escaped the scrubber."""
    key = "sk-Ab+Cd/Ef=Gh 0123"
    echoed = "https://x.example/?k=sk-Ab%2BCd%2FEf%3DGh%200123&f=sk-Ab%2BCd%2FEf%3DGh+0123"
    assert scrub(echoed, secrets(key)) == (f"https://x.example/?k={MARKER}&f={MARKER}", True)
