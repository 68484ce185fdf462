"""Files written whole or not at all (igresearch.files), through links, never onto devices."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from igresearch.files import write_text


def test_attack_a_file_reached_through_a_symbolic_link_is_replaced_and_the_link_kept(
    tmp_path: Path,
) -> None:
    """Attack: a cassette (or table, or report) kept as a link to a shared file was replaced by
    a regular file on the next write: the link was gone and the shared file silently stayed
    old. The file the link points to is replaced; the link stays a link."""
    shared = tmp_path / "shared" / "study.yaml"
    shared.parent.mkdir()
    shared.write_text("old\n", encoding="utf-8")
    link = tmp_path / "study.yaml"
    link.symlink_to(shared)
    assert write_text(link, "new\n") == link
    assert link.is_symlink() and link.resolve() == shared.resolve()
    assert shared.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in shared.parent.iterdir()) == ["study.yaml"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_attack_a_device_or_a_named_pipe_is_never_replaced(tmp_path: Path) -> None:
    """Attack: a link to /dev/null, or a named pipe, was silently replaced by a regular file.
    Now that writes follow links, the device itself must never be replaced (as root, a rename
    onto /dev/null succeeds): both are refused before anything is written."""
    null = tmp_path / "null.yaml"
    null.symlink_to(os.devnull)
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    for target in (null, pipe):
        with pytest.raises(FileExistsError, match="Not a regular file"):
            write_text(target, "data\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and null.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null.yaml", "pipe.yaml"]
