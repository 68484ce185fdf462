"""Citable reports: tables, figures, provenance and checksums, ready for a methods section."""

from __future__ import annotations

import html
import importlib.metadata
import json
import os
import platform
import re
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from . import __version__
from .archive import Attrition, check_archive
from .client import CHANNELS
from .controls import oneline
from .errors import ArchiveFormatError
from .files import make_folder, sha256, write_text
from .schema import SCHEMA_VERSION, data_dictionary
from .tables import Tables, read_tables, to_tables

__all__ = ["dataset_citation", "methods", "software_citation", "write_report"]

_CAPTIONS = {
    "scatter": "Likes against plays, log-log, with 1%, 5% and 10% like-rate guide lines.",
    "distribution": "Like rate by account: box (quartiles, median) and one point per reel.",
    "owners": "Median engagement rate by account, with 95% bootstrap confidence intervals.",
    "time": "Engagement rate by posting date, with a rolling median.",
    "growth": "Plays against hours since posting, for reels fetched more than once.",
}
_CHECK = (
    "`SHA256SUMS` gives the SHA-256 of every file of this folder, these pages included; "
    "check them with `sha256sum -c SHA256SUMS` in the folder."
)
# CommonMark's ASCII punctuation (any of it may be backslash-escaped) and Unicode line breaks
_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")
_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_OUTCOMES = ("ok", "unavailable", "failed")
_DEPENDENCIES = ("polars", "requests", "vcrpy", "matplotlib", "msgspec", "click", "tqdm")


#: This version's release date, CITATION.cff's ``date-released`` (a test checks they agree).
RELEASED = "2026-11-27"
#: ``Project-URL`` labels (normalised: lower case, letters and digits only) that name where the
#: source is, then those that name the documentation, most specific first.
_REPOSITORY_LABELS = ("repository", "source", "sourcecode", "code", "github", "gitlab", "homepage")
_DOCUMENTATION_LABELS = ("documentation", "docs")


def software_citation() -> str:
    """How to cite igresearch itself: the facts of CITATION.cff (authors, title, version, year
    of release) and, when the installed package's metadata gives them (``Project-URL``, from
    pyproject's ``[project.urls]``), the addresses of its source and documentation.

    Examples
    --------
    >>> from igresearch.report import software_citation
    >>> print(software_citation())  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    igresearch developers (2026). igresearch: Instagram video metadata for research
    (version 0.1.0) [Computer software]...
    """
    text = (
        f"igresearch developers ({RELEASED[:4]}). igresearch: Instagram video metadata for "
        f"research (version {__version__}) [Computer software]."
    )
    urls = _project_urls()
    source = next((urls[label] for label in _REPOSITORY_LABELS if label in urls), None)
    docs = next((urls[label] for label in _DOCUMENTATION_LABELS if label in urls), None)
    if source:
        text += f" {source}" + (f" (documentation: {docs})" if docs and docs != source else "")
    elif docs:
        text += f" Documentation: {docs}"
    return text


def _project_urls() -> dict[str, str]:
    """The installed igresearch's ``Project-URL`` entries as {normalised label: URL}, web
    addresses only; empty when it names none or is not installed."""
    try:
        entries = importlib.metadata.metadata("igresearch").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    urls: dict[str, str] = {}
    for entry in entries:
        label, _, url = (part.strip() for part in str(entry).partition(","))
        if re.fullmatch(r"https?://\S+", url):
            urls.setdefault("".join(c for c in label.lower() if c.isalnum()), url)
    return urls


def dataset_citation(report: str | os.PathLike[str]) -> str:
    """How to cite the dataset a report describes, from its ``provenance.json``.

    Raises
    ------
    FileNotFoundError
        When `report` has no ``provenance.json`` (it is not a report folder).
    ValueError
        When its ``provenance.json`` is not one :func:`write_report` wrote.
    """
    path = Path(report) / "provenance.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{report} is not a report folder (no provenance.json); igresearch report "
            "(write_report) makes one."
        )
    try:
        return _citation(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path} is not a report's provenance ({type(error).__name__}).") from None


def _citation(provenance: dict[str, Any]) -> str:
    """The dataset citation of a report's provenance (its checksums give the media table's)."""
    first, last = provenance["collection_window"]
    media = provenance["checksums"].get("tables/media.parquet", "")
    channels = ", ".join(provenance["channels"])
    posts, version = provenance["posts"], provenance["igresearch_version"]
    pseudonymized = provenance["pseudonymized"]
    return (
        f"Instagram video metadata for {posts} posts, collected "
        f"{_day(first)} to {_day(last)} through the memories.ai Instagram video metadata API "
        f"(channel {channels or 'unknown'}) with igresearch {version}"
        + (", pseudonymised" if pseudonymized else "")
        + f". Media table SHA-256 {media}."
    )


def write_report(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    salt: str | None = None,
) -> Path:
    """Write a report of an archive (or a tables folder) to `out` and return ``report.html``.

    `out` receives ``tables/`` (parquet with provenance in its key-value and Arrow schema
    metadata, and spreadsheet-safe CSV, see :meth:`Tables.write`), ``figures/`` (PNG and
    SVG), ``data-dictionary.md``, ``provenance.json``, ``methods.md`` (:func:`methods`),
    ``report.md``, ``report.html`` and ``SHA256SUMS``. The pages give the collection window,
    channels, outcome counts and attrition (for an archive), versions, the SHA-256 of the source
    and of every other file, and a citation; ``SHA256SUMS`` (for ``sha256sum -c``) covers
    every file, the pages included.
    With `salt`, the tables are pseudonymised first
    (:func:`igresearch.pseudonymize.pseudonymize`) and the report lists no URLs.

    The same source and versions give the same bytes: only the pages (and so ``SHA256SUMS``)
    say when they were generated, at ``SOURCE_DATE_EPOCH`` when that is set.

    Raises
    ------
    ValueError
        When ``SOURCE_DATE_EPOCH`` is set but not a whole number of seconds.
    """
    from .plots import save_all

    generated = _generated_at()
    source_path, folder = Path(source), Path(out)
    tables = read_tables(source_path) if source_path.is_dir() else to_tables(source_path)
    attrition = None  # known for an archive only, not for tables or a file of responses
    if source_path.is_file() and not _responses(source_path):
        attrition = Attrition.of(source_path)
    if salt is not None:
        from .pseudonymize import pseudonymize

        tables = pseudonymize(tables, salt)
    provenance = _provenance(source_path, tables, attrition, pseudonymized=salt is not None)
    # An identified report is as private as its archive; a pseudonymised one is for sharing.
    private = salt is None
    write = partial(write_text, private=private)
    make_folder(folder, private=private)
    metadata = {"igresearch.provenance": json.dumps(provenance, sort_keys=True)}
    written = tables.write(folder / "tables", metadata=metadata, private=private)
    written += tables.write(folder / "tables", format="csv", spreadsheet_safe=True, private=private)
    written += save_all(tables.media, folder / "figures", formats=("png", "svg"), private=private)
    written.append(write(folder / "data-dictionary.md", data_dictionary()))
    provenance["checksums"] = {_name(p, folder): sha256(p) for p in sorted(written)}
    citation = _citation(provenance)
    write(folder / "methods.md", methods(provenance, citation))
    provenance["checksums"]["methods.md"] = sha256(folder / "methods.md")
    write(folder / "provenance.json", json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    provenance["checksums"]["provenance.json"] = sha256(folder / "provenance.json")
    pages = [
        write(folder / "report.md", _markdown(provenance, tables, citation, generated)),
        write(folder / "report.html", _html(provenance, tables, citation, generated)),
    ]
    sums = provenance["checksums"] | {_name(p, folder): sha256(p) for p in pages}
    write(folder / "SHA256SUMS", "".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))
    return pages[1]


def methods(provenance: dict[str, Any], citation: str) -> str:
    """A methods-section paragraph (Markdown) from a report's provenance: the collection window,
    channel(s), outcomes and attrition, versions, checksums and citations. It says nothing of
    when it was written, so the same provenance gives the same bytes.

    Examples
    --------
    >>> from igresearch.report import methods
    >>> provenance = {
    ...     "collection_window": ["2026-01-02T03:04:05+00:00", "2026-01-09T00:00:00+00:00"],
    ...     "channels": ["apify"], "posts": 2, "outcomes": {"ok": 2, "unavailable": 1, "failed": 0},
    ...     "igresearch_version": "0.1.0", "python": "3.12.3", "platform": "Linux x86_64",
    ...     "dependencies": {"polars": "1.30.0"}, "pseudonymized": False,
    ...     "source_sha256": "ab" * 32, "checksums": {"tables/media.parquet": "cd" * 32},
    ... }
    >>> print(methods(provenance, "Dataset citation."))  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    # Methods
    <BLANKLINE>
    Instagram video metadata was collected from 2026-01-02 to 2026-01-09 (UTC) through the
    memories.ai Instagram video metadata API (channel apify) with igresearch 0.1.0 (Python
    3.12.3 on Linux x86_64; polars 1.30.0). Of 3 posts requested, 2 were stored, 1 was
    unavailable (deleted, private or login-walled) and 0 failed...
    """
    first, last = provenance["collection_window"]
    channels = ", ".join(provenance["channels"]) or "unknown"
    versions = ", ".join(f"{k} {v}" for k, v in sorted(provenance["dependencies"].items()))
    text = (
        f"Instagram video metadata was collected from {_day(first)} to {_day(last)} (UTC) "
        f"through the memories.ai Instagram video metadata API (channel {channels}) with "
        f"igresearch {provenance['igresearch_version']} (Python {provenance['python']} on "
        f"{provenance['platform']}; {versions})."
    )
    outcomes = provenance.get("outcomes")
    if outcomes:
        ok, unavailable, failed = (outcomes.get(k, 0) for k in _OUTCOMES)
        text += (
            f" Of {sum(outcomes.values())} posts requested, {ok} were stored, {unavailable} "
            f"{'was' if unavailable == 1 else 'were'} unavailable (deleted, private or "
            f"login-walled) and {failed} failed; the report lists each post not stored, and why."
        )
    else:
        text += f" The tables describe {provenance['posts']} posts."
    if provenance["pseudonymized"]:
        text += (
            " Account and post identifiers, usernames and names were replaced by salted "
            "HMAC-SHA256 pseudonyms and URLs removed."
        )
    if provenance["source_sha256"]:
        text += f" The archive has SHA-256 {provenance['source_sha256']}."
    media = provenance["checksums"].get("tables/media.parquet", "unknown")
    text += (
        f" The media table (tables/media.parquet) has SHA-256 {media}; SHA256SUMS lists every "
        f"file of the report. Data: {citation} Software: {software_citation()}"
    )
    wrapped = textwrap.fill(text, width=96, break_long_words=False, break_on_hyphens=False)
    return f"# Methods\n\n{wrapped}\n"


def _generated_at() -> str:
    """When the pages say they were generated: ``SOURCE_DATE_EPOCH`` if set (reproducible
    builds' convention), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        seconds = int(epoch) if epoch else time.time()
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"SOURCE_DATE_EPOCH={epoch!r} is not a time: set it to whole seconds since "
            "1970-01-01 UTC (e.g. `git log -1 --format=%ct`), or unset it."
        ) from None


def _responses(path: Path) -> bool:
    """Whether a file that to_tables read is one of responses rather than an archive."""
    try:
        check_archive(path)
    except ArchiveFormatError:
        return True
    return False


def _provenance(
    source: Path, tables: Tables, attrition: Attrition | None, *, pseudonymized: bool
) -> dict[str, Any]:
    fetched = tables.media["fetched_at"].drop_nulls()
    window = [None, None] if fetched.is_empty() else [fetched.min(), fetched.max()]
    return {
        "source": source.name,
        "source_sha256": sha256(source) if source.is_file() else None,
        "collection_window": [w.isoformat() if isinstance(w, datetime) else None for w in window],
        "channels": sorted(tables.media["channel"].drop_nulls().unique().to_list()),
        "posts": tables.media["media_id"].n_unique(),
        "rows": {
            name: getattr(tables, name).height
            for name in ("media", "comments", "owners", "children", "errors")
        },
        "outcomes": _outcomes(attrition, pseudonymized) if attrition else None,
        "attrition": _lost(attrition, pseudonymized) if attrition else None,
        "schema_version": SCHEMA_VERSION,
        **environment(),
        "pseudonymized": pseudonymized,
    }


def environment() -> dict[str, Any]:
    """What a report's figures depend on besides its data, as its provenance records it: the
    versions of igresearch, Python and the dependencies, and the platform (system and machine).
    :func:`igresearch.verify.verify_report` redraws figures only where all of it matches."""
    return {
        "igresearch_version": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "dependencies": {name: _version(name) for name in _DEPENDENCIES},
    }


def _outcomes(attrition: Attrition, pseudonymized: bool) -> dict[str, int]:
    """Posts per outcome; when pseudonymised, an outcome igresearch never writes (an archive
    from elsewhere) counts as ``unknown`` rather than being quoted."""
    if not pseudonymized:
        return dict(attrition.counts)
    counts: Counter[str] = Counter()
    for outcome, posts in attrition.counts.items():
        counts[outcome if outcome in _OUTCOMES else "unknown"] += posts
    return dict(counts)


def _known(channel: str) -> str:
    return channel if channel in CHANNELS else "unknown"


def _lost(attrition: Attrition, pseudonymized: bool) -> list[dict[str, str]]:
    """The posts not stored; when pseudonymised, without URLs and with each reason replaced by
    its category, which quotes no server."""
    if pseudonymized:
        return [
            {"outcome": lost.category.partition(":")[0], "channel": _known(lost.channel),
             "reason": lost.category}
            for lost in attrition.lost
        ]  # fmt: skip
    return [
        {"outcome": lost.outcome, "channel": lost.channel, "reason": lost.reason, "url": lost.url}
        for lost in attrition.lost
    ]


def _markdown(provenance: dict[str, Any], tables: Tables, citation: str, generated: str) -> str:
    first, last = provenance["collection_window"]
    lines = [
        "# igresearch report",
        "",
        f"Generated {generated} by igresearch {provenance['igresearch_version']} "
        f"from `{provenance['source']}`"
        + (f" (SHA-256 `{provenance['source_sha256']}`)" if provenance["source_sha256"] else "")
        + ".",
        "",
        "## Collection",
        "",
        f"- Window: {_day(first)} to {_day(last)} (UTC, from the responses' `Date` headers)",
        f"- Channel(s): {', '.join(map(_md, provenance['channels'])) or 'unknown'}",
        f"- Posts: {provenance['posts']}; rows: "
        + ", ".join(f"{k} {v}" for k, v in provenance["rows"].items()),
    ]
    if provenance["pseudonymized"]:
        lines.append("- Pseudonymised: ids, usernames and names are salted hashes; URLs removed")
    if provenance["outcomes"] is not None:
        lines += ["", "## Outcomes and attrition", "", "| outcome | posts |", "|---|---|"]
        lines += [f"| {_md(k)} | {v} |" for k, v in sorted(provenance["outcomes"].items())]
        if provenance["attrition"]:
            lines += ["", "Not stored:", ""]
            for lost in provenance["attrition"]:  # pseudonymised: the reason is the category
                url = f"{_md(lost['outcome'])}: {_md(lost['url'])}: " if "url" in lost else ""
                lines.append(f"- {url}{_md(lost['reason'])}")
        if resolved := _resolved(tables):
            lines += ["", resolved.replace("resolved", "`resolved`", 1)]
    lines += ["", "## Engagement by account", "", _markdown_table(_owner_table(tables))]
    lines += ["", "## Figures", ""]
    for name in _figure_names(provenance):
        lines += [f"![{name}](figures/{name}.png)", "", f"*{_CAPTIONS.get(name, name)}*", ""]
    for line in _left_out(tables):
        lines += [line, ""]
    lines += [
        "",
        "## Data",
        "",
        "Column definitions: [data dictionary](data-dictionary.md).",
        "",
        _CHECK,
        "",
        "| file | SHA-256 |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | `{digest}` |" for name, digest in provenance["checksums"].items()]
    lines += [
        "",
        "## Software",
        "",
        f"Python {provenance['python']} on {provenance['platform']}; "
        + ", ".join(f"{k} {v}" for k, v in provenance["dependencies"].items()),
        "",
        "## How to cite",
        "",
        f"Dataset: {citation}",
        "",
        f"Software: {software_citation()}",
        "",
    ]
    return "\n".join(lines)


def _html(provenance: dict[str, Any], tables: Tables, citation: str, generated: str) -> str:
    esc = _html_text

    first, last = provenance["collection_window"]
    rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in provenance["rows"].items()
    )
    outcomes = ""
    if provenance["outcomes"] is not None:
        cells = "".join(
            f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>"
            for k, v in sorted(provenance["outcomes"].items())
        )
        lost = "".join(
            "<li>"
            + (f"{esc(x['outcome'])}: {esc(x['url'])}: " if "url" in x else "")
            + f"{esc(x['reason'])}</li>"
            for x in provenance["attrition"] or []
        )
        outcomes = (
            f"<h2>Outcomes and attrition</h2><table><tr><th>outcome</th><th>posts</th></tr>"
            f"{cells}</table>" + (f"<p>Not stored:</p><ul>{lost}</ul>" if lost else "")
        )
        if resolved := _resolved(tables):
            outcomes += f"<p>{esc(resolved).replace('resolved', '<code>resolved</code>', 1)}</p>"
    owners = _html_table(_owner_table(tables))
    figures = "".join(
        f'<figure><img src="figures/{name}.png" alt="{name} figure">'
        f"<figcaption>{esc(_CAPTIONS.get(name, name))}</figcaption></figure>"
        for name in _figure_names(provenance)
    ) + "".join(f"<p>{esc(line)}</p>" for line in _left_out(tables))
    checksums = "".join(
        f"<tr><td><code>{esc(n)}</code></td><td><code>{esc(d)}</code></td></tr>"
        for n, d in provenance["checksums"].items()
    )
    versions = ", ".join(f"{esc(k)} {esc(v)}" for k, v in provenance["dependencies"].items())
    source = f"<code>{esc(provenance['source'])}</code>" + (
        f" (SHA-256 <code>{esc(provenance['source_sha256'])}</code>)"
        if provenance["source_sha256"]
        else ""
    )
    check = re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(_CHECK))
    pseudonymised = (
        "<p><strong>Pseudonymised:</strong> ids, usernames and names are salted hashes; URLs "
        "removed.</p>"
        if provenance["pseudonymized"]
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>igresearch report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }}
th {{ background: #f2f2f2; }}
figure {{ margin: 1rem 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ color: #666; font-size: 0.85rem; }} code {{ font-size: 0.8rem; }}
</style></head><body>
<h1>igresearch report</h1>
<p>Generated {esc(generated)} by igresearch {esc(provenance["igresearch_version"])}
from {source}.</p>
<h2>Collection</h2>
<p>Window: {esc(_day(first))} to {esc(_day(last))} (UTC) · channel(s):
{esc(", ".join(provenance["channels"]) or "unknown")} · posts: {esc(provenance["posts"])}</p>
{pseudonymised}
<table><tr><th>table</th><th>rows</th></tr>{rows}</table>
{outcomes}
<h2>Engagement by account</h2>{owners}
<h2>Figures</h2>{figures}
<h2>Data</h2><p>Column definitions: <a href="data-dictionary.md">data dictionary</a>.</p>
<p>{check}</p>
<table><tr><th>file</th><th>SHA-256</th></tr>{checksums}</table>
<h2>Software</h2><p>Python {esc(provenance["python"])} on {esc(provenance["platform"])};
{versions}</p>
<h2>How to cite</h2><p>Dataset: {esc(citation)}</p><p>Software: {esc(software_citation())}</p>
</body></html>
"""


def _resolved(tables: Tables) -> str:
    """How many failed rows of the errors table are of posts another record stored, or ""."""
    failed = tables.errors.filter(pl.col("kind") != "unavailable")
    resolved = failed["resolved"].sum()
    if not resolved:
        return ""
    return (
        f"{resolved} of the errors table's {failed.height} failed or malformed rows are of posts "
        "that another record stored (column resolved): the counts above count each post once, "
        "by its latest stored answer."
    )


def _owner_table(tables: Tables) -> pl.DataFrame:
    """Per account: its reels, then for each rate the reels that have it and their median."""
    from .metrics import engagement_by_owner

    columns: list[pl.Expr] = []
    for rate in ("like_rate", "comment_rate", "engagement_rate"):
        columns += [
            pl.col(f"{rate}_n").alias(f"reels with {rate}"),
            (pl.col(f"{rate}_median") * 100).round(2).alias(f"median {rate} (%)"),
        ]
    return engagement_by_owner(tables.media).select(
        pl.col("owner_username").alias("account"), pl.col("n").alias("reels"), *columns
    )


def _left_out(tables: Tables) -> list[str]:
    """One line for each figure left out of the report for want of data, saying why."""
    from .plots import KINDS, missing_data

    reasons = {kind: missing_data(kind, tables.media) for kind in KINDS}
    return [f"The {kind} figure is left out: {why}." for kind, why in reasons.items() if why]


def _markdown_table(frame: pl.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += [
        "| " + " | ".join(_md(v) if isinstance(v, str) else str(v) for v in row) + " |"
        for row in frame.iter_rows()
    ]
    return "\n".join(lines)


def _md(value: str) -> str:
    """`value` as literal Markdown text: line breaks become spaces, other control characters
    ``\\xNN`` (:func:`~igresearch.controls.oneline`), and every ASCII punctuation character is
    backslash-escaped, so no value opens a tag, link, table cell or heading."""
    return _PUNCTUATION.sub(r"\\\1", oneline(_BREAK.sub(" ", value)))


def _html_text(value: Any) -> str:
    """`value` as HTML text, its control characters shown as ``\\xNN``."""
    return html.escape(oneline(str(value)))


def _html_table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{_html_text(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_html_text(v)}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure_names(provenance: dict[str, Any]) -> list[str]:
    return [
        Path(n).stem
        for n in provenance["checksums"]
        if n.startswith("figures/") and n.endswith(".png")
    ]


def _name(path: Path, folder: Path) -> str:
    """`path` relative to `folder`, with ``/`` on every platform (as ``SHA256SUMS`` needs)."""
    return path.relative_to(folder).as_posix()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _day(iso: str | None) -> str:
    return iso[:10] if iso else "unknown"
