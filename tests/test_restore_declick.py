"""De-click: quality on material the benchmark does not use, and the fast paths checked
against plain reference computations."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import fft as sp_fft
from scipy.signal import resample_poly

from bridge.restore import declick as dc
from bridge.restore.ar import autocorrelation, interpolate, interpolate_batch, levinson, runs
from bridge.restore.corrupt import add_clicks, si_sdr_db
from bridge.restore.report import change_figures
from tests._support import require_path

SAMPLES = "/usr/share/sonic-pi/samples/"
ALSA = "/usr/share/sounds/alsa/"


def _read(path: str, seconds: float | None = None) -> tuple[np.ndarray, int]:
    x, rate = sf.read(str(require_path(path)))
    return (x if seconds is None else x[: int(seconds * rate)]), rate


@pytest.fixture(scope="module")
def piano() -> tuple[np.ndarray, int]:
    return _read(SAMPLES + "ambi_piano.flac", 3.0)


@pytest.fixture(scope="module")
def voice_48k() -> tuple[np.ndarray, int]:
    return _read(ALSA + "Front_Center.wav")


def test_stereo_piano_clicks_repaired(piano):
    x, rate = piano
    clicked, starts = add_clicks(x, rate, count=60, seed=11)
    repaired, report = dc.declick(clicked, rate)
    assert repaired.shape == x.shape
    assert report.figures["clicks"] >= 55
    assert si_sdr_db(x, repaired) > 50.0  # input 23.4; about 58.8
    # Every click start lies inside a repaired stretch.
    marked = np.any(repaired != clicked, axis=1)
    assert np.mean(marked[starts]) > 0.95


def test_mono_48k_voice(voice_48k):
    x, rate = voice_48k
    clicked, _ = add_clicks(x, rate, count=30, seed=4)
    repaired, report = dc.declick(clicked, rate)
    assert repaired.shape == x.shape and report.applied
    assert si_sdr_db(x, repaired) > si_sdr_db(x, clicked) + 15.0  # 14.8 -> about 38


def test_16k_mono_music(piano):
    x, rate = piano
    low = resample_poly(x[:, 0], 160, 441)
    clicked, _ = add_clicks(low, 16000, count=40, seed=5)
    repaired, _ = dc.declick(clicked, 16000)
    assert si_sdr_db(low, repaired) > 42.0  # input 23.9; about 48.8


def test_dense_crackle_improves(piano):
    x, rate = piano
    crackled, _ = add_clicks(x, rate, count=600, seed=2)
    repaired, report = dc.declick(crackled, rate)
    assert report.figures["clicks"] > 450  # about 515 (neighbours merge)
    assert si_sdr_db(x, repaired) > si_sdr_db(x, crackled) + 12.0  # 13.1 -> about 28.3


def test_clean_stereo_passes_untouched(piano):
    x, rate = piano
    repaired, report = dc.declick(x, rate)
    assert not report.applied and report.figures["clicks"] == 0
    assert np.array_equal(repaired, x)


def test_channels_are_detected_independently(piano):
    """The batched multi-channel detection finds what the mono detector finds per channel."""
    x, rate = piano
    clicked = x.copy()
    clicked[:, 0] = add_clicks(x[:, 0], rate, count=25, seed=1)[0]
    clicked[:, 1] = add_clicks(x[:, 1], rate, count=25, seed=2)[0]
    order = dc.ar_order_for(rate)
    lay = dc._Layout.of(rate, order)
    both, autocorr = dc._find_clicks(
        lay.padded(clicked.T), len(x), rate, lay, sensitivity=1.0, order=order,
        max_click_ms=1.0, near=None,
    )
    # (every block's windowed autocorrelation comes back for the period fill)
    assert autocorr is not None and autocorr.shape[:2] == (2, lay.blocks(len(x)))
    for c in range(2):
        assert both[c] == dc.detect_clicks(clicked[:, c], rate)
        assert len(both[c]) >= 23


def test_report_figures_match_whole_signal(piano):
    x, rate = piano
    clicked, _ = add_clicks(x, rate, count=20, seed=3)
    repaired, report = dc.declick(clicked, rate)
    changed_db, fraction = change_figures(clicked, repaired)
    assert report.changed_db == pytest.approx(changed_db, abs=1e-6)
    assert report.changed_fraction == pytest.approx(fraction, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1000, 1080, 3000]), st.integers(4, 40))
def test_frequency_domain_hann_gives_the_windowed_autocorrelation(seed, size, order):
    """The three-tap kernel on the spectrum is a periodic Hann window on the frame, and the
    DCT-I of its power spectrum the autocorrelation at the fitted lags."""
    rng = np.random.default_rng(seed)
    frame = np.cumsum(rng.standard_normal(size))
    spec = sp_fft.rfft(frame)
    windowed = 2.0 * spec
    windowed[1:] -= spec[:-1]
    windowed[:-1] -= spec[1:]
    windowed[0] -= spec[1].conj()
    windowed[-1] -= spec[-2].conj()
    fast = sp_fft.dct(windowed.real**2 + windowed.imag**2, type=1)[: order + 1] / size
    hann = 2.0 - 2.0 * np.cos(2 * np.pi * np.arange(size) / size)  # 4 x periodic Hann
    direct = np.correlate(frame * hann, frame * hann, mode="full")[size - 1 : size + order]
    assert np.allclose(fast, direct, rtol=1e-6, atol=1e-6 * direct[0])


def _events_reference(fwd, bwd, threshold, edge, max_len):
    """The detector's rules written plainly on whole boolean arrays."""
    def near(flags):
        out = flags.copy()
        out[1:] |= flags[:-1]
        out[:-1] |= flags[1:]
        return out

    seeds = near(fwd > threshold) & near(bwd > threshold)
    left = np.flatnonzero(fwd > edge)
    right = np.flatnonzero(bwd > edge)
    events = []
    for a, b in runs(seeds):
        if b - a > max_len or (events and a < events[-1][1]):
            continue
        lo, hi = a, b
        # Follow the forward chain left and the backward chain right (gaps of at most 3).
        j = int(np.searchsorted(left, a)) - 1
        if j >= 0 and a - left[j] <= 3:
            while j > 0 and left[j] - left[j - 1] <= 3:
                j -= 1
            lo = int(left[j])
        k = int(np.searchsorted(right, b))
        if k < len(right) and right[k] - b <= 2:
            while k + 1 < len(right) and right[k + 1] - right[k] <= 3:
                k += 1
            hi = int(right[k]) + 1
        lo, hi = max(lo, b - max_len), min(hi, a + max_len)
        lo, hi = max(min(lo, a) - dc.GROW, 0), min(max(hi, b) + dc.GROW, len(fwd))
        if events and lo - events[-1][1] < dc.MERGE_GAP:
            lo = events.pop()[0]
        events.append((lo, hi))
    return [(a, b) for a, b in events if b - a <= max_len + 2 * dc.GROW]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.3, 1.5))
def test_sparse_event_logic_matches_reference(seed, spread):
    rng = np.random.default_rng(seed)
    n = 3000
    fwd = np.abs(rng.standard_normal(n) * spread).astype(np.float32)
    bwd = np.abs(rng.standard_normal(n) * spread).astype(np.float32)
    # Clicks well apart (clusters take another path, tested below).
    for at in rng.permutation(np.arange(100, n - 100, 200))[:12]:
        width = int(rng.integers(1, 30))
        fwd[at : at + width] += rng.uniform(5, 40)
        bwd[at + int(rng.integers(-2, 3)) : at + width] += rng.uniform(5, 40)
    units = (rng.uniform(0.5, 2.0, n)).astype(np.float32)
    fwd_err, bwd_err = fwd * units, bwd * units
    left = np.flatnonzero(fwd_err > 3.0 * units)
    right = np.flatnonzero(bwd_err > 3.0 * units)
    got = dc._events(fwd_err, bwd_err, left, units[left], right, units[right], 10.0, 44)
    assert got == _events_reference(fwd * units / units, bwd * units / units, 10.0, 3.0, 44)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([8000, 16000, 44100, 48000]),
       st.floats(1.0, 4.0))
def test_frame_wise_threshold_matches_per_sample_scale(seed, rate, factor):
    """_above compares frame by frame; spreading the scale to every sample (the last frame
    of each block taking the remainder) must find the same samples and scales."""
    rng = np.random.default_rng(seed)
    lay = dc._Layout.of(rate, dc.ar_order_for(rate))
    per_block = max(lay.block // lay.frame, 1)
    count = int(rng.integers(1, 5))
    n = count * lay.block - int(rng.integers(0, lay.block))
    error = np.abs(rng.standard_normal(count * lay.block)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, count * per_block).astype(np.float32)
    lengths = np.full(per_block, lay.frame)
    lengths[-1] += lay.block - per_block * lay.frame
    spread = np.repeat(scale.reshape(-1, per_block), lengths, axis=1).reshape(-1)
    want = np.flatnonzero(error[:n] > factor * spread[:n])
    at, units = dc._above(error, scale, factor, lay, n)
    assert np.array_equal(at, want)
    assert np.array_equal(units, spread[want])


def test_close_gaps():
    mask = np.zeros(40, bool)
    mask[5:8] = mask[10:12] = mask[20:22] = True  # gaps of 2 and 8
    dc._close_gaps(mask, 4)
    assert runs(mask) == [(5, 12), (20, 22)]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_batched_lsar_matches_banded_solves(seed):
    """Windows with many unknowns (several size groups, gaps at the edges) against the
    banded single solve."""
    rng = np.random.default_rng(seed)
    rows, length, p = 12, 300, 16
    windows = np.cumsum(rng.standard_normal((rows, length)), axis=1)
    known = np.ones(windows.shape, bool)
    for i in range(rows):
        for _ in range(int(rng.integers(1, 5))):
            at = int(rng.integers(0, length - 1))
            known[i, at : at + int(rng.integers(1, 25))] = False
    a = levinson(autocorrelation(np.where(known, windows, 0.0), p), p)
    filled, solved = interpolate_batch(windows, known, a, max_unknown=60)
    counts = (~known).sum(axis=1)
    assert np.array_equal(solved, counts <= 60)
    for i in np.flatnonzero(solved):
        single = interpolate(windows[i], known[i], a[i])
        scale = 1.0 + np.max(np.abs(single))
        assert np.max(np.abs(filled[i] - single)) < 1e-7 * scale
        assert np.array_equal(filled[i][known[i]], windows[i][known[i]])


def _tones(rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = 1e-3 * np.random.default_rng(1).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1330 * t)
            + 0.1 * np.sin(2 * np.pi * 3100 * t) + noise)


def test_cluster_of_clicks_closer_than_the_model_order():
    """Three clicks within 1.5 ms join up through their error tails: too long for one
    click, but made of short cores, so they are repaired (not left alone as a transient)."""
    rate = 44100
    x = _tones(rate)
    y = x.copy()
    for at, amp in ((20000, 0.5), (20027, -0.4), (20061, 0.45)):
        y[at : at + 4] += amp * np.exp(-np.arange(4) / 2)
    events = dc.detect_clicks(y, rate)
    assert len(events) == 1 and events[0][0] <= 20000 and events[0][1] >= 20064
    repaired, _ = dc.declick(y, rate)
    assert si_sdr_db(x, repaired) > 60.0  # input 35.1; about 67


def test_events_do_not_overlap():
    rate = 44100
    x = _tones(rate)
    clicked, _ = add_clicks(x, rate, count=300, seed=8)
    events = dc.detect_clicks(clicked, rate)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(events[:-1], events[1:], strict=True))
    assert all(b > a for a, b in events)


def _square(freq: float, rate: int, seconds: float = 6.0) -> np.ndarray:
    """A band-limited square wave (a synth bass): an edge every half period."""
    t = np.arange(int(seconds * rate)) / rate
    top = int(rate / 2 / freq)
    return 0.3 * sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, top, 2))


@pytest.mark.parametrize("rate, freq", [(44100, 55.0), (44100, 82.4), (48000, 41.2),
                                        (48000, 98.0)])
def test_square_bass_edges_are_not_clicks(rate, freq):
    # Where the prediction error crosses the threshold on an edge wanders by a few percent
    # of a period, so the train of edges is also looked for by the events' middles (the
    # edges were taken for clicks and "repaired": 13-18 dB against the clean wave).
    x = _square(freq, rate)
    cleaned, report = dc.declick(x, rate)
    assert report.figures["clicks"] == 0 and np.array_equal(cleaned, x)
    clicked, _ = add_clicks(x, rate, count=120, seed=5)
    repaired, _ = dc.declick(clicked, rate)
    assert si_sdr_db(x, repaired) > 25.0  # about 27-37 (the edges repaired too: 13-20)
