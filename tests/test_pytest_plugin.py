"""The pytest plugin's ``igresearch_cassette`` marker and ``--igresearch-record``, run by pytester
in a subprocess against cassettes recorded here from the fake API (never the real one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from igresearch.cassettes import read_cassette, replay
from igresearch.client import Client
from igresearch.testing import FakeAPI
from igresearch.urls import parse_shortcode

pytest_plugins = ["pytester"]

KEY = "fake-key-for-the-plugin-tests"
RECORDED, MISSING, BEYOND = "DLlGZiCOBQ0", "C0ffee12345", "DVNf2nkAAAA"

STUDY = f"""
import os
import socket

import pytest

from igresearch import CassetteError, Client
from igresearch.testing import NetworkBlockedError


@pytest.mark.igresearch_cassette("study.yaml")
def test_replays_with_no_key(igresearch_cassette):
    assert "MEMORIES_API_KEY" not in os.environ
    assert igresearch_cassette.path.name == "study.yaml"
    with Client() as client:
        media = client.video_metadata("{RECORDED}")["data"]["data"]["xdt_shortcode_media"]
    assert media["shortcode"] == "{RECORDED}"


@pytest.mark.igresearch_cassette("study.yaml")
def test_a_post_not_recorded_fails():
    with Client() as client, pytest.raises(CassetteError, match="{MISSING}"):
        client.video_metadata("{MISSING}")


@pytest.mark.igresearch_cassette("study.yaml")
def test_the_network_is_blocked():
    with socket.socket() as sock, pytest.raises(NetworkBlockedError):
        sock.connect(("127.0.0.2", 9))  # loopback: were the block off, nothing would leave


def test_without_the_marker_there_is_no_cassette(igresearch_cassette):
    assert igresearch_cassette is None
"""

RECORD = f"""
import pytest

from igresearch import CassetteError, Client


@pytest.mark.igresearch_cassette("study.yaml")
def test_records_what_the_cassette_lacks_within_the_cap():
    with Client() as client:
        assert client.video_metadata("{RECORDED}")["code"] == "0000"  # replayed
        assert client.video_metadata("{MISSING}")["code"] == "0000"  # recorded: 1 request
        with pytest.raises(CassetteError, match="1 requests sent, the most"):
            client.video_metadata("{BEYOND}")  # beyond the cap: not sent
"""


def _cassette(fake_api: FakeAPI, path: Path, *shortcodes: str) -> None:
    """Record `shortcodes` from the fake API into the cassette at `path`."""
    with (
        replay(path, mode="new_episodes"),
        Client(base_url=fake_api.base_url, api_key=KEY) as client,
    ):
        for shortcode in shortcodes:
            client.video_metadata(shortcode)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--disable-plugin-autoload",
        "-p",
        "igresearch.pytest_plugin",
        "-p",
        "no:cacheprovider",
        *args,
    )


@pytest.fixture
def study(pytester: pytest.Pytester, fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A study folder with ``study.yaml`` (one post recorded from the fake API), and the
    environment of a user with a key and the fake API's base URL, but no network block of
    the outer session: only the plugin under test blocks the subprocess."""
    cassette = pytester.path / "study.yaml"
    _cassette(fake_api, cassette, RECORDED)
    fake_api.reset()
    monkeypatch.delenv("IGRESEARCH_OFFLINE")
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    monkeypatch.setenv("MEMORIES_BASE_URL", fake_api.base_url)
    return cassette


def test_a_marked_test_replays_offline_with_no_key(
    pytester: pytest.Pytester, fake_api: FakeAPI, study: Path
) -> None:
    pytester.makepyfile(test_study=STUDY)

    result = _run(pytester, "-v")

    result.assert_outcomes(passed=4)
    assert fake_api.requests == []  # nothing reached the API, not even its fake
    assert len(read_cassette(study)) == 1


def test_a_missing_cassette_fails_the_test_saying_how_to_record_it(
    pytester: pytest.Pytester, study: Path
) -> None:
    study.unlink()
    pytester.makepyfile(test_study=STUDY)

    result = _run(pytester)

    result.assert_outcomes(passed=1, errors=3)  # the marked tests, failed in their setup
    result.stdout.fnmatch_lines(
        [
            f"*No cassette at {study}: record it with pytest --igresearch-record "
            "--igresearch-max-requests N (paid; needs MEMORIES_API_KEY).",
        ]
    )


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (
            ["--igresearch-record"],
            "--igresearch-record sends paid requests: give the most it may send in this session "
            "with --igresearch-max-requests N.",
        ),
        (["--igresearch-max-requests", "5"], "*is the cap of --igresearch-record."),
        (
            ["--igresearch-record", "--igresearch-max-requests", "5", "-p", "xdist", "-n", "2"],
            "*runs in one process*add -n 0.",
        ),
    ],
)
def test_recording_without_a_cap_is_refused(
    pytester: pytest.Pytester, fake_api: FakeAPI, study: Path, args: list[str], refusal: str
) -> None:
    pytester.makepyfile(test_study=RECORD)

    result = _run(pytester, *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {refusal}"])
    assert fake_api.requests == []
    assert len(read_cassette(study)) == 1


def test_recording_without_a_key_is_refused(
    pytester: pytest.Pytester, study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORIES_API_KEY")
    pytester.makepyfile(test_study=RECORD)

    result = _run(pytester, "--igresearch-record", "--igresearch-max-requests", "5")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --igresearch-record records with your key: set MEMORIES_API_KEY."]
    )


def test_record_mode_prints_the_plan_and_records_within_the_cap(
    pytester: pytest.Pytester, fake_api: FakeAPI, study: Path
) -> None:
    pytester.makepyfile(test_study=RECORD)

    result = _run(pytester, "--igresearch-record", "--igresearch-max-requests", "1")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"igresearch: recording what 1 cassettes lack from {fake_api.base_url} with "
            "MEMORIES_API_KEY: at most 1 requests in this session (about 0.01 USD)",
            f"  {study}: 1 recordings held; 1 tests",
            "*",
            "igresearch: sent 1 of at most 1 requests",
            f"  {study}: 1 recordings added",
        ],
        consecutive=False,
    )
    assert [parse_shortcode(r.json["video_url"]) for r in fake_api.requests] == [MISSING]
    assert [r.headers["Authorization"] for r in fake_api.requests] == [KEY]
    recorded = read_cassette(study)
    assert [i["request"]["uri"].endswith("/instagram/video/metadata") for i in recorded] == [
        True,
        True,
    ]
    assert KEY not in study.read_text(encoding="utf-8")
