"""Standard MIDI files, written from plain events, and rendered to audio with fluidsynth.

Small on purpose: enough to write the parts our tools and tests render (one track, program
changes, notes, drums on channel 10) and, later, the MIDI the ideation assistants make::

    >>> events = note_events([(0.0, 0.5, 60, 100), (0.5, 0.5, 64, 100)], program=0)
    >>> midi_file_bytes(events)[:4]
    b'MThd'

Times are seconds; the file's tempo is fixed (``bpm``), so seconds map exactly to ticks.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

Event = tuple[float, bytes]
"""``(time_s, message bytes)``: e.g. ``(0.5, bytes([0x90, 60, 100]))``."""


def variable_length(value: int) -> bytes:
    """A MIDI variable-length quantity (7 bits per byte, high bit = more follows)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def note_events(notes: Iterable[tuple[float, float, int, int]], *, program: int | None = None,
                channel: int = 0) -> list[Event]:
    """Note-on/off events from ``(start_s, length_s, pitch, velocity)``; a program change
    first when ``program`` is given. Channel 9 (0-based) is General MIDI drums."""
    events: list[Event] = []
    if program is not None:
        events.append((0.0, bytes([0xC0 | channel, program])))
    for start, length, pitch, velocity in notes:
        events.append((start, bytes([0x90 | channel, pitch, velocity])))
        events.append((start + length, bytes([0x80 | channel, pitch, 0])))
    return events


def midi_file_bytes(events: Sequence[Event], *, bpm: float = 120.0, ppq: int = 480) -> bytes:
    """A format-0 standard MIDI file holding ``events`` at a fixed tempo.

    At equal times note-offs come first, so a repeated note is not cut by its own release.
    """
    ordered = sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80))
    ticks_per_s = ppq * bpm / 60.0
    tempo_us = int(round(60_000_000 / bpm))
    track = bytearray(b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big"))
    now = 0
    for time_s, message in ordered:
        tick = int(round(time_s * ticks_per_s))
        track += variable_length(max(0, tick - now)) + message
        now = max(now, tick)
    track += b"\x00\xff\x2f\x00"
    head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ppq)
    return head + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_midi(path: str | Path, events: Sequence[Event], *, bpm: float = 120.0,
               ppq: int = 480) -> Path:
    p = Path(path)
    p.write_bytes(midi_file_bytes(events, bpm=bpm, ppq=ppq))
    return p


def render_fluidsynth(midi: str | Path, soundfont: str | Path, wav: str | Path, *,
                      rate: int = 44100, gain: float = 0.5, dry: bool = True,
                      dtype: str = "float64", timeout_s: float = 300.0) -> np.ndarray:
    """Render ``midi`` with the ``fluidsynth`` program into ``wav``; returns (frames, 2) floats.

    ``dry`` turns fluidsynth's reverb and chorus off (what the analysis wants to hear).
    Raises RuntimeError naming what is missing when fluidsynth or the soundfont is absent.
    """
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RuntimeError("fluidsynth is not installed (Debian: apt-get install fluidsynth)")
    if not Path(soundfont).is_file():
        raise RuntimeError(f"soundfont {soundfont} not found")
    cmd = [exe, "-ni", "-q", "-g", str(gain), "-r", str(rate)]
    if dry:
        cmd += ["-R", "0", "-C", "0"]
    cmd += ["-o", "synth.polyphony=256", "-F", str(wav), str(soundfont), str(midi)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout_s)
    audio, got = sf.read(str(wav), dtype=dtype, always_2d=True)
    if got != rate:
        raise RuntimeError(f"fluidsynth wrote {got} Hz, expected {rate}")
    return audio
