"""igresearch: Instagram video metadata for research, from memories.ai's API.

The public API (see README.md, "Python API"): collect posts into an archive, build typed
tables, replay recordings offline, compute metrics, draw figures and write reports.
``igresearch.metrics``, ``igresearch.plots`` and ``igresearch.report`` (and ``write_report``
and ``verify_report``) load on first use, so ``import igresearch`` does not load matplotlib.

With the environment variable ``IGRESEARCH_OFFLINE=1``, importing igresearch switches on its
network block (:func:`igresearch.testing.block_network`): nothing but 127.0.0.1 and ::1 can be
reached from then on.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if os.environ.get("IGRESEARCH_OFFLINE") == "1":
    from ._network_block import block_network

    block_network()

from .archive_cassette import cassette_from_archive
from .build import build_tables
from .cassettes import cassette_path, replay
from .client import Client
from .collect import collect
from .demo import run_demo
from .errors import (
    APIError,
    ArchiveFormatError,
    ArchiveLockedError,
    AuthError,
    CassetteError,
    IgResearchError,
    InsufficientCreditsError,
    InvalidURLError,
    MediaUnavailableError,
    RateLimitError,
    ResponseFormatError,
    RetryAfterError,
    TablesLockedError,
    WrongPostError,
)
from .pseudonymize import pseudonymize
from .scan import LazyTables, scan_tables
from .tables import Tables, read_tables, to_tables
from .urls import canonical_url, parse_shortcode

if TYPE_CHECKING:
    from . import metrics, plots, report
    from .report import write_report
    from .verify import verify_report

__all__ = [
    "APIError",
    "ArchiveFormatError",
    "ArchiveLockedError",
    "AuthError",
    "CassetteError",
    "Client",
    "IgResearchError",
    "InsufficientCreditsError",
    "InvalidURLError",
    "LazyTables",
    "MediaUnavailableError",
    "RateLimitError",
    "ResponseFormatError",
    "RetryAfterError",
    "Tables",
    "TablesLockedError",
    "WrongPostError",
    "__version__",
    "build_tables",
    "canonical_url",
    "cassette_from_archive",
    "cassette_path",
    "collect",
    "metrics",
    "parse_shortcode",
    "plots",
    "pseudonymize",
    "read_tables",
    "replay",
    "report",
    "run_demo",
    "scan_tables",
    "to_tables",
    "verify_report",
    "write_report",
]

# Loaded on first use (PEP 562): plots imports matplotlib.
_LAZY_MODULES = frozenset({"metrics", "plots", "report"})


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "write_report":
        from .report import write_report

        return write_report
    if name == "verify_report":
        from .verify import verify_report

        return verify_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
