"""Standard MIDI files we write, read back by their structure and heard through fluidsynth."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from _support import require_path, require_program

from bridge.audio.midi import midi_file_bytes, note_events, render_fluidsynth, variable_length


def test_variable_length_quantities_match_the_smf_spec():
    assert variable_length(0) == b"\x00"
    assert variable_length(0x7F) == b"\x7f"
    assert variable_length(0x80) == b"\x81\x00"
    assert variable_length(0x0FFFFFFF) == b"\xff\xff\xff\x7f"


def test_file_layout_tempo_and_note_order():
    data = midi_file_bytes(note_events([(0.0, 0.5, 60, 100), (0.5, 0.5, 60, 90)], program=24),
                           bpm=120, ppq=480)
    assert data[:4] == b"MThd" and struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, 480)
    assert data[14:18] == b"MTrk"
    length = struct.unpack(">I", data[18:22])[0]
    track = data[22:]
    assert len(track) == length and track.endswith(b"\x00\xff\x2f\x00")
    assert track[:7] == b"\x00\xff\x51\x03\x07\xa1\x20"  # 500000 us per quarter = 120 bpm
    body = track[7:-4]
    # program, on; then at 480 ticks (0.5 s) the release comes before the repeated note
    assert body == (b"\x00\xc0\x18" b"\x00\x90\x3c\x64"
                    b"\x83\x60\x80\x3c\x00" b"\x00\x90\x3c\x5a"
                    b"\x83\x60\x80\x3c\x00")


def test_fluidsynth_plays_the_note_we_wrote(tmp_path: Path):
    require_program("fluidsynth")
    font = require_path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    midi = tmp_path / "a.mid"
    midi.write_bytes(midi_file_bytes(note_events([(0.0, 1.0, 69, 110)], program=0)))
    audio = render_fluidsynth(midi, font, tmp_path / "a.wav", rate=22050)
    assert audio.shape[1] == 2 and len(audio) > 22050 * 0.9
    mono = audio[:22050].mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    peak_hz = np.argmax(spectrum) * 22050 / len(mono)
    assert abs(peak_hz - 440) < 5  # A4
