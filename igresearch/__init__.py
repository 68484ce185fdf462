"""igresearch: Instagram video metadata for research, from memories.ai's API.

The public API (see README.md): collect posts into an archive, build typed tables, replay
recordings offline.
"""

__version__ = "0.1.0"

from .cassettes import replay
from .client import Client
from .collect import collect
from .errors import (
    APIError,
    AuthError,
    CassetteError,
    IgResearchError,
    InsufficientCreditsError,
    InvalidURLError,
    MediaUnavailableError,
    RateLimitError,
    ResponseFormatError,
)
from .pseudonymize import pseudonymize
from .tables import Tables, read_tables, to_tables
from .urls import canonical_url, parse_shortcode

__all__ = [
    "APIError",
    "AuthError",
    "CassetteError",
    "Client",
    "IgResearchError",
    "InsufficientCreditsError",
    "InvalidURLError",
    "MediaUnavailableError",
    "RateLimitError",
    "ResponseFormatError",
    "Tables",
    "__version__",
    "canonical_url",
    "collect",
    "parse_shortcode",
    "pseudonymize",
    "read_tables",
    "replay",
    "to_tables",
]
