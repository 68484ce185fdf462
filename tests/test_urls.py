"""Tests for igresearch.urls: URL parsing, canonical URLs, shortcode <-> media id."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igresearch.errors import InvalidURLError
from igresearch.urls import (
    canonical_url,
    media_id_to_shortcode,
    parse_shortcode,
    shortcode_to_media_id,
)

CODE = "DLlGZiCOBQ0"
MEDIA_ID = "3667365614373573684"
CANONICAL = f"https://www.instagram.com/reel/{CODE}/"
PRIVATE = "DLlGZiCOBQ0x7Kq_private-Post9"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

ACCEPTED = [
    f"https://www.instagram.com/reel/{CODE}/",
    f"https://www.instagram.com/reel/{CODE}",
    f"https://www.instagram.com/reels/{CODE}/",
    f"https://www.instagram.com/p/{CODE}/",
    f"https://www.instagram.com/tv/{CODE}/",
    f"https://www.instagram.com/humansofny/reel/{CODE}/",
    f"https://www.instagram.com/humans.of_ny/p/{CODE}/",
    f"https://instagram.com/reel/{CODE}/",
    f"https://m.instagram.com/reel/{CODE}/",
    f"http://www.instagram.com/reel/{CODE}/",
    f"HTTPS://WWW.INSTAGRAM.COM/reel/{CODE}/",
    f"https://Instagram.com/reel/{CODE}/",
    f"www.instagram.com/reel/{CODE}/",
    f"instagram.com/reel/{CODE}",
    f"m.instagram.com/p/{CODE}",
    f"//www.instagram.com/reel/{CODE}/",
    f"  https://www.instagram.com/reel/{CODE}/ \n",
    f"\thttps://www.instagram.com/reel/{CODE}/?igsh=MWQ1ZGUxMzBkMA==",
    f"https://www.instagram.com/reel/{CODE}/?utm_source=ig_web_copy_link&igsh=abc",
    f"https://www.instagram.com/reel/{CODE}?utm_source=ig_web_copy_link",
    f"https://www.instagram.com/p/{CODE}/#comments",
    f"https://www.instagram.com/reel/{CODE}/?igsh=abc#top",
    CODE,
    f"  {CODE}  ",
]

REJECTED = [
    "https://example.com/reel/DLlGZiCOBQ0/",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://instagram.com.evil.net/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com.evil.net/reel/DLlGZiCOBQ0/",
    "https://notinstagram.com/reel/DLlGZiCOBQ0/",
    "https://evilinstagram.com/reel/DLlGZiCOBQ0/",
    "https://instagram.co/reel/DLlGZiCOBQ0/",
    "https://instagr.am/p/DLlGZiCOBQ0/",
    "https://l.instagram.com/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com./reel/DLlGZiCOBQ0/",
    "https://%69nstagram.com/reel/DLlGZiCOBQ0/",
    "https://instagram.com/humansofny/",
    "instagram.com/humansofny",
    "https://www.instagram.com/humansofny/reels/",
    "https://www.instagram.com/",
    "https://www.instagram.com",
    "https://www.instagram.com/reel/",
    "https://www.instagram.com/explore/",
    "https://www.instagram.com/explore/tags/cats/",
    "https://www.instagram.com/stories/humansofny/3667365614373573684/",
    "https://www.instagram.com/accounts/login/",
    "https://www.instagram.com/explore/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com/reels/audio/1234567890/",
    "https://www.instagram.com/reel/DLlGZiCOBQ0/embed/",
    "ftp://www.instagram.com/reel/DLlGZiCOBQ0/",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)//www.instagram.com/reel/DLlGZiCOBQ0/",
    "data:text/html,<script>alert(1)</script>",
    "mailto:someone@instagram.com",
    "https://user:pass@www.instagram.com/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com@evil.net/reel/DLlGZiCOBQ0/",
    "https://evil.net\\@www.instagram.com/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com:443/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com:8080/reel/DLlGZiCOBQ0/",
    "www.instagram.com:443/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com:/reel/DLlGZiCOBQ0/",
    "https://[::1]/reel/DLlGZiCOBQ0/",
    "https://[::1/reel/DLlGZiCOBQ0/",
    "https:///www.instagram.com/reel/DLlGZiCOBQ0/",
    "https://insta\ngram.com/reel/DLlGZiCOBQ0/",
    "https://www.instagram.com/reel/DLlGZ iCOBQ0/",
    "",
    "   ",
    "\n\t",
    "DLlGZ!COBQ0",
    "DLlGZiCOBQ0?",
    "DLlGZ%20iCOBQ0",
    "DLlGZiCOBQ0é",
    "https://www.instagram.com/reel/DLl.GZiCOBQ0/",
    "https://www.instagram.com/reel/%44LlGZiCOBQ0/",
    "abcd",
    "https://www.instagram.com/reel/abcd/",
    "A" * 41,
    f"https://www.instagram.com/p/{'A' * 41}/",
]

JUNK = [
    "x" * 500,
    "!@#$%" * 100,
    "https://www.instagram.com/reel/" + "A" * 469,
    "https://" + "a" * 488 + ".com/",
    "https://www.instagram.com/" + "x/" * 237,
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_parse_shortcode_accepts_pasted_forms(text: str) -> None:
    assert parse_shortcode(text) == CODE


@pytest.mark.parametrize("text", ACCEPTED)
def test_canonical_url_of_pasted_forms(text: str) -> None:
    assert canonical_url(text) == CANONICAL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.instagram.com/reel/dllgzicobq0/", "dllgzicobq0"),
        ("https://www.instagram.com/p/C-_x9Ab-1_z/", "C-_x9Ab-1_z"),
        ("https://www.instagram.com/p/ABCDE/", "ABCDE"),
        (f"https://www.instagram.com/p/{PRIVATE}/", PRIVATE),
        (f"https://www.instagram.com/p/{'a' * 40}/", "a" * 40),
        ("instagram.com/p/_-_-_", "_-_-_"),
    ],
)
def test_parse_shortcode_keeps_case_and_length_range(text: str, expected: str) -> None:
    assert parse_shortcode(text) == expected
    assert canonical_url(text) == f"https://www.instagram.com/reel/{expected}/"


@pytest.mark.parametrize("text", REJECTED)
def test_parse_shortcode_rejects(text: str) -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_shortcode(text)
    message = str(caught.value)
    assert message.startswith("Not an Instagram post URL: ")
    assert repr(text)[:30] in message
    assert message.endswith(
        "Pass a URL like https://www.instagram.com/reel/<shortcode>/ or a bare shortcode."
    )


@pytest.mark.parametrize("text", REJECTED)
def test_canonical_url_rejects(text: str) -> None:
    with pytest.raises(InvalidURLError):
        canonical_url(text)


@pytest.mark.parametrize("value", [None, 12345, 3.5, b"DLlGZiCOBQ0", ["DLlGZiCOBQ0"]])
def test_parse_shortcode_rejects_non_str(value: object) -> None:
    with pytest.raises(InvalidURLError, match=f"expected a str, got {type(value).__name__}"):
        parse_shortcode(value)  # type: ignore[arg-type]


def test_error_message_quotes_input_and_says_what_to_do() -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_shortcode("https://example.com/reel/abc")
    assert str(caught.value) == (
        "Not an Instagram post URL: 'https://example.com/reel/abc' "
        "(host example.com is not instagram.com). "
        "Pass a URL like https://www.instagram.com/reel/<shortcode>/ or a bare shortcode."
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://instagram.com/humansofny/", "(it is a profile, not a post)"),
        ("javascript:alert(1)", "(scheme javascript: is not http or https)"),
        ("https://www.instagram.com:443/reel/DLlGZiCOBQ0/", "(a port or IPv6 host"),
        ("https://a@www.instagram.com/reel/DLlGZiCOBQ0/", "(user info before the host"),
        ("https://www.instagram.com/reel/", "(no shortcode after /reel/)"),
        ("https://www.instagram.com/", "(no post path after the host)"),
        ("https://www.instagram.com/explore/tags/cats/", "(path /explore/tags/cats/ is not"),
        ("instagram.com/p/abcd", "(the shortcode has 4 characters, not 5 to 40)"),
        ("abcd", "(alone, a shortcode has 10 to 12 characters; give the full post URL"),
        ("DLlGZ!COBQ0", "(the shortcode has characters other than A-Z"),
        ("   ", "(it is empty)"),
        ("https://insta\ngram.com/reel/DLlGZiCOBQ0/", "(it contains whitespace or control"),
    ],
)
def test_error_message_says_what_was_wrong(text: str, reason: str) -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_shortcode(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "word",
    ["Links", "march", "notes", "_-_-_", "ABCDE", "abcdefghi", "a" * 13, " Notes\t"],
)
def test_a_bare_word_is_a_shortcode_only_when_it_looks_like_one(word: str) -> None:
    """Issue 11, item 20: a bare token is a shortcode only when it is 10 to 12 characters of the
    alphabet whose first 11 encode a media id below 2**63; anything else needs the full URL."""
    with pytest.raises(InvalidURLError) as caught:
        parse_shortcode(word)
    assert str(caught.value) == (
        f"Not an Instagram post URL: {word!r} (alone, a shortcode has 10 to 12 characters; "
        "give the full post URL instead). "
        "Pass a URL like https://www.instagram.com/reel/<shortcode>/ or a bare shortcode."
    )
    assert parse_shortcode(f"https://www.instagram.com/p/{word.strip()}/") == word.strip()


@pytest.mark.parametrize("word", ["ZZZZZZZZZZZ", "I" + "A" * 10, "_" * 12])
def test_a_bare_word_beyond_a_media_id_is_not_a_shortcode(word: str) -> None:
    """Issue 11, item 20: 11 characters whose media id would be 2**63 or more need the URL."""
    assert int(shortcode_to_media_id(word)) >= 2**63
    with pytest.raises(InvalidURLError, match="too large a media id for a shortcode; give the"):
        parse_shortcode(word)


@pytest.mark.parametrize(
    "code", ["C0ffee1234", "DLlGZiCOBQ0", "DLlGZiCOBQ0x", "Hzzzzzzzzzz", "AAAAAAAAAAAA"]
)
def test_a_bare_shortcode_is_accepted(code: str) -> None:
    """Issue 11, item 20: 10 to 12 characters, media id below 2**63 (H is 7: 7 * 64**10 + ...)."""
    assert parse_shortcode(code) == code
    assert parse_shortcode(f"  {code}\n") == code
    assert int(shortcode_to_media_id(code)) < 2**63


@pytest.mark.parametrize("junk", JUNK)
def test_long_junk_is_shortened_in_message(junk: str) -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_shortcode(junk)
    message = str(caught.value)
    assert repr(junk[:60] + "…") in message
    assert junk not in message
    # The fixed text around the input is about 120 characters.
    assert len(message) < 260


def test_invalid_url_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_shortcode("https://example.com/")


@given(st.text(alphabet=ALPHABET, min_size=5, max_size=40))
def test_any_valid_shortcode_round_trips_through_url(code: str) -> None:
    assert parse_shortcode(f"instagram.com/reel/{code}?igsh=x") == code
    assert parse_shortcode(canonical_url(code)) == code


def test_known_pair_converts_both_ways() -> None:
    assert shortcode_to_media_id(CODE) == MEDIA_ID
    assert media_id_to_shortcode(MEDIA_ID) == CODE
    assert media_id_to_shortcode(int(MEDIA_ID)) == CODE


@pytest.mark.parametrize(
    ("shortcode", "media_id"),
    [
        ("A", "0"),
        ("B", "1"),
        ("_", "63"),
        ("BA", "64"),
        ("__________", str(64**10 - 1)),
        ("___________", str(64**11 - 1)),
    ],
)
def test_small_and_edge_values(shortcode: str, media_id: str) -> None:
    assert shortcode_to_media_id(shortcode) == media_id
    assert media_id_to_shortcode(media_id) == shortcode


def test_long_private_shortcode_converts_first_11_characters() -> None:
    assert shortcode_to_media_id(PRIVATE) == MEDIA_ID
    assert media_id_to_shortcode(shortcode_to_media_id(PRIVATE)) == CODE


def test_media_id_above_2_to_53_is_exact() -> None:
    # float(MEDIA_ID) would round this id to 3667365614373573632.
    assert shortcode_to_media_id(CODE) != str(int(float(MEDIA_ID)))
    assert media_id_to_shortcode(int(float(MEDIA_ID))) != CODE


@pytest.mark.parametrize("media_id", [f"{MEDIA_ID}_25025320", f" {MEDIA_ID} ", f"00{MEDIA_ID}"])
def test_media_id_string_forms(media_id: str) -> None:
    assert media_id_to_shortcode(media_id) == CODE


@pytest.mark.parametrize(
    "media_id",
    [-1, "-1", "", "abc", "1.5", "1e18", "+5", "0x1F", "١٢٣", "12_", "_12", 64**11, str(64**11)],
)
def test_media_id_to_shortcode_rejects(media_id: str | int) -> None:
    with pytest.raises(InvalidURLError) as caught:
        media_id_to_shortcode(media_id)
    message = str(caught.value)
    assert message.startswith("Not a media id: ")
    assert repr(media_id)[:20] in message


@pytest.mark.parametrize("media_id", [True, 1.5, float(MEDIA_ID), None])
def test_media_id_to_shortcode_rejects_other_types(media_id: object) -> None:
    with pytest.raises(InvalidURLError, match="expected an int or str"):
        media_id_to_shortcode(media_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "shortcode",
    ["", "DLlGZ!COBQ0", f"https://www.instagram.com/reel/{CODE}/", "A" * 41, None],
)
def test_shortcode_to_media_id_rejects(shortcode: object) -> None:
    with pytest.raises(InvalidURLError) as caught:
        shortcode_to_media_id(shortcode)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("Not a shortcode: ")
    assert "parse_shortcode()" in message


@settings(max_examples=300)
@given(st.integers(min_value=1, max_value=2**63))
def test_media_id_round_trip(media_id: int) -> None:
    shortcode = media_id_to_shortcode(media_id)
    assert shortcode_to_media_id(shortcode) == str(media_id)
    assert media_id_to_shortcode(str(media_id)) == shortcode
    assert len(shortcode) <= 11
    assert not shortcode.startswith("A")


@given(
    st.text(alphabet=ALPHABET[1:], min_size=1, max_size=1),
    st.text(alphabet=ALPHABET, max_size=10),
)
def test_shortcode_round_trip(first: str, rest: str) -> None:
    shortcode = first + rest
    assert media_id_to_shortcode(shortcode_to_media_id(shortcode)) == shortcode
