"""What the DAW actions ask for: one handler per action of the spool exchange.

"Label stems", "Starter mix", "Suggest EQ" and "Clean up selected items" in REAPER (and their
Ardour twins) send a request naming the project and the selected tracks; each handler here reads
the project, runs the same pipeline as the command line, and answers with a Plan the action
applies as one undo step. Stems and other working files go to the project's own data folder
(``<project folder>/.studio-bridge/``), never anywhere a request names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.daw.spool import HandlerResult, RequestError, handler, request_session
from bridge.plan import Plan
from bridge.session.model import Session
from bridge.session.project_file import DATA_FOLDER


def work_folder(session: Session, name: str) -> Path:
    """``<project folder>/.studio-bridge/<name>``: where an action's working files go."""
    folder = session.path.parent / DATA_FOLDER / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def selected_guids(request: dict[str, Any], session: Session) -> set[str]:
    """The tracks the action was run on (all tracks when the request names none)."""
    guids = {str(t.get("guid", "")).upper() for t in request.get("tracks", [])}
    chosen = {t.guid for t in session.tracks if t.guid.upper() in guids}
    return chosen or {t.guid for t in session.tracks}


def only(plan: Plan, guids: set[str]) -> Plan:
    return Plan([e for e in plan if e.track in guids])


@handler("label")
def label_request(request: dict[str, Any]) -> HandlerResult:
    """Name and colour the selected tracks from what their stems sound like."""
    from bridge.assist.label import plan_labels
    from bridge.audio.render import render_stems

    session = request_session(request)
    guids = selected_guids(request, session)
    report = render_stems(session, work_folder(session, "stems"), tracks=sorted(guids),
                          pre_fader=True, mix=False)
    options = request.get("options", {})
    plan = plan_labels(session, report.stems, rename_all=bool(options.get("rename_all", False)),
                       folders=bool(options.get("folders", False)))
    skipped = len(report.problems)
    return plan, (f"{len(plan)} change(s) for {len(report.stems)} track(s)"
                  + (f"; {skipped} track(s) without a stem" if skipped else ""))


def _mix(request: dict[str, Any], *, levels: bool, eq: bool) -> HandlerResult:
    from bridge.assist.pipeline import PipelineError, mix_session

    session = request_session(request)
    guids = selected_guids(request, session)
    try:
        outcome = mix_session(session, work_folder(session, "stems"), levels=levels, eq=eq)
    except PipelineError as exc:
        raise RequestError(str(exc)) from None
    plan = only(outcome.plan, guids)
    return plan, f"{len(plan)} change(s); " + ("; ".join(outcome.notes) or "no notes")


@handler("starter_mix")
def starter_mix_request(request: dict[str, Any]) -> HandlerResult:
    """Fader moves toward class loudness targets (the whole mix decides, selection receives)."""
    return _mix(request, levels=True, eq=False)


@handler("suggest_eq")
def suggest_eq_request(request: dict[str, Any]) -> HandlerResult:
    """EQ bands for the selected tracks, each with its reason."""
    return _mix(request, levels=False, eq=True)


@handler("cleanup")
def cleanup_request(request: dict[str, Any]) -> HandlerResult:
    """Restore the selected items into new files beside the media; answer with new takes."""
    from bridge.assist.cleanup import clean_up_items

    session = request_session(request)
    selection: dict[str, list[int] | None] = {}
    for wanted in request.get("tracks", []):
        guid = str(wanted.get("guid", ""))
        track = next((t for t in session.tracks if t.guid.upper() == guid.upper()), None)
        if track is None:
            raise RequestError(f"no track {guid} in {session.path.name} (save the project?)")
        indices = []
        for item in wanted.get("items", []):
            index = _item_index(track, item)
            if index is None:
                raise RequestError(f"track {track.name!r}: selected item not found in the saved "
                                   "project (save the project and try again)")
            indices.append(index)
        selection[track.guid] = indices or None
    if not selection:
        raise RequestError("select the items to clean up")
    process = str(request.get("options", {}).get("process", "auto"))
    try:
        result = clean_up_items(session, selection, process=process)
    except ValueError as exc:
        raise RequestError(str(exc)) from None
    message = f"{len(result.files)} new take(s)"
    if result.problems:
        message += "; " + "; ".join(result.problems)
    return result.plan, message


def _item_index(track: Any, wanted: dict[str, Any]) -> int | None:
    """Find a selected item in the saved project: by GUID, else by position."""
    guid = str(wanted.get("guid", "")).upper()
    for index, item in enumerate(track.items):
        if guid and item.guid.upper() == guid:
            return index
    position = wanted.get("position_s")
    if isinstance(position, (int, float)):
        for index, item in enumerate(track.items):
            if abs(item.position_s - float(position)) < 1e-6:
                return index
    return None
