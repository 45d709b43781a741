"""Apply a Plan to a REAPER project file (the DAW is closed, or the user asked for a copy).

Each edit changes only the lines it must; the rest of the file comes back byte for byte. Edits a
project file cannot express faithfully (ReaEQ band settings live in the plug-in's binary state)
are returned as skipped with the reason, never dropped silently: the REAPER action "Apply pending
plan" applies those live.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from bridge.daw.rpp_folders import group_into_folders
from bridge.plan import (
    AddTake,
    ApplyResult,
    MoveToFolder,
    Plan,
    RenameTrack,
    SetColor,
    SetMute,
    SetPan,
    SetVolume,
)
from bridge.session import rpp
from bridge.session.model import db_to_gain
from bridge.session.project_file import read_with_fingerprint, safe_write
from bridge.session.rpp_session import hex_to_native, track_guid

SOURCE_KINDS = {".wav": "WAVE", ".w64": "WAVE", ".flac": "FLAC", ".mp3": "MP3",
                ".ogg": "VORBIS", ".opus": "OPUS", ".wv": "WAVPACK", ".aif": "WAVE",
                ".aiff": "WAVE"}


def _volpan(track: rpp.Chunk) -> rpp.Line:
    line = track.get("VOLPAN")
    if line is None:
        line = track.set("VOLPAN", 1, 0, -1, -1, 1, after=("NAME", "PEAKCOL", "BEAT", "AUTOMODE"))
    return line


def _add_take(track: rpp.Chunk, edit: AddTake, project_folder: Path) -> str | None:
    items = list(track.chunks("ITEM"))
    if not 0 <= edit.item < len(items):
        return f"track has {len(items)} item(s); there is no item {edit.item + 1}"
    item = items[edit.item]
    # the active take's offset stays valid when the new file covers the whole source
    offset = edit.source_offset_s
    if offset is None:
        offset = _active_take_offset(item)
    for line in item.lines("TAKE"):  # the new take becomes the active one
        if "SEL" in line.values:
            line.set_tokens([t for t in line.text.split() if t != "SEL"])
    file = Path(edit.file)
    if file.is_absolute():
        try:
            file = file.relative_to(project_folder)
        except ValueError:
            pass
    kind = SOURCE_KINDS.get(file.suffix.lower(), "WAVE")
    eol = item.open.eol or "\n"
    indent = item.child_indent()
    new_lines = [
        "TAKE SEL",
        f"NAME {rpp.quote(edit.take_name or file.name)}",
        "TAKEVOLPAN 0 1 -1",
        f"SOFFS {rpp.format_number(offset)}",
        "PLAYRATE 1 1 0 -1 0 0.0025",
        "CHANMODE 0",
        f"GUID {{{str(uuid.uuid4()).upper()}}}",
    ]
    for text in new_lines:
        item.children.append(rpp.Line(indent + text, eol))
    item.add_chunk("SOURCE", kind, lines=[("FILE", str(file).replace("\\", "/"))])
    return None


def _active_take_offset(item: rpp.Chunk) -> float:
    """``SOFFS`` of the active take: the one after ``TAKE SEL``, else the first take."""
    offsets: list[float] = [0.0]
    active = 0
    for line in item.lines():
        if line.key == "TAKE":
            offsets.append(0.0)
            if "SEL" in line.values:
                active = len(offsets) - 1
        elif line.key == "SOFFS" and line.values and rpp.is_number(line.values[0]):
            offsets[-1] = float(line.values[0])
    return offsets[active]


def apply_plan(doc: rpp.Document, plan: Plan, project_folder: Path) -> ApplyResult:
    """Apply ``plan`` to ``doc`` in memory; returns what was applied and what was skipped."""
    result = ApplyResult()
    tracks = {track_guid(c, i).upper(): c for i, c in enumerate(doc.root.chunks("TRACK"))}
    folders: list[MoveToFolder] = []
    for edit in plan:
        if isinstance(edit, MoveToFolder):  # a folder needs all its tracks: done last
            folders.append(edit)
            continue
        track = tracks.get(edit.track.upper())
        if track is None:
            result.skipped.append((edit, f"no track {edit.track} in the project"))
            continue
        reason: str | None = None
        if isinstance(edit, RenameTrack):
            track.set("NAME", edit.name)
        elif isinstance(edit, SetVolume):
            _volpan(track)
            track.set_value("VOLPAN", 0, db_to_gain(edit.volume_db))
        elif isinstance(edit, SetPan):
            _volpan(track)
            track.set_value("VOLPAN", 1, edit.pan)
        elif isinstance(edit, SetMute):
            if track.get("MUTESOLO") is None:
                track.set("MUTESOLO", 0, 0, 0, after=("VOLPAN",))
            track.set_value("MUTESOLO", 0, 1 if edit.mute else 0)
        elif isinstance(edit, SetColor):
            track.set("PEAKCOL", hex_to_native(edit.color), after=("NAME",))
        elif isinstance(edit, AddTake):
            reason = _add_take(track, edit, project_folder)
        else:
            reason = (f"{edit.op} cannot be written into a project file faithfully; "
                      "apply it live with the REAPER action 'Studio Bridge: Apply pending plan'")
        if reason is None:
            result.applied.append(edit)
        else:
            result.skipped.append((edit, reason))
    if folders:
        applied, skipped = group_into_folders(doc, folders)
        result.applied += applied
        result.skipped += skipped
    return result


def apply_plan_to_file(path: str | Path, plan: Plan, *, out: str | Path | None = None,
                       recover: bool = False) -> ApplyResult:
    """Apply ``plan`` to the project at ``path``.

    With ``out`` the result goes to a new file (which must not exist) and the original is not
    touched; otherwise the project is replaced atomically with a backup, and refused if it
    changed on disk while we worked.
    """
    source = Path(path)
    data, fingerprint = read_with_fingerprint(source)
    doc = rpp.parse(data, recover=recover, source=str(source))
    result = apply_plan(doc, plan, source.resolve().parent)
    if out is not None:
        # REAPER reads media paths relative to the project's folder: a copy written elsewhere
        # must point at the same files
        rebase_media_paths(doc, source.resolve().parent, Path(out).resolve().parent)
    new = doc.to_bytes()
    if out is not None:
        safe_write(out, new, None)
    elif new != data:
        result.backup = safe_write(source, new, fingerprint)
    return result


def _is_absolute(file: str) -> bool:
    """Absolute on any system REAPER runs on: ``/x``, ``C:\\x``, ``C:/x``, ``\\\\server``."""
    return file.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", file))


def rebase_media_paths(doc: rpp.Document, old_folder: Path, new_folder: Path) -> int:
    """Rewrite relative ``FILE`` paths of every ``<SOURCE>`` so that a project saved in
    ``new_folder`` finds the media it found in ``old_folder``; returns how many changed.

    A path is made relative to the new folder (forward slashes, which REAPER reads on every
    system); absolute paths are left as they are.
    """
    if old_folder == new_folder:
        return 0
    changed = 0
    for source in doc.root.walk("SOURCE"):
        for line in source.lines("FILE"):
            if not line.values or not line.values[0] or _is_absolute(line.values[0]):
                continue
            media = (old_folder / line.values[0].replace("\\", "/")).resolve()
            try:
                rel = os.path.relpath(media, new_folder)
            except ValueError:  # another drive: only an absolute path can reach it
                rel = str(media)
            line.set_value(0, Path(rel).as_posix())
            changed += 1
    return changed
