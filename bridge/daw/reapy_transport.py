"""An optional REAPER transport over reapy (``pip install studio-bridge[reapy]``).

Off by default. reapy's server inside REAPER runs whatever Python it is sent, so this module
only ever connects to the loopback interface and refuses any other host. The OSC transport
plus the Lua actions need nothing of the sort and remain the way the bridge talks to REAPER;
reapy is here for people who already run its server and want a Plan applied in one call,
with the same API calls (and the same single undo block) as ``studio_bridge.lua``.
"""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import Any

from bridge.daw.reaper import q_to_octaves
from bridge.plan import (
    BAND_TYPES,
    AddTake,
    Edit,
    InsertMidiItem,
    Plan,
    RenameTrack,
    SetColor,
    SetEqBand,
    SetMute,
    SetPan,
    SetVolume,
)

EQ_HAS_GAIN = frozenset({"low_shelf", "band", "notch", "high_shelf"})


class ReapyUnavailable(RuntimeError):
    """reapy is not installed, or its server in REAPER does not answer."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReapyTransport:
    """Apply Plans through reapy's ReaScript bridge. ``api`` replaces ``reapy.reascript_api``
    (tests pass a recorder)."""

    def __init__(self, host: str = "127.0.0.1", *, api: Any | None = None):
        if not _is_loopback(host):
            raise ValueError(f"reapy runs arbitrary code: only loopback is allowed, not {host!r}")
        self.host = host
        self._api = api

    @property
    def api(self) -> Any:
        if self._api is None:
            try:
                import reapy  # type: ignore[import-not-found]
            except ImportError:
                raise ReapyUnavailable(
                    "reapy is not installed (pip install 'studio-bridge[reapy]')") from None
            try:
                reapy.connect(self.host)
                self._api = reapy.reascript_api
            except Exception as exc:
                raise ReapyUnavailable(f"reapy server at {self.host} does not answer: {exc}"
                                       ) from None
        return self._api

    def apply(self, plan: Plan, *, title: str = "plan", project_dir: Path | None = None
              ) -> tuple[int, list[str]]:
        """Apply ``plan`` to the current project as one undo step; returns (applied, notes)."""
        rpr = self.api
        tracks = {}
        for i in range(rpr.CountTracks(0)):
            tr = rpr.GetTrack(0, i)
            tracks[str(rpr.GetTrackGUID(tr)).upper()] = tr
        applied, notes = 0, []
        rpr.Undo_BeginBlock2(0)
        rpr.PreventUIRefresh(1)
        try:
            for edit in plan:
                tr = tracks.get(edit.track.upper())
                if tr is None:
                    notes.append(f"{edit.track_name or edit.track}: track not found")
                    continue
                note = self._edit(rpr, tr, edit, project_dir)
                if note:
                    notes.append(f"{edit.track_name or edit.track}: {note}")
                else:
                    applied += 1
        finally:
            rpr.PreventUIRefresh(-1)
            rpr.TrackList_AdjustWindows(False)
            rpr.UpdateArrange()
            rpr.Undo_EndBlock2(0, f"Studio Bridge: {title}", -1)
        return applied, notes

    def _edit(self, rpr: Any, tr: Any, edit: Edit, project_dir: Path | None) -> str | None:
        if isinstance(edit, RenameTrack):
            rpr.GetSetMediaTrackInfo_String(tr, "P_NAME", edit.name, True)
        elif isinstance(edit, SetColor):
            r, g, b = edit.rgb
            rpr.SetMediaTrackInfo_Value(tr, "I_CUSTOMCOLOR", rpr.ColorToNative(r, g, b) | 0x1000000)
        elif isinstance(edit, SetVolume):
            gain = 0.0 if edit.volume_db <= -150 else 10 ** (edit.volume_db / 20)
            rpr.SetMediaTrackInfo_Value(tr, "D_VOL", gain if math.isfinite(gain) else 0.0)
        elif isinstance(edit, SetPan):
            rpr.SetMediaTrackInfo_Value(tr, "D_PAN", edit.pan)
        elif isinstance(edit, SetMute):
            rpr.SetMediaTrackInfo_Value(tr, "B_MUTE", 1 if edit.mute else 0)
        elif isinstance(edit, SetEqBand):
            fx = rpr.TrackFX_GetEQ(tr, True)
            if fx < 0:
                return "could not insert ReaEQ"
            bt = BAND_TYPES.index(edit.band_type)
            rpr.TrackFX_SetEQBandEnabled(tr, fx, bt, edit.band, True)
            ok = rpr.TrackFX_SetEQParam(tr, fx, bt, edit.band, 0, edit.freq_hz, False)
            if edit.band_type in EQ_HAS_GAIN:
                ok = rpr.TrackFX_SetEQParam(tr, fx, bt, edit.band, 1, edit.gain_db, False) and ok
            ok = rpr.TrackFX_SetEQParam(tr, fx, bt, edit.band, 2, q_to_octaves(edit.q),
                                        False) and ok
            if not ok:
                return f"ReaEQ has no {edit.band_type} band {edit.band + 1}"
        elif isinstance(edit, AddTake | InsertMidiItem):
            return f"{edit.op} is applied by the Lua actions, not over reapy"
        return None
