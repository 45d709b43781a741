"""auto's noise diagnosis on dense clean material (drum loops, rolls, claps): the decaying tails
between hits are not a noise floor; the same loops with noise added, and speech with noise,
still get denoise."""

from __future__ import annotations

import glob
import math

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from bridge.restore.corrupt import add_noise
from bridge.restore.diagnose import FLOOR_SPREAD_DB, diagnose, floor_spread_db
from tests._support import require_path

KITS = "/usr/share/hydrogen/data/drumkits"
ALSA = "/usr/share/sounds/alsa"
RATE = 44100


def _hit(path: str) -> np.ndarray:
    x, rate = sf.read(path, always_2d=True)
    x = x.mean(axis=1)
    if rate != RATE:
        g = math.gcd(rate, RATE)
        x = resample_poly(x, RATE // g, rate // g)
    return x


def _sequence(hits: list[tuple[np.ndarray, float]], times_s: list[float], total_s: float
              ) -> np.ndarray:
    out = np.zeros(int(total_s * RATE))
    for (hit, gain), at_s in zip(hits, times_s, strict=True):
        at = int(at_s * RATE)
        n = min(len(hit), len(out) - at)
        out[at : at + n] += gain * hit[:n]
    return 0.8 * out / np.abs(out).max()


def _loops() -> list[tuple[str, np.ndarray]]:
    """A 16th-note groove and a 32nd-note snare roll from each of three Hydrogen kits."""
    kit_files = {
        "GMRockKit": ("Kick-Med.wav", "Snare-Med.wav", "HatClosed-Med.wav"),
        "TR808EmulationKit": ("808_Kick_Long.flac", "808_Snare_1.flac", "808_Hat_Closed.flac"),
        "The Black Pearl 1.0": ("PearlKick-Med.wav", "PearlSnare-Med.wav", None),
    }
    rng = np.random.default_rng(3)
    loops = []
    for kit, (kick, snare, hat) in kit_files.items():
        k, s = (_hit(str(require_path(f"{KITS}/{kit}/{f}"))) for f in (kick, snare))
        h = _hit(str(require_path(f"{KITS}/{kit}/{hat}"))) if hat else 0.3 * s
        step = 60 / 132 / 4
        hits, times = [], []
        for i in range(int(6 / step)):
            if i % 8 == 0:
                hits.append((k, 0.8))
                times.append(i * step)
            if i % 8 == 4:
                hits.append((s, 0.7))
                times.append(i * step)
            hits.append((h, 0.35 * rng.uniform(0.6, 1.0)))
            times.append(i * step)
        loops.append((f"{kit} groove", _sequence(hits, times, 6.0)))
        roll = [(s, 0.5 * rng.uniform(0.5, 1.0) * (0.5 + 0.5 * math.sin(i / 9) ** 2))
                for i in range(int(6 / (step / 2)))]
        loops.append((f"{kit} roll", _sequence(roll, [i * step / 2 for i in range(len(roll))],
                                               6.0)))
    return loops


@pytest.fixture(scope="module")
def loops() -> list[tuple[str, np.ndarray]]:
    return _loops()


def _applause(claps_per_s: float, seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Claps: 50 ms noise bursts decaying in 4-15 ms, at random times and levels."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE))
    t = np.arange(int(0.05 * RATE)) / RATE
    for _ in range(int(claps_per_s * seconds)):
        at = int(rng.integers(0, len(out) - len(t)))
        burst = rng.standard_normal(len(t)) * np.exp(-t / rng.uniform(0.004, 0.015))
        out[at : at + len(t)] += rng.uniform(0.2, 1.0) * np.diff(burst, prepend=0.0)
    return 0.7 * out / np.abs(out).max()


def test_clean_loops_and_rolls_get_no_denoise(loops):
    diagnoses = {name: diagnose(x, RATE, breaths=False) for name, x in loops}
    called = {name: d.figures for name, d in diagnoses.items() if "denoise" in d.needed}
    # before the floor check the three rolls were denoised
    assert not called, called


def test_clean_applause_gets_no_denoise():
    """100 and 250 claps a second: before the floor check both were denoised."""
    for density in (100, 250):
        d = diagnose(_applause(density, seed=density), RATE, breaths=False)
        assert "denoise" not in d.needed, (density, d.figures)
        assert "noise_rejected" in d.figures


@pytest.mark.parametrize("colour", ["white", "pink"])
def test_the_same_loops_with_audible_noise_get_denoise(loops, colour):
    missed = {}
    for name, x in loops:
        d = diagnose(add_noise(x, 10.0, colour, seed=1), RATE, breaths=False)
        if "denoise" not in d.needed:
            missed[name] = d.figures
    assert not missed, missed


def test_speech_with_noise_is_diagnosed_as_before():
    """alsa-utils announcements: clean ones pass, at 10 dB SNR every one is denoised (as
    before the floor check; at 20 dB the loud-to-quiet gap already exceeds 25 dB)."""
    files = sorted(f for f in glob.glob(f"{require_path(ALSA)}/*.wav") if "Noise" not in f)
    assert len(files) >= 6
    for path in files:
        x, rate = sf.read(path)
        assert "denoise" not in diagnose(x, rate, breaths=False).needed, path
        for colour in ("white", "pink"):
            d = diagnose(add_noise(x, 10.0, colour, seed=2), rate, breaths=False)
            assert "denoise" in d.needed, (path, colour, d.figures)
            assert d.figures["floor_spread_db"] < FLOOR_SPREAD_DB


@settings(max_examples=15, deadline=None)
@given(rate=st.sampled_from([16000, 44100, 48000]), period_s=st.floats(0.06, 0.3),
       falls_db=st.floats(25.0, 100.0), seed=st.integers(0, 99))
def test_floor_spread_tells_a_floor_from_tails(rate, period_s, falls_db, seed):
    """Hits whose tails fall 25-100 dB before the next one spread over more than the limit
    (the quietest tenth of the frames are the last tenth of each gap, where a tail falling
    less than about 20 dB per gap drops under 1.5 dB: such slow tails count as a floor);
    with steady hiss 30 dB under the hits, showing in the gaps for at least the last third
    of each (tails falling 45 dB or more), they sit inside it, whatever the rate and tempo."""
    rng = np.random.default_rng(seed)
    t = np.arange(3 * rate) / rate
    decay_s = period_s * 20 * math.log10(math.e) / falls_db
    hits = rng.standard_normal(len(t)) * np.exp(-(t % period_s) / decay_s)
    assert floor_spread_db(hits, rate) > FLOOR_SPREAD_DB
    if falls_db >= 45.0:
        hiss = rng.standard_normal(len(t)) * 10 ** (-30 / 20)
        assert floor_spread_db(hits + hiss, rate) < FLOOR_SPREAD_DB


def test_floor_spread_edge_cases():
    assert floor_spread_db(np.zeros(100), 16000) == math.inf
    assert floor_spread_db(np.zeros(16000), 16000) == math.inf
    # digital silence around a noisy take is left out: the hiss is still a floor
    rate = 16000
    rng = np.random.default_rng(2)
    t = np.arange(2 * rate) / rate
    hits = rng.standard_normal(len(t)) * np.exp(-(t % 0.2) / 0.01)
    noisy = hits + 0.01 * rng.standard_normal(len(t))
    padded = np.concatenate([np.zeros(rate // 10), noisy, np.zeros(rate // 10)])
    assert floor_spread_db(padded, rate) < FLOOR_SPREAD_DB
    # a band-limited take: the empty band above the cut-off is not a steady floor
    rate = 44100
    t = np.arange(2 * rate) / rate
    rng = np.random.default_rng(1)
    hits = rng.standard_normal(len(t)) * np.exp(-(t % 0.1) / 0.015)
    spectrum = np.fft.rfft(hits)
    spectrum[np.fft.rfftfreq(len(hits), 1 / rate) > 6000] = 0
    assert floor_spread_db(np.fft.irfft(spectrum, len(hits)), rate) > FLOOR_SPREAD_DB
