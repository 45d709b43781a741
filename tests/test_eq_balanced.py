"""EQ suggestions on well-balanced real recordings of their own class: no large broad cuts.

The class targets are averages of sample libraries; a stem that is fine should not be cut by
6 dB just for differing from that average in level, tilt or register. The material here was not
used to build the targets: phrases over two octaves rendered by fluidsynth from the TimGM6mb
soundfont (the targets use FluidR3 scales), and pocketsphinx's "go forward" recording (the
targets use its librivox and cards speakers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _support import require_path, require_program
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mix_support import LIBRIVOX, RATE

from bridge.assist import eq
from bridge.assist.eq import compare_to_target, load_class_spectra, smooth_octave, suggest_eq
from bridge.audio.midi import note_events, render_fluidsynth, write_midi
from bridge.plan import Plan
from bridge.session.model import Session, Track

TIM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
GO_FORWARD = Path("/usr/share/pocketsphinx/test/data/goforward.raw")
# class -> (General MIDI program 0-based, lowest note) of held-out soundfont renders
PARTS = {
    "bass": [(32, 28), (33, 28), (34, 28)],
    "guitar": [(24, 40), (25, 40), (27, 45)],
    "keys": [(0, 48), (4, 48)],
    "strings": [(48, 48), (40, 55)],
    "brass": [(61, 48), (56, 55)],
    "woodwind": [(73, 60), (71, 55)],
}


def _phrase(path: Path, program: int, lowest: int, seed: int) -> None:
    """32 notes of a major scale over two octaves in random order, lengths and velocities."""
    rng = np.random.default_rng(seed)
    steps = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16, 17, 19, 21, 23, 24]
    notes, start_s = [], 0.0
    for _ in range(32):
        note = lowest + int(rng.choice(steps))
        length_s = int(rng.choice([240, 480, 720])) / 960  # ticks at 480 per quarter, 120 bpm
        notes.append((start_s, length_s, note, int(rng.integers(70, 110))))
        start_s += length_s
    write_midi(path, note_events(notes, program=program))


def _render(tmp: Path, program: int, lowest: int, seed: int) -> np.ndarray:
    midi, wav = tmp / f"p{program}.mid", tmp / f"p{program}.wav"
    _phrase(midi, program, lowest, seed)
    return render_fluidsynth(midi, TIM, wav, rate=RATE, timeout_s=60)


def _one_track(cls: str, audio: np.ndarray) -> tuple[Plan, eq.TrackEq]:
    session = Session(Path("x.rpp"), "reaper", [Track("{0}", cls.title(), 0)])
    plan, results = suggest_eq(session, {"{0}": cls}, {"{0}": audio}, RATE)
    return plan, results["{0}"]


def _large_broad(plan: Plan) -> list[str]:
    """Bands over 3 dB that are neither a high-pass nor a narrow resonance notch."""
    return [e.reason for e in plan
            if e.band_type != "high_pass" and not (e.band_type == "band" and e.q >= 3.0)
            and abs(e.gain_db) > 3.0]


def test_held_out_soundfont_parts_get_no_large_broad_cuts(tmp_path: Path) -> None:
    require_program("fluidsynth")
    require_path(TIM)
    checked = 0
    for cls, programs in PARTS.items():
        for program, lowest in programs:
            audio = _render(tmp_path, program, lowest, seed=program)
            assert np.max(np.abs(audio)) > 0.01, (cls, program)
            plan, result = _one_track(cls, audio)
            assert not _large_broad(plan), (cls, program, plan.describe())
            # nothing in the reasons claims a difference beyond what an EQ would fix
            for s in result.suggestions:
                assert abs(s.figures.get("excess_db", 0.0)) <= eq.BROAD_LIMIT_DB
                assert abs(s.figures.get("difference_db", 0.0)) <= eq.BROAD_LIMIT_DB
            checked += 1
    assert checked == sum(len(v) for v in PARTS.values())


def test_held_out_speaker_gets_no_large_broad_cuts() -> None:
    require_path(GO_FORWARD)
    import librosa

    raw = np.frombuffer(GO_FORWARD.read_bytes(), "<i2").astype(np.float64) / 32768.0
    audio = librosa.resample(raw, orig_sr=16000, target_sr=RATE)[:, None]
    for cls in ("speech", "vocal"):
        plan, _ = _one_track(cls, audio)
        assert not _large_broad(plan), (cls, plan.describe())


def test_a_source_far_from_its_class_gets_notes_not_maximum_cuts() -> None:
    """Speech labelled as bass is 20-40 dB off the bass shape: that is not an EQ problem."""
    from test_mix_support import load, loop

    voice = loop(load(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"), 10.0)
    plan, result = _one_track("bass", voice)
    assert result.notes, plan.describe()
    assert any("class reference" in n for n in result.notes)
    assert not [e for e in plan if e.band_type != "high_pass" and e.gain_db <= -6.0], \
        plan.describe()


def test_smooth_octave_is_a_power_mean_of_neighbours() -> None:
    levels = np.array([0.0, -20.0, 0.0, np.nan, -10.0])
    out = smooth_octave(levels)
    assert out[1] == pytest.approx(10 * np.log10((1 + 0.01 + 1) / 3), abs=1e-9)
    assert np.isnan(out[3])  # no data stays no data
    assert out[4] == pytest.approx(-10.0)  # the NaN neighbour does not count
    flat = smooth_octave(np.full(10, -7.0))
    assert np.allclose(flat, -7.0)


@settings(max_examples=40, deadline=None)
@given(cls=st.sampled_from(["bass", "guitar", "keys", "strings", "vocal", "kick", "snare"]),
       offset_db=st.floats(-30.0, 30.0), tilt_db_per_oct=st.floats(-2.9, 2.9))
def test_the_target_itself_with_level_and_allowed_tilt_gets_no_band(
        cls: str, offset_db: float, tilt_db_per_oct: float) -> None:
    spectra = load_class_spectra()
    target = spectra.target(cls)
    centres = spectra.centres_hz
    levels = target + offset_db + tilt_db_per_oct * np.log2(centres / 1000.0)
    comparison = compare_to_target(levels, target, centres)
    ok = comparison.content
    # smoothing a tilted spectrum in power is not exactly linear: a fraction of a dB
    assert np.max(np.abs(comparison.residual_db[ok])) < 1.0
    bands, notes = eq._against_target(levels, target, centres, cls)
    assert bands == [] and notes == []


def test_a_local_bump_over_the_target_gets_a_bell_of_half_its_size() -> None:
    spectra = load_class_spectra()
    target, centres = spectra.target("guitar"), spectra.centres_hz
    bump = 8.0 * np.exp(-0.5 * (np.log2(centres / 315.0) / 0.3) ** 2)  # +8 dB at 315 Hz
    levels = target - 12.0 + 1.5 * np.log2(centres / 1000.0) + bump
    bands, _ = eq._against_target(levels, target, centres, "guitar")
    mud = [s for s in bands if s.reason.startswith("mud")]
    assert len(mud) == 1, [s.reason for s in bands]
    assert abs(np.log2(mud[0].band.freq_hz / 315.0)) <= 1 / 3
    assert -4.5 <= mud[0].band.gain_db <= -1.5
    assert not [s for s in bands if s.band.band_type in ("low_shelf", "high_shelf")]


def test_a_broad_difference_beyond_the_limit_is_a_note() -> None:
    spectra = load_class_spectra()
    target, centres = spectra.target("drums"), spectra.centres_hz
    # 20 dB more top end than the class above 8 kHz: a different kit or room, not EQ
    levels = target + 20.0 * (centres >= 8000.0)
    bands, notes = eq._against_target(levels, target, centres, "drums")
    assert not [s for s in bands if s.band.band_type == "high_shelf"]
    assert any("top end differs from the drums class reference" in n for n in notes), notes
    # 8 dB more is within reach of a shelf: a cut, capped, with its reason
    bands, notes = eq._against_target(target + 8.0 * (centres >= 8000.0), target, centres,
                                      "drums")
    shelves = [s for s in bands if s.band.band_type == "high_shelf"]
    assert len(shelves) == 1 and -6.0 <= shelves[0].band.gain_db <= -2.0, notes
