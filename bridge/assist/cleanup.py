"""Clean up selected items in a session: write restored audio as new files next to the
project's media and return a Plan of :class:`~bridge.plan.AddTake` edits.

The original media is never touched; the new take sits on top of the old one, which stays one
click away in the DAW. Each new file is named after its source with the processes run
(``vocal.cleaned-denoise-debreath.wav``), numbered if that name is taken.

    >>> # plan, problems = clean_up_items(session, {"{GUID}": [0, 2]}, process="auto")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bridge.plan import AddTake, Plan
from bridge.restore.stream import PROCESS_NAMES, RestoreError, process_file
from bridge.session.model import Session


@dataclass
class CleanupResult:
    plan: Plan
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """One line per item that could not be processed (the batch goes on)."""


def unique_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem.suffix``, or ``stem-2``, ``stem-3`` ... if taken."""
    candidate = folder / f"{stem}{suffix}"
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def clean_up_items(
    session: Session,
    selection: dict[str, list[int] | None],
    *,
    process: str = "auto",
    media_dir: Path | None = None,
) -> CleanupResult:
    """Restore the selected items and plan a new take for each.

    Args:
        session: the loaded session.
        selection: track GUID -> item indices (0-based, project order), or None for all.
        process: one of ``denoise dehum declick debreath declip auto``.
        media_dir: where the new files go; default: the folder of each item's source
            (so they sit with the project's media).
    """
    if process not in PROCESS_NAMES:
        raise ValueError(f"unknown process {process!r}; one of {', '.join(PROCESS_NAMES)}")
    result = CleanupResult(Plan())
    for guid, indices in selection.items():
        try:
            track = session.track(guid)
        except KeyError as exc:
            result.problems.append(str(exc.args[0]))
            continue
        wanted = range(len(track.items)) if indices is None else indices
        for index in wanted:
            where = f"{track.name or guid} item {index + 1}"
            if not 0 <= index < len(track.items):
                result.problems.append(f"{where}: no such item ({len(track.items)} on track)")
                continue
            item = track.items[index]
            source = item.source
            if source is None or not source.is_audio or source.path is None:
                result.problems.append(f"{where}: not an audio item")
                continue
            if not source.exists:
                result.problems.append(f"{where}: media missing: {source.path}")
                continue
            folder = media_dir or source.path.parent
            suffix = ".wav"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                target = unique_path(folder, f"{source.path.stem}.cleaned-{process}", suffix)
                reports, diagnosis = process_file(source.path, target, process)
            except (RestoreError, OSError) as exc:
                result.problems.append(f"{where}: {exc}")
                continue
            applied = [r for r in reports if r.applied]
            if not applied:
                # Nothing was wrong: no new take, and no file left behind.
                target.unlink(missing_ok=True)
                continue
            names = "-".join(r.process for r in applied)
            final = unique_path(folder, f"{source.path.stem}.cleaned-{names}", suffix)
            if final != target:
                target.replace(final)
            result.files.append(final)
            try:
                file_text = str(final.relative_to(session.folder))
            except ValueError:
                file_text = str(final)
            reason = "; ".join(str(r) for r in applied)
            result.plan.add(
                AddTake(
                    track=guid,
                    track_name=track.name,
                    item=index,
                    file=file_text,
                    take_name=f"{source.path.stem} ({', '.join(r.process for r in applied)})",
                    reason=reason,
                    figures={
                        "source": str(source.path),
                        "processes": [r.to_dict() for r in applied],
                        "diagnosis": diagnosis.to_dict() if diagnosis else None,
                    },
                )
            )
    return result
