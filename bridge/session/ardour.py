"""Ardour sessions (``.ardour`` XML, Ardour 6/7/8) <-> the DAW-neutral Session model.

Reading gives tracks (the route id as ``guid``, name, fader dB, pan, mute, solo, colour,
plug-in names) and their regions (position, length, source offset, gain, fades) resolved to
the files in ``interchange/<name>/audiofiles``. Writing applies a Plan to the XML (rename,
fader, mute, pan, colour, ACE EQ bands on an ACE EQ already in the chain) through the same
safe write as REAPER projects: refused when the file changed on disk since it was read, a
timestamped backup, then an atomic replace.

Ardour 7 keeps time in superclock ticks (``a<ticks>``, 282 240 000 per second) or in beats
(``b<ticks>``, 1920 per quarter note); a region's position is written inside its length as
``a<length>@a<position>``. Ardour 6 and older wrote plain sample counts.

Example::

    session = load_session("song/song.ardour")
    print(session.tracks[0].name, session.tracks[0].volume_db)
    apply_plan_to_file("song/song.ardour", plan)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from bridge.plan import (
    ApplyResult,
    Plan,
    RenameTrack,
    SetColor,
    SetEqBand,
    SetMute,
    SetPan,
    SetVolume,
)
from bridge.session.model import Item, Session, Source, Track, db_to_gain, gain_to_db
from bridge.session.project_file import read_with_fingerprint, safe_write

SUPERCLOCK_RATE = 282_240_000
BEAT_TICKS = 1920
DEFAULT_FADE_SAMPLES = 64
"""Ardour's default region fade: 64 samples."""

PLUGIN_TYPES = frozenset({"ladspa", "lv2", "windows-vst", "lxvst", "mac-vst", "vst3",
                          "audiounit", "luaproc"})
SKIP_FLAGS = ("MasterOut", "MonitorOut", "Auditioner", "FoldbackBus", "SurroundMaster")
ACE_EQ_URI = "urn:ardour:a-eq"

_KINDS = {".wav": "WAVE", ".w64": "WAVE", ".bwf": "WAVE", ".caf": "WAVE", ".rf64": "WAVE",
          ".aif": "AIFF", ".aiff": "AIFF", ".flac": "FLAC", ".ogg": "VORBIS", ".oga": "VORBIS",
          ".mp3": "MP3", ".opus": "OPUS", ".wv": "WAVPACK", ".mid": "MIDI", ".smf": "MIDI"}


class ArdourSessionError(ValueError):
    """The file is not a readable Ardour session; the message names the file and the cause."""


# --------------------------------------------------------------------------------------------
# recognising


def is_ardour_project(path: str | Path) -> bool:
    """True for an ``.ardour`` file whose root element is ``<Session>``, or a folder holding
    ``<folder name>.ardour`` (or exactly one ``.ardour`` file)."""
    p = Path(path)
    if p.is_dir():
        found = session_file_in(p)
        return found is not None and is_ardour_project(found)
    if p.suffix.lower() != ".ardour" or not p.is_file():
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return re.search(rb"<Session[\s>]", head) is not None


def session_file_in(folder: Path) -> Path | None:
    """The session file of an Ardour session folder (snapshot named like the folder first)."""
    named = folder / f"{folder.name}.ardour"
    if named.is_file():
        return named
    found = sorted(f for f in folder.glob("*.ardour") if f.is_file())
    return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------------------------------
# time values


@dataclass(frozen=True)
class _Clock:
    sample_rate: int
    bpm: float

    def seconds(self, text: str | None) -> float:
        """A time value of any Ardour version in seconds (``a..``, ``b..`` or samples)."""
        if not text:
            return 0.0
        text = text.strip()
        if "@" in text:  # a distance with its origin: the distance is the value
            text = text.split("@", 1)[0]
        try:
            if text[0] == "a":
                return int(text[1:]) / SUPERCLOCK_RATE
            if text[0] == "b":
                return int(text[1:]) / BEAT_TICKS * 60.0 / self.bpm
            return int(float(text)) / self.sample_rate
        except (ValueError, IndexError):
            raise ArdourSessionError(f"unreadable time value {text!r}") from None

    def position(self, region: ET.Element) -> float:
        length = region.get("length", "")
        if "@" in length:
            return self.seconds(length.split("@", 1)[1])
        return self.seconds(region.get("position"))


# --------------------------------------------------------------------------------------------
# reading


def parse_xml(data: bytes, source: str = "<bytes>") -> ET.Element:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ArdourSessionError(f"{source}:{line}:{col}: not valid XML ({exc})") from None
    if root.tag != "Session":
        raise ArdourSessionError(f"{source}: root element is <{root.tag}>, not <Session>")
    return root


def load_session(path: str | Path) -> Session:
    """Read an Ardour session (the ``.ardour`` file or its folder) into a :class:`Session`."""
    p = Path(path)
    if p.is_dir():
        found = session_file_in(p)
        if found is None:
            raise ArdourSessionError(f"{p}: no single .ardour session file in this folder")
        p = found
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ArdourSessionError(f"{p}: cannot read ({exc.strerror})") from None
    return session_from_xml(parse_xml(data, str(p)), p)


def _flags(el: ET.Element | None) -> set[str]:
    if el is None:
        return set()
    return {f for f in (el.get("flags") or "").split(",") if f}


def _controllable(el: ET.Element, name: str) -> ET.Element | None:
    for c in el.findall("Controllable"):
        if c.get("name") == name:
            return c
    return None


def _float(value: str | None, default: float = 0.0) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def color_from_rgba(value: str | None) -> str | None:
    """Ardour's ``0xRRGGBBAA`` as a decimal string -> ``#RRGGBB`` (0 = no colour)."""
    try:
        rgba = int(value or "0")
    except ValueError:
        return None
    if rgba == 0:
        return None
    return f"#{(rgba >> 8) & 0xFFFFFF:06X}"


def rgba_from_color(color: str) -> int:
    from bridge.plan import parse_color

    r, g, b = parse_color(color)
    return (r << 24) | (g << 16) | (b << 8) | 0xFF


def _route_gain(route: ET.Element) -> float:
    for proc in route.findall("Processor"):
        if proc.get("type") == "amp":
            c = _controllable(proc, "gaincontrol")
            if c is not None:
                return _float(c.get("value"), 1.0)
    return 1.0


def _route_pan(route: ET.Element) -> float:
    pannable = route.find("Pannable")
    if pannable is None:
        return 0.0
    c = _controllable(pannable, "pan-azimuth")
    if c is None:
        return 0.0
    # azimuth 0 = left, 1 = right
    return max(-1.0, min(1.0, 2.0 * _float(c.get("value"), 0.5) - 1.0))


def _route_mute(route: ET.Element) -> bool:
    c = _controllable(route, "mute")
    if c is not None:
        return _float(c.get("value")) >= 0.5
    mm = route.find("MuteMaster")
    return mm is not None and mm.get("muted") in ("1", "yes")


def _route_solo(route: ET.Element) -> bool:
    c = _controllable(route, "solo")
    if c is None:
        return False
    return c.get("self-solo") in ("1", "yes") or _float(c.get("value")) >= 0.5


def _fade_seconds(region: ET.Element, which: str, clock: _Clock) -> float:
    if region.get(f"fade-{which}-active", "1") in ("0", "no"):
        return 0.0
    fade = region.find("FadeIn" if which == "in" else "FadeOut")
    default = DEFAULT_FADE_SAMPLES / clock.sample_rate
    if fade is None or fade.get("default") == "yes":
        return default
    events = fade.find("AutomationList/events")
    if events is None or not (events.text or "").strip():
        return default
    last = events.text.strip().splitlines()[-1].split()[0]
    return clock.seconds(last)


class _SourceIndex:
    def __init__(self, root: ET.Element, folder: Path, name: str) -> None:
        self.by_id = {s.get("id"): s for s in root.iter("Source") if s.get("id")}
        self.folder = folder
        self.interchange = [folder / "interchange" / name]
        extra = folder / "interchange"
        if extra.is_dir():
            self.interchange += sorted(d for d in extra.iterdir() if d.is_dir()
                                       and d.name != name)

    def source(self, sid: str | None, region_type: str) -> Source | None:
        el = self.by_id.get(sid or "")
        if el is None:
            return None
        name = el.get("name") or ""
        kind = "MIDI" if (el.get("type") or region_type) == "midi" else _KINDS.get(
            Path(name).suffix.lower(), "WAVE")
        sub = "midifiles" if kind == "MIDI" else "audiofiles"
        candidates: list[Path] = []
        if Path(name).is_absolute():
            candidates.append(Path(name))
        else:
            candidates += [d / sub / name for d in self.interchange]
            candidates.append(self.folder / "externals" / name)
        origin = el.get("origin")
        if origin and Path(origin).is_absolute():
            candidates.append(Path(origin))
        path = next((c for c in candidates if c.is_file()), candidates[0] if candidates else None)
        return Source(kind=kind, file=name, path=path)


def session_from_xml(root: ET.Element, path: Path) -> Session:
    """Build a :class:`Session` from a parsed ``<Session>`` element saved at ``path``."""
    path = Path(path)
    try:
        sample_rate = int(root.get("sample-rate") or 48000)
    except ValueError:
        raise ArdourSessionError(f"{path}: bad sample-rate {root.get('sample-rate')!r}") from None
    bpm = None
    tempo = root.find("TempoMap/Tempos/Tempo")
    if tempo is not None:
        npm = _float(tempo.get("npm") or tempo.get("beats-per-minute"), 120.0)
        note = _float(tempo.get("note-type"), 4.0) or 4.0
        bpm = npm * 4.0 / note
    clock = _Clock(sample_rate, bpm or 120.0)
    name = root.get("name") or path.stem
    sources = _SourceIndex(root, path.parent, name)
    playlists = {p.get("id"): p for p in root.iter("Playlist")}
    playlists_by_name = {p.get("name"): p for p in root.iter("Playlist")}

    session = Session(path=path, daw="ardour", sample_rate=sample_rate, tempo_bpm=bpm)
    routes = root.find("Routes")
    ordered: list[tuple[int, int, ET.Element]] = []
    for i, route in enumerate(routes.findall("Route") if routes is not None else []):
        info = route.find("PresentationInfo")
        flags = _flags(info)
        if "MasterOut" in flags:
            session.master_volume_db = gain_to_db(_route_gain(route))
            continue
        if any(f in flags for f in SKIP_FLAGS):
            continue
        order = int(_float(info.get("order") if info is not None else None, i))
        ordered.append((order, i, route))
    ordered.sort(key=lambda t: (t[0], t[1]))

    for index, (_, _, route) in enumerate(ordered):
        rid = route.get("id") or ""
        info = route.find("PresentationInfo")
        inputs = [io for io in route.findall("IO") if io.get("direction") == "Input"]
        channels = len(inputs[0].findall("Port")) if inputs else 2
        phase = _controllable(route, "phase")
        track = Track(
            guid=rid,
            name=route.get("name") or "",
            index=index,
            volume_db=gain_to_db(_route_gain(route)),
            pan=_route_pan(route),
            mute=_route_mute(route),
            solo=_route_solo(route),
            color=color_from_rgba(info.get("color") if info is not None else None),
            phase_invert="1" in (phase.get("phase-invert") or "") if phase is not None else False,
            fx_names=[p.get("name") or "" for p in route.findall("Processor")
                      if p.get("type") in PLUGIN_TYPES],
            channels=channels or 1,
        )
        pl = playlists.get(route.get("audio-playlist") or route.get("midi-playlist") or "")
        if pl is None:  # Ardour 5 named the playlist instead
            pl = playlists_by_name.get(route.get("audio-playlist") or "")
        if pl is not None:
            for region in pl.findall("Region"):
                track.items.append(_item(region, clock, sources))
        track.items.sort(key=lambda it: it.position_s)
        session.tracks.append(track)
    return session


def _item(region: ET.Element, clock: _Clock, sources: _SourceIndex) -> Item:
    scale = _float(region.get("scale-amplitude") or region.get("scale-gain"), 1.0)
    return Item(
        position_s=clock.position(region),
        length_s=clock.seconds(region.get("length")),
        source_offset_s=clock.seconds(region.get("start")),
        gain_db=gain_to_db(scale),
        fade_in_s=_fade_seconds(region, "in", clock),
        fade_out_s=_fade_seconds(region, "out", clock),
        mute=region.get("muted") in ("1", "yes"),
        name=region.get("name") or "",
        source=sources.source(region.get("source-0"), region.get("type") or "audio"),
        guid=region.get("id") or "",
    )


# --------------------------------------------------------------------------------------------
# writing


def _route(root: ET.Element, rid: str) -> ET.Element | None:
    for route in root.iter("Route"):
        if route.get("id") == rid:
            return route
    return None


_BAD_NAME = re.compile(r"[:/\x00-\x1f]")


def _rename(root: ET.Element, route: ET.Element, new: str) -> str | None:
    old = route.get("name") or ""
    if _BAD_NAME.search(new) or not new.strip():
        return f"name {new!r} cannot be a track name in Ardour (':' '/' or control characters)"
    for other in root.iter("Route"):
        if other is not route and other.get("name") == new:
            return f"another track is already called {new!r}"
    if old == new:
        return None
    route.set("name", new)
    for io in route.findall("IO"):
        if io.get("name") == old:
            io.set("name", new)
        for port in io.findall("Port"):
            pname = port.get("name") or ""
            if pname.startswith(old + "/"):
                port.set("name", new + pname[len(old):])
    renames = {old: new, f"meter-{old}": f"meter-{new}", f"player:{old}": f"player:{new}",
               f"recorder:{old}": f"recorder:{new}"}
    for proc in route.findall("Processor"):
        if proc.get("name") in renames:
            proc.set("name", renames[proc.get("name")])
        if proc.get("output") == old:
            proc.set("output", new)
    # other routes connect to this one by port name
    for conn in root.iter("Connection"):
        other = conn.get("other") or ""
        if other.startswith(old + "/"):
            conn.set("other", new + other[len(old):])
    return None


def _set_controllable(el: ET.Element, name: str, value: float) -> bool:
    c = _controllable(el, name)
    if c is None:
        return False
    c.set("value", f"{value:.17g}")
    return True


_ACE_SYMBOLS = {"Frequency L": "freql", "Gain L": "gl", "Filter L": "filtogl",
                "Frequency H": "freqh", "Gain H": "gh", "Filter H": "filtogh"}
for _n in range(1, 5):
    _ACE_SYMBOLS.update({f"Frequency {_n}": f"freq{_n}", f"Gain {_n}": f"g{_n}",
                         f"Bandwidth {_n}": f"bw{_n}", f"Filter {_n}": f"filtog{_n}"})


def _set_eq(route: ET.Element, edit: SetEqBand) -> str | None:
    from bridge.daw.ardour import ACE_EQ, ace_eq_target

    target = ace_eq_target(edit)
    if target.plugin != ACE_EQ:
        return (f"{edit.band_type} needs {target.plugin}, which only a running Ardour can "
                "insert; apply it live")
    eq = next((p for p in route.findall("Processor") if p.get("unique-id") == ACE_EQ_URI), None)
    if eq is None:
        return "the track has no ACE EQ; a plug-in can only be inserted live (apply it live)"
    ports = {p.get("symbol"): p for p in eq.iter("Port") if p.get("symbol")}
    for pname, value in target.values.items():
        symbol = _ACE_SYMBOLS[pname]
        _set_controllable(eq, pname, value)
        if symbol in ports:
            ports[symbol].set("value", f"{value:.9g}")
    return None


def apply_plan(root: ET.Element, plan: Plan) -> ApplyResult:
    """Apply ``plan`` to a parsed session in memory; returns what was applied and skipped."""
    result = ApplyResult()
    for edit in plan:
        route = _route(root, edit.track)
        if route is None:
            result.skipped.append((edit, f"no track with route id {edit.track}"))
            continue
        reason: str | None = None
        if isinstance(edit, RenameTrack):
            reason = _rename(root, route, edit.name)
        elif isinstance(edit, SetVolume):
            amp = next((p for p in route.findall("Processor") if p.get("type") == "amp"), None)
            if amp is None or not _set_controllable(amp, "gaincontrol",
                                                    db_to_gain(edit.volume_db)):
                reason = "the track has no fader (amp) in the file"
        elif isinstance(edit, SetMute):
            if not _set_controllable(route, "mute", 1.0 if edit.mute else 0.0):
                reason = "the track has no mute control in the file"
            mm = route.find("MuteMaster")
            if mm is not None:
                mm.set("muted", "1" if edit.mute else "0")
        elif isinstance(edit, SetPan):
            pannable = route.find("Pannable")
            if pannable is None or not _set_controllable(pannable, "pan-azimuth",
                                                         (edit.pan + 1.0) / 2.0):
                reason = "the track has no panner"
        elif isinstance(edit, SetColor):
            info = route.find("PresentationInfo")
            if info is None:
                reason = "the track has no PresentationInfo"
            else:
                info.set("color", str(rgba_from_color(edit.color)))
        elif isinstance(edit, SetEqBand):
            reason = _set_eq(route, edit)
        else:
            reason = f"{edit.op} is not supported for Ardour sessions"
        if reason is None:
            result.applied.append(edit)
        else:
            result.skipped.append((edit, reason))
    return result


def to_bytes(root: ET.Element) -> bytes:
    """Serialise like Ardour does (``<X/>``, double-quoted attributes, UTF-8)."""
    body = ET.tostring(root, encoding="utf-8", short_empty_elements=True)
    # ElementTree writes "<X />"; " />" cannot occur in escaped text or attribute values
    body = body.replace(b" />", b"/>")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def apply_plan_to_file(path: str | Path, plan: Plan, *, out: str | Path | None = None
                       ) -> ApplyResult:
    """Apply ``plan`` to the session file at ``path`` (close the session in Ardour first: Ardour
    overwrites the file when it saves).

    With ``out`` the result goes to a new file (which must not exist) and the original is not
    touched; otherwise the file is replaced atomically after a timestamped backup, and the
    write is refused if the file changed on disk since it was read.
    """
    source = Path(path)
    if out is not None and Path(out).resolve().parent != source.resolve().parent:
        raise ValueError(f"{out}: an Ardour session opens only from its own folder (its audio "
                         f"is in {source.parent / 'interchange'}): write the copy beside "
                         f"{source.name}")
    data, fingerprint = read_with_fingerprint(source)
    root = parse_xml(data, str(source))
    result = apply_plan(root, plan)
    if not result.applied:
        return result
    new = to_bytes(root)
    if out is not None:
        safe_write(out, new, None)
    elif new != data:
        result.backup = safe_write(source, new, fingerprint)
    return result

