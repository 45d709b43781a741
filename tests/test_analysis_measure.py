"""Stem measurements: peaks against brute force, levels, stereo, spectrum, activity, onsets,
and a two-hour stream analysed in bounded memory."""

from __future__ import annotations

import math
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.analysis.activity import activity
from bridge.analysis.features import onsets
from bridge.analysis.levels import levels
from bridge.analysis.measure import measure, measure_blocks, measure_file
from bridge.analysis.peak import (
    TruePeakMeter,
    interpolator,
    sample_peak_dbfs,
    true_peak_dbtp,
)
from bridge.analysis.spectrum import nominal_centre, spectrum_summary, third_octave_ltas
from bridge.analysis.stereo import stereo_image


def _brute_true_peak(x: np.ndarray) -> float:
    h = interpolator()
    peak = 0.0
    for ch in np.atleast_2d(x.T):
        up = np.zeros(len(ch) * 4)
        up[::4] = ch
        peak = max(peak, float(np.max(np.abs(np.convolve(up, h)))))
    return 20 * math.log10(peak)


@settings(max_examples=30, deadline=None)
@given(frames=st.integers(1, 3000), channels=st.integers(1, 3), seed=st.integers(0, 999))
def test_true_peak_equals_full_oversampling(frames: int, channels: int, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal((frames, channels)) * 0.3
    assert true_peak_dbtp(x, 48000) == pytest.approx(_brute_true_peak(x), abs=1e-4)
    assert true_peak_dbtp(x, 48000) >= sample_peak_dbfs(x) - 1e-6


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 999), bursts=st.integers(0, 6))
def test_true_peak_pruning_never_misses_a_peak(seed: int, bursts: int) -> None:
    """Long quiet signal with a few loud bursts: most segments are skipped, none wrongly."""
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal((150_000, 2))
    for _ in range(bursts):
        at = int(rng.integers(0, len(x) - 500))
        x[at:at + 300] += rng.uniform(0.1, 0.9) * rng.standard_normal((300, 2))
    exact = _brute_true_peak(x)
    assert true_peak_dbtp(x, 48000) == pytest.approx(exact, abs=1e-4)
    # in 32768-frame blocks the meter takes its coarse-to-fine segment path
    meter = TruePeakMeter(2)
    xc = np.ascontiguousarray(x.T, dtype=np.float32)
    for i in range(0, xc.shape[1], 32768):
        meter.add(np.ascontiguousarray(xc[:, i:i + 32768]))
    meter.finish()
    assert meter.true_peak_dbtp == pytest.approx(exact, abs=1e-4)


def test_true_peak_skips_quiet_stretches() -> None:
    rng = np.random.default_rng(11)
    x = 0.001 * rng.standard_normal((2, 1 << 18)).astype(np.float32)
    x[:, 1000:1300] = 0.8 * rng.standard_normal((2, 300))  # the loud part comes first
    meter = TruePeakMeter(2)
    for i in range(0, x.shape[1], 32768):
        meter.add(np.ascontiguousarray(x[:, i:i + 32768]))
    meter.finish()
    assert meter.true_peak_dbtp == pytest.approx(_brute_true_peak(x.T), abs=1e-4)
    assert meter.segments_interpolated < meter.segments_total / 20


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 999), block=st.sampled_from([4096, 7000, 32768]))
def test_true_peak_whole_quiet_blocks_skipped_without_loss(seed: int, block: int) -> None:
    """Loud, then whole blocks too quiet to matter (skipped outright), then a louder burst
    straddling a block edge: the skipped blocks must still hand on their last samples."""
    rng = np.random.default_rng(seed)
    x = 0.05 * rng.standard_normal((2, 8 * block)).astype(np.float32)
    x[:, 100:400] = 0.5 * rng.standard_normal((2, 300))
    edge = 6 * block
    x[:, edge - 150:edge + 150] = 0.9 * rng.standard_normal((2, 300))
    meter = TruePeakMeter(2)
    for i in range(0, x.shape[1], block):
        meter.add(np.ascontiguousarray(x[:, i:i + block]))
    meter.finish()
    assert meter.true_peak_dbtp == pytest.approx(_brute_true_peak(x.T), abs=1e-4)
    assert meter.segments_interpolated < meter.segments_total / 4


def test_true_peak_streaming_split_is_invisible() -> None:
    x = np.random.default_rng(1).standard_normal((50_000, 2)) * 0.2
    whole = measure(x, 48000).true_peak_dbtp
    parts = measure_blocks((x[i:i + 777] for i in range(0, len(x), 777)), 48000, 2)
    assert parts.true_peak_dbtp == pytest.approx(whole, abs=1e-6)
    assert whole == pytest.approx(_brute_true_peak(x), abs=1e-4)


def test_levels_rms_crest_dc_and_clipping() -> None:
    rate = 48000
    t = np.arange(rate) / rate
    sine = 0.5 * np.sin(2 * np.pi * 100 * t) + 0.01
    s = levels(sine)
    assert s.rms_dbfs == pytest.approx(10 * math.log10(0.125 + 0.0001), abs=0.01)
    assert s.dc_offset == pytest.approx(0.01, abs=1e-4)
    assert s.crest_db == pytest.approx(s.sample_peak_dbfs - s.rms_dbfs)
    assert s.clipped_samples == 0
    clipped = np.clip(2.0 * np.sin(2 * np.pi * 100 * t), -1.0, 1.0)
    c = levels(np.stack([clipped, 0.5 * clipped], axis=1))
    assert c.clipped_runs == 200  # 100 cycles, a flat top and a flat bottom each
    flat = np.sum(np.abs(clipped) >= 0.9999)
    assert c.clipped_samples == flat
    lone = np.zeros(1000)
    lone[500] = 1.0
    lone[700:702] = -1.0
    assert levels(lone).clipped_samples == 0  # a peak and a pair are not clipping


def test_clip_runs_across_block_boundaries() -> None:
    x = np.zeros((10_000, 1))
    x[4000:4100] = 1.0
    whole = measure(x, 48000)
    split = measure_blocks((x[i:i + 33] for i in range(0, len(x), 33)), 48000, 1)
    assert whole.clipped_samples == split.clipped_samples == 100
    assert whole.clipped_runs == split.clipped_runs == 1


def test_a_run_stays_on_one_rail() -> None:
    # full scale alternating every sample (a tone at half the rate) is not a flat run
    alternating = np.tile([1.0, -1.0], 4000)[:, None]
    assert measure(alternating, 48000).clipped_samples == 0
    # a flat top straight into a flat bottom is two runs, also across block edges
    x = np.zeros((3000, 1))
    x[1000:1040] = 1.0
    x[1040:1080] = -1.0
    whole = measure(x, 48000)
    split = measure_blocks((x[i:i + 37] for i in range(0, len(x), 37)), 48000, 1)
    assert whole.clipped_runs == split.clipped_runs == 2
    assert whole.clipped_samples == split.clipped_samples == 80


def test_stereo_image() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 48000))
    assert stereo_image(np.stack([a, a], 1)).correlation == pytest.approx(1.0)
    assert stereo_image(np.stack([a, a], 1)).width == pytest.approx(0.0, abs=1e-9)
    assert stereo_image(np.stack([a, -a], 1)).correlation == pytest.approx(-1.0)
    wide = stereo_image(np.stack([a, b], 1))
    assert abs(wide.correlation) < 0.02
    assert wide.width == pytest.approx(0.5, abs=0.02)
    assert stereo_image(np.stack([a, 0.5 * a], 1)).balance_db == pytest.approx(6.02, abs=0.01)
    assert stereo_image(a).correlation is None
    assert measure(a[:, None], 48000).correlation is None


def test_third_octave_ltas_finds_tones_and_adds_up() -> None:
    rate = 48000
    t = np.arange(rate * 3) / rate
    x = 0.5 * np.sin(2 * np.pi * 100 * t) + 0.05 * np.sin(2 * np.pi * 5000 * t)
    centres, lv = third_octave_ltas(x, rate)
    assert nominal_centre(centres[np.argmax(lv)]) == 100.0
    i5k = int(np.argmin(np.abs(centres - 5011.9)))
    assert lv[i5k] == pytest.approx(20 * math.log10(0.05) - 3.01, abs=0.3)
    total = 10 * math.log10(np.sum(10 ** (lv / 10)))
    assert total == pytest.approx(10 * math.log10(np.mean(x ** 2)), abs=0.1)
    assert [nominal_centre(c) for c in centres[:4]] == [20.0, 25.0, 31.5, 40.0]


def test_spectral_shape_summaries() -> None:
    rate = 48000
    rng = np.random.default_rng(3)
    noise = spectrum_summary(rng.standard_normal(rate * 3) * 0.1, rate)
    t = np.arange(rate * 3) / rate
    tone = spectrum_summary(0.1 * np.sin(2 * np.pi * 2000 * t), rate)
    assert tone.centroid_hz == pytest.approx(2000, rel=0.01)
    assert noise.centroid_hz == pytest.approx(rate / 4, rel=0.05)
    assert tone.flatness < 0.01 < 0.4 < noise.flatness
    assert noise.rolloff_hz == pytest.approx(0.85 * rate / 2, rel=0.03)


def test_activity_regions_and_onsets() -> None:
    rate = 48000
    x = np.zeros(rate * 10)
    x[rate * 2:rate * 4] = 0.1 * np.random.default_rng(4).standard_normal(rate * 2)
    x[rate * 7:rate * 8] = 0.1 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    act = activity(x, rate)
    assert [(round(a, 1), round(b, 1)) for a, b in act.regions_s] == [(2.0, 4.0), (7.0, 8.0)]
    assert act.active_fraction == pytest.approx(0.3, abs=0.02)
    hits = np.zeros(rate * 8)
    burst = np.hanning(2400)[1200:] * np.sin(np.arange(1200) * 0.3)
    for k in range(16):
        i = rate // 4 + k * rate // 2
        hits[i:i + 1200] = burst
    on = onsets(hits, rate)
    assert on.count == 16
    assert on.onset_density_per_s == pytest.approx(2.0, rel=0.1)
    pad = 0.1 * np.sin(2 * np.pi * 220 * np.arange(rate * 8) / rate)
    assert onsets(pad, rate).count <= 1


def test_silence_gives_minus_inf_and_notes_not_a_crash() -> None:
    m = measure(np.zeros((48000 * 4, 2)), 48000)
    assert m.integrated_lufs == -math.inf
    assert m.true_peak_dbtp == -math.inf
    assert m.crest_db is None
    d = m.to_dict()
    assert d["integrated_lufs"] is None and d["rms_dbfs"] is None
    assert any("silent" in n for n in m.notes)


def test_measure_file_matches_measure(tmp_path: Path) -> None:
    rate = 44100
    x = np.random.default_rng(5).standard_normal((rate * 5, 2)) * 0.1
    path = tmp_path / "x.wav"
    sf.write(path, x, rate, subtype="FLOAT")
    a = measure_file(path)
    b = measure(x.astype(np.float32), rate)
    assert a.file == str(path)
    assert a.integrated_lufs == pytest.approx(b.integrated_lufs, abs=1e-6)
    assert a.true_peak_dbtp == pytest.approx(b.true_peak_dbtp, abs=1e-6)
    assert a.duration_s == pytest.approx(5.0)


def test_loudness_thread_gives_the_same_result(tmp_path: Path) -> None:
    rate = 48000
    x = np.random.default_rng(8).standard_normal((rate * 20, 2)) * 0.1
    x[rate * 5:rate * 6] *= 8.0
    path = tmp_path / "x.wav"
    sf.write(path, x, rate, subtype="PCM_24")
    one = measure_file(path, threads=1, block_frames=30000)
    two = measure_file(path, threads=2, block_frames=30000)
    assert one.to_dict() == two.to_dict()


def test_two_hour_stream_in_bounded_memory() -> None:
    """Two hours of 48 kHz stereo, generated block by block, never held in memory."""
    rate = 48000
    block = 1 << 16
    total = rate * 7200
    rng = np.random.default_rng(6)
    base = (0.05 * rng.standard_normal((block, 2))).astype(np.float32)
    gains = np.float32(10 ** (np.array([0.0, -6.0, -12.0, 3.0]) / 20))

    def blocks():
        done = 0
        i = 0
        while done < total:
            n = min(block, total - done)
            yield base[:n] * gains[(i // 200) % 4]  # level changes every ~4.5 minutes
            done += n
            i += 1

    tracemalloc.start()
    start = time.perf_counter()
    m = measure_blocks(blocks(), rate, 2, total_frames=total)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert m.duration_s == pytest.approx(7200.0)
    assert math.isfinite(m.integrated_lufs) and m.lra_lu is not None
    # hop energies (one float64 per 1.33 ms: 43 MB for 2 h) are the only thing that grows;
    # the audio itself (2.6 GB as float32) never is in memory at once
    assert peak < 80 * 2**20, f"peak traced memory {peak / 2**20:.0f} MB"
    assert elapsed < 120
