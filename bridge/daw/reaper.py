"""REAPER over OSC: what a Plan means as messages in REAPER's own dialect (``Default.ReaperOSC``).

The wire lives in :mod:`bridge.daw.osc`; this module decides addresses and values:

* tracks are addressed ``/track/<slot>`` inside the current bank of ``DEVICE_TRACK_COUNT``
  tracks, so track 40 of 60 with banks of 8 is bank 5, slot 8. The bank is chosen with
  ``/device/track/bank/select`` and confirmed from REAPER's own feedback
  (``/track/<slot>/number/str``) before anything is written;
* the Plan names tracks by GUID; the Session (read from the project file) maps GUID to index,
  and the name REAPER reports for that slot must agree, else the edit goes to the script;
* volume is always written in dB (``/track/@/volume/db``): the normalised fader depends on a
  user preference; pan is normalised (``v = (pan + 1) / 2``); ReaEQ bands go through the
  ``FX_EQ_*`` patterns with frequency in Hz, gain in dB and bandwidth in octaves;
* edits OSC cannot express (colour, takes, MIDI items, EQ bands OSC has no address for) are
  stored as the project's *pending plan* and the "Apply pending plan" action is triggered with
  ``/action/_ID``; with ``one_undo=True`` the whole Plan goes that way and lands as one undo
  step.

Example::

    with ReaperOsc(port=8000, listen_port=9000) as reaper:
        if reaper.is_there():
            report = reaper.apply(plan, session, pending=PendingPlans(), one_undo=True)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.daw.osc import LOOPBACK, OscArg, OscEndpoint, OscMessage
from bridge.plan import (
    Edit,
    Plan,
    RenameTrack,
    SetEqBand,
    SetMute,
    SetPan,
    SetVolume,
)
from bridge.session.model import Session, Track

log = logging.getLogger(__name__)

REAPER_OSC_PORT = 8000
"""Where REAPER listens for OSC by default."""
FEEDBACK_PORT = 9000
"""Where REAPER sends feedback by default (this side listens here)."""
DEFAULT_BANK_SIZE = 8
"""``DEVICE_TRACK_COUNT`` in ``Default.ReaperOSC``."""
APPLY_PENDING_ACTION = "_STUDIO_BRIDGE_APPLY_PENDING"
"""Command ID the installer gives "Studio Bridge: Apply pending plan" (see reaper_install)."""
MIN_VOLUME_DB = -150.0
"""REAPER's fader floor; -inf dB is sent as this."""

EQ_OSC_NAMES = {
    "high_pass": "hipass",
    "low_shelf": "loshelf",
    "band": "band",
    "notch": "notch",
    "high_shelf": "hishelf",
    "low_pass": "lopass",
}
"""Plan band type -> the word in the ``FX_EQ_*`` OSC patterns."""
EQ_HAS_GAIN = frozenset({"low_shelf", "band", "notch", "high_shelf"})
"""Band types with a gain control (ReaEQ's filters have none)."""


class ReaperNotReachable(ConnectionError):
    """REAPER did not answer on its OSC port within the time-out."""


def q_to_octaves(q: float) -> float:
    """Quality factor -> bandwidth in octaves (ReaEQ shows and takes bandwidth).

    >>> round(q_to_octaves(1.414), 3)
    1.0
    """
    return 2.0 / math.log(2.0) * math.asinh(1.0 / (2.0 * q))


def octaves_to_q(octaves: float) -> float:
    """Bandwidth in octaves -> quality factor (inverse of :func:`q_to_octaves`)."""
    return 1.0 / (2.0 * math.sinh(math.log(2.0) / 2.0 * octaves))


def pan_to_normalised(pan: float) -> float:
    """-1..1 pan -> REAPER's normalised 0..1 OSC value."""
    return (max(-1.0, min(1.0, pan)) + 1.0) / 2.0


def osc_volume_db(volume_db: float) -> float:
    return max(MIN_VOLUME_DB, volume_db) if volume_db != -math.inf else MIN_VOLUME_DB


# ------------------------------------------------------------------------------------------
# meaning: Plan edit -> OSC messages for one bank slot
# ------------------------------------------------------------------------------------------

OscCommand = tuple[str, list[OscArg]]


def osc_eq_supported(edit: SetEqBand) -> bool:
    """OSC reaches the n-th ``band`` band, but only the first band of every other shape."""
    return edit.band_type == "band" or edit.band == 0


def can_go_over_osc(edit: Edit) -> bool:
    if isinstance(edit, RenameTrack | SetVolume | SetPan | SetMute):
        return True
    if isinstance(edit, SetEqBand):
        return osc_eq_supported(edit)
    return False


def edit_messages(edit: Edit, slot: int) -> list[OscCommand]:
    """The messages that carry ``edit`` to the track in bank slot ``slot`` (1-based).

    >>> edit_messages(SetVolume(track="{A}", volume_db=-6.5), 3)
    [('/track/3/volume/db', [OscArg(type='f', value=-6.5)])]
    """
    base = f"/track/{slot}"
    if isinstance(edit, RenameTrack):
        return [(f"{base}/name", [OscArg("s", edit.name)])]
    if isinstance(edit, SetVolume):
        return [(f"{base}/volume/db", [OscArg("f", osc_volume_db(edit.volume_db))])]
    if isinstance(edit, SetPan):
        return [(f"{base}/pan", [OscArg("f", pan_to_normalised(edit.pan))])]
    if isinstance(edit, SetMute):
        return [(f"{base}/mute", [OscArg("f", 1.0 if edit.mute else 0.0)])]
    if isinstance(edit, SetEqBand) and osc_eq_supported(edit):
        word = EQ_OSC_NAMES[edit.band_type]
        eq = f"{base}/fxeq/{word}" + (f"/{edit.band + 1}" if word == "band" else "")
        out = [(f"{eq}/freq/hz", [OscArg("f", edit.freq_hz)])]
        if edit.band_type in EQ_HAS_GAIN:
            out.append((f"{eq}/gain/db", [OscArg("f", edit.gain_db)]))
        out.append((f"{eq}/q/oct", [OscArg("f", q_to_octaves(edit.q))]))
        return out
    raise ValueError(f"{edit.op} cannot be sent over OSC")


def solo_message(slot: int, solo: bool) -> OscCommand:
    return (f"/track/{slot}/solo", [OscArg("f", 1.0 if solo else 0.0)])


def action_message(command_id: str | int) -> OscCommand:
    """Run an action: a numeric ID (``/action 40044``) or a named one (``/action/_ID``)."""
    if isinstance(command_id, int):
        return ("/action", [OscArg("i", command_id)])
    text = str(command_id).strip()
    if text.isdigit():
        return ("/action", [OscArg("i", int(text))])
    if not text or "/" in text or " " in text:
        raise ValueError(f"not an action command ID: {command_id!r}")
    return (f"/action/{text if text.startswith('_') else '_' + text}", [])


def bank_of(index: int, bank_size: int) -> tuple[int, int]:
    """0-based track index -> (1-based bank number, 1-based slot in the bank).

    >>> bank_of(39, 8)   # track 40
    (5, 8)
    """
    if bank_size < 1:
        raise ValueError("bank size must be >= 1")
    return index // bank_size + 1, index % bank_size + 1


# ------------------------------------------------------------------------------------------
# routing: which edits go over OSC, which through the "Apply pending plan" script
# ------------------------------------------------------------------------------------------


@dataclass
class Routing:
    osc: list[tuple[Edit, Track]] = field(default_factory=list)
    script: list[Edit] = field(default_factory=list)
    why: dict[int, str] = field(default_factory=dict)
    """``id(edit)`` -> why it was routed to the script."""

    def script_plan(self) -> Plan:
        return Plan(list(self.script))


def route_plan(plan: Plan, session: Session, *, one_undo: bool = False) -> Routing:
    """Split a Plan into edits OSC can carry (with their Session track) and the rest."""
    routing = Routing()
    by_guid = {t.guid.upper(): t for t in session.tracks}
    for edit in plan:
        track = by_guid.get(edit.track.upper())
        if one_undo:
            routing.script.append(edit)
            routing.why[id(edit)] = "whole plan as one undo step"
        elif track is None:
            routing.script.append(edit)
            routing.why[id(edit)] = "track not in the session read from disk"
        elif not can_go_over_osc(edit):
            routing.script.append(edit)
            routing.why[id(edit)] = f"{edit.op} has no OSC address"
        else:
            routing.osc.append((edit, track))
    return routing


# ------------------------------------------------------------------------------------------
# the live transport
# ------------------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    sent: list[Edit] = field(default_factory=list)
    """Edits written over OSC."""
    verified: list[Edit] = field(default_factory=list)
    """Sent edits whose value REAPER's feedback confirmed."""
    via_script: list[Edit] = field(default_factory=list)
    """Edits handed to "Apply pending plan" (stored, action triggered)."""
    problems: list[str] = field(default_factory=list)
    messages: int = 0

    def summary(self) -> str:
        parts = [f"{len(self.sent)} over OSC ({len(self.verified)} confirmed)"]
        if self.via_script:
            parts.append(f"{len(self.via_script)} via the Apply pending plan action")
        if self.problems:
            parts.append(f"{len(self.problems)} problem(s)")
        return ", ".join(parts)


class ReaperOsc:
    """A live OSC connection to REAPER.

    ``host``/``port``: where REAPER listens (its control surface "Listen port").
    ``listen_port``: where REAPER sends feedback ("Device port"); this side binds it on
    ``listen_host`` (loopback unless set). ``bank_size`` is sent as ``/device/track/count`` so
    the bank arithmetic matches whatever the user's pattern file says.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = REAPER_OSC_PORT,
        listen_port: int = FEEDBACK_PORT,
        *,
        listen_host: str = LOOPBACK,
        bank_size: int = DEFAULT_BANK_SIZE,
        timeout_s: float = 1.0,
        pause_s: float = 0.0,
    ):
        self.reaper: tuple[str, int] = (host, port)
        self.bank_size = bank_size
        self.timeout_s = timeout_s
        self.pause_s = pause_s
        self.endpoint = OscEndpoint(listen_port, listen_host)
        self._bank_offset: int | None = None
        """0-based index of the track in slot 1, as REAPER last reported it."""
        self._bank_size_sent = False
        self._bank_changes: list[float] = []
        self.sent_count = 0

    # low level -------------------------------------------------------------------------------
    def send(self, address: str, args: Sequence[OscArg] = ()) -> None:
        self.endpoint.send(self.reaper, address, list(args))
        self.sent_count += 1
        if self.pause_s:
            time.sleep(self.pause_s)

    def _ensure_bank_size(self) -> None:
        if not self._bank_size_sent:
            self.send("/device/track/count", [OscArg("i", self.bank_size)])
            self._bank_size_sent = True

    # presence ----------------------------------------------------------------------------------
    def is_there(self, timeout_s: float | None = None) -> bool:
        """True when REAPER answers: selecting a bank makes it resend that bank's state."""
        try:
            self.select_bank(1, timeout_s=timeout_s)
        except ReaperNotReachable:
            return False
        return True

    def select_bank(self, bank: int, *, timeout_s: float | None = None) -> int:
        """Select 1-based ``bank`` and return the 0-based index of the track REAPER then puts
        in slot 1 (read from its ``/track/1/number/str`` feedback)."""
        self._ensure_bank_size()
        since = time.monotonic()
        self._bank_changes.append(since)
        self.send("/device/track/bank/select", [OscArg("i", bank)])
        msg = self.endpoint.wait_for(
            lambda m: m.address == "/track/1/number/str", timeout_s or self.timeout_s, since=since
        )
        if msg is None:
            raise ReaperNotReachable(
                f"no feedback from REAPER at {self.reaper[0]}:{self.reaper[1]} within "
                f"{timeout_s or self.timeout_s:.1f} s (is the OSC control surface enabled, "
                f"sending to port {self.endpoint.port}?)"
            )
        number = _track_number(msg)
        # give the rest of the bank's feedback a moment to arrive
        self.endpoint.wait_for(lambda m: False, 0.02)
        self._bank_offset = (number - 1) if number is not None else (bank - 1) * self.bank_size
        return self._bank_offset

    def slot_for(self, index: int) -> int:
        """Bring the track with 0-based ``index`` into the current bank; return its slot."""
        if self._in_bank(index):
            return index - self._bank_offset + 1  # type: ignore[operator]
        bank, _ = bank_of(index, self.bank_size)
        offset = self.select_bank(bank)
        if not 0 <= index - offset < self.bank_size:
            # REAPER numbers banks differently than assumed: correct by the difference seen
            bank += (index - offset) // self.bank_size
            offset = self.select_bank(bank)
        if not 0 <= index - offset < self.bank_size:
            raise ReaperNotReachable(f"could not bring track {index + 1} into the OSC bank")
        return index - offset + 1

    def feedback(self, slot: int, what: str, since: float | None = None) -> OscMessage | None:
        """The newest feedback message ``/track/<slot>/<what>`` (e.g. ``name``)."""
        address = f"/track/{slot}/{what}"
        found = [m for m in self.endpoint.messages(since) if m.address == address]
        return found[-1] if found else None

    # applying -----------------------------------------------------------------------------------
    def run_action(self, command_id: str | int) -> None:
        address, args = action_message(command_id)
        self.send(address, args)

    def apply(
        self,
        plan: Plan,
        session: Session,
        *,
        one_undo: bool = False,
        pending: Any | None = None,
        project: Path | None = None,
        action_id: str = APPLY_PENDING_ACTION,
        verify: bool = True,
    ) -> ApplyReport:
        """Apply ``plan`` to the open project ``session`` describes.

        Simple edits go over OSC (each becomes its own REAPER undo point); the rest, or all of
        it with ``one_undo``, is stored in ``pending`` (a :class:`bridge.daw.pending.PendingPlans`)
        for ``project`` and the "Apply pending plan" action is triggered.
        """
        report = ApplyReport()
        if not plan:
            return report
        routing = route_plan(plan, session, one_undo=one_undo)
        if not self.is_there():
            raise ReaperNotReachable(
                f"REAPER does not answer at {self.reaper[0]}:{self.reaper[1]}; nothing was sent"
            )
        if routing.osc:
            self._apply_osc(routing, report, verify=verify)
        if routing.script:
            if pending is None:
                report.problems.append(
                    f"{len(routing.script)} edit(s) need the Apply pending plan action, "
                    "but no pending-plan store was given"
                )
            else:
                pending.put(project or session.path, Plan(list(routing.script)))
                self.run_action(action_id)
                report.via_script.extend(routing.script)
        report.messages = self.sent_count
        return report

    def _apply_osc(self, routing: Routing, report: ApplyReport, *, verify: bool) -> None:
        # Address tracks in index order so each bank is selected once.
        ordered = sorted(routing.osc, key=lambda pair: pair[1].index)
        sent: list[tuple[Edit, int, float]] = []
        for edit, track in ordered:
            if sent and verify and not self._in_bank(track.index):
                self._verify(sent, report)  # confirm before the bank (and its feedback) moves
                sent = []
            slot = self.slot_for(track.index)
            if not self._slot_is(slot, track):
                routing.script.append(edit)
                shown = self.feedback(slot, "name")
                report.problems.append(
                    f"track {track.index + 1} is {shown.args[0] if shown else '?'!r} in REAPER, "
                    f"not {track.name!r}: the project changed since it was saved; "
                    f"{edit.op} goes through the script instead"
                )
                continue
            sent_at = time.monotonic()
            for address, args in edit_messages(edit, slot):
                self.send(address, args)
            report.sent.append(edit)
            sent.append((edit, slot, sent_at))
        if verify and sent:
            self._verify(sent, report)

    def _in_bank(self, index: int) -> bool:
        return self._bank_offset is not None and 0 <= index - self._bank_offset < self.bank_size

    def _slot_is(self, slot: int, track: Track) -> bool:
        shown = self.feedback(slot, "name")
        if shown is None or not shown.args:
            return True  # REAPER does not report names with this pattern file: trust the index
        name = str(shown.args[0])
        return not track.name or name == track.name or name == f"Track {track.index + 1}"

    def _verify(self, sent: list[tuple[Edit, int, float]], report: ApplyReport) -> None:
        """Confirm values from feedback. REAPER only reports the bank shown, so each edit is
        matched against feedback that arrived while its bank was selected."""
        deadline = time.monotonic() + self.timeout_s
        pending = list(sent)
        while pending:
            still = []
            for edit, slot, sent_at in pending:
                later = [t for t in self._bank_changes if t > sent_at]
                until = min(later) if later else math.inf
                address = f"/track/{slot}/{_feedback_word(edit)}"
                seen = [m for m in self.endpoint.messages(sent_at)
                        if m.address == address and m.received_at < until]
                if any(_confirmed(edit, m) for m in seen):
                    report.verified.append(edit)
                elif until == math.inf:
                    still.append((edit, slot, sent_at))  # its bank is shown: may still come
            pending = still
            if not pending or time.monotonic() >= deadline:
                break
            self.endpoint.wait_for(lambda m: False, 0.02)

    def close(self) -> None:
        self.endpoint.close()

    def __enter__(self) -> ReaperOsc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _track_number(msg: OscMessage) -> int | None:
    try:
        return int(str(msg.args[0]).strip())
    except (IndexError, ValueError):
        return None


def _feedback_word(edit: Edit) -> str:
    if isinstance(edit, RenameTrack):
        return "name"
    if isinstance(edit, SetVolume):
        return "volume/db"
    if isinstance(edit, SetPan):
        return "pan"
    if isinstance(edit, SetMute):
        return "mute"
    if isinstance(edit, SetEqBand):
        word = EQ_OSC_NAMES[edit.band_type]
        eq = f"fxeq/{word}" + (f"/{edit.band + 1}" if word == "band" else "")
        return f"{eq}/freq/hz"
    return ""


def _confirmed(edit: Edit, msg: OscMessage | None) -> bool:
    if msg is None or not msg.args:
        return False
    value = msg.args[0]
    try:
        if isinstance(edit, RenameTrack):
            return str(value) == edit.name
        if isinstance(edit, SetVolume):
            return abs(float(value) - osc_volume_db(edit.volume_db)) < 0.05
        if isinstance(edit, SetPan):
            return abs(float(value) - pan_to_normalised(edit.pan)) < 0.005
        if isinstance(edit, SetMute):
            return bool(round(float(value))) == edit.mute
        if isinstance(edit, SetEqBand):
            return abs(float(value) - edit.freq_hz) <= max(0.5, edit.freq_hz * 0.001)
    except (TypeError, ValueError):
        return False
    return False
