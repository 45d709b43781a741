"""From a Session to Plans: render the stems, label them, measure, decide.

The steps every session-level assistant shares, kept out of the command line so the CLI, the
demo, the REAPER/Ardour actions (spool handlers) and the watching service run the same code::

    >>> outcome = mix_session(load_session("song.RPP"), Path("work/"))  # doctest: +SKIP
    >>> print(outcome.plan.describe())                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
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
    """Class and evidence for every rendered stem, from the shipped labeller."""
    from bridge.assist.labeller import label_file

    labels, evidence = {}, {}
    for track in session.tracks:
        if track.guid not in stems:
            continue
        try:
            result = label_file(stems[track.guid], track.name)
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
    import soundfile as sf

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
        arrays = {}
        for guid, path in stems.items():
            data, _ = sf.read(str(path), dtype="float32", always_2d=True)
            arrays[guid] = np.asarray(data)
        eq_plan, outcome.eq = suggest_eq(session, outcome.labels, arrays, report.sample_rate,
                                         gains_db=gains, targets=targets)
        outcome.plan.extend(eq_plan)
    return outcome
