"""Recording and offline replay of API calls (vcrpy cassettes), shared by notebooks and tests.

``with replay("cassettes/demo.yaml"):`` makes every request the client sends (single fetches and
``collect``) come from the cassette; code above the client cannot tell a replay from the network.
Cassettes stay ordinary vcrpy cassettes, with three project settings:

- **Safe:** the ``Authorization`` header, cookies, and any other header, body or URL text equal to
  the key are removed before an interaction is kept in memory, so nothing written holds the key.
  ``Set-Cookie`` is dropped from responses; compressed bodies are stored decoded.
- **Matching** on method, endpoint (the last three path segments, e.g.
  ``/instagram/video/metadata``) and the body's meaning (channel and shortcode, so key order,
  whitespace and URL forms do not matter), not on host or base path. Several recordings of the
  same request replay in recorded order.
- **Fast:** interactions are indexed by that match key, so replay costs the same per request
  whatever the cassette's size (stock vcrpy scans every interaction for every request).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import threading
from collections import defaultdict
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import CassetteError, InvalidURLError
from .urls import parse_shortcode

__all__ = ["MODES", "replay"]

MODES = ("none", "once", "new_episodes", "all")
REDACTED = "<REDACTED>"

_active: list[replay] = []  # process-wide: collect's worker threads must see it too
_active_lock = threading.Lock()


class replay(contextlib.ContextDecorator):  # used like a function: `with replay(...)`
    """Replay (or record) the API calls made inside a ``with`` block or a decorated function.

    Parameters
    ----------
    cassette
        Path of the cassette (YAML).
    mode
        ``"none"``: replay only, a request not in the cassette raises :class:`CassetteError`, and
        no API key is needed. ``"once"``: record if the cassette does not exist, else replay.
        ``"new_episodes"``: replay what is recorded, record what is not. ``"all"``: record
        everything anew (recordings made in the same session are all kept, in order).

    Examples
    --------
    >>> from igresearch import Client, cassette_path, replay
    >>> with replay(cassette_path("documented_example.yaml")), Client() as client:
    ...     client.video_metadata("DLlGZiCOBQ0")["code"]
    '0000'
    """

    def __init__(self, cassette: str | os.PathLike[str], *, mode: str = "none") -> None:
        if mode not in MODES:
            raise ValueError(f"Unknown replay mode {mode!r}: use one of {', '.join(MODES)}.")
        self.path = Path(cassette)
        self.mode = mode
        self._context: Any = None

    def __repr__(self) -> str:
        return f"replay({str(self.path)!r}, mode={self.mode!r})"

    def __enter__(self) -> replay:
        if self.mode == "none" and not self.path.is_file():
            raise CassetteError(
                f"No cassette at {self.path}. Record one with: "
                f"igresearch record URL ... --cassette {self.path}"
            )
        config = _vcr().get_merged_config(path=str(self.path), record_mode=self.mode)
        self._context = _indexed_cassette().use(**config)
        self._context.__enter__()
        with _active_lock:
            _active.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _active_lock:
            _active.remove(self)
        self._context.__exit__(exc_type, exc, tb)

    def miss(self, body: dict[str, Any]) -> CassetteError:
        """The error for a request this cassette does not hold."""
        meaning = body_meaning(json.dumps(body).encode())
        what = meaning[1] if isinstance(meaning, tuple) else body
        return CassetteError(
            f"The cassette {self.path} holds no (further) recording of {what} "
            f"on channel {body.get('channel')!r}. Record it with: igresearch record "
            f"{body.get('video_url')} --channel {body.get('channel')} --cassette {self.path}"
        )


def keyless() -> bool:
    """Whether a replay-only cassette is active, so requests need no API key."""
    with _active_lock:
        return any(active.mode == "none" for active in _active)


def recording() -> bool:
    """Whether a cassette that may record is active (vcrpy records on one thread only)."""
    with _active_lock:
        return any(active.mode != "none" for active in _active)


def cassette_miss(error: BaseException, body: dict[str, Any]) -> CassetteError | None:
    """Translate vcrpy's "cannot overwrite" error into a :class:`CassetteError`."""
    if type(error).__name__ != "CannotOverwriteExistingCassetteException":
        return None
    with _active_lock:
        active = _active[-1] if _active else None
    return active.miss(body) if active else CassetteError(str(error))


def cassette_path(name: str) -> Path:
    """A cassette bundled with igresearch (``documented_example.yaml``, ``demo.yaml``)."""
    from importlib import resources

    path = Path(str(resources.files("igresearch.bundled").joinpath(name)))
    if not path.is_file():
        raise CassetteError(f"igresearch bundles no cassette named {name!r}.")
    return path


# --- vcrpy settings ---------------------------------------------------------------------------


def _vcr() -> Any:
    try:
        import vcr
    except ImportError as error:  # pragma: no cover - vcrpy is a dependency
        raise ImportError("Replay needs vcrpy: pip install vcrpy") from error
    recorder = vcr.VCR(
        match_on=["method", "endpoint", "meaning"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("endpoint", lambda r1, r2: _endpoint(r1.path) == _endpoint(r2.path))
    recorder.register_matcher(
        "meaning", lambda r1, r2: body_meaning(r1.body) == body_meaning(r2.body)
    )
    return recorder


def _endpoint(path: str) -> str:
    return "/" + "/".join(path.rstrip("/").split("/")[-3:])


def body_meaning(body: Any) -> Any:
    """What a request body asks for: (channel, shortcode), else the raw body."""
    raw = body.encode() if isinstance(body, str) else body
    try:
        data = json.loads(raw) if raw else {}
        return (data.get("channel"), parse_shortcode(str(data["video_url"])))
    except (ValueError, TypeError, AttributeError, KeyError, InvalidURLError):
        return raw


def _match_key(request: Any) -> Any:
    return (request.method, _endpoint(request.path), body_meaning(request.body))


def _secrets(request: Any) -> list[str]:
    values = [request.headers.get("Authorization"), os.environ.get("MEMORIES_API_KEY")]
    return [value for value in values if value and value != REDACTED]


def _scrub_request(request: Any) -> Any:
    secrets = _secrets(request)
    request = copy.deepcopy(request)
    request.headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in ("authorization", "cookie") and value not in secrets
    }
    for secret in secrets:
        if isinstance(request.body, bytes):
            request.body = request.body.replace(secret.encode(), REDACTED.encode())
        elif isinstance(request.body, str):
            request.body = request.body.replace(secret, REDACTED)
        request.uri = request.uri.replace(secret, REDACTED)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {
        name: values
        for name, values in response.get("headers", {}).items()
        if name.lower() not in ("set-cookie", "set-cookie2")
    }
    secret = os.environ.get("MEMORIES_API_KEY")
    body = response.get("body", {})
    if secret and isinstance(body.get("string"), bytes | str):
        text = body["string"]
        body["string"] = (
            text.replace(secret.encode(), REDACTED.encode())
            if isinstance(text, bytes)
            else text.replace(secret, REDACTED)
        )
    return response


@functools.cache
def _indexed_cassette() -> Any:
    """vcrpy's Cassette, finding responses through an index on the match key (made on first use,
    so that importing igresearch does not import vcrpy)."""
    from vcr.cassette import Cassette

    class IndexedCassette(Cassette):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._index: defaultdict[Any, list[int]] = defaultdict(list)
            self._indexed = 0
            self._play_lock = threading.Lock()

        def _responses(self, request: Any) -> Any:
            request = self._before_record_request(request)
            for index in range(self._indexed, len(self.data)):
                self._index[_match_key(self.data[index][0])].append(index)
            self._indexed = len(self.data)
            for index in self._index.get(_match_key(request), ()):
                yield index, self.data[index][1]

        def play_response(self, request: Any) -> Any:
            with self._play_lock:  # two threads must not play the same recording
                return super().play_response(request)

    return IndexedCassette
