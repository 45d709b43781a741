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
   ``over_accompaniment_db`` over the accompaniment: the power sum, frame by frame, of every other
   audible track at its target level.
4. *Anchor.* The median of where the tracks already sit relative to their targets, so the mix
   keeps its overall level and moves stay small; then lowered together until the mix-bus sample
   peak is at most ``headroom_peak_dbfs`` (-6 dBFS by default).
5. *Respect.* Muted tracks (or tracks under a muted folder) are left alone and not counted; when
   anything is soloed only the soloed tracks (and their folders' children) are balanced. Folder
   faders are never moved: a child's level in the mix includes its folders' faders. Tracks labelled
   ``unknown`` (``keep = true``) keep their fader but still count in the mix-bus peak.
6. *Caps.* No balance move exceeds ``max_move_db``; a capped move says so, and a second run goes
   on toward the target (the only case where a second run moves again). If a track held at its
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
                    "skipped": t.skipped,
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

    # relative targets: anchor + r_i (lead classes against the accompaniment's power sum)
    relative: dict[str, float] = {}
    leads = []
    for guid in movable:
        target = targets.for_class(rows[guid].mix_class)
        if target.lead:
            leads.append(guid)
        else:
            relative[guid] = target.level_lu
    if leads:
        accompaniment = [g for g in relative]
        if accompaniment:
            frames = [series[g] - rows[g].pre_fader_lufs + relative[g] for g in accompaniment]
            acc_lufs = active_loudness(_power_sum(frames), targets.gate_relative_lu,
                                       targets.gate_absolute_lufs - 100.0)
        else:
            acc_lufs = 0.0
            notes.append("no accompaniment: lead tracks are levelled against each other")
        for guid in leads:
            over = targets.for_class(rows[guid].mix_class).over_accompaniment_db
            relative[guid] = acc_lufs + (over if accompaniment else 0.0)

    def in_mix(guid: str, fader_db: float) -> float:
        row = rows[guid]
        return row.pre_fader_lufs + fader_db + row.parent_gain_db

    # each track's own anchor: where it sits now relative to its target
    own = {g: in_mix(g, rows[g].fader_db) - relative[g] for g in movable}
    anchor = float(np.median(list(own.values())))
    # anchors for which no move exceeds the cap (empty when the tracks are too far apart)
    lowest = max(own.values()) - cap
    highest = min(own.values()) + cap
    feasible = lowest <= highest + 1e-9
    if feasible:
        anchor = min(max(anchor, lowest), highest)
    else:
        notes.append(f"tracks sit more than {2 * cap:.1f} dB apart from their targets: some "
                     "moves are capped; run again to go further")

    def faders_for(anchor_lufs: float, trim_db: float = 0.0) -> dict[str, tuple[float, bool]]:
        """The cap bounds each track's balance move; ``trim_db`` then moves every fader
        together (a master-fader pull spread over the tracks: it changes no balance)."""
        out = {}
        for guid in movable:
            move = anchor_lufs - own[guid]
            capped = abs(move) > cap + 1e-6
            move = max(-cap, min(cap, move)) + trim_db
            fader = rows[guid].fader_db + move
            # A fader cannot go past the Plan's range: the move stops there and says so.
            capped = capped or fader > VOLUME_MAX_DB
            out[guid] = (min(max(fader, VOLUME_MIN_DB), VOLUME_MAX_DB), capped)
        if trim_db:
            # tracks that are heard but not levelled (unknown class, keep) come down too
            for guid in trim_only:
                out[guid] = (max(rows[guid].fader_db + trim_db, VOLUME_MIN_DB), False)
        return out

    def gains_for(faders: Mapping[str, tuple[float, bool]]) -> dict[str, float]:
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
    if mix_peak is not None:
        peak_before = mix_peak(gains_for({}))
        peak_after = mix_peak(gains_for(faders))
        # never lower past the point where the loudest-sitting track would hit its cap
        floor = min(0.0, lowest - anchor)
        for _ in range(8):
            if not (math.isfinite(peak_after) and peak_after > headroom + 0.01):
                break
            if shift <= floor + 1e-6:
                break
            # the sum scales with the moved tracks, so the excess is (nearly) the shift needed
            shift = max(floor, shift - (peak_after - headroom))
            faders = faders_for(anchor + shift)
            peak_after = mix_peak(gains_for(faders))
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
            notes.append(f"every fader also trimmed {-trim:.1f} dB together for mix-bus "
                         f"headroom (a track held at the {cap:.1f} dB move cap keeps the "
                         "targets from coming down further; the balance is unchanged)")
        if math.isfinite(peak_after) and peak_after > headroom + 0.05:
            notes.append(f"mix bus peaks at {peak_after:.1f} dBFS, over the {headroom:.1f} "
                         "dBFS limit (pull the master down)")
    else:
        notes.append("mix-bus peak not checked (no stems to sum)")

    plan = Plan()
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
                             "headroom_trim_db": round(trim, 2),
                             "fader_before_db": row.fader_db}))
            continue
        new_fader, capped = faders[track.guid]
        row.new_fader_db = round(new_fader, 2)
        row.capped = capped
        row.target_lufs = anchor + shift + trim + relative[track.guid]
        row.trim_db = trim
        if abs(row.move_db) < targets.min_move_db:
            row.new_fader_db = row.fader_db
            continue
        plan.add(_volume_edit(row, cap, targets))
    return StarterMix(plan, list(rows.values()), anchor + shift, peak_before, peak_after, shift,
                      notes)


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
    if row.capped:
        reason += f" (move capped at {cap:.1f} dB; run again to go further)"
    if row.trim_db < 0:
        reason += f" (includes a {row.trim_db:.1f} dB trim of every fader for mix-bus headroom)"
    figures = {
        "label": row.label, "mix_class": row.mix_class,
        "loudness_before_lufs": round(row.loudness_before_lufs, 2),
        "loudness_after_lufs": round(row.loudness_after_lufs, 2),
        "target_lufs": round(float(row.target_lufs or 0.0), 2),
        "move_db": round(row.move_db, 2), "capped": row.capped,
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
