"""A study repository in one command: the templates of ``igresearch init``, written safely.

:func:`init_study` writes the files under ``templates/study`` (shipped as package data) and a
``requirements.txt`` pinning this igresearch, and records each file's SHA-256 in
``.igresearch-init.json``, so that a later ``init --force`` rewrites only the files still as it
wrote them and keeps every file the user changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from .files import make_folder, write_text

__all__ = ["Initialised", "init_study", "requirements"]

MANIFEST = ".igresearch-init.json"
#: Template name -> where it goes in the study (package data cannot hold names starting ".").
_TEMPLATES = {
    "README.md": "README.md",
    "Makefile": "Makefile",
    "urls.txt": "urls.txt",
    "gitignore": ".gitignore",
    "github/workflows/study.yml": ".github/workflows/study.yml",
    "notebooks/analysis.ipynb": "notebooks/analysis.ipynb",
}


@dataclass(frozen=True)
class Initialised:
    """What :func:`init_study` did: the files it wrote, and those it kept because the user
    changed them (or made them) since."""

    written: tuple[str, ...]
    kept: tuple[str, ...]


def requirements(distribution: importlib.metadata.Distribution | None = None) -> str:
    """``requirements.txt`` pinning the installed igresearch: its VCS URL and commit when it
    was installed from one (its ``direct_url.json``), else its version, with a comment.

    Examples
    --------
    >>> from igresearch.study import requirements
    >>> print(requirements().splitlines()[-1])
    igresearch[notebook]==0.1.0
    """
    dist = distribution or importlib.metadata.distribution("igresearch")
    version = dist.version
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        direct = None
    vcs = direct.get("vcs_info") if isinstance(direct, dict) else None
    if isinstance(vcs, dict) and vcs.get("commit_id") and direct.get("url"):
        return (
            f"# igresearch {version}, as installed from {vcs.get('vcs', 'its repository')}\n"
            f"igresearch[notebook] @ {vcs.get('vcs', 'git')}+{direct['url']}@{vcs['commit_id']}\n"
        )
    return (
        f"# igresearch {version} as installed here, not from a VCS URL: install this version\n"
        "# from where you got it, or replace the line with its repository URL and commit.\n"
        f"igresearch[notebook]=={version}\n"
    )


def init_study(directory: str | os.PathLike[str], *, force: bool = False) -> Initialised:
    """Write a study repository into `directory`: ``urls.txt``, ``notebooks/analysis.ipynb``,
    a ``Makefile`` (collect, cassette, report, verify, test), ``.gitignore``, a CI workflow,
    ``requirements.txt`` and ``README.md`` (see the README's "From collection to publication").

    Parameters
    ----------
    directory
        The study's folder, created if missing.
    force
        Write into a folder that is not empty: a file is written when missing, or when it is
        still as ``init`` wrote it (by its SHA-256 in ``.igresearch-init.json``); any other
        file is kept as it is.

    Returns
    -------
    Initialised
        The files written and the files kept, as paths relative to `directory`.

    Raises
    ------
    FileExistsError
        When `directory` is not empty and `force` is false; nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from igresearch.study import init_study
    >>> done = init_study(tempfile.mkdtemp())
    >>> sorted(done.written)[:3], done.kept
    (['.github/workflows/study.yml', '.gitignore', 'Makefile'], ())
    """
    folder = Path(directory)
    if folder.exists() and any(folder.iterdir()) and not force:
        raise FileExistsError(
            f"{folder} is not empty: choose a new folder, or add --force to write the files it "
            "lacks (files you changed are kept)."
        )
    manifest = _read_manifest(folder / MANIFEST)
    written: list[str] = []
    kept: list[str] = []
    for name, text in sorted(_contents().items()):
        path, digest = folder / name, _sha256(text.encode("utf-8"))
        if path.exists() and _sha256(path.read_bytes()) not in (manifest.get(name), digest):
            kept.append(name)
            continue
        make_folder(path.parent, private=False)
        write_text(path, text, private=False)
        manifest[name] = digest
        written.append(name)
    write_text(
        folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n", private=False
    )
    return Initialised(tuple(written), tuple(kept))


def _contents() -> dict[str, str]:
    """Each file of a new study, by its path in the study."""
    root = files("igresearch") / "templates" / "study"
    python = ".".join(platform.python_version_tuple()[:2])
    contents = {
        target: (root / source).read_text(encoding="utf-8").replace("@PYTHON@", python)
        for source, target in _TEMPLATES.items()
    }
    contents["requirements.txt"] = requirements()
    return contents


def _read_manifest(path: Path) -> dict[str, str]:
    """{path: SHA-256} of the files init wrote, or {} (no manifest, or not one init wrote)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict):
        return {}
    return {k: v for k, v in manifest.items() if isinstance(k, str) and isinstance(v, str)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
