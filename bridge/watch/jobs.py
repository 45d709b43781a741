"""The work a save triggers: a one-worker job queue and the incremental labelling job.

:class:`JobQueue` runs jobs one at a time on its own thread; a project submitted while it is
still waiting is not queued twice, so a burst of saves yields one job per project.

:class:`LabelJob` is one pass over a saved project:

1. skip when the file's bytes are the ones already processed *and* every source file it used
   then still has the same identity (size, mtime, ctime, inode): a stem rewritten in place
   behind an unchanged project is not missed;
2. load the Session; find tracks whose audio is new or changed (a fingerprint of each track's
   items and their source files' identity), so an untouched 4-minute stem is never rendered
   or analysed again;
3. give the label assistant a stem for those tracks only: the source file itself when the
   track simply plays one whole file (most dragged-in stems: nothing to render, and a label
   does not depend on level), else a dry, pre-fader render of the track;
4. decide names over the labels of *every* labelled track (the new ones and the remembered
   ones), so numbering ("Snare 1", "Snare 2") is what a fresh analysis of the whole project
   gives;
5. drop edits below ``min_confidence``, edits the session already shows, and edits this
   project was already offered (:class:`ProposalMemory`), so nothing is proposed twice.

The memory lives in SQLite (``<data_dir>/watch.sqlite``) and survives restarts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.plan import (
    Edit,
    MoveToFolder,
    Plan,
    RenameTrack,
    SetColor,
    SetMute,
    SetPan,
    SetVolume,
)
from bridge.session.model import Session, Track

log = logging.getLogger("bridge.watch")


# -- the queue ---------------------------------------------------------------------------------
class JobQueue:
    """Run ``handler(path, daw)`` for submitted projects on one worker thread, in order.

    A project already waiting is not added again (its latest save is what the job reads). A
    project submitted while its job runs is queued once more, since the file changed under it.
    Exceptions from the handler are logged; the worker keeps going.
    """

    def __init__(self, handler: Callable[[Path, str], Any], *,
                 name: str = "studio-bridge-jobs") -> None:
        self._handler = handler
        self._name = name
        self._cond = threading.Condition()
        self._waiting: dict[Path, str] = {}
        self._running: Path | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.done = 0
        self.failed = 0
        self.coalesced = 0

    def start(self) -> None:
        if self._thread is None:
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def submit(self, path: Path, daw: str) -> bool:
        """Queue a job; False when the project was already waiting (coalesced)."""
        with self._cond:
            if self._stopped:
                return False
            if path in self._waiting:
                self.coalesced += 1
                return False
            self._waiting[path] = daw
            self._cond.notify_all()
            return True

    def stop(self, timeout: float = 30.0) -> bool:
        """Finish the running job, drop the waiting ones; False if the worker did not end."""
        with self._cond:
            self._stopped = True
            dropped = len(self._waiting)
            self._waiting.clear()
            self._cond.notify_all()
        if dropped:
            log.info("stopping: %d waiting job(s) dropped", dropped)
        if self._thread is None:
            return True
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        self._thread = None
        return not alive

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no job is waiting or running; False on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._running is not None:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def is_waiting(self, path: Path) -> bool:
        """True when a job for ``path`` is queued (not running)."""
        with self._cond:
            return path in self._waiting

    @property
    def busy(self) -> bool:
        with self._cond:
            return bool(self._waiting) or self._running is not None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                path = next(iter(self._waiting))
                daw = self._waiting.pop(path)
                self._running = path
            try:
                self._handler(path, daw)
                self.done += 1
            except Exception:
                self.failed += 1
                log.exception("job for %s failed", path)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()


# -- what was already done -----------------------------------------------------------------
def edit_value(edit: Edit) -> str:
    """What an edit sets, as comparable text (the reason and figures are left out)."""
    data = edit.to_dict()
    for key in ("track", "track_name", "reason", "figures", "op"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True, default=str)


class ProposalMemory:
    """Per project: the file content last processed, each track's audio fingerprint, and every
    edit already proposed. SQLite, safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10.0)
        with self._lock, self._db:
            self._db.executescript(
                """
                PRAGMA journal_mode=WAL;
                CREATE TABLE IF NOT EXISTS projects (
                    project TEXT PRIMARY KEY, sha256 TEXT NOT NULL, processed_at REAL);
                CREATE TABLE IF NOT EXISTS tracks (
                    project TEXT, track TEXT, fingerprint TEXT NOT NULL,
                    PRIMARY KEY (project, track));
                CREATE TABLE IF NOT EXISTS proposals (
                    project TEXT, track TEXT, op TEXT, value TEXT NOT NULL,
                    proposed_at REAL, delivery TEXT,
                    PRIMARY KEY (project, track, op));
                CREATE TABLE IF NOT EXISTS sources (
                    project TEXT, path TEXT, identity TEXT NOT NULL,
                    PRIMARY KEY (project, path));
                CREATE INDEX IF NOT EXISTS sources_by_path ON sources (path);
                CREATE TABLE IF NOT EXISTS labels (
                    project TEXT, track TEXT, key TEXT NOT NULL, label TEXT NOT NULL,
                    PRIMARY KEY (project, track));
                """
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def project_sha(self, project: Path) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT sha256 FROM projects WHERE project=?",
                                   (str(project),)).fetchone()
        return row[0] if row else None

    def set_project_sha(self, project: Path, sha: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO projects VALUES (?,?,?)",
                             (str(project), sha, time.time()))

    def fingerprints(self, project: Path) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT track, fingerprint FROM tracks WHERE project=?",
                                    (str(project),)).fetchall()
        return dict(rows)

    def set_fingerprints(self, project: Path, prints: dict[str, str]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO tracks VALUES (?,?,?)",
                                 [(str(project), t, f) for t, f in prints.items()])

    def was_proposed(self, project: Path, edit: Edit) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM proposals WHERE project=? AND track=? AND op=?",
                (str(project), edit.track, edit.op)).fetchone()
        return row is not None and row[0] == edit_value(edit)

    def record(self, project: Path, plan: Iterable[Edit], delivery: str) -> None:
        now = time.time()
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO proposals VALUES (?,?,?,?,?,?)",
                [(str(project), e.track, e.op, edit_value(e), now, delivery) for e in plan])

    def sources(self, project: Path) -> dict[str, str]:
        """Source file -> its identity (JSON) when the project was last processed."""
        with self._lock:
            rows = self._db.execute("SELECT path, identity FROM sources WHERE project=?",
                                    (str(project),)).fetchall()
        return dict(rows)

    def set_sources(self, project: Path, identities: dict[str, str]) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM sources WHERE project=?", (str(project),))
            self._db.executemany("INSERT OR REPLACE INTO sources VALUES (?,?,?)",
                                 [(str(project), p, i) for p, i in identities.items()])

    def projects_using(self, source: Path) -> list[Path]:
        """Projects whose last processed version plays ``source`` (an absolute path)."""
        with self._lock:
            rows = self._db.execute("SELECT project FROM sources WHERE path=?",
                                    (str(source),)).fetchall()
        return [Path(r[0]) for r in rows]

    def labels(self, project: Path) -> dict[str, tuple[str, str]]:
        """Track GUID -> (key, label JSON): the labeller's answer for the audio in ``key``."""
        with self._lock:
            rows = self._db.execute("SELECT track, key, label FROM labels WHERE project=?",
                                    (str(project),)).fetchall()
        return {t: (k, lab) for t, k, lab in rows}

    def set_labels(self, project: Path, labels: dict[str, tuple[str, str]]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO labels VALUES (?,?,?,?)",
                                 [(str(project), t, k, lab) for t, (k, lab) in labels.items()])

    def forget(self, project: Path) -> None:
        with self._lock, self._db:
            for table in ("projects", "tracks", "proposals", "sources", "labels"):
                self._db.execute(f"DELETE FROM {table} WHERE project=?", (str(project),))


def _labeller_version() -> str:
    """Which shipped labeller model answers: remembered labels of another one are not reused."""
    from bridge.assist.labeller import ModelError
    from bridge.assist.labeller.model import load_model

    try:
        info = load_model().info
    except ModelError:
        return ""
    return "/".join(info.get(k, "") for k in ("trained", "variant", "features_version"))


# -- fingerprints --------------------------------------------------------------------------
def source_identity(path: Path | None) -> tuple[int, int, int, int] | None:
    """``(size, mtime_ns, ctime_ns, inode)`` of a file, None when it cannot be read.

    The same identity the analysis cache keys on: a file rewritten in place changes its
    ctime even when the tool that wrote it puts size and mtime back; a file replaced by a
    rename gets a new inode.
    """
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def session_sources(session: Session) -> dict[str, str]:
    """Every audio file the session plays (absolute path) -> its identity as JSON text."""
    out: dict[str, str] = {}
    for track in session.tracks:
        for item in track.items:
            source = item.source
            if source is None or not source.is_audio or source.path is None:
                continue
            path = source.path.resolve()
            out[str(path)] = json.dumps(source_identity(path))
    return out


def track_fingerprint(track: Track) -> str | None:
    """A short hash of what a track plays: its items' placement and each source file's
    identity (path and :func:`source_identity`). None for a track without audio items.

    Fader, pan, name, colour and where items sit on the timeline are left out on purpose:
    they do not change what the track *is*, so moving a fader or sliding an item along never
    triggers a new analysis.
    """
    parts: list[Any] = []
    for item in track.items:
        source = item.source
        if source is None or not source.is_audio:
            continue
        stat = source_identity(source.path)
        parts.append((
            round(item.length_s, 6), round(item.source_offset_s, 6),
            round(item.fade_in_s, 4), round(item.fade_out_s, 4), item.mute,
            round(item.playrate, 6), source.kind, str(source.path or source.file), stat,
        ))
    if not parts:
        return None
    return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:20]


DIRECT_COVERAGE = 0.9
"""A lone item that plays at least this share of its source file labels as the file itself."""


def direct_stem(track: Track) -> Path | None:
    """The source file that *is* this track's audio, when nothing needs rendering to hear
    what the track is: one unmuted audio item at normal speed with both channels, playing at
    least :data:`DIRECT_COVERAGE` of its file. None otherwise (render the stem)."""
    audio = [i for i in track.items if i.source is not None and i.source.kind != "MIDI"]
    if len(audio) != 1 or len(track.items) != 1:
        return None
    item = audio[0]
    source = item.source
    if (source is None or not source.is_audio or not source.exists or item.mute
            or abs(item.playrate - 1.0) > 1e-6 or getattr(item, "channel_mode", 0) != 0):
        return None
    try:
        import soundfile as sf

        duration = sf.info(str(source.path)).duration
    except Exception:  # unreadable header: the renderer reports it properly
        return None
    if duration <= 0:
        return None
    played = min(item.length_s, max(0.0, duration - item.source_offset_s))
    return source.path if played >= DIRECT_COVERAGE * duration else None


def already_in_session(edit: Edit, track: Track) -> bool:
    """True when the session already shows what the edit would set."""
    if isinstance(edit, RenameTrack):
        return track.name == edit.name
    if isinstance(edit, SetColor):
        return (track.color or "").lower() == edit.color.lower()
    if isinstance(edit, SetVolume):
        return abs(track.volume_db - edit.volume_db) < 0.05
    if isinstance(edit, SetPan):
        return abs(track.pan - edit.pan) < 0.005
    if isinstance(edit, SetMute):
        return track.mute == edit.mute
    if isinstance(edit, MoveToFolder):  # any folder will do: the engineer's, or ours
        return track.folder_level > 0 or track.is_folder
    return False


# -- the job -------------------------------------------------------------------------------
Loader = Callable[[Path], Session]
Renderer = Callable[..., Any]
Planner = Callable[..., Plan]


@dataclass
class JobResult:
    """What one job found and decided. ``plan`` holds only edits worth proposing now."""

    project: Path
    daw: str
    session: Session | None = None
    plan: Plan = field(default_factory=Plan)
    full_plan: Plan | None = None
    """Every label edit a fresh analysis of the whole project proposes now (names numbered
    over all labelled tracks), less what the session already shows: what a pending plan
    should hold. None when the planner gives no labels to decide over."""
    changed: list[str] = field(default_factory=list)
    """GUIDs of tracks whose audio was new or changed (or never labelled)."""
    analysed: int = 0
    """How many tracks the labeller heard in this job."""
    skipped: str | None = None
    """Why nothing was analysed (unchanged file, no new audio), or None."""
    dropped: list[tuple[Edit, str]] = field(default_factory=list)
    """Edits the assistant made that are not proposed, with why."""
    missing: dict[str, str] = field(default_factory=dict)
    """Track GUID -> the item and file whose media is missing (not analysed; tried again)."""
    problems: dict[str, str] = field(default_factory=dict)
    """Track GUID -> why it could not be analysed otherwise (unreadable, MIDI only, ...)."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Track GUID -> the labeller's best guesses for a track it left unknown ("keys 0.47 /
    strings 0.31"), for tracks heard in this job."""
    sources_changed: list[str] = field(default_factory=list)
    """Source files whose identity changed behind an unchanged project file."""
    timings_s: dict[str, float] = field(default_factory=dict)
    sha256: str = ""
    direct: int = 0
    """How many of the analysed tracks were labelled from their source file (no render)."""

    def summary(self) -> str:
        name = self.project.name
        if self.skipped:
            return f"{name}: {self.skipped}"
        tracks = len(self.session.tracks) if self.session else 0
        took = sum(self.timings_s.values())
        missing = f"{len(self.missing)} missing media, " if self.missing else ""
        return (f"{name}: {tracks} tracks, {self.analysed} new/changed analysed "
                f"({self.direct} straight from their file), {missing}"
                f"{len(self.plan)} edit(s) to propose, {len(self.dropped)} dropped, "
                f"{len(self.problems)} problem(s), {took:.2f} s")


def missing_media(track: Track) -> str | None:
    """The first item of ``track`` whose audio file is not there (``"item 2 (kick.wav):
    Audio/kick.wav"``), None when every played file exists."""
    for number, item in enumerate(track.items, start=1):
        source = item.source
        if item.mute or source is None or item.length_s <= 0 or not source.is_audio:
            continue
        if not source.exists:
            return f"item {number} ({item.name or source.file}): {source.file}"
    return None


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _label_json(result: Any) -> str:
    return json.dumps({"label": result.label, "confidence": float(result.confidence),
                       "scores": {k: float(v) for k, v in result.scores.items()},
                       "evidence": result.evidence, "figures": result.figures},
                      default=_jsonable)


def _label_from_json(text: str) -> Any:
    from bridge.assist.labeller import LabelResult

    data = json.loads(text)
    return LabelResult(data["label"], data["confidence"], data["scores"], data["evidence"],
                       data.get("figures") or {})


def best_guesses(result: Any, count: int = 2) -> str:
    """``"keys 0.47 / strings 0.31"``: the labeller's top classes with their scores."""
    top = sorted(result.scores.items(), key=lambda kv: -kv[1])[:count]
    return " / ".join(f"{k} {v:.2f}" for k, v in top) or "no class scored"


def _default_loader(daw: str) -> Loader:
    if daw == "reaper":
        from bridge.session.rpp_session import load_session
        return load_session
    if daw == "ardour":
        try:
            from bridge.session.ardour import load_session as load_ardour
        except ImportError as exc:
            raise RuntimeError(f"Ardour sessions cannot be read yet: {exc}") from None
        return load_ardour
    raise ValueError(f"unknown DAW {daw!r}")


def _default_renderer() -> Renderer:
    from bridge.audio.render import render_stems
    return render_stems


def _default_planner() -> Planner:
    try:
        import bridge.assist.label  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"the label assistant is not available: {exc}") from None
    return ParallelPlanner()


def _label_chunk(session: Session, stems: dict[str, Path], rename_all: bool,
                 min_confidence: float | None) -> list[Any]:
    """Worker side of :class:`ParallelPlanner`: label some of the session's stems."""
    from bridge.assist.label import label_tracks

    return label_tracks(session, stems, rename_all=rename_all, min_confidence=min_confidence)


class ParallelPlanner:
    """``plan_labels`` with the labelling spread over worker processes.

    Labelling is the costly part of a cold session (about half a second per 4-minute stem on
    one core); names and colours are then decided once over all labels, exactly as
    ``plan_labels`` does (``plan_from_labels(label_tracks(...))``), so numbering ("Gtr 1",
    "Gtr 2") does not depend on how the work was split. Few stems (a save that changed one or
    two) are labelled in-process: starting work elsewhere would only add latency. The worker
    pool starts on first use and lives until :meth:`close`.
    """

    def __init__(self, workers: int | None = None, min_parallel: int = 4) -> None:
        import os

        self.workers = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
        self.min_parallel = min_parallel
        self._pool: Any = None
        self._warming: list[Any] = []
        self._used = False
        self.recycle_after_job = True
        """Replace the workers after a job that used them (see :meth:`after_job`)."""
        self._lock = threading.Lock()

    def __call__(self, session: Session, stems: dict[str, Path], *, rename_all: bool = False,
                 min_confidence: float | None = None, folders: bool = False) -> Plan:
        from bridge.assist.label import plan_from_labels

        labels = self.label(session, stems, rename_all=rename_all,
                            min_confidence=min_confidence)
        return plan_from_labels(labels, session, folders=folders)

    def label(self, session: Session, stems: dict[str, Path], *, rename_all: bool = False,
              min_confidence: float | None = None) -> list[Any]:
        """``label_tracks(session, stems, ...)``, spread over the workers when worth it."""
        from bridge.assist.label import label_tracks

        if self.workers < 2 or len(stems) < self.min_parallel:
            return label_tracks(session, stems, rename_all=rename_all,
                                min_confidence=min_confidence)
        guids = list(stems)
        chunks = [{g: stems[g] for g in guids[i::self.workers]} for i in range(self.workers)]
        best: dict[str, Any] = {}
        try:
            pool = self._get_pool()
            futures = [pool.submit(_label_chunk, session, chunk, rename_all, min_confidence)
                       for chunk in chunks if chunk]
            for future in futures:
                for label in future.result():
                    guid = label.track.guid
                    if label.result is not None or guid not in best:
                        best[guid] = label
        except Exception as exc:
            # a worker died (killed, out of memory) or could not start: label here instead
            log.warning("label workers failed (%s: %s); labelling in the bridge process",
                        type(exc).__name__, exc)
            self._discard_pool()
            return label_tracks(session, stems, rename_all=rename_all,
                                min_confidence=min_confidence)
        self._used = True
        # in track order, with the session's own Track objects (names, colours as saved)
        by_guid = {t.guid: t for t in session.tracks}
        return [type(lab)(by_guid[g], lab.result, lab.error)
                for g, lab in sorted(best.items(), key=lambda kv: by_guid[kv[0]].index)]

    def after_job(self) -> None:
        """Workers hold ~300 MB of audio buffers and imports after a big job: replace them by
        fresh ones (about 40 MB each, started in the background) rather than hold that while
        the bridge idles. Called once the job's Plan has been delivered."""
        if self._used and self.recycle_after_job:
            self._discard_pool()
            self.warm()
        self._used = False

    def warm(self) -> None:
        """Start the worker processes now (they import the labeller and load its model), so the
        first big save does not wait for them. Returns at once; the start runs in the pool."""
        if self.workers < 2:
            return
        pool = self._get_pool()
        # one task per worker makes each of them start
        self._warming = [pool.submit(time.sleep, 0.2) for _ in range(self.workers)]

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until the workers :meth:`warm` started are up; False on timeout."""
        from concurrent.futures import wait

        done, not_done = wait(self._warming, timeout=timeout)
        return not not_done

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # spawn: the bridge runs threads (watcher, OSC), which fork does not copy safely
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                                 initializer=_warm_worker)
            return self._pool

    def _discard_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def _warm_worker() -> None:
    """Load the labeller and its model once per worker, not per stem."""
    import signal

    # Ctrl-C reaches the whole process group: the bridge shuts its workers down itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from bridge.assist.labeller.model import load_model

        load_model()
    except Exception:  # reported properly when the first stem is labelled
        pass


def stems_folder(root: Path, project: Path) -> Path:
    """Where a project's stems go: one folder per project path under ``root``."""
    tag = hashlib.sha1(str(project).encode()).hexdigest()[:10]
    return root / f"{project.stem}-{tag}"


class LabelJob:
    """The incremental labelling pass for one saved project (see the module docstring).

    ``load``, ``render`` and ``plan`` default to the project's own session reader, stem
    renderer and label assistant; they are parameters so each step can be measured alone.
    """

    def __init__(self, memory: ProposalMemory, stems_root: str | Path, *,
                 rename_all: bool = False, min_confidence: float | None = None,
                 folders: bool = False,
                 load: Callable[[str], Loader] | None = None,
                 render: Renderer | None = None, plan: Planner | None = None) -> None:
        self.memory = memory
        self.stems_root = Path(stems_root)
        self.rename_all = rename_all
        self.min_confidence = min_confidence
        self.folders = folders
        self._load = load or _default_loader
        self._render = render
        self._plan = plan

    def warm(self) -> None:
        """Get the labeller ready before the first save (worker processes, model)."""
        if self._plan is None:
            try:
                self._plan = _default_planner()
            except RuntimeError as exc:
                log.warning("%s", exc)
                return
        warm = getattr(self._plan, "warm", None)
        if callable(warm):
            warm()

    @property
    def planner(self) -> Planner | None:
        return self._plan

    def after_job(self) -> None:
        """Housekeeping once a job's result has been delivered (worker recycling)."""
        hook = getattr(self._plan, "after_job", None)
        if callable(hook):
            hook()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until the labeller is ready (for benchmarks and tests)."""
        waiter = getattr(self._plan, "wait_ready", None)
        return bool(waiter(timeout)) if callable(waiter) else True

    def close(self) -> None:
        """Stop worker processes the planner started (if any)."""
        closer = getattr(self._plan, "close", None)
        if callable(closer):
            closer()

    def changed_sources(self, project: Path) -> list[str]:
        """Source files the project used when last processed whose identity is not the same
        any more (rewritten in place, replaced, gone, back)."""
        return [path for path, identity in self.memory.sources(project).items()
                if json.dumps(source_identity(Path(path))) != identity]

    def _planner(self) -> Planner | None:
        if self._plan is None:
            try:
                self._plan = _default_planner()
            except RuntimeError:
                return None  # reported when there is something to label
        return self._plan

    def run(self, project: Path, daw: str, *, force: bool = False) -> JobResult:
        """Process one save. Raises what the session reader raises on a malformed project."""
        project = Path(project).resolve()
        result = JobResult(project, daw)
        t0 = time.perf_counter()
        data = project.read_bytes()
        result.sha256 = hashlib.sha256(data).hexdigest()
        if not force and self.memory.project_sha(project) == result.sha256:
            result.sources_changed = self.changed_sources(project)
            if not result.sources_changed:
                result.skipped = "unchanged since it was last processed"
                return result
            log.debug("%s: unchanged, but %d file(s) it plays changed: %s", project.name,
                      len(result.sources_changed), ", ".join(result.sources_changed))

        session = self._load(daw)(project)
        result.session = session
        # identities as they are before anything is read: a file rewritten while the job runs
        # is seen as changed by the next check
        sources = session_sources(session)
        t1 = time.perf_counter()
        result.timings_s["load"] = t1 - t0

        planner = self._planner()
        labeller = getattr(planner, "label", None)
        by_labels = callable(labeller)
        wants: Callable[[Track], bool] = lambda _t: True  # noqa: E731
        cached: dict[str, tuple[str, str]] = {}
        conf_key = "" if self.min_confidence is None else f"{self.min_confidence:.6g}"
        if by_labels:
            # a remembered label holds only for the model that gave it (an upgrade retrains)
            conf_key += f"|{_labeller_version()}"
            from bridge.assist.label import wants_rename

            def wants(track: Track) -> bool:
                return wants_rename(track, self.rename_all)

            cached = {} if force else self.memory.labels(project)

        known = {} if force else self.memory.fingerprints(project)
        prints: dict[str, str] = {}
        for track in session.tracks:
            fp = track_fingerprint(track)
            if fp is None:
                continue
            prints[track.guid] = fp
            if by_labels:
                # a track that may be renamed needs a label for the audio it plays now
                if wants(track) and cached.get(track.guid, ("",))[0] != f"{fp}|{conf_key}":
                    result.changed.append(track.guid)
            elif known.get(track.guid) != fp:
                result.changed.append(track.guid)
        if not result.changed:
            result.skipped = "no new or changed audio"
            if by_labels:  # names may still move: a track renamed by hand, one removed
                result.full_plan, result.plan = self._decide(
                    project, session, [], cached, prints, conf_key, wants, result)
            self._remember(project, result, prints, sources)
            return result

        stems: dict[str, Path] = {}
        to_render: list[str] = []
        for guid in result.changed:
            track = session.track(guid)
            missing = missing_media(track)
            if missing is not None:
                result.missing[guid] = missing
                continue
            direct = direct_stem(track)
            if direct is not None:
                stems[guid] = direct
            else:
                to_render.append(guid)
        result.direct = len(stems)
        if to_render:
            render = self._render or _default_renderer()
            out = stems_folder(self.stems_root, project)
            report = render(session, out, tracks=to_render, pre_fader=True, mix=False)
            result.problems.update(report.problems)
            stems.update({guid: Path(p) for guid, p in report.stems.items()})
        result.analysed = len(stems)
        t2 = time.perf_counter()
        result.timings_s["render"] = t2 - t1

        if by_labels:
            new: list[Any] = []
            if stems:
                new = [lab for lab in labeller(session, stems, rename_all=self.rename_all,
                                               min_confidence=self.min_confidence)
                       if lab.track.guid in stems]
            result.full_plan, result.plan = self._decide(
                project, session, new, cached, prints, conf_key, wants, result)
        else:
            plan = Plan()
            if stems:
                if planner is None:
                    planner = self._plan = _default_planner()  # raises: says what is missing
                extra: dict[str, Any] = {}
                if self.min_confidence is not None:
                    extra["min_confidence"] = self.min_confidence
                if self.folders:
                    extra["folders"] = True
                plan = planner(session, stems, rename_all=self.rename_all, **extra)
            result.plan = self._filter(project, session, plan, result.dropped)
        result.timings_s["label"] = time.perf_counter() - t2
        self._remember(project, result, prints, sources)
        return result

    def _remember(self, project: Path, result: JobResult, prints: dict[str, str],
                  sources: dict[str, str]) -> None:
        # a track with missing media or that failed to render is tried again on the next save
        retry = set(result.problems) | set(result.missing)
        self.memory.set_fingerprints(project, {g: f for g, f in prints.items() if g not in retry})
        self.memory.set_sources(project, sources)
        self.memory.set_project_sha(project, result.sha256)

    def _decide(self, project: Path, session: Session, new: list[Any],
                cached: dict[str, tuple[str, str]], prints: dict[str, str], conf_key: str,
                wants: Callable[[Track], bool], result: JobResult) -> tuple[Plan, Plan]:
        """Names and colours over the labels of every track that may be renamed: the ones
        heard now and the remembered ones, exactly as a fresh analysis of the whole project
        decides them. Returns (everything worth proposing now, what was not proposed yet)."""
        from bridge.assist.label import TrackLabel, plan_from_labels

        heard = {lab.track.guid: lab for lab in new}
        keep: dict[str, tuple[str, str]] = {}
        labels: list[Any] = []
        for track in session.tracks:
            if not wants(track):
                continue
            guid = track.guid
            label = heard.get(guid)
            if label is not None:
                if label.result is not None:
                    keep[guid] = (f"{prints[guid]}|{conf_key}", _label_json(label.result))
                    if not label.result.is_known:
                        result.unknown[guid] = best_guesses(label.result)
                elif label.error:
                    result.problems.setdefault(guid, label.error)
            elif guid in prints and cached.get(guid, ("",))[0] == f"{prints[guid]}|{conf_key}":
                try:
                    label = TrackLabel(track, _label_from_json(cached[guid][1]))
                except (ValueError, KeyError, TypeError):
                    label = None
            if label is None:  # as a fresh analysis sees it: a track without a label
                why = result.missing.get(guid) or result.problems.get(guid) or "not labelled"
                label = TrackLabel(track, error=why)
            labels.append(label)
        if keep:
            self.memory.set_labels(project, keep)
        fresh = plan_from_labels(labels, session, folders=self.folders)
        full = self._filter(project, session, fresh, [], check_memory=False)
        return full, self._filter(project, session, fresh, result.dropped)

    def _filter(self, project: Path, session: Session, plan: Plan,
                dropped: list[tuple[Edit, str]], *, check_memory: bool = True) -> Plan:
        kept = Plan()
        low_tracks: set[str] = set()
        for edit in plan:
            conf = edit.figures.get("confidence") if edit.figures else None
            if (self.min_confidence is not None and isinstance(conf, (int, float))
                    and conf < self.min_confidence):
                dropped.append((edit, f"confidence {conf:.2f} < {self.min_confidence:.2f}"))
                low_tracks.add(edit.track)
                continue
            try:
                track = session.track(edit.track)
            except KeyError:
                dropped.append((edit, "track no longer in the session"))
                continue
            if already_in_session(edit, track):
                dropped.append((edit, "the session already shows it"))
                continue
            if check_memory and self.memory.was_proposed(project, edit):
                dropped.append((edit, "already proposed for this project"))
                continue
            kept.add(edit)
        if low_tracks:
            # a colour without its rename would say something the label does not back up
            for edit in list(kept):
                if edit.track in low_tracks and isinstance(edit, SetColor):
                    kept.edits.remove(edit)
                    dropped.append((edit, "its track's label is below min_confidence"))
        return kept
