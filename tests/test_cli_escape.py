"""Hostile text on the terminal (issue 12, item 3): what strangers wrote (usernames, captions,
server messages) reaches every human-readable output escaped, and ``fetch``'s JSON stays valid
JSON with no control character raw."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import igresearch.demo
from igresearch.cli import main
from igresearch.controls import oneline
from igresearch.tables import Tables, to_tables
from igresearch.testing import FakeAPI

#: A window title (OSC), clear screen, a forged line, a right-to-left override, a C1 CSI.
HOSTILE = "x\x1b]0;title\x07\x1b[2J\nForged: line\u202eexe\x9b2J\x7f\u2066y"
ESCAPED = "x\\x1b]0;title\\x07\\x1b[2J\\x0aForged: line\\u202eexe\\x9b2J\\x7f\\u2066y"
RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\x7f", "\u2066")
RUN = ["--no-progress", "--rate", "100"]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEMORIES_API_KEY", "sk-test-escape-key-0123456789")
    monkeypatch.delenv("MEMORIES_BASE_URL", raising=False)
    return CliRunner()


def hostile_envelope(shortcode: str) -> dict[str, Any]:
    """A success answer whose username, full name and caption are `HOSTILE`."""
    envelope = FakeAPI.media_for(shortcode)
    node = envelope["data"]["data"]["xdt_shortcode_media"]
    node["owner"]["username"] = HOSTILE
    node["owner"]["full_name"] = HOSTILE
    node["edge_media_to_caption"]["edges"][0]["node"]["text"] = HOSTILE
    return envelope


@pytest.fixture
def archive(runner: CliRunner, fake_api: FakeAPI, tmp_path: Path) -> Path:
    """An archive of one hostile post and one failure whose server message is `HOSTILE`."""
    fake_api.set_payload("C0ffee00001", hostile_envelope("C0ffee00001"))
    fake_api.set_payload("C0ffee00002", {"code": "0003", "msg": HOSTILE, "data": None})
    path = tmp_path / "archive.jsonl"
    args = ["collect", "C0ffee00001", "C0ffee00002", "--archive", str(path)]
    result = runner.invoke(main, [*args, "--base-url", fake_api.base_url, *RUN])
    assert result.exit_code == 1, result.output
    return path


def assert_escaped(result: Result) -> None:
    """No raw control character, no line starting with the forged text, the escaped form."""
    shown = result.stdout + result.stderr
    for char in RAW:
        assert char not in shown
    assert "Forged" not in "".join(line[:6] for line in shown.splitlines())
    assert ESCAPED[:40] in shown


def test_the_rule_escapes_controls_and_bidi_and_keeps_all_other_unicode() -> None:
    """Issue 12, item 3: C0, DEL, C1 and the bidi controls are shown as \\xNN / \\uNNNN (line
    breaks too); every other code point prints as it is."""
    assert oneline(HOSTILE) == ESCAPED
    controls = [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    for code in controls:
        assert oneline(chr(code)) == (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    others = "".join(
        chr(code)
        for code in range(sys.maxunicode + 1)
        if code not in controls and not 0xD800 <= code < 0xE000
    )
    assert oneline(others) == others


def test_status_collect_and_tables_show_hostile_text_escaped(
    runner: CliRunner, archive: Path, fake_api: FakeAPI
) -> None:
    """Issue 12, item 3: status lists the server's message escaped, tab-separated; the tables
    printed show usernames and captions escaped, and a line break in a cell forges no row."""
    status = runner.invoke(main, ["status", str(archive)], color=True)
    assert status.exit_code == 0
    assert_escaped(status)
    rows = [line.split("\t") for line in status.stdout.splitlines() if "\t" in line]
    assert [len(row) for row in rows] == [4, 4]
    assert f"code 0003: {ESCAPED})" in rows[1][3]

    tables = runner.invoke(main, ["tables", str(archive)], color=True)
    assert tables.exit_code == 0
    for char in (*RAW, "Forged"):
        assert char not in "".join(line[:8] for line in tables.stdout.splitlines())
    for char in RAW:
        assert char not in tables.stdout
    assert "┆ x\\x1b]0" in tables.stdout  # a narrow column wraps the rest


def test_collect_plan_summary_and_stop_show_hostile_text_escaped(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 12, item 3: a hostile invalid line in collect's plan, and a hostile server message
    in its "Stopped early" line (HTTP 401), are one escaped line each."""
    fake_api.set_payload("DLlGZiCOBQ0", {"code": "401", "msg": HOSTILE, "data": None})
    args = ["collect", HOSTILE, "DLlGZiCOBQ0", "--archive", str(tmp_path / "a.jsonl")]
    result = runner.invoke(main, [*args, "--base-url", fake_api.base_url, *RUN], color=True)
    assert result.exit_code == 3, result.output
    assert_escaped(result)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Skipped argument 1: Not an Instagram post URL: 'x\\x1b]0;title")
    assert lines[1].startswith("Plan: 1 valid URL")
    assert lines[-1].startswith("Stopped early: API key rejected") and ESCAPED in lines[-1]


def test_an_error_line_shows_hostile_text_escaped(runner: CliRunner, fake_api: FakeAPI) -> None:
    """Issue 12, item 3: fetch's error line quoting a hostile server message stays one line."""
    fake_api.set_payload("DLlGZiCOBQ0", {"code": "401", "msg": HOSTILE, "data": None})
    result = runner.invoke(main, ["fetch", "DLlGZiCOBQ0", "--base-url", fake_api.base_url])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert_escaped(result)


def test_fetch_json_is_valid_and_holds_no_control_character_raw(
    runner: CliRunner, fake_api: FakeAPI
) -> None:
    """Issue 12, item 3: fetch prints valid JSON that gives back the hostile strings exactly,
    with none of the control characters raw (structural line breaks only)."""
    envelope = hostile_envelope("C0ffee00001")
    fake_api.set_payload("C0ffee00001", envelope)
    result = runner.invoke(main, ["fetch", "C0ffee00001", "--base-url", fake_api.base_url])
    assert result.exit_code == 0, result.output
    for char in RAW:
        assert char not in result.stdout
    assert "\\u202e" in result.stdout and "\\u009b" in result.stdout
    assert json.loads(result.stdout) == envelope
    node = json.loads(result.stdout)["data"]["data"]["xdt_shortcode_media"]
    assert node["owner"]["username"] == HOSTILE


def test_record_shows_hostile_text_escaped(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path
) -> None:
    """Issue 12, item 3: record's stop line and its cassette line (a hostile file name) are
    escaped."""
    fake_api.set_payload("DLlGZiCOBQ0", {"code": "401", "msg": HOSTILE, "data": None})
    cassette = tmp_path / "c\x1b[2J\u202e.yaml"
    args = ["record", "DLlGZiCOBQ0", "--cassette", str(cassette)]
    result = runner.invoke(main, [*args, "--base-url", fake_api.base_url, *RUN], color=True)
    assert result.exit_code == 3, result.output
    assert_escaped(result)
    # The rejected key's answer is a failure, which holds no answer to record (issue 15).
    assert "c\\x1b[2J\\u202e.yaml unchanged (" in result.stderr, result.stderr


def test_demo_table_and_cite_show_hostile_text_escaped(
    runner: CliRunner, archive: Path, report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, item 3: demo's printed table (here of the hostile archive) and cite (a report
    whose provenance names a hostile channel) are escaped."""

    def hostile_demo(out: str, *, cassette: str | None = None) -> Tables:
        return to_tables(archive)

    monkeypatch.setattr(igresearch.demo, "run_demo", hostile_demo)
    demo = runner.invoke(main, ["demo", "--out", str(tmp_path / "demo")], color=True)
    assert demo.exit_code == 0, demo.output
    for char in RAW:
        assert char not in demo.stdout
    assert "x\\x1b]0;title" in demo.stdout

    provenance = json.loads((report / "provenance.json").read_text(encoding="utf-8"))
    provenance["channels"] = [HOSTILE]
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "provenance.json").write_text(json.dumps(provenance), encoding="utf-8")
    cite = runner.invoke(main, ["cite", str(folder)], color=True)
    assert cite.exit_code == 0, cite.output
    assert_escaped(cite)
    assert cite.stdout.count("\n") == 2
