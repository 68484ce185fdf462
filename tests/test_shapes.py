"""Finding the media node in every wrapping."""

from __future__ import annotations

from typing import Any

import pytest

from igresearch.shapes import Located, locate_media

NODE = {"__typename": "XDTGraphVideo", "id": "1", "shortcode": "AAAAAAAAAAB"}


@pytest.mark.parametrize(
    ("payload", "shape"),
    [
        (
            {"code": "0000", "data": {"data": {"xdt_shortcode_media": NODE}}},
            "data.xdt_shortcode_media",
        ),
        ({"data": {"xdt_shortcode_media": NODE}, "status": "ok"}, "data.xdt_shortcode_media"),
        ({"success": "True", "data": {"xdt_shortcode_media": NODE}}, "data.xdt_shortcode_media"),
        ({"data": {"shortcode_media": NODE}}, "data.shortcode_media"),
        ({"graphql": {"shortcode_media": NODE}}, "graphql.shortcode_media"),
        (
            {"code": "0000", "data": {"graphql": {"shortcode_media": NODE}}},
            "graphql.shortcode_media",
        ),
        ({"code": "0000", "data": NODE}, "media_node"),
        (NODE, "media_node"),
    ],
)
def test_graphql_wrappings(payload: dict[str, Any], shape: str) -> None:
    assert locate_media(payload) == Located(shape, NODE)


def test_mobile_items() -> None:
    item = {"pk": "1", "code": "AAAAAAAAAAB", "media_type": 2}
    assert locate_media({"data": {"items": [item], "num_results": 1}}) == Located("items", item)
    assert locate_media({"items": []}) == Located("items", None, "items list is empty")


def test_apify_items() -> None:
    item = {"shortCode": "AAAAAAAAAAB", "likesCount": 3}
    assert locate_media({"code": "0000", "data": [item]}) == Located("apify_item", item)
    failed = {
        "url": "https://www.instagram.com/p/X/",
        "error": "not_found",
        "errorDescription": "Post does not exist",
    }
    assert locate_media({"data": [failed]}) == Located("apify_item", None, "Post does not exist")
    assert locate_media({"data": []}) == Located("apify_item", None, "empty result list")


@pytest.mark.parametrize(
    "payload",
    [
        {"data": {"data": {"xdt_shortcode_media": None}, "status": "ok"}},
        {"data": {"xdt_shortcode_media": {}}},
        {"code": "0000", "data": None},
    ],
)
def test_unavailable(payload: dict[str, Any]) -> None:
    located = locate_media(payload)
    assert located is not None and located.node is None and located.reason


@pytest.mark.parametrize(
    "payload", [None, 3, "text", {}, {"msg": "hi"}, {"data": 5}, [[[[[[[]]]]]]]]
)
def test_unknown_shapes(payload: Any) -> None:
    assert locate_media(payload) is None
