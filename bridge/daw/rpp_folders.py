"""Folder grouping in a REAPER project file: the ``move_to_folder`` edits of a Plan.

REAPER keeps folders as track order plus one number per track (``ISBUS role depth_change``:
``1 1`` opens a folder, ``2 -1`` closes one, ``0 0`` is neither). A folder here is made the way
an engineer makes one by hand: a new folder track just above the first of its tracks, the
others moved up under it in their own order, the last one closing the folder.

Moving tracks renumbers them, and REAPER addresses a send by the *index* of its source track
(``AUXRECV <index> ...`` on the receiving track), so every ``AUXRECV`` is renumbered to follow
its source. Tracks that are folders or sit inside one are left where they are, and a folder
needs at least two tracks: nesting into an existing structure is the engineer's call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from bridge.plan import MoveToFolder
from bridge.session import rpp
from bridge.session.rpp_session import hex_to_native, track_guid

MIN_TRACKS = 2
"""A folder of one track only adds a row: fewer tracks than this are left alone."""


def _isbus(chunk: rpp.Chunk) -> tuple[int, int]:
    values = chunk.values("ISBUS") or []
    try:
        return int(float(values[0])), int(float(values[1]))
    except (IndexError, ValueError):
        return 0, 0


def _folder_track(name: str, color: str, indent: str, child_indent: str,
                  eol: str) -> rpp.Chunk:
    guid = "{" + str(uuid.uuid4()).upper() + "}"
    lines: list[str] = [f"NAME {rpp.quote(name)}"]
    if color:
        lines.append(f"PEAKCOL {hex_to_native(color)}")
    lines += ["BEAT -1", "AUTOMODE 0", "VOLPAN 1 0 -1 -1 1", "MUTESOLO 0 0 0", "IPHASE 0",
              "PLAYOFFS 0 1", "ISBUS 1 1", "BUSCOMP 0 0 0 0 0", "SEL 0", "NCHAN 2", "FX 1",
              f"TRACKID {guid}", "PERF 0", "MIDIOUT -1", "MAINSEND 1 0"]
    return rpp.Chunk(rpp.Line(f"{indent}<TRACK {guid}", eol),
                     [rpp.Line(child_indent + text, eol) for text in lines],
                     rpp.Line(indent + ">", eol))


def group_into_folders(
    doc: rpp.Document, edits: Sequence[MoveToFolder]
) -> tuple[list[MoveToFolder], list[tuple[MoveToFolder, str]]]:
    """Apply ``move_to_folder`` edits to ``doc``; returns (applied, [(skipped, why)])."""
    tracks = list(doc.root.chunks("TRACK"))
    by_guid = {track_guid(c, i).upper(): c for i, c in enumerate(tracks)}
    depth_before: dict[int, int] = {}
    depth = 0
    for chunk in tracks:
        depth_before[id(chunk)] = depth
        depth += _isbus(chunk)[1]
    existing = {(c.values("NAME") or [""])[0].casefold() for c in tracks if _isbus(c)[1] > 0}

    skipped: list[tuple[MoveToFolder, str]] = []
    groups: dict[str, list[tuple[MoveToFolder, rpp.Chunk]]] = {}
    for edit in edits:
        chunk = by_guid.get(edit.track.upper())
        if chunk is None:
            skipped.append((edit, f"no track {edit.track} in the project"))
        elif _isbus(chunk)[1] != 0:
            skipped.append((edit, "the track opens or closes a folder already: left in place"))
        elif depth_before[id(chunk)] != 0:
            skipped.append((edit, "the track sits inside a folder already: left in place"))
        elif edit.folder.casefold() in existing:
            skipped.append((edit, f"a folder named {edit.folder!r} exists already: left alone"))
        else:
            groups.setdefault(edit.folder, []).append((edit, chunk))

    applied: list[MoveToFolder] = []
    order = list(tracks)
    for name, members in groups.items():
        if len(members) < MIN_TRACKS:
            skipped += [(e, f"only one track for folder {name!r}") for e, _ in members]
            continue
        chunks = sorted((c for _, c in members), key=order.index)
        first = order.index(chunks[0])
        rest = [c for c in order if c not in chunks]
        template = chunks[0]
        folder = _folder_track(name, next((e.color for e, _ in members if e.color), ""),
                               template.indent, template.child_indent(),
                               template.open.eol or "\n")
        order = rest[:first] + [folder, *chunks] + rest[first:]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            chunk.set("ISBUS", 2 if last else 0, -1 if last else 0, after=("PLAYOFFS", "IPHASE"))
        applied += [e for e, _ in members]
    if applied:
        _reorder(doc, tracks, order)
    return applied, skipped


def _reorder(doc: rpp.Document, before: list[rpp.Chunk], after: list[rpp.Chunk]) -> None:
    """Put the project's tracks in ``after`` order, sends following their sources."""
    new_index = {id(c): i for i, c in enumerate(after)}
    old_to_new = {i: new_index[id(c)] for i, c in enumerate(before)}
    for chunk in after:
        for line in chunk.lines("AUXRECV"):
            values = line.values
            if values and rpp.is_number(values[0]) and int(float(values[0])) in old_to_new:
                line.set_value(0, old_to_new[int(float(values[0]))])
    children = doc.root.children
    slots = [i for i, c in enumerate(children) if isinstance(c, rpp.Chunk) and c.tag == "TRACK"]
    start = slots[0]
    kept = [c for c in children if not (isinstance(c, rpp.Chunk) and c.tag == "TRACK")]
    # REAPER writes the tracks together; anything found between them ends up after them
    doc.root.children = kept[:start] + after + kept[start:]
