"""Watching project folders: watchdog events in, one ``on_save(path, daw)`` per real save out.

    >>> def saved(path, daw):
    ...     print(daw, path.name)
    >>> watcher = ProjectWatcher(["/music/projects"], saved, debounce_s=0.3)  # doctest: +SKIP
    >>> with watcher:                                                         # doctest: +SKIP
    ...     ...   # REAPER saves /music/projects/song/song.RPP -> "reaper song.RPP"

A folder argument may also be a project file: its folder is watched and only that file counts.
With ``sources`` (source file -> projects that play it), a media file rewritten or replaced
inside the watched folders also reports the projects that play it, so a stem replaced in
place is checked without waiting for the next save.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from bridge.watch.events import Debouncer
from bridge.watch.saves import OwnWrites, is_under, project_kind

log = logging.getLogger("bridge.watch")

OnSave = Callable[[Path, str], None]
SourceLookup = Callable[[Path], list[Path]]

RENAME_QUIET_S = 0.03
"""Quiet time after a rename onto a project file. A rename is atomic: the new project is
complete when it lands, so only stragglers of the same save (a backup being written) need
waiting for. Writes straight into the project file wait the full debounce."""


class WatchError(ValueError):
    """A folder given to the watcher cannot be watched."""


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: ProjectWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if isinstance(event, FileMovedEvent):
            # the rename that finishes a temp-file save: the destination is the project, and
            # it is complete the moment the rename lands
            self._watcher._saw(_text(event.dest_path), renamed=True)
        elif isinstance(event, (FileCreatedEvent, FileModifiedEvent, FileClosedEvent)):
            self._watcher._saw(_text(event.src_path))


def _text(path: str | bytes) -> str:
    return os.fsdecode(path)


class ProjectWatcher:
    """Watches folders (recursively by default) and reports debounced project saves.

    ``on_save`` runs on the debouncer's thread; keep it short (hand the work to a job queue).
    ``ignore`` lists folders whose events never count (the bridge's own data folder).
    """

    def __init__(self, folders: Iterable[str | Path], on_save: OnSave, *,
                 debounce_s: float = 0.3, recursive: bool = True,
                 own_writes: OwnWrites | None = None,
                 ignore: Iterable[str | Path] = (),
                 sources: SourceLookup | None = None) -> None:
        self.on_save = on_save
        self.sources = sources
        self._via_source: dict[Path, Path] = {}
        """Project -> the played file whose change (not a save) brought it up."""
        self._via_lock = threading.Lock()
        self.recursive = recursive
        self.rename_quiet_s = RENAME_QUIET_S
        self.own_writes = own_writes if own_writes is not None else OwnWrites()
        self.ignore = tuple(Path(p).expanduser().resolve() for p in ignore)
        self.folders: list[Path] = []
        self.only_files: set[Path] = set()
        for entry in folders:
            path = Path(entry).expanduser().resolve()
            if path.is_file():
                if project_kind(path) is None:
                    raise WatchError(f"{path}: not a REAPER (.rpp) or Ardour (.ardour) project")
                self.only_files.add(path)
                path = path.parent
            elif not path.is_dir():
                raise WatchError(f"{path}: no such folder")
            if path not in self.folders:
                self.folders.append(path)
        if not self.folders:
            raise WatchError("no folder to watch (give DIR arguments or [watch] folders)")
        self._debouncer: Debouncer[Path] = Debouncer(debounce_s, self._settled)
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._lock = threading.Lock()
        self.events_seen = 0
        """File events that named a project file (before debouncing)."""

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._observer is not None:
                return
            self._debouncer.start()
            observer = Observer()
            handler = _Handler(self)
            for folder in self.folders:
                # a file argument needs only its own folder, never the tree below it
                recursive = self.recursive and not any(f.parent == folder
                                                       for f in self.only_files)
                observer.schedule(handler, str(folder), recursive=recursive)
            observer.daemon = True
            observer.start()
            self._observer = observer
        log.info("watching %s", ", ".join(str(f) for f in self.folders))

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout)
        self._debouncer.stop(timeout)

    def __enter__(self) -> ProjectWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every pending save has been reported (for tests and benchmarks)."""
        return self._debouncer.flush(timeout)

    # -- events ----------------------------------------------------------------------------
    def _saw(self, raw: str, renamed: bool = False) -> None:
        path = Path(raw)
        if project_kind(path) is None:
            self._saw_other(path)
            return
        path = path.resolve()
        if self.only_files and path not in self.only_files:
            return
        if self.ignore and is_under(path, self.ignore):
            return
        if self._in_hidden_folder(path):
            return
        self.events_seen += 1
        log.debug("event for %s", path)
        with self._via_lock:  # the project itself was written: this is a save
            self._via_source.pop(path, None)
        quiet = min(self.rename_quiet_s, self._debouncer.quiet_s) if renamed else None
        self._debouncer.touch(path, quiet)

    def _saw_other(self, path: Path) -> None:
        """A file that is not a project: when a processed project plays it, that project is
        checked again once the file has been quiet for the debounce time."""
        if self.sources is None or path.name.startswith("."):
            return
        path = path.resolve()
        if (self.ignore and is_under(path, self.ignore)) or self._in_hidden_folder(path):
            return
        try:
            projects = self.sources(path)
        except Exception as exc:  # the memory is busy or closed: the next save checks anyway
            log.debug("looking up %s failed: %s", path, exc)
            return
        for project in projects:
            if self.only_files and project not in self.only_files:
                continue
            if not is_under(project, self.folders):
                continue
            log.debug("event for %s (played by %s)", path, project)
            with self._via_lock:
                self._via_source.setdefault(project, path)
            self._debouncer.touch(project)

    def _in_hidden_folder(self, path: Path) -> bool:
        """Inside a hidden folder below a watched one (``.studio-bridge/backups``, ``.git``)."""
        for folder in self.folders:
            try:
                parts = path.relative_to(folder).parts[:-1]
            except ValueError:
                continue
            return any(part.startswith(".") for part in parts)
        return False

    def _settled(self, path: Path) -> None:
        daw = project_kind(path)
        if daw is None:
            return
        if not path.is_file():
            log.debug("%s: gone again before it settled (renamed or deleted)", path)
            return
        log.debug("settled: %s", path)
        with self._via_lock:
            source = self._via_source.pop(path, None)
        if source is not None:
            log.info("check: %s (%s): %s, a file it plays, changed", path, daw, source.name)
        elif self.own_writes.is_own(path):
            log.info("%s: changed by the bridge itself, not a new save", path)
            return
        else:
            log.info("save: %s (%s)", path, daw)
        self.on_save(path, daw)
