"""Careless input and one edge for errors (issue 11): every bad invocation of the command line
ends with one line on stderr, the documented exit status, no traceback, and no file touched."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from igresearch.cassettes import cassette_path
from igresearch.cli import main
from igresearch.controls import oneline
from igresearch.testing import FakeAPI

KEY = "sk-SECRET-cli-errors-key-0123456789"
URL = "https://www.instagram.com/reel/DLlGZiCOBQ0/"
CASSETTE = str(cassette_path("documented_example.yaml"))


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEMORIES_API_KEY", KEY)
    monkeypatch.delenv("MEMORIES_BASE_URL", raising=False)
    return CliRunner()


@pytest.fixture
def study(tmp_path: Path, demo: Path) -> Path:
    """A folder of the files a careless user might hand to the command line."""
    archive = (demo / "archive.jsonl").read_bytes()
    (tmp_path / "archive.jsonl").write_bytes(archive)
    (tmp_path / "archive.jsonl.gz").write_bytes(gzip.compress(archive, mtime=0))
    # Issue 14, item 4: .jsonl.gz is read; gzip data under a plain name is what is refused.
    (tmp_path / "packed.jsonl").write_bytes(gzip.compress(archive, mtime=0))
    (tmp_path / "urls.txt").write_text(f"# my study\n{URL}\n", encoding="utf-8")
    (tmp_path / "words.txt").write_text("Links\nmarch\nnotes\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "comments.txt").write_text("# only a comment\n\n", encoding="utf-8")
    (tmp_path / "sample.csv").write_text(f"id,url\n1,{URL}\n", encoding="utf-8")
    (tmp_path / "nourl.csv").write_text("id,link\n1,x\n", encoding="utf-8")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "not.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "other.json").write_text('{"hello": "world"}', encoding="utf-8")
    (tmp_path / "escape.txt").write_bytes(b"\x1b[2J\x1b[31mred\r\nsecond line\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.md").write_text("not a report\n", encoding="utf-8")
    (tmp_path / "report.html").write_text("<p>a file, not a folder</p>\n", encoding="utf-8")
    return tmp_path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: its bytes and modification time."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


A = "archive.jsonl"
RUN = ["--no-progress"]

# (arguments, exit status, words the one line on stderr must hold); {d} is the study folder,
# {c} a bundled cassette (where a request would be made, it is answered offline).
BAD = [
    # Item 2: an --archive that is not an archive is refused, untouched.
    (["collect", URL, "--archive", "{d}/urls.txt"], 2, "its first line is '# my study'"),
    (["collect", URL, "--archive", "{d}/sample.csv"], 2, "is not an igresearch archive"),
    (["collect", URL, "--archive", "{d}/binary.bin"], 2, r"'\x00\x01\x02"),
    (["collect", URL, "--archive", "{d}/packed.jsonl", "--dry-run"], 2, "not an igresearch"),
    (["collect", URL, "--archive", "{d}/archive.jsonl.gz", "--dry-run"], 2, "plain JSON Lines"),
    (["collect", URL, "--archive", "{d}/folder"], 2, "is a directory"),
    (["collect", URL, "--archive", "{d}/urls.txt/a.jsonl", "--replay", "{c}"], 2, "urls.txt"),
    (["record", URL, "--cassette", "{d}/c.yaml", "--archive", "{d}/words.txt"], 2, "'Links'"),
    (["status", "{d}/packed.jsonl"], 2, "is not an igresearch archive"),
    (["status", "{d}/sample.csv"], 2, "its first line is 'id,url'"),
    (["status", "{d}/folder"], 2, "is a directory"),
    (["tables", "{d}/packed.jsonl"], 2, "neither an igresearch archive nor a JSON"),
    (["tables", "{d}/sample.csv", "--out", "{d}/t"], 2, "its first line is 'id,url'"),
    (["tables", "{d}/not.json"], 2, "it is not JSON"),
    (["tables", "{d}/other.json"], 2, "none of its records is one"),
    (["plot", "{d}/packed.jsonl", "--kind", "scatter", "--out", "{d}/f.png"], 2, "neither"),
    (["report", "{d}/packed.jsonl", "--out", "{d}/r"], 2, "neither an igresearch archive"),
    # Item 20: bare words are not shortcodes.
    (["fetch", "march"], 2, "give the full post URL instead"),
    (["collect", "--from", "{d}/words.txt", "--archive", "{d}/new.jsonl"], 2, "(2 more invalid"),
    (["record", "Links", "--cassette", "{d}/c.yaml"], 2, "No valid URL. argument 1:"),
    # Item 21 and unreadable URL files.
    (["collect", "--from", "{d}/nourl.csv", "--archive", "{d}/new.jsonl"], 2, "a 'url' column"),
    (["collect", "--from", "{d}/binary.bin", "--archive", "{d}/new.jsonl"], 2, "not UTF-8 text"),
    (["collect", "--from", "{d}/empty.txt", "--archive", "{d}/new.jsonl"], 2, "holds no URL"),
    (["collect", "--from", "{d}/comments.txt", "--archive", "{d}/n.jsonl"], 2, "holds no URL"),
    (["collect", "--from", "{d}/missing.txt", "--archive", "{d}/new.jsonl"], 2, "No such file"),
    (["collect", "--from", "{d}/folder", "--archive", "{d}/new.jsonl"], 2, "is a directory"),
    (["collect", "--archive", "{d}/new.jsonl"], 2, "Give URLs as arguments or with --from"),
    # Item 23: values the run cannot use are usage errors, before anything happens.
    (["collect", URL, "--archive", "{d}/new.jsonl", "--rate", "nan"], 2, "not a finite"),
    (["collect", URL, "--archive", "{d}/new.jsonl", "--rate", "inf"], 2, "--rate"),
    (["collect", URL, "--archive", "{d}/new.jsonl", "--rate", "1e-300"], 2, "0.01<=x<=1000"),
    (["collect", URL, "--archive", "{d}/new.jsonl", "--rate", "0"], 2, "--rate"),
    (["collect", URL, "--archive", "{d}/new.jsonl", "--rate", "5000", "--dry-run"], 2, "--rate"),
    (["record", URL, "--cassette", "{d}/c.yaml", "--rate", "nan", "--dry-run"], 2, "--rate"),
    (["collect", URL, "--archive", "{d}/new.jsonl", "--timeout", "1e300"], 2, "--timeout"),
    (["collect", URL, "--archive", "{d}/new.jsonl", "--timeout", "0"], 2, "--timeout"),
    (["record", URL, "--cassette", "{d}/c.yaml", "--retry-budget", "1e300"], 2, "--retry-budget"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--refresh-older-than", "-1h"], 2, "above 0"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--refresh-older-than", "0h"], 2, "above 0"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--refresh-older-than", "infh"], 2, "above"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--refresh-older-than", "nanh"], 2, "above"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--refresh-older-than", "1e12d"], 2, "100"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--refresh-older-than", "7w"], 2, "e.g. 30m"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--refresh-older-than", "h"], 2, "e.g. 30m"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--price", "nan", "--dry-run"], 2, "finite"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--price", "-1", "--dry-run"], 2, "--price"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--concurrency", "0"], 2, "--concurrency"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--concurrency", "1000"], 2, "--concurrency"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--concurrency", "2.5"], 2, "--concurrency"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--max-requests", "-1"], 2, "--max-requests"),
    (["record", URL, "--cassette", "{d}/c.yaml", "--max-requests", "x"], 2, "--max-requests"),
    # Item 25: one edge for errors.
    (["tables", "{d}/folder"], 2, "is a folder, not an archive or a file of responses"),
    (["plot", "{d}/folder", "--kind", "scatter", "--out", "{d}/f.png"], 2, "No media.parquet"),
    (["plot", "{d}/archive.jsonl", "--kind", "scatter", "--out", "{d}/x.jpg"], 2, ".png, .svg"),
    (["plot", "{d}/archive.jsonl", "--kind", "pie", "--out", "{d}/f.png"], 2, "'pie'"),
    (["plot", "{d}/archive.jsonl", "--kind", "scatter", "--out", "{d}/folder"], 2, "directory"),
    # Issue 13, item 5: plot's --metric only where a figure shows one; --format only with --out.
    (
        [
            "plot",
            "{d}/archive.jsonl",
            "--kind",
            "scatter",
            "--metric",
            "reach",
            "--out",
            "{d}/f.png",
        ],
        2,
        "--metric is not used by --kind scatter: only by distribution, owners, time.",
    ),
    (
        [
            "plot",
            "{d}/archive.jsonl",
            "--kind",
            "growth",
            "--metric",
            "like_rate",
            "--out",
            "{d}/f.png",
        ],
        2,
        "--metric is not used by --kind growth",
    ),
    (
        [
            "plot",
            "{d}/archive.jsonl",
            "--kind",
            "owners",
            "--metric",
            "likes",
            "--out",
            "{d}/f.png",
        ],
        2,
        "Invalid value for '--metric': 'likes' is not one of 'like_rate'",
    ),
    (
        ["plot", "{d}/archive.jsonl", "--kind", "owners", "--rate", "reach", "--out", "{d}/f.png"],
        2,
        "No such option '--rate'",
    ),
    (
        ["tables", "{d}/archive.jsonl", "--format", "csv"],
        2,
        "--format csv is for the files written with --out",
    ),
    (
        ["tables", "{d}/archive.jsonl", "--format", "parquet"],
        2,
        "--format parquet is for the files",
    ),
    (["cite", "{d}/folder"], 2, "is not a report folder (no provenance.json)"),
    (["cite", "{d}/urls.txt"], 2, "is a file"),
    (["report", "{d}/archive.jsonl", "--out", "{d}/report.html"], 2, "is a file"),
    (["report", "{d}/archive.jsonl", "--out", "{d}/r", "--pseudonymize"], 2, "--salt"),
    # Issue 12, item 7: a salt typed without --pseudonymize, and a salt too short.
    (["report", "{d}/archive.jsonl", "--out", "{d}/r", "--salt", "s" * 20], 2, "--pseudonymize"),
    (["report", "{d}/archive.jsonl", "--out", "{d}/r", "--pseudonymize", "--salt", "s"], 2, "16"),
    (["status", "{d}/missing.jsonl"], 2, "does not exist"),
    (["tables", "{d}/archive.jsonl", "--format", "xlsx"], 2, "'xlsx'"),
    (["fetch", URL, "--channel", "tiktok"], 2, "'tiktok'"),
    (["fetch", "https://www.instagram.com/humansofny/"], 2, "it is a profile, not a post"),
    (["fetch"], 2, "Missing argument 'URL'"),
    (["fetch", URL, "--replay", "{d}/missing.yaml"], 1, "To record it: igresearch record URL"),
    (["fetch", URL, "--replay", "{d}/binary.bin"], 1, "Cannot read the cassette"),
    (["record", URL, "--cassette", "{d}/folder"], 2, "is a directory"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--channel", "nope"], 2, "'nope'"),
    (["collect", URL, "--archive", "{d}/n.jsonl", "--bogus"], 2, "No such option '--bogus'"),
    (["nosuchcommand"], 2, "No such command 'nosuchcommand'"),
    (["demo", "--out", "{d}"], 2, "the demo did not write"),
]


@pytest.mark.parametrize(("args", "status", "words"), BAD, ids=lambda v: None)
def test_a_bad_invocation_is_one_line_and_its_exit_status(
    runner: CliRunner, study: Path, args: list[str], status: int, words: str
) -> None:
    """Issue 11, item 25 (and items 2, 20, 21, 23): exit status, exactly one line on stderr
    ("Error: ..."), no traceback, no request, no file touched or created."""
    before = snapshot(study)
    argv = [arg.format(d=study, c=CASSETTE) for arg in args]
    result = runner.invoke(main, [*argv, *RUN] if argv[0] in ("collect", "record") else argv)
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert KEY not in result.output
    assert snapshot(study) == before, "every file as it was, and no new one"


def test_the_table_has_at_least_30_bad_invocations() -> None:
    """Issue 11, "Done when": at least 30 bad invocations, each a distinct command line."""
    assert len(BAD) >= 30
    assert len({json.dumps(args) for args, _, _ in BAD}) == len(BAD)


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["status", "{d}/packed.jsonl"], 2, "is not an igresearch archive"),
        (["collect", URL, "--archive", "{d}/a.jsonl", "--rate", "inf"], 2, "--rate"),
        (["tables", "{d}/folder"], 2, "is a folder"),
    ],
)
def test_a_real_process_prints_one_line_too(
    study: Path, args: list[str], status: int, words: str
) -> None:
    """Issue 11, item 25: the same in a real process (python -m igresearch), not only in-process."""
    env = {k: v for k, v in os.environ.items() if k != "MEMORIES_API_KEY"}
    argv = [sys.executable, "-m", "igresearch", *(arg.format(d=study) for arg in args)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == status
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ")
    assert words in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_user_text_in_a_message_is_one_escaped_line(runner: CliRunner, study: Path) -> None:
    """Issue 11, item 25: text from the user or a server cannot break the line or drive the
    terminal: control characters, line breaks included, are escaped (since issue 12, item 3, a
    line break is shown as \\x0a rather than a space; U+2028 is not a control and stays)."""
    result = runner.invoke(main, ["status", str(study / "escape.txt")])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {study / 'escape.txt'} is not an igresearch archive: its first line is "
        "'\\x1b[2J\\x1b[31mred'. Give a new file name, or the JSON Lines file an earlier "
        "collect wrote.\n"
    )
    shown = oneline("a\nb\r\nc\x1b[0m\x85\u202e\td\u2028e")
    assert shown == "a\\x0ab\\x0d\\x0ac\\x1b[0m\\x85\\u202e\\x09d\u2028e"


def test_the_exit_statuses_are_documented_in_the_help(runner: CliRunner) -> None:
    """Issue 11, item 25: main's help gives every exit status."""
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for line in ("0    done", "1    an API error", "2    bad input or usage", "3    a run stop"):
        assert line in result.stdout
    assert "130  interrupted (Ctrl-C)" in result.stdout


def test_a_full_disk_is_one_line_naming_the_path(
    runner: CliRunner, study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 25: an OS error while writing (here ENOSPC) is one line naming the file."""
    import errno

    import igresearch.files

    def full(target: Path, data: bytes, *, private: bool = True) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(igresearch.files, "write_bytes", full)
    out = study / "r"
    result = runner.invoke(main, ["report", str(study / "archive.jsonl"), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: No space left on device: ")
    assert result.stderr.endswith("(free some space, then run the same command again)\n")


@pytest.fixture
def offline_study(study: Path, fake_api: FakeAPI) -> Iterator[Path]:
    yield study
    assert fake_api.requests == [], "a bad invocation never sends a request"


def test_bad_values_send_nothing_to_the_api(
    runner: CliRunner, offline_study: Path, fake_api: FakeAPI
) -> None:
    """Issue 11, item 23: --rate nan and --refresh-older-than -1h stop before any request, and
    no archive is created."""
    archive = offline_study / "new.jsonl"
    for extra in (["--rate", "nan"], ["--refresh-older-than", "-1h"], ["--price", "nan"]):
        args = ["collect", URL, "--archive", str(archive), "--base-url", fake_api.base_url]
        result = runner.invoke(main, [*args, *RUN, *extra])
        assert result.exit_code == 2, result.output
    assert not archive.exists()


def test_a_full_disk_during_a_run_ends_with_one_error_line(
    runner: CliRunner, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 25: a failed archive write in a run is no traceback: after the plan, one
    "Error:" line saying the disk is full, exit 1, and nothing more paid for."""
    import errno

    from igresearch.archive import ArchiveWriter

    def full(self: ArchiveWriter, record: dict[str, object]) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ArchiveWriter, "append", full)
    args = ["collect", "C0ffee00001", "C0ffee00002", "C0ffee00003", "--concurrency", "1"]
    args += ["--archive", str(tmp_path / "a.jsonl"), "--base-url", fake_api.base_url, *RUN]
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Plan: 3 valid URLs")
    assert lines[1:] == [
        "Error: [Errno 28] No space left on device (free some space, then run the same command "
        "again)"
    ]
    assert "Traceback" not in result.output
    assert len(fake_api.requests) == 1


HOSTILE_MSG = "bad \x1b]0;PWNED\x07\x1b[2J\x1b[31mRED\u202etxt.exe\x9b2J"


def test_attack_server_text_in_the_summary_and_status_reaches_no_terminal_raw(
    runner: CliRunner, tmp_path: Path, fake_api: FakeAPI
) -> None:
    """Attack: a server's message with terminal escapes (a window title, clear screen, colour, a
    right-to-left override, a C1 CSI) reached the terminal raw in collect's "Stopped early" line
    and in every reason ``status`` lists. Both are escaped now, as the ``Error:`` line was, and
    status stays tab-separated."""
    fake_api.set_payload("C0ffee12345", {"code": "0003", "msg": HOSTILE_MSG, "data": None})
    fake_api.set_payload("DLlGZiCOBQ0", {"code": "401", "msg": HOSTILE_MSG, "data": None})
    archive = str(tmp_path / "archive.jsonl")
    outputs = []
    for code in ("C0ffee12345", "DLlGZiCOBQ0"):
        args = ["collect", code, "--archive", archive, "--base-url", fake_api.base_url]
        outputs.append(runner.invoke(main, [*args, "--no-progress"], color=True))
    outputs.append(runner.invoke(main, ["status", archive], color=True))
    assert [result.exit_code for result in outputs] == [1, 3, 0]
    assert "Stopped early: API key rejected" in outputs[1].stderr
    for result in outputs:
        for control in ("\x1b", "\x07", "\u202e", "\x9b"):
            assert control not in result.stdout + result.stderr
    rows = [line.split("\t") for line in outputs[2].stdout.splitlines() if "\t" in line]
    assert [len(row) for row in rows] == [4, 4, 4]  # the header and the two failures
    assert "\\x1b]0;PWNED\\x07" in rows[1][3]


def test_attack_instagram_text_in_printed_tables_reaches_no_terminal_raw(
    runner: CliRunner, tmp_path: Path, fake_api: FakeAPI
) -> None:
    """Attack: any Instagram user's username or caption with terminal escapes reached the
    terminal raw when ``tables ARCHIVE`` printed the frames; cut at 24 characters, an OSC
    sequence was even left open, so the terminal swallowed what followed. Printed cells are
    escaped; the archive and written tables keep the text as it was."""
    envelope = FakeAPI.media_for("C0ffee12345")
    node = envelope["data"]["data"]["xdt_shortcode_media"]
    node["owner"]["username"] = "evil\x1b]0;PWNED\x07\x1b[2Juser"
    fake_api.set_payload("C0ffee12345", envelope)
    archive = str(tmp_path / "archive.jsonl")
    args = ["collect", "C0ffee12345", "--archive", archive, "--base-url", fake_api.base_url]
    assert runner.invoke(main, [*args, "--no-progress"]).exit_code == 0
    result = runner.invoke(main, ["tables", archive], color=True)
    assert result.exit_code == 0
    assert "evil\\x1b]0;PWN" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    stored = json.loads(Path(archive).read_text(encoding="utf-8"))
    assert stored["response"]["data"]["data"]["xdt_shortcode_media"]["owner"] == node["owner"]
