"""Starter mix: fader moves toward class-aware loudness targets, explained and capped.

Given each track's class label (``kick``, ``bass``, ``vocal``, ...) and the short-term loudness
of its stem over the parts that play, :func:`starter_mix` returns a :class:`~bridge.plan.Plan` of
:class:`~bridge.plan.SetVolume` edits that put every track at its class level from
``mix_targets.toml`` (an editable table):

1. *Pre-fader loudness.* A stem rendered with its fader at ``F`` dB and measured at ``L`` LUFS has
   a pre-fader loudness ``L - F``. Everything after this step depends only on pre-fader figures and
   the table, so the decision is **target-based**: running it again on the mixed session (or on
   stems rendered after the moves) asks for the same fader values, i.e. no second move.
2. *Active loudness.* Short-term loudness frames (3 s window) quieter than the absolute gate
   (-70 LUFS) or more than 20 LU under the track's loud part (95th percentile) are silence; the
   rest are averaged in the power domain.
3. *Targets.* Non-lead classes sit at ``anchor + level_lu``. Lead classes (lead vocal, speech) sit
   ``over_accompaniment_db`` over the accompaniment: the power sum, frame by frame, of every
   heard non-lead track, the levelled ones at their targets and the ones that keep their fader
   (``unknown``, ``keep = true``) where they play in the mix.
4. *Anchor.* The median of where the levelled tracks already sit relative to their targets, so
   the mix keeps its overall level and moves stay small; then lowered together until the mix-bus
   sample peak is at most ``headroom_peak_dbfs`` (-6 dBFS by default). When tracks that keep
   their fader are heard, the headroom comes from the common trim of step 6 alone, so nothing
   sinks under them.
5. *Respect.* Muted tracks (or tracks under a muted folder) are left alone and not counted; when
   anything is soloed only the soloed tracks (and their folders' children) are balanced. Folder
   faders are never moved: a child's level in the mix includes its folders' faders. Tracks labelled
   ``unknown`` (``keep = true``) keep their fader but still count in the mix-bus peak.
6. *Caps.* No balance move exceeds ``max_move_db`` and no fader leaves its range; ``capped`` is
   true exactly when one of them limited the move. A track held at the cap while the others are
   placed around it has reached its place; one left short of its target says so, and a second
   run goes on (the only case where a second run moves again; the end of the fader's range
   cannot be passed by running again). If a track held at its
   cap keeps the targets from coming down far enough for the mix bus, every heard fader comes
   down by one common trim (``headroom_trim_db``): the bus limit holds and no balance changes.

Measurements come from :mod:`bridge.analysis.loudness` (``short_term_lufs``); pass ``meter=`` to
use another short-term meter (a callable ``(samples, rate) -> LUFS per frame``).

Example::

    >>> from bridge.session.model import Session, Track
    >>> import numpy as np
    >>> from pathlib import Path
    >>> tracks = [Track("{K}", "Kick", 0), Track("{B}", "Bass", 1)]
    >>> session = Session(Path("x.rpp"), "reaper", tracks)
    >>> frames = {"{K}": np.full(50, -20.0), "{B}": np.full(50, -14.0)}
    >>> measures = {g: StemLoudness(s, gain_in_stem_db=0.0) for g, s in frames.items()}
    >>> result = starter_mix(session, {"{K}": "kick", "{B}": "bass"}, measures)
    >>> [round(e.volume_db, 1) for e in result.plan]
    [3.5, -3.5]
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bridge.plan import VOLUME_MAX_DB, VOLUME_MIN_DB, Plan, SetVolume
from bridge.session.model import Session, Track

DEFAULT_TARGETS_PATH = Path(__file__).with_name("mix_targets.toml")

ShortTermMeter = Callable[[np.ndarray, int], Any]
"""``(samples, rate) -> short-term loudness per frame`` (LUFS; -inf or very low for silence)."""

_BACKING_NAME = re.compile(
    r"\b(bv|bvs|bgv|backing|backs|harmony|harm|choir|double|dbl|oohs?)\d*\b", re.IGNORECASE
)


# ---------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class ClassTarget:
    name: str
    level_lu: float = -6.0
    lead: bool = False
    over_accompaniment_db: float = 1.0
    keep: bool = False
    importance: int = 1
    highpass_max_hz: float = 0.0


@dataclass(frozen=True)
class MixTargets:
    """The editable table (``mix_targets.toml``) as data."""

    classes: dict[str, ClassTarget]
    headroom_peak_dbfs: float = -6.0
    max_move_db: float = 12.0
    min_move_db: float = 0.1
    gate_relative_lu: float = -20.0
    gate_absolute_lufs: float = -70.0
    source: str = ""

    def for_class(self, name: str) -> ClassTarget:
        """The target for a class; unlisted classes are kept where they are (like ``unknown``)."""
        found = self.classes.get(name)
        if found is not None:
            return found
        return self.classes.get("unknown", ClassTarget("unknown", keep=True))


MIX_KEYS = frozenset({"headroom_peak_dbfs", "max_move_db", "min_move_db", "gate_relative_lu",
                      "gate_absolute_lufs"})
"""Keys of a targets file's ``[mix]`` table."""


def load_targets(path: str | Path | None = None) -> MixTargets:
    """Read a targets table; a user file overrides the defaults key by key.

    Raises ``ValueError`` naming the file and the problem on a malformed table.
    """
    data = _read_toml(DEFAULT_TARGETS_PATH)
    source = str(DEFAULT_TARGETS_PATH)
    if path is not None:
        user = _read_toml(Path(path))
        source = str(path)
        # a typo must not fall back to the defaults silently
        for section in sorted(set(user) - {"mix", "class"}):
            raise ValueError(f"{path}: unknown section [{section}] (known: [mix], [class.NAME])")
        for key in sorted(set(user.get("mix", {})) - MIX_KEYS):
            raise ValueError(f"{path}: [mix] unknown key {key!r} (known: "
                             f"{', '.join(sorted(MIX_KEYS))})")
        known = set(data.get("class", {}))
        for name in sorted(set(user.get("class", {})) - known):
            raise ValueError(f"{path}: unknown class [class.{name}] (known: "
                             f"{', '.join(sorted(known))})")
        data.setdefault("mix", {}).update(user.get("mix", {}))
        for name, values in user.get("class", {}).items():
            if not isinstance(values, dict):
                raise ValueError(f"{path}: [class.{name}] must be a table")
            data.setdefault("class", {}).setdefault(name, {}).update(values)
    mix = data.get("mix", {})
    allowed = {"level_lu", "lead", "over_accompaniment_db", "keep", "importance", "highpass_max_hz"}
    classes = {}
    for name, values in data.get("class", {}).items():
        unknown = set(values) - allowed
        if unknown:
            keys = ", ".join(sorted(unknown))
            raise ValueError(f"{source}: [class.{name}] unknown key(s) {keys}")
        try:
            classes[name] = ClassTarget(
                name=name,
                level_lu=float(values.get("level_lu", -6.0)),
                lead=bool(values.get("lead", False)),
                over_accompaniment_db=float(values.get("over_accompaniment_db", 1.0)),
                keep=bool(values.get("keep", False)),
                importance=int(values.get("importance", 1)),
                highpass_max_hz=float(values.get("highpass_max_hz", 0.0)),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: [class.{name}]: {exc}") from None
    try:
        targets = MixTargets(
            classes=classes,
            headroom_peak_dbfs=float(mix.get("headroom_peak_dbfs", -6.0)),
            max_move_db=float(mix.get("max_move_db", 12.0)),
            min_move_db=float(mix.get("min_move_db", 0.1)),
            gate_relative_lu=float(mix.get("gate_relative_lu", -20.0)),
            gate_absolute_lufs=float(mix.get("gate_absolute_lufs", -70.0)),
            source=source,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: [mix]: {exc}") from None
    if targets.max_move_db <= 0:
        raise ValueError(f"{source}: max_move_db must be > 0")
    return targets


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such targets file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None


def mix_class(label: str, track_name: str = "") -> str:
    """The class a label plays in the mix: a ``vocal`` named like a backing part is backing."""
    if label == "vocal" and track_name and _BACKING_NAME.search(track_name):
        return "backing_vocal"
    return label or "unknown"


# ------------------------------------------------------------------------------------ measurement


@dataclass
class StemLoudness:
    """A stem's short-term loudness series, and the fader value that was inside the stem."""

    short_term_lufs: np.ndarray
    """Short-term loudness per frame, LUFS (frames on a fixed hop, from the session start)."""
    gain_in_stem_db: float = 0.0
    """The track fader (dB) the stem was rendered with (0 if rendered pre-fader)."""

    def pre_fader(self) -> np.ndarray:
        return np.asarray(self.short_term_lufs, dtype=np.float64) - self.gain_in_stem_db


def default_meter() -> ShortTermMeter:
    """The project's short-term meter (:func:`bridge.analysis.loudness.short_term_lufs`)."""
    from bridge.analysis.loudness import short_term_lufs

    return short_term_lufs


def short_term_series(samples: np.ndarray, rate: int, meter: ShortTermMeter | None = None
                      ) -> np.ndarray:
    """Short-term loudness per frame as a float array (accepts arrays or result objects)."""
    data = np.asarray(samples)
    if 0 < data.shape[0] < 3 * rate:
        # a clip shorter than one 3 s window is measured as one window holding it
        pad = np.zeros((3 * int(rate) + 1 - data.shape[0], *data.shape[1:]), dtype=data.dtype)
        data = np.concatenate([data, pad])
    result = (meter or default_meter())(data, int(rate))
    for attr in ("short_term_lufs", "lufs", "values"):
        if hasattr(result, attr):
            result = getattr(result, attr)
            break
    series = np.asarray(result, dtype=np.float64).reshape(-1)
    return np.where(np.isfinite(series), series, -np.inf)


def active_loudness(series: np.ndarray, gate_relative_lu: float = -20.0,
                    gate_absolute_lufs: float = -70.0) -> float:
    """Power mean of the frames that play (LUFS); ``-inf`` when nothing plays.

    >>> active_loudness(np.array([-20.0, -20.0, -90.0, -np.inf]))
    -20.0
    """
    values = np.asarray(series, dtype=np.float64)
    values = values[np.isfinite(values) & (values > gate_absolute_lufs)]
    if values.size == 0:
        return -math.inf
    threshold = max(gate_absolute_lufs, float(np.percentile(values, 95)) + gate_relative_lu)
    kept = values[values >= threshold]
    return float(10.0 * np.log10(np.mean(10.0 ** (kept / 10.0))))


def _power_sum(series: list[np.ndarray]) -> np.ndarray:
    length = max(s.size for s in series)
    total = np.zeros(length)
    for s in series:
        padded = np.full(length, -np.inf)
        padded[: s.size] = s
        total += 10.0 ** (padded / 10.0)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(total)


# ---------------------------------------------------------------------------------------- results


@dataclass
class TrackLevel:
    """What the starter mix decided for one track (also what the report draws)."""

    guid: str
    name: str
    label: str
    mix_class: str
    fader_db: float
    """Fader before the move."""
    new_fader_db: float
    parent_gain_db: float = 0.0
    """Sum of the folder faders above the track."""
    pre_fader_lufs: float = -math.inf
    target_lufs: float | None = None
    """Target in-mix active loudness (before the common headroom shift is applied it is exact)."""
    capped: bool = False
    """The balance move was limited: by the move cap or by the end of the fader's range."""
    capped_by: str = ""
    """``"max_move_db"`` or ``"fader_range"`` when capped, else empty."""
    trim_db: float = 0.0
    """The common trim every fader got for mix-bus headroom (0 or negative), in the move."""
    skipped: str = ""
    """Why the track was left alone (muted, folder, keep, silent, not soloed...)."""

    @property
    def move_db(self) -> float:
        return self.new_fader_db - self.fader_db

    @property
    def loudness_before_lufs(self) -> float:
        return self.pre_fader_lufs + self.fader_db + self.parent_gain_db

    @property
    def loudness_after_lufs(self) -> float:
        return self.pre_fader_lufs + self.new_fader_db + self.parent_gain_db

    @property
    def short_of_target_db(self) -> float:
        """How far the move leaves the track from its target (dB, signed; 0 if reached)."""
        if self.target_lufs is None or not math.isfinite(self.pre_fader_lufs):
            return 0.0
        return self.target_lufs - self.loudness_after_lufs


@dataclass
class StarterMix:
    plan: Plan
    tracks: list[TrackLevel]
    anchor_lufs: float
    """In-mix active loudness a class with ``level_lu = 0`` gets."""
    peak_before_dbfs: float | None = None
    peak_after_dbfs: float | None = None
    headroom_shift_db: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "anchor_lufs": _finite(self.anchor_lufs),
            "peak_before_dbfs": _finite(self.peak_before_dbfs),
            "peak_after_dbfs": _finite(self.peak_after_dbfs),
            "headroom_shift_db": self.headroom_shift_db,
            "notes": self.notes,
            "tracks": [
                {
                    "track": t.guid, "track_name": t.name, "label": t.label,
                    "mix_class": t.mix_class, "fader_db": t.fader_db,
                    "new_fader_db": t.new_fader_db, "move_db": round(t.move_db, 2),
                    "loudness_before_lufs": _finite(t.loudness_before_lufs),
                    "loudness_after_lufs": _finite(t.loudness_after_lufs),
                    "target_lufs": _finite(t.target_lufs), "capped": t.capped,
                    "capped_by": t.capped_by or None, "skipped": t.skipped,
                }
                for t in self.tracks
            ],
        }


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 2)


# --------------------------------------------------------------------------------------- deciding


MixPeak = Callable[[Mapping[str, float]], float]
"""``gains_db`` (track GUID -> gain relative to its stem, dB) -> mix-bus sample peak, dBFS."""


def folder_parents(tracks: list[Track]) -> dict[str, list[Track]]:
    """Each track's enclosing folder tracks (outermost first), from REAPER folder depths."""
    parents: dict[str, list[Track]] = {}
    stack: list[Track] = []
    for track in sorted(tracks, key=lambda t: t.index):
        parents[track.guid] = list(stack)
        if track.folder_depth > 0:
            stack.append(track)
        elif track.folder_depth < 0:
            for _ in range(min(-track.folder_depth, len(stack))):
                stack.pop()
    return parents


def audible_tracks(session: Session) -> dict[str, bool]:
    """Heard in the mix: not muted (nor under a muted folder), and soloed (or under a soloed
    folder) when anything is soloed."""
    parents = folder_parents(session.tracks)
    any_solo = session.any_solo
    heard = {}
    for track in session.tracks:
        chain = [*parents[track.guid], track]
        muted = any(t.mute for t in chain)
        soloed = any(t.solo for t in chain)
        heard[track.guid] = not muted and (soloed or not any_solo)
    return heard


def starter_mix(
    session: Session,
    labels: Mapping[str, str],
    measures: Mapping[str, StemLoudness],
    *,
    targets: MixTargets | None = None,
    max_move_db: float | None = None,
    headroom_peak_dbfs: float | None = None,
    mix_peak: MixPeak | None = None,
) -> StarterMix:
    """Decide fader moves. ``labels`` and ``measures`` are keyed by track GUID.

    ``mix_peak`` (optional) measures the mix-bus peak for given gains relative to the stems (see
    :func:`mix_peak_dbfs`); without it there is no headroom check and the result says so.
    """
    targets = targets or load_targets()
    cap = float(max_move_db if max_move_db is not None else targets.max_move_db)
    if cap <= 0:
        raise ValueError("max_move_db must be > 0")
    headroom = float(headroom_peak_dbfs if headroom_peak_dbfs is not None
                     else targets.headroom_peak_dbfs)
    parents = folder_parents(session.tracks)
    heard = audible_tracks(session)
    notes: list[str] = []

    rows: dict[str, TrackLevel] = {}
    series: dict[str, np.ndarray] = {}
    trim_only: list[str] = []  # heard tracks whose level is not judged: only a headroom trim
    for track in session.tracks:
        label = labels.get(track.guid, "unknown") or "unknown"
        cls = mix_class(label, track.name)
        parent_gain = sum(p.volume_db for p in parents[track.guid])
        row = TrackLevel(track.guid, track.name, label, cls, track.volume_db, track.volume_db,
                         parent_gain_db=parent_gain)
        rows[track.guid] = row
        measure = measures.get(track.guid)
        if measure is not None:
            pre = measure.pre_fader()
            row.pre_fader_lufs = active_loudness(pre, targets.gate_relative_lu,
                                                 targets.gate_absolute_lufs)
            series[track.guid] = pre
        if not heard[track.guid]:
            row.skipped = "muted" if track.mute or any(p.mute for p in parents[track.guid]) \
                else "not soloed"
        elif track.is_folder:
            row.skipped = "folder (its children are levelled instead)"
        elif measure is None:
            row.skipped = "no stem"
        elif not math.isfinite(row.pre_fader_lufs):
            row.skipped = "silent"
        elif targets.for_class(cls).keep:
            row.skipped = f"class {cls!r} keeps its fader"
            trim_only.append(track.guid)

    movable = [g for g, r in rows.items() if not r.skipped]
    if not movable:
        notes.append("no track to level (all muted, silent, folders or unknown)")
        return StarterMix(Plan(), list(rows.values()), -math.inf, notes=notes)

    # Targets as functions of the anchor A: a levelled class sits at A + level_lu; a lead sits
    # over the accompaniment, the frame-by-frame power sum of every heard non-lead track: the
    # levelled ones at their targets and the ones that keep their fader (unknown, keep = true)
    # where they play in the mix. The common headroom trim moves all of them alike, so it
    # changes no lead's place against them.
    relative: dict[str, float] = {}
    leads = []
    for guid in movable:
        target = targets.for_class(rows[guid].mix_class)
        if target.lead:
            leads.append(guid)
        else:
            relative[guid] = target.level_lu
    kept = [g for g in trim_only if g in series]
    accompaniment = _Accompaniment(
        [series[g] - rows[g].pre_fader_lufs + relative[g] for g in relative],
        [series[g] + rows[g].fader_db + rows[g].parent_gain_db for g in kept],
        targets.gate_relative_lu)
    if leads and accompaniment.empty:
        notes.append("no accompaniment: lead tracks are levelled against each other")

    def in_mix(guid: str, fader_db: float) -> float:
        row = rows[guid]
        return row.pre_fader_lufs + fader_db + row.parent_gain_db

    def target_at(guid: str, anchor_lufs: float) -> float:
        """In-mix target of a movable track for an anchor (before the common trim)."""
        if guid in relative:
            return anchor_lufs + relative[guid]
        if accompaniment.empty:
            return anchor_lufs
        over = targets.for_class(rows[guid].mix_class).over_accompaniment_db
        return accompaniment.lufs(anchor_lufs) + over

    now = {g: in_mix(g, rows[g].fader_db) for g in movable}

    def wanted(guid: str, anchor_lufs: float) -> float:
        """The balance move a track needs for an anchor (non-decreasing in the anchor)."""
        return target_at(guid, anchor_lufs) - now[guid]

    # Tracks whose target follows the anchor; a lead placed only against tracks that keep
    # their fader has a fixed target, whatever the anchor.
    follows = [g for g in movable if g in relative or accompaniment.follows_anchor]
    centre = float(np.median([now[g] - relative[g] for g in relative])) if relative else \
        float(np.median([now[g] for g in movable]))
    span = (centre - _ANCHOR_RANGE_DB, centre + _ANCHOR_RANGE_DB)

    def anchor_for(guid: str, move_db: float) -> float | None:
        """The anchor at which a track's balance move would be ``move_db``; ``-inf``/``+inf``
        when it is above/below that move over the whole range; None if the anchor does not
        matter to it."""
        if guid not in follows:
            return None
        if guid in relative:
            return now[guid] - relative[guid] + move_db
        return _solve_increasing(lambda a: wanted(guid, a), move_db, *span)

    # each track's own anchor: where it sits now relative to its target. Leads count only
    # when nothing else is levelled: against tracks that keep their fader a lead's target
    # follows the anchor weakly, and its own anchor would swing far on a 0.01 dB difference.
    own = {g: a for g in (list(relative) or follows)
           if (a := anchor_for(g, 0.0)) is not None and math.isfinite(a)}
    anchor = float(np.median(list(own.values()))) if own else centre
    # anchors for which no move exceeds the cap (empty when the tracks are too far apart);
    # a track whose move exceeds the cap whatever the anchor does not narrow the range
    lows = [a for g in follows if (a := anchor_for(g, -cap)) is not None and a < math.inf]
    highs = [a for g in follows if (a := anchor_for(g, cap)) is not None and a > -math.inf]
    lowest = max(lows, default=-math.inf)
    highest = min(highs, default=math.inf)
    if lowest <= highest + 1e-9:
        anchor = min(max(anchor, lowest), highest)

    def faders_for(anchor_lufs: float, trim_db: float = 0.0) -> dict[str, tuple[float, str]]:
        """``guid -> (fader, capped_by)``. The cap bounds each track's balance move;
        ``trim_db`` then moves every fader together (a master-fader pull spread over the
        tracks: it changes no balance)."""
        out = {}
        for guid in movable:
            move = wanted(guid, anchor_lufs)
            # at the cap exactly: held there by it (the anchor was clamped to keep it within)
            capped_by = "max_move_db" if abs(move) >= cap - _CAP_TOLERANCE_DB else ""
            move = max(-cap, min(cap, move)) + trim_db
            fader = rows[guid].fader_db + move
            # A fader cannot go past the Plan's range: the move stops there and says so.
            if not VOLUME_MIN_DB <= fader <= VOLUME_MAX_DB:
                capped_by = "fader_range"
            out[guid] = (min(max(fader, VOLUME_MIN_DB), VOLUME_MAX_DB), capped_by)
        if trim_db:
            # tracks that are heard but not levelled (unknown class, keep) come down too
            for guid in trim_only:
                out[guid] = (max(rows[guid].fader_db + trim_db, VOLUME_MIN_DB), "")
        return out

    def gains_for(faders: Mapping[str, tuple[float, str]]) -> dict[str, float]:
        gains = {}
        for guid, row in rows.items():
            if not heard[guid] or guid not in measures:
                continue
            fader = faders[guid][0] if guid in faders else row.fader_db
            gains[guid] = fader - measures[guid].gain_in_stem_db + row.parent_gain_db
        return gains

    faders = faders_for(anchor)
    peak_before = peak_after = None
    shift = trim = 0.0
    shift_stalled = False
    if mix_peak is not None:
        peak_before = mix_peak(gains_for({}))
        peak_after = mix_peak(gains_for(faders))
        # never lower past the point where the loudest-sitting track would hit its cap
        floor = min(0.0, lowest - anchor)
        # With tracks that keep their fader in the mix, lowering only the levelled targets
        # would sink them under those tracks (and the leads placed against them): the common
        # trim below does the whole job then.
        for _ in range(8 if follows and not kept else 0):
            if not (math.isfinite(peak_after) and peak_after > headroom + 0.01):
                break
            if shift <= floor + 1e-6:
                break
            # the sum scales with the moved tracks, so the excess is (nearly) the shift needed
            shift = max(floor, shift - (peak_after - headroom))
            faders = faders_for(anchor + shift)
            last, peak_after = peak_after, mix_peak(gains_for(faders))
            if peak_after > last - 0.01:
                # the bus is held up by tracks the anchor does not move (kept faders, leads
                # against them): lowering the targets further would only change the balance
                shift_stalled = True
                break
        if shift < 0:
            notes.append(f"all targets lowered {-shift:.1f} dB for mix-bus headroom")
        # Still too hot with a track held at its cap: every fader comes down together. That
        # keeps the balance this run reached and never clips the bus, where lowering the
        # targets further would only leave the capped track louder than the rest.
        for _ in range(8):
            if not (math.isfinite(peak_after) and peak_after > headroom + 0.01):
                break
            trim = trim - (peak_after - headroom)
            faders = faders_for(anchor + shift, trim)
            peak_after = mix_peak(gains_for(faders))
        if trim < 0:
            held = [rows[g].name for g in movable
                    if faders[g][1] and abs(wanted(g, anchor + shift)) <= cap + _CAP_TOLERANCE_DB]
            anchor_helps = bool(follows) and not kept and not shift_stalled
            if held and anchor_helps:
                why = (f"{_names(held)} {'is' if len(held) == 1 else 'are'} held at the "
                       f"{cap:.1f} dB move cap and keep{'s' if len(held) == 1 else ''} the "
                       "targets from coming down further")
            elif any(faders[g][1] for g in movable) and anchor_helps:
                why = "tracks capped this run keep the targets from coming down further"
            elif kept:
                why = (f"tracks that keep their fader ({_names([rows[g].name for g in kept])}) "
                       "are heard, and lowering only the levelled targets would change the "
                       "balance against them")
            else:
                why = "lowering the targets alone does not bring the bus down far enough"
            notes.append(f"every fader also trimmed {-trim:.1f} dB together for mix-bus "
                         f"headroom ({why}; the balance is unchanged)")
        if math.isfinite(peak_after) and peak_after > headroom + 0.05:
            notes.append(f"mix bus peaks at {peak_after:.1f} dBFS, over the {headroom:.1f} "
                         "dBFS limit (pull the master down)")
    else:
        notes.append("mix-bus peak not checked (no stems to sum)")

    plan = Plan()
    final_anchor = anchor + shift
    for track in session.tracks:
        row = rows[track.guid]
        if row.skipped:
            if trim < 0 and track.guid in trim_only:
                row.new_fader_db = round(max(row.fader_db + trim, VOLUME_MIN_DB), 2)
                row.trim_db = trim
                plan.add(SetVolume(
                    track=row.guid, track_name=row.name, volume_db=row.new_fader_db,
                    reason=(f"{row.skipped}, but every fader comes down {-trim:.1f} dB together "
                            f"for mix-bus headroom; fader {row.fader_db:+.1f} -> "
                            f"{row.new_fader_db:+.1f} dB"),
                    figures={"label": row.label, "mix_class": row.mix_class,
                             "move_db": round(row.move_db, 2), "capped": False,
                             "capped_by": None, "headroom_trim_db": round(trim, 2),
                             "fader_before_db": row.fader_db}))
            continue
        new_fader, capped_by = faders[track.guid]
        row.new_fader_db = round(new_fader, 2)
        row.capped = bool(capped_by)
        row.capped_by = capped_by
        row.target_lufs = target_at(track.guid, final_anchor) + trim
        row.trim_db = trim
        if abs(row.move_db) < targets.min_move_db:
            row.new_fader_db = row.fader_db
            continue
        plan.add(_volume_edit(row, cap, targets))
    notes.extend(_cap_notes(list(rows.values()), cap))
    return StarterMix(plan, list(rows.values()), final_anchor if own or relative else -math.inf,
                      peak_before, peak_after, shift, notes)


def _names(names: list[str], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _cap_notes(rows: list[TrackLevel], cap: float) -> list[str]:
    """One note per kind of limit: held at the cap (done), capped short of the target (a
    second run goes on), stopped at the end of the fader's range (a second run cannot)."""
    held, short, ranged = [], [], []
    for row in rows:
        if not row.capped:
            continue
        gap = row.short_of_target_db
        if row.capped_by == "fader_range":
            ranged.append(f"{row.name} ({abs(gap):.1f} dB short)")
        elif abs(gap) > _SHORT_DB:
            short.append(f"{row.name} ({abs(gap):.1f} dB short)")
        else:
            held.append(row.name)
    notes = []
    if held:
        notes.append(f"{_names(held)} held at the {cap:.1f} dB move cap: the other targets are "
                     "placed around it, so the balance is reached")
    if short:
        notes.append(f"{_names(short)} capped at {cap:.1f} dB this run: run again to go "
                     "further")
    if ranged:
        notes.append(f"{_names(ranged)}: the fader stops at the end of its range "
                     f"({VOLUME_MIN_DB:+.0f}..{VOLUME_MAX_DB:+.0f} dB); change the item or "
                     "clip gain, a second run cannot go further")
    return notes


_ANCHOR_RANGE_DB = 300.0
"""How far from the tracks' median an anchor is searched (dB): past any real level."""

_CAP_TOLERANCE_DB = 1e-6

_SHORT_DB = 0.05
"""A capped track this far (dB) or more from its target did not reach it (faders are rounded
to 0.01 dB)."""


class _Accompaniment:
    """What a lead is placed against, as a function of the anchor: the power sum, frame by
    frame, of the levelled non-lead tracks (their loudness series shifted to ``anchor +
    level_lu``) and of the tracks that keep their fader (as they play in the mix), averaged
    over the frames that play. Only the relative gate applies: the sum is evaluated at
    anchors far from any real level while the anchor is searched."""

    def __init__(self, levelled: list[np.ndarray], kept: list[np.ndarray],
                 gate_relative_lu: float) -> None:
        self.empty = not levelled and not kept
        self.follows_anchor = bool(levelled) or self.empty
        self.gate_relative_lu = gate_relative_lu
        self._levelled = _power(levelled)
        self._kept = _power(kept)
        self._levelled_at_zero: float | None = None

    def lufs(self, anchor_lufs: float) -> float:
        """Active loudness (LUFS) of the accompaniment when the anchor is ``anchor_lufs``."""
        if self._kept is None and self._levelled is not None:
            # a pure shift of the levelled sum: relative gating does not depend on scale
            if self._levelled_at_zero is None:
                self._levelled_at_zero = _active_of_power(self._levelled,
                                                          self.gate_relative_lu)
            return self._levelled_at_zero + anchor_lufs
        parts = [p for p in (self._kept, None if self._levelled is None else
                             self._levelled * 10.0 ** (anchor_lufs / 10.0)) if p is not None]
        total = np.zeros(max(p.size for p in parts))
        for p in parts:
            total[: p.size] += p
        return _active_of_power(total, self.gate_relative_lu)


def _active_of_power(power: np.ndarray, gate_relative_lu: float) -> float:
    with np.errstate(divide="ignore"):
        return active_loudness(10.0 * np.log10(power), gate_relative_lu, -math.inf)


def _power(series: list[np.ndarray]) -> np.ndarray | None:
    """Frame-by-frame power sum (linear) of loudness series, or None for no series."""
    if not series:
        return None
    length = max(s.size for s in series)
    total = np.zeros(length)
    for s in series:
        total[: s.size] += 10.0 ** (np.asarray(s, dtype=np.float64) / 10.0)
    return total


def _solve_increasing(f: Callable[[float], float], value: float, low: float, high: float
                      ) -> float:
    """``x`` in ``[low, high]`` with ``f(x) = value`` for a non-decreasing ``f`` (bisection);
    ``-inf`` when ``f`` is over ``value`` on the whole range, ``+inf`` when it is under."""
    if f(low) >= value:
        return -math.inf
    if f(high) < value:
        return math.inf
    for _ in range(60):
        mid = 0.5 * (low + high)
        if f(mid) < value:
            low = mid
        else:
            high = mid
        if high - low < 1e-7:
            break
    return 0.5 * (low + high)


def _volume_edit(row: TrackLevel, cap: float, targets: MixTargets) -> SetVolume:
    target = targets.for_class(row.mix_class)
    if target.lead:
        aim = f"{target.over_accompaniment_db:+.1f} dB over the accompaniment"
    else:
        aim = f"{target.level_lu:+.1f} LU from the anchor"
    reason = (
        f"{row.mix_class}: plays at {row.loudness_before_lufs:.1f} LUFS short-term, target "
        f"{row.target_lufs:.1f} ({aim}); fader {row.fader_db:+.1f} -> {row.new_fader_db:+.1f} dB"
    )
    short = row.short_of_target_db
    if row.capped_by == "fader_range":
        end = VOLUME_MAX_DB if row.new_fader_db >= VOLUME_MAX_DB else VOLUME_MIN_DB
        reason += (f" (the fader stops at {end:+.1f} dB, the end of its range, {abs(short):.1f} "
                   "dB short of the target: change the item or clip gain to go further)")
    elif row.capped and abs(short) > _SHORT_DB:
        reason += (f" (move capped at {cap:.1f} dB, {abs(short):.1f} dB short of the target; "
                   "run again to go further)")
    elif row.capped:
        reason += (f" (held at the {cap:.1f} dB move cap: the other targets are placed around "
                   "it)")
    if row.trim_db < 0:
        reason += f" (includes a {row.trim_db:.1f} dB trim of every fader for mix-bus headroom)"
    figures = {
        "label": row.label, "mix_class": row.mix_class,
        "loudness_before_lufs": round(row.loudness_before_lufs, 2),
        "loudness_after_lufs": round(row.loudness_after_lufs, 2),
        "target_lufs": round(float(row.target_lufs or 0.0), 2),
        "move_db": round(row.move_db, 2), "capped": row.capped,
        "capped_by": row.capped_by or None,
        "short_of_target_db": round(short, 2) if row.capped else 0.0,
        "headroom_trim_db": round(row.trim_db, 2),
        "fader_before_db": row.fader_db,
    }
    return SetVolume(track=row.guid, track_name=row.name, reason=reason, figures=figures,
                     volume_db=row.new_fader_db)


# ----------------------------------------------------------------------------------- stems on disk


def mix_peak_dbfs(stems: Mapping[str, np.ndarray | str | Path], gains_db: Mapping[str, float],
                  *, block_frames: int = 1 << 16) -> float:
    """Sample peak (dBFS) of the sum of stems scaled by ``gains_db``, streamed block by block.

    Stems are arrays (time on axis 0) or audio files, all starting at the session start. Mono
    stems are spread to both sides of a stereo bus. Files are read in blocks, so memory does not
    grow with length.
    """
    import soundfile as sf

    active = {g: stems[g] for g in gains_db if g in stems}
    if not active:
        return -math.inf
    handles: dict[str, Any] = {}
    try:
        lengths = {}
        for guid, stem in active.items():
            if isinstance(stem, (str, Path)):
                handles[guid] = sf.SoundFile(str(stem))
                lengths[guid] = handles[guid].frames
            else:
                lengths[guid] = np.asarray(stem).shape[0]
        total = max(lengths.values())
        peak = 0.0
        for start in range(0, total, block_frames):
            stop = min(total, start + block_frames)
            bus = np.zeros((stop - start, 2))
            for guid, stem in active.items():
                if start >= lengths[guid]:
                    continue
                if guid in handles:
                    handles[guid].seek(start)
                    block = handles[guid].read(stop - start, dtype="float64", always_2d=True)
                else:
                    block = np.asarray(stem, dtype=np.float64)[start:stop]
                    block = block.reshape(block.shape[0], -1)
                block = block[:, :2] if block.shape[1] >= 2 else np.repeat(block, 2, axis=1)
                bus[: block.shape[0]] += block * 10.0 ** (gains_db[guid] / 20.0)
            peak = max(peak, float(np.max(np.abs(bus))) if bus.size else 0.0)
    finally:
        for handle in handles.values():
            handle.close()
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def measure_stems(stems: Mapping[str, str | Path | np.ndarray], session: Session, *,
                  rate: int | None = None, meter: ShortTermMeter | None = None,
                  stems_include_fader: bool = True) -> tuple[dict[str, StemLoudness],
                                                             dict[str, str]]:
    """Short-term loudness of each stem (files or arrays at ``rate``).

    Returns ``(measures, problems)``: a stem that cannot be read (or holds NaN/Inf samples,
    or is truncated) is reported and skipped. Files measured with the project's own meter are
    streamed block by block, so memory does not grow with the length of the session.
    """
    import soundfile as sf

    from bridge.audio.reader import AudioError

    streamed = meter is None
    meter = meter or default_meter()
    measures: dict[str, StemLoudness] = {}
    problems: dict[str, str] = {}
    faders = {t.guid: t.volume_db for t in session.tracks}
    for guid, stem in stems.items():
        try:
            if isinstance(stem, (str, Path)) and streamed:
                series = _streamed_short_term(Path(stem))
            elif isinstance(stem, (str, Path)):
                samples, stem_rate = sf.read(str(stem), dtype="float32", always_2d=True)
                if not np.isfinite(samples.sum()):
                    raise ValueError("NaN/Inf samples")
                series = short_term_series(samples, int(stem_rate), meter)
            else:
                if rate is None:
                    raise ValueError("rate is needed for stems given as arrays")
                samples = np.asarray(stem)
                if not np.isfinite(samples.sum()):
                    raise ValueError("NaN/Inf samples")
                series = short_term_series(samples, int(rate), meter)
        except AudioError as exc:
            problems[guid] = str(exc)
            continue
        except (RuntimeError, ValueError, OSError) as exc:
            problems[guid] = f"{stem}: {exc}"
            continue
        gain = faders.get(guid, 0.0) if stems_include_fader else 0.0
        measures[guid] = StemLoudness(series, gain_in_stem_db=gain)
    return measures, problems


def _streamed_short_term(path: Path) -> np.ndarray:
    """:func:`short_term_series` of a file with the default meter, read block by block.

    The same figures as reading the file whole (the meter is the same streaming meter), with
    memory bounded by one block plus one energy per 1.3 ms hop (about 22 MB per hour).
    """
    from bridge.analysis.loudness import SHORT_TERM_S, LoudnessMeter, hop_frames, sliding_lufs
    from bridge.audio.reader import open_audio

    with open_audio(path) as stream:
        rate, channels = stream.info.sample_rate, stream.info.channels
        meter = LoudnessMeter(rate, channels, keep_hops=True)
        for block in stream.blocks():
            meter.add(np.ascontiguousarray(block.T))
    if 0 < meter.frames < 3 * rate:
        # a clip shorter than one 3 s window is measured as one window holding it
        meter.add(np.zeros((channels, 3 * rate + 1 - meter.frames), np.float32))
    meter.flush()
    _, hop = hop_frames(rate)
    step = max(1, round(0.1 * rate / hop))
    series = np.asarray(sliding_lufs(meter.hop_power(), rate, SHORT_TERM_S)[::step],
                        dtype=np.float64).reshape(-1)
    return np.where(np.isfinite(series), series, -np.inf)
