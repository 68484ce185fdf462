"""The public surface: what `import igresearch` gives, and what it does not load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import igresearch

ROOT = Path(__file__).parent.parent


def test_all_is_the_documented_api() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in igresearch.__all__:
        assert hasattr(igresearch, name), name
    for name in ("collect", "to_tables", "replay", "Client", "read_tables"):
        assert f"igresearch.{name}" in readme, f"README does not show igresearch.{name}"


def test_import_loads_no_heavy_optional_parts() -> None:
    heavy = "('matplotlib', 'vcr', 'jupyterlab', 'tqdm')"
    code = f"import sys, igresearch; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert igresearch.__version__ == version("igresearch")
