"""Make the bundled cassettes, deterministically, through the real recording path.

    .venv/bin/python scripts/make_cassettes.py

- cassettes/documented_example.yaml: the seed document's example response for DLlGZiCOBQ0,
  byte for byte, recorded from the fake API.
- cassettes/demo.yaml: a SYNTHETIC study for the demo and notebooks. Every account, post and
  comment in it is invented here (each account's full name says "synthetic"); never cite it.
  64 posts from 8 accounts: heavy-tailed plays, like and comment rates that differ by account,
  carousels, a post with hidden likes, 4 unavailable posts, comments with replies, and a
  second snapshot two days later for 20 reels.

Both are recorded with `igresearch.replay(mode="all")` around `collect`, against the fake API
on 127.0.0.1, as a researcher would record the live API.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from igresearch.cassettes import replay
from igresearch.client import Client
from igresearch.collect import collect
from igresearch.testing import FakeAPI, envelope
from igresearch.urls import media_id_to_shortcode

ROOT = Path(__file__).resolve().parent.parent
FIRST_FETCH = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECOND_FETCH = FIRST_FETCH + timedelta(days=2)
KEY = "synthetic-recording-key-never-real"

ACCOUNTS = [
    # username, followers, like rate, comment rate, median plays
    ("synthetic_cooking_lab", 1_250_000, 0.045, 0.0020, 400_000),
    ("synthetic_city_walks", 86_000, 0.060, 0.0035, 40_000),
    ("synthetic_news_desk", 2_900_000, 0.012, 0.0040, 900_000),
    ("synthetic_dance_duo", 540_000, 0.085, 0.0015, 350_000),
    ("synthetic_science_bits", 310_000, 0.030, 0.0050, 120_000),
    ("synthetic_pet_corner", 48_000, 0.110, 0.0060, 25_000),
    ("synthetic_fitness_daily", 720_000, 0.025, 0.0010, 200_000),
    ("synthetic_local_market", 12_500, 0.070, 0.0080, 6_000),
]


def owner(index: int) -> dict[str, Any]:
    username, followers, *_ = ACCOUNTS[index]
    return {
        "id": str(70_000_000_000 + index),
        "username": username,
        "full_name": f"{username.removeprefix('synthetic_').replace('_', ' ').title()} (synthetic)",
        "is_verified": index % 3 == 0,
        "is_private": False,
        "profile_pic_url": f"https://synthetic.invalid/profile/{username}.jpg",
        "edge_followed_by": {"count": followers},
        "edge_owner_to_timeline_media": {"count": 300 + 37 * index},
    }


def comment(
    rng: random.Random, cid: int, taken_at: int, replies: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": str(18_000_000_000_000_000 + cid),
        "text": rng.choice(["Love this!", "So good", "Where is this?", "Wow", "Tried it, works"]),
        "created_at": taken_at + rng.randint(60, 3 * 86_400),
        "owner": {
            "id": str(60_000_000_000 + rng.randint(0, 400)),
            "username": f"synthetic_viewer_{rng.randint(0, 400)}",
            "is_verified": False,
            "profile_pic_url": "https://synthetic.invalid/profile/viewer.jpg",
        },
        "edge_liked_by": {"count": rng.randint(0, 300)},
        "edge_threaded_comments": {"count": len(replies), "edges": [{"node": r} for r in replies]},
    }


def post(rng: random.Random, number: int, account: int) -> dict[str, Any]:
    """One synthetic post: the vendor envelope around an Instagram GraphQL media node."""
    _, _followers, like_rate, comment_rate, median_plays = ACCOUNTS[account]
    taken_at = int((FIRST_FETCH - timedelta(days=rng.uniform(3, 60))).timestamp())
    media_id = str(((taken_at - 1_314_220_021) * 1000 << 23) + number)
    carousel = number % 11 == 5
    plays = int(median_plays * rng.lognormvariate(0, 1.1))
    likes = int(plays * like_rate * rng.lognormvariate(0, 0.35))
    comments_total = max(0, int(plays * comment_rate * rng.lognormvariate(0, 0.5)))
    edges = []
    for c in range(rng.randint(0, 4)):
        replies = [
            comment(rng, number * 100 + c * 10 + r + 1, taken_at, [])
            for r in range(rng.choice([0, 0, 1, 2]))
        ]
        edges.append({"node": comment(rng, number * 100 + c * 10, taken_at, replies)})
    node: dict[str, Any] = {
        "__typename": "XDTGraphSidecar" if carousel else "XDTGraphVideo",
        "id": media_id,
        "shortcode": media_id_to_shortcode(media_id),
        "dimensions": {"height": 1920, "width": 1080},
        "display_url": f"https://synthetic.invalid/display/{media_id}.jpg",
        "is_video": not carousel,
        "owner": owner(account),
        "edge_media_to_caption": {
            "edges": [
                {
                    "node": {
                        "text": f"Synthetic post {number} #synthetic",
                        "created_at": str(taken_at),
                    }
                }
            ]
        },
        "edge_media_to_parent_comment": {"count": comments_total, "edges": edges},
        "edge_media_preview_like": {"count": likes},
        "like_and_view_counts_disabled": False,
        "comments_disabled": False,
        "taken_at_timestamp": taken_at,
        "is_paid_partnership": number % 13 == 0,
        "coauthor_producers": [owner((account + 1) % len(ACCOUNTS))] if number % 17 == 3 else [],
        "location": None,
    }
    if carousel:
        node["edge_sidecar_to_children"] = {
            "edges": [
                {
                    "node": {
                        "__typename": "XDTGraphImage" if child else "XDTGraphVideo",
                        "id": str(int(media_id) + child + 1),
                        "shortcode": media_id_to_shortcode(int(media_id) + child + 1),
                        "dimensions": {"height": 1350, "width": 1080},
                        "display_url": f"https://synthetic.invalid/display/{media_id}_{child}.jpg",
                        "is_video": child == 0,
                        "video_view_count": plays // 3 if child == 0 else None,
                        "video_play_count": None,
                    }
                }
                for child in range(3)
            ]
        }
    else:
        node |= {
            "thumbnail_src": f"https://synthetic.invalid/thumb/{media_id}.jpg",
            "video_url": f"https://synthetic.invalid/video/{media_id}.mp4",
            "video_play_count": plays,
            "video_view_count": int(plays * rng.uniform(0.02, 0.2)),
            "video_duration": round(rng.uniform(6, 90), 3),
            "has_audio": True,
            "product_type": "clips",
            "clips_music_attribution_info": {
                "artist_name": ACCOUNTS[account][0],
                "song_name": "Original audio",
                "uses_original_audio": True,
                "should_mute_audio": False,
                "should_mute_audio_reason": "",
                "audio_id": str(990_000_000_000 + number),
            },
        }
    if number == 7:  # the owner hid like counts
        node["edge_media_preview_like"] = {"count": -1}
        node["like_and_view_counts_disabled"] = True
    return envelope(node)


def grown(rng: random.Random, first: dict[str, Any]) -> dict[str, Any]:
    """The same post two days later: more plays, likes and comments; more followers."""
    node = dict(first["data"]["data"]["xdt_shortcode_media"])
    factor = rng.uniform(1.05, 1.6)
    node["video_play_count"] = int(node["video_play_count"] * factor)
    if node["edge_media_preview_like"]["count"] >= 0:
        node["edge_media_preview_like"] = {
            "count": int(node["edge_media_preview_like"]["count"] * factor)
        }
    comments = dict(node["edge_media_to_parent_comment"])
    comments["count"] = int(comments["count"] * rng.uniform(1.02, 1.3))
    node["edge_media_to_parent_comment"] = comments
    node["owner"] = dict(node["owner"])
    node["owner"]["edge_followed_by"] = {
        "count": int(node["owner"]["edge_followed_by"]["count"] * 1.01)
    }
    return envelope(node)


def record_documented_example(api: FakeAPI) -> None:
    path = ROOT / "cassettes" / "documented_example.yaml"
    path.unlink(missing_ok=True)
    api.date = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    with replay(path, mode="all"), Client(KEY, base_url=api.base_url) as client:
        client.video_metadata("https://www.instagram.com/reels/DLlGZiCOBQ0/")
    print(f"wrote {path.relative_to(ROOT)}")


def record_demo(api: FakeAPI) -> None:
    rng = random.Random(20260302)
    posts = {}
    for number in range(64):
        response = post(rng, number, number % len(ACCOUNTS))
        shortcode = response["data"]["data"]["xdt_shortcode_media"]["shortcode"]
        posts[shortcode] = response
    codes = list(posts)
    for shortcode, response in posts.items():
        api.set_payload(shortcode, response)
    for shortcode in codes[10:64:15]:  # 4 posts deleted or made private before the fetch
        api.set_for(shortcode, "null_media")
    refreshed = [
        c
        for c in codes
        if c not in codes[10:64:15] and posts[c]["data"]["data"]["xdt_shortcode_media"]["is_video"]
    ][:20]
    path = ROOT / "cassettes" / "demo.yaml"
    path.unlink(missing_ok=True)
    common = {"api_key": KEY, "base_url": api.base_url, "progress": False, "rate": 1000.0}
    with tempfile.TemporaryDirectory() as folder, replay(path, mode="all"):
        archive = Path(folder) / "archive.jsonl"
        api.date = FIRST_FETCH
        first = collect(codes, archive=archive, **common)
        api.date = SECOND_FETCH
        for shortcode in refreshed:
            api.set_payload(shortcode, grown(rng, posts[shortcode]))
        second = collect(refreshed, archive=archive, refresh_older_than=timedelta(0), **common)
    print(f"wrote {path.relative_to(ROOT)}: {dict(first.outcomes)}, then {dict(second.outcomes)}")


#: The fake's port is part of every recorded URI: a fixed one makes the same bytes every time.
PORT = 37855


def main() -> None:
    with FakeAPI(port=PORT) as api:
        record_documented_example(api)
        api.reset()
        record_demo(api)


if __name__ == "__main__":
    main()
