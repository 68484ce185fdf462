"""The main job, offline: replay a recorded study through ``collect`` into an archive and tables.

The bundled ``demo.yaml`` is a SYNTHETIC study (made by ``scripts/make_cassettes.py`` against the
fake API; every account's full name says "synthetic"): never cite its numbers.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from .cassettes import body_meaning, cassette_path, read_cassette, replay
from .collect import Summary, collect
from .files import make_folder, write_text
from .tables import Tables, to_tables

__all__ = ["collect_from_cassette", "rates_by_account", "run_demo"]


def recorded_posts(cassette: str | os.PathLike[str]) -> Counter[tuple[str, str]]:
    """How many recordings the cassette holds per (channel, shortcode), in recorded order.

    Examples
    --------
    >>> from igresearch.cassettes import cassette_path
    >>> from igresearch.demo import recorded_posts
    >>> recorded_posts(cassette_path("documented_example.yaml"))
    Counter({('apify', 'DLlGZiCOBQ0'): 1})
    """
    posts: Counter[tuple[str, str]] = Counter()
    for interaction in read_cassette(cassette):
        meaning = body_meaning(interaction["request"]["body"])
        if isinstance(meaning, tuple):
            posts[meaning] += 1
    return posts


def collect_from_cassette(
    cassette: str | os.PathLike[str],
    archive: str | os.PathLike[str],
    *,
    concurrency: int = 1,
    progress: bool = False,
    **options: Any,
) -> list[Summary]:
    """Replay every recording in `cassette` through :func:`collect`: first one snapshot of each
    post, then a refresh for each further snapshot recorded (several recordings of one request
    replay in recorded order). No key, no network. With one thread (the default) the archive's
    order, and so every table, is the same on every run. A run that stops early (see
    :class:`~igresearch.collect.Stop`) ends the replay there; its summary is the last one.
    `options` go to :func:`collect` (``rate`` defaults to 1000 requests per second)."""
    posts = recorded_posts(cassette)
    options = {"rate": 1000.0} | options
    summaries: list[Summary] = []
    with replay(cassette):
        for snapshot in range(max(posts.values(), default=0)):
            for channel in dict.fromkeys(channel for channel, _ in posts):
                urls = [code for (ch, code), n in posts.items() if ch == channel and n > snapshot]
                summaries.append(
                    collect(
                        urls,
                        archive=archive,
                        channel=channel,
                        refresh_older_than=timedelta(0) if snapshot else None,
                        concurrency=concurrency,
                        progress=progress,
                        **options,
                    )
                )
                if summaries[-1].stopped is not None:
                    return summaries
    return summaries


def rates_by_account(
    media: pl.DataFrame, *, rates: tuple[str, ...] = ("like_rate", "comment_rate", "reach")
) -> pl.DataFrame:
    """The table the demo prints: per account, its reels, and each rate's median with the
    number of reels that have the rate (the median's n) in brackets, ``-`` when none has it.

    Examples
    --------
    >>> import polars as pl
    >>> from igresearch.demo import rates_by_account
    >>> from igresearch.schema import MEDIA_SCHEMA
    >>> media = pl.DataFrame(
    ...     [
    ...         {"media_id": "1", "owner_username": "a", "play_count": 100, "like_count": 10},
    ...         {"media_id": "2", "owner_username": "a", "play_count": 200, "like_count": 10},
    ...         {"media_id": "3", "owner_username": "a", "play_count": None, "like_count": 1},
    ...     ],
    ...     schema=MEDIA_SCHEMA,
    ... )
    >>> rates_by_account(media, rates=("like_rate", "reach")).rows()
    [('a', 3, '0.0750 (2)', '- (0)')]
    """
    from .metrics import engagement_by_owner

    by_owner = engagement_by_owner(media)
    cells = {
        rate: [
            f"{'-' if median is None else f'{median:.4f}'} ({n})"
            for median, n in zip(by_owner[f"{rate}_median"], by_owner[f"{rate}_n"], strict=True)
        ]
        for rate in rates
    }
    return pl.DataFrame(
        {"account": by_owner["owner_username"], "reels": by_owner["n"], **cells},
        schema={"account": pl.String, "reels": pl.Int64} | dict.fromkeys(rates, pl.String),
    )


_MARKER = ".igresearch-demo"


def run_demo(
    out: str | os.PathLike[str], *, cassette: str | os.PathLike[str] | None = None
) -> Tables:
    """Replay the bundled synthetic study into ``out/archive.jsonl``, write the tables (parquet)
    to ``out/tables`` and the engagement figures to ``out/figures``. A previous demo in `out` is
    replaced; anything else there is never touched.

    Raises
    ------
    FileExistsError
        When `out` holds an archive, tables or figures that the demo did not write.
    """
    from .plots import save_all

    folder = Path(out)
    marker = folder / _MARKER
    ours = [folder / name for name in ("archive.jsonl", "tables", "figures")]
    if not marker.exists() and any(path.exists() for path in ours):
        raise FileExistsError(
            f"{folder} already holds an archive, tables or figures that the demo did not write; "
            "the demo replaces its own output only. Choose another folder."
        )
    make_folder(folder)  # private, as what a real study collects would be
    write_text(marker, "Written by igresearch's demo: replaced by the next demo run.\n")
    archive = folder / "archive.jsonl"
    archive.unlink(missing_ok=True)
    collect_from_cassette(cassette or cassette_path("demo.yaml"), archive)
    tables = to_tables(archive)
    tables.write(folder / "tables")
    save_all(tables.media, folder / "figures")
    return tables
