"""A DAW-neutral session: tracks, items and their sources.

Built from a REAPER project (:func:`bridge.session.rpp_session.session_from_rpp`) or an Ardour
session; read by every assistant. Plain data with friendly reprs; times in seconds, levels in
dB, pan in -1..1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


def db_to_gain(db: float) -> float:
    """Decibels to a linear amplitude factor (``-inf`` -> 0)."""
    return 0.0 if db == -math.inf else 10.0 ** (db / 20.0)


def gain_to_db(gain: float) -> float:
    """Linear amplitude factor to decibels (0 -> ``-inf``)."""
    return -math.inf if gain <= 0.0 else 20.0 * math.log10(gain)


@dataclass
class Source:
    """The media a take plays."""

    kind: str
    """``WAVE``, ``FLAC``, ``MP3``, ``VORBIS``, ``MIDI``, ``SECTION``, ``EMPTY``, ..."""
    file: str = ""
    """The path as written in the project."""
    path: Path | None = None
    """The path resolved against the project folder (None for in-project sources like MIDI)."""

    @property
    def is_audio(self) -> bool:
        return self.kind in AUDIO_SOURCE_KINDS

    @property
    def exists(self) -> bool:
        return self.path is not None and self.path.is_file()

    def __repr__(self) -> str:
        where = self.file or "(in project)"
        flag = "" if (not self.is_audio or self.exists) else " MISSING"
        return f"<Source {self.kind} {where}{flag}>"


AUDIO_SOURCE_KINDS = frozenset({"WAVE", "FLAC", "MP3", "VORBIS", "OPUS", "WAVPACK", "AIFF"})


@dataclass
class Item:
    """A media item (REAPER) or region (Ardour) on a track; only its active take plays."""

    position_s: float
    length_s: float
    source_offset_s: float = 0.0
    """Where in the source the item starts (REAPER ``SOFFS`` plus the take's start offset)."""
    gain_db: float = 0.0
    """Item volume and active take volume combined."""
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    fade_in_shape: int = 0
    fade_out_shape: int = 0
    mute: bool = False
    playrate: float = 1.0
    take_pan: float = 0.0
    name: str = ""
    source: Source | None = None
    take_count: int = 1
    guid: str = ""
    channel_mode: int = 0
    """REAPER ``CHANMODE``: 0 normal, 1 reverse stereo, 2 mono downmix, 3 left, 4 right."""
    loop: bool = False
    """Whether the source loops when the item is longer than what is left of the source."""

    @property
    def end_s(self) -> float:
        return self.position_s + self.length_s

    def __repr__(self) -> str:
        return (
            f"<Item {self.name or '?'} @{self.position_s:.3f}s len {self.length_s:.3f}s "
            f"gain {self.gain_db:+.1f} dB{' muted' if self.mute else ''} {self.source!r}>"
        )


@dataclass
class Track:
    guid: str
    name: str
    index: int
    """0-based position in the track list."""
    volume_db: float = 0.0
    pan: float = 0.0
    mute: bool = False
    solo: bool = False
    color: str | None = None
    """``#RRGGBB`` or None when the track has no custom colour."""
    folder_depth: int = 0
    """Folder change after this track: 1 opens a folder, -1 (or less) closes folders."""
    folder_level: int = 0
    """How deep this track sits inside folders (0 = top level)."""
    phase_invert: bool = False
    fx_names: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    channels: int = 2

    @property
    def is_folder(self) -> bool:
        return self.folder_depth > 0

    @property
    def has_midi(self) -> bool:
        return any(i.source is not None and i.source.kind == "MIDI" for i in self.items)

    def __repr__(self) -> str:
        flags = "".join(
            f for f, on in ((" M", self.mute), (" S", self.solo), (" folder", self.is_folder)) if on
        )
        return (
            f"<Track {self.index + 1} {self.name!r} {self.volume_db:+.1f} dB pan {self.pan:+.2f}"
            f"{flags} {len(self.items)} items>"
        )


@dataclass
class Session:
    path: Path
    daw: str
    """``reaper`` or ``ardour``: which DAW owns the project."""
    tracks: list[Track] = field(default_factory=list)
    sample_rate: int | None = None
    """The project's sample rate when it sets one (REAPER may leave it to the device)."""
    tempo_bpm: float | None = None
    master_volume_db: float = 0.0
    pan_law_gain: float = 1.0
    """Gain of a centred pan (REAPER ``PANLAW``, linear; 1.0 = 0 dB, REAPER's default)."""

    @property
    def folder(self) -> Path:
        return self.path.parent

    def track(self, guid: str) -> Track:
        for track in self.tracks:
            if track.guid == guid:
                return track
        raise KeyError(f"no track with GUID {guid} in {self.path.name}")

    @property
    def any_solo(self) -> bool:
        return any(t.solo for t in self.tracks)

    def audible(self, track: Track) -> bool:
        """True when the track is heard in the mix (not muted, and soloed if anything is)."""
        return not track.mute and (track.solo or not self.any_solo)

    @property
    def length_s(self) -> float:
        return max((i.end_s for t in self.tracks for i in t.items), default=0.0)

    def missing_media(self) -> list[tuple[Track, Item]]:
        return [
            (t, i)
            for t in self.tracks
            for i in t.items
            if i.source is not None and i.source.is_audio and not i.source.exists
        ]

    def __repr__(self) -> str:
        return f"<Session {self.daw} {self.path.name!r} {len(self.tracks)} tracks>"
