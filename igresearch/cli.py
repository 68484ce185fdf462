"""The ``igresearch`` command: wiring only (parse options, call the library, print)."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import re
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .client import CHANNELS, MAX_RETRY_BUDGET_S, MAX_TIMEOUT_S
from .collect import MAX_RATE, MIN_RATE
from .controls import ABOVE_C0, oneline
from .display import count
from .errors import ArchiveFormatError, CassetteError, IgResearchError, InvalidURLError

if TYPE_CHECKING:
    from .collect import Plan, Summary

EXIT_API_ERROR, EXIT_BAD_INPUT, EXIT_STOPPED, EXIT_INTERRUPTED = 1, 2, 3, 130


class _Number(click.FloatRange):
    """A finite number in a range (click's FloatRange lets "nan" through every bound)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST = 100 * 366 * 86400  # seconds: a century


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    """'90m', '24h', '7d' or '30s' -> a timedelta above 0 and up to 100 years, at parse time."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text[:-1]) * _UNITS[text[-1:].lower()]
    except (KeyError, ValueError):
        raise click.BadParameter(
            f"{text!r} is not a duration: use a number and a unit, e.g. 30m, 24h, 7d."
        ) from None
    if not 0 < seconds <= _LONGEST:  # false for nan too
        raise click.BadParameter(
            f"{text!r} is not a duration above 0 and up to 100 years (1s asks for a new "
            "snapshot of every post)."
        )
    return timedelta(seconds=seconds)


class _Failure(click.ClickException):
    """An error shown as one line on stderr (``Error: ...``), with its exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(oneline(message.strip()))
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it from the instance

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.message}", file=file, err=file is None)


#: The commands in the order of a study, as ``igresearch --help`` lists them; a command not
#: written yet takes its place when it comes, and one not named here comes last.
WORKFLOW = (
    "init",
    "collect",
    "status",
    "tables",
    "plot",
    "report",
    "verify",
    "cite",
    "cassette",
    "fetch",
    "record",
    "demo",
)


class _Commands(click.Group):
    """The igresearch group: whatever a command raises that is not a bug (an igresearch error,
    an OS error, a bad value, a missing optional package, a usage error) ends as one line on
    stderr and an exit status."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in :data:`WORKFLOW` order, then any other by name."""
        place = {name: index for index, name in enumerate(WORKFLOW)}
        return sorted(self.commands, key=lambda name: (place.get(name, len(place)), name))

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            raise _usage(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise _usage(error) from None
        except _Failure:
            raise
        except click.ClickException as error:
            raise _Failure(error.format_message(), error.exit_code) from None
        except KeyboardInterrupt:
            raise _Failure("Interrupted.", EXIT_INTERRUPTED) from None
        except IgResearchError as error:
            raise _Failure(_what_happened(error), _status(error)) from None
        except OSError as error:
            raise _Failure(_os_message(error), _status(error)) from None
        except ValueError as error:
            raise _Failure(str(error), EXIT_BAD_INPUT) from None
        except ModuleNotFoundError as error:  # an optional package (zstandard): how to install
            raise _Failure(str(error), EXIT_API_ERROR) from None


def _usage(error: click.UsageError) -> click.ClickException:
    """A usage error as one line, with where to read the usage (no-argument help stays help)."""
    if isinstance(error, click.exceptions.NoArgsIsHelpError):
        return error
    where = f" See '{error.ctx.command_path} --help'." if error.ctx else ""
    return _Failure(error.format_message() + where, error.exit_code)


def _what_happened(error: IgResearchError) -> str:
    """The error's message; for a replay miss, also the command that would record it."""
    message = str(error)
    if isinstance(error, CassetteError) and error.cassette is not None:
        post = f"{error.url} --channel {error.channel}" if error.url else "URL ..."
        message += f" To record it: igresearch record {post} --cassette {error.cassette}"
    return message


def _os_message(error: OSError) -> str:
    """What an OS error says, naming its file, and what to do when the disk is full."""
    message = (
        str(error) if error.filename is None else f"{error.strerror or error}: {error.filename}"
    )
    if error.errno == errno.ENOSPC:
        message += " (free some space, then run the same command again)"
    return message


def _status(error: Exception) -> int:
    """Exit status 2 for input the user can fix on the command line, else 1."""
    bad_input = (
        InvalidURLError,
        ArchiveFormatError,
        FileNotFoundError,
        IsADirectoryError,
        NotADirectoryError,
        FileExistsError,
    )
    return EXIT_BAD_INPUT if isinstance(error, bad_input) else EXIT_API_ERROR


def _echo(*lines: str, err: bool = False) -> None:
    """Print `lines`, each made safe for a terminal by :func:`~igresearch.controls.oneline`."""
    click.echo("\n".join(oneline(line) for line in lines), err=err)


def _show(frame: Any) -> None:
    """Print a frame safe for a terminal. A line break in a cell is escaped first (polars would
    start a new line of the table with it), the other control characters in the printed table."""
    import polars as pl

    def escape(cells: pl.Expr) -> pl.Expr:
        return cells.str.replace_all("\n", oneline("\n"), literal=True)

    safe = frame.with_columns(
        escape(pl.col(pl.String)), pl.col(pl.List(pl.String)).list.eval(escape(pl.element()))
    )
    _echo(*str(safe).split("\n"))


channel_option = click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    default="apify",
    show_default=True,
    help="Upstream provider the API should use.",
)
from_option = click.option(
    "--from",
    "from_file",
    type=click.Path(allow_dash=True, dir_okay=False),
    help="Text file (one URL per line, # comments), CSV with a url column (comma, semicolon or "
    "tab), or - for stdin.",
)
base_url_option = click.option(
    "--base-url",
    envvar="MEMORIES_BASE_URL",
    default=None,
    help="API base URL (default: $MEMORIES_BASE_URL, else the vendor's).",
)
replay_option = click.option(
    "--replay",
    "replay_from",
    type=click.Path(dir_okay=False),
    help="Answer from this cassette instead of the API: no key, no network, no cost.",
)


def _run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of a run over many URLs, shared by collect and record."""
    options = [
        click.option(
            "--concurrency",
            default=4,
            show_default=True,
            type=click.IntRange(1, 64),
            help="Requests in flight at once (threads).",
        ),
        click.option(
            "--rate",
            default=5.0,
            show_default=True,
            type=_Number(MIN_RATE, MAX_RATE),
            help="Most requests per second, all threads together.",
        ),
        click.option(
            "--max-requests", type=click.IntRange(min=0), help="Send requests for at most N URLs."
        ),
        click.option("--dry-run", is_flag=True, help="Print how many requests, and the cost."),
        click.option(
            "--price",
            default=0.01,
            show_default=True,
            type=_Number(min=0),
            help="USD per request, for the estimated cost.",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option(
            "--timeout",
            default=60.0,
            show_default=True,
            type=_Number(min=0, max=MAX_TIMEOUT_S, min_open=True),
            metavar="SECONDS",
            help="Most seconds one attempt may take.",
        ),
        click.option(
            "--retry-budget",
            default=600.0,
            show_default=True,
            type=_Number(min=0, max=MAX_RETRY_BUDGET_S),
            metavar="SECONDS",
            help="Most seconds one URL's retries may wait in all; a longer Retry-After stops "
            "the run (exit 3) and says when to resume.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def exit_code(summary: Summary) -> int:
    """A run's exit status: 0 every URL stored, 1 some failed, 2 no valid input, 3 stopped
    early (rejected key, no credits, --max-requests, no connection to the API, a Retry-After
    beyond --retry-budget), 130 interrupted (Ctrl-C). A cassette miss or a failed archive write
    is raised, and is exit 1."""
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if summary.plan.valid == 0:
        return EXIT_BAD_INPUT
    if summary.stopped:
        return EXIT_STOPPED
    return EXIT_API_ERROR if summary.outcomes["failed"] else 0


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="igresearch")
def main() -> None:
    """Instagram video metadata for research, from the memories.ai API.

    The API key is read from the MEMORIES_API_KEY environment variable.

    \b
    Exit status, every command:
      0    done
      1    an API error, some URLs failed, or a file could not be read or written
      2    bad input or usage (the message says what to change)
      3    a run stopped early (rejected key, no credits, --max-requests, no
           connection, a Retry-After beyond --retry-budget)
      130  interrupted (Ctrl-C)
    Errors are one line on stderr, starting "Error: ".

    \b
    Examples:
      igresearch demo
      igresearch collect --from urls.txt --archive study.jsonl --dry-run
      igresearch collect --from urls.txt --archive study.jsonl
      igresearch report study.jsonl --out report/
    """


@main.command(short_help="A new study repository: notebook, Makefile, CI, README.")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
def init(directory: str, force: bool) -> None:
    """Write a ready study repository into DIRECTORY: urls.txt, notebooks/analysis.ipynb, a
    Makefile (collect, cassette, report, verify, test), .gitignore, a CI workflow
    (.github/workflows/study.yml), requirements.txt and README.md.

    A folder that is not empty is refused unless --force; even then, a file you changed since
    init wrote it is kept, never overwritten.

    \b
    Examples:
      igresearch init my_study
      igresearch init my_study --force
    """
    from .study import init_study

    try:
        done = init_study(directory, force=force)
    except FileExistsError as error:
        raise click.UsageError(str(error)) from None
    for name in done.written:
        _echo(f"wrote {Path(directory) / name}")
    for name in done.kept:
        _echo(f"kept {Path(directory) / name} (changed since init wrote it)")


@main.command(short_help="One post's metadata as JSON (one paid request).")
@click.argument("url")
@channel_option
@base_url_option
@replay_option
def fetch(url: str, channel: str, base_url: str | None, replay_from: str | None) -> None:
    """Fetch one post's metadata (one paid request) and print the response JSON.

    URL is any Instagram post, reel or TV URL, or a bare shortcode (10 to 12 characters, e.g.
    DLlGZiCOBQ0; any other shortcode needs its full URL).

    \b
    Examples:
      igresearch fetch https://www.instagram.com/reel/DLlGZiCOBQ0/
      igresearch fetch DLlGZiCOBQ0 --channel rapid
      igresearch fetch DLlGZiCOBQ0 --replay my_study.yaml
    """
    from .client import Client

    with _replaying(replay_from), Client(channel=channel, base_url=base_url) as client:
        envelope = client.video_metadata(url)
    _print_json(envelope)


@main.command(short_help="Many posts into an archive; resumes, never pays twice.")
@click.argument("urls", nargs=-1)
@from_option
@click.option(
    "--archive",
    required=True,
    type=click.Path(dir_okay=False),
    help="JSON Lines archive to append to (created if missing; any other file is refused).",
)
@channel_option
@base_url_option
@click.option(
    "--cassette",
    "--replay",
    "replay_from",
    type=click.Path(dir_okay=False),
    help="Answer from this cassette instead of the API: no key, no network, no cost, not paced "
    "unless --rate is given. With no URLs and no --from, every post and every snapshot it holds.",
)
@click.option("--retry-failed", is_flag=True, help="Request only URLs whose last attempt failed.")
@click.option(
    "--refresh-older-than",
    metavar="DURATION",
    callback=_duration,
    help="Request a new snapshot of URLs whose newest response is older, e.g. 24h.",
)
@_run_options
def collect(
    urls: tuple[str, ...],
    from_file: str | None,
    archive: str,
    replay_from: str | None,
    retry_failed: bool,
    refresh_older_than: timedelta | None,
    **options: Any,
) -> None:
    """Fetch many posts into a raw archive; resumes, never pays twice for a stored post.

    The plan (valid, duplicate and invalid lines, what the archive holds, what will be
    requested and its cost) is printed before the first request.
    Exit status: 0 every URL stored (ok or unavailable), 1 some failed, 2 no valid input,
    3 stopped early (rejected key, no credits, --max-requests, no connection, Retry-After
    beyond --retry-budget), 130 interrupted (Ctrl-C; a second Ctrl-C stops waiting for the
    answers in flight). An archive that cannot be written is exit 1.

    \b
    Examples:
      igresearch collect --from urls.txt --archive study.jsonl --dry-run
      igresearch collect --from urls.txt --archive study.jsonl
      igresearch collect --from urls.txt --archive study.jsonl --retry-failed
      igresearch collect --from urls.txt --archive study.jsonl --refresh-older-than 24h
      igresearch collect DLlGZiCOBQ0 --archive demo.jsonl --cassette my_study.yaml
      igresearch collect --archive replayed.jsonl --cassette my_study.yaml
    """
    rate = click.get_current_context().get_parameter_source("rate")
    if replay_from and rate == click.core.ParameterSource.DEFAULT:
        options["rate"] = MAX_RATE  # a replay sends nothing: nothing to pace
    if replay_from and not urls and not from_file:
        if retry_failed or refresh_older_than:
            raise click.UsageError(
                "Replaying a whole cassette (no URLs, no --from) asks for every snapshot it "
                "holds: drop --retry-failed and --refresh-older-than, or give the URLs."
            )
        _replay_all(replay_from, archive, options)
    entries = _entries(urls, from_file)
    with _replaying(replay_from):
        summary = _run(
            entries,
            archive,
            retry_failed=retry_failed,
            refresh_older_than=refresh_older_than,
            **options,
        )
    _finish(summary, options["max_requests"])


def _replay_all(cassette: str, archive: str, options: dict[str, Any]) -> NoReturn:
    """Replay every post and snapshot of `cassette` into `archive`, a new or empty one (an
    archive holding some of them would get their first snapshots twice)."""
    from .archive import read_archive
    from .demo import collect_from_cassette

    if next(read_archive(archive), None) is not None:
        raise click.BadParameter(
            f"{archive} already holds records: replaying a whole cassette needs a new or empty "
            "archive (or give the URLs to replay).",
            param_hint="--archive",
        )
    options.pop("channel")  # each post is replayed on the channel it was recorded on
    progress = not options.pop("no_progress")
    summaries = collect_from_cassette(
        cassette,
        archive,
        progress=progress,
        on_plan=lambda plan: _print_plan(plan, 0.0),
        **options,
    )
    for summary in summaries[:-1]:
        _echo(*summary.describe(with_plan=False).split("\n"), err=True)
    if not summaries:
        raise click.BadParameter(f"{cassette} holds no post to replay.", param_hint="--cassette")
    _finish(summaries[-1], options["max_requests"])


def _run(entries: list[tuple[str, str]], archive: str | Path, **options: Any) -> Summary:
    """Run `collect` with the command line's options; the plan is printed before any request."""
    from .collect import collect as run_collect
    from .collect import paid_price

    progress = not options.pop("no_progress")
    price = paid_price(options["price"])
    return run_collect(
        entries,
        archive=archive,
        progress=progress,
        on_plan=lambda plan: _print_plan(plan, price),
        **options,
    )


def _print_plan(plan: Plan, price: float) -> None:
    """The skipped lines, then the plan, on stderr: what will be paid for, before it is. With
    no valid URL at all, one error line instead (nothing is done)."""
    if plan.valid == 0 and plan.invalid:
        where, _text, reason = plan.invalid[0]
        others = len(plan.invalid) - 1
        more = f" ({count(others, 'more invalid line')})" if others else ""
        raise _Failure(f"No valid URL. {where}: {reason}{more}", EXIT_BAD_INPUT)
    for where, _text, reason in plan.invalid:
        _echo(f"Skipped {where}: {reason}", err=True)
    _echo(f"Plan: {plan.describe(price)}", err=True)


def _finish(summary: Summary, max_requests: int | None, archive: str | None = None) -> NoReturn:
    """Print the summary in the command line's words and exit with its status."""
    stop = None
    if summary.stopped and summary.stopped.reason == "max_requests":
        stop = f"--max-requests {max_requests} reached; run again to continue."
    if summary.stopped and summary.stopped.reason == "retry_after":
        stop = f"{summary.stopped} (Or wait that long with a larger --retry-budget.)"
    if summary.stopped:  # escaped here: a line break the server sent would start a new line
        stop = oneline(stop or summary.stopped.message)
    where = oneline(str(archive or summary.archive))
    _echo(*summary.describe(stop=stop, archive=where, with_plan=False).split("\n"), err=True)
    sys.exit(exit_code(summary))


def _replaying(cassette: str | None) -> contextlib.AbstractContextManager[Any]:
    """Inside: every client made answers from `cassette`, when given."""
    from .cassettes import replay

    return replay(cassette) if cassette else contextlib.nullcontext()


@main.command(short_help="Outcome counts of an archive, and why posts are missing.")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
def status(archive: str) -> None:
    """Outcome counts of an archive, and the posts not stored, with reasons.

    \b
    Examples:
      igresearch status study.jsonl
    """
    from .archive import Attrition

    attrition = Attrition.of(archive)
    total = sum(attrition.counts.values())
    _echo(f"{archive}: {total} posts (each counted once, by its latest stored response)")
    for outcome in ("ok", "unavailable", "failed"):
        click.echo(f"  {outcome:<12}{attrition.counts[outcome]:>8}")
    if attrition.lost:
        click.echo("\nNot stored (tab-separated):\noutcome\tchannel\turl\treason")
    for url, channel, outcome, reason, _ in attrition.lost:  # the reason quotes the server
        click.echo("\t".join(oneline(field) for field in (outcome, channel, url, reason)))


@main.command(short_help="The tables of an archive: print them, or write them.")
@click.argument("source", type=click.Path(exists=True))
@click.option("--out", type=click.Path(file_okay=False), help="Write the tables to this folder.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="File format of the tables written with --out: parquet (typed) or csv.",
)
@click.option(
    "--spreadsheet-safe",
    is_flag=True,
    help="With --format csv: put ' before text cells a spreadsheet would evaluate (=, +, -, @).",
)
@click.pass_context
def tables(
    ctx: click.Context, source: str, out: str | None, fmt: str, spreadsheet_safe: bool
) -> None:
    """Build the media, comments, owners, children and errors tables from an archive or a
    JSON Lines/JSON file of responses; print them, or (with --out) write them.

    With --out, a JSON Lines file is read in batches, in bounded memory, and the folder keeps
    what was converted (in .igresearch/): run the same command again after the archive grew
    and only the new records are converted. If the archive was changed otherwise, every
    table is built again, and the command says so.

    \b
    Examples:
      igresearch tables study.jsonl
      igresearch tables study.jsonl --out tables/
      igresearch tables study.jsonl --out tables-csv/ --format csv --spreadsheet-safe
    """
    from .lines import compression
    from .tables import to_tables

    if spreadsheet_safe and (fmt != "csv" or not out):
        raise click.UsageError("--spreadsheet-safe is for --format csv with --out.")
    if not out and ctx.get_parameter_source("fmt") != click.core.ParameterSource.DEFAULT:
        raise click.UsageError(
            f"--format {fmt} is for the files written with --out: add --out FOLDER, or drop "
            "--format to print the tables."
        )
    if out and Path(source).suffix != ".json" and compression(Path(source)) is None:
        _build(source, out, fmt, spreadsheet_safe)  # a .json document, a compressed archive:
        return  # read whole
    built = to_tables(source)
    if not out:
        _show_tables(built)
        return
    paths = built.write(out, format=fmt, spreadsheet_safe=spreadsheet_safe)  # type: ignore[arg-type]
    for path in paths:
        frame = getattr(built, path.stem, None)
        _echo(f"wrote {path}" + (f" ({frame.height} rows)" if frame is not None else ""))


def _build(source: str, out: str, fmt: str, spreadsheet_safe: bool) -> None:
    from .build import build_tables

    built = build_tables(source, out, format=fmt, spreadsheet_safe=spreadsheet_safe)  # type: ignore[arg-type]
    if built.rebuilt:
        _echo(f"{out}: every table built again, because {built.rebuilt}.")
    converted = count(built.converted, "new record")
    _echo(f"converted {converted} ({built.reused} converted before, reused)")
    for path in built.paths:
        rows = built.rows.get(path.stem)
        _echo(f"wrote {path}" + (f" ({rows} rows)" if rows is not None else ""))


def _show_tables(built: Any) -> None:
    import polars as pl

    with pl.Config(tbl_rows=8, tbl_cols=8, fmt_str_lengths=24, tbl_width_chars=110):
        for name in ("media", "comments", "owners", "children", "errors"):
            frame = getattr(built, name)
            click.echo(f"\n{name}: {frame.height} rows")
            if frame.height:
                _show(frame)


@main.command(short_help="Replay the SYNTHETIC demo study offline (no key).")
@click.option(
    "--out",
    default="demo-output",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the archive, tables and figures.",
)
def demo(out: str) -> None:
    """Offline demo: replay the bundled SYNTHETIC study (no key, no network) into an archive,
    tables and engagement figures.

    \b
    Examples:
      igresearch demo
      igresearch demo --out /tmp/igresearch-demo
    """
    import polars as pl

    from .demo import rates_by_account, run_demo

    try:
        tables = run_demo(out)
    except FileExistsError as error:
        raise click.UsageError(f"{error} (--out)") from None
    media = tables.media
    _echo(
        f"Replayed the synthetic demo study (invented accounts: never cite it) into {out}/",
        f"  {media['media_id'].n_unique()} posts from {media['owner_id'].n_unique()} accounts, "
        f"{media.height} snapshots; {tables.errors.height} unavailable; "
        f"{tables.comments.height} comments; {tables.children.height} carousel items",
    )
    _echo("Median rates by account; in brackets, the reels each median is computed from:")
    with pl.Config(tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        _show(rates_by_account(media))
    _echo(f"Archive: {out}/archive.jsonl  Tables: {out}/tables/  Figures: {out}/figures/")


@main.command(short_help="Record a cassette from the live API (paid).")
@click.argument("urls", nargs=-1)
@from_option
@click.option(
    "--cassette",
    required=True,
    type=click.Path(dir_okay=False),
    help="Cassette to add the recordings to (created if missing).",
)
@click.option(
    "--archive",
    type=click.Path(dir_okay=False),
    help="Also keep the answers in this archive; URLs it holds are not requested again "
    "(default: a temporary archive).",
)
@channel_option
@base_url_option
@_run_options
def record(
    urls: tuple[str, ...],
    from_file: str | None,
    cassette: str,
    archive: str | None,
    **options: Any,
) -> None:
    """Record a cassette from the live API (paid; needs MEMORIES_API_KEY): collect, then add
    the answers stored by this run to the cassette, as the cassette command writes them.
    Replay it later with igresearch.replay(cassette), or fetch/collect --replay CASSETTE, with
    no key and no network.

    Planned like collect (one planning, one stop rule, any concurrency): duplicates and invalid
    lines skipped, URLs the cassette already holds left out ("already recorded"; replay them
    with collect --replay), --dry-run and --max-requests count only what would be paid for; new
    answers are added, earlier ones kept. Failed requests hold no answer and are not recorded.
    Exit status: 0 every URL stored (ok or unavailable), 1 some failed, 2 no valid input,
    3 stopped early (rejected key, no credits, --max-requests, no connection, Retry-After
    beyond --retry-budget), 130 interrupted (Ctrl-C; a second Ctrl-C stops waiting for the
    answers in flight). An archive that cannot be written is exit 1.

    \b
    Examples:
      igresearch record --from urls.txt --cassette my_study.yaml --dry-run
      igresearch record --from urls.txt --cassette my_study.yaml --archive study.jsonl
      igresearch collect --from urls.txt --archive replayed.jsonl --replay my_study.yaml
    """
    from .archive import read_archive
    from .archive_cassette import add_recordings
    from .demo import recorded_posts
    from .urls import parse_shortcode

    entries = _entries(urls, from_file)
    channel = options["channel"]
    held = recorded_posts(cassette) if Path(cassette).exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(archive) if archive else Path(folder) / "archive.jsonl"
        before = sum(1 for _ in read_archive(path))
        try:
            summary = _run(
                entries,
                path,
                recorded=lambda url: (channel, parse_shortcode(url)) in held,
                **options,
            )
        finally:  # even after an error: the answers stored were paid for
            added = add_recordings(cassette, list(read_archive(path))[before:])
    unchanged = "" if added else " unchanged"
    _echo(f"Cassette: {cassette}{unchanged} ({count(added, 'new recording')})", err=True)
    _finish(summary, options["max_requests"], None if archive else "none (a temporary one)")


#: The names of the rates of igresearch.metrics (not imported here: it loads polars).
METRICS = (
    "like_rate",
    "comment_rate",
    "engagement_rate",
    "reach",
    "likes_per_follower",
    "view_play_ratio",
)


@main.command(short_help="One engagement figure (PNG, SVG or PDF).")
@click.argument("source", type=click.Path(exists=True))
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["scatter", "distribution", "owners", "time", "growth"]),
    help="The figure: scatter (likes against plays), distribution (a metric by account), owners "
    "(median metric by account), time (a metric by posting date) or growth (plays over time "
    "since posting).",
)
@click.option(
    "--metric",
    type=click.Choice(METRICS),
    metavar="NAME",
    help=f"The rate that --kind distribution, owners or time shows: {', '.join(METRICS)} "
    "(default: like_rate for distribution, engagement_rate for owners and time).",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Figure file: .png, .svg or .pdf."
)
def plot(source: str, kind: str, metric: str | None, out: str) -> None:
    """Draw an engagement figure from an archive, a responses file or a tables folder.

    \b
    Examples:
      igresearch plot study.jsonl --kind scatter --out likes.png
      igresearch plot tables/ --kind distribution --metric like_rate --out like-rate.svg
      igresearch plot tables/ --kind owners --metric reach --out reach.pdf
      igresearch plot study.jsonl --kind growth --out growth.png
    """
    from .plots import RATE_KINDS, draw, save_figure, unused_rate
    from .tables import read_tables, to_tables

    if metric is not None and kind not in RATE_KINDS:
        raise click.UsageError(unused_rate(kind, option="--metric", kind_option="--kind"))
    if Path(out).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.BadParameter(f"{out!r} does not end in .png, .svg or .pdf.", param_hint="--out")
    media = read_tables(source).media if Path(source).is_dir() else to_tables(source).media
    axes = draw(kind, media, rate=metric)
    _echo(f"wrote {save_figure(axes.figure, out)}", err=True)


@main.command(short_help="A citable report: tables, figures, provenance, checksums.")
@click.argument("source", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Report folder.")
@click.option("--pseudonymize", is_flag=True, help="Replace ids and names by salted hashes.")
@click.option(
    "--salt",
    envvar="IGRESEARCH_SALT",
    help="Secret salt (16+ characters) for --pseudonymize; set $IGRESEARCH_SALT instead, "
    "out of sight of ps.",
)
@click.pass_context
def report(ctx: click.Context, source: str, out: str, pseudonymize: bool, salt: str | None) -> None:
    """Write a citable report of an archive or tables folder: tables (parquet, CSV), figures
    (PNG, SVG), provenance, SHA-256 checksums, report.md and report.html.

    \b
    Examples:
      igresearch report study.jsonl --out report/
      igresearch report tables/ --out report/
      IGRESEARCH_SALT=... igresearch report study.jsonl --out public/ --pseudonymize
    """
    from .report import write_report

    # A salt typed without --pseudonymize would leave a report that looks private but is not.
    typed = ctx.get_parameter_source("salt") == click.core.ParameterSource.COMMANDLINE
    if typed and not pseudonymize:
        raise click.UsageError("--salt is only used with --pseudonymize: add it, or drop --salt.")
    if pseudonymize and not salt:
        raise click.UsageError("--pseudonymize needs --salt (or $IGRESEARCH_SALT): a secret.")
    page = write_report(source, out, salt=salt if pseudonymize else None)
    _echo(f"wrote {page} and {Path(out) / 'report.md'}")


@main.command(short_help="Check a report's checksums, and its data against its source.")
@click.argument("report_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--source",
    type=click.Path(exists=True),
    metavar="ARCHIVE_OR_CASSETTE",
    help="The archive the report was made from, a cassette of it, or a tables folder: rebuild "
    "the tables and compare them (and the figures, on a machine like the report's).",
)
def verify(report_dir: str, source: str | None) -> None:
    """Check every checksum REPORT_DIR lists (SHA256SUMS, provenance.json, the pages): exit 0
    and "verified N files", or exit 1 with one line per file that differs or is missing.

    With --source, also rebuild the tables from the report's archive (checking its
    source_sha256) or from a cassette of it (replayed offline, no key), and compare them as
    data; the figures are redrawn and compared byte for byte when the report's versions and
    platform are this machine's. A pseudonymised report is compared after pseudonymising with
    $IGRESEARCH_SALT, or as it is when the source holds pseudonyms already (a public cassette).

    \b
    Examples:
      igresearch verify report/
      igresearch verify report/ --source study.jsonl
      IGRESEARCH_SALT=... igresearch verify report/ --source study.jsonl
    """
    from .verify import verify_report

    result = verify_report(report_dir, source)
    for line in (*result.problems, *result.notes):
        _echo(line)
    if not result.ok:
        problems = count(len(result.problems), "problem")
        raise _Failure(
            f"{report_dir} does not verify ({problems} above).",
            EXIT_API_ERROR,
        )
    _echo(f"verified {result.files} files")


@main.command(short_help="A cassette from an archive's answers (no key, nothing paid).")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Cassette to write.")
@click.option(
    "--pseudonymize",
    is_flag=True,
    help="Pseudonymise the answers (salt from $IGRESEARCH_SALT): a cassette safe to publish.",
)
def cassette(archive: str, out: str, pseudonymize: bool) -> None:
    """Write a cassette that replays every answer ARCHIVE stores (ok and unavailable, every
    snapshot), without sending anything. Failed records hold no answer and are left out; the
    last line says how many, and why.

    The cassette names people, and is readable by you alone (0600). With --pseudonymize (a
    secret salt of 16+ characters from $IGRESEARCH_SALT, as report --pseudonymize) every
    username, full name, id, shortcode and URL is replaced in the answers themselves, as
    pseudonymize() does in tables, and the cassette follows your umask, ready to share. Replay
    it with collect --cassette.

    \b
    Examples:
      igresearch cassette study.jsonl --out study.yaml
      igresearch collect --archive replayed.jsonl --cassette study.yaml
      IGRESEARCH_SALT=... igresearch cassette study.jsonl --out public.yaml --pseudonymize
    """
    import os

    from .archive_cassette import cassette_from_archive

    salt = os.environ.get("IGRESEARCH_SALT") if pseudonymize else None
    if pseudonymize and not salt:
        raise click.UsageError("--pseudonymize needs $IGRESEARCH_SALT: a secret of 16+ characters.")
    _echo(cassette_from_archive(archive, out, salt=salt).describe())


@main.command(short_help="How to cite igresearch, and a report's dataset.")
@click.argument("report_dir", required=False, type=click.Path(exists=True, file_okay=False))
def cite(report_dir: str | None) -> None:
    """Print how to cite igresearch, and the dataset of REPORT_DIR when given.

    \b
    Examples:
      igresearch cite
      igresearch cite report/
    """
    from .report import dataset_citation, software_citation

    _echo(f"Software: {software_citation()}")
    if report_dir:
        _echo(f"Dataset: {dataset_citation(report_dir)}")


def _entries(urls: tuple[str, ...], from_file: str | None) -> list[tuple[str, str]]:
    """(where, text) for the URL arguments and the --from file, or a usage error."""
    from .urlfile import read_url_file

    entries = [(f"argument {i + 1}", url) for i, url in enumerate(urls)]
    if from_file:
        try:
            found = read_url_file(from_file)
        except (OSError, ValueError) as error:
            message = _os_message(error) if isinstance(error, OSError) else str(error)
            raise click.BadParameter(message, param_hint="--from") from None
        if not found:
            raise click.BadParameter(f"{from_file} holds no URL.", param_hint="--from")
        entries += found
    if not entries:
        raise click.UsageError("Give URLs as arguments or with --from FILE.")
    return entries


#: The control characters json.dumps leaves raw (it escapes C0 itself).
_JSON_RAW = re.compile(f"[{ABOVE_C0}]")


def _print_json(data: Any) -> None:
    """`data` as JSON with every control character escaped (``\\uNNNN``), still valid JSON."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    click.echo(_JSON_RAW.sub(lambda match: f"\\u{ord(match.group()):04x}", text))
