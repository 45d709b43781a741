"""Applying a Plan to a running DAW: one live transport per DAW, one question: is it there?

:func:`default_transport` gives the project's own transport (REAPER over its OSC surface,
Ardour over its OSC surface); ``apply(plan, session)`` either applies every edit or raises
:class:`DawNotAnswering` quickly, having sent nothing. The watching service and
``studio-bridge mix --apply`` deliver through here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from bridge.config import Config
from bridge.plan import Plan
from bridge.session.model import Session

log = logging.getLogger("bridge.daw.live")


class DawNotAnswering(ConnectionError):
    """The DAW did not answer on its live transport: the project is not open there (or the
    DAW's OSC surface is off). Nothing was sent."""


class LiveTransport(Protocol):
    """A way to apply a Plan to a running DAW."""

    daw: str
    description: str

    def apply(self, plan: Plan, session: Session) -> str:
        """Apply every edit; returns a short account for the log. Raises
        :class:`DawNotAnswering` (quickly: within ``answer_timeout_ms``) when the DAW is not
        there, anything else on failure."""
        ...

    def close(self) -> None: ...


# -- is the DAW running at all? ----------------------------------------------------------
_PROCESS_NAMES = {
    "reaper": ("reaper",),
    "ardour": ("ardour", "hardour", "luasession", "ardour7-lua", "ardour8-lua"),
}


def daw_running(daw: str) -> bool:
    """True when a process of ``daw`` runs on this machine (so its project may be open).

    Uses psutil when installed, else ``/proc``. When neither can tell, answers True: the
    safe side, since a project file is only written when its DAW is certainly closed.
    """
    prefixes = _PROCESS_NAMES.get(daw, (daw,))
    names: Iterable[str]
    try:
        import psutil

        names = (p.info.get("name") or "" for p in psutil.process_iter(["name"]))
    except ImportError:
        proc = Path("/proc")
        if not proc.is_dir():
            return True
        found = []
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    found.append((entry / "comm").read_text().strip())
                except OSError:
                    continue
        names = found
    return any(name.lower().startswith(prefixes) for name in names)


def default_transport(daw: str, config: Config, pending: Any) -> LiveTransport | None:
    """The project's own live transport for ``daw``, or None when it is not available.
    ``pending`` is the pending-plan store edits OSC cannot carry go to."""
    if daw == "reaper":
        return _reaper_transport(config, pending)
    if daw == "ardour":
        return _ardour_transport(config)
    return None


class ReaperLive:
    """REAPER's OSC control surface (:class:`bridge.daw.reaper.ReaperOsc`) as a live transport.

    Renames, faders, pans and mutes go over OSC; what OSC cannot carry (colours, takes) is
    stored as the project's pending plan and REAPER's "Apply pending plan" action is triggered.
    With ``[reaper] one_undo = true`` the whole Plan goes that way, as one undo step.
    """

    daw = "reaper"

    def __init__(self, config: Config, pending: Any = None) -> None:
        from bridge.daw.reaper import ReaperOsc

        self.config = config
        self.pending = pending
        self.osc = ReaperOsc(config.reaper_host, config.reaper_port,
                             config.reaper_feedback_port, timeout_s=config.answer_timeout_s)
        self.description = (f"REAPER OSC at {config.reaper_host}:{config.reaper_port} "
                            f"(feedback on 127.0.0.1:{config.reaper_feedback_port})")

    def apply(self, plan: Plan, session: Session) -> str:
        from bridge.daw.reaper import ReaperNotReachable

        try:
            # ReaperOsc.apply asks REAPER first (a bank select must bring feedback)
            report = self.osc.apply(plan, session, pending=self.pending, project=session.path,
                                    one_undo=self.config.reaper_one_undo)
        except ReaperNotReachable as exc:
            raise DawNotAnswering(str(exc)) from None
        for problem in report.problems:
            log.warning("%s: %s", session.path.name, problem)
        return report.summary()

    def close(self) -> None:
        self.osc.close()


class ArdourLive:
    """Ardour's OSC surface (:class:`bridge.daw.ardour.ArdourOsc`) as a live transport; every
    edit is read back. The session is not saved for the engineer: that stays their call."""

    daw = "ardour"

    def __init__(self, config: Config) -> None:
        from bridge.daw.ardour import OscClient

        self.config = config
        self.description = f"Ardour OSC at {config.ardour_host}:{config.ardour_port}"
        self._client_type = OscClient

    def answers(self) -> bool:
        with self._client_type(self.config.ardour_host, self.config.ardour_port) as client:
            client.send("/set_surface", 0, 31, 16384, 0, 0, 0, 0)
            try:
                client.strip_list(timeout_s=self.config.answer_timeout_s)
            except (TimeoutError, OSError):
                return False
        return True

    def apply(self, plan: Plan, session: Session) -> str:
        from bridge.daw.ardour import ArdourOsc

        if not self.answers():
            raise DawNotAnswering(f"no answer to /strip/list within "
                                  f"{self.config.answer_timeout_ms} ms")
        routes = [(t.guid, t.name) for t in session.tracks]
        with ArdourOsc(self.config.ardour_host, self.config.ardour_port, routes=routes,
                       timeout_s=max(1.0, self.config.answer_timeout_s)) as daw:
            report = daw.apply(plan)
        for failed in report.failed:
            log.warning("%s: not applied in Ardour: %s: %s", session.path.name, failed.edit,
                        failed.detail)
        if not report.applied:
            raise RuntimeError("Ardour applied none of the edits")
        return f"{len(report.applied)} applied and read back, {len(report.failed)} failed"

    def close(self) -> None:
        pass


def _reaper_transport(config: Config, pending: Any) -> LiveTransport | None:
    try:
        import bridge.daw.reaper  # noqa: F401
    except ImportError as exc:
        log.warning("the REAPER OSC transport is not available (%s); plans are kept pending",
                    exc)
        return None
    return ReaperLive(config, pending)


def _ardour_transport(config: Config) -> LiveTransport | None:
    try:
        import bridge.daw.ardour  # noqa: F401
    except ImportError as exc:
        log.warning("the Ardour OSC transport is not available (%s); plans are kept pending",
                    exc)
        return None
    return ArdourLive(config)




def apply_live(plan: Plan, session: Session, config: Config | None = None) -> str:
    """Apply ``plan`` in the DAW that has ``session`` open; returns the transport's account.

    Raises :class:`DawNotAnswering` when the DAW is not there (nothing sent). For REAPER, edits
    OSC cannot carry go to the pending plan and "Apply pending plan" is triggered.
    """
    from bridge.config import load_config
    from bridge.daw.pending import PendingPlans

    config = config or load_config()
    pending = PendingPlans(config.pending_dir)
    transport = default_transport(session.daw, config, pending)
    if transport is None:
        raise DawNotAnswering(f"no live transport for {session.daw}")
    try:
        account = transport.apply(plan, session)
    finally:
        transport.close()
    return f"{len(plan)} edit(s) applied live through {transport.description}: {account}"
