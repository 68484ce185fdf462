"""How one answer is read and judged (igresearch.answers), against the fake API on 127.0.0.1:
the hostile answers of issue 11, through the client and through collect into the archive."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from doubles import Sleeps

from igresearch import collect
from igresearch.answers import KEPT_BODY_BYTES
from igresearch.archive import read_archive
from igresearch.cassettes import replay
from igresearch.client import Client
from igresearch.errors import (
    APIError,
    MediaUnavailableError,
    RateLimitError,
    ResponseFormatError,
    RetryAfterError,
    WrongPostError,
)
from igresearch.redact import MARKER, MIN_PART
from igresearch.testing import FakeAPI
from igresearch.urls import shortcode_to_media_id

KEY = "sk-SECRET-answers-test-key-0123456789"
CODE = "C0ffee12345"
CANONICAL = f"https://www.instagram.com/reel/{CODE}/"
CAFE = "Un café, s'il vous plaît"
CEILING_S = 30.0  # a hang check's generous ceiling, never a timing


def client(fake_api: FakeAPI, sleeps: Sleeps, **options: Any) -> Client:
    return Client(**{"api_key": KEY, "base_url": fake_api.base_url, "sleep": sleeps} | options)


def fetch_error(fake_api: FakeAPI, sleeps: Sleeps, **options: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        client(fake_api, sleeps, **options).fetch(CODE)
    return caught.value


def strict_json(line: bytes) -> Any:
    """json.loads that refuses NaN, Infinity and -Infinity, as JSON does."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


def run_collect(fake_api: FakeAPI, archive: Path, codes: list[str], **options: Any) -> Any:
    settings: dict[str, Any] = {
        "archive": archive,
        "api_key": KEY,
        "base_url": fake_api.base_url,
        "progress": False,
        "rate": 1000.0,
        "sleep": lambda seconds: None,
    }
    return collect(codes, **(settings | options))


def records(archive: Path) -> dict[str, dict[str, Any]]:
    """The archive's latest record per shortcode; every line must be strict JSON."""
    lines = archive.read_bytes().splitlines()
    parsed = [strict_json(line) for line in lines]
    assert parsed == list(read_archive(archive))
    return {record["shortcode"]: record for record in parsed}


def key_parts(key: str = KEY) -> list[str]:
    """Every piece of the key a cut could leave: all its runs of MIN_PART characters."""
    return [key[i : i + MIN_PART] for i in range(len(key) - MIN_PART + 1)]


def assert_no_key(*texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        assert not [part for part in key_parts() if part.encode() in data]


# --- The retry table: which failures are retried in the run, which are retriable later ---


NOT_UTF8 = b'{"code": "0000", "msg": "caf\xe9"}'


@pytest.mark.parametrize(
    ("behaviour", "payload", "error_class", "retried_in_run", "retriable"),
    [
        ("reset", None, APIError, True, True),
        ("slow", None, APIError, True, True),
        ("drip", None, APIError, True, True),
        ("server_error", None, APIError, True, True),
        ("rate_limited_no_retry_after", None, RateLimitError, True, True),
        ("code_0001", None, APIError, True, True),
        ("html", None, ResponseFormatError, True, True),
        ("truncated", None, ResponseFormatError, True, True),
        ("ok", b'{"code": "0000", "data": {"data": ', ResponseFormatError, True, True),
        ("nan", None, ResponseFormatError, False, True),
        ("ok", NOT_UTF8, ResponseFormatError, False, True),
        ("deep", None, ResponseFormatError, False, True),
        ("upstream_errors", None, APIError, False, True),
        ("upstream_fail", None, APIError, False, True),
        ("wrong_post", None, WrongPostError, False, True),
        ("oversized", None, ResponseFormatError, False, False),
        ("gzip_bomb", None, ResponseFormatError, False, False),
    ],
)
def test_retry_table_says_which_failures_are_retried_in_the_run_and_later(
    fake_api: FakeAPI,
    sleeps: Sleeps,
    behaviour: str,
    payload: bytes | None,
    error_class: type[APIError],
    retried_in_run: bool,
    retriable: bool,
) -> None:
    """Issue 11, retry table: connection errors, timeouts, 5xx, 429, code 0001, HTML, truncated
    or invalid JSON are retried within the run; NaN, non-UTF-8, too deep, upstream error and wrong
    post are recorded at once; all of these are retriable later, except a body over the cap."""
    fake_api.set_default(behaviour)
    fake_api.slow_seconds, fake_api.drip_seconds = 3.0, 0.5
    fake_api.oversized_bytes, fake_api.bomb_bytes = 300_000, 500_000
    fake_api.deep_levels = 40_000  # too deep to read, not too large
    if payload is not None:
        fake_api.set_payload(CODE, payload)

    error = fetch_error(fake_api, sleeps, timeout=1, max_retries=1, max_body_bytes=100_000)

    assert type(error) is error_class
    assert error.retriable is retriable
    assert (error.attempts, len(fake_api.requests)) == ((2, 2) if retried_in_run else (1, 1))
    assert error.url == CANONICAL


# --- Item 6: one attempt is bounded, body included ---


@pytest.mark.parametrize("behaviour", ["drip", "endless"])
def test_item6_timeout_bounds_the_whole_attempt_even_for_a_dripping_body(
    fake_api: FakeAPI, sleeps: Sleeps, behaviour: str
) -> None:
    """Issue 11, item 6: a body sent one byte a second (or never ending) no longer outlives the
    timeout: Client(timeout=2) gives up on each attempt, and the call returns."""
    fake_api.set_default(behaviour)
    started = time.monotonic()
    error = fetch_error(fake_api, sleeps, timeout=2, max_retries=1)
    assert time.monotonic() - started < CEILING_S
    assert "not complete within 2 s" in str(error)
    assert (error.status, error.retriable, error.attempts, len(sleeps)) == (200, True, 2, 1)


@pytest.mark.parametrize("recording", [False, True])
def test_item6_timeout_bounds_the_wait_for_headers_sent_a_byte_at_a_time(
    fake_api: FakeAPI, sleeps: Sleeps, tmp_path: Path, recording: bool
) -> None:
    """Issue 11, item 6: the status line and headers dripped a byte at a time (each read well
    within requests' own per-read timeout) no longer hold the attempt: a watchdog shuts the
    connection when the attempt's timeout is up, on the network and through a recording
    replay alike."""
    fake_api.drip_seconds = 0.3
    fake_api.set_default("drip_headers")
    started = time.monotonic()
    with replay(tmp_path / "c.yaml", mode="new_episodes") if recording else nullcontext():
        error = fetch_error(fake_api, sleeps, timeout=2, max_retries=1)
    assert time.monotonic() - started < CEILING_S
    assert "No answer within 2 s" in str(error)
    assert (error.retriable, error.attempts, len(fake_api.requests)) == (True, 2, 2)
    fake_api.set_default("ok")
    with Client(KEY, base_url=fake_api.base_url, timeout=2) as client:
        assert client.fetch(CODE).status == 200, "a prompt answer is not cut"


def test_item6_collect_stores_a_dripping_answer_as_failed_and_goes_on(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 6: in a collection, the URL whose body drips is one failed record (retriable
    later) and the other URLs are stored; the run returns."""
    fake_api.set_for("Dr1pp1ng001", "drip")
    archive = tmp_path / "archive.jsonl"
    started = time.monotonic()
    summary = run_collect(fake_api, archive, ["Dr1pp1ng001", CODE], timeout=2, max_retries=1)
    assert time.monotonic() - started < CEILING_S
    stored = records(archive)
    assert dict(summary.outcomes) == {"ok": 1, "failed": 1}
    assert stored["Dr1pp1ng001"]["error"]["retriable"] is True
    assert stored["Dr1pp1ng001"]["body"] is None, "no complete answer, no body"
    assert stored[CODE]["outcome"] == "ok"


def test_item6_recording_a_dripping_answer_is_bounded_too(
    fake_api: FakeAPI, sleeps: Sleeps, tmp_path: Path
) -> None:
    """Issue 11, item 6: through a recording replay (``Client(transport=replay(...,
    mode="new_episodes"))``), which reads the body the way the client does, a dripping body also
    ends with the attempt's timeout, and nothing is recorded for it."""
    fake_api.set_default("drip")
    cassette = tmp_path / "drip.yaml"
    started = time.monotonic()
    with replay(cassette, mode="new_episodes") as transport:
        error = fetch_error(fake_api, sleeps, timeout=2, max_retries=1, transport=transport)
        assert transport.recorded == 0
    assert time.monotonic() - started < CEILING_S
    assert (type(error), error.retriable, error.attempts) == (APIError, True, 2)
    assert "No answer within 2 s" in str(error)
    assert not cassette.exists()


# --- Item 10: the key never reaches the archive or a message ---


@pytest.mark.parametrize("given", ["api_key", "environment"])
def test_item10_an_echoed_key_is_cut_from_archived_answers_and_flagged(
    fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """Issue 11, item 10: a server echoing the key (in the body and a header) of an ok or an
    unavailable answer leaves no part of it in the archive, however the key was given; the records
    say ``redacted: true`` and the others do not."""
    unavailable = fake_api.media_for("Hidden1post")
    unavailable["data"]["data"]["xdt_shortcode_media"] = None
    unavailable["msg"] = f"nothing for {KEY}"
    fake_api.set_payload("Hidden1post", unavailable)
    fake_api.set_for("Ech0ingKey1", "key_echo")
    archive = tmp_path / "archive.jsonl"
    options: dict[str, Any] = {"api_key": KEY}
    if given == "environment":
        monkeypatch.setenv("MEMORIES_API_KEY", KEY)
        options = {"api_key": None}

    summary = run_collect(fake_api, archive, ["Ech0ingKey1", "Hidden1post", CODE], **options)

    assert dict(summary.outcomes) == {"ok": 2, "unavailable": 1}
    assert [r.headers["Authorization"] for r in fake_api.requests] == [KEY] * 3
    assert_no_key(archive.read_bytes(), str(summary))
    stored = records(archive)
    echo = stored["Ech0ingKey1"]
    assert (echo["outcome"], echo["redacted"]) == ("ok", True)
    assert echo["response"]["msg"] == f"success for Authorization {MARKER}"
    assert stored["Hidden1post"]["outcome"] == "unavailable"
    assert stored["Hidden1post"]["redacted"] is True
    assert stored["Hidden1post"]["response"]["msg"] == f"nothing for {MARKER}"
    assert "redacted" not in stored[CODE]


@pytest.mark.parametrize("start", [60, 70, 75, 79])
def test_item10_a_key_straddling_the_message_snippet_leaves_no_part_behind(
    fake_api: FakeAPI, tmp_path: Path, start: int
) -> None:
    """Issue 11, item 10: a failed answer whose echoed key straddles the 80-character snippet of
    the error message leaves no 8-character part of the key in the message or the kept body."""
    body = ("x" * start + KEY + " is not welcome here").encode()
    fake_api.set_payload(CODE, body)
    archive = tmp_path / "archive.jsonl"

    run_collect(fake_api, archive, [CODE], max_retries=0)

    record = records(archive)[CODE]
    assert (record["outcome"], record["redacted"]) == ("failed", True)
    assert record["body"] == "x" * start + MARKER + " is not welcome here"
    assert_no_key(archive.read_bytes(), record["error"]["message"])


@pytest.mark.parametrize("shift", [1, MIN_PART, len(KEY) - MIN_PART, len(KEY) - 1])
def test_item10_a_key_cut_by_the_size_cap_leaves_no_part_of_8_or_more(
    fake_api: FakeAPI, sleeps: Sleeps, shift: int
) -> None:
    """Issue 11, item 10: when the size cap cuts an echoed key, the part of 8 or more characters
    left at the cut is scrubbed too (a shorter one, which cannot be told from text, stays)."""
    cap = 1000
    body = b"y" * (cap - shift) + KEY.encode() + b"z" * 1000
    fake_api.set_payload(CODE, body)

    error = fetch_error(fake_api, sleeps, max_body_bytes=cap)

    assert error.body is not None and error.redacted is (shift >= MIN_PART)
    assert_no_key(error.body, str(error))
    left = error.body.removeprefix("y" * (cap - shift))
    assert left == (MARKER if shift >= MIN_PART else KEY[:shift])


def test_item10_a_key_echoed_in_body_and_header_is_in_nothing_the_client_returns(
    fake_api: FakeAPI, sleeps: Sleeps
) -> None:
    """Issue 11, item 10: through the client alone, the fake's ``key_echo`` answer (key in the
    body and in a header) comes back scrubbed and flagged."""
    fake_api.set_default("key_echo")
    fetched = client(fake_api, sleeps).fetch(CODE)
    assert fake_api.requests[0].headers["Authorization"] == KEY
    assert (fetched.redacted, fetched.envelope["msg"]) == (
        True,
        f"success for Authorization {MARKER}",
    )
    assert_no_key(json.dumps(fetched.envelope), repr(fetched))


def test_failed_http_200_records_keep_the_raw_body_as_text(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11: every failed HTTP 200 record keeps the raw body (key scrubbed, at most 64 KiB) as
    a string, so a paid answer is never thrown away; a failure without an answer has none."""
    behaviours = {
        "Html0000001": "html",
        "Grunc000001": "truncated",
        "GaN00000001": "nan",
        "Deep0000001": "deep",
        "Gpstream001": "upstream_errors",
        "Gr0ngP0st01": "wrong_post",
        "Code0003001": "code_0003",
        "Gvers1zed01": "oversized",
        "Geset000001": "reset",
    }
    for code, behaviour in behaviours.items():
        fake_api.set_for(code, behaviour)
    fake_api.oversized_bytes = 300_000
    archive = tmp_path / "archive.jsonl"

    summary = run_collect(
        fake_api, archive, list(behaviours), max_retries=0, max_body_bytes=100_000
    )

    assert dict(summary.outcomes) == {"failed": len(behaviours)}
    stored = records(archive)
    for code in behaviours:
        record = stored[code]
        if code == "Geset000001":
            assert (record["http_status"], record["body"]) == (None, None)
            continue
        assert record["http_status"] == 200
        assert isinstance(record["body"], str) and 0 < len(record["body"].encode()) <= 64 * 1024
    assert stored["Html0000001"]["body"] == "<html><body>Bad gateway</body></html>"
    truncated = json.dumps(fake_api.media_for("Grunc000001"), indent=2)
    assert stored["Grunc000001"]["body"] == truncated[: len(truncated) // 2]


def test_item10_a_key_echoed_json_escaped_is_cut_before_decoding(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 10: a server that escapes "/" in JSON (as PHP does) echoes a key holding
    "/" as "\\/": that form is cut too, so the decoded envelope never holds the key."""
    key = "sk/SECRET/slash-key-0123456789"
    body = json.dumps(fake_api.media_for(CODE)).replace('"success"', '"for KEY"', 1)
    fake_api.set_payload(CODE, body.replace("KEY", key.replace("/", "\\/")).encode())
    archive = tmp_path / "archive.jsonl"

    run_collect(fake_api, archive, [CODE], api_key=key)

    record = records(archive)[CODE]
    assert (record["outcome"], record["redacted"]) == ("ok", True)
    assert record["response"]["msg"] == f"for {MARKER}"
    assert key.encode() not in archive.read_bytes()
    assert key.replace("/", "\\/").encode() not in archive.read_bytes()


# --- Item 11: truncated or invalid JSON is retried within the run ---


def test_item11_truncated_and_invalid_json_are_retried_within_the_run(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 11: HTTP 200 with truncated JSON, then HTML, then a good answer: one ok
    record with 3 attempts in ONE run; the URL counts once toward max_requests, and is not
    requested again once stored."""
    fake_api.enqueue("truncated", "html")
    archive = tmp_path / "archive.jsonl"

    first = run_collect(fake_api, archive, [CODE, "Gec0ndP0st1"], max_requests=1, concurrency=1)

    assert dict(first.outcomes) == {"ok": 1}
    assert first.stopped is not None and first.stopped.reason == "max_requests"
    [record] = records(archive).values()
    assert (record["shortcode"], record["outcome"], record["attempts"]) == (CODE, "ok", 3)
    assert len(fake_api.requests) == 3
    run_collect(fake_api, archive, [CODE, "Gec0ndP0st1"])
    assert [r.json["video_url"] for r in fake_api.requests[3:]] == [
        "https://www.instagram.com/reel/Gec0ndP0st1/"
    ], "the stored URL is never requested again"


# --- Item 12: strict JSON only ---


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_item12_nan_and_infinity_fail_at_once_and_never_reach_the_archive(
    fake_api: FakeAPI, tmp_path: Path, constant: bytes
) -> None:
    """Issue 11, item 12: a body with NaN, Infinity or -Infinity is a failed record (format error,
    not retried in the run, retriable later) whose raw body is kept as text; every archive line
    is strict JSON; the next run requests the URL again and stores it."""
    body = b'{"code": "0000", "data": {"data": {"xdt_shortcode_media": {"shortcode": "%s", '
    body += b'"video_play_count": %s}}}}'
    fake_api.set_payload(CODE, body % (CODE.encode(), constant))
    archive = tmp_path / "archive.jsonl"

    run_collect(fake_api, archive, [CODE])

    record = records(archive)[CODE]
    assert (record["outcome"], record["attempts"], record["response"]) == ("failed", 1, None)
    assert record["error"]["class"] == "ResponseFormatError"
    assert record["error"]["retriable"] is True
    assert constant.decode() in record["error"]["message"]
    assert record["body"] == (body % (CODE.encode(), constant)).decode()

    fake_api.reset()
    run_collect(fake_api, archive, [CODE])
    assert records(archive)[CODE]["outcome"] == "ok"


def test_item12_the_fake_nan_behaviour_is_refused(fake_api: FakeAPI, sleeps: Sleeps) -> None:
    """Issue 11, item 12: the fake's ``nan`` answer (the ok body with a NaN play count) is a
    ResponseFormatError whose kept body is the raw answer."""
    fake_api.set_default("nan")
    error = fetch_error(fake_api, sleeps)
    assert (type(error), error.attempts) == (ResponseFormatError, 1)
    assert error.body is not None and '"video_play_count": NaN' in error.body


# --- Item 13: a body too deep to read is one URL's failure ---


def test_item13_a_body_100000_levels_deep_is_one_failed_record_and_the_run_goes_on(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 13: a body nested 100,000 levels deep no longer aborts the collection: that
    URL's failure is stored with its body (capped) and the other URLs are stored."""
    codes = ["Deep0000001", CODE, "Gec0ndP0st1"]
    fake_api.set_for(codes[0], "deep")
    archive = tmp_path / "archive.jsonl"

    summary = run_collect(fake_api, archive, codes)

    assert dict(summary.outcomes) == {"ok": 2, "failed": 1}
    record = records(archive)[codes[0]]
    assert (record["outcome"], record["attempts"]) == ("failed", 1)
    assert record["error"]["class"] == "ResponseFormatError"
    assert "nested too deeply" in record["error"]["message"]
    assert record["body"] == '{"code": "0000", "data": ' + "[" * (KEPT_BODY_BYTES - 25)


def test_item13_any_failure_to_judge_an_answer_is_that_urls_failure(
    fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 13: an exception no rule foresaw while judging one answer (here, a bug put
    into the shape finder) is that URL's failure, stored with its body; the run goes on."""
    from igresearch import answers

    real = answers.locate_media

    def broken(envelope: Any) -> Any:
        if "Br0kenJudge" in json.dumps(envelope):
            raise KeyError("a bug")
        return real(envelope)

    monkeypatch.setattr(answers, "locate_media", broken)
    archive = tmp_path / "archive.jsonl"

    summary = run_collect(fake_api, archive, ["Br0kenJudge", CODE])

    assert dict(summary.outcomes) == {"ok": 1, "failed": 1}
    record = records(archive)["Br0kenJudge"]
    assert record["error"]["class"] == "ResponseFormatError"
    assert "KeyError" in record["error"]["message"]
    assert json.loads(record["body"]) == fake_api.media_for("Br0kenJudge")


# --- Item 14: unavailable only when nothing says the upstream failed ---


def envelope_without_media(**levels: Any) -> dict[str, Any]:
    media = FakeAPI.media_for(CODE)
    media["data"]["data"]["xdt_shortcode_media"] = None
    for name, value in levels.items():
        media["data"][name] = value
    return media


APIFY_NOT_FOUND = [{"url": CANONICAL, "error": "not_found", "errorDescription": "Post not found"}]
APIFY_RESTRICTED = [
    {"url": CANONICAL, "error": "restricted_page", "errorDescription": "Restricted access"}
]
APIFY_FAILED = [{"url": CANONICAL, "error": "timeout", "errorDescription": "Page load timed out"}]


@pytest.mark.parametrize(
    ("payload", "outcome", "message"),
    [
        (envelope_without_media(), "unavailable", None),
        (envelope_without_media(errors=[]), "unavailable", None),
        ({"code": "0000", "data": {"items": [], "status": "ok"}}, "unavailable", None),
        ({"code": "0000", "data": APIFY_NOT_FOUND}, "unavailable", None),
        ({"code": "0000", "data": APIFY_RESTRICTED}, "unavailable", None),
        (envelope_without_media(errors=[{"message": "Please wait"}]), "failed", "Please wait"),
        (
            envelope_without_media(status="fail", message="Please wait a few minutes"),
            "failed",
            "Please wait a few minutes",
        ),
        (
            {"code": "0000", "data": {"items": [], "status": "fail", "message": "Try later"}},
            "failed",
            "Try later",
        ),
        (
            {"code": "0000", "data": {"data": None, "errors": [{"message": "rate limited"}]}},
            "failed",
            "rate limited",
        ),
        ({"code": "0000", "data": APIFY_FAILED}, "failed", "Page load timed out"),
    ],
)
def test_item14_a_null_media_node_is_unavailable_only_without_upstream_errors(
    fake_api: FakeAPI,
    sleeps: Sleeps,
    payload: dict[str, Any],
    outcome: str,
    message: str | None,
) -> None:
    """Issue 11, item 14: null media with non-empty ``errors`` at any level or ``status:
    "fail"`` (or an Apify error item not flagged not found/restricted) is a failure carrying the
    first upstream message, retriable later; otherwise (and for an empty mobile ``items`` list)
    the post is unavailable."""
    fake_api.set_payload(CODE, payload)
    error = fetch_error(fake_api, sleeps)
    assert error.attempts == 1
    if outcome == "unavailable":
        assert type(error) is MediaUnavailableError
        assert error.response == payload
    else:
        assert type(error) is APIError
        assert error.retriable is True
        assert f"({message!r})" in str(error)
        assert error.body is not None and json.loads(error.body) == payload


def test_item14_please_wait_answers_are_failed_records_and_media_with_errors_stays_ok(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 14: the fake's upstream "please wait" answers are failed (retriable, not an
    inflated attrition of unavailable posts); null media alone is unavailable; usable media next
    to GraphQL ``errors`` is ok, as before."""
    codes = ["Gpstream001", "Gpstream002", "GullMedia01", "GraphQLErr1"]
    for code, behaviour in zip(
        codes, ["upstream_errors", "upstream_fail", "null_media", "graphql_errors"], strict=True
    ):
        fake_api.set_for(code, behaviour)
    archive = tmp_path / "archive.jsonl"

    run_collect(fake_api, archive, codes)

    stored = records(archive)
    assert [stored[code]["outcome"] for code in codes] == ["failed", "failed", "unavailable", "ok"]
    for code in codes[:2]:
        assert stored[code]["error"]["retriable"] is True
        assert "Please wait a few minutes before you try again." in stored[code]["error"]["message"]
        assert json.loads(stored[code]["body"])["data"]["data"] == {"xdt_shortcode_media": None}
        assert stored[code]["response"] is None


# --- Item 15: the answer must be about the post asked for ---


def test_item15_an_answer_about_another_post_is_a_wrong_post_failure(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 15: an answer describing another post is stored failed as WrongPostError
    (recorded at once, retriable later), its body kept; the tables hold no row of the other post."""
    from igresearch.tables import to_tables

    fake_api.set_for(CODE, "wrong_post")
    archive = tmp_path / "archive.jsonl"

    run_collect(fake_api, archive, [CODE, "Gec0ndP0st1"])

    record = records(archive)[CODE]
    assert (record["outcome"], record["attempts"]) == ("failed", 1)
    assert record["error"] == {
        "class": "WrongPostError",
        "message": f"The API answered HTTP 200, code 0000 for {CANONICAL} with another post's "
        "data; it is not stored as this post. Try again later.",
        "retriable": True,
    }
    assert json.loads(record["body"]) == fake_api.media_for("DLlGZiCOBQ0")
    assert to_tables(archive).media["shortcode"].to_list() == ["Gec0ndP0st1"]


@pytest.mark.parametrize(
    ("shortcode", "media_id", "same"),
    [
        (CODE, shortcode_to_media_id(CODE), True),
        (CODE, "3702190533495745644", True),  # shortcode right, id not: kept (id_mismatch)
        (CODE + "xyz", None, True),  # a private post's longer shortcode, same first 11
        ("DLlGZiCOBQ0", None, False),
        (None, shortcode_to_media_id(CODE) + "_25025320", True),
        (None, "3667365614373573684", False),  # no shortcode: the media id decides
        (None, None, True),  # nothing names the post: the tables will say so
    ],
)
def test_item15_the_shortcode_or_else_the_media_id_must_match(
    fake_api: FakeAPI, sleeps: Sleeps, shortcode: str | None, media_id: str | None, same: bool
) -> None:
    """Issue 11, item 15: the answer's shortcode, or its media id when it has no shortcode, must
    encode the media id asked for."""
    envelope = fake_api.media_for(CODE)
    node = envelope["data"]["data"]["xdt_shortcode_media"]
    node.pop("shortcode")
    node.pop("id")
    node.update({"shortcode": shortcode} if shortcode else {})
    node.update({"id": media_id} if media_id else {})
    fake_api.set_payload(CODE, envelope)
    if same:
        assert client(fake_api, sleeps).fetch(CODE).envelope == envelope
    else:
        assert type(fetch_error(fake_api, sleeps)) is WrongPostError


@pytest.mark.parametrize(
    ("shape", "payload"),
    [
        ("mobile items", {"items": [{"code": "DLlGZiCOBQ0", "pk": 1}], "status": "ok"}),
        ("apify item", [{"shortCode": "DLlGZiCOBQ0", "id": "1"}]),
    ],
)
def test_item15_every_shape_is_checked(
    fake_api: FakeAPI, sleeps: Sleeps, shape: str, payload: Any
) -> None:
    """Issue 11, item 15: the mobile ``code`` and the Apify ``shortCode`` are checked too."""
    fake_api.set_payload(CODE, {"code": "0000", "data": payload})
    assert type(fetch_error(fake_api, sleeps)) is WrongPostError


# --- Item 16: UTF-8 whatever the label ---


@pytest.mark.parametrize("behaviour", ["latin1_label", "text_plain"])
def test_item16_a_utf8_body_is_read_as_utf8_whatever_its_label(
    fake_api: FakeAPI, sleeps: Sleeps, behaviour: str
) -> None:
    """Issue 11, item 16: a UTF-8 body labelled ``charset=iso-8859-1`` or ``text/plain`` keeps
    "café" (not "cafÃ©")."""
    fake_api.set_default(behaviour)
    envelope = client(fake_api, sleeps).fetch(CODE).envelope
    caption = envelope["data"]["data"]["xdt_shortcode_media"]["edge_media_to_caption"]
    assert caption["edges"][0]["node"]["text"] == CAFE


def test_item16_a_utf8_body_may_start_with_a_byte_order_mark(
    fake_api: FakeAPI, sleeps: Sleeps
) -> None:
    """Issue 11, item 16: UTF-8 with a byte order mark (some proxies add one) is still UTF-8."""
    envelope = fake_api.media_for(CODE)
    fake_api.set_payload(CODE, b"\xef\xbb\xbf" + json.dumps(envelope).encode())
    assert client(fake_api, sleeps).fetch(CODE).envelope == envelope


def test_item16_a_body_that_is_not_utf8_is_a_format_error_kept_as_text(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 16: a body that is not UTF-8 (here Latin-1) is a ResponseFormatError,
    recorded at once, retriable later, its bytes kept (the odd byte as an escape)."""
    fake_api.set_payload(CODE, NOT_UTF8)
    archive = tmp_path / "archive.jsonl"
    run_collect(fake_api, archive, [CODE])
    record = records(archive)[CODE]
    assert (record["outcome"], record["attempts"]) == ("failed", 1)
    assert record["error"]["class"] == "ResponseFormatError"
    assert "not UTF-8 (byte 0xe9" in record["error"]["message"]
    assert record["error"]["retriable"] is True
    assert record["body"] == '{"code": "0000", "msg": "caf\\xe9"}'


# --- Item 17: a cap on the decoded size ---


@pytest.mark.parametrize("behaviour", ["oversized", "gzip_bomb"])
def test_item17_a_body_over_the_cap_is_failed_at_once_and_not_retriable(
    fake_api: FakeAPI, tmp_path: Path, behaviour: str
) -> None:
    """Issue 11, item 17: an oversized body, or a gzip bomb inflating to 5 times the cap, stops
    being read at the cap: a failed record, not retried, not retriable, its first 64 KiB kept."""
    cap = 200_000
    fake_api.oversized_bytes, fake_api.bomb_bytes = 2 * cap, 5 * cap
    fake_api.set_for(CODE, behaviour)
    archive = tmp_path / "archive.jsonl"

    summary = run_collect(fake_api, archive, [CODE, "Gec0ndP0st1"], max_body_bytes=cap)

    assert dict(summary.outcomes) == {"ok": 1, "failed": 1}
    record = records(archive)[CODE]
    assert (record["attempts"], record["error"]["retriable"]) == (1, False)
    assert f"over {cap:,} bytes" in record["error"]["message"]
    assert len(record["body"]) == KEPT_BODY_BYTES
    assert record["body"].startswith(
        '{\n  "code": "0000"' if behaviour == "oversized" else '{"code"'
    )


def test_item17_a_gzip_bomb_never_inflates_beyond_the_cap_in_memory(
    fake_api: FakeAPI, sleeps: Sleeps
) -> None:
    """Issue 11, item 17: reading a gzip bomb (5 times the cap once inflated) never holds much more
    than the cap: the Python heap's peak stays below the inflated size."""
    cap = 4 * 1024 * 1024
    fake_api.bomb_bytes = 5 * cap
    fake_api.set_default("gzip_bomb")
    reader = client(fake_api, sleeps, max_body_bytes=cap)
    with pytest.raises(ResponseFormatError):
        reader.fetch(CODE)  # the fake builds (and caches) its bomb
    tracemalloc.start()
    try:
        with pytest.raises(ResponseFormatError):
            reader.fetch(CODE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * cap < fake_api.bomb_bytes


# --- The same judgement through the replay transport ---


def test_answers_are_judged_alike_when_recorded_and_replayed(
    fake_api: FakeAPI, sleeps: Sleeps, tmp_path: Path
) -> None:
    """Issue 11, items 15-17 through ``Client(transport=replay(...))``: recording (the transport
    reads the body) and replaying (the body comes from the cassette) give the same outcomes as the
    network: the cap, UTF-8 whatever the label, and the wrong post."""
    cassette = tmp_path / "hostile.yaml"
    codes = {"Gvers1zed01": "oversized", "Gat1nLabel1": "latin1_label", "Gr0ngP0st01": "wrong_post"}
    for code, behaviour in codes.items():
        fake_api.set_for(code, behaviour)
    fake_api.oversized_bytes = 300_000

    def outcomes(transport: replay) -> list[str]:
        found = []
        with transport, client(fake_api, sleeps, transport=transport, max_body_bytes=100_000) as c:
            for code in codes:
                try:
                    node = c.fetch(code).envelope["data"]["data"]["xdt_shortcode_media"]
                    found.append(node["edge_media_to_caption"]["edges"][0]["node"]["text"])
                except APIError as error:
                    found.append(f"{type(error).__name__} retriable={error.retriable}")
        return found

    expected = [
        "ResponseFormatError retriable=False",
        CAFE,
        "WrongPostError retriable=True",
    ]
    assert outcomes(replay(cassette, mode="new_episodes")) == expected
    requests_sent = len(fake_api.requests)
    assert outcomes(replay(cassette, mode="none")) == expected
    assert len(fake_api.requests) == requests_sent, "replayed, not sent"


# --- Attacks: answers the issue did not name ---


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every POST with ``server.answer(handler)``; counts requests by path."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.server.answer(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[http.server.ThreadingHTTPServer]:
    """A tiny HTTP server on 127.0.0.1 whose answer a test scripts (``server.answer``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _base(server: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_attack_a_redirect_with_an_endless_body_is_not_followed_nor_read_past_the_deadline(
    hostile: http.server.ThreadingHTTPServer, sleeps: Sleeps
) -> None:
    """Attack: a 302 whose chunked body never ends held Client(timeout=2) for minutes (requests
    reads a redirect's whole body, outside the attempt's deadline and size cap, then follows it,
    up to 30 times). Redirects are not followed: one failed answer within the timeout."""

    def answer(handler: _Hostile) -> None:
        handler.send_response(302)
        handler.send_header("Location", "/elsewhere")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(int(CEILING_S * 4)):
                handler.wfile.write(b"1\r\na\r\n")
                handler.wfile.flush()
                time.sleep(0.25)

    hostile.answer = answer  # type: ignore[attr-defined]
    started = time.monotonic()
    with pytest.raises(APIError):
        Client(KEY, base_url=_base(hostile), timeout=2, max_retries=0, sleep=sleeps).fetch(CODE)
    assert time.monotonic() - started < CEILING_S
    assert hostile.paths == ["/instagram/video/metadata"]  # type: ignore[attr-defined]


def test_attack_a_redirect_is_one_failed_answer_naming_where_it_pointed(
    hostile: http.server.ThreadingHTTPServer, sleeps: Sleeps
) -> None:
    """Attack: a 307 to another address was followed (the paid request sent again, wherever the
    server said). Now it is recorded at once, retriable later, and says where it pointed."""

    def answer(handler: _Hostile) -> None:
        handler.send_response(307)
        handler.send_header("Location", "http://127.0.0.2:9/steal")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    hostile.answer = answer  # type: ignore[attr-defined]
    with pytest.raises(APIError) as caught:
        Client(KEY, base_url=_base(hostile), max_retries=2, sleep=sleeps).fetch(CODE)
    error = caught.value
    assert type(error) is APIError
    assert (error.status, error.retriable, error.attempts) == (307, True, 1)
    assert "redirect to 'http://127.0.0.2:9/steal'" in error.message
    assert hostile.paths == ["/instagram/video/metadata"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["inf", "1e400", "1e12", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_attack_a_retry_after_beyond_any_date_is_a_wait_beyond_the_budget(
    hostile: http.server.ThreadingHTTPServer, sleeps: Sleeps, value: str
) -> None:
    """Attack: ``Retry-After: inf`` (or 1e400, 1e12) raised OverflowError from the client, a
    traceback that ended the whole collection. It is a wait beyond the retry budget, as any
    very long one: RetryAfterError, nothing slept, with a resume time one can print."""

    def answer(handler: _Hostile) -> None:
        handler.send_response(429)
        handler.send_header("Retry-After", value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    hostile.answer = answer  # type: ignore[attr-defined]
    with pytest.raises(RetryAfterError) as caught:
        Client(KEY, base_url=_base(hostile), max_retries=3, sleep=sleeps).fetch(CODE)
    assert caught.value.resume_at.year > 2100
    assert (sleeps, caught.value.attempts) == ([], 1)


def test_attack_a_retry_after_of_nan_is_no_retry_after(
    hostile: http.server.ThreadingHTTPServer, sleeps: Sleeps
) -> None:
    """Attack: ``Retry-After: nan`` is unreadable, so the client backs off as without one."""

    def answer(handler: _Hostile) -> None:
        handler.send_response(429)
        handler.send_header("Retry-After", "nan")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    hostile.answer = answer  # type: ignore[attr-defined]
    with pytest.raises(RateLimitError):
        Client(KEY, base_url=_base(hostile), max_retries=1, backoff=1.0, sleep=sleeps).fetch(CODE)
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_attack_a_huge_server_message_is_not_a_huge_error_message(
    fake_api: FakeAPI, sleeps: Sleeps
) -> None:
    """Attack: an error answer whose ``msg`` is a megabyte long became a megabyte-long error
    message: the command line's one ``Error:`` line and the archive record's message (beside
    its body, which is capped). The server's words are cut to 200 characters in messages; the
    body keeps what it keeps."""
    fake_api.set_payload(CODE, {"code": "0003", "msg": "x" * 1_000_000, "data": None})
    error = fetch_error(fake_api, sleeps)
    assert "x" * 200 in error.message and len(error.message) < 400
    assert error.body is not None and len(error.body) == KEPT_BODY_BYTES


@pytest.mark.parametrize("wbits", [15, -15], ids=["zlib-wrapped", "raw"])
def test_attack_deflate_is_read_with_or_without_its_zlib_wrapper(
    hostile: http.server.ThreadingHTTPServer, sleeps: Sleeps, wbits: int
) -> None:
    """Attack: a body labelled ``Content-Encoding: deflate`` sent raw (no zlib header, as some
    servers do) did not decompress: retried, then recorded failed. Both forms are read, as
    urllib3 reads them, even when the first byte arrives alone."""
    envelope = FakeAPI.media_for(CODE)

    def answer(handler: _Hostile) -> None:
        compressor = zlib.compressobj(wbits=wbits)
        body = compressor.compress(json.dumps(envelope).encode()) + compressor.flush()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "deflate")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:1])
        handler.wfile.flush()
        time.sleep(0.05)
        handler.wfile.write(body[1:])

    hostile.answer = answer  # type: ignore[attr-defined]
    fetched = Client(KEY, base_url=_base(hostile), max_retries=0, sleep=sleeps).fetch(CODE)
    assert (fetched.envelope, fetched.attempts) == (envelope, 1)
