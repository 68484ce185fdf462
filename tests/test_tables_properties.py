"""Property-based: mutated payloads only ever give frames of the declared schemas, never a raise."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igresearch.schema import SCHEMAS
from igresearch.tables import to_tables
from igresearch.testing import FakeAPI

FIXTURES = Path(__file__).parent / "fixtures"
BASES = [FakeAPI.media_for("DLlGZiCOBQ0")] + [
    json.loads(path.read_text(encoding="utf-8")) for path in sorted(FIXTURES.glob("*.json"))
]
GOOD = FakeAPI.media_for("C0ffee12345")


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*prefix, index))
    return found


junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.characters(categories=["Cs"])  # lone surrogates, as JSON escapes can produce
    | st.just("x" * 100_000),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    candidates = paths(document)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = document
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(junk)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_payloads_give_declared_schemas_and_never_raise(document: Any) -> None:
    tables = to_tables([document, GOOD])
    for name, schema in SCHEMAS.items():
        assert getattr(tables, name).schema == schema
    assert "C0ffee12345" in tables.media["shortcode"].to_list(), "a bad record lost another"
    assert tables.media.height + tables.errors.height == 2, "one row or one error per record"
    assert tables.errors["record"].to_list() in ([], ["record 0"])


@settings(max_examples=100, deadline=None)
@given(junk)
def test_any_json_value_is_an_error_row_at_worst(value: Any) -> None:
    tables = to_tables([value])
    assert tables.media.height + tables.errors.height == 1
    for name, schema in SCHEMAS.items():
        assert getattr(tables, name).schema == schema
