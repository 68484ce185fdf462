"""The client against the project's fake API on 127.0.0.1."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from doubles import Sleeps

from igresearch.answers import retry_after
from igresearch.client import Client
from igresearch.errors import (
    APIError,
    AuthError,
    InsufficientCreditsError,
    InvalidURLError,
    MediaUnavailableError,
    RateLimitError,
    ResponseFormatError,
)
from igresearch.testing import FakeAPI

KEY = "sk-SECRET-igresearch-test-key-0123456789"
SHORTCODE = "DLlGZiCOBQ0"
CANONICAL = f"https://www.instagram.com/reel/{SHORTCODE}/"


@pytest.fixture
def client(fake_api: FakeAPI, sleeps: Sleeps) -> Client:
    return Client(KEY, base_url=fake_api.base_url, sleep=sleeps, rng=random.Random(7))


def test_success_returns_the_documented_envelope_and_sends_the_documented_request(
    client: Client, fake_api: FakeAPI
) -> None:
    envelope = client.video_metadata(f"  instagram.com/reels/{SHORTCODE}?igsh=abc  ")

    documented = resources.files("igresearch").joinpath("data/documented_example.json")
    assert envelope == json.loads(documented.read_text(encoding="utf-8"))
    [request] = fake_api.requests
    assert request.method == "POST"
    assert request.path == "/serve/api/v2/instagram/video/metadata"
    assert request.headers["Authorization"] == KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {"video_url": CANONICAL, "channel": "apify"}


def test_fetch_reports_status_date_and_attempts(client: Client, fake_api: FakeAPI) -> None:
    fake_api.date = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    fake_api.enqueue("server_error")

    fetched = client.fetch(SHORTCODE)

    assert (fetched.status, fetched.attempts, fetched.shortcode) == (200, 2, SHORTCODE)
    assert fetched.date == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert fetched.url == CANONICAL


def test_other_shortcodes_get_their_own_media(client: Client, fake_api: FakeAPI) -> None:
    envelope = client.video_metadata("https://www.instagram.com/p/C0ffee12345/")
    assert envelope == fake_api.media_for("C0ffee12345")


def test_channel_and_key_and_base_url_from_environment(
    fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORIES_API_KEY", "env-key-0123")
    monkeypatch.setenv("MEMORIES_BASE_URL", fake_api.base_url + "/")
    with Client(channel="memories.ai") as client:
        client.video_metadata(SHORTCODE)
    [request] = fake_api.requests
    assert request.headers["Authorization"] == "env-key-0123"
    assert request.json == {"video_url": CANONICAL, "channel": "memories.ai"}


def test_default_base_url_is_the_vendors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMORIES_BASE_URL", raising=False)
    assert Client(KEY).base_url == "https://mavi-backend.memories.ai/serve/api/v2"


def test_missing_key_raises_before_any_request(
    fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    client = Client(base_url=fake_api.base_url)
    with pytest.raises(AuthError, match="MEMORIES_API_KEY"):
        client.video_metadata(SHORTCODE)
    assert fake_api.requests == []


def test_invalid_url_raises_before_any_request(client: Client, fake_api: FakeAPI) -> None:
    with pytest.raises(InvalidURLError, match=r"example\.com"):
        client.video_metadata("https://example.com/reel/DLlGZiCOBQ0/")
    assert fake_api.requests == []


@pytest.mark.parametrize("cap", [0, 64 * 1024 * 1024 + 1])
def test_a_size_cap_out_of_range_is_refused(cap: int) -> None:
    """The cap is at least a byte, and at most what a recording replay reads, so that an answer
    the replay cut is always judged too long."""
    with pytest.raises(ValueError, match=f"max_body_bytes must be 1 to 67108864, not {cap}"):
        Client(KEY, max_body_bytes=cap)


def test_unknown_channel_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"'tiktok'.*apify, rapid, memories\.ai"):
        Client(KEY, channel="tiktok")


@pytest.mark.parametrize(
    ("behaviour", "error_class", "status", "code"),
    [
        ("unauthorized", AuthError, 401, "401"),
        ("forbidden", AuthError, 403, "403"),
        ("code_0401", AuthError, 200, "401"),
        ("code_int_401", AuthError, 200, "401"),
        ("no_credits", InsufficientCreditsError, 402, "402"),
        ("code_0402", InsufficientCreditsError, 200, "402"),
        ("code_0003", APIError, 200, "3"),
        ("null_media", MediaUnavailableError, 200, "0"),
    ],
)
def test_failures_that_are_never_retried(
    client: Client,
    fake_api: FakeAPI,
    sleeps: Sleeps,
    behaviour: str,
    error_class: type[APIError],
    status: int,
    code: str | None,
) -> None:
    fake_api.set_default(behaviour)

    with pytest.raises(error_class) as caught:
        client.video_metadata(SHORTCODE)

    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code, error.url, error.attempts) == (status, code, CANONICAL, 1)
    assert CANONICAL in str(error)
    assert len(fake_api.requests) == 1
    assert sleeps == []


def test_unavailable_media_keeps_the_response(client: Client, fake_api: FakeAPI) -> None:
    fake_api.set_default("null_media")
    with pytest.raises(MediaUnavailableError) as caught:
        client.video_metadata(SHORTCODE)
    assert caught.value.response["data"]["data"] == {"xdt_shortcode_media": None}
    assert "unavailable" in str(caught.value)


@pytest.mark.parametrize(
    "behaviour",
    [
        "server_error",
        "reset",
        "rate_limited",
        "rate_limited_no_retry_after",
        "code_0429",
        "code_0001",
        "html",
        "truncated",
    ],
)
def test_transient_failures_are_retried_then_succeed(
    client: Client, fake_api: FakeAPI, sleeps: Sleeps, behaviour: str
) -> None:
    fake_api.enqueue(behaviour, behaviour)

    envelope = client.video_metadata(SHORTCODE)

    assert envelope["code"] == "0000"
    assert len(fake_api.requests) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("behaviour", "error_class"),
    [
        ("rate_limited", RateLimitError),
        ("code_0429", RateLimitError),
        ("server_error", APIError),
        ("reset", APIError),
        ("code_0001", APIError),
        ("html", ResponseFormatError),
        ("truncated", ResponseFormatError),
    ],
)
def test_retries_run_out(
    fake_api: FakeAPI, sleeps: Sleeps, behaviour: str, error_class: type[APIError]
) -> None:
    fake_api.set_default(behaviour)
    client = Client(KEY, base_url=fake_api.base_url, max_retries=3, sleep=sleeps)

    with pytest.raises(error_class) as caught:
        client.video_metadata(SHORTCODE)

    assert type(caught.value) is error_class
    assert caught.value.retriable
    assert (caught.value.attempts, caught.value.url) == (4, CANONICAL)
    assert len(fake_api.requests) == 4
    assert len(sleeps) == 3


def test_retry_after_is_honoured(client: Client, fake_api: FakeAPI, sleeps: Sleeps) -> None:
    fake_api.enqueue("rate_limited", "rate_limited")
    client.video_metadata(SHORTCODE)
    assert sleeps == [1.0, 1.0]


def test_backoff_doubles_with_jitter_up_to_a_ceiling(fake_api: FakeAPI, sleeps: Sleeps) -> None:
    fake_api.set_default("server_error")
    client = Client(
        KEY, base_url=fake_api.base_url, max_retries=6, backoff=0.5, max_backoff=4.0, sleep=sleeps
    )
    with pytest.raises(APIError):
        client.video_metadata(SHORTCODE)

    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps) == len(ceilings)
    for delay, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(sleeps)) > 1, "jitter makes delays differ"


def test_timeouts_are_retried(fake_api: FakeAPI, sleeps: Sleeps) -> None:
    fake_api.slow_seconds = 0.5
    fake_api.enqueue("slow")
    client = Client(KEY, base_url=fake_api.base_url, timeout=0.1, sleep=sleeps)
    assert client.video_metadata(SHORTCODE)["code"] == "0000"
    assert len(sleeps) == 1


def test_zero_retries_means_one_attempt(fake_api: FakeAPI, sleeps: Sleeps) -> None:
    fake_api.set_default("server_error")
    client = Client(KEY, base_url=fake_api.base_url, max_retries=0, sleep=sleeps)
    with pytest.raises(APIError):
        client.video_metadata(SHORTCODE)
    assert (len(fake_api.requests), sleeps) == (1, [])


def test_connection_refused_is_a_clear_api_error(sleeps: Sleeps) -> None:
    with FakeAPI() as api:
        base_url = api.base_url
    client = Client(KEY, base_url=base_url, max_retries=1, sleep=sleeps)
    with pytest.raises(APIError, match="Could not reach the API") as caught:
        client.video_metadata(SHORTCODE)
    assert caught.value.status is None


BEHAVIOURS = [
    "unauthorized",
    "forbidden",
    "no_credits",
    "rate_limited",
    "server_error",
    "reset",
    "html",
    "truncated",
    "null_media",
    "code_0001",
    "code_0003",
    "code_0401",
    "code_0402",
    "code_0429",
]


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_the_key_never_appears_in_errors(fake_api: FakeAPI, sleeps: Sleeps, behaviour: str) -> None:
    fake_api.set_default(behaviour)
    client = Client(KEY, base_url=fake_api.base_url, max_retries=1, sleep=sleeps)
    with pytest.raises(APIError) as caught:
        client.video_metadata(SHORTCODE)
    error = caught.value
    texts = [str(error), repr(error), repr(client), str(error.__cause__), str(error.__context__)]
    assert all(KEY not in text for text in texts)


def test_retry_after_header_forms() -> None:
    assert retry_after("7") == 7.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    in_a_minute = datetime.now(UTC) + timedelta(seconds=60)
    from email.utils import format_datetime

    seconds = retry_after(format_datetime(in_a_minute, usegmt=True))
    assert seconds is not None and 55 <= seconds <= 60


def test_a_malformed_base_url_is_a_clear_api_error(sleeps: Sleeps) -> None:
    client = Client(KEY, base_url="127.0.0.1:9/serve", sleep=sleeps)
    with pytest.raises(APIError, match="Check MEMORIES_BASE_URL") as caught:
        client.video_metadata(SHORTCODE)
    assert (caught.value.retriable, sleeps) == (False, [])
    assert KEY not in str(caught.value)


def test_a_key_echoed_by_the_server_is_cut_from_the_error(
    client: Client, fake_api: FakeAPI
) -> None:
    fake_api.set_payload(SHORTCODE, {"code": "0003", "msg": f"bad request from {KEY}"})
    with pytest.raises(APIError) as caught:
        client.video_metadata(SHORTCODE)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert "bad request from <API key>" in str(caught.value)


def test_an_answer_nested_too_deeply_is_a_format_error(client: Client, fake_api: FakeAPI) -> None:
    fake_api.set_payload(SHORTCODE, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ResponseFormatError) as caught:
        client.video_metadata(SHORTCODE)
    assert (caught.value.status, caught.value.attempts) == (200, 1)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0.0),
        ("timeout", float("nan")),
        ("timeout", 1e300),
        ("retry_budget", -1.0),
        ("retry_budget", float("inf")),
        ("retry_budget", 1e300),
    ],
)
def test_item23_times_the_client_cannot_wait_are_refused(option: str, value: float) -> None:
    """Issue 11, item 23: a timeout or retry budget the operating system cannot wait for
    (1e300 s overflowed inside a socket and a timer thread) is refused when the client is made."""
    with pytest.raises(ValueError, match=f"^{option} must be"):
        Client(KEY, **{option: value})


@pytest.mark.parametrize("given", [f" {KEY} ", f"{KEY}\n", f"{KEY}\r\n", f"\t{KEY}"])
def test_attack_a_key_with_a_line_break_or_spaces_around_it_is_sent_bare_and_scrubbed(
    fake_api: FakeAPI, given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: a key read from a file (``KEY\\n``) or pasted with spaces failed every URL with
    requests' InvalidHeader, reported as a bad base URL, and a server echoing the key kept it
    past the scrubber (which looked for the key with its spaces). The key is sent stripped, and
    the echo is cut, whether the key came as api_key= or from the environment."""
    fake_api.set_default("key_echo")
    for api_key in (given, None):
        monkeypatch.setenv("MEMORIES_API_KEY", given if api_key is None else "")
        with Client(api_key, base_url=fake_api.base_url, max_retries=0) as client:
            fetched = client.fetch(SHORTCODE)
        assert fake_api.requests[-1].headers["Authorization"] == KEY
        assert fetched.redacted
        assert KEY not in json.dumps(fetched.envelope)


@pytest.mark.parametrize("given", ["“" + KEY + "”", KEY[:10] + "\n" + KEY[10:], KEY + "é"])
def test_attack_a_key_no_header_can_carry_is_an_auth_error_before_sending(
    fake_api: FakeAPI, given: str
) -> None:
    """Attack: a key pasted with typographic quotes raised UnicodeEncodeError from the client (a
    ValueError the command line showed as a latin-1 codec message); one with a line break inside
    failed every URL as a bad base URL. Both are an AuthError that says what to fix, without
    the key, and nothing is sent."""
    with pytest.raises(AuthError) as caught, Client(given, base_url=fake_api.base_url) as client:
        client.fetch(SHORTCODE)
    assert "MEMORIES_API_KEY" in caught.value.message
    assert KEY[:8] not in caught.value.message
    assert fake_api.requests == []


@pytest.mark.parametrize("given", ["e", "env-key", "1234567"])
def test_attack_a_key_too_short_to_be_one_is_an_auth_error_before_sending(
    fake_api: FakeAPI, given: str
) -> None:
    """Attack: a key of one character was sent, and scrubbing it from the answer cut every "e"
    out of the paid data (see test_redact). A key shorter than MIN_PART is an AuthError, which
    stops a run before anything is paid, and the message does not repeat it."""
    with pytest.raises(AuthError) as caught, Client(given, base_url=fake_api.base_url) as client:
        client.fetch(SHORTCODE)
    assert "too short to be a memories.ai key" in caught.value.message
    assert fake_api.requests == []
