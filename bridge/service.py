"""The long-running bridge: project watcher, job queue, DAW transports and the spool loop.

On every debounced project save (see :mod:`bridge.watch`) one job runs: the incremental label
pass of :class:`bridge.watch.jobs.LabelJob`. Its Plan is then delivered by one rule:

1. the project's DAW answers on its live transport (REAPER over OSC, Ardour over OSC): apply it
   live, right now;
2. otherwise, when ``write_closed_projects`` is on and the DAW is not running at all, write
   the Plan into the project file (atomic replace, backup kept, refused if the file changed);
3. otherwise keep it pending, where the DAW-side action "Apply pending plan" picks it up.

Every step is logged with its reason. A malformed project is logged with file and line and the
bridge waits for the next save; nothing in a job can stop the service.

    >>> service = BridgeService(load_config())          # doctest: +SKIP
    >>> service.run_forever()  # until SIGINT / SIGTERM  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.config import Config
from bridge.daw.live import (  # noqa: F401  (re-exported: the service's public names)
    DawNotAnswering,
    LiveTransport,
    daw_running,
    default_transport,
)
from bridge.plan import Edit, Plan, PlanError, RenameTrack
from bridge.watch.jobs import JobQueue, JobResult, LabelJob, ProposalMemory, edit_value
from bridge.watch.observer import ProjectWatcher
from bridge.watch.saves import OwnWrites

log = logging.getLogger("bridge.service")

PENDING_TITLE = "Label stems (on save)"
"""How a pending plan from a save is titled in the DAW's undo history and messages."""
LIVE = "live"
WRITTEN = "written"
PENDING = "pending"
FAILED = "failed"


@dataclass
class Delivery:
    """What happened to one Plan."""

    project: Path
    how: str
    """``live``, ``written``, ``pending`` or ``failed``."""
    detail: str
    edits: int
    at: float = field(default_factory=time.time)
    plan: Plan | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    """Where the time went: ``load``, ``render``, ``label`` (the job), ``deliver``."""


# -- pending plans -------------------------------------------------------------------------
def merge_plans(old: Plan, new: Plan) -> Plan:
    """``old`` with ``new`` on top: a newer edit of the same kind for the same track wins."""
    keys = {(e.track, e.op) for e in new}
    merged: list[Edit] = [e for e in old if (e.track, e.op) not in keys]
    merged.extend(new)
    return Plan(merged)


class MergingPending:
    """The pending-plan store (:class:`bridge.daw.pending.PendingPlans`) as a save sees it.

    ``put`` adds to the plan already waiting (a newer edit of the same kind for a track wins).
    ``replace_labels`` swaps the label edits waiting for the newest whole label plan: names
    are numbered over the whole session, so an earlier "Snare" may have to become "Snare 1",
    and a track named by hand since must lose its waiting rename. Edits of other kinds
    (levels, EQ, routing) stay in both cases."""

    def __init__(self, folder: Path) -> None:
        from bridge.daw.pending import PendingPlans

        self.store = PendingPlans(folder)

    def get(self, project: str | Path) -> tuple[Plan, dict[str, Any]] | None:
        return self.store.get(project)

    def take(self, project: str | Path) -> tuple[Plan, dict[str, Any]] | None:
        return self.store.take(project)

    def discard(self, project: str | Path) -> bool:
        return self.store.discard(project)

    def path_for(self, project: str | Path) -> Path:
        return self.store.path_for(project)

    def put(self, project: str | Path, plan: Plan, *, title: str = PENDING_TITLE) -> Path:
        merged = merge_plans(self._waiting(project), plan)
        return self.store.put(project, merged, title=title)

    def replace_labels(self, project: str | Path, plan: Plan, *,
                       title: str = PENDING_TITLE) -> tuple[Path, int, list[str]]:
        """Replace the label edits waiting for ``project`` (renames, colours, folders) by
        ``plan``, the whole label plan as it stands now; edits of other kinds stay.

        Returns (where, edits waiting, what became of the earlier renames, in words)."""
        old = self._waiting(project)
        kept = [e for e in old if e.op not in LABEL_OPS]
        new = Plan([*kept, *plan])
        where = self.store.put(project, new, title=title)
        return where, len(new), _label_changes(old, new)

    def _waiting(self, project: str | Path) -> Plan:
        try:
            found = self.store.get(project)
        except PlanError as exc:
            log.warning("%s; replacing it", exc)
            found = None
        return found[0] if found else Plan()


LABEL_OPS = frozenset({"rename_track", "set_color", "move_to_folder"})
"""The edits a save's labelling decides: a pending plan's edits of these kinds are replaced as
a whole by the newest labelling; other kinds (levels, EQ, routing) are left where they are."""


def _label_changes(old: Plan, new: Plan) -> list[str]:
    """What became of the renames waiting in ``old`` now that ``new`` waits instead."""
    renames = {e.track: e for e in new if isinstance(e, RenameTrack)}
    notes: list[str] = []
    for edit in old:
        if not isinstance(edit, RenameTrack):
            continue
        now = renames.get(edit.track)
        who = edit.track_name or edit.track
        if now is None:
            notes.append(f"{who}: {edit.name!r} withdrawn")
        elif now.name != edit.name:
            notes.append(f"{who}: {edit.name!r} is now {now.name!r}")
    return notes


# -- the service -----------------------------------------------------------------------------
TransportFactory = Callable[[str, Config, Any], "LiveTransport | None"]


class BridgeService:
    """Watcher + job queue + delivery. ``start()``/``stop()``, or ``run_forever()``.

    ``folders`` overrides ``config.watch_folders``. ``dry_run`` logs Plans and delivers
    nothing. ``transport_factory`` builds the live transport of a DAW on first use.
    """

    def __init__(self, config: Config, *, folders: Iterable[str | Path] | None = None,
                 dry_run: bool = False, spool: bool = True,
                 transport_factory: TransportFactory | None = None,
                 job: LabelJob | None = None) -> None:
        self.config = config
        self.dry_run = dry_run
        self.folders = [Path(f) for f in (folders if folders is not None
                                          else config.watch_folders)]
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.own_writes = OwnWrites()
        # a dry run must not remember anything: the real run after it proposes everything
        memory_path = ":memory:" if dry_run else config.memory_path
        self.memory = job.memory if job is not None else ProposalMemory(memory_path)
        self.job = job or LabelJob(self.memory, config.stems_dir, rename_all=config.rename_all,
                                   min_confidence=config.min_confidence,
                                   folders=config.label_folders)
        self.queue = JobQueue(self._handle)
        self.watcher = ProjectWatcher(self.folders, self._saved, debounce_s=config.debounce_s,
                                      recursive=config.recursive, own_writes=self.own_writes,
                                      ignore=[config.data_dir],
                                      sources=self.memory.projects_using)
        self.settle_s = max(0.5, 2.0 * config.debounce_s)
        """How long a project that does not parse right after a change is given to settle
        before it is read once more (an editor writing it in place may not be done)."""
        self._transport_factory = transport_factory or default_transport
        self._transports: dict[str, LiveTransport] = {}
        self._retry_at: dict[str, float] = {}
        self.pending = MergingPending(config.pending_dir)
        self._use_spool = spool
        self._spool: Any = None
        self.deliveries: deque[Delivery] = deque(maxlen=200)
        self.errors: deque[tuple[Path, str]] = deque(maxlen=200)
        self._stop = threading.Event()
        self._started = False
        self._delivered = threading.Condition()

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            self.job.warm()
        except Exception as exc:  # the first job reports it properly
            log.warning("could not start the label workers early: %s", exc)
        self.queue.start()
        self.watcher.start()
        if self._use_spool:
            self._start_spool()
        conf = self.config.min_confidence
        log.info("bridge running: debounce %d ms, write_closed_projects=%s, rename_all=%s, "
                 "min_confidence=%s, data in %s%s", self.config.debounce_ms,
                 self.config.write_closed_projects, self.config.rename_all,
                 "labeller's own" if conf is None else f"{conf:.2f}", self.config.data_dir,
                 " (dry run: nothing is delivered)" if self.dry_run else "")

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        log.info("stopping: watcher, jobs, transports")
        self.watcher.stop()
        if not self.queue.stop(timeout=60.0):
            log.warning("the running job did not finish within 60 s")
        if self._spool is not None:
            try:
                self._spool.stop()
            except Exception:
                log.exception("stopping the spool loop failed")
            self._spool = None
        for transport in self._transports.values():
            try:
                transport.close()
            except Exception:
                log.exception("closing %s failed", transport.description)
        self._transports.clear()
        try:
            self.job.close()
        except Exception:
            log.exception("stopping the label workers failed")
        self.memory.close()
        log.info("stopped")

    def __enter__(self) -> BridgeService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_spool(self) -> None:
        """Serve the DAW-side actions' requests ("Label stems", "Apply pending plan", ...) from
        the spool folder on a thread of its own."""
        from bridge.daw.spool import SpoolServer

        server = SpoolServer(self.config.spool_path, pending=self.pending)
        stop = threading.Event()
        thread = threading.Thread(target=server.serve, args=(stop,), name="studio-bridge-spool",
                                  daemon=True)
        thread.start()
        self._spool = _SpoolLoop(server, stop, thread)
        log.info("answering DAW actions in %s", self.config.spool_path)

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        """Run until SIGINT or SIGTERM (or :meth:`request_stop`), then shut down cleanly."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("%s received", signal.Signals(signum).name)
        self._stop.set()

    # -- for tests and benchmarks ----------------------------------------------------------
    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until pending saves are reported and every job is done."""
        end = time.monotonic() + timeout
        while True:
            if not self.watcher.flush(max(0.0, end - time.monotonic())):
                return False
            if not self.queue.wait_idle(max(0.0, end - time.monotonic())):
                return False
            if self.watcher.flush(0) and not self.queue.busy:
                return True

    def wait_delivery(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until at least ``count`` deliveries happened in total."""
        end = time.monotonic() + timeout
        with self._delivered:
            while len(self.deliveries) < count:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._delivered.wait(left)
        return True

    def process_now(self, project: str | Path, daw: str | None = None) -> None:
        """Queue a project as if it had just been saved (``studio-bridge watch --scan``)."""
        from bridge.watch.saves import project_kind

        path = Path(project).resolve()
        kind = daw or project_kind(path)
        if kind is None:
            raise ValueError(f"{path}: not a REAPER or Ardour project")
        self.queue.submit(path, kind)

    # -- the work ------------------------------------------------------------------------------
    def _saved(self, path: Path, daw: str) -> None:
        if not self.queue.submit(path, daw):
            log.debug("%s: already queued", path.name)

    def _handle(self, path: Path, daw: str) -> None:
        try:
            self._handle_save(path, daw)
        finally:
            try:
                self.job.after_job()
            except Exception:
                log.exception("cleaning up after the job failed")

    def _handle_save(self, path: Path, daw: str) -> None:
        try:
            result = self._run_job(path, daw)
        except Exception as exc:  # never let one project stop the bridge
            self._job_failed(path, exc)
            return
        if result is None:
            return
        log.info("%s", result.summary())
        for guid, where in result.missing.items():
            log.info("%s: track %s not analysed: missing media: %s", path.name,
                     _track_label(result, guid), where)
        for guid, problem in result.problems.items():
            log.info("%s: track %s not analysed: %s", path.name, _track_label(result, guid),
                     problem)
        for guid, guesses in result.unknown.items():
            log.info("%s: %s: not renamed (unknown: %s)", path.name,
                     _track_name(result, guid), guesses)
        for edit, why in result.dropped:
            log.debug("%s: not proposed: %s (%s)", path.name, edit, why)
        if not result.plan:
            if result.full_plan is not None and not self.dry_run:
                self._refresh_pending(result)
            return
        for edit in result.plan:
            log.info("%s: propose %s", path.name, edit)
        if self.dry_run:
            self._record(Delivery(path, "dry-run", "dry run: nothing delivered",
                                  len(result.plan), plan=result.plan))
            return
        t0 = time.perf_counter()
        delivery = self.deliver(result)
        delivery.timings_s = {**result.timings_s, "deliver": time.perf_counter() - t0}
        if delivery.how != FAILED:
            self.memory.record(path, result.plan, delivery.how)
        if delivery.how in (LIVE, WRITTEN) and result.full_plan is not None:
            # a plan left waiting by an earlier save must not undo this one's names later
            self._refresh_pending(result)
        self._record(delivery)

    def _run_job(self, path: Path, daw: str) -> JobResult | None:
        """The job; a project that does not parse right after a change is read once more
        after :attr:`settle_s` (an editor may still be writing it in place) before it counts
        as malformed. None when a newer save of it is already queued."""
        try:
            return self.job.run(path, daw)
        except Exception as exc:
            if not _is_parse_error(exc):
                raise
            log.debug("%s: does not parse yet (%s); reading it again in %.2f s", path.name,
                      exc, self.settle_s)
        if self._stop.wait(self.settle_s):
            return None
        if self.queue.is_waiting(path):
            log.debug("%s: changed again meanwhile; the next job reads it", path.name)
            return None
        return self.job.run(path, daw)

    def _refresh_pending(self, result: JobResult) -> None:
        """Nothing new to propose, but a plan waits: keep it what the labelling says now (a
        track renamed by hand or removed since loses its waiting rename)."""
        assert result.full_plan is not None
        try:
            found = self.pending.get(result.project)
        except PlanError:
            return
        if not found:
            return
        old = [e for e in found[0] if e.op in LABEL_OPS]
        if ({(e.track, e.op, edit_value(e)) for e in old}
                == {(e.track, e.op, edit_value(e)) for e in result.full_plan}):
            return
        try:
            where, total, notes = self.pending.replace_labels(result.project, result.full_plan)
        except Exception as exc:
            log.error("%s: could not update the pending plan: %s", result.project.name, exc)
            return
        log.info("%s: pending plan replaced: %d edit(s) waiting in %s%s", result.project.name,
                 total, where, "; " + "; ".join(notes) if notes else "")

    def _job_failed(self, path: Path, exc: Exception) -> None:
        if _is_parse_error(exc):
            line = getattr(exc, "line", None)
            where = f"line {line}" if line is not None else "file"
            text = getattr(exc, "message", None) or str(exc)
            message = (f"{path}: malformed project ({where}: {text}); "
                       "nothing changed, waiting for the next save")
            log.warning("%s", message)
        elif isinstance(exc, (OSError, ValueError)):
            message = f"{path}: cannot read the project: {exc}; waiting for the next save"
            log.error("%s", message)
        else:
            message = f"{path}: job failed: {type(exc).__name__}: {exc}"
            log.error("%s", message, exc_info=exc)
        self.errors.append((path, message))

    def _record(self, delivery: Delivery) -> None:
        with self._delivered:
            self.deliveries.append(delivery)
            self._delivered.notify_all()

    def transport(self, daw: str) -> LiveTransport | None:
        """The live transport of ``daw``, built on first use; a failed build (port in use,
        module missing) is retried after 30 s rather than on every save."""
        cached = self._transports.get(daw)
        if cached is not None:
            return cached
        now = time.monotonic()
        if now < self._retry_at.get(daw, 0.0):
            return None
        try:
            built = self._transport_factory(daw, self.config, self.pending)
        except Exception as exc:
            log.warning("no live transport for %s: %s", daw, exc)
            built = None
        if built is None:
            self._retry_at[daw] = now + 30.0
        else:
            self._transports[daw] = built
        return built

    def deliver(self, result: JobResult) -> Delivery:
        """Apply ``result.plan`` by the delivery rule (module docstring); never raises."""
        path, plan, session = result.project, result.plan, result.session
        assert session is not None
        transport = self.transport(result.daw)
        if transport is not None:
            try:
                account = transport.apply(plan, session)
            except DawNotAnswering as exc:
                log.info("%s: %s does not answer (%s)", path.name, transport.description, exc)
            except Exception as exc:
                log.error("%s: live apply through %s failed: %s", path.name,
                          transport.description, exc)
            else:
                log.info("%s: %d edit(s) applied live through %s (%s)", path.name,
                         len(plan), transport.description, account)
                return Delivery(path, LIVE, account, len(plan), plan=plan)
        if self.config.write_closed_projects and result.daw != "reaper":
            log.info("%s: %s project files are not written by the bridge", path.name, result.daw)
        elif self.config.write_closed_projects:
            if daw_running(result.daw):
                log.info("%s: %s is running (the project may be open): not writing the file",
                         path.name, result.daw)
            else:
                try:
                    detail = self._write_project(result)
                except Exception as exc:
                    log.error("%s: writing the project file failed: %s; keeping it pending",
                              path.name, exc)
                else:
                    log.info("%s: %s", path.name, detail)
                    return Delivery(path, WRITTEN, detail, len(plan), plan=plan)
        try:
            where, total = self._keep_pending(result)
        except Exception as exc:
            log.error("%s: could not store the pending plan: %s", path.name, exc)
            return Delivery(path, FAILED, str(exc), len(plan), plan=plan)
        detail = f"kept pending in {where} ({total} edit(s) waiting for 'Apply pending plan')"
        log.info("%s: %s", path.name, detail)
        return Delivery(path, PENDING, detail, len(plan), plan=plan)

    def _keep_pending(self, result: JobResult) -> tuple[Path, int]:
        """Store the Plan for "Apply pending plan"; (where, edits waiting).

        With the whole label plan at hand (``result.full_plan``) the label edits waiting are
        replaced by it, not added to: names are numbered over the session as it will be, so
        an earlier "Snare" may have to become "Snare 1". Otherwise the Plan is merged in."""
        if result.full_plan is not None:
            where, total, notes = self.pending.replace_labels(result.project, result.full_plan)
            if notes:
                log.info("%s: pending plan replaced, not added to: %s", result.project.name,
                         "; ".join(notes))
            return Path(where), total
        where = self.pending.put(result.project, result.plan)
        found = self.pending.get(result.project)
        return Path(where), len(found[0]) if found else len(result.plan)

    def _write_project(self, result: JobResult) -> str:
        """Write the Plan into the closed project file; the bridge's own write is remembered
        so the watcher does not take it for a save."""
        if result.daw != "reaper":
            raise RuntimeError(f"writing {result.daw} project files is not supported")
        from bridge.daw.rpp_file import apply_plan
        from bridge.session import rpp
        from bridge.session.project_file import read_with_fingerprint, safe_write

        path = result.project
        data, fingerprint = read_with_fingerprint(path)
        if fingerprint.sha256 != result.sha256:
            raise RuntimeError("the project changed on disk after it was analysed")
        doc = rpp.parse(data, source=str(path))
        applied = apply_plan(doc, result.plan, path.parent)
        new = doc.to_bytes()
        for edit, why in applied.skipped:
            log.info("%s: not written: %s (%s)", path.name, edit, why)
        if new == data:
            return "nothing to write"
        self.own_writes.remember(path, new)
        backup = safe_write(path, new, fingerprint)
        # the new content is what is processed now, so the watcher's echo is a no-op too
        from bridge.watch.saves import content_hash

        self.memory.set_project_sha(path, content_hash(new))
        return (f"{len(applied.applied)} edit(s) written into the project file "
                f"(backup {backup}); {len(applied.skipped)} left for the DAW")


@dataclass
class _SpoolLoop:
    server: Any
    stop_event: threading.Event
    thread: threading.Thread

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5.0)


def _is_parse_error(exc: BaseException) -> bool:
    """A project that does not parse (truncated, half written, not a project at all)."""
    from bridge.session.rpp import RppParseError

    if isinstance(exc, RppParseError):
        return True
    try:
        from bridge.session.ardour import ArdourSessionError
    except ImportError:
        return False
    return isinstance(exc, ArdourSessionError)


def _track_name(result: JobResult, guid: str) -> str:
    if result.session is not None:
        try:
            return result.session.track(guid).name or guid
        except KeyError:
            pass
    return guid


def _track_label(result: JobResult, guid: str) -> str:
    if result.session is not None:
        try:
            track = result.session.track(guid)
            return f"{track.index + 1} {track.name!r}"
        except KeyError:
            pass
    return guid

