"""From a Session to Plans: render the stems, label them, measure, decide.

The steps every session-level assistant shares, kept out of the command line so the CLI, the
demo, the REAPER/Ardour actions (spool handlers) and the watching service run the same code::

    >>> outcome = mix_session(load_session("song.RPP"), Path("work/"))  # doctest: +SKIP
    >>> print(outcome.plan.describe())                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bridge.plan import Plan
from bridge.session.model import Session


class PipelineError(ValueError):
    """A step could not run (bad labels file, labeller failure); the message says which."""


@dataclass
class MixOutcome:
    """Everything one starter-mix run decided and measured (the HTML report draws from it)."""

    plan: Plan = field(default_factory=Plan)
    levels: Any = None
    """:class:`bridge.assist.mix.StarterMix` when levels were decided."""
    eq: dict[str, Any] = field(default_factory=dict)
    """Track GUID -> :class:`bridge.assist.eq.TrackEq`."""
    labels: dict[str, str] = field(default_factory=dict)
    label_evidence: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sample_rate: int = 0


def read_labels(path: str | Path, session: Session) -> dict[str, str]:
    """A JSON object of track GUID or track name -> class, checked against the session."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise PipelineError(f"{path}: expected a JSON object of track -> class")
    guids = {t.guid for t in session.tracks}
    by_name = {t.name: t.guid for t in session.tracks}
    labels = {}
    for key, value in data.items():
        guid = key if key in guids else by_name.get(key)
        if guid is None:
            raise PipelineError(f"{path}: no track {key!r} in {session.path.name}")
        labels[guid] = str(value)
    return labels


def label_stems(session: Session, stems: dict[str, Path]) -> tuple[dict[str, str], dict[str, str]]:
    """Class and evidence for every rendered stem, from the shipped labeller; the names a
    person gave the track, its takes and their files are hints (:func:`name_evidence`)."""
    from bridge.assist.label import name_evidence
    from bridge.assist.labeller import label_file

    labels, evidence = {}, {}
    for track in session.tracks:
        if track.guid not in stems:
            continue
        try:
            result = label_file(stems[track.guid], name_evidence(track))
        except Exception as exc:  # the labeller's own errors name the file and the reason
            raise PipelineError(f"labelling {track.name!r} failed: {exc}") from None
        labels[track.guid] = result.label
        evidence[track.guid] = f"{result.label} ({result.confidence:.2f})"
    return labels, evidence


def mix_session(session: Session, work_dir: Path, *, targets: Any = None,
                max_move_db: float | None = None, headroom_db: float | None = None,
                labels: dict[str, str] | None = None, levels: bool = True,
                eq: bool = True, rendered: Any = None) -> MixOutcome:
    """Starter levels and EQ suggestions for ``session``; stems are rendered into ``work_dir``.

    ``labels`` (track GUID -> class) skips the labeller; ``rendered`` (a post-fader
    :class:`bridge.audio.render.RenderReport` of this session) skips the render.
    """
    from bridge.assist.eq import suggest_eq
    from bridge.assist.mix import measure_stems, mix_peak_dbfs, starter_mix
    from bridge.audio.render import render_stems

    outcome = MixOutcome()
    report = rendered if rendered is not None else render_stems(session, work_dir, mix=False)
    outcome.sample_rate = report.sample_rate
    outcome.problems.update(report.problems)
    stems = dict(report.stems)
    if labels is not None:
        outcome.labels = dict(labels)
    else:
        outcome.labels, outcome.label_evidence = label_stems(session, stems)
    gains: dict[str, float] = {}
    if levels:
        measures, problems = measure_stems(stems, session)
        outcome.problems.update(problems)
        outcome.levels = starter_mix(
            session, outcome.labels, measures, targets=targets, max_move_db=max_move_db,
            headroom_peak_dbfs=headroom_db, mix_peak=lambda g: mix_peak_dbfs(stems, g))
        outcome.plan.extend(outcome.levels.plan)
        outcome.notes.extend(outcome.levels.notes)
        gains = {t.guid: t.move_db for t in outcome.levels.tracks}
    if eq:
        eq_stems = {g: p for g, p in stems.items() if g not in outcome.problems}
        eq_plan, outcome.eq = suggest_eq(session, outcome.labels, StemExcerpts(eq_stems),
                                         report.sample_rate, gains_db=gains, targets=targets)
        outcome.plan.extend(eq_plan)
    return outcome


EQ_EXCERPT_S = 240.0
"""Longest stretch of a stem the EQ analysis reads (seconds): a longer stem is heard through
``EQ_EXCERPT_PIECES`` evenly spaced pieces that add up to this much."""
EQ_EXCERPT_PIECES = 16
_JOIN_S = 0.5  # slow raised-cosine fades at each join: a cut or a fast fade would smear
# a strong tone across neighbouring bands; a half-second fade only widens it by about 2 Hz


def stem_excerpt(path: str | Path, max_s: float = EQ_EXCERPT_S,
                 pieces: int = EQ_EXCERPT_PIECES) -> np.ndarray:
    """A stem for EQ analysis: the whole file up to ``max_s`` seconds, else evenly spaced pieces.

    The long-term spectrum the EQ reads is an average over the session; ``pieces`` pieces
    spread from start to end (first half of the pieces from the first half of the song) give
    the same average and the same halves without holding an hour of audio. Returns float32
    ``(frames, channels)``.

    >>> stem_excerpt("stems/01 - Bass.wav").shape  # doctest: +SKIP
    (11520000, 2)
    """
    import soundfile as sf

    with sf.SoundFile(str(path)) as fh:
        rate, total = fh.samplerate, fh.frames
        budget = int(max_s * rate)
        if total <= budget:
            return fh.read(dtype="float32", always_2d=True)
        piece = budget // pieces
        fade = min(piece // 4, max(1, int(_JOIN_S * rate)))
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32)
        out = np.zeros((piece * pieces, fh.channels), np.float32)
        for i in range(pieces):
            fh.seek(round(i * (total - piece) / (pieces - 1)))
            block = fh.read(piece, dtype="float32", always_2d=True)
            block[:fade] *= ramp[:, None]
            block[len(block) - fade:] *= ramp[::-1, None]
            out[i * piece:i * piece + len(block)] = block
    return out


class StemExcerpts(Mapping[str, np.ndarray]):
    """Track GUID -> :func:`stem_excerpt` of its stem file, read when asked, never kept.

    Hands stems to :func:`bridge.assist.eq.suggest_eq` one at a time, so a 40-track session
    holds one stem in memory, not forty.
    """

    def __init__(self, stems: Mapping[str, Path]) -> None:
        self._stems = dict(stems)

    def __getitem__(self, guid: str) -> np.ndarray:
        return stem_excerpt(self._stems[guid])

    def __iter__(self) -> Iterator[str]:
        return iter(self._stems)

    def __len__(self) -> int:
        return len(self._stems)

    def __contains__(self, guid: object) -> bool:
        return guid in self._stems
