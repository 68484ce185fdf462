"""What the figures draw: the plotted data, scales, guide lines, notes and formatters, and the
files save_figure writes."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.ticker import PercentFormatter
from PIL import Image

from igresearch import plots
from igresearch.errors import EmptyFigureError
from igresearch.metrics import RATES
from igresearch.schema import MEDIA_SCHEMA

T0 = datetime(2025, 1, 2, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def media(*rows: dict[str, Any]) -> pl.DataFrame:
    """A media table from partial rows: every column the row does not give is null."""
    return pl.DataFrame(
        [{name: row.get(name) for name in MEDIA_SCHEMA} for row in rows], schema=MEDIA_SCHEMA
    )


def reel(
    media_id: str, owner: str, plays: int | None, likes: int | None, **more: Any
) -> dict[str, Any]:
    return {
        "media_id": media_id,
        "shortcode": f"S{media_id}",
        "owner_username": owner,
        "play_count": plays,
        "like_count": likes,
        "likes_hidden": likes is None,
        "comment_count": 10,
        "taken_at": T0 + timedelta(days=int(media_id)),
        "fetched_at": T0 + timedelta(days=30),
        **more,
    }


def sample() -> pl.DataFrame:
    """Six reels by three accounts, plus an older snapshot of reel 1.

    Reel 4 has no plays, reel 5 hidden likes, reel 6 zero likes: the last three cannot be drawn
    on log axes; 4 and 5 have no like rate.
    """
    return media(
        reel("1", "bob", 1000, 30, fetched_at=T0 + timedelta(days=2)),  # older, replaced below
        reel("1", "bob", 2000, 100),
        reel("2", "amy", 10_000, 200),
        reel("3", "amy", 400, 40),
        reel("4", "cat", None, 5),
        reel("5", "cat", 5000, None),
        reel("6", "cat", 300, 0),
        reel("7", "bob", 50_000, 1500),
    )


def note(ax: Axes) -> str:
    texts = [*ax.texts, *ax.figure.texts]
    [found] = [t.get_text() for t in texts if t.get_gid() == "igresearch-note"]
    return found


def offsets(ax: Axes, index: int = 0) -> np.ndarray[Any, Any]:
    return np.asarray(ax.collections[index].get_offsets())


# Importing igresearch (and igresearch.metrics) without matplotlib is checked in test_package.py.


# --- ratio_scatter -----------------------------------------------------------------------------


def test_ratio_scatter_plots_input_values_on_log_axes() -> None:
    ax = plots.ratio_scatter(sample())
    # newest snapshot of each reel, in input order; reels 4, 5 and 6 left out
    np.testing.assert_array_equal(
        offsets(ax), [[2000, 100], [10_000, 200], [400, 40], [50_000, 1500]]
    )
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Plays (count, log scale)"
    assert ax.get_ylabel() == "Likes (count, log scale)"


def test_ratio_scatter_guide_lines_and_labels() -> None:
    ax = plots.ratio_scatter(sample())
    guides = [line for line in ax.lines if line.get_gid() == "igresearch-guide"]
    assert [line.get_label() for line in guides] == ["1%", "5%", "10%"]
    for line, ratio in zip(guides, (0.01, 0.05, 0.10), strict=True):
        xs, ys = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        np.testing.assert_allclose(ys / xs, ratio)
        # the line spans the whole horizontal view
        np.testing.assert_allclose([xs.min(), xs.max()], ax.get_xlim())
    labels = [t for t in ax.texts if t.get_gid() == "igresearch-guide"]
    assert [t.get_text() for t in labels] == ["1%", "5%", "10%"]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    ax.figure.canvas.draw()
    box = ax.get_window_extent()
    for label, ratio in zip(labels, (0.01, 0.05, 0.10), strict=True):
        x, y = label.get_position()
        assert y == pytest.approx(ratio * x)  # on its line
        assert x0 < x <= x1 and y0 < y <= y1  # in view
        # issue 13, item 8: at the end of the line in view, the text outside the axes
        assert x == pytest.approx(min(x1, y1 / ratio))
        text = label.get_window_extent()
        assert text.y0 >= box.y1 if x < x1 else text.x0 >= box.x1
    # in sample(), 1% leaves through the right edge, 5% and 10% through the top
    assert [t.get_position()[0] < x1 for t in labels] == [False, True, True]


def test_ratio_scatter_note_counts_left_out_rows_and_dates() -> None:
    ax = plots.ratio_scatter(sample())
    assert note(ax) == (
        "n = 4 reels (3 without plays or likes left out) · posted 2025-01-03 to 2025-01-09"
    )


def test_ratio_scatter_leaves_out_likes_marked_hidden() -> None:
    frame = media(reel("1", "a", 1000, 10), reel("2", "a", 1000, 20, likes_hidden=True))
    ax = plots.ratio_scatter(frame)
    np.testing.assert_array_equal(offsets(ax), [[1000, 10]])
    assert "(1 without plays or likes left out)" in note(ax)


def test_ratio_scatter_other_columns_and_custom_guides() -> None:
    frame = media(reel("1", "a", 1000, 10, owner_follower_count=500), reel("2", "a", 10, 1))
    ax = plots.ratio_scatter(frame, x="owner_follower_count", y="play_count", guides=(2.0,))
    np.testing.assert_array_equal(offsets(ax), [[500, 1000]])
    assert ax.get_xlabel() == "Followers (count, log scale)"
    assert [t.get_text() for t in ax.texts if t.get_gid() == "igresearch-guide"] == ["200%"]
    assert "(1 without followers or plays left out)" in note(ax)


def test_ratio_scatter_rejects_unknown_column() -> None:
    with pytest.raises(ValueError, match="x='plays' is not a column of the media table"):
        plots.ratio_scatter(sample(), x="plays")


# --- rate_distribution -------------------------------------------------------------------------


def test_rate_distribution_points_boxes_and_labels() -> None:
    ax = plots.rate_distribution(sample())
    # groups sorted by name, top to bottom: amy (reels 2, 3), bob (1, 7), cat (6)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["amy", "bob", "cat"]
    assert ax.get_ylim() == (2.5, -0.5)
    points = offsets(ax)
    np.testing.assert_allclose(points[:, 0], [0.02, 0.1, 0.05, 0.03, 0.0])
    groups = np.array([0, 0, 1, 1, 2])
    assert np.all(np.abs(points[:, 1] - groups) <= 0.18)
    assert np.any(points[:, 1] != groups)  # jittered
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    assert ax.get_xlabel() == "Like rate (% of plays)"
    assert ax.get_ylabel() == "Account"
    # one median line per box, at each group's median like rate
    medians = [line for line in ax.lines if line.get_color() == plots.OKABE_ITO[6]]
    assert [
        float(np.mean(np.asarray(line.get_xdata(), dtype=float))) for line in medians
    ] == pytest.approx([0.06, 0.04, 0.0])
    assert note(ax).startswith("n = 5 reels (2 without a like rate left out) · posted ")


def test_rate_distribution_jitter_is_reproducible() -> None:
    first = offsets(plots.rate_distribution(sample()))
    again = offsets(plots.rate_distribution(sample()))
    other = offsets(plots.rate_distribution(sample(), seed=1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[:, 1], other[:, 1])


def test_rate_distribution_other_rate_and_grouping() -> None:
    ax = plots.rate_distribution(sample(), rate="comment_rate", by="owner_id")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["(none)"]
    np.testing.assert_allclose(
        np.sort(offsets(ax)[:, 0]),
        np.sort([10 / p for p in (2000, 10_000, 400, 5000, 300, 50_000)]),
    )
    assert ax.get_ylabel() == "Account id"


def test_unknown_rate_lists_valid_names() -> None:
    for plot in (plots.rate_distribution, plots.owner_comparison, plots.engagement_over_time):
        with pytest.raises(ValueError, match="Unknown rate 'likes'") as error:
            plot(sample(), rate="likes")
        assert all(name in str(error.value) for name in RATES)


# --- owner_comparison --------------------------------------------------------------------------


def errorbar_data(ax: Axes) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    container = ax.containers[0]
    assert isinstance(container, ErrorbarContainer)
    medians = np.asarray(container.lines[0].get_xdata())
    segments = np.asarray(container.lines[2][0].get_segments())
    return medians, segments[:, :, 0]  # each row: (low, high)


def comparison_media() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    rows: list[dict[str, Any]] = []
    for owner, level in (("amy", 0.02), ("bob", 0.08), ("cat", 0.05)):
        for _ in range(9):
            plays = 10_000
            rows.append(
                reel(str(len(rows) + 1), owner, plays, int(plays * level * rng.uniform(0.5, 1.5)))
            )
    return media(*rows)


def test_owner_comparison_medians_sorted_with_bootstrap_ci() -> None:
    frame = comparison_media()
    ax = plots.owner_comparison(frame, rate="like_rate", n_boot=500, seed=3)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["bob (n = 9)", "cat (n = 9)", "amy (n = 9)"]  # highest median at the top
    medians, intervals = errorbar_data(ax)
    rng = np.random.default_rng(3)
    for owner in ("amy", "bob", "cat"):  # the generator is used in alphabetical order
        rates = frame.filter(pl.col("owner_username") == owner)["like_count"].to_numpy() / 10_000
        picks = rng.integers(0, len(rates), size=(500, len(rates)))
        low, high = np.quantile(np.median(rates[picks], axis=1), [0.025, 0.975])
        row = labels.index(f"{owner} (n = 9)")
        assert medians[row] == pytest.approx(np.median(rates))
        np.testing.assert_allclose(intervals[row], [low, high])
        assert low <= medians[row] <= high
    assert list(medians) == sorted(medians, reverse=True)
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    assert ax.get_xlabel() == "Median like rate (% of plays)"
    assert "95% bootstrap CI of the median (500 resamples)" in note(ax)


def test_owner_comparison_is_reproducible() -> None:
    first = errorbar_data(plots.owner_comparison(comparison_media(), seed=11))
    again = errorbar_data(plots.owner_comparison(comparison_media(), seed=11))
    other = errorbar_data(plots.owner_comparison(comparison_media(), seed=12))
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[0], other[0])  # medians do not depend on the seed
    assert not np.array_equal(first[1], other[1])


def test_owner_comparison_single_reel_has_zero_width_interval() -> None:
    ax = plots.owner_comparison(media(reel("1", "solo", 100, 5)), rate="like_rate")
    medians, intervals = errorbar_data(ax)
    assert medians.tolist() == [0.05]
    np.testing.assert_allclose(intervals, [[0.05, 0.05]])


def test_owner_comparison_rejects_no_resamples() -> None:
    with pytest.raises(ValueError, match="n_boot must be at least 1"):
        plots.owner_comparison(sample(), n_boot=0)


# --- engagement_over_time ----------------------------------------------------------------------


def test_engagement_over_time_points_and_rolling_median() -> None:
    frame = media(
        *(reel(str(day), "amy", 1000, 10 * day, comment_count=day) for day in range(9, 0, -1)),
        reel("10", "amy", None, 1),  # no plays: left out
        reel("11", "amy", 100, 1, taken_at=None),  # no posting time: left out
    )
    ax = plots.engagement_over_time(frame, window=3)
    points = offsets(ax)
    days = [T0 + timedelta(days=day) for day in range(1, 10)]  # sorted by posting time
    np.testing.assert_allclose(points[:, 0], mdates.date2num(days))  # type: ignore[no-untyped-call]
    np.testing.assert_allclose(points[:, 1], [11 * day / 1000 for day in range(1, 10)])
    [line] = ax.lines
    assert line.get_label() == "rolling median of 3 reels"
    # centred median of 3 of an increasing series: the middle value; ends from 2 values
    ys = np.asarray(line.get_ydata())
    np.testing.assert_allclose(ys[1:-1], [11 * day / 1000 for day in range(2, 9)])
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    assert ax.get_ylabel() == "Engagement rate (% of plays)"
    assert note(ax) == (
        "n = 9 reels (2 without an engagement rate or posting time left out)\n"
        "posted 2025-01-03 to 2025-01-11"
    )


def test_engagement_over_time_without_enough_reels_draws_no_line() -> None:
    ax = plots.engagement_over_time(sample())
    assert not ax.lines
    assert len(offsets(ax)) == 5


# --- growth_curves -----------------------------------------------------------------------------


def test_growth_curves_one_line_per_reel_with_snapshots() -> None:
    posted = T0
    frame = media(
        # reel 1: three snapshots, out of order, plus one without plays (left out)
        {"media_id": "1", "shortcode": "A", "taken_at": posted,
         "fetched_at": posted + timedelta(hours=5), "play_count": 300},
        {"media_id": "1", "shortcode": "A", "taken_at": posted,
         "fetched_at": posted + timedelta(hours=2), "play_count": 100},
        {"media_id": "1", "shortcode": "A", "taken_at": posted,
         "fetched_at": posted + timedelta(hours=30), "play_count": 900},
        {"media_id": "1", "shortcode": "A", "taken_at": posted,
         "fetched_at": posted + timedelta(hours=40), "play_count": None},
        # reel 2: two snapshots
        {"media_id": "2", "shortcode": "B", "taken_at": posted + timedelta(days=1),
         "fetched_at": posted + timedelta(days=1, minutes=30), "play_count": 50},
        {"media_id": "2", "shortcode": "B", "taken_at": posted + timedelta(days=1),
         "fetched_at": posted + timedelta(days=1, hours=3), "play_count": 70},
        # reel 3: one snapshot only
        {"media_id": "3", "shortcode": "C", "taken_at": posted,
         "fetched_at": posted + timedelta(hours=1), "play_count": 10},
    )  # fmt: skip
    ax = plots.growth_curves(frame)
    assert [line.get_label() for line in ax.lines] == ["A", "B"]
    first, second = ax.lines
    np.testing.assert_array_equal(first.get_xdata(), [2.0, 5.0, 30.0])
    np.testing.assert_array_equal(first.get_ydata(), [100.0, 300.0, 900.0])
    np.testing.assert_array_equal(second.get_xdata(), [0.5, 3.0])
    np.testing.assert_array_equal(second.get_ydata(), [50.0, 70.0])
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Time since posting (hours)"
    assert ax.get_ylabel() == "Plays (count, log scale)"
    assert note(ax) == (
        "n = 2 reels with ≥ 2 snapshots (1 with fewer than 2 snapshots left out)\n"
        "posted 2025-01-02 to 2025-01-03"
    )
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["A", "B"]


def test_growth_curves_use_okabe_ito_on_a_callers_axes() -> None:
    frame = media(
        *(
            {"media_id": str(i), "taken_at": T0, "fetched_at": T0 + timedelta(hours=h),
             "play_count": 10 * (i + 1) * h}
            for i in range(3) for h in (1, 2)
        )
    )  # fmt: skip
    _, ax = plt.subplots()  # created outside the style: matplotlib's default colour cycle
    plots.growth_curves(frame, ax=ax)
    colours = [str(line.get_color()).upper() for line in ax.lines]
    assert colours == [plots.OKABE_ITO[5], plots.OKABE_ITO[1], plots.OKABE_ITO[3]]


# --- common behaviour --------------------------------------------------------------------------

ALL_PLOTS = [
    plots.ratio_scatter,
    plots.rate_distribution,
    plots.owner_comparison,
    plots.engagement_over_time,
    plots.growth_curves,
]


@pytest.mark.parametrize("plot", ALL_PLOTS)
def test_draws_on_given_axes_with_note_above_them(plot: Any) -> None:
    figure, (left, right) = plt.subplots(1, 2)
    assert plot(sample(), ax=right) is right
    assert not left.texts and not left.collections and not left.lines
    [text] = [t for t in right.texts if t.get_gid() == "igresearch-note"]
    assert text.get_text().startswith("n = ")
    assert figure.texts == []


@pytest.mark.parametrize("plot", ALL_PLOTS)
def test_new_figure_size_fonts_and_untouched_rcparams(plot: Any) -> None:
    before = dict(matplotlib.rcParams)
    ax = plot(sample())
    figure = ax.figure
    assert tuple(figure.get_size_inches()) == pytest.approx(plots.FIGSIZE)
    figure.canvas.draw()
    sizes = [t.get_fontsize() for t in figure.findobj(Text) if t.get_text() and t.get_visible()]
    assert sizes and min(sizes) >= 8
    assert dict(matplotlib.rcParams) == before


@pytest.mark.parametrize("plot", ALL_PLOTS)
def test_empty_table_gives_empty_axes(plot: Any) -> None:
    ax = plot(media())
    ax.figure.canvas.draw()
    assert note(ax).startswith("n = 0 reels")
    assert all(len(c.get_offsets()) == 0 for c in ax.collections)


def test_okabe_ito_palette() -> None:
    assert plots.OKABE_ITO == (
        "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    )  # fmt: skip


# --- save_figure -------------------------------------------------------------------------------


def test_save_figure_png_at_high_dpi(tmp_path: Path) -> None:
    ax = plots.ratio_scatter(sample())
    path = plots.save_figure(ax.figure, tmp_path / "new" / "dir" / "scatter.png")
    assert path == tmp_path / "new" / "dir" / "scatter.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        dpi = image.info["dpi"]
        width, height = image.size
    assert min(dpi) >= 200
    assert (width, height) == (round(6.4 * 300), round(4.0 * 300))
    assert [p.name for p in path.parent.iterdir()] == ["scatter.png"]  # no temporary left


def test_save_figure_svg_and_pdf_are_reproducible(tmp_path: Path) -> None:
    ax = plots.rate_distribution(sample())
    svg = plots.save_figure(ax.figure, tmp_path / "a.svg").read_bytes()
    assert svg.startswith(b"<?xml") and b"<svg" in svg[:1000]
    assert plots.save_figure(ax.figure, tmp_path / "b.svg").read_bytes() == svg
    pdf = plots.save_figure(ax.figure, tmp_path / "a.PDF").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert plots.save_figure(ax.figure, tmp_path / "b.pdf").read_bytes() == pdf


def test_save_figure_of_subfigure_saves_whole_figure(tmp_path: Path) -> None:
    figure = plt.figure(figsize=(4, 2))
    left = figure.add_subfigure(figure.add_gridspec(1, 2)[0])
    plots.ratio_scatter(sample(), ax=left.add_subplot())
    with Image.open(plots.save_figure(left, tmp_path / "sub.png")) as image:
        assert image.size == (1200, 600)


def test_save_figure_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    plots.save_figure(plots.growth_curves(sample()).figure, target)
    assert target.read_bytes().startswith(b"\x89PNG")


def test_save_figure_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    class Broken(Artist):
        def draw(self, renderer: Any) -> None:
            raise RuntimeError("cannot draw")

    target = tmp_path / "fig.svg"
    target.write_bytes(b"old")
    figure = plots.growth_curves(sample()).figure
    figure.add_artist(Broken())
    with pytest.raises(RuntimeError, match="cannot draw"):
        plots.save_figure(figure, target)
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(("name", "shown"), [("fig.jpg", "'.jpg'"), ("fig", "no extension")])
def test_save_figure_rejects_other_formats(tmp_path: Path, name: str, shown: str) -> None:
    figure = plots.ratio_scatter(sample()).figure
    with pytest.raises(ValueError, match=f"Cannot save a figure with {shown}") as error:
        plots.save_figure(figure, tmp_path / name)
    assert ".png, .svg or .pdf" in str(error.value)
    assert list(tmp_path.iterdir()) == []


# --- hostile labels (issue 12, item 4) ---------------------------------------------------------

# Usernames and shortcodes as strangers may write them, and each one as it must be drawn.
HOSTILE_LABELS = {
    "$x^2$": "$x^2$",
    "a$b": "a$b",
    "$x^$": "$x^$",
    "nul\x00user": "nuluser",
    "esc\x1b]0;t\x07\x1b[2J": "esc]0;t[2J",
    "rlo\u202eabc\x9b\u2066": "rloabc",
    "line\nbreak": "line break",
    "<b>&amp;--\\$": "<b>&amp;--\\$",
}
UNDRAWN = ("\x00", "\x1b", "\x07", "\x9b", "\u202e", "\u2066")


def hostile() -> pl.DataFrame:
    """One reel per hostile label (its username, shortcode and caption), fetched twice."""
    return media(
        *(
            reel(str(i), name, 1000 * i + fetch, 10 * i, shortcode=name, caption=name,
                 fetched_at=T0 + timedelta(days=30 + fetch))
            for i, name in enumerate(HOSTILE_LABELS, start=1)
            for fetch in (0, 1)
        )
    )  # fmt: skip


@pytest.mark.parametrize("kind", plots.KINDS)
def test_hostile_labels_are_drawn_as_plain_text_and_every_svg_parses(
    kind: str, tmp_path: Path
) -> None:
    """Issue 12, item 4: usernames and shortcodes with `$`, NUL, ESC, C1 and bidi controls and a
    line break are drawn literally (no mathtext, controls removed); the SVG parses as XML, and
    the PNG is written."""
    import xml.etree.ElementTree as ET

    figure = plots.draw(kind, hostile()).figure
    svg = plots.save_figure(figure, tmp_path / f"{kind}.svg")
    ET.parse(svg)
    for char in UNDRAWN:
        assert char not in svg.read_text(encoding="utf-8")
    assert plots.save_figure(figure, tmp_path / f"{kind}.png").read_bytes()[:4] == b"\x89PNG"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to read it back
        drawn = "\n".join(
            ET.parse(plots.save_figure(figure, tmp_path / "t.svg")).getroot().itertext()
        )
    if kind in ("distribution", "owners", "growth"):  # the kinds that draw these labels
        for label in HOSTILE_LABELS.values():
            assert label in drawn.splitlines() or f"{label} (n = 1)" in drawn.splitlines()


def test_a_report_s_figures_with_hostile_labels_all_parse(tmp_path: Path) -> None:
    """Issue 12, item 4: every SVG save_all writes (as a report does) parses as XML."""
    import xml.etree.ElementTree as ET

    paths = plots.save_all(hostile(), tmp_path, formats=("png", "svg"))
    svgs = [path for path in paths if path.suffix == ".svg"]
    assert len(svgs) == len(plots.KINDS)
    for path in svgs:
        ET.parse(path)


# --- no figure without data (issue 13, item 7) -------------------------------------------------

GROWTH_REASON = (
    "no reel has plays in two snapshots (collect again with --refresh-older-than to add one)"
)


@pytest.mark.parametrize(
    ("kind", "frame", "reason"),
    [
        ("scatter", media(reel("1", "a", 100, None), reel("2", "a", 0, 5)),
         "no reel has both plays and likes"),
        ("distribution", media(reel("1", "a", None, 5)), "no reel has a like rate"),
        ("owners", media(reel("1", "a", 0, 5)), "no reel has an engagement rate"),
        ("time", media(reel("1", "a", 100, 5, taken_at=None)),
         "no reel has an engagement rate and a posting time"),
        ("growth", media(reel("1", "a", 100, 5), reel("1", "a", None, 6, fetched_at=T0)),
         GROWTH_REASON),
    ],
)  # fmt: skip
def test_draw_refuses_a_figure_without_data_and_says_why(
    kind: str, frame: pl.DataFrame, reason: str
) -> None:
    assert plots.missing_data(kind, frame) == reason
    assert plots.missing_data(kind, media()) == reason
    assert plots.missing_data(kind, sample()) is None
    with pytest.raises(EmptyFigureError) as error:
        plots.draw(kind, frame)
    assert str(error.value) == f"Nothing to draw in the {kind} figure: {reason}."
    assert plt.get_fignums() == []  # no figure was made


def test_missing_data_follows_the_rate_asked_for() -> None:
    hidden_likes = media(reel("1", "a", 100, None))  # a comment rate, no like rate
    assert plots.missing_data("distribution", hidden_likes) == "no reel has a like rate"
    assert plots.missing_data("distribution", hidden_likes, rate="comment_rate") is None
    assert plots.missing_data("owners", hidden_likes, rate="like_rate") == (
        "no reel has a like rate"
    )
    assert plots.missing_data("scatter", hidden_likes, rate="like_rate") == (
        "no reel has both plays and likes"
    )
    with pytest.raises(ValueError, match="Unknown rate 'likes'"):
        plots.missing_data("time", hidden_likes, rate="likes")
    with pytest.raises(ValueError, match="Unknown figure kind 'pie'"):
        plots.missing_data("pie", hidden_likes)


@pytest.mark.parametrize("kind", ["scatter", "growth"])
@pytest.mark.parametrize("rate", [*RATES, "likes"])
def test_draw_refuses_a_rate_for_a_kind_that_shows_none(kind: str, rate: str) -> None:
    """The library says what ``igresearch plot --metric`` says, in the same words; even a rate
    that is no rate is refused for what it is: given to a kind that shows none."""
    with pytest.raises(ValueError) as error:
        plots.draw(kind, sample(), rate=rate)
    assert str(error.value) == (
        f"rate is not used by kind {kind}: only by distribution, owners, time. "
        "Drop rate, or choose one of those kinds."
    )
    assert plots.unused_rate(kind, option="--metric", kind_option="--kind") == (
        f"--metric is not used by --kind {kind}: only by distribution, owners, time. "
        "Drop --metric, or choose one of those kinds."
    )
    assert plt.get_fignums() == []  # no figure was made


def labels(ax: Axes) -> tuple[str, str]:
    return ax.get_xlabel(), ax.get_ylabel()


@pytest.mark.parametrize(
    ("kind", "default"),
    [("scatter", None), ("distribution", "like_rate"), ("owners", "engagement_rate"),
     ("time", "engagement_rate"), ("growth", None)],
)  # fmt: skip
def test_draw_without_a_rate_draws_every_kind(kind: str, default: str | None) -> None:
    """Not passing a rate (or passing None) draws each kind; a kind that shows a rate shows its
    own default, and another rate when asked for one."""
    ax = plots.draw(kind, sample())
    assert ax.collections or ax.lines  # something was drawn
    assert labels(plots.draw(kind, sample(), rate=None)) == labels(ax)
    if default is not None:
        assert labels(plots.draw(kind, sample(), rate=default)) == labels(ax)
        assert default.replace("_", " ") in " ".join(labels(ax)).lower()
        assert labels(plots.draw(kind, sample(), rate="comment_rate")) != labels(ax)


def test_draw_refuses_an_empty_rate_as_unknown() -> None:
    with pytest.raises(ValueError, match="Unknown rate '': use one of like_rate, comment_rate"):
        plots.draw("owners", sample(), rate="")


def test_save_all_leaves_out_a_figure_without_data(tmp_path: Path) -> None:
    once = media(reel("1", "a", 1000, 30), reel("2", "b", 500, 40))  # one snapshot each
    paths = plots.save_all(once, tmp_path, formats=("png", "svg"))
    kinds = ["scatter", "distribution", "owners", "time"]
    assert paths == [tmp_path / f"{kind}.{fmt}" for kind in kinds for fmt in ("png", "svg")]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert plots.save_all(media(), tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


# --- nothing covers data (issue 13, item 8) ----------------------------------------------------


def adversarial() -> dict[str, pl.DataFrame]:
    """Per kind, data that fills every corner of the axes, with a legend where there is one."""
    corners = [(plays, likes) for plays in (10, 10**7) for likes in (1, plays)]
    along_guides = [(p, round(p * r)) for r in (0.01, 0.05, 0.1) for p in np.geomspace(1e3, 1e7, 9)]
    scatter = media(
        *(
            reel(str(i), "a", int(p), int(k))
            for i, (p, k) in enumerate(corners + along_guides, start=1)
        )
    )
    # high and low rates at both ends of the time axis and in between, enough for the line
    time = media(
        *(
            reel(str(day), "a", 1000, (900 if day % 2 else 1), comment_count=0)
            for day in range(1, 31)
        )
    )
    growth = media(
        *(
            {
                "media_id": str(i),
                "shortcode": f"reel_{i}_long_shortcode",
                "taken_at": T0,
                "fetched_at": T0 + timedelta(hours=h),
                "play_count": 10 ** (i % 7) * (1 + h),
            }
            for i in range(8)
            for h in (1, 250, 500, 750, 1000)
        )
    )
    groups = media(
        *(reel(str(i), f"account_{i % 12}_with_a_long_name", 1000, i % 37) for i in range(1, 97))
    )
    return {"scatter": scatter, "distribution": groups, "owners": groups, "time": time,
            "growth": growth}  # fmt: skip


def points(ax: Axes) -> np.ndarray[Any, Any]:
    """Every data point drawn inside the axes, in display coordinates: markers, the vertices of
    lines and of error bars (the guide lines are reference lines, not data)."""
    from matplotlib.collections import LineCollection, PathCollection

    found = [np.empty((0, 2))]
    for collection in ax.collections:
        if isinstance(collection, PathCollection):
            transform = collection.get_offset_transform()
            found.append(transform.transform(collection.get_offsets()))
        elif isinstance(collection, LineCollection):
            for segment in collection.get_segments():
                found.append(collection.get_transform().transform(segment))
    for line in ax.lines:
        if line.get_gid() != "igresearch-guide":
            found.append(line.get_transform().transform(line.get_xydata()))
    every = np.concatenate(found)
    box = ax.get_window_extent()
    every = every[np.isfinite(every).all(axis=1)]
    return every[
        (every[:, 0] >= box.x0) & (every[:, 0] <= box.x1)
        & (every[:, 1] >= box.y0) & (every[:, 1] <= box.y1)
    ]  # fmt: skip


def covered(ax: Axes) -> list[str]:
    """What covers a data point: each legend and each text (note, labels, guide labels)."""
    figure = ax.figure.get_figure(root=True)
    figure.canvas.draw()
    drawn = points(ax)
    assert len(drawn), "the figure drew no point"
    boxes = [(t.get_text(), t.get_window_extent()) for t in figure.findobj(Text)
             if t.get_visible() and t.get_text()]  # fmt: skip
    boxes += [("legend", legend.get_window_extent()) for legend in figure.findobj(Legend)]
    return [
        name
        for name, box in boxes
        if np.any(
            (drawn[:, 0] > box.x0) & (drawn[:, 0] < box.x1)
            & (drawn[:, 1] > box.y0) & (drawn[:, 1] < box.y1)
        )
    ]  # fmt: skip


@pytest.mark.parametrize("kind", plots.KINDS)
def test_no_legend_or_text_covers_a_point_of_the_demo(kind: str, demo_tables: Any) -> None:
    assert covered(plots.draw(kind, demo_tables.media)) == []


@pytest.mark.parametrize("kind", plots.KINDS)
def test_no_legend_or_text_covers_a_point_anywhere(kind: str) -> None:
    ax = plots.draw(kind, adversarial()[kind])
    if kind in ("time", "growth"):
        assert ax.get_legend() is not None
    assert covered(ax) == []
    # on a caller's axes too, where the note is a text above them
    _, (_, right) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
    plots.KINDS[kind](adversarial()[kind], ax=right)
    assert covered(right) == []


# --- plain tick labels (issue 13, item 9) ------------------------------------------------------


def close_together() -> dict[str, pl.DataFrame]:
    """Per kind, values close together relative to their size: what makes matplotlib write an
    offset (+1.23884e4) or a multiplier (x1e6), or label a log axis in powers of ten."""
    old = datetime(2024, 7, 1, tzinfo=UTC)
    growth = media(
        *(
            {
                "media_id": "1",
                "shortcode": "A",
                "taken_at": old,
                "fetched_at": old + timedelta(hours=12_388.4, minutes=10 * i),
                "play_count": 1_234_000 + 500 * i,
            }
            for i in range(4)
        )
    )
    narrow = media(
        *(
            reel(
                str(i),
                "a",
                1_234_000 + 500 * i,
                12_340 + i,
                comment_count=0,
                taken_at=T0 + timedelta(minutes=i),
            )
            for i in range(1, 9)
        )
    )
    return {"scatter": narrow, "distribution": narrow, "owners": narrow, "time": narrow,
            "growth": growth}  # fmt: skip


PLAIN = {
    "log": r"\d+(\.\d+)?[kMB]?",
    "linear": r"\d+(\.\d+)?",
    "percent": r"\d+(\.\d+)?%",
    "date": r"[A-Z][a-z]{2}(-\d{2})?|\d{1,2}|\d{2}:\d{2}(:\d{2})?",  # Mar, Mar-02, 08, 03:00
}
AXES = {  # the kind of labels on each kind's x and y axis; None: category names
    "scatter": ("log", "log"),
    "distribution": ("percent", None),
    "owners": ("percent", None),
    "time": ("date", "percent"),
    "growth": ("linear", "log"),
}


def shown(axis: Any) -> list[str]:
    """The labels of the ticks in view (major and minor), after drawing."""
    low, high = sorted(axis.get_view_interval())
    ticks = [*axis.get_major_ticks(), *axis.get_minor_ticks()]
    return [
        tick.label1.get_text()
        for tick in ticks
        if low <= tick.get_loc() <= high and tick.label1.get_text()
    ]


@pytest.mark.parametrize("data", ["demo", "close together"])
@pytest.mark.parametrize("kind", plots.KINDS)
def test_tick_labels_are_plain(kind: str, data: str, demo_tables: Any) -> None:
    import re

    frame = demo_tables.media if data == "demo" else close_together()[kind]
    ax = plots.draw(kind, frame)
    ax.figure.canvas.draw()
    for axis, labels in zip((ax.xaxis, ax.yaxis), AXES[kind], strict=True):
        offset = axis.get_offset_text().get_text()
        # the time axis names the year below its dates, never an offset
        assert re.fullmatch(r"(20\d\d)?" if labels == "date" else "", offset), offset
        texts = shown(axis)
        assert texts
        if labels is not None:
            assert all(re.fullmatch(PLAIN[labels], t) for t in texts), texts
        if labels == "log":
            formatter = axis.get_major_formatter()
            decades = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e9]
            assert [formatter(v) for v in decades] == [
                "1", "10", "100", "1k", "10k", "100k", "1M", "10M", "1B",
            ]  # fmt: skip


def test_the_growth_axis_of_close_snapshots_reads_hours_and_plays() -> None:
    ax = plots.draw("growth", close_together()["growth"])
    ax.figure.canvas.draw()
    assert shown(ax.xaxis) == ["12388.4", "12388.5", "12388.6", "12388.7", "12388.8", "12388.9"]
    assert shown(ax.yaxis) == [
        "1.234M", "1.2342M", "1.2344M", "1.2346M", "1.2348M", "1.235M", "1.2352M", "1.2354M",
    ]  # fmt: skip


@pytest.mark.parametrize("kind", plots.KINDS)
def test_tick_labels_never_run_together(kind: str, demo_tables: Any) -> None:
    """The labels of the x axis stand at least a label's height apart (the percent axes once
    read "10.0%12.0%14.0%", half a height apart)."""
    ax = plots.draw(kind, demo_tables.media)
    fig = ax.get_figure()
    assert fig is not None
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    labels = [label for label in ax.xaxis.get_ticklabels() if label.get_text()]
    boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda b: b.x0)
    assert len(boxes) >= 3, kind
    for first, second in itertools.pairwise(boxes):
        assert second.x0 - first.x1 >= first.height, (kind, [label.get_text() for label in labels])
    plt.close(fig)


def test_a_note_of_one_reel_says_reel() -> None:
    ax = plots.ratio_scatter(media(reel("1", "a", 1000, 50)))
    assert note(ax).startswith("n = 1 reel · posted ")
    plt.close(ax.figure)  # type: ignore[arg-type]


def test_posts_of_one_day_are_drawn_over_a_day_not_years() -> None:
    day = datetime(2026, 3, 2, tzinfo=UTC)
    rows = [
        reel(str(i), "a", 1000 + i, 50, comment_count=3, taken_at=day + timedelta(hours=i))
        for i in range(1, 6)
    ]
    ax = plots.engagement_over_time(media(*rows))
    left, right = ax.get_xlim()
    assert right - left == pytest.approx(1.0)  # matplotlib's date unit is the day
    assert "2026" not in "".join(t.get_text() for t in ax.get_xticklabels()[1:-1])
    plt.close(ax.figure)  # type: ignore[arg-type]
