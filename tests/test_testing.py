"""Tests of igresearch.testing: the fake API, spoken to over real HTTP with requests."""

from __future__ import annotations

import importlib.resources
import json
import re
import signal
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

import igresearch.testing
from igresearch.testing import BEHAVIOURS, FakeAPI, RecordedRequest

DOCUMENTED = "DLlGZiCOBQ0"
OTHER = "C0ffee_-Xyz"
TIMEOUT = 5.0


def documented_bytes() -> bytes:
    resource = importlib.resources.files("igresearch").joinpath("data/documented_example.json")
    return resource.read_bytes()


def post(
    api: FakeAPI,
    shortcode: str = DOCUMENTED,
    *,
    session: requests.Session | None = None,
    kind: str = "reel",
    timeout: float = TIMEOUT,
) -> requests.Response:
    body = {"video_url": f"https://www.instagram.com/{kind}/{shortcode}/", "channel": "apify"}
    return (session or requests).post(
        api.endpoint_url,
        json=body,
        headers={"Authorization": "sk-test"},
        timeout=timeout,
    )


# -- success -----------------------------------------------------------------------------------


def test_base_url_names_the_documented_base_path(fake_api: FakeAPI) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/serve/api/v2", fake_api.base_url)
    assert fake_api.endpoint_url == fake_api.base_url + "/instagram/video/metadata"


def test_documented_shortcode_gets_the_seed_example_byte_for_byte(fake_api: FakeAPI) -> None:
    response = post(fake_api)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == documented_bytes()
    assert FakeAPI.media_for(DOCUMENTED) == json.loads(documented_bytes())


@pytest.mark.parametrize("kind", ["reel", "reels", "p", "tv"])
def test_other_shortcode_gets_its_media_id_and_predictable_counts(
    fake_api: FakeAPI, kind: str
) -> None:
    response = post(fake_api, OTHER, kind=kind)

    assert response.status_code == 200
    envelope = response.json()
    assert envelope == FakeAPI.media_for(OTHER)
    assert envelope["code"] == "0000"
    assert envelope["success"] is True
    assert envelope["failed"] is False
    assert envelope["data"]["status"] == "ok"
    assert envelope["data"]["extensions"] == {"is_final": True}
    media = envelope["data"]["data"]["xdt_shortcode_media"]
    assert media["shortcode"] == OTHER
    assert media["id"] == str(
        sum(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(c)
            * 64 ** (10 - i)
            for i, c in enumerate(OTHER)
        )
    )
    documented = FakeAPI.media_for(DOCUMENTED)["data"]["data"]["xdt_shortcode_media"]
    assert media.keys() == documented.keys()
    assert media["video_play_count"] != documented["video_play_count"]


def test_counts_are_deterministic_and_differ_between_shortcodes() -> None:
    def counts(shortcode: str) -> tuple[int, int, int, int]:
        media = FakeAPI.media_for(shortcode)["data"]["data"]["xdt_shortcode_media"]
        return (
            media["video_play_count"],
            media["video_view_count"],
            media["edge_media_preview_like"]["count"],
            media["edge_media_to_parent_comment"]["count"],
        )

    assert counts("ABCDEFGHIJK") == counts("ABCDEFGHIJK")
    assert counts("ABCDEFGHIJK") != counts("ABCDEFGHIJL")
    assert all(n >= 0 for n in counts("ABCDEFGHIJK"))


def test_media_id_uses_only_the_first_eleven_characters(fake_api: FakeAPI) -> None:
    media = post(fake_api, DOCUMENTED + "xyz").json()["data"]["data"]["xdt_shortcode_media"]

    assert media["shortcode"] == DOCUMENTED + "xyz"
    assert media["id"] == "3667365614373573684"


def test_media_for_returns_a_fresh_copy() -> None:
    FakeAPI.media_for(OTHER)["data"] = None

    assert FakeAPI.media_for(OTHER)["data"] is not None


# -- behaviours --------------------------------------------------------------------------------

JSON_ANSWERS: list[tuple[str, int, dict[str, Any]]] = [
    ("unauthorized", 401, {"code": 401, "msg": "Unauthorized", "data": None}),
    ("no_credits", 402, {"code": 402, "msg": "Insufficient credits", "data": None}),
    ("forbidden", 403, {"code": 403, "msg": "Forbidden", "data": None}),
    ("rate_limited", 429, {"code": 429, "msg": "Too Many Requests", "data": None}),
    ("rate_limited_no_retry_after", 429, {"code": 429, "msg": "Too Many Requests", "data": None}),
    ("server_error", 500, {"code": 500, "msg": "Internal Server Error", "data": None}),
    ("code_int_401", 200, {"code": 401, "msg": "Unauthorized", "data": None}),
]


@pytest.mark.parametrize(("behaviour", "status", "body"), JSON_ANSWERS)
def test_http_error_behaviours(
    fake_api: FakeAPI, behaviour: str, status: int, body: dict[str, Any]
) -> None:
    fake_api.enqueue(behaviour)
    response = post(fake_api)

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == body
    expected_retry_after = "1" if behaviour == "rate_limited" else None
    assert response.headers.get("Retry-After") == expected_retry_after


@pytest.mark.parametrize("code", ["0001", "0003", "0401", "0402", "0403", "0429", "9009"])
def test_api_code_behaviours_answer_http_200(fake_api: FakeAPI, code: str) -> None:
    fake_api.enqueue(f"code_{code}")
    response = post(fake_api)

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["msg"], str) and body["msg"]
    assert (body["data"], body["success"], body["failed"]) == (None, False, True)


def test_null_media_is_a_success_without_media(fake_api: FakeAPI) -> None:
    fake_api.enqueue("null_media")
    body = post(fake_api).json()

    assert body["code"] == "0000"
    assert body["data"]["data"] == {"xdt_shortcode_media": None}
    assert body["data"]["status"] == "ok"


def test_graphql_errors_sit_next_to_usable_media(fake_api: FakeAPI) -> None:
    fake_api.enqueue("graphql_errors")
    body = post(fake_api, OTHER).json()

    assert body["data"]["errors"][0]["path"][-1] == "address_json"
    assert body["data"]["data"] == FakeAPI.media_for(OTHER)["data"]["data"]


def test_html_answers_200_with_an_html_page(fake_api: FakeAPI) -> None:
    fake_api.enqueue("html")
    response = post(fake_api)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.content == b"<html><body>Bad gateway</body></html>"


def test_truncated_answers_half_a_body_with_matching_length(fake_api: FakeAPI) -> None:
    fake_api.enqueue("truncated")
    response = post(fake_api)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content == documented_bytes()[: len(documented_bytes()) // 2]
    with pytest.raises(ValueError):
        response.json()


def test_reset_raises_connection_error_then_the_server_goes_on(fake_api: FakeAPI) -> None:
    fake_api.enqueue("reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        post(fake_api)

    assert post(fake_api).status_code == 200
    assert [r.behaviour for r in fake_api.requests] == ["reset", "ok"]


def test_reset_on_a_kept_alive_connection(fake_api: FakeAPI) -> None:
    with requests.Session() as session:
        assert post(fake_api, session=session).status_code == 200
        fake_api.enqueue("reset")
        with pytest.raises(requests.exceptions.ConnectionError):
            post(fake_api, session=session)
        assert post(fake_api, session=session).status_code == 200


def test_slow_answers_ok_after_slow_seconds(fake_api: FakeAPI) -> None:
    fake_api.slow_seconds = 0.2
    fake_api.enqueue("slow", "slow")

    with pytest.raises(requests.exceptions.Timeout):
        post(fake_api, timeout=0.05)
    assert post(fake_api).content == documented_bytes()


# -- hostile answers (issue 11) -----------------------------------------------------------------


def test_drip_sends_the_ok_body_a_byte_at_a_time(fake_api: FakeAPI) -> None:
    """Issue 11, FakeAPI: ``drip`` sends the ok body, with its length, one byte per interval."""
    fake_api.drip_seconds = 0.001
    fake_api.enqueue("drip")
    response = post(fake_api, OTHER)
    assert response.content == json.dumps(FakeAPI.media_for(OTHER), indent=2).encode()
    assert int(response.headers["Content-Length"]) == len(response.content)


def test_endless_never_finishes_its_body(fake_api: FakeAPI) -> None:
    """Issue 11, FakeAPI: ``endless`` has no Content-Length and keeps sending."""
    fake_api.drip_seconds = 0.001
    fake_api.enqueue("endless")
    with post_streamed(fake_api) as response:
        assert "Content-Length" not in response.headers
        chunks = response.iter_content(1)
        received = b"".join(next(chunks) for _ in range(60))
    assert received.startswith(b'{"code": "0000", "data": ') and len(received) == 60


def post_streamed(api: FakeAPI) -> requests.Response:
    body = {"video_url": f"https://www.instagram.com/reel/{OTHER}/", "channel": "apify"}
    return requests.post(api.endpoint_url, json=body, stream=True, timeout=TIMEOUT)


@pytest.mark.parametrize("behaviour", ["drip", "endless"])
def test_stop_ends_dripping_answers_at_once(behaviour: str) -> None:
    """Issue 11, FakeAPI: stop() ends a ``drip`` or ``endless`` answer at once (the handler waits
    on a stop event between bytes), so a client reading without a timeout is released."""
    api = FakeAPI(drip_seconds=0.5).start()
    api.set_default(behaviour)
    outcome: list[Any] = []

    def read() -> None:
        try:
            outcome.append(requests.post(api.endpoint_url, json={"video_url": "/p/" + OTHER}))
        except requests.RequestException as error:
            outcome.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    while not api.requests:
        time.sleep(0.01)
    api.stop()
    reader.join(30)
    assert not reader.is_alive() and len(outcome) == 1


def test_key_echo_sends_the_authorization_back_in_body_and_header(fake_api: FakeAPI) -> None:
    """Issue 11, FakeAPI: ``key_echo`` quotes the request's Authorization value."""
    fake_api.enqueue("key_echo")
    response = post(fake_api, OTHER)
    assert response.json()["msg"] == "success for Authorization sk-test"
    assert response.headers["X-Echo-Authorization"] == "sk-test"


def test_nan_and_deep_are_not_strict_json(fake_api: FakeAPI) -> None:
    """Issue 11, FakeAPI: ``nan`` holds a NaN play count; ``deep`` nests deep_levels levels."""
    fake_api.deep_levels = 3
    fake_api.enqueue("nan", "deep")
    assert b'"video_play_count": NaN' in post(fake_api).content
    assert post(fake_api).content == b'{"code": "0000", "data": [[[]]]}'


@pytest.mark.parametrize(
    ("behaviour", "where"), [("upstream_errors", "errors"), ("upstream_fail", "message")]
)
def test_upstream_please_wait_answers_have_null_media(
    fake_api: FakeAPI, behaviour: str, where: str
) -> None:
    """Issue 11, FakeAPI: Instagram's throttling answer, null media with an upstream message."""
    fake_api.enqueue(behaviour)
    data = post(fake_api).json()["data"]
    assert data["data"] == {"xdt_shortcode_media": None}
    assert "Please wait a few minutes" in json.dumps(data[where])
    assert data["status"] == ("fail" if behaviour == "upstream_fail" else "ok")


def test_wrong_post_answers_with_another_posts_envelope(fake_api: FakeAPI) -> None:
    """Issue 11, FakeAPI: ``wrong_post`` serves another post (never the one asked for)."""
    fake_api.enqueue("wrong_post", "wrong_post")
    assert post(fake_api, OTHER).content == documented_bytes()
    assert post(fake_api).json() == FakeAPI.media_for("C0ffee12345")


@pytest.mark.parametrize(
    ("behaviour", "label"),
    [("latin1_label", "application/json; charset=iso-8859-1"), ("text_plain", "text/plain")],
)
def test_mislabelled_charsets_send_utf8(fake_api: FakeAPI, behaviour: str, label: str) -> None:
    """Issue 11, FakeAPI: a UTF-8 body holding "café" under a label that says otherwise."""
    fake_api.enqueue(behaviour)
    response = post(fake_api)
    assert response.headers["Content-Type"] == label
    assert "Un café, s'il vous plaît".encode() in response.content


def test_oversized_and_gzip_bomb_have_the_set_sizes(fake_api: FakeAPI) -> None:
    """Issue 11, FakeAPI: ``oversized`` is oversized_bytes long; ``gzip_bomb`` inflates to
    bomb_bytes from a small compressed body."""
    fake_api.oversized_bytes, fake_api.bomb_bytes = 50_000, 3_000_000
    fake_api.enqueue("oversized", "gzip_bomb")
    oversized = post(fake_api)
    assert len(oversized.content) == 50_000 and oversized.json()["code"] == "0000"
    bomb = requests.post(
        fake_api.endpoint_url, json={"video_url": "/p/" + OTHER}, stream=True, timeout=TIMEOUT
    )
    compressed = bomb.raw.read(decode_content=False)
    assert bomb.headers["Content-Encoding"] == "gzip" and len(compressed) < 10_000
    assert len(zlib.decompress(compressed, 31)) == 3_000_000


def test_unknown_behaviour_is_refused_with_the_known_names(fake_api: FakeAPI) -> None:
    with pytest.raises(ValueError, match="rate_limited"):
        fake_api.enqueue("ok", "teapot")
    with pytest.raises(ValueError):
        fake_api.set_default("teapot")
    with pytest.raises(ValueError):
        fake_api.set_for(OTHER, "teapot")

    assert post(fake_api).status_code == 200  # nothing of the refused call was queued


def test_every_behaviour_is_in_the_module_docstring() -> None:
    doc = igresearch.testing.__doc__ or ""

    assert {name for name in BEHAVIOURS if f"``{name}``" not in doc} == set()


# -- scripting ---------------------------------------------------------------------------------


def test_queue_is_consumed_in_order_then_ok_resumes(fake_api: FakeAPI) -> None:
    fake_api.enqueue("unauthorized", "rate_limited")
    fake_api.enqueue("server_error")

    statuses = [post(fake_api).status_code for _ in range(5)]

    assert statuses == [401, 429, 500, 200, 200]
    assert [r.behaviour for r in fake_api.requests] == [
        "unauthorized",
        "rate_limited",
        "server_error",
        "ok",
        "ok",
    ]


def test_queue_beats_set_for_which_beats_set_default(fake_api: FakeAPI) -> None:
    fake_api.set_default("server_error")
    fake_api.set_for(OTHER, "null_media")
    fake_api.enqueue("forbidden")

    assert post(fake_api, OTHER).status_code == 403
    assert post(fake_api, OTHER).json()["data"]["data"]["xdt_shortcode_media"] is None
    assert post(fake_api, OTHER).json()["data"]["data"]["xdt_shortcode_media"] is None
    assert post(fake_api).status_code == 500


def test_reset_method_clears_requests_queue_and_defaults(fake_api: FakeAPI) -> None:
    fake_api.set_default("server_error")
    fake_api.set_for(OTHER, "forbidden")
    fake_api.enqueue("unauthorized")
    post(fake_api)

    fake_api.reset()

    assert fake_api.requests == []
    assert post(fake_api).status_code == 200
    assert post(fake_api, OTHER).status_code == 200


# -- recording, headers, routing ---------------------------------------------------------------


def test_requests_are_recorded_with_headers_and_body(fake_api: FakeAPI) -> None:
    fake_api.enqueue("rate_limited")
    post(fake_api, OTHER)
    post(fake_api)

    first, second = fake_api.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path) == ("POST", "/serve/api/v2/instagram/video/metadata")
    assert first.headers["Authorization"] == "sk-test"
    assert first.headers["Content-Type"] == "application/json"
    assert first.json == {
        "video_url": f"https://www.instagram.com/reel/{OTHER}/",
        "channel": "apify",
    }
    assert json.loads(first.body) == first.json
    assert (first.behaviour, second.behaviour) == ("rate_limited", "ok")
    with pytest.raises(AttributeError):
        first.behaviour = "ok"  # type: ignore[misc]


def test_requests_property_is_a_snapshot(fake_api: FakeAPI) -> None:
    snapshot = fake_api.requests
    post(fake_api)

    assert snapshot == []
    assert len(fake_api.requests) == 1


def test_date_header_follows_the_date_attribute(fake_api: FakeAPI) -> None:
    fake_api.date = datetime(2025, 7, 1, 21, 9, 4, tzinfo=UTC)
    fake_api.enqueue("unauthorized")

    for response in (post(fake_api), post(fake_api)):
        assert response.headers["Date"] == "Tue, 01 Jul 2025 21:09:04 GMT"

    fake_api.date = datetime(2025, 7, 1, 21, 9, 4)  # naive: taken as UTC
    assert post(fake_api).headers["Date"] == "Tue, 01 Jul 2025 21:09:04 GMT"


def test_date_header_defaults_to_now(fake_api: FakeAPI) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    date = parsedate_to_datetime(post(fake_api).headers["Date"])

    assert before <= date <= datetime.now(UTC)


def test_other_paths_answer_404_json(fake_api: FakeAPI) -> None:
    port = fake_api.port
    tiktok = requests.post(
        fake_api.base_url + "/tiktok/video/metadata", json={"video_url": "x"}, timeout=TIMEOUT
    )
    root = requests.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT)

    for response in (tiktok, root):
        assert response.status_code == 404
        assert response.json() == {"code": 404, "msg": "Not Found", "data": None}
    assert [r.behaviour for r in fake_api.requests] == ["not_found", "not_found"]


def test_get_on_the_endpoint_answers_405(fake_api: FakeAPI) -> None:
    response = requests.get(fake_api.endpoint_url, timeout=TIMEOUT)

    assert response.status_code == 405
    assert response.json()["code"] == 405


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"channel": "apify"}', b'{"video_url": "https://example.org/x"}'],
)
def test_body_without_a_shortcode_answers_400(fake_api: FakeAPI, body: bytes) -> None:
    response = requests.post(fake_api.endpoint_url, data=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert fake_api.requests[-1].body == body


def test_fake_sends_no_access_log(fake_api: FakeAPI, capsys: pytest.CaptureFixture[str]) -> None:
    post(fake_api)
    requests.get(fake_api.base_url, timeout=TIMEOUT)

    assert capsys.readouterr() == ("", "")


# -- connections and lifecycle -----------------------------------------------------------------


def test_keep_alive_session_survives_every_answer(fake_api: FakeAPI) -> None:
    fake_api.enqueue("html", "truncated", "unauthorized", "null_media", "code_0429")
    with requests.Session() as session:
        statuses = [post(fake_api, session=session).status_code for _ in range(6)]
        last = post(fake_api, session=session)

    assert statuses == [200, 200, 401, 200, 200, 200]
    assert last.content == documented_bytes()


def test_concurrent_clients(fake_api: FakeAPI) -> None:
    fake_api.latency = 0.05
    shortcodes = [f"Short{i:06d}" for i in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        bodies = list(pool.map(lambda s: post(fake_api, s).json(), shortcodes))

    assert bodies == [FakeAPI.media_for(s) for s in shortcodes]
    assert len(fake_api.requests) == 16


def test_stop_closes_kept_alive_connections() -> None:
    api = FakeAPI().start()
    with requests.Session() as session:
        url = api.endpoint_url
        assert session.get(url, timeout=TIMEOUT).status_code == 405
        api.stop()
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(url, timeout=TIMEOUT)
    api.stop()  # a second stop is harmless


def test_lifecycle_errors() -> None:
    api = FakeAPI()
    with pytest.raises(RuntimeError, match="not running"):
        _ = api.base_url
    with api, pytest.raises(RuntimeError, match="already running"):
        api.start()


@pytest.mark.slow
def test_main_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "igresearch.testing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/serve/api/v2", base_url)
        response = requests.post(
            base_url + "/instagram/video/metadata",
            json={"video_url": f"https://www.instagram.com/p/{DOCUMENTED}/", "channel": "apify"},
            timeout=TIMEOUT,
        )
        assert response.content == documented_bytes()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert stderr == ""
