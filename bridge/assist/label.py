"""From instrument labels to a Plan: studio track names and a colour per family.

Only tracks whose names a DAW made up ("Audio 01", "Track 3", "") are renamed, unless the
caller asks for all; a stem the labeller is not sure about (``unknown``) keeps its name. Every
edit says why: the class, the confidence and the evidence behind it.

    >>> plan = plan_labels(session, render_stems(session, out_dir).stems)
    >>> print(plan.describe())
      1. Audio 01: rename to 'Kick'  (kick 0.98: audio: kick 0.98 (next tom 0.01))
      2. Audio 01: colour #C8453A  (drums family)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bridge.plan import MoveToFolder, Plan, RenameTrack, SetColor
from bridge.session.model import Session, Track

from .labeller import UNKNOWN, LabelError, LabelResult, is_generic_name, label_audio, read_mono

log = logging.getLogger(__name__)

STUDIO_NAMES: dict[str, str] = {
    "kick": "Kick", "snare": "Snare", "hihat": "Hi-Hat", "tom": "Tom", "cymbal": "OH",
    "drums": "Drums", "percussion": "Perc", "bass": "Bass", "guitar": "Gtr", "keys": "Keys",
    "strings": "Strings", "brass": "Brass", "woodwind": "Woodwind", "vocal": "Lead Vox",
    "speech": "VO",
}
"""The name a lone track of each class gets; duplicates are numbered ("Gtr 1", "Gtr 2")."""
ALWAYS_NUMBERED = frozenset({"tom"})
"""Classes numbered even when alone ("Tom 1"): engineers count toms from the first."""
BACKING_VOCAL = "BV"

FAMILIES: dict[str, str] = {
    "kick": "drums", "snare": "drums", "hihat": "drums", "tom": "drums", "cymbal": "drums",
    "drums": "drums", "percussion": "drums", "bass": "bass", "guitar": "guitars",
    "keys": "keys", "strings": "orchestra", "brass": "orchestra", "woodwind": "orchestra",
    "vocal": "vocals", "speech": "speech",
}
FAMILY_COLORS: dict[str, str] = {
    "drums": "#C8453A", "bass": "#3A6FC8", "guitars": "#E0972C", "keys": "#8A5CC8",
    "orchestra": "#3AA872", "vocals": "#D0508A", "speech": "#4FA3B5",
}
FAMILY_FOLDERS: dict[str, str] = {
    "drums": "DRUMS", "bass": "BASS", "guitars": "GUITARS", "keys": "KEYS",
    "orchestra": "ORCHESTRA", "vocals": "VOCALS", "speech": "VO",
}
"""Folder track names when ``folders`` is asked for (capitals: a folder reads apart from the
tracks in it, and "Drums" may already name a loop track)."""


@dataclass(frozen=True)
class TrackLabel:
    """The labeller's answer for one track, or why there is none."""

    track: Track
    result: LabelResult | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return self.result.label if self.result else UNKNOWN


def wants_rename(track: Track, rename_all: bool = False) -> bool:
    """True for tracks the label assistant may rename: generic or empty names, or all."""
    return not track.is_folder and (rename_all or is_generic_name(track.name))


MAX_NAME_HINTS = 6
"""At most this many distinct names (track, takes, files) are read as hints for one track."""


def name_evidence(track: Track) -> str | None:
    """The names a person gave a track's audio, joined into one hint, or None.

    The track name comes first, then the names of its takes and of their source files
    ("kick_in.wav" dragged onto "Audio 03"); names a DAW made up ("Audio 03", "REC0004.wav")
    are left out, and so are repeats.
    """
    names: list[str] = []
    seen: set[str] = set()
    candidates = [track.name]
    for item in track.items:
        candidates.append(item.name)
        if item.source is not None and item.source.file:
            candidates.append(Path(item.source.file.replace("\\", "/")).name)
    for name in candidates:
        key = Path(name).stem.casefold() if name else ""
        if not name or key in seen or is_generic_name(name):
            continue
        seen.add(key)
        names.append(name)
        if len(names) == MAX_NAME_HINTS:
            break
    return " ".join(names) or None


def label_tracks(session: Session, stems: Mapping[str, Path], *, rename_all: bool = False,
                 min_confidence: float | None = None) -> list[TrackLabel]:
    """Label the stem of every track that may be renamed (in track order).

    A stem that cannot be read is reported in :attr:`TrackLabel.error`, and the others go on.
    """
    out: list[TrackLabel] = []
    for track in session.tracks:
        if not wants_rename(track, rename_all):
            continue
        stem = stems.get(track.guid)
        if stem is None:
            out.append(TrackLabel(track, error="no stem rendered for this track"))
            continue
        try:
            samples, rate = read_mono(stem)
            hint = name_evidence(track)
            result = label_audio(samples, rate, hint, min_confidence=min_confidence)
        except (LabelError, ValueError, OSError) as exc:
            log.warning("track %r: %s", track.name, exc)
            out.append(TrackLabel(track, error=str(exc)))
            continue
        out.append(TrackLabel(track, result))
    return out


def _lead_vocal(labels: list[TrackLabel]) -> TrackLabel:
    """The vocal that sings most (active seconds, then level): that one is the lead."""
    def weight(t: TrackLabel) -> tuple[float, float]:
        fig = t.result.figures if t.result else {}
        return (round(float(fig.get("active_s", 0.0)), 0), float(fig.get("rms_active_dbfs", -200)))

    return max(labels, key=weight)


def studio_names(labels: list[TrackLabel], taken: set[str] | None = None) -> dict[str, str]:
    """Track GUID -> new name for every confidently labelled track, duplicates numbered.

    ``taken`` holds names already used by tracks that keep theirs (compared case-blind), so a new
    "Kick" beside an existing "Kick" becomes "Kick 2".
    """
    used = {n.casefold() for n in (taken or set())}
    by_class: dict[str, list[TrackLabel]] = {}
    for t in labels:
        if t.result is not None and t.result.is_known:
            by_class.setdefault(t.label, []).append(t)
    names: dict[str, str] = {}

    def claim(guid: str, base: str, number: int | None) -> int | None:
        n = number
        while True:
            name = base if n is None else f"{base} {n}"
            if name.casefold() not in used:
                used.add(name.casefold())
                names[guid] = name
                return n
            n = 2 if n is None else n + 1

    for cls, group in by_class.items():
        if cls == "vocal":
            lead = _lead_vocal(group)
            claim(lead.track.guid, STUDIO_NAMES["vocal"], None)
            k = 0
            for t in group:
                if t is not lead:
                    k = (claim(t.track.guid, BACKING_VOCAL, k + 1) or k + 1)
            continue
        base = STUDIO_NAMES[cls]
        if len(group) == 1 and cls not in ALWAYS_NUMBERED:
            claim(group[0].track.guid, base, None)
            continue
        k = 0
        for t in group:
            k = claim(t.track.guid, base, k + 1) or k + 1
    return names


def plan_from_labels(labels: list[TrackLabel], session: Session, *,
                     folders: bool = False) -> Plan:
    """Rename and colour the labelled tracks; unknown ones and errors are left alone.

    With ``folders``, every family with two or more labelled top-level tracks also goes into a
    folder track of its own (``move_to_folder``: "DRUMS", "VOCALS", ...). Tracks inside or
    opening/closing a folder, and families whose folder name a folder track already has, are
    left out: the project-file writer and the REAPER action would leave them in place.
    """
    labelled = {t.track.guid for t in labels}
    taken = {t.name for t in session.tracks if t.guid not in labelled and t.name}
    names = studio_names(labels, taken)
    plan = Plan()
    for t in labels:
        new = names.get(t.track.guid)
        if new is None or t.result is None:
            continue
        r = t.result
        top = dict(sorted(r.scores.items(), key=lambda kv: -kv[1])[:3])
        figures = {"label": r.label, "confidence": round(r.confidence, 3),
                   "scores": {k: round(v, 3) for k, v in top.items()}, **r.figures}
        reason = f"{r.label} {r.confidence:.2f}: {r.evidence}"
        if new != t.track.name:
            plan.add(RenameTrack(track=t.track.guid, track_name=t.track.name, name=new,
                                 reason=reason, figures=figures))
        family = FAMILIES[r.label]
        color = FAMILY_COLORS[family]
        if (t.track.color or "").upper() != color:
            plan.add(SetColor(track=t.track.guid, track_name=t.track.name, color=color,
                              reason=f"{family} family ({r.label} {r.confidence:.2f})",
                              figures={"family": family, "label": r.label}))
    if folders:
        plan.extend(_folder_edits([t for t in labels if t.track.guid in names], session))
    return plan


FOLDER_MIN_TRACKS = 2
"""A folder of one track only adds a row; the project-file writer and the REAPER action
leave such a folder unmade, so it is not proposed."""


def free_for_folder(session: Session) -> set[str]:
    """GUIDs of the tracks a new folder may take: top-level tracks that neither open nor close
    a folder. The appliers leave every other track where it is (nesting into an engineer's
    own folders is the engineer's call), so only these are proposed."""
    free: set[str] = set()
    depth = 0  # unclamped, like the file writer: a stray close leaves what follows alone
    for track in session.tracks:
        if track.folder_depth == 0 and depth == 0:
            free.add(track.guid)
        depth += track.folder_depth
    return free


def _folder_edits(labels: list[TrackLabel], session: Session) -> list[MoveToFolder]:
    """Family folders the appliers will make: only free tracks, only names no folder of the
    project has yet, and only families with two or more such tracks."""
    if session.daw != "reaper":  # Ardour has no folder tracks
        return []
    free = free_for_folder(session)
    folder_names = {t.name.casefold() for t in session.tracks if t.is_folder}
    by_family: dict[str, list[TrackLabel]] = {}
    for t in labels:
        if t.result is not None and t.track.guid in free:
            family = FAMILIES[t.result.label]
            if FAMILY_FOLDERS[family].casefold() not in folder_names:
                by_family.setdefault(family, []).append(t)
    edits = []
    for family, group in by_family.items():
        if len(group) < FOLDER_MIN_TRACKS:
            continue
        for t in group:
            r = t.result
            assert r is not None
            edits.append(MoveToFolder(
                track=t.track.guid, track_name=t.track.name, folder=FAMILY_FOLDERS[family],
                color=FAMILY_COLORS[family],
                reason=f"{family} family: {len(group)} tracks ({r.label} {r.confidence:.2f})",
                figures={"family": family, "label": r.label, "tracks": len(group)}))
    return edits


def plan_labels(session: Session, stems: Mapping[str, Path], *, rename_all: bool = False,
                min_confidence: float | None = None, folders: bool = False) -> Plan:
    """Label each track's stem and return the renames and colours (and with ``folders``, the
    family folders) as a Plan.

    ``stems`` maps track GUID -> stem file (``render_stems(session, out_dir).stems``). Tracks
    with names a person chose are left alone unless ``rename_all``; so are tracks the labeller
    calls ``unknown`` (below ``min_confidence``, default: the model's threshold).
    """
    labels = label_tracks(session, stems, rename_all=rename_all, min_confidence=min_confidence)
    return plan_from_labels(labels, session, folders=folders)
