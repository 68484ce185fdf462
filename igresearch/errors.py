"""The exceptions igresearch raises, one tree::

    IgResearchError
    ├── InvalidURLError             input is not an Instagram post URL or shortcode
    ├── CassetteError               offline replay cannot answer a request, or read a cassette
    ├── ArchiveLockedError          another collector is writing the same archive
    ├── TablesLockedError           another build is writing the same tables folder
    ├── ArchiveFormatError          a file given as an archive (or responses) is not one
    ├── EmptyFigureError            a figure would show no data (plots.draw says why)
    └── APIError                    the API call failed (carries status, code, message, url, body)
        ├── AuthError               key missing, rejected (401/0401) or account disabled (403/0403)
        ├── InsufficientCreditsError    no credits left (402/0402)
        ├── RateLimitError          still rate-limited (429/0429) after every retry
        ├── RetryAfterError         asked to wait (Retry-After) beyond the retry budget
        ├── MediaUnavailableError   success, but the post is deleted, private or login-walled
        └── ResponseFormatError     the body is HTML, truncated, too large, not strict JSON in
            │                       UTF-8, or an unknown envelope
            └── WrongPostError      the answer describes another post than the one asked for

Messages name the input and the next step. None of them ever contains the API key, nor does an
error's ``body`` (the answer's body, kept for the archive) or ``response``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "APIError",
    "ArchiveFormatError",
    "ArchiveLockedError",
    "AuthError",
    "CassetteError",
    "EmptyFigureError",
    "IgResearchError",
    "InsufficientCreditsError",
    "InvalidURLError",
    "MediaUnavailableError",
    "RateLimitError",
    "ResponseFormatError",
    "RetryAfterError",
    "TablesLockedError",
    "WrongPostError",
]


class IgResearchError(Exception):
    """Base class of every error igresearch raises."""


class InvalidURLError(IgResearchError, ValueError):
    """The input is not an Instagram post, reel or TV URL, nor a bare shortcode."""


class CassetteError(IgResearchError):
    """Offline replay has no recording for a request, or no readable cassette."""

    def __init__(
        self,
        message: str,
        *,
        cassette: Path | None = None,
        url: str | None = None,
        channel: str | None = None,
    ) -> None:
        super().__init__(message)
        #: For a request a replay cannot answer: the cassette (missing, or without a recording
        #: of it), and the post and channel asked for.
        self.cassette, self.url, self.channel = cassette, url, channel


class ArchiveLockedError(IgResearchError):
    """Another collector holds the archive's lock."""


class TablesLockedError(IgResearchError):
    """Another build holds the tables folder's lock."""


class ArchiveFormatError(IgResearchError, ValueError):
    """A file given as an archive, or as a file of responses, is neither: nothing is written."""


class EmptyFigureError(IgResearchError):
    """A figure would show no data: nothing drawn, the message says why and what to do."""


class APIError(IgResearchError):
    """The API call failed; carries HTTP status, API code, message and the Instagram URL."""

    #: Whether a later attempt may succeed (a collection retries these on --retry-failed).
    retriable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        url: str | None = None,
        response: Any = None,
        retriable: bool | None = None,
        date: datetime | None = None,
        body: str | None = None,
        redacted: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.url = url
        self.response = response
        #: The response's Date header, when there was a response.
        self.date = date
        #: The body of the answer, when there was one (at most 64 KiB, as text, the key cut out).
        self.body = body
        #: Whether the key was cut from `body` or `response`.
        self.redacted = redacted
        #: How many requests were sent before giving up (set by the client).
        self.attempts: int | None = None
        if retriable is not None:
            self.retriable = retriable

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"code={self.code!r}, url={self.url!r})"
        )


class AuthError(APIError):
    """The API key is missing, rejected (401/0401) or the account is disabled (403/0403)."""


class InsufficientCreditsError(APIError):
    """The account has no credits left (402/0402)."""


class RateLimitError(APIError):
    """The API still answered 429/0429 after every retry."""

    retriable = True


class RetryAfterError(APIError):
    """The API asked to wait (Retry-After) beyond the retry budget; `resume_at` says until when."""

    retriable = True

    def __init__(self, message: str, *, resume_at: datetime, **details: Any) -> None:
        super().__init__(message, **details)
        #: When the API said requests may be sent again (UTC).
        self.resume_at = resume_at


class MediaUnavailableError(APIError):
    """The API succeeded but the post is deleted, private or login-walled; `.response` holds it."""

    @staticmethod
    def why(reason: str | None) -> str:
        """What an unavailable post's answer says, e.g. from ``locate_media(...).reason``.

        Examples
        --------
        >>> from igresearch.errors import MediaUnavailableError
        >>> MediaUnavailableError.why("media node is null")
        'unavailable (media node is null): deleted, private or visible only when logged in'
        """
        return f"unavailable ({reason}): deleted, private or visible only when logged in"


class ResponseFormatError(APIError):
    """The body is HTML, truncated, too large, not strict JSON in UTF-8, or an envelope igresearch
    does not know."""

    retriable = True


class WrongPostError(ResponseFormatError):
    """The answer describes another post than the one asked for (its shortcode, or media id,
    differs)."""
