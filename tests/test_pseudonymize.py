"""Tests for igresearch.pseudonymize, on tables built from the fixtures and the synthetic demo
(``demo_tables``, built once per run in conftest.py)."""

from __future__ import annotations

import copy
import dataclasses
import doctest
import hmac
import importlib
import json
import re
from hashlib import sha256
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from igresearch.pseudonymize import pseudonymize
from igresearch.schema import SCHEMAS
from igresearch.tables import Tables, to_tables
from igresearch.urls import media_id_to_shortcode, shortcode_to_media_id

FIXTURES = Path(__file__).parent / "fixtures"
SALT = "test salt, not secret"
TABLES = ("media", "comments", "owners", "children", "errors")

# Which columns hold which kind of identifier, written out here independently of the module.
KINDS: dict[str, list[tuple[str, str]]] = {
    "user": [
        ("media", "owner_username"),
        ("media", "coauthor_usernames"),
        ("comments", "owner_username"),
        ("owners", "username"),
    ],
    "id": [("media", "owner_id"), ("comments", "owner_id"), ("owners", "owner_id")],
    "name": [("owners", "full_name")],
    "media": [
        ("media", "media_id"),
        ("comments", "media_id"),
        ("children", "parent_media_id"),
        ("children", "media_id"),
    ],
    "sc": [("media", "shortcode"), ("children", "shortcode"), ("errors", "shortcode")],
    "comment": [("comments", "comment_id"), ("comments", "parent_comment_id")],
}

# Media ids stay media ids (in [2**60, 2**63): 19 digits) and shortcodes their encodings (issue 15).
PATTERNS = {"media": r"[1-9][0-9]{18}", "sc": r"[A-Za-z0-9_-]{11}"}

CAPTION = (
    "Shot with @Fixture_Coauthor1 and @fixture_owner. "
    "Write to fixture.press@example.com (cc @fixture_stranger)"
)
COMMENT = "@fixture_owner loved it, @FIXTURE_COMMENTER3 too! mail me: a@b.com"

# A request that failed: its reason quotes the post's URL, so its shortcode.
FAILED_RECORD = {
    "archive_version": 1,
    "url": "https://www.instagram.com/reel/DMUqZETwyOJ/",
    "shortcode": "DMUqZETwyOJ",
    "channel": "apify",
    "outcome": "failed",
    "fetched_at": "2025-07-20T10:00:00+00:00",
    "http_status": 500,
    "response": None,
    "error": {
        "class": "APIError",
        "message": "The API failed (HTTP 500: server error) "
        "for https://www.instagram.com/reel/DMUqZETwyOJ/.",
    },
}


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _mentioning_reel() -> dict[str, Any]:
    """The vendor reel, its caption mentioning the owner, a co-author and a stranger, and its
    first comment mentioning the owner and a replier."""
    response = copy.deepcopy(_load("xdt_reel_vendor.json"))
    node = response["data"]["xdt_shortcode_media"]
    node["edge_media_to_caption"]["edges"][0]["node"]["text"] = CAPTION
    node["edge_media_to_parent_comment"]["edges"][0]["node"]["text"] = COMMENT
    return response  # type: ignore[no-any-return]


def _bare_reel(caption: str) -> dict[str, Any]:
    return {
        "__typename": "XDTGraphVideo",
        "id": "3648234092480183633",
        "shortcode": "DKhIZPzwD1R",
        "owner": {"id": "70000000001", "username": "fixture_owner"},
        "edge_media_to_caption": {"edges": [{"node": {"text": caption}}]},
    }


@pytest.fixture(scope="module")
def fixture_tables() -> Tables:
    responses = [_load(path.name) for path in sorted(FIXTURES.glob("*.json"))]
    return to_tables([*responses, FAILED_RECORD])


@pytest.fixture(params=["fixtures", "mentions", "demo"])
def tables(request: pytest.FixtureRequest) -> Tables:
    if request.param == "mentions":
        return to_tables(_mentioning_reel())
    name = "demo_tables" if request.param == "demo" else "fixture_tables"
    result: Tables = request.getfixturevalue(name)
    return result


def _cells(frame: pl.DataFrame, column: str) -> list[str | None]:
    """A column's values, list items included, in row order."""
    series = frame[column]
    if isinstance(series.dtype, pl.List):
        series = series.explode()
    return series.to_list()


def _mentioned(text: str | None) -> list[str]:
    names = re.findall(r"(?<![\w.])@([A-Za-z0-9._]+)", text or "")
    return [name.rstrip(".") for name in names]


def _originals(tables: Tables, kinds: list[str]) -> set[str]:
    values = {
        value
        for kind in kinds
        for table, column in KINDS[kind]
        for value in _cells(getattr(tables, table), column)
        if value is not None
    }
    if "user" in kinds:
        for text in [*tables.media["caption"], *tables.comments["text"]]:
            values.update(_mentioned(text))
    return values


def _strings(tables: Tables) -> list[str]:
    """Every string in every table, list items included."""
    strings: list[str] = []
    for name in TABLES:
        frame: pl.DataFrame = getattr(tables, name)
        for column, dtype in frame.schema.items():
            if dtype == pl.String() or dtype == pl.List(pl.String()):
                strings.extend(value for value in _cells(frame, column) if value is not None)
    return strings


def test_no_original_identifier_is_left(tables: Tables) -> None:
    identifiers = _originals(tables, ["user", "id", "media", "sc", "comment"])
    names = _originals(tables, ["name"])
    assert len(identifiers) > 5
    assert names
    result = pseudonymize(tables, SALT)
    for cell in _strings(result):
        # Full names are matched whole only: free text may use the same words ("the owner").
        assert cell not in names
        for original in identifiers:
            assert cell != original
            if len(original) > 3:
                assert original.lower() not in cell.lower(), (original, cell)


def test_joins_give_the_same_rows(tables: Tables) -> None:
    def counts(t: Tables) -> dict[str, int]:
        replies = t.comments.filter(pl.col("parent_comment_id").is_not_null())
        return {
            "media-owners": t.media.join(t.owners, on="owner_id").height,
            "comments-media": t.comments.join(t.media, on="media_id").height,
            "children-media": t.children.join(
                t.media, left_on="parent_media_id", right_on="media_id"
            ).height,
            "replies-comments": replies.join(
                t.comments, left_on="parent_comment_id", right_on="comment_id"
            ).height,
        }

    before = counts(tables)
    assert before["media-owners"] > 0
    assert before["comments-media"] > 0
    assert before["replies-comments"] > 0
    assert counts(pseudonymize(tables, SALT)) == before


def test_same_value_same_pseudonym_everywhere(tables: Tables) -> None:
    result = pseudonymize(tables, SALT)
    for prefix, columns in KINDS.items():
        forward: dict[str, str] = {}
        backward: dict[str, str] = {}
        for table, column in columns:
            originals = _cells(getattr(tables, table), column)
            aliases = _cells(getattr(result, table), column)
            for original, alias in zip(originals, aliases, strict=True):
                if original is None:
                    assert alias is None  # nulls stay null
                    continue
                assert alias is not None
                assert re.fullmatch(PATTERNS.get(prefix, rf"{prefix}_[0-9a-f]{{16}}"), alias), alias
                key = original.lower() if prefix == "user" else original
                assert forward.setdefault(key, alias) == alias
                assert backward.setdefault(alias, key) == key


def test_pseudonym_is_the_documented_hmac(fixture_tables: Tables) -> None:
    result = pseudonymize(fixture_tables, SALT)
    row = fixture_tables.owners["username"].to_list().index("fixture_owner")

    def expected(kind: str, value: str) -> str:
        return hmac.new(SALT.encode(), f"{kind}:{value}".encode(), sha256).hexdigest()[:16]

    assert result.owners["username"][row] == "user_" + expected("user", "fixture_owner")
    assert result.owners["owner_id"][row] == "id_" + expected("account", "70000000001")

    def media(value: str) -> str:
        digest = hmac.new(SALT.encode(), f"media:{value}".encode(), sha256).digest()
        return str(2**60 + int.from_bytes(digest[:8], "big") % (2**63 - 2**60))

    originals, pseudonymous = fixture_tables.media, result.media
    for number, media_id in enumerate(originals["media_id"]):
        assert pseudonymous["media_id"][number] == media(media_id.split("_")[0])
        shortcode = originals["shortcode"][number]
        assert pseudonymous["shortcode"][number] == media_id_to_shortcode(
            media(shortcode_to_media_id(shortcode))
        )


def test_a_pseudonymous_shortcode_encodes_the_pseudonymous_media_id(tables: Tables) -> None:
    """Issue 15, item 2: a post's pseudonymous shortcode is the shortcode of its pseudonymous
    media id (11 characters), a valid media id below 2**63, so id_mismatch keeps its meaning."""
    result = pseudonymize(tables, SALT)
    for frame in (result.media, result.children):
        for media_id, shortcode in zip(frame["media_id"], frame["shortcode"], strict=True):
            assert 2**60 <= int(media_id) < 2**63 and len(shortcode) == 11
    same = tables.media.select("shortcode", "media_id")
    consistent = [
        shortcode_to_media_id(code) == media_id.split("_")[0] for code, media_id in same.rows()
    ]
    assert consistent == [
        shortcode_to_media_id(code) == media_id
        for code, media_id in result.media.select("shortcode", "media_id").rows()
    ]
    assert result.media["id_mismatch"].to_list() == tables.media["id_mismatch"].to_list()


def test_mentions_use_the_accounts_pseudonyms() -> None:
    tables = to_tables(_mentioning_reel())
    result = pseudonymize(tables, SALT)
    owner = result.media["owner_username"][0]
    coauthor = result.media["coauthor_usernames"][0][0]
    assert tables.media["coauthor_usernames"][0][0] == "fixture_coauthor1"
    caption = result.media["caption"][0]
    assert re.fullmatch(
        rf"Shot with @{coauthor} and @{owner}\. Write to fixture\.press@example\.com "
        r"\(cc @user_[0-9a-f]{16}\)",
        caption,
    ), caption
    users = dict(
        zip(tables.comments["owner_username"], result.comments["owner_username"], strict=True)
    )
    commented = result.comments.filter(
        tables.comments["text"] == COMMENT  # rows keep their order
    )
    assert commented["text"].to_list() == [
        f"@{owner} loved it, @{users['fixture_commenter3']} too! mail me: a@b.com"
    ]
    # The owner's reply is in the owner's name: the same pseudonym as the media's owner.
    assert users["fixture_owner"] == owner


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail a@b.com", "mail a@b.com"),
        ("x.y@fixture_owner", "x.y@fixture_owner"),
        ("_@fixture_owner", "_@fixture_owner"),
        ("café@fixture_owner", "café@fixture_owner"),
        ("(@fixture_owner)", "(@{owner})"),
        ("@fixture_owner. Thanks", "@{owner}. Thanks"),
        ("hi @Fixture_Owner...!", "hi @{owner}...!"),
        ("@@fixture_owner", "@@{owner}"),
        ("@" + "a" * 31, "@" + "a" * 31),  # too long to be a username
        ("just @", "just @"),
        ("@...", "@..."),
    ],
)
def test_mention_pattern(text: str, expected: str) -> None:
    result = pseudonymize(to_tables(_bare_reel(text)), SALT)
    owner = result.media["owner_username"][0]
    assert result.media["caption"][0] == expected.format(owner=owner)


def test_music_artist_is_kept_only_for_licensed_music(fixture_tables: Tables) -> None:
    """Issue 12, item 6: the artist of original audio is its creator, pseudonymised like a
    username (the same pseudonym as the account, when the tables know it); licensed music keeps
    its artist."""
    result = pseudonymize(fixture_tables, SALT)
    artists = dict(
        zip(fixture_tables.media["music_artist"], result.media["music_artist"], strict=True)
    )
    owners = dict(
        zip(fixture_tables.media["owner_username"], result.media["owner_username"], strict=True)
    )
    assert artists["fixture_owner"] == owners["fixture_owner"]
    assert artists["Fixture Composer"] == "Fixture Composer"  # uses_original_audio false
    assert artists["Fixture Band"] == "Fixture Band"
    for name in ("fixture_owner7", "fixture_owner8"):  # original audio of accounts not in tables
        assert re.fullmatch(r"user_[0-9a-f]{16}", artists[name]), artists[name]
        mention = pseudonymize(to_tables(_bare_reel(f"@{name}")), SALT).media["caption"][0]
        assert artists[name] == mention[1:]
    assert artists[None] is None


def test_a_known_account_as_artist_is_pseudonymised_even_for_licensed_music() -> None:
    tables = to_tables(_bare_reel("x"))
    owner = tables.media["owner_username"][0]
    licensed = tables.media.with_columns(
        music_artist=pl.lit(owner.upper()), uses_original_audio=False
    )
    result = pseudonymize(dataclasses.replace(tables, media=licensed), SALT)
    assert result.media["music_artist"][0] == result.media["owner_username"][0]


def test_every_audio_id_gets_one_pseudonym(fixture_tables: Tables) -> None:
    """Issue 12, item 6: the audio page of original audio leads to its creator, so audio ids
    are pseudonymised: the same audio, the same pseudonym; nulls stay null."""
    result = pseudonymize(fixture_tables, SALT)
    pairs = set(zip(fixture_tables.media["audio_id"], result.media["audio_id"], strict=True))
    assert (None, None) in pairs
    pairs.discard((None, None))
    assert len(pairs) == 5 == len({alias for _, alias in pairs})
    assert all(re.fullmatch(r"audio_[0-9a-f]{16}", alias) for _, alias in pairs)
    assert not set(fixture_tables.media["audio_id"].drop_nulls()) & set(result.media["audio_id"])


def test_error_reasons_become_their_categories(fixture_tables: Tables) -> None:
    """Issue 12, item 5: a reason quotes the server and the post's URL; pseudonymised, it is its
    category, which quotes neither."""
    result = pseudonymize(fixture_tables, SALT)
    row = fixture_tables.errors["shortcode"].to_list().index("DMUqZETwyOJ")
    assert fixture_tables.errors["reason"][row] == FAILED_RECORD["error"]["message"]  # type: ignore[index]
    assert fixture_tables.errors["category"][row] == "failed: APIError HTTP 500"
    assert re.fullmatch(PATTERNS["sc"], result.errors["shortcode"][row])
    assert result.errors["shortcode"][row] != "DMUqZETwyOJ"
    assert result.errors["reason"].to_list() == fixture_tables.errors["category"].to_list()
    assert result.errors["category"].to_list() == fixture_tables.errors["category"].to_list()
    assert result.errors["kind"].to_list() == fixture_tables.errors["kind"].to_list()
    assert not result.errors["reason"].str.contains("http|DMUqZETwyOJ").any()


def test_same_salt_same_output_other_salt_other_pseudonyms(demo_tables: Tables) -> None:
    first, again = pseudonymize(demo_tables, SALT), pseudonymize(demo_tables, SALT)
    for name in TABLES:
        assert_frame_equal(getattr(first, name), getattr(again, name))
    other = pseudonymize(demo_tables, "another salt, also long")
    for columns in KINDS.values():
        for table, column in columns:
            mine = {v for v in _cells(getattr(first, table), column) if v is not None}
            theirs = {v for v in _cells(getattr(other, table), column) if v is not None}
            assert mine.isdisjoint(theirs), (table, column)
    counts = ["like_count", "play_count", "taken_at"]
    assert_frame_equal(first.media.select(counts), other.media.select(counts))


def test_url_columns_are_dropped_and_other_types_kept(tables: Tables) -> None:
    result = pseudonymize(tables, SALT)
    assert {"url", "video_url", "thumbnail_url", "display_url"}.isdisjoint(result.media.columns)
    assert "profile_pic_url" not in result.owners.columns
    assert {"video_url", "display_url"}.isdisjoint(result.children.columns)
    for name in TABLES:
        expected = pl.Schema(
            {column: dtype for column, dtype in SCHEMAS[name].items() if not column.endswith("url")}
        )
        frame: pl.DataFrame = getattr(result, name)
        assert frame.schema == expected, name
        assert frame.height == getattr(tables, name).height


def test_nulls_and_empty_lists_stay(tables: Tables) -> None:
    result = pseudonymize(tables, SALT)
    for name in TABLES:
        frame: pl.DataFrame = getattr(result, name)
        original: pl.DataFrame = getattr(tables, name)
        assert_frame_equal(frame.null_count(), original.select(frame.columns).null_count())
    assert_frame_equal(
        result.media.select(pl.col("coauthor_usernames").list.len()),
        tables.media.select(pl.col("coauthor_usernames").list.len()),
    )


def test_other_columns_are_unchanged(fixture_tables: Tables) -> None:
    result = pseudonymize(fixture_tables, SALT)
    kept = ["like_count", "play_count", "taken_at", "location_name", "id_mismatch", "music_song"]
    assert_frame_equal(result.media.select(kept), fixture_tables.media.select(kept))
    kept = ["is_verified", "follower_count", "post_count", "fetched_at"]
    assert_frame_equal(result.owners.select(kept), fixture_tables.owners.select(kept))


def test_empty_tables() -> None:
    result = pseudonymize(to_tables([]), SALT)
    assert repr(result) == "Tables(media=0, comments=0, owners=0, children=0, errors=0)"
    assert "url" not in result.media.columns


@pytest.mark.parametrize("salt", ["", None])
def test_missing_salt_raises(fixture_tables: Tables, salt: Any) -> None:
    with pytest.raises(ValueError, match="secret salt.*keep it private"):
        pseudonymize(fixture_tables, salt)


@pytest.mark.parametrize("salt", ["s", "fifteen chars.."])
def test_a_short_salt_is_refused_with_a_way_to_make_one(fixture_tables: Tables, salt: str) -> None:
    """Issue 12, item 7: a salt under 16 characters is refused, and the message says how to make
    a good one; 16 characters are enough."""
    with pytest.raises(ValueError, match="at least 16 characters") as raised:
        pseudonymize(fixture_tables, salt)
    assert "secrets.token_urlsafe(24)" in str(raised.value)
    result = pseudonymize(fixture_tables, "sixteen chars..!")
    assert result.media.height == fixture_tables.media.height


def test_docstring_example() -> None:
    module = importlib.import_module("igresearch.pseudonymize")
    failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0
    assert failures == 0


def test_an_answer_is_pseudonymised_as_its_tables_are() -> None:
    """Issue 15, item 2: Pseudonymizer gives an answer the pseudonyms pseudonymize gives its
    tables; removes URLs and text that names someone the tables do not keep; and cuts an
    unavailable post's server message down to the words it is judged by."""
    from igresearch.pseudonymize import Pseudonymizer
    from igresearch.testing import FakeAPI

    answer = FakeAPI.media_for("DLlGZiCOBQ0")
    node = answer["data"]["data"]["xdt_shortcode_media"]
    node["accessibility_caption"] = "Photo by Humans of New York, 2025"
    node["edge_media_to_caption"]["edges"][0]["node"]["text"] = "Hi @humansofny and Humans"
    tables = to_tables(answer)
    pseudonyms = Pseudonymizer(tables, SALT)
    public = pseudonyms.answer(answer)
    same = pseudonymize(tables, SALT)
    got = public["data"]["data"]["xdt_shortcode_media"]
    assert got["id"] == same.media["media_id"][0]
    assert got["shortcode"] == same.media["shortcode"][0]
    assert pseudonyms.url("instagram.com/p/DLlGZiCOBQ0") == (
        f"https://www.instagram.com/reel/{same.media['shortcode'][0]}/"
    )
    assert got["owner"]["username"] == same.owners["username"][0]
    assert got["owner"]["full_name"] == same.owners["full_name"][0]
    assert got["owner"]["id"] == same.owners["owner_id"][0]
    caption = got["edge_media_to_caption"]["edges"][0]["node"]["text"]
    assert caption == same.media["caption"][0] == f"Hi @{same.owners['username'][0]} and Humans"
    assert got["accessibility_caption"] is None, "names the owner; no table keeps it"
    assert got["display_url"] is None and got["video_url"] is None
    assert got["dash_info"]["video_dash_manifest"] == node["dash_info"]["video_dash_manifest"]
    assert got["video_play_count"] == node["video_play_count"]
    assert answer["data"]["data"]["xdt_shortcode_media"]["id"] == "3667365614373573684"

    gone = {
        "code": "0000",
        "data": [
            {
                "url": "https://www.instagram.com/reel/DLlGZiCOBQ0/",
                "error": "not_found",
                "errorDescription": "Post by someone_unknown is private or not found",
            }
        ],
    }
    assert pseudonyms.answer(gone) == {
        "code": "0000",
        "data": [{"url": None, "error": "not_found", "errorDescription": "not found private"}],
    }
