"""Check a report folder: every checksum it lists, and, given its source, its tables and figures.

A report (:func:`igresearch.report.write_report`) lists the SHA-256 of its files in three places:
``SHA256SUMS`` (every file but itself), ``provenance.json`` (tables, figures, data dictionary)
and its pages (those and ``provenance.json``). :func:`verify_report` hashes every file any of
them names and says which differ or are missing. With the report's source (the archive, a
cassette of it, or a tables folder) it rebuilds the tables and compares them as data, checks the
archive's SHA-256 against ``source_sha256``, and redraws the figures to compare their bytes when
this machine has the versions and platform the report was made with.

A report may come from anyone: a name that is not a plain relative path inside the folder
(``../x``, ``/etc/x``) makes the listing it is in refused before any file is read, and a listed
file that is a link out of the folder, or not a regular file, is named, never read.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from .files import sha256

__all__ = ["Verification", "verify_report"]

SUMS = "SHA256SUMS"
PAGES = ("report.md", "report.html")
TABLES = ("media", "comments", "owners", "children", "errors")
#: The largest listing read: a report lists a few dozen files.
MAX_LISTING_BYTES = 1 << 20

_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.*)")
# Plain relative paths: no empty, ".", ".." or hidden parts, no backslash, no drive, no control.
_PART = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_NAME = re.compile(f"{_PART}(?:/{_PART})*")
_LISTED = {
    "report.md": re.compile(r"^\| `([^`\n]*)` \| `([0-9a-f]{64})` \|$", re.MULTILINE),
    "report.html": re.compile(
        r"<tr><td><code>([^<]*)</code></td><td><code>([0-9a-f]{64})</code></td></tr>"
    ),
}


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_report` found.

    Attributes
    ----------
    files
        How many files the report lists, each checked against every checksum given for it.
    problems
        One line per file that differs or is missing (``differs: tables/media.csv (SHA256SUMS)``),
        and per table, figure or source that does not match; empty when the report verifies.
    notes
        What else was checked, or not (``figures not compared: ...``).
    """

    files: int
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing differs and nothing is missing."""
        return not self.problems


def verify_report(
    report_dir: str | os.PathLike[str],
    source: str | os.PathLike[str] | None = None,
    *,
    salt: str | None = None,
) -> Verification:
    """Check every checksum `report_dir` lists and, with `source`, rebuild and compare its data.

    Parameters
    ----------
    report_dir
        A folder :func:`igresearch.report.write_report` wrote.
    source
        The archive (or JSON Lines file of responses) the report was made from, a cassette of it
        (replayed through :func:`igresearch.collect` into a temporary archive, no key, no
        network), or a tables folder. Its tables must equal the report's parquet tables; an
        archive's SHA-256 must equal ``source_sha256``; the figures are redrawn and compared byte
        for byte when the provenance's versions and platform are this machine's.
    salt
        For a pseudonymised report from an identified source: the report's salt (default:
        ``$IGRESEARCH_SALT``). A source that already holds pseudonyms (a public cassette) needs
        none.

    Returns
    -------
    Verification
        ``ok`` when nothing differs; else ``problems`` names each file, table or figure.

    Raises
    ------
    FileNotFoundError
        When `report_dir` has no ``SHA256SUMS`` (it is not a report folder).
    ValueError
        When ``SHA256SUMS``, ``provenance.json`` or a page lists a name that is not a plain
        relative path inside the folder, or ``SHA256SUMS`` is not in ``sha256sum``'s format.

    Examples
    --------
    A report from elsewhere whose ``SHA256SUMS`` points outside its folder is refused:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from igresearch.verify import verify_report
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "SHA256SUMS").write_text("0" * 64 + "  ../../etc/passwd\\n")
    >>> verify_report(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: SHA256SUMS line 1 in ... names '../../etc/passwd', not a plain relative path ...
    """
    folder = Path(report_dir)
    if not (folder / SUMS).is_file():
        raise FileNotFoundError(
            f"{folder} is not a report folder (no {SUMS}); igresearch report writes one."
        )
    problems: list[str] = []
    unlisted: dict[str, str] = {}  # listing -> why it lists nothing, said unless it differs
    listings = {SUMS: _read_sums(folder)}
    provenance = _read_provenance(folder, unlisted)
    if provenance is not None:
        listings["provenance.json"] = provenance["checksums"]
    for page in PAGES:
        listings[page] = _read_page(folder, page, unlisted)
    names = sorted({name for listed in listings.values() for name in listed})
    unreadable, flagged = set(), set()
    for name in names:
        digest = _digest(folder, name)
        if digest in ("missing", "outside the report folder", "not a regular file"):
            problems.append(f"{digest}: {name}")
            unreadable.add(name)
        elif wrong := [w for w, listed in listings.items() if listed.get(name, digest) != digest]:
            problems.append(f"differs: {name} (from its SHA-256 in {', '.join(wrong)})")
        else:
            continue
        flagged.add(name)
    problems += [why for listing, why in unlisted.items() if listing not in flagged]
    notes: list[str] = []
    if source is not None:
        if provenance is None:
            problems.append("not compared with the source: provenance.json cannot be read")
        else:
            _compare(folder, provenance, Path(source), salt, unreadable, problems, notes)
    return Verification(len(names), tuple(dict.fromkeys(problems)), tuple(notes))


def _read_sums(folder: Path) -> dict[str, str]:
    """``SHA256SUMS`` as {name: digest}, or ValueError naming the first line that is not a
    digest and a plain relative name (nothing else is read before it is refused)."""
    text = _read_listing(folder, SUMS)
    if text is None:
        raise ValueError(f"{folder / SUMS} is a link out of the folder or not a file: refused.")
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _SUM_LINE.fullmatch(line)
        if match is None:
            raise ValueError(
                f"{folder / SUMS} line {number} is not '<SHA-256>  <file>' (sha256sum's format): "
                "refused; this is not a SHA256SUMS igresearch report wrote."
            )
        digest, name = match.groups()
        _check_name(name, f"{SUMS} line {number}", folder)
        if name in sums:
            raise ValueError(f"{folder / SUMS} lists {name} twice: refused.")
        sums[name] = digest
    return sums


def _check_name(name: str, where: str, folder: Path) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{where} in {folder} names {name[:200]!r}, not a plain relative path inside the "
            "report folder: refused (no file outside the folder was read)."
        )


def _read_provenance(folder: Path, unlisted: dict[str, str]) -> dict[str, Any] | None:
    """``provenance.json``, its checksums checked to be {plain name: SHA-256}; None when it is
    missing (named by the checksums) or not a report's JSON object (said in `unlisted`)."""
    text = _read_listing(folder, "provenance.json")
    if text is None:
        return None
    try:
        provenance = json.loads(text)
    except ValueError:
        provenance = None
    if not isinstance(provenance, dict) or not isinstance(provenance.get("checksums"), dict):
        unlisted["provenance.json"] = "unreadable: provenance.json (not a report's provenance)"
        return None
    for name, digest in provenance["checksums"].items():
        _check_name(str(name), "provenance.json", folder)
        if not isinstance(digest, str):
            unlisted["provenance.json"] = f"unreadable: provenance.json (no SHA-256 for {name})"
            return None
    return provenance


def _read_page(folder: Path, page: str, unlisted: dict[str, str]) -> dict[str, str]:
    """The checksum table of a page as {name: digest}, empty when the page is missing (named
    by the checksums) or lists none (said in `unlisted`)."""
    text = _read_listing(folder, page)
    if text is None:
        return {}
    listed = {html.unescape(n): d for n, d in _LISTED[page].findall(text)}
    for name in listed:
        _check_name(name, page, folder)
    if not listed:
        unlisted[page] = f"lists no checksums: {page}"
    return listed


def _read_listing(folder: Path, name: str) -> str | None:
    """A listing's text, if it is a regular file inside the folder of at most
    ``MAX_LISTING_BYTES``; a file that is not UTF-8 reads as its valid parts."""
    if _inside(folder, name) != "":
        return None
    with (folder / name).open("rb") as stream:
        data = stream.read(MAX_LISTING_BYTES + 1)
    if len(data) > MAX_LISTING_BYTES:
        raise ValueError(f"{folder / name} is larger than a report's listing: refused.")
    return data.decode("utf-8", errors="replace")


def _inside(folder: Path, name: str) -> str:
    """ "" when ``folder/name`` is a regular file inside `folder`, else what it is instead."""
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        return "outside the report folder"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    return "" if stat.S_ISREG(mode) else "not a regular file"


def _digest(folder: Path, name: str) -> str:
    """The SHA-256 of ``folder/name``, or why it was not read (see :func:`_inside`)."""
    return _inside(folder, name) or sha256(folder / name)


def _compare(
    folder: Path,
    provenance: dict[str, Any],
    source: Path,
    salt: str | None,
    unreadable: set[str],
    problems: list[str],
    notes: list[str],
) -> None:
    """Rebuild the tables (and figures) from `source` and compare them with the report's."""
    from .tables import read_tables, to_tables

    # The errors table names each record by its file's name: read the source under the name the
    # report gives it, so a renamed copy (its content checked by source_sha256) compares equal.
    named = str(provenance.get("source"))
    with tempfile.TemporaryDirectory(prefix="igresearch-verify-") as scratch:
        archive = Path(scratch) / (named if re.fullmatch(_PART, named) else source.name)
        cassette = source.is_file() and _is_cassette(source)
        if source.is_dir():
            rebuilt = read_tables(source)
        elif cassette:
            from .demo import collect_from_cassette

            collect_from_cassette(source, archive)
            rebuilt = to_tables(archive)
            notes.append(f"{source} is a cassette: replayed every recording it holds")
        else:
            archive.symlink_to(source.resolve())
            rebuilt = to_tables(archive)
            _check_source(source, provenance.get("source_sha256"), problems, notes)
        candidates = {"": rebuilt}
        salt = salt or os.environ.get("IGRESEARCH_SALT")
        if provenance.get("pseudonymized"):
            from .pseudonymize import pseudonymize, reasons_as_categories

            # A public cassette's answers hold pseudonyms already; its reasons become categories
            # as pseudonymize() makes them.
            public = dataclasses.replace(rebuilt, errors=reasons_as_categories(rebuilt.errors))
            candidates = {" (its pseudonyms as they are)": public}
            if salt:
                with_salt = {" (pseudonymised with the salt)": pseudonymize(rebuilt, salt)}
                candidates = with_salt | candidates
        report = _report_tables(folder, unreadable, problems)
        if cassette:  # a cassette holds no failed request, nor the archive's lines
            errors = report["errors"]
            report["errors"] = None if errors is None else _answered(errors)
            candidates = {
                how: dataclasses.replace(tables, errors=_answered(tables.errors))
                for how, tables in candidates.items()
            }
        found = {how: _differing(report, tables) for how, tables in candidates.items()}
        how = next((how for how, differ in found.items() if not differ), next(iter(found)))
        if found[how]:
            problems += [f"differs from the source: tables/{name}.parquet" for name in found[how]]
            if provenance.get("pseudonymized") and not salt:
                notes.append(
                    "the report is pseudonymised: set IGRESEARCH_SALT to its salt when the source "
                    "is identified (a public cassette needs none)"
                )
        else:
            notes.append(f"tables equal to those rebuilt from {source}{how}")
        media = report["media"]
        if found[how] or media is None:
            media = candidates[how].media
        # The same rows, in the report's order (the order draws jitter and the legend): the
        # figures are redrawn from the data just verified.
        _compare_figures(folder, provenance, media, Path(scratch), problems, notes)


def _is_cassette(path: Path) -> bool:
    """Whether a file is a cassette (YAML) rather than JSON Lines: it does not start with
    ``{`` or ``[``."""
    with path.open("rb") as stream:
        start = stream.read(256).lstrip()
    return not start.startswith((b"{", b"["))


def _check_source(source: Path, recorded: Any, problems: list[str], notes: list[str]) -> None:
    if not isinstance(recorded, str):
        notes.append("source_sha256 not compared: the report names none (made from tables)")
        return
    if sha256(source) != recorded:
        problems.append(f"differs: {source} (from the report's source_sha256)")
    else:
        notes.append(f"{source} has the report's source_sha256")


def _report_tables(
    folder: Path, unreadable: set[str], problems: list[str]
) -> dict[str, pl.DataFrame | None]:
    """The report's parquet tables (None for one that is missing, unreadable or a link out)."""
    frames: dict[str, pl.DataFrame | None] = {}
    for name in TABLES:
        path = f"tables/{name}.parquet"
        frames[name] = None
        if path in unreadable or _inside(folder, path):
            continue
        try:
            frames[name] = pl.read_parquet(folder / path)
        except (OSError, pl.exceptions.PolarsError) as error:
            problems.append(f"unreadable: {path} ({type(error).__name__})")
    return frames


def _answered(errors: pl.DataFrame) -> pl.DataFrame:
    """The errors rows a replay of a cassette can give: no failed request, no line numbers."""
    if not {"kind", "record"} <= set(errors.columns):
        return errors
    return errors.filter(pl.col("kind") != "failed").drop("record")


def _differing(report: dict[str, pl.DataFrame | None], tables: Any) -> list[str]:
    """The tables of `report` that `tables` does not equal, as data: same columns (those the
    report kept: a pseudonymised one has no URLs), types and rows, in any order (pseudonyms
    sort otherwise than the ids they replace)."""

    def equal(frame: pl.DataFrame | None, rebuilt: pl.DataFrame) -> bool:
        if frame is None or not set(frame.columns) <= set(rebuilt.columns):
            return False
        columns = frame.columns
        return frame.sort(columns).equals(rebuilt.select(columns).sort(columns))

    return [name for name, frame in report.items() if not equal(frame, getattr(tables, name))]


def _compare_figures(
    folder: Path,
    provenance: dict[str, Any],
    media: pl.DataFrame,
    scratch: Path,
    problems: list[str],
    notes: list[str],
) -> None:
    """Redraw the figures and compare their bytes, where this machine is the report's."""
    from .plots import save_all
    from .report import environment

    here = environment()
    recorded = {key: provenance.get(key) for key in here}
    if recorded != here:
        notes.append(f"figures not compared: {_unlike(recorded, here)}")
        return
    redrawn = {
        f"figures/{path.name}": path
        for path in save_all(media, scratch / "figures", formats=("png", "svg"))
    }
    listed = {name for name in provenance.get("checksums", {}) if name.startswith("figures/")}
    differing = sorted(
        name
        for name in listed | set(redrawn)
        if name not in redrawn
        or name not in listed
        or _digest(folder, name) != sha256(redrawn[name])
    )
    problems += [f"differs from the source: {name} (redrawn)" for name in differing]
    if not differing:
        notes.append(f"figures equal to those redrawn from the source ({len(redrawn)} files)")


def _unlike(recorded: dict[str, Any], here: dict[str, Any]) -> str:
    """How the report's environment differs from this machine's, e.g. ``matplotlib 3.9.0
    (here 3.9.2)``."""
    theirs = recorded.get("dependencies")
    flat = {**recorded, **(theirs if isinstance(theirs, dict) else {})}
    ours = {**here, **here["dependencies"]}
    changed = [
        f"{key} {flat.get(key)} (here {value})"
        for key, value in ours.items()
        if key != "dependencies" and flat.get(key) != value
    ]
    return "the report was made with " + "; ".join(changed)
