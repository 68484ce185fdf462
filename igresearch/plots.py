"""Engagement figures: a media DataFrame in, a matplotlib Axes out.

Every plotting function takes the media table (see ``docs/data-dictionary.md``) and an optional
``ax``; without one it draws on a new 6.4 x 4.0 inch figure (constrained layout). It returns the
Axes, so a caller can restyle it or place it in a grid. Rates come from
:mod:`igresearch.metrics`, computed on the newest snapshot of each reel
(:func:`igresearch.metrics.latest`); only :func:`growth_curves` uses every snapshot.

Rows that cannot be drawn (a null or zero count on a log axis, a null rate, a missing time)
are left out, and a note in the top right corner says how many, next to the number drawn and
the posting dates covered (the figure's suptitle on a new figure, else a text above the axes):
``n = 57 reels (3 without plays or likes left out) · posted 2025-01-02 to 2025-03-04``.

Nothing covers data: a legend stands outside the axes (above them for one entry, to their
right for several), and so do the guide-line labels of :func:`ratio_scatter`. Tick labels are
plain: numbers on a linear axis have no offset and no x1eN multiplier, counts on a log axis
read 1, 10, 100, 1k, 10k, 1M. :func:`draw` (and so :func:`save_all`) refuses a figure with
nothing to show, saying why (:func:`missing_data`).

Colours are the Okabe-Ito palette (:data:`OKABE_ITO`), distinguishable with the common forms
of colour blindness; text is at least 9 pt. Styles are applied through ``matplotlib.rc_context``
and explicit font sizes, never by changing global rcParams. The only function that writes
files is :func:`save_figure`. Importing :mod:`igresearch` does not import this module, so
matplotlib is loaded only by code that draws.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.transforms as mtransforms
import numpy as np
import numpy.typing as npt
import polars as pl
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import LogFormatter, MaxNLocator, PercentFormatter, ScalarFormatter

from .controls import ABOVE_C0
from .errors import EmptyFigureError
from .files import atomic_path
from .metrics import RATES, latest, snapshots, visible_likes, with_rates

__all__ = [
    "FIGSIZE",
    "KINDS",
    "OKABE_ITO",
    "RATE_KINDS",
    "draw",
    "engagement_over_time",
    "growth_curves",
    "missing_data",
    "owner_comparison",
    "rate_distribution",
    "ratio_scatter",
    "save_all",
    "save_figure",
    "unused_rate",
]

#: Okabe & Ito (2008) colour-blind-safe palette: black, orange, sky blue, bluish green, yellow,
#: blue, vermillion, reddish purple.
OKABE_ITO = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
)
#: Size of a new figure in inches (width, height).
FIGSIZE = (6.4, 4.0)

_BLUE, _VERMILLION, _GREY = OKABE_ITO[5], OKABE_ITO[6], "0.35"
# Line order for several series: strong colours first, yellow (weak on white) last.
_CYCLE = [OKABE_ITO[i] for i in (5, 1, 3, 6, 7, 2, 0, 4)]
_TICK_PT, _LABEL_PT, _NOTE_PT = 10, 11, 9
_RATE_LABELS = {
    "like_rate": "Like rate (% of plays)",
    "comment_rate": "Comment rate (% of plays)",
    "engagement_rate": "Engagement rate (% of plays)",
    "reach": "Reach (plays, % of followers)",
    "likes_per_follower": "Likes per follower (% of followers)",
    "view_play_ratio": "View/play ratio (% of plays)",
}
_RATE_NOUNS = {
    "like_rate": "a like rate",
    "comment_rate": "a comment rate",
    "engagement_rate": "an engagement rate",
    "reach": "a reach",
    "likes_per_follower": "likes per follower",
    "view_play_ratio": "a view/play ratio",
}
_COUNT_NOUNS = {
    "play_count": "plays",
    "view_count": "views",
    "like_count": "likes",
    "comment_count": "comments",
    "comments_in_payload": "comments in the payload",
    "owner_follower_count": "followers",
}
_AXIS_NAMES = {"owner_username": "Account", "owner_id": "Account id"}
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
# No creation dates in SVG and PDF, so saving the same figure twice gives the same bytes.
_METADATA: dict[str, dict[str, Any]] = {
    "png": {},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None},
}
_PNG_DPI = 300
_NOTE_GID, _GUIDE_GID = "igresearch-note", "igresearch-guide"
_OWN_FIGURE = "igresearch-figure"
_NOTE_WIDTH = 95  # characters per line of the note: about a new figure's width at 9 pt
_CHARS_PER_INCH = 16  # of the note's 9 pt text, roughly
# Removed from data labels: the control characters of igresearch.controls (which XML, hence SVG,
# does not allow, or which reorder a label), lone surrogates and U+FFFE/U+FFFF (not in XML).
_UNDRAWABLE = re.compile(f"[\x00-\x1f{ABOVE_C0}\ud800-\udfff\ufffe\uffff]")
# Outside the axes (constrained layout makes room for it), so it never covers a point.
_LEGEND: dict[str, Any] = {"fontsize": _NOTE_PT, "frameon": False, "borderaxespad": 0.0}
_LABEL_GAP_PT = 3  # between the axes and a guide line's label outside them


def ratio_scatter(
    media: pl.DataFrame,
    *,
    x: str = "play_count",
    y: str = "like_count",
    ax: Axes | None = None,
    guides: Sequence[float] = (0.01, 0.05, 0.10),
) -> Axes:
    """One count against another on log-log axes, with iso-ratio guide lines.

    Each reel (its newest snapshot) is a point at (``x``, ``y``). A dashed grey guide line
    ``y = r * x`` is drawn for each ratio ``r`` in ``guides`` and labelled with it as a
    percentage ("1%") just outside the axes, where the line leaves them (at the top or the
    right), so points above the 5% line have more than 5 likes per 100 plays. Reels with a
    null or zero ``x`` or ``y`` cannot sit on a log axis: they are left out and counted in the
    note. As in :mod:`igresearch.metrics`, ``like_count`` counts as null when ``likes_hidden``
    is true.

    Parameters
    ----------
    media
        The media table.
    x, y
        Count columns for the horizontal and vertical axes.
    ax
        Axes to draw on; a new figure when None.
    guides
        Ratios ``y / x`` to draw guide lines for.

    Returns
    -------
    Axes
        The points are ``ax.collections[0]``, the guide lines ``ax.lines`` (each labelled
        with its percentage); the labels are in ``ax.texts``, placed at the end of their line.

    Raises
    ------
    ValueError
        If ``x`` or ``y`` is not a column of ``media``.
    """
    _require_columns(media, {"x": x, "y": y})
    reels, shown = _positive(media, x, y)
    with _style():
        ax = _axes(ax)
        xs, ys = _floats(shown[x]), _floats(shown[y])
        ax.scatter(xs, ys, s=16, color=_BLUE, alpha=0.7, edgecolors="none", zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log(ax.xaxis)
        _plain_log(ax.yaxis)
        if shown.height:
            _guide_lines(ax, guides)
        else:
            _empty_log_view(ax)
        ax.set_xlabel(f"{_count_label(x)} (count, log scale)", fontsize=_LABEL_PT)
        ax.set_ylabel(f"{_count_label(y)} (count, log scale)", fontsize=_LABEL_PT)
        reason = f"without {_count_noun(x)} or {_count_noun(y)}"
        _note(ax, shown, left_out=reels.height - shown.height, reason=reason)
        _finish(ax)
    return ax


def rate_distribution(
    media: pl.DataFrame,
    *,
    rate: str = "like_rate",
    by: str = "owner_username",
    ax: Axes | None = None,
    seed: int = 0,
) -> Axes:
    """A rate's distribution per group (per account by default): box plus jittered points.

    One horizontal box per group (median, quartiles, whiskers to the furthest point within 1.5
    IQR; no separate outlier markers since every reel is drawn as a point), groups sorted by
    name from the top. The points are jittered vertically by a random draw from
    ``numpy.random.default_rng(seed)``, so the figure is the same every time. Reels with a
    null rate are left out and counted in the note.

    Parameters
    ----------
    media
        The media table.
    rate
        A name in :data:`igresearch.metrics.RATES`.
    by
        The column to group by; a null value forms the group "(none)".
    ax
        Axes to draw on; a new figure (taller when there are many groups) when None.
    seed
        Seed of the jitter.

    Returns
    -------
    Axes
        The points are ``ax.collections[0]``, in group order, each group in input order.

    Raises
    ------
    ValueError
        If ``rate`` is not a known rate or ``by`` not a column.
    """
    _check_rate(rate)
    _require_columns(media, {"by": by})
    reels, rated = _rated(media, rate)
    rated = rated.with_columns(_group_label(by))
    groups = sorted(set(rated["_group"].to_list()))
    values = [_floats(rated.filter(pl.col("_group") == group)[rate]) for group in groups]
    with _style():
        ax = _axes(ax, height=_height_for(len(groups)))
        positions = np.arange(len(groups), dtype=float)
        if groups:
            ax.boxplot(
                values,
                positions=positions,
                orientation="horizontal",
                widths=0.55,
                showfliers=False,
                manage_ticks=False,
                medianprops={"color": _VERMILLION, "linewidth": 1.6},
                boxprops={"color": "0.2"},
                whiskerprops={"color": "0.2"},
                capprops={"color": "0.2"},
            )
        xs = np.concatenate(values) if values else np.empty(0)
        jitter = np.random.default_rng(seed).uniform(-0.18, 0.18, len(xs))
        ys = np.repeat(positions, [len(v) for v in values]) + jitter
        ax.scatter(xs, ys, s=14, color=_BLUE, alpha=0.6, edgecolors="none", zorder=3)
        ax.set_yticks(positions, [_plain(group) for group in groups])
        ax.set_ylim(max(len(groups), 1) - 0.5, -0.5)
        _percent_axis(ax.xaxis)
        ax.set_xlabel(_RATE_LABELS[rate], fontsize=_LABEL_PT)
        ax.set_ylabel(_axis_name(by), fontsize=_LABEL_PT)
        left_out = reels.height - rated.height
        _note(ax, rated, left_out=left_out, reason=f"without {_RATE_NOUNS[rate]}")
        _finish(ax)
    return ax


def owner_comparison(
    media: pl.DataFrame,
    *,
    rate: str = "engagement_rate",
    ax: Axes | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> Axes:
    """Each account's median rate with a bootstrap 95% confidence interval, sorted by median.

    For each account (``owner_username``) with ``k`` reels that have the rate, the interval is
    the 2.5th to 97.5th percentile of the medians of ``n_boot`` resamples of its ``k`` values,
    drawn with replacement from ``numpy.random.default_rng(seed)`` (accounts resampled in
    alphabetical order from that one generator), so the same seed gives the same figure. An
    account with one reel gets a zero-width interval. The highest median is at the top; tick
    labels give each account's ``k``.

    Parameters
    ----------
    media
        The media table.
    rate
        A name in :data:`igresearch.metrics.RATES`.
    ax
        Axes to draw on; a new figure (taller when there are many accounts) when None.
    n_boot
        Bootstrap resamples per account.
    seed
        Seed of the bootstrap.

    Returns
    -------
    Axes
        ``ax.containers[0]`` is the errorbar: its ``lines[0]`` holds the medians (x) and its
        ``lines[2][0]`` the interval segments.

    Raises
    ------
    ValueError
        If ``rate`` is not a known rate or ``n_boot`` < 1.
    """
    _check_rate(rate)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, not {n_boot}.")
    reels, rated = _rated(media, rate)
    rated = rated.with_columns(_group_label("owner_username"))
    rng = np.random.default_rng(seed)
    rows = []
    for account in sorted(set(rated["_group"].to_list())):
        values = _floats(rated.filter(pl.col("_group") == account)[rate])
        low, high = _median_ci(values, n_boot=n_boot, rng=rng)
        rows.append((account, float(np.median(values)), low, high, len(values)))
    rows.sort(key=lambda row: (-row[1], row[0]))
    with _style():
        ax = _axes(ax, height=_height_for(len(rows)))
        positions = np.arange(len(rows), dtype=float)
        medians = np.array([row[1] for row in rows])
        lows = np.array([row[2] for row in rows])
        highs = np.array([row[3] for row in rows])
        ax.errorbar(
            medians,
            positions,
            xerr=np.vstack([medians - lows, highs - medians]) if rows else None,
            fmt="o",
            color=_BLUE,
            ecolor="0.3",
            elinewidth=1.2,
            capsize=3,
            markersize=5,
            zorder=3,
        )
        ax.set_yticks(positions, [f"{_plain(row[0])} (n = {row[4]})" for row in rows])
        ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        _percent_axis(ax.xaxis)
        ax.grid(axis="x", color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_xlabel(
            f"Median {_RATE_LABELS[rate][0].lower()}{_RATE_LABELS[rate][1:]}", fontsize=_LABEL_PT
        )
        ax.set_ylabel("Account", fontsize=_LABEL_PT)
        _note(
            ax,
            rated,
            left_out=reels.height - rated.height,
            reason=f"without {_RATE_NOUNS[rate]}",
            extra=f"bars: 95% bootstrap CI of the median ({n_boot} resamples)",
        )
        _finish(ax)
    return ax


def engagement_over_time(
    media: pl.DataFrame,
    *,
    rate: str = "engagement_rate",
    ax: Axes | None = None,
    window: int = 7,
) -> Axes:
    """A rate against the time each reel was posted, with a rolling median line.

    Each reel (its newest snapshot) is a point at (``taken_at``, rate). The line is the
    centred rolling median over ``window`` consecutive reels in posting order (drawn when
    there are at least ``window`` reels; ``window`` < 2 draws none), named in a legend above the
    axes. Reels with a null rate or posting time are left out and counted in the note.

    Parameters
    ----------
    media
        The media table.
    rate
        A name in :data:`igresearch.metrics.RATES`.
    ax
        Axes to draw on; a new figure when None.
    window
        Reels per rolling median.

    Returns
    -------
    Axes
        The points are ``ax.collections[0]`` (x in matplotlib date numbers, UTC), the rolling
        median ``ax.lines[0]`` when drawn.

    Raises
    ------
    ValueError
        If ``rate`` is not a known rate.
    """
    _check_rate(rate)
    reels, shown = _dated(media, rate)
    with _style():
        ax = _axes(ax)
        ax.xaxis_date()  # concise date ticks, from the style's date.converter
        days = _dates(shown["taken_at"])
        ax.scatter(
            days,
            _floats(shown[rate]),
            s=16,
            color=_BLUE,
            alpha=0.6,
            edgecolors="none",
            zorder=3,
        )
        if window >= 2 and shown.height >= window:
            rolling = shown.select(
                pl.col(rate).rolling_median(window, center=True, min_samples=window // 2 + 1)
            )[rate]
            ax.plot(
                days,
                _floats(rolling.fill_null(float("nan"))),
                color=_VERMILLION,
                linewidth=1.8,
                label=f"rolling median of {window} reels",
                zorder=4,
            )
            # above the axes, left: one entry, off the data
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), **_LEGEND)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        if len(days) and days.max() - days.min() < _DAY:  # one day's posts: a day, not years
            middle = days.min() + (days.max() - days.min()) / 2
            ax.set_xlim(middle - _HALF_DAY, middle + _HALF_DAY)
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        # The offset names the year only: "2026-Mar" under a Jan-Mar axis would mislead.
        ax.xaxis.set_major_formatter(
            mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
                locator, offset_formats=["", "%Y", "%Y", "%Y", "%Y", "%Y"]
            )
        )
        ax.set_xlabel("Posted (date, UTC)", fontsize=_LABEL_PT)
        ax.set_ylabel(_RATE_LABELS[rate], fontsize=_LABEL_PT)
        reason = f"without {_RATE_NOUNS[rate]} or posting time"
        _note(ax, shown, left_out=reels.height - shown.height, reason=reason)
        _finish(ax)
    return ax


def growth_curves(media: pl.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Plays against hours since posting, one line per reel fetched at least twice.

    Uses every snapshot (row) of a reel: x is ``(fetched_at - taken_at)`` in hours, y its
    ``play_count`` (log scale). Snapshots without a fetch or posting time or without plays are
    left out; a reel left with fewer than two snapshots has no line and is counted in the note.
    Lines are labelled by shortcode in a legend to the right of the axes when there are at most
    8 of them.

    Parameters
    ----------
    media
        The media table with several snapshots of some reels.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    Axes
        One line in ``ax.lines`` per reel, its points in fetch order, labelled with its
        shortcode (its media id when the shortcode is null).
    """
    curves = _curves(media)
    reel_ids = curves["media_id"].unique(maintain_order=True).to_list()
    total = media.filter(pl.col("media_id").is_not_null())["media_id"].n_unique()
    with _style():
        ax = _axes(ax)
        for index, media_id in enumerate(reel_ids):
            reel = curves.filter(pl.col("media_id") == media_id)
            label = reel["shortcode"].drop_nulls().last() or media_id
            ax.plot(
                _floats(reel["_hours"]),
                _floats(reel["play_count"]),
                marker="o",
                markersize=3.5,
                linewidth=1.4,
                # explicit: a caller's axes keep the colour cycle they were created with
                color=_CYCLE[index % len(_CYCLE)],
                label=_plain(str(label)),
            )
        ax.set_yscale("log")
        _plain_log(ax.yaxis)
        _plain_linear(ax.xaxis)
        if not reel_ids:
            _empty_log_view(ax)
        if 0 < len(reel_ids) <= 8:
            ax.legend(
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                title="Reel",
                title_fontsize=_NOTE_PT,
                alignment="left",
                **_LEGEND,
            )
        ax.set_xlabel("Time since posting (hours)", fontsize=_LABEL_PT)
        ax.set_ylabel("Plays (count, log scale)", fontsize=_LABEL_PT)
        _note(
            ax,
            curves.unique("media_id"),
            left_out=total - len(reel_ids),
            reason="with fewer than 2 snapshots",
            noun="reels with ≥ 2 snapshots",
        )
        _finish(ax)
    return ax


def save_figure(
    fig: Figure | SubFigure, path: str | os.PathLike[str], *, private: bool = True
) -> Path:
    """Save ``fig`` as PNG (300 dpi), SVG or PDF, chosen by the extension of ``path``.

    The parent directories are created, and the file is written to a temporary name in the
    same directory and renamed, so a reader never sees a half-written figure. SVG and PDF
    carry no creation date, so the same figure gives the same bytes.

    Parameters
    ----------
    fig
        The figure, e.g. ``ax.figure`` of an Axes returned by this module; for a subfigure,
        the whole figure it belongs to is saved.
    path
        Where to write: ``.png``, ``.svg`` or ``.pdf`` (any case).
    private
        Create the file 0600 (new folders 0700), as a figure of identified data; ``False`` for
        a pseudonymised one, which then follows the umask.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the extension is not one of those.
    """
    target = Path(path)
    extension = target.suffix.lower()
    if extension not in _FORMATS:
        shown = repr(extension) if extension else "no extension"
        raise ValueError(f"Cannot save a figure with {shown} ({target}): use .png, .svg or .pdf.")
    fmt = _FORMATS[extension]
    with (
        atomic_path(target, private=private) as temporary,
        mpl.rc_context({"svg.hashsalt": "igresearch"}),
    ):
        fig.get_figure(root=True).savefig(
            temporary, format=fmt, dpi=_PNG_DPI, metadata=_METADATA[fmt]
        )
    return target


#: The figures by name, as the command line's ``plot --kind`` knows them.
KINDS: dict[str, Callable[..., Axes]] = {
    "scatter": ratio_scatter,
    "distribution": rate_distribution,
    "owners": owner_comparison,
    "time": engagement_over_time,
    "growth": growth_curves,
}

#: The kinds that show one rate, chosen with :func:`draw`'s `rate` (the command line's --metric).
RATE_KINDS = ("distribution", "owners", "time")


def unused_rate(kind: str, *, option: str = "rate", kind_option: str = "kind") -> str:
    """The sentence refusing a rate for figure `kind`, which shows none.

    One sentence for :func:`draw` and for ``igresearch plot``, which names its own options
    (``option="--metric", kind_option="--kind"``).

    Examples
    --------
    >>> from igresearch.plots import unused_rate
    >>> print(unused_rate("growth", option="--metric", kind_option="--kind"))
    ... # doctest: +NORMALIZE_WHITESPACE
    --metric is not used by --kind growth: only by distribution, owners, time.
    Drop --metric, or choose one of those kinds.
    """
    return (
        f"{option} is not used by {kind_option} {kind}: only by {', '.join(RATE_KINDS)}. "
        f"Drop {option}, or choose one of those kinds."
    )


def missing_data(kind: str, media: pl.DataFrame, *, rate: str | None = None) -> str | None:
    """Why figure `kind` of `media` would show no data, or None when it shows some.

    `rate` as in :func:`draw`. The reason is a short clause, for "Nothing to draw: ..." or a
    report's "The growth figure is left out: ...".

    Raises
    ------
    ValueError
        If `kind` or `rate` is unknown.

    Examples
    --------
    >>> import polars as pl
    >>> from igresearch.plots import missing_data
    >>> from igresearch.schema import MEDIA_SCHEMA
    >>> one_snapshot = pl.DataFrame(
    ...     [{"media_id": "1", "play_count": 100, "like_count": 5}], schema=MEDIA_SCHEMA
    ... )
    >>> missing_data("scatter", one_snapshot) is None
    True
    >>> missing_data("growth", one_snapshot)
    'no reel has plays in two snapshots (collect again with --refresh-older-than to add one)'
    """
    _check_kind(kind)
    if kind == "scatter":
        if _positive(media, "play_count", "like_count")[1].is_empty():
            return "no reel has both plays and likes"
        return None
    if kind == "growth":
        if _curves(media).is_empty():
            return (
                "no reel has plays in two snapshots "
                "(collect again with --refresh-older-than to add one)"
            )
        return None
    if rate is None:
        rate = inspect.signature(KINDS[kind]).parameters["rate"].default
    _check_rate(rate)
    if kind == "time":
        if _dated(media, rate)[1].is_empty():
            return f"no reel has {_RATE_NOUNS[rate]} and a posting time"
        return None
    if _rated(media, rate)[1].is_empty():
        return f"no reel has {_RATE_NOUNS[rate]}"
    return None


def draw(kind: str, media: pl.DataFrame, *, rate: str | None = None) -> Axes:
    """Draw figure `kind` (a key of :data:`KINDS`) on a new figure.

    `rate` is for the kinds that show one (:data:`RATE_KINDS`: distribution, owners, time);
    left out, each draws its own default (like_rate for distribution, engagement_rate for
    owners and time).

    Raises
    ------
    EmptyFigureError
        If the figure would show no data (:func:`missing_data` says why).
    ValueError
        If `kind` or `rate` is unknown, or `rate` is given for a kind that shows none
        (:func:`unused_rate` words it).

    Examples
    --------
    >>> import polars as pl
    >>> from igresearch.plots import draw
    >>> from igresearch.schema import MEDIA_SCHEMA
    >>> draw("scatter", pl.DataFrame(schema=MEDIA_SCHEMA), rate="like_rate")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: rate is not used by kind scatter: only by distribution, owners, time. Drop ...
    """
    _check_kind(kind)
    if rate is not None and kind not in RATE_KINDS:
        raise ValueError(unused_rate(kind))
    reason = missing_data(kind, media, rate=rate)
    if reason:
        raise EmptyFigureError(f"Nothing to draw in the {kind} figure: {reason}.")
    options: dict[str, Any] = {} if rate is None else {"rate": rate}
    axes: Axes = KINDS[kind](media, **options)
    return axes


def save_all(
    media: pl.DataFrame,
    folder: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("png",),
    private: bool = True,
) -> list[Path]:
    """Draw every kind of figure and save each as ``folder/<kind>.<format>`` (see
    :func:`save_figure` for `private`); a kind with no data to show is left out
    (:func:`missing_data` says why)."""
    paths = []
    for kind in KINDS:
        try:
            axes = draw(kind, media)
        except EmptyFigureError:
            continue
        for fmt in formats:
            path = Path(folder) / f"{kind}.{fmt}"
            paths.append(save_figure(axes.figure, path, private=private))
        plt.close(axes.figure.get_figure(root=True))
    return paths


@contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(
        {
            "font.size": _TICK_PT,
            "axes.prop_cycle": cycler(color=_CYCLE),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "date.converter": "concise",
        }
    ):
        yield


def _axes(ax: Axes | None, *, height: float = FIGSIZE[1]) -> Axes:
    if ax is not None:
        return ax
    figure = plt.figure(figsize=(FIGSIZE[0], height), layout="constrained")
    figure.set_gid(_OWN_FIGURE)
    return figure.add_subplot()


def _finish(ax: Axes) -> None:
    """Explicit sizes, so ticks made at draw time (after the rc context) look the same."""
    ax.tick_params(labelsize=_TICK_PT)


def _plain_log(axis: Any) -> None:
    """Counts on a log axis as 1, 10, 100, 1k, 10k, 1M (minor ticks too, when labelled)."""
    axis.set_major_formatter(_CountFormatter())
    axis.set_minor_formatter(_CountFormatter(labelOnlyBase=False))


def _plain_linear(axis: Any) -> None:
    """Numbers on a linear axis written out: no offset (+1.2e4) and no x1eN multiplier."""
    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    axis.set_major_formatter(formatter)


def _percent_axis(axis: Any) -> None:
    """A rate axis in percent with at most six ticks, so that its labels never run together."""
    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(PercentFormatter(1.0))


class _CountFormatter(LogFormatter):
    """matplotlib's choice of which log ticks get a label, each written as :func:`_count`."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return _count(x) if super().__call__(x, pos) else ""


def _count(value: float) -> str:
    """A tick value with a k, M or B suffix: 1, 10, 100, 1k, 12.5k, 1M, 2B.

    >>> from igresearch.plots import _count
    >>> [_count(v) for v in (0.5, 1, 100, 1000, 12_500, 1e6, 2e9)]
    ['0.5', '1', '100', '1k', '12.5k', '1M', '2B']
    """
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _height_for(groups: int) -> float:
    return max(FIGSIZE[1], 1.4 + 0.28 * groups)


def _note(
    ax: Axes,
    shown: pl.DataFrame,
    *,
    left_out: int,
    reason: str,
    noun: str = "reels",
    extra: str = "",
) -> None:
    """The note above the top right corner: n drawn, n left out and why, posting dates."""
    if shown.height == 1:
        noun = noun.replace("reels", "reel", 1)
    parts = [
        f"n = {shown.height} {noun}" + (f" ({left_out} {reason} left out)" if left_out else "")
    ]
    taken = shown["taken_at"].drop_nulls() if "taken_at" in shown.columns else pl.Series([])
    if len(taken):
        first, last = _day(taken.min()), _day(taken.max())
        parts.append(f"posted {first}" if first == last else f"posted {first} to {last}")
    if extra:
        parts.append(extra)
    own = ax.figure.get_gid() == _OWN_FIGURE
    if own:
        width = _NOTE_WIDTH
    else:
        inches = ax.get_position().width * ax.figure.get_figure(root=True).get_figwidth()
        width = max(30, int(inches * _CHARS_PER_INCH))
    text = _wrap(parts, width)
    # On a figure of our own the note is its suptitle, which constrained layout makes room
    # for and which may span the figure's width (long tick labels can make the axes narrow);
    # on a caller's axes it stays above them.
    if own:
        note = ax.figure.suptitle(text, x=0.99, ha="right", fontsize=_NOTE_PT, color=_GREY)
        note.set_gid(_NOTE_GID)
        return
    ax.annotate(
        text,
        xy=(1.0, 1.0),
        xycoords="axes fraction",
        xytext=(0, 6),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=_NOTE_PT,
        color=_GREY,
        gid=_NOTE_GID,
    )


def _plain(label: str) -> str:
    """A data label (a username, a shortcode) as matplotlib draws it literally: line breaks
    and tabs become spaces, the other :data:`_UNDRAWABLE` characters are removed, and every
    ``$`` is escaped, so no mathtext is parsed (matplotlib draws ``\\$`` as ``$``).

    >>> from igresearch.plots import _plain
    >>> _plain("a$b $x^2$\\x1b[2J\\n\\u202eé")
    'a\\\\$b \\\\$x^2\\\\$[2J é'
    """
    spaced = re.sub("[\t\n\r]", " ", label)
    return _UNDRAWABLE.sub("", spaced).replace("$", r"\$")


def _wrap(parts: list[str], width: int) -> str:
    """Join parts with " · ", starting a new line instead when a line would pass width."""
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def _day(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else str(value)


def _guide_lines(ax: Axes, ratios: Sequence[float]) -> None:
    """Lines y = r x across the current (log-log) view, each labelled where it leaves the view.

    The label's anchor is the line's last point in view, on the top or the right edge; the
    text stands just outside the axes from there (above, or to the right), so it names its
    line without covering a point.
    """
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    figure = ax.figure.get_figure(root=True)
    above = mtransforms.offset_copy(ax.transData, figure, y=_LABEL_GAP_PT, units="points")
    beside = mtransforms.offset_copy(ax.transData, figure, x=_LABEL_GAP_PT, units="points")
    for ratio in ratios:
        ax.plot(
            [x0, x1],
            [ratio * x0, ratio * x1],
            linestyle="--",
            linewidth=0.9,
            color="0.55",
            zorder=1,
            label=_percent(ratio),
            gid=_GUIDE_GID,
        )
        start, end = max(x0, y0 / ratio), min(x1, y1 / ratio)
        if start >= end:
            continue  # the line is outside the view
        top = end < x1  # it leaves through the top edge, else through the right one
        ax.text(
            end,
            ratio * end,
            _percent(ratio),
            transform=above if top else beside,
            ha="center" if top else "left",
            va="bottom" if top else "center",
            fontsize=_NOTE_PT,
            color=_GREY,
            clip_on=False,
            gid=_GUIDE_GID,
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _empty_log_view(ax: Axes) -> None:
    """Limits a log axis can draw when there is no data (the default (0, 1) cannot)."""
    if ax.get_xscale() == "log":
        ax.set_xlim(1, 10)
    if ax.get_yscale() == "log":
        ax.set_ylim(1, 10)


def _positive(media: pl.DataFrame, x: str, y: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The newest snapshot of each reel, and those with ``x`` and ``y`` above 0 (a log axis)."""
    reels = latest(media).with_columns(_hide_likes(x), _hide_likes(y))
    return reels, reels.filter((pl.col(x) > 0) & (pl.col(y) > 0))


def _rated(media: pl.DataFrame, rate: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The newest snapshot of each reel with its rates, and those with `rate`."""
    reels = with_rates(latest(media))
    return reels, reels.filter(pl.col(rate).is_not_null())


def _dated(media: pl.DataFrame, rate: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """As :func:`_rated`, also with a posting time, in posting order."""
    reels, rated = _rated(media, rate)
    shown = rated.filter(pl.col("taken_at").is_not_null())
    return reels, shown.sort("taken_at", maintain_order=True)


def _curves(media: pl.DataFrame) -> pl.DataFrame:
    """The snapshots of growth curves: those with plays and both times, of reels that keep at
    least two, with ``_hours`` since posting, in input order of reels then fetch order."""
    drawable = media.filter(
        pl.col("fetched_at").is_not_null()
        & pl.col("taken_at").is_not_null()
        & (pl.col("play_count") > 0)
    )
    usable = snapshots(
        # a reel's first row in the input, so lines (and colours) follow the input's order
        drawable.with_row_index("_first").with_columns(pl.col("_first").min().over("media_id"))
    ).with_columns(
        ((pl.col("fetched_at") - pl.col("taken_at")).dt.total_microseconds() / 3.6e9).alias(
            "_hours"
        ),
        pl.len().over("media_id").alias("_snapshots"),
    )
    return usable.filter(pl.col("_snapshots") >= 2).sort(["_first", "fetched_at"])


def _median_ci(
    values: npt.NDArray[np.float64], *, n_boot: int, rng: np.random.Generator
) -> tuple[float, float]:
    """2.5th and 97.5th percentiles of the medians of n_boot resamples with replacement."""
    picks = rng.integers(0, len(values), size=(n_boot, len(values)))
    medians = np.median(values[picks], axis=1)
    low, high = np.quantile(medians, [0.025, 0.975])
    return float(low), float(high)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown figure kind {kind!r}: use one of {', '.join(KINDS)}.")


def _check_rate(rate: str) -> None:
    if rate not in RATES:
        raise ValueError(f"Unknown rate {rate!r}: use one of {', '.join(RATES)}.")


def _require_columns(media: pl.DataFrame, columns: dict[str, str]) -> None:
    for argument, column in columns.items():
        if column not in media.columns:
            raise ValueError(
                f"{argument}={column!r} is not a column of the media table; "
                f"use one of {', '.join(media.columns)}."
            )


def _hide_likes(column: str) -> pl.Expr:
    return visible_likes() if column == "like_count" else pl.col(column)


def _group_label(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).fill_null("(none)").alias("_group")


def _floats(series: pl.Series) -> npt.NDArray[np.float64]:
    return series.cast(pl.Float64).to_numpy().astype(np.float64, copy=False)


_DAY, _HALF_DAY = np.timedelta64(1, "D"), np.timedelta64(12, "h")


def _dates(series: pl.Series) -> npt.NDArray[np.datetime64]:
    """UTC times as naive numpy datetimes, which matplotlib reads as UTC."""
    return series.dt.replace_time_zone(None).to_numpy()


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def _count_noun(column: str) -> str:
    return _COUNT_NOUNS.get(column, column)


def _count_label(column: str) -> str:
    noun = _count_noun(column)
    return noun[0].upper() + noun[1:]


def _axis_name(column: str) -> str:
    return _AXIS_NAMES.get(column, column)
