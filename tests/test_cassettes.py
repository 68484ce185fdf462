"""Recording and offline replay: safe, meaning-based, ordered, clear about misses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from igresearch.archive import read_archive
from igresearch.cassettes import (
    _dump,
    _scrub_response,
    body_meaning,
    cassette_path,
    read_cassette,
    replay,
)
from igresearch.client import Client
from igresearch.collect import collect
from igresearch.demo import collect_from_cassette, recorded_posts, run_demo
from igresearch.errors import CassetteError, IgResearchError
from igresearch.tables import Tables, to_tables
from igresearch.testing import FakeAPI
from igresearch.urls import parse_shortcode

KEY = "sk-SECRET-cassette-test-key-0123456789"
ROOT = Path(__file__).parent.parent
CODES = [f"Casset{i:05d}" for i in range(6)]


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)


def record(fake_api: FakeAPI, path: Path, codes: list[str]) -> None:
    with replay(path, mode="once"), Client(KEY, base_url=fake_api.base_url) as client:
        for code in codes:
            client.video_metadata(code)


def test_recordings_never_hold_the_key(
    fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    path = tmp_path / "c.yaml"
    with replay(path, mode="once"), Client(base_url=fake_api.base_url) as client:
        client.video_metadata(CODES[0])
    assert fake_api.requests[0].headers["Authorization"] == KEY, "the key was sent..."
    for written in tmp_path.rglob("*"):
        assert KEY not in written.read_text(encoding="utf-8"), f"...but not written to {written}"
    assert "Authorization" not in path.read_text(encoding="utf-8")


def test_scrubbing_drops_cookies_and_key_in_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Set-Cookie": ["session=abc"], "Content-Type": ["application/json"]},
        "body": {"string": f'{{"echo": "{KEY}"}}'.encode()},
    }
    scrubbed = _scrub_response(response)
    assert scrubbed["headers"] == {"Content-Type": ["application/json"]}
    assert KEY.encode() not in scrubbed["body"]["string"]


def test_compressed_answers_are_stored_decoded_and_without_cookies(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    fake_api.set_default("gzip")
    record(fake_api, path, CODES[:1])
    text = path.read_text(encoding="utf-8")
    assert "gzip" not in text.split("response:")[1], "no Content-Encoding left on the answer"
    assert "Set-Cookie" not in text and "fake-session" not in text
    assert CODES[0] in text, "the body is stored as readable JSON"
    with replay(path), Client(base_url=fake_api.base_url) as client:
        assert client.video_metadata(CODES[0]) == fake_api.media_for(CODES[0])


def test_committed_cassettes_hold_no_key_or_cookie() -> None:
    for path in (ROOT / "cassettes").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"sk-[A-Za-z0-9-]{16,}", text), path
        assert not re.search(r"(?im)^\s*(authorization|cookie|set-cookie):", text), path


def test_replay_needs_no_key_and_ignores_host_and_base_path(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:2])
    with replay(path), Client(base_url="http://127.0.0.1:9/other/prefix/v9") as client:
        envelope = client.video_metadata(f"https://m.instagram.com/p/{CODES[1]}/?igsh=x")
    assert envelope == fake_api.media_for(CODES[1])


def test_matching_is_on_meaning() -> None:
    a = b'{"video_url": "https://www.instagram.com/reel/DLlGZiCOBQ0/", "channel": "apify"}'
    b = b'{ "channel":"apify","video_url":"instagram.com/reels/DLlGZiCOBQ0?igsh=1" }'
    c = b'{"video_url": "https://www.instagram.com/reel/DLlGZiCOBQ0/", "channel": "rapid"}'
    assert body_meaning(a) == body_meaning(b) == ("apify", "DLlGZiCOBQ0")
    assert body_meaning(a) != body_meaning(c)
    assert body_meaning(b"not json") == b"not json"


def test_snapshots_replay_in_recorded_order_with_threads(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path, first_run = tmp_path / "c.yaml", tmp_path / "first.jsonl"
    options = {"api_key": KEY, "base_url": fake_api.base_url, "progress": False, "rate": 1000.0}
    with replay(path, mode="all"):
        fake_api.date = datetime(2026, 1, 1, tzinfo=UTC)
        collect(CODES, archive=first_run, **options)
        fake_api.date = datetime(2026, 1, 3, tzinfo=UTC)
        collect(CODES[:4], archive=first_run, refresh_older_than=timedelta(0), **options)
    assert recorded_posts(path) == {("apify", c): 2 if c in CODES[:4] else 1 for c in CODES}

    archive = tmp_path / "replayed.jsonl"
    collect_from_cassette(path, archive, concurrency=4)
    times = [(r["shortcode"], r["fetched_at"]) for r in read_archive(archive)]
    for code in CODES:
        mine = [when for shortcode, when in times if shortcode == code]
        expected = ["2026-01-01T00:00:00+00:00"] + (
            ["2026-01-03T00:00:00+00:00"] if code in CODES[:4] else []
        )
        assert mine == expected


def test_a_missing_cassette_is_a_clear_error(tmp_path: Path, no_key: None) -> None:
    path = tmp_path / "nowhere.yaml"
    with (
        pytest.raises(
            CassetteError, match=r"No cassette at .*nowhere\.yaml.*mode='new_episodes'"
        ) as caught,
        replay(path),
    ):
        pass
    assert caught.value.cassette == path, "the command line names it in its hint"


def test_a_request_not_in_the_cassette_is_a_clear_error(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:1])
    with (
        replay(path),
        Client(base_url=fake_api.base_url, channel="rapid") as client,
        pytest.raises(CassetteError) as caught,
    ):
        client.video_metadata(CODES[0])
    message = str(caught.value)
    assert isinstance(caught.value, IgResearchError)
    assert str(path) in message and CODES[0] in message and "'rapid'" in message
    assert f"replay({str(path)!r}, mode='new_episodes')" in message
    assert (caught.value.cassette, caught.value.channel) == (path, "rapid")
    assert caught.value.url == f"https://www.instagram.com/reel/{CODES[0]}/"
    assert len(fake_api.requests) == 1, "the miss sent nothing"


def test_a_recording_replay_sends_at_most_max_requests(fake_api: FakeAPI, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:1])
    with (
        replay(path, mode="new_episodes", max_requests=2) as recorder,
        Client(KEY, base_url=fake_api.base_url) as client,
    ):
        for code in CODES[:3]:  # the first replayed, the next two sent
            client.video_metadata(code)
        with pytest.raises(CassetteError) as caught:
            client.video_metadata(CODES[3])
        assert (recorder.sent, recorder.recorded) == (2, 2)
    assert str(caught.value) == (
        f"The cassette {path} holds no (further) recording of {CODES[3]!r} on channel 'apify'; "
        "2 requests sent, the most this replay may send (max_requests): not sent. Raise the cap "
        "to record it."
    )
    assert [parse_shortcode(r.json["video_url"]) for r in fake_api.requests] == CODES[:3]
    assert len(read_cassette(path)) == 3


def test_a_miss_inside_collect_stops_it_with_the_same_error(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:1])
    with replay(path), pytest.raises(CassetteError, match=CODES[1]):
        collect(CODES[:2], archive=tmp_path / "a.jsonl", base_url=fake_api.base_url, progress=False)


def test_replay_works_as_a_decorator(fake_api: FakeAPI, tmp_path: Path, no_key: None) -> None:
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:1])

    @replay(path)
    def shortcode() -> str:
        with Client(base_url=fake_api.base_url) as client:
            return str(
                client.video_metadata(CODES[0])["data"]["data"]["xdt_shortcode_media"]["shortcode"]
            )

    assert shortcode() == shortcode() == CODES[0]


def test_plain_vcrpy_loads_the_bundled_cassettes() -> None:
    import vcr

    for name, count in (("documented_example.yaml", 1), ("demo.yaml", 84)):
        with vcr.use_cassette(str(cassette_path(name)), record_mode="none") as cassette:
            assert len(cassette) == count


def test_documented_example_cassette_is_the_seed_json_byte_for_byte() -> None:
    import vcr

    documented = resources.files("igresearch").joinpath("data/documented_example.json").read_bytes()
    with vcr.use_cassette(
        str(cassette_path("documented_example.yaml")), record_mode="none"
    ) as cassette:
        [response] = cassette.responses
    body = response["body"]["string"]
    assert (body.encode() if isinstance(body, str) else body) == documented
    seed = ROOT.parent / "shared" / "seed" / "instagram-video-metadata.txt"
    if seed.exists():
        assert documented.decode().strip() in seed.read_text(encoding="utf-8")


def test_the_demo_study_is_synthetic_and_rich(
    demo: Path, demo_tables: Tables, tmp_path: Path, no_key: None
) -> None:
    tables = run_demo(tmp_path)
    media, owners = tables.media, tables.owners
    assert media["media_id"].n_unique() == 60 and owners.height == 8
    assert all("synthetic" in name for name in owners["full_name"]), "nobody may cite it as real"
    plays = media["play_count"].drop_nulls()
    assert plays.max() / plays.median() > 10, "heavy-tailed plays"  # type: ignore[operator]
    hidden = media.filter(pl.col("likes_hidden"))
    assert hidden["media_id"].n_unique() == 1 and hidden["like_count"].null_count() == hidden.height
    assert tables.children.height > 0 and tables.errors.height == 4
    assert set(tables.errors["kind"]) == {"unavailable"}
    assert tables.comments["parent_comment_id"].drop_nulls().len() > 0
    snapshots = media.group_by("media_id").agg(pl.col("fetched_at").sort())
    two = snapshots.filter(pl.col("fetched_at").list.len() == 2)
    assert two.height == 20
    gaps = two["fetched_at"].list.last() - two["fetched_at"].list.first()
    assert set(gaps.dt.total_hours()) == {48}
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "distribution.png", "growth.png", "owners.png", "scatter.png", "time.png"
    ]  # fmt: skip

    # Another run (the session's, in conftest.py) gives the same tables and figure files.
    for name in ("media", "comments", "owners", "children", "errors"):
        assert_frame_equal(getattr(demo_tables, name), getattr(tables, name))
    assert sorted(p.name for p in (demo / "figures").iterdir()) == sorted(
        p.name for p in (tmp_path / "figures").iterdir()
    )


@pytest.mark.slow
def test_the_wheel_ships_the_cassettes(tmp_path: Path) -> None:
    # Built from a copy of the project: an in-tree build rewrites igresearch.egg-info, which
    # tests running meanwhile in other xdist workers read (importlib.metadata finds it first).
    source, dist = tmp_path / "source", tmp_path / "dist"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        # No build isolation: the dev extra installs setuptools, so nothing is downloaded.
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("igresearch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("demo.yaml", "documented_example.yaml"):
        assert f"igresearch/bundled/{name}" in names
    assert "igresearch/data/documented_example.json" in names
    assert "igresearch/py.typed" in names
    for name in ("Makefile", "gitignore", "github/workflows/study.yml", "notebooks/analysis.ipynb"):
        assert f"igresearch/templates/study/{name}" in names  # what igresearch init writes
    assert (
        json.loads(zipfile.ZipFile(wheel).read("igresearch/data/documented_example.json"))["code"]
        == "0000"
    )


# --- the transport: per client, per context, any concurrency ---


def test_two_cassettes_replay_at_once_in_two_threads(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    days = {"a": datetime(2026, 1, 1, tzinfo=UTC), "b": datetime(2026, 2, 2, tzinfo=UTC)}
    for name, day in days.items():
        fake_api.date = day
        record(fake_api, tmp_path / f"{name}.yaml", CODES)
    sent = len(fake_api.requests)
    both_open = threading.Barrier(2)
    seen: dict[str, list[datetime | None]] = {}

    def replay_in_a_thread(name: str) -> None:
        with replay(tmp_path / f"{name}.yaml"), Client(base_url=fake_api.base_url) as client:
            both_open.wait(timeout=10)
            seen[name] = [client.fetch(code).date for code in CODES]

    threads = [threading.Thread(target=replay_in_a_thread, args=(name,)) for name in days]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == {name: [day] * len(CODES) for name, day in days.items()}
    assert len(fake_api.requests) == sent, "both answered from their own cassette"


def test_explicit_transport_and_a_client_made_before_the_block(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:1])
    with replay(path) as cassette, Client(transport=cassette) as client:
        assert client.video_metadata(CODES[0]) == fake_api.media_for(CODES[0])
    with Client(KEY, base_url=fake_api.base_url) as early:
        with replay(path), pytest.raises(CassetteError, match="made before"):
            early.video_metadata(CODES[0])
        with pytest.raises(CassetteError, match="not open"):
            Client(transport=replay(path)).video_metadata(CODES[0])
    assert len(fake_api.requests) == 1, "neither went to the API"


def record_study(fake_api: FakeAPI, path: Path, archive: Path, codes: list[str]) -> None:
    """collect at concurrency 4, recording everything, with the key given as api_key=."""
    with replay(path, mode="all"):
        summary = collect(
            codes,
            archive=archive,
            api_key=KEY,
            base_url=fake_api.base_url,
            concurrency=4,
            rate=1000.0,
            progress=False,
        )
    assert summary.outcomes["ok"] == len(codes) - 1 and summary.outcomes["unavailable"] == 1


def test_recording_runs_concurrently_in_a_fixed_order_and_replays_to_the_same_tables(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    codes = [f"Concur{i:05d}" for i in range(12)]
    fake_api.date = datetime(2026, 4, 5, tzinfo=UTC)
    fake_api.set_for(codes[5], "null_media")
    fake_api.latency = 0.5
    path, live = tmp_path / "c.yaml", tmp_path / "live.jsonl"
    record_study(fake_api, path, live, codes)
    arrivals = sorted(r.received_at for r in fake_api.requests)
    assert arrivals[3] - arrivals[0] < fake_api.latency, "4 requests were in flight at once"
    bodies = [json.loads(i["request"]["body"]) for i in read_cassette(path)]
    assert [b["video_url"].split("/")[-2] for b in bodies] == codes, "input order, not arrival"

    fake_api.latency = 0.05
    again = tmp_path / "again.yaml"
    record_study(fake_api, again, tmp_path / "live2.jsonl", codes)
    assert again.read_bytes() == path.read_bytes(), "same inputs, same bytes"

    sent = len(fake_api.requests)
    replayed = tmp_path / "replayed.jsonl"
    with replay(path):
        collect(
            codes,
            archive=replayed,
            base_url=fake_api.base_url,
            concurrency=4,
            rate=1000.0,
            progress=False,
        )
    assert len(fake_api.requests) == sent
    expected, actual = to_tables(live), to_tables(replayed)
    assert expected.media.height == len(codes) - 1
    for name in ("media", "comments", "owners", "children"):
        assert_frame_equal(getattr(actual, name), getattr(expected, name))
    for written in tmp_path.rglob("*"):
        assert KEY.encode() not in written.read_bytes(), f"the key is in {written}"


def test_retries_are_recorded_in_attempt_order(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    sleeps: list[float] = []  # the retries wait on this list, not on the clock
    options = {"base_url": fake_api.base_url, "max_retries": 1, "sleep": sleeps.append}
    fake_api.set_for(CODES[0], "server_error")
    with replay(path, mode="all"), Client(KEY, **options) as c:
        with pytest.raises(IgResearchError):
            c.video_metadata(CODES[0])
        fake_api.set_for(CODES[0], "ok")
        c.video_metadata(CODES[0])
    statuses = [i["response"]["status"]["code"] for i in read_cassette(path)]
    assert statuses == [500, 500, 200]
    with replay(path), Client(**options) as client:
        with pytest.raises(IgResearchError, match="HTTP 500"):
            client.video_metadata(CODES[0])
        assert client.fetch(CODES[0]).attempts == 1, "the recordings replay in recorded order"


def test_mode_all_replaces_the_recordings_of_the_requests_it_makes_again(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    fake_api.date = datetime(2026, 1, 1, tzinfo=UTC)
    record(fake_api, path, CODES[:2])
    fake_api.date = datetime(2026, 1, 9, tzinfo=UTC)
    with replay(path, mode="all"), Client(KEY, base_url=fake_api.base_url) as client:
        client.video_metadata(CODES[1])
    dates = {
        json.loads(i["request"]["body"])["video_url"].split("/")[-2]: i["response"]["headers"][
            "Date"
        ]
        for i in read_cassette(path)
    }
    assert dates == {
        CODES[0]: ["Thu, 01 Jan 2026 00:00:00 GMT"],
        CODES[1]: ["Fri, 09 Jan 2026 00:00:00 GMT"],
    }


def test_the_bundled_cassettes_are_read_and_written_byte_for_byte() -> None:
    for name in ("documented_example.yaml", "demo.yaml"):
        path = cassette_path(name)
        assert _dump(read_cassette(path)) == path.read_bytes()


_ALIAS_BOMB = b'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + b"".join(
    f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]\n".encode() for i in range(1, 10)
)  # ten levels of ten aliases: 10**10 strings if anything expanded it


def _one_interaction(
    request_body: str = "'{}'",
    response_body: str = "'{}'",
    headers: str = "{}",
    status: str = "{code: 200, message: OK}",
) -> bytes:
    """A cassette of one interaction, with one part replaced by a stranger's YAML."""
    return (
        "interactions:\n"
        f"- request: {{body: {request_body}, headers: {{}}, method: POST, uri: 'http://x/a/b/c'}}\n"
        f"  response: {{body: {{string: {response_body}}}, headers: {headers},\n"
        f"    status: {status}}}\n"
    ).encode()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"interactions: []\nnote: caf\xe9\n", "UnicodeDecodeError"),
        (b"interactions: [\n", "ParserError"),
        (b"interactions:\n- request: {}\n", "not a vcrpy cassette"),
        (
            b"!!python/object/apply:os.system ['touch {marker}']\n",
            "could not determine a constructor",
        ),
        (b"!!python/object/new:os.system ['touch {marker}']\n", "could not determine"),
        (b"!!python/name:os.system\n", "could not determine a constructor"),
        (b"interactions: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nesting depth"),
        (b"interactions:\n- request: " + b"{a: " * 50_000 + b"1" + b"}" * 50_000, "nesting"),
        (_ALIAS_BOMB + b"interactions: *a9\n", "must map request and response"),
        (b"- 1\n- 2\n", "no list of interactions"),
        (b"interactions: 7\n", "no list of interactions"),
        *(
            (_one_interaction(**change), "not a vcrpy cassette")
            for change in (
                {"request_body": "[1, 2]"},
                {"response_body": "300000000"},
                {"headers": "{Content-Type: [7]}"},
                {"headers": "{7: [text/html]}"},
                {"headers": "{Content-Encoding: [br]}"},
                {"status": "{code: abc, message: OK}"},
                {"status": "{code: 99999999999999999999999, message: OK}"},
                {"status": "{message: OK}"},
                {"status": "[200]"},
            )
        ),
    ],
)
def test_a_cassette_that_cannot_be_read_is_an_error_and_is_left_alone(
    tmp_path: Path, content: bytes, problem: str, no_key: None
) -> None:
    """Issue 11, items 3, 18 and 19: a cassette that cannot be decoded, a YAML tag that would
    run code, and malformed structure (syntax, depth, alias bombs, bad headers or status,
    missing keys) are each a CassetteError naming the file; nothing runs and, in a recording
    mode too, the file is left as it was."""
    marker = tmp_path / "marker"
    path = tmp_path / "c.yaml"
    path.write_bytes(content.replace(b"{marker}", str(marker).encode()))
    before = path.read_bytes()
    for mode in ("none", "new_episodes"):
        with pytest.raises(CassetteError, match=problem) as caught, replay(path, mode=mode):
            pass
        assert str(path) in str(caught.value)
    assert path.read_bytes() == before and not marker.exists(), "nothing ran, nothing overwritten"


def _gzip_cassette(path: Path, body: bytes) -> None:
    """A cassette as stock vcrpy records it without decode_compressed_response: body gzipped."""
    import gzip

    import yaml

    request = {
        "body": json.dumps({"video_url": f"https://www.instagram.com/reel/{CODES[0]}/",
                            "channel": "apify"}),
        "headers": {},
        "method": "POST",
        "uri": "https://mavi-backend.memories.ai/serve/api/v2/instagram/video/metadata",
    }  # fmt: skip
    response = {
        "body": {"string": gzip.compress(body)},
        "headers": {"Content-Encoding": ["gzip"], "Content-Type": ["application/json"]},
        "status": {"code": 200, "message": "OK"},
    }
    interactions = [{"request": request, "response": response}]
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))


def test_a_gzipped_vcrpy_recording_replays_decoded(tmp_path: Path, no_key: None) -> None:
    path = tmp_path / "vcrpy.yaml"
    _gzip_cassette(path, json.dumps(FakeAPI.media_for(CODES[0])).encode())
    with replay(path), Client() as client:
        assert client.video_metadata(CODES[0]) == FakeAPI.media_for(CODES[0])


def test_a_compressed_body_that_expands_without_bound_is_refused(
    tmp_path: Path, no_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from igresearch import cassettes

    monkeypatch.setattr(cassettes, "MAX_BODY_BYTES", 10_000)
    path = tmp_path / "bomb.yaml"
    _gzip_cassette(path, b" " * 50_000)
    with pytest.raises(CassetteError, match="expands beyond 10000 bytes"), replay(path):
        pass


def test_a_decorated_function_called_from_two_threads_keeps_both_recordings(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    path = tmp_path / "c.yaml"
    both_inside = threading.Barrier(2, timeout=30)

    @replay(path, mode="new_episodes")
    def fetch(code: str) -> None:
        with Client(KEY, base_url=fake_api.base_url) as client:
            client.video_metadata(code)
        both_inside.wait()  # neither replay ends before the other has recorded

    threads = [threading.Thread(target=fetch, args=(code,)) for code in CODES[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    recorded = {body_meaning(i["request"]["body"]) for i in read_cassette(path)}
    assert len(fake_api.requests) == 2
    assert recorded == {("apify", CODES[0]), ("apify", CODES[1])}, "both paid answers kept"
    with replay(path) as open_replay, pytest.raises(CassetteError, match="already open"):
        open_replay.__enter__()


def test_a_key_in_the_reason_phrase_is_not_recorded(tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(FakeAPI.media_for(CODES[0])).encode()
            self.send_response(200, f"OK {self.headers['Authorization']}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = tmp_path / "c.yaml"
        base = f"http://127.0.0.1:{server.server_address[1]}/serve/api/v2"
        with replay(path, mode="once"), Client(KEY, base_url=base) as client:
            client.video_metadata(CODES[0])
    finally:
        server.shutdown()
        server.server_close()
    [interaction] = read_cassette(path)
    assert KEY not in path.read_text()
    assert interaction["response"]["status"]["message"] == "OK <API key>"


def test_an_alias_bomb_beside_the_interactions_is_dropped_unexpanded(
    fake_api: FakeAPI, tmp_path: Path, no_key: None
) -> None:
    """Issue 11, item 19: YAML aliases are never expanded; what vcrpy does not write (here a
    bomb of 10**10 strings tucked into a request) is dropped, so adding a recording writes a
    small cassette that still replays the old one."""
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:1])
    text = path.read_text().replace("- request:\n", "- request:\n    extra: *a9\n", 1)
    path.write_text(_ALIAS_BOMB.decode() + text)
    [interaction] = read_cassette(path)
    assert sorted(interaction["request"]) == ["body", "headers", "method", "uri"]
    with replay(path, mode="new_episodes"), Client(KEY, base_url=fake_api.base_url) as client:
        assert client.video_metadata(CODES[0]) == FakeAPI.media_for(CODES[0])
        client.video_metadata(CODES[1])
    assert "lol" not in path.read_text() and path.stat().st_size < 20_000
    assert [body_meaning(i["request"]["body"])[1] for i in read_cassette(path)] == CODES[:2]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file size limit")
def test_a_full_disk_while_recording_leaves_the_cassette_as_it_was(
    fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 11, item 3: cassettes are written atomically. A recording that cannot be written
    (here the file size limit stands in for a full disk) fails with the OS's error and leaves
    every earlier recording as it was, with no temporary file behind."""
    path = tmp_path / "c.yaml"
    record(fake_api, path, CODES[:3])
    before = path.read_bytes()
    script = (
        "import resource, signal, sys\n"
        "from igresearch import Client, replay\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 100}, -1))\n"
        f"with replay({str(path)!r}, mode='new_episodes'):\n"
        f"    with Client({KEY!r}, base_url={fake_api.base_url!r}) as client:\n"
        f"        client.video_metadata({CODES[3]!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "File too large" in done.stderr
    assert len(fake_api.requests) == 4, "the new answer was fetched, then could not be kept"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_recording_an_answer_over_the_size_cap_keeps_nothing_of_it(
    fake_api: FakeAPI, tmp_path: Path, no_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 17, while recording: an answer beyond the cassette's cap is handed on to
    the client, which judges it too long, and is not kept; the others are."""
    from igresearch import cassettes

    monkeypatch.setattr(cassettes, "MAX_BODY_BYTES", 50_000)
    fake_api.oversized_bytes = 80_000
    fake_api.set_for(CODES[1], "oversized")
    path = tmp_path / "c.yaml"
    with (
        replay(path, mode="new_episodes"),
        Client(KEY, base_url=fake_api.base_url, max_body_bytes=40_000) as client,
    ):
        client.video_metadata(CODES[0])
        with pytest.raises(IgResearchError, match="over 40,000 bytes") as caught:
            client.video_metadata(CODES[1])
    assert caught.value.retriable is False
    assert [body_meaning(i["request"]["body"])[1] for i in read_cassette(path)] == CODES[:1]


@pytest.mark.parametrize("given", ["api_key=", "environment"])
def test_a_key_echoed_in_body_and_header_is_not_recorded(
    fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """Issue 11, item 10, in cassettes: whether the key came as api_key= or from the
    environment, a server echoing it in the body and a header leaves no trace of it in the
    cassette, nor in the archive collected while recording."""
    monkeypatch.delenv("MEMORIES_API_KEY", raising=False)
    options = {"api_key": KEY} if given == "api_key=" else {}
    if given == "environment":
        monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    fake_api.set_default("key_echo")
    path, archive = tmp_path / "c.yaml", tmp_path / "a.jsonl"
    with replay(path, mode="new_episodes"):
        summary = collect(
            CODES[:2], archive=archive, base_url=fake_api.base_url, progress=False, **options
        )
    assert summary.outcomes["ok"] == 2
    assert fake_api.requests[0].headers["Authorization"] == KEY, "the key was sent and echoed"
    for written in (path, archive):
        assert KEY not in written.read_text(encoding="utf-8")
        assert KEY[:12] not in written.read_text(encoding="utf-8")
    recorded = read_cassette(path)
    assert all(b"<API key>" in i["response"]["body"]["string"] for i in recorded)
    assert all(i["response"]["headers"]["X-Echo-Authorization"] == ["<API key>"] for i in recorded)
