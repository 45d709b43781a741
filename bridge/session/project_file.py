"""Writing project files without ever damaging one.

Every write goes through :func:`safe_write`: it refuses when the file changed on disk since it
was read (the engineer saved in between), keeps a timestamped backup of what was there, writes a
temporary file beside the target, flushes it to disk and renames it over the target in one
atomic step. A crash at any point leaves either the old file or the new one, never half of each.

Backups live in the project's own data folder, ``<project folder>/.studio-bridge/backups/``,
named ``<file name>.<YYYYmmdd-HHMMSS>``, so REAPER's own ``.rpp-bak`` files are left alone.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

DATA_FOLDER = ".studio-bridge"
"""The bridge's own folder inside a project folder (backups, pending plans, renders)."""


class ProjectChangedError(RuntimeError):
    """The project file changed on disk since it was read; nothing was written."""


@dataclass(frozen=True)
class Fingerprint:
    """What a file looked like when it was read: size, modification time and content hash."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of_bytes(cls, data: bytes, path: Path) -> Fingerprint:
        st = path.stat()
        return cls(len(data), st.st_mtime_ns, hashlib.sha256(data).hexdigest())

    @classmethod
    def of_file(cls, path: Path) -> Fingerprint:
        return cls.of_bytes(path.read_bytes(), path)


def read_with_fingerprint(path: str | Path) -> tuple[bytes, Fingerprint]:
    p = Path(path)
    data = p.read_bytes()
    return data, Fingerprint.of_bytes(data, p)


def backup_folder(project: Path) -> Path:
    return project.parent / DATA_FOLDER / "backups"


def make_backup(path: Path) -> Path:
    """Copy ``path`` into the backup folder under a timestamped name; returns the copy."""
    folder = backup_folder(path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"{path.name}.{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{path.name}.{stamp}-{n}"
    shutil.copy2(path, target)
    return target


NEW_FILE_MODE = 0o666
"""Mode a new file is created with, before the umask: what any program's new file gets."""


def temp_file_beside(path: Path) -> tuple[int, Path]:
    """Create an empty temporary file in ``path``'s folder; returns (descriptor, its path).

    Unlike :func:`tempfile.mkstemp` (always 0600), the file gets ``0666 & ~umask`` from the
    system like any new file, so a new project or copy is as readable as one the DAW saves.
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         NEW_FILE_MODE)
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(f"{path.parent}: no free temporary file name")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    A replaced file keeps its mode; a new one gets the mode any new file gets (umask).
    """
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def safe_write(path: str | Path, data: bytes, expected: Fingerprint | None) -> Path | None:
    """Replace the file at ``path`` with ``data``; returns the backup's path (None for a new file).

    ``expected`` is the fingerprint taken when the file was read; if the file now differs,
    :class:`ProjectChangedError` is raised and nothing is written. Pass None only for a file
    that must not exist yet; its folder is made when missing.
    """
    p = Path(path)
    if expected is None:
        if p.exists():
            raise ProjectChangedError(f"{p}: exists already; refusing to overwrite it")
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(p, data)
        return None
    if not p.exists():
        raise ProjectChangedError(f"{p}: was removed since it was read; nothing written")
    current = p.read_bytes()
    if hashlib.sha256(current).hexdigest() != expected.sha256:
        raise ProjectChangedError(
            f"{p}: changed on disk since it was read (saved in the DAW?); nothing written. "
            "Load it again and re-run."
        )
    backup = make_backup(p)
    atomic_write_bytes(p, data)
    return backup
