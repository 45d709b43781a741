"""Recognising project saves among all the file events a DAW causes.

REAPER saves ``song.RPP`` by writing a temporary file and renaming it over the project, and
keeps the previous version as ``song.rpp-bak``; Ardour writes ``song.ardour`` (also through a
temporary file) and keeps ``song.ardour.bak`` and ``song.pending``. Only the project file itself
counts as a save: backups, temporaries, editor droppings and hidden files do not::

    >>> project_kind("mix/Song.RPP"), project_kind("mix/Song.rpp-bak")
    ('reaper', None)
    >>> project_kind("sess/sess.ardour"), project_kind("sess/sess.ardour.bak")
    ('ardour', None)

The bridge's own writes (a Plan written into a closed project) must not wake it up again:
:class:`OwnWrites` remembers the content it wrote and recognises it by hash.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

REAPER = "reaper"
ARDOUR = "ardour"

PROJECT_SUFFIXES = {".rpp": REAPER, ".ardour": ARDOUR}
"""Project file suffixes (compared case-insensitively) and the DAW that owns them."""

_TEMP_ENDINGS = (".tmp", ".temp", ".part", ".partial", ".swp", ".swx", ".bak", ".pending",
                 ".history", ".rpp-bak", ".rpp-undo", ".rpp-prox", ".rpp-autosave", "~")


def project_kind(path: str | Path) -> str | None:
    """``"reaper"`` or ``"ardour"`` when ``path`` names a project file, else None.

    Hidden files (``.song.RPP.12ab``), backups and temporaries are not projects: a save only
    counts once the real name holds the new content.
    """
    name = Path(path).name
    lower = name.lower()
    if not name or name.startswith((".", "~$", "#")) or lower.endswith(_TEMP_ENDINGS):
        return None
    return PROJECT_SUFFIXES.get(Path(lower).suffix)


def is_under(path: Path, roots: list[Path] | tuple[Path, ...]) -> bool:
    """True when ``path`` lies inside one of ``roots`` (e.g. the bridge's own data folder)."""
    for root in roots:
        try:
            path.relative_to(root)
        except ValueError:
            continue
        return True
    return False


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or None when it cannot be read (gone, mid-rename)."""
    try:
        return content_hash(path.read_bytes())
    except OSError:
        return None


class OwnWrites:
    """The project contents the bridge itself wrote, so their file events are not new saves.

    ``remember(path, data)`` right before writing; ``is_own(path)`` is True while the file on
    disk still holds exactly those bytes. A later save by the DAW (different bytes) ends the
    match and the entry is forgotten.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hashes: dict[Path, str] = {}

    def remember(self, path: str | Path, data: bytes) -> None:
        with self._lock:
            self._hashes[_key(path)] = content_hash(data)

    def is_own(self, path: str | Path) -> bool:
        key = _key(path)
        with self._lock:
            expected = self._hashes.get(key)
        if expected is None:
            return False
        if file_hash(key) == expected:
            return True
        with self._lock:
            if self._hashes.get(key) == expected:
                del self._hashes[key]
        return False

    def __len__(self) -> int:
        with self._lock:
            return len(self._hashes)


def _key(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()
