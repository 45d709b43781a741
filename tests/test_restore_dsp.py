"""Restoration processes on real recordings with known damage, scored by SI-SDR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.restore.corrupt import add_breaths, add_clicks, add_hum, add_noise, clip, si_sdr_db
from bridge.restore.debreath import debreath
from bridge.restore.declick import declick
from bridge.restore.declip import declip
from bridge.restore.dehum import dehum
from bridge.restore.denoise import denoise, learn_noise_profile
from bridge.restore.diagnose import auto, diagnose
from bridge.restore.stft import istft, stft
from tests._support import require_path

SPEECH = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
GUITAR = "/usr/share/sonic-pi/samples/guit_e_fifths.flac"


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    x, rate = sf.read(str(require_path(SPEECH)))
    return x, rate


@pytest.fixture(scope="module")
def guitar() -> tuple[np.ndarray, int]:
    x, rate = sf.read(str(require_path(GUITAR)))
    return x[: int(2.5 * rate)], rate


def test_denoise_white_noise_speech(speech):
    x, rate = speech
    noisy = add_noise(x, 5.0, "white", seed=1)
    cleaned, report = denoise(noisy, rate)
    assert cleaned.shape == x.shape
    assert si_sdr_db(x, cleaned) > 12.0  # input is 5 dB
    assert report.applied and report.figures["estimated_snr_db"] < 20


def test_denoise_pink_noise_improves(speech):
    x, rate = speech
    noisy = add_noise(x, 10.0, "pink", seed=2)
    cleaned, _ = denoise(noisy, rate)
    assert si_sdr_db(x, cleaned) > si_sdr_db(x, noisy) + 1.0


def test_denoise_with_profile_region(speech):
    x, rate = speech
    pad = np.zeros(rate)
    clean = np.concatenate([pad, x])
    noisy = add_noise(clean, 5.0, "white", seed=3)
    profile = learn_noise_profile(noisy, rate, region_s=(0.1, 0.9))
    cleaned, report = denoise(noisy, rate, profile=profile)
    assert "region" in report.found
    assert si_sdr_db(clean, cleaned) > 12.0


def test_denoise_stereo_music(guitar):
    x, rate = guitar
    noisy = add_noise(x, 10.0, "white", seed=4)
    cleaned, _ = denoise(noisy, rate)
    assert cleaned.shape == x.shape
    # about +5.3 dB here (the noise profile no longer keeps the guitar's partials)
    assert si_sdr_db(x, cleaned) > si_sdr_db(x, noisy) + 3.0


@pytest.mark.parametrize("freq", [50.0, 60.0])
def test_dehum_speech(speech, freq):
    x, rate = speech
    hummed = add_hum(x, rate, freq, hum_db=-10.0, drift_hz=0.05, seed=5)
    cleaned, report = dehum(hummed, rate)
    assert report.applied
    assert abs(report.figures["fundamental_hz"] - freq) < 0.5
    assert si_sdr_db(x, cleaned) > 22.0  # input is 10 dB; about 30.1 (50 Hz) and 24.0 (60 Hz)


def test_dehum_stereo_music(guitar):
    x, rate = guitar
    hummed = add_hum(x, rate, 50.0, hum_db=-10.0, drift_hz=0.05, seed=5)
    cleaned, report = dehum(hummed, rate)
    assert cleaned.shape == x.shape and report.applied
    assert si_sdr_db(x, cleaned) > 25.0  # input is 10 dB; about 28.5


def test_declick_speech(speech):
    x, rate = speech
    clicked, starts = add_clicks(x, rate, count=50, seed=6)
    repaired, report = declick(clicked, rate)
    assert report.figures["clicks"] >= 35
    assert si_sdr_db(x, repaired) > si_sdr_db(x, clicked) + 5.0
    assert si_sdr_db(x, repaired) > 28.0  # input is 18.4 dB; about 32.3


def test_declick_stereo_music(guitar):
    x, rate = guitar
    clicked, _ = add_clicks(x, rate, count=40, seed=6)
    repaired, report = declick(clicked, rate)
    assert repaired.shape == x.shape
    assert report.figures["clicks"] >= 36
    assert si_sdr_db(x, repaired) > 36.0  # input is 18.6 dB; about 42


def test_batched_lsar_matches_single_solves():
    from bridge.restore.ar import autocorrelation, interpolate, interpolate_batch, levinson

    rng = np.random.default_rng(3)
    windows = np.cumsum(rng.standard_normal((6, 400)), axis=1)
    known = np.ones(windows.shape, bool)
    known[0, 150:160] = False
    known[1, 40:43] = False
    known[1, 60:80] = False  # two gaps in one window
    known[2, 390:] = False  # a gap at the edge
    known[4, 200:230] = False
    a = levinson(autocorrelation(np.where(known, windows, 0.0), 12), 12)
    filled, solved = interpolate_batch(windows, known, a, max_unknown=25)
    assert solved.tolist() == [True, True, True, True, False, True]  # row 4: 30 > 25
    for row in (0, 1, 2):
        single = interpolate(windows[row], known[row], a[row])
        assert np.max(np.abs(filled[row] - single)) < 1e-8
    assert np.array_equal(filled[3], windows[3]) and np.array_equal(filled[4], windows[4])


def test_levinson_matches_toeplitz_solve():
    from scipy.linalg import solve_toeplitz

    from bridge.restore.ar import autocorrelation, levinson

    rng = np.random.default_rng(4)
    frames = np.cumsum(rng.standard_normal((4, 300)), axis=1)
    frames[3] = 0.0  # silence gives the identity filter
    r = autocorrelation(frames, 10)
    a = levinson(r, 10, ridge=1e-4)
    for row in range(3):
        lifted = r[row].copy()
        lifted[0] *= 1 + 1e-4
        coef = solve_toeplitz(lifted[:10], lifted[1:])
        assert np.allclose(a[row, 1:], -coef, atol=1e-6)
    assert np.array_equal(a[3], np.eye(1, 11)[0])


def test_declip_speech(speech):
    x, rate = speech
    clipped, level = clip(x, 0.04)
    repaired, report = declip(clipped, rate)
    assert report.applied and report.figures["clipped_fraction"] > 0.03
    assert si_sdr_db(x, repaired) > 18.0  # input is ~13 dB
    assert np.max(np.abs(repaired)) > level  # peaks redrawn above the old rails


def test_debreath_lowers_breaths_not_words(speech):
    x, rate = speech
    breathy, reference, spans = add_breaths(x, rate, count=3, level_db=-20.0, seed=7)
    processed, report = debreath(breathy, rate)
    assert report.figures["breaths"] >= 2
    inside = np.zeros(len(breathy), bool)
    for a, b in spans:
        inside[a:b] = True
    before = np.sum(breathy[inside] ** 2)
    after = np.sum(processed[inside] ** 2)
    assert after < before * 10 ** (-4 / 10)  # breaths at least 4 dB down on the whole
    # Words: everything outside the pauses we opened is untouched.
    outside = np.ones(len(breathy), bool)
    for a, b in spans:
        outside[a - int(0.15 * rate) : b + int(0.15 * rate)] = False
    assert np.max(np.abs(processed[outside] - breathy[outside])) < 1e-9
    assert si_sdr_db(reference, processed) > si_sdr_db(reference, breathy)


def test_clean_speech_passes_nearly_unchanged(speech):
    x, rate = speech
    assert si_sdr_db(x, dehum(x, rate)[0]) > 60
    assert si_sdr_db(x, declip(x, rate)[0]) > 60
    assert si_sdr_db(x, debreath(x, rate)[0]) > 60
    assert si_sdr_db(x, declick(x, rate)[0]) > 38  # about 44.8 (a few real mouth clicks)
    assert si_sdr_db(x, denoise(x, rate)[0]) > 25


def test_clean_music_passes_nearly_unchanged(guitar):
    x, rate = guitar
    assert si_sdr_db(x, declip(x, rate)[0]) > 60
    assert si_sdr_db(x, declick(x, rate)[0]) > 60  # nothing taken for a click
    # the sample carries a real 60.04 Hz hum (-33 dBFS) and dehum takes it out: about 18.7
    assert si_sdr_db(x, dehum(x, rate)[0]) > 15
    _, _, diagnosis = auto(x, rate)
    assert "declip" not in diagnosis.needed and "denoise" not in diagnosis.needed


def test_auto_picks_the_damage(speech):
    x, rate = speech
    assert diagnose(clip(x, 0.04)[0], rate).needed[0] == "declip"
    hummed = add_hum(x, rate, 60.0, hum_db=-10.0, seed=8)
    out, reports, diagnosis = auto(hummed, rate)
    assert "dehum" in diagnosis.needed
    assert [r.process for r in reports] == [n for n in diagnosis.needed]
    assert si_sdr_db(x, out) > 15


def test_empty_and_tiny_input():
    for fn in (denoise, dehum, declick, declip, debreath):
        out, report = fn(np.zeros(0), 16000)
        assert out.shape == (0,)
        out, report = fn(np.zeros(100), 16000)
        assert out.shape == (100,)


@settings(max_examples=20, deadline=None)
@given(st.integers(300, 5000), st.sampled_from([(256, 128), (512, 128), (1024, 512)]))
def test_stft_round_trip(n, shape):
    size, hop = shape
    x = np.random.default_rng(n).standard_normal(n)
    assert np.max(np.abs(istft(stft(x, size, hop), size, hop, n) - x)) < 1e-4


def test_reports_are_json_ready(speech, tmp_path: Path):
    import json

    x, rate = speech
    _, report = declick(add_clicks(x, rate, count=5, seed=9)[0], rate)
    json.dumps(report.to_dict())
    assert "declick" in str(report)
