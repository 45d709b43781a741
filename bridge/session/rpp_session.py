"""Build the DAW-neutral :class:`~bridge.session.model.Session` from a REAPER project.

Reads what the document says and nothing more: fader volume and pan from ``VOLPAN``, mute and
solo from ``MUTESOLO``, custom colour from ``PEAKCOL``, folders from ``ISBUS``, plug-in names
from ``<FXCHAIN>``, and for each ``<ITEM>`` its active take's source, offset, gain and fades.
"""

from __future__ import annotations

import ntpath
from pathlib import Path

from bridge.session import rpp
from bridge.session.model import Item, Session, Source, Track, gain_to_db

NO_COLOR = 16576
"""REAPER's ``PEAKCOL`` value for "no custom colour"."""
CUSTOM_COLOR_FLAG = 0x1000000
FX_TAGS = frozenset({"VST", "VST3", "AU", "JS", "DX", "LV2", "CLAP", "VIDEO_EFFECT"})


def load_session(path: str | Path, *, recover: bool = False) -> Session:
    """Read a ``.RPP`` file into a Session. Raises :class:`rpp.RppParseError` naming the file."""
    p = Path(path).resolve()
    doc = rpp.read(p, recover=recover)
    return session_from_document(doc, p)


def _float(values: list[str] | None, index: int, default: float) -> float:
    if values is None or len(values) <= index:
        return default
    try:
        return float(values[index])
    except ValueError:
        return default


def native_to_hex(native: int) -> str | None:
    """``PEAKCOL`` / ``I_CUSTOMCOLOR`` value -> ``#RRGGBB`` (None when no custom colour).

    REAPER stores the OS-native colour; we read it as Windows' 0x00BBGGRR layout, which is
    what REAPER writes on Windows and Linux.
    """
    if native == NO_COLOR or not native & CUSTOM_COLOR_FLAG:
        return None
    r, g, b = native & 0xFF, (native >> 8) & 0xFF, (native >> 16) & 0xFF
    return f"#{r:02X}{g:02X}{b:02X}"


def hex_to_native(color: str) -> int:
    """``#RRGGBB`` -> the ``PEAKCOL`` value REAPER writes (custom-colour flag set)."""
    value = int(color.lstrip("#"), 16)
    r, g, b = (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF
    return r | (g << 8) | (b << 16) | CUSTOM_COLOR_FLAG


def resolve_media_path(file: str, project_folder: Path) -> Path:
    """Resolve a source ``FILE`` against the project folder as REAPER does.

    Relative paths are relative to the project folder. Absolute Windows paths on another OS are
    kept as written (they will be reported missing); when such a file is not found, a file of
    the same name in the project folder or its ``Audio``/``Media`` sub-folder is used, which is
    what REAPER offers when a project moves between machines.
    """
    if not file:
        return project_folder
    is_windows_abs = ntpath.isabs(file) and (":" in file[:3] or file.startswith("\\\\"))
    candidate = Path(file) if not is_windows_abs else Path(file.replace("\\", "/"))
    if not candidate.is_absolute() and not is_windows_abs:
        candidate = project_folder / file.replace("\\", "/")
    if candidate.is_file():
        return candidate
    name = ntpath.basename(file) if "\\" in file else Path(file).name
    for folder in (project_folder, project_folder / "Audio", project_folder / "Media"):
        moved = folder / name
        if moved.is_file():
            return moved
    return candidate


def _source(chunk: rpp.Chunk | None, folder: Path) -> Source | None:
    if chunk is None:
        return None
    kind = chunk.args[0] if chunk.args else ""
    if kind == "SECTION":  # a section of another source: follow the inner source
        inner = chunk.find("SOURCE")
        if inner is not None:  # the section's start offset is folded in by the caller
            return _source(inner, folder)
    file_values = chunk.values("FILE")
    file = file_values[0] if file_values else ""
    path = resolve_media_path(file, folder) if file else None
    return Source(kind=kind, file=file, path=path)


def _item(chunk: rpp.Chunk, folder: Path) -> Item:
    """One ``<ITEM>``: item-level lines, then per take ``TAKE`` + its lines + ``<SOURCE>``."""
    takes: list[dict[str, object]] = [{"lines": {}, "source": None, "selected": False}]
    item_lines: dict[str, list[str]] = {}
    in_takes = False
    for child in chunk.children:
        if isinstance(child, rpp.Chunk):
            if child.tag == "SOURCE" and takes[-1]["source"] is None:
                takes[-1]["source"] = child
            continue
        key = child.key
        if key == "TAKE":
            in_takes = True
            takes.append({"lines": {}, "source": None, "selected": "SEL" in child.values})
            continue
        target = takes[-1]["lines"] if in_takes else item_lines
        target.setdefault(key, child.values)  # type: ignore[union-attr]
    active = next((t for t in takes if t["selected"]), takes[0])
    first = active is takes[0]
    take_lines: dict[str, list[str]] = item_lines if first else active["lines"]  # type: ignore

    volpan = item_lines.get("VOLPAN")
    item_gain = _float(volpan, 0, 1.0)
    if first:
        take_gain, take_pan = _float(volpan, 2, 1.0), _float(volpan, 1, 0.0)
    else:
        tvp = take_lines.get("TAKEVOLPAN")
        take_pan, take_gain = _float(tvp, 0, 0.0), _float(tvp, 1, 1.0)
    # REAPER stores a polarity flip as a negative take volume
    gain = abs(item_gain * take_gain)

    fadein, fadeout = item_lines.get("FADEIN"), item_lines.get("FADEOUT")
    source_chunk = active["source"]
    source = _source(source_chunk, folder)  # type: ignore[arg-type]
    offset = _float(take_lines.get("SOFFS"), 0, 0.0)
    if isinstance(source_chunk, rpp.Chunk) and source_chunk.args[:1] == ["SECTION"]:
        offset += _float(source_chunk.values("STARTPOS"), 0, 0.0)
    name_values = take_lines.get("NAME")
    return Item(
        position_s=_float(item_lines.get("POSITION"), 0, 0.0),
        length_s=_float(item_lines.get("LENGTH"), 0, 0.0),
        source_offset_s=offset,
        gain_db=gain_to_db(gain),
        fade_in_s=_fade_length(fadein),
        fade_out_s=_fade_length(fadeout),
        fade_in_shape=int(_float(fadein, 0, 0)),
        fade_out_shape=int(_float(fadeout, 0, 0)),
        mute=_float(item_lines.get("MUTE"), 0, 0) != 0,
        playrate=_float(take_lines.get("PLAYRATE"), 0, 1.0),
        take_pan=take_pan,
        name=name_values[0] if name_values else "",
        source=source,
        take_count=len(takes),
        guid=(item_lines.get("IGUID") or item_lines.get("GUID") or [""])[0],
        channel_mode=int(_float(take_lines.get("CHANMODE"), 0, 0)),
        loop=_float(item_lines.get("LOOP"), 0, 0) != 0,
    )


def _fade_length(values: list[str] | None) -> float:
    """``FADEIN shape length auto_length ...``: the auto (crossfade) length wins when set."""
    manual, auto = _float(values, 1, 0.0), _float(values, 2, 0.0)
    return auto if auto > 0 else manual


def track_guid(chunk: rpp.Chunk, index: int) -> str:
    """A track's GUID: ``<TRACK {GUID}``, else its ``TRACKID`` line (old projects), else
    ``#n`` (1-based position) for projects that carry neither."""
    if chunk.args:
        return chunk.args[0]
    trackid = chunk.values("TRACKID")
    return trackid[0] if trackid else f"#{index + 1}"


def _fx_names(track: rpp.Chunk) -> list[str]:
    chain = track.find("FXCHAIN")
    if chain is None:
        return []
    names = []
    for child in chain.chunks():
        if child.tag in FX_TAGS and child.args:
            names.append(child.args[0])
    return names


def session_from_document(doc: rpp.Document, path: Path) -> Session:
    """The Session a parsed project describes; ``path`` locates its media."""
    folder = path.parent
    root = doc.root
    rate_values = root.values("SAMPLERATE")
    sample_rate = int(_float(rate_values, 0, 0)) or None
    # SAMPLERATE rate use_project_rate ...: without the flag REAPER follows the audio device
    if rate_values is not None and _float(rate_values, 1, 0) == 0:
        sample_rate = None
    master_volpan = root.values("MASTER_VOLUME")
    session = Session(
        path=path,
        daw="reaper",
        sample_rate=sample_rate,
        tempo_bpm=_float(root.values("TEMPO"), 0, 0) or None,
        master_volume_db=gain_to_db(_float(master_volpan, 0, 1.0)),
        pan_law_gain=_float(root.values("PANLAW"), 0, 1.0),
    )
    level = 0
    for index, chunk in enumerate(root.chunks("TRACK")):
        guid = track_guid(chunk, index)
        name = chunk.values("NAME")
        volpan = chunk.values("VOLPAN")
        mutesolo = chunk.values("MUTESOLO")
        peakcol = chunk.values("PEAKCOL")
        isbus = chunk.values("ISBUS")
        depth = int(_float(isbus, 1, 0))
        track = Track(
            guid=guid,
            name=name[0] if name else "",
            index=index,
            volume_db=gain_to_db(abs(_float(volpan, 0, 1.0))),
            pan=max(-1.0, min(1.0, _float(volpan, 1, 0.0))),
            mute=_float(mutesolo, 0, 0) != 0,
            solo=_float(mutesolo, 1, 0) != 0,
            color=native_to_hex(int(_float(peakcol, 0, NO_COLOR))),
            folder_depth=depth,
            folder_level=level,
            phase_invert=_float(chunk.values("IPHASE"), 0, 0) != 0,
            fx_names=_fx_names(chunk),
            items=[_item(c, folder) for c in chunk.chunks("ITEM")],
            channels=int(_float(chunk.values("NCHAN"), 0, 2)),
        )
        level = max(0, level + depth)
        session.tracks.append(track)
    return session
