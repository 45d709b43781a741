"""EQ suggestions on real recordings: high-pass, resonance notch, masking, <= 8 valid bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_mix_support import HYDROGEN, RATE, band_recordings, load, pattern

from bridge.assist.eq import MAX_BANDS, load_class_spectra, suggest_eq
from bridge.plan import BAND_TYPES, Plan, SetEqBand
from bridge.session.model import Session, Track

VOCABULARY = ["kick", "snare", "hihat", "tom", "cymbal", "drums", "percussion", "bass", "guitar",
              "keys", "strings", "brass", "woodwind", "vocal", "speech"]


def _session(names: list[str]) -> Session:
    return Session(Path("x.rpp"), "reaper",
                   [Track(f"{{{i}}}", n, i) for i, n in enumerate(names)])


def test_class_spectra_cover_the_vocabulary() -> None:
    spectra = load_class_spectra()
    for cls in VOCABULARY:
        target = spectra.target(cls)
        assert target is not None and target.shape == spectra.centres_hz.shape, cls
        finite = target[np.isfinite(target)]
        assert np.isclose(10 * np.log10(np.sum(10 ** (finite / 10))), 0.0, atol=0.05)


def test_band_gets_valid_bands_with_reasons() -> None:
    parts = band_recordings()
    session = _session(list(parts))
    labels = {f"{{{i}}}": lab for i, (lab, _, _) in enumerate(parts.values())}
    stems = {f"{{{i}}}": audio for i, (_, _, audio) in enumerate(parts.values())}
    plan, results = suggest_eq(session, labels, stems, RATE)
    again = Plan.from_json(plan.to_json())
    assert again == plan and len(plan) > 0
    for guid in results:
        edits = list(plan.for_track(guid))
        assert len(edits) <= MAX_BANDS
        assert [e.band for e in edits] == list(range(len(edits)))
        for e in edits:
            assert isinstance(e, SetEqBand) and e.band_type in BAND_TYPES and e.reason
            assert 20 <= e.freq_hz <= 20000 and -12 <= e.gain_db <= 6
    by_label = {lab: f"{{{i}}}" for i, (lab, _, _) in enumerate(parts.values())}
    # the closed hat has nothing useful low down: it gets a high-pass; the kick does not
    hat = [e for e in plan.for_track(by_label["hihat"]) if e.band_type == "high_pass"]
    assert hat and 60 <= hat[0].freq_hz <= 300
    assert not [e for e in plan.for_track(by_label["kick"]) if e.band_type == "high_pass"]


def test_ringing_snare_gets_a_notch_at_the_ring() -> None:
    snare = load(HYDROGEN / "Snare-Hard.wav")
    hits = pattern(snare, [i * 0.5 for i in range(16)], 8.0)
    t = np.arange(hits.shape[0]) / RATE
    ring = np.zeros(hits.shape[0])
    for start in np.arange(16) * 0.5:  # a 930 Hz ring after every hit
        on = t >= start
        ring[on] += 0.25 * np.sin(2 * np.pi * 930 * (t[on] - start)) * np.exp(-(t[on] - start) * 9)
    ringing = hits + ring[:, None]
    plan, _ = suggest_eq(_session(["Snare"]), {"{0}": "snare"}, {"{0}": ringing}, RATE)
    notches = [e for e in plan if e.band_type == "band" and e.q >= 3 and e.gain_db < 0]
    assert any(abs(np.log2(e.freq_hz / 930)) < 0.05 for e in notches), plan.describe()


def test_masking_cut_goes_on_the_less_important_track() -> None:
    from test_mix_support import SONIC_PI, loop

    kick = band_recordings()["Audio 1"][2]
    bass = loop(load(SONIC_PI / "bass_hard_c.flac"), 12.0)  # fundamental near 65 Hz
    session = _session(["Kick", "Bass"])
    plan, _ = suggest_eq(session, {"{0}": "kick", "{1}": "bass"}, {"{0}": kick, "{1}": bass},
                         RATE)
    masking = [e for e in plan if "masks" in e.reason]
    assert masking and all(e.track == "{1}" for e in masking), plan.describe()
    assert all(-4.0 <= e.gain_db <= -2.0 for e in masking)
