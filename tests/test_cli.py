"""The igresearch command, run in-process with click's runner against the fake API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from igresearch import __version__
from igresearch.cli import main
from igresearch.testing import FakeAPI

KEY = "sk-SECRET-cli-test-key-0123456789"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    monkeypatch.delenv("MEMORIES_BASE_URL", raising=False)
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"igresearch, version {__version__}"


def test_fetch_prints_the_response_json(runner: CliRunner, fake_api: FakeAPI) -> None:
    result = runner.invoke(
        main, ["fetch", "instagram.com/p/DLlGZiCOBQ0", "--base-url", fake_api.base_url]
    )
    assert result.exit_code == 0, result.output
    envelope = json.loads(result.stdout)
    assert envelope["data"]["data"]["xdt_shortcode_media"]["id"] == "3667365614373573684"
    assert fake_api.requests[0].json["channel"] == "apify"


def test_fetch_passes_the_channel(runner: CliRunner, fake_api: FakeAPI) -> None:
    args = ["fetch", "DLlGZiCOBQ0", "--channel", "rapid", "--base-url", fake_api.base_url]
    assert runner.invoke(main, args).exit_code == 0
    assert fake_api.requests[0].json["channel"] == "rapid"


def test_bad_input_exits_2_without_a_request(runner: CliRunner, fake_api: FakeAPI) -> None:
    result = runner.invoke(
        main, ["fetch", "https://www.instagram.com/humansofny/", "--base-url", fake_api.base_url]
    )
    assert result.exit_code == 2
    assert "humansofny" in result.stderr
    assert fake_api.requests == []


def test_unknown_channel_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(main, ["fetch", "DLlGZiCOBQ0", "--channel", "tiktok"])
    assert result.exit_code == 2
    assert "tiktok" in result.stderr


def test_api_error_exits_1_and_hides_the_key(runner: CliRunner, fake_api: FakeAPI) -> None:
    fake_api.set_default("unauthorized")
    result = runner.invoke(main, ["fetch", "DLlGZiCOBQ0", "--base-url", fake_api.base_url])
    assert result.exit_code == 1
    assert "API key rejected (HTTP 401" in result.stderr
    assert KEY not in result.output


def test_missing_key_exits_1_and_says_how_to_set_it(
    runner: CliRunner, fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORIES_API_KEY")
    result = runner.invoke(main, ["fetch", "DLlGZiCOBQ0", "--base-url", fake_api.base_url])
    assert result.exit_code == 1
    assert "MEMORIES_API_KEY" in result.stderr


def test_every_command_has_help(runner: CliRunner) -> None:
    for name, command in main.commands.items():
        assert command.help, f"igresearch {name} has no help text"
        assert runner.invoke(main, [name, "--help"]).exit_code == 0


def test_plot_kinds_are_the_plots_modules() -> None:
    from igresearch.plots import KINDS

    kind = next(p for p in main.commands["plot"].params if p.name == "kind")
    assert list(kind.type.choices) == list(KINDS)  # type: ignore[attr-defined]


def test_collect_reports_invalid_lines_and_exits_by_outcome(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("# study\nDLlGZiCOBQ0\nhttps://example.com/reel/x\nC0ffee12345\n")
    archive = tmp_path / "a.jsonl"
    args = ["collect", "--from", str(urls), "--archive", str(archive), "--no-progress"]
    result = runner.invoke(main, [*args, "--base-url", fake_api.base_url])
    assert result.exit_code == 0, result.output
    assert "Skipped urls.txt:3" in result.stderr
    assert "Outcomes: ok 2, unavailable 0, failed 0" in result.stderr
    assert runner.invoke(main, ["status", str(archive)]).output.splitlines()[1].split() == [
        "ok",
        "2",
    ]


def test_record_stops_at_a_rejected_key(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    fake_api.set_default("unauthorized")
    cassette = tmp_path / "c.yaml"
    args = ["record", "DLlGZiCOBQ0", "C0ffee12345", "--cassette", str(cassette)]
    result = runner.invoke(main, [*args, "--base-url", fake_api.base_url])
    assert result.exit_code == 1
    assert len(fake_api.requests) == 1
