"""Files the bridge writes get the mode any program's new file gets (0666 & ~umask); a file
replaced in place keeps the mode it had."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bridge.daw.spool import write_json_atomic
from bridge.session.project_file import Fingerprint, safe_write


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_follows_the_umask(tmp_path: Path, mask: int, expected: int) -> None:
    with umask(mask):
        safe_write(tmp_path / "copy.RPP", b"<REAPER_PROJECT\n>\n", None)
        write_json_atomic(tmp_path / "spool" / "request.json", {"a": 1})
    assert mode(tmp_path / "copy.RPP") == expected
    assert mode(tmp_path / "spool" / "request.json") == expected
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    song = tmp_path / "song.RPP"
    song.write_bytes(b"<REAPER_PROJECT\n>\n")
    song.chmod(0o640)
    status = tmp_path / "status.json"
    write_json_atomic(status, {"v": 1})
    status.chmod(0o604)
    with umask(0o077):
        safe_write(song, b"<REAPER_PROJECT\n  TEMPO 120 4 4\n>\n", Fingerprint.of_file(song))
        write_json_atomic(status, {"v": 2})
    assert mode(song) == 0o640 and b"TEMPO" in song.read_bytes()
    assert mode(status) == 0o604 and b'"v": 2' in status.read_bytes()


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"nan": float("nan")})  # strict JSON refuses NaN
    assert list(tmp_path.iterdir()) == []
