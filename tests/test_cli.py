"""The igresearch command, run in-process with click's runner against the fake API."""

from __future__ import annotations

import inspect
import json
import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from igresearch import __version__
from igresearch.cli import main
from igresearch.tables import Tables, read_tables
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


def _commands() -> list[tuple[str, click.Command]]:
    """igresearch itself, then each of its commands, with the words that run them."""
    return [("igresearch", main)] + [(f"igresearch {n}", c) for n, c in main.commands.items()]


def _examples(page: str) -> list[str]:
    """The lines of the Examples block of a --help page (none when it has none)."""
    block = re.search(r"\n  Examples:\n((?:    \S.*\n)+)", page)
    return [line.strip() for line in block[1].splitlines()] if block else []


def test_every_help_has_examples_that_parse(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13, item 4: every --help page ends with examples; each names a real command, only
    its options, with values it accepts (the files they read exist here), and each command's
    page shows the command itself."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "study.jsonl").touch()
    (tmp_path / "urls.txt").touch()
    (tmp_path / "tables").mkdir()
    (tmp_path / "report").mkdir()
    for words, _command in _commands():
        page = runner.invoke(main, [*words.split()[1:], "--help"])
        examples = _examples(page.stdout)
        assert page.exit_code == 0 and examples, words
        assert any(line.startswith(f"{words} ") or line == words for line in examples), words
        for line in examples:
            argv = [arg for arg in shlex.split(line) if not re.fullmatch(r"[A-Z_]+=\S*", arg)]
            assert argv[0] == "igresearch", line
            name, *args = argv[1:]
            main.commands[name].make_context(name, args)  # raises on a wrong option or value


def test_every_option_has_help() -> None:
    """Issue 13, item 4: every option of every command says what it is for."""
    for words, command in _commands():
        for param in command.get_params(click.Context(command)):
            if isinstance(param, click.Option):
                assert param.help and param.help.strip(), f"{words} {param.opts[0]}"


#: Issue 13, item 4: a study's order; commands not written yet take their place when they come.
WORKFLOW = ("init", "collect", "status", "tables", "plot", "report", "verify", "cite", "cassette")
WORKFLOW += ("fetch", "record", "demo")


def test_commands_are_listed_in_workflow_order(runner: CliRunner) -> None:
    page = runner.invoke(main, ["--help"]).stdout
    lines = page.split("\nCommands:\n")[1].splitlines()
    assert not [line for line in lines if line.endswith("...")], "no description is cut short"
    listed = [line.split()[0] for line in lines]
    assert listed == [name for name in WORKFLOW if name in main.commands]
    assert set(listed) == set(main.commands), "every command is listed"
    assert listed[:4] == ["init", "collect", "status", "tables"] and listed[-1] == "demo"


def test_a_command_added_later_takes_its_place_in_the_workflow() -> None:
    from igresearch.cli import _Commands

    group = _Commands()
    for name in ("demo", "zz-new", "verify", "collect", "init", "cassette", "cite"):
        group.add_command(click.Command(name, help="..."))
    listed = group.list_commands(click.Context(group))
    assert listed == ["init", "collect", "verify", "cite", "cassette", "demo", "zz-new"]


def test_plot_kinds_and_metrics_are_the_plots_modules() -> None:
    """The plot command's --kind and --metric choices are the figures of igresearch.plots and
    the rates of igresearch.metrics; --metric is for the kinds whose function takes a rate."""
    from igresearch.metrics import RATES
    from igresearch.plots import KINDS, RATE_KINDS

    kind, metric = (p for p in main.commands["plot"].params if p.name in ("kind", "metric"))
    assert list(kind.type.choices) == list(KINDS)  # type: ignore[attr-defined]
    assert list(metric.type.choices) == list(RATES)  # type: ignore[attr-defined]
    takes_a_rate = [k for k, draw in KINDS.items() if "rate" in inspect.signature(draw).parameters]
    assert list(RATE_KINDS) == takes_a_rate == ["distribution", "owners", "time"]


def test_plot_metric_is_the_rate_drawn(runner: CliRunner, demo: Path, tmp_path: Path) -> None:
    """Issue 13, item 5: plot's --metric (formerly --rate) chooses the rate a figure shows."""
    out = tmp_path / "reach.svg"
    args = ["plot", str(demo / "archive.jsonl"), "--kind", "owners", "--metric", "reach"]
    result = runner.invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"wrote {out}\n"
    assert "<!-- Median reach (plays, % of followers) -->" in out.read_text(encoding="utf-8")


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
    assert result.exit_code == 3, "stopped early, as collect: the same stop rule"
    assert "API key rejected (HTTP 401" in result.stderr
    assert len(fake_api.requests) == 1


def test_record_plans_like_collect_and_pays_once_per_post(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = tmp_path / "c.yaml"
    args = ["record", "DLlGZiCOBQ0", "instagram.com/p/DLlGZiCOBQ0", "C0ffee12345"]
    args += ["--cassette", str(cassette), "--base-url", fake_api.base_url, "--no-progress"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "1 duplicate" in first.stderr and "Cassette: " in first.stderr
    assert (
        "(2 new recordings)" in first.stderr and "Archive: none (a temporary one)" in first.stderr
    )
    assert len(fake_api.requests) == 2
    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "(0 new recordings)" in again.stderr
    assert len(fake_api.requests) == 2, "what the cassette holds is not paid for again"

    monkeypatch.delenv("MEMORIES_API_KEY")
    archive = tmp_path / "a.jsonl"
    offline = ["collect", "DLlGZiCOBQ0", "C0ffee12345", "--archive", str(archive)]
    result = runner.invoke(main, [*offline, "--replay", str(cassette), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Outcomes: ok 2, unavailable 0, failed 0" in result.stderr
    assert len(fake_api.requests) == 2, "replayed with no key and no request"


def test_a_cassette_miss_says_how_to_record_it(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    cassette = tmp_path / "c.yaml"
    record = ["record", "C0ffee12345", "--cassette", str(cassette), "--no-progress"]
    assert runner.invoke(main, [*record, "--base-url", fake_api.base_url]).exit_code == 0
    result = runner.invoke(
        main, ["fetch", "C0ffee12345", "--channel", "rapid", "--replay", str(cassette)]
    )
    assert result.exit_code == 1
    assert (
        "igresearch record https://www.instagram.com/reel/C0ffee12345/ --channel rapid "
        f"--cassette {cassette}" in result.stderr
    )
    assert len(fake_api.requests) == 1, "the miss sent nothing"

    nowhere = tmp_path / "nowhere.yaml"
    missing = runner.invoke(main, ["fetch", "C0ffee12345", "--replay", str(nowhere)])
    assert missing.exit_code == 1
    hint = rf"igresearch record URL \.\.\. --cassette {re.escape(str(nowhere))}"
    assert re.search(rf"No cassette at .*nowhere\.yaml.*{hint}", missing.stderr, flags=re.S)


def test_collect_names_its_flags_where_the_library_names_parameters(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    args = ["collect", "C0ffee00001", "C0ffee00002", "C0ffee00003", "--no-progress"]
    args += ["--archive", str(tmp_path / "a.jsonl"), "--base-url", fake_api.base_url]
    result = runner.invoke(main, [*args, "--max-requests", "2"])
    assert result.exit_code == 3
    assert "Stopped early: --max-requests 2 reached; run again to continue." in result.stderr
    assert "max_requests=" not in result.stderr
    assert len(fake_api.requests) == 2


def test_collect_refresh_says_how_many_are_in_the_archive_and_how_many_were_older(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 13, item 6: after --refresh-older-than the plan, printed before the run, counts
    the posts the archive holds and those older than the limit, fetched again."""
    archive = tmp_path / "a.jsonl"
    args = ["collect", "C0ffee00001", "C0ffee00002", "--archive", str(archive), "--no-progress"]
    args += ["--base-url", fake_api.base_url]
    fake_api.date = datetime.now(UTC) - timedelta(hours=30)
    assert runner.invoke(main, args).exit_code == 0
    fake_api.date = None
    result = runner.invoke(main, [*args, "--refresh-older-than", "24h"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "Plan: 2 valid URLs (0 duplicates, 0 invalid); 2 in the archive, 2 of them older than "
        "the refresh limit (requested again); 2 to request, about 0.02 USD."
    )
    assert "Outcomes: ok 2, unavailable 0, failed 0." in result.stderr
    again = runner.invoke(main, [*args, "--refresh-older-than", "24h"])
    assert again.stderr.splitlines()[0] == (
        "Plan: 2 valid URLs (0 duplicates, 0 invalid); 2 in the archive, 0 of them older than "
        "the refresh limit (requested again); 0 to request, about 0.00 USD."
    )
    assert len(fake_api.requests) == 4


def test_status_gives_each_lost_post_its_reason_without_repeating_the_url(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    archive = tmp_path / "a.jsonl"
    fake_api.set_for("C0ffee00001", "null_media")
    args = ["collect", "C0ffee00001", "--archive", str(archive), "--no-progress"]
    assert runner.invoke(main, [*args, "--base-url", fake_api.base_url]).exit_code == 0
    url = "https://www.instagram.com/reel/C0ffee00001/"
    assert runner.invoke(main, ["status", str(archive)]).output.splitlines()[-1] == (
        f"unavailable\tapify\t{url}\tMediaUnavailableError: unavailable (media node is null): "
        "deleted, private or visible only when logged in."
    )


def test_demo_never_touches_a_folder_it_did_not_write(runner: CliRunner, tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "archive.jsonl").write_text("MY PAID DATA\n")
    result = runner.invoke(main, ["demo", "--out", str(study)])
    assert result.exit_code == 2
    assert "the demo did not write" in result.output and "Choose another folder" in result.output
    assert (study / "archive.jsonl").read_text() == "MY PAID DATA\n"
    assert sorted(p.name for p in study.iterdir()) == ["archive.jsonl"], "nothing written"


def test_tables_writes_spreadsheet_safe_csv_on_request(
    demo: Path, demo_tables: Tables, tmp_path: Path
) -> None:
    """Issue 12, item 1: `tables --format csv --spreadsheet-safe` writes the marked, quoted CSVs
    that read back exact; the flag without CSV output is a usage error."""
    runner = CliRunner()
    archive = str(demo / "archive.jsonl")
    args = ["tables", archive, "--out", str(tmp_path), "--format", "csv", "--spreadsheet-safe"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'SPREADSHEET-SAFE.txt'}" in result.output
    back = read_tables(tmp_path)
    for name in ("media", "comments", "owners", "children", "errors"):
        assert_frame_equal(getattr(back, name), getattr(demo_tables, name))
    for wrong in (["--format", "parquet", "--out", str(tmp_path / "p")], []):
        result = runner.invoke(main, ["tables", archive, "--spreadsheet-safe", *wrong])
        assert result.exit_code == 2 and "--spreadsheet-safe is for --format csv" in result.output


def test_plot_on_no_data_says_so_and_draws_nothing(runner: CliRunner, tmp_path: Path) -> None:
    """Issue 13, item 7: a growth figure of reels fetched once would be empty axes; plot says
    why in one line, exit 1, and writes no file. The same file has a scatter figure."""
    responses = tmp_path / "responses.jsonl"
    codes = ["C0ffee00001", "C0ffee00002"]
    responses.write_text("".join(json.dumps(FakeAPI.media_for(c)) + "\n" for c in codes))
    out = tmp_path / "growth.png"
    result = runner.invoke(main, ["plot", str(responses), "--kind", "growth", "--out", str(out)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: Nothing to draw in the growth figure: no reel has plays in two snapshots "
        "(collect again with --refresh-older-than to add one).\n"
    )
    assert not out.exists()
    args = ["plot", str(responses), "--kind", "scatter", "--out", str(tmp_path / "s.png")]
    assert runner.invoke(main, args).exit_code == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_prints_each_median_with_the_reels_it_is_computed_from(
    runner: CliRunner, demo_tables: Tables, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 13, item 10: the account has 7 reels, its median like rate is of the 6 with one."""
    import igresearch.demo

    monkeypatch.setattr(igresearch.demo, "run_demo", lambda out: demo_tables)
    result = runner.invoke(main, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = lines.index(
        "Median rates by account; in brackets, the reels each median is computed from:"
    )
    assert re.sub(r"\s+", " ", lines[at + 2]) == (
        "│ account ┆ reels ┆ like_rate ┆ comment_rate ┆ reach │"
    )
    assert "│ synthetic_local_market  ┆ 7     ┆ 0.0919 (6) ┆ 0.0080 (7)   ┆ 1.0250 (7) │" in lines
    assert "│ synthetic_news_desk     ┆ 7     ┆ 0.0127 (7) ┆ 0.0044 (7)   ┆ 0.5262 (7) │" in lines
    assert sum(line.startswith("│ synthetic_") for line in lines) == 8
