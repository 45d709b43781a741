"""Loudness engine against independent references: scipy's filters, pyloudnorm, brute force."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.analysis.kweighting import BlockIIR, k_weighting_sections, lfilter_reference
from bridge.analysis.loudness import (
    LoudnessMeter,
    hop_frames,
    integrated_lufs,
    loudness,
    momentary_lufs,
    short_term_lufs,
)

BS1770_48K = [
    ([1.53512485958697, -2.69169618940638, 1.19839281085285],
     [1.0, -1.69065929318241, 0.73248077421585]),
    ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621]),
]


def pink(frames: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal((channels, frames)), axis=1)
    f = np.arange(spec.shape[1])
    spec[:, 1:] /= np.sqrt(f[1:])
    x = np.fft.irfft(spec, n=frames, axis=1).T
    return 0.1 * x / np.std(x)


def test_coefficients_at_48k_match_the_bs1770_table() -> None:
    for (b, a), (ref_b, ref_a) in zip(k_weighting_sections(48000), BS1770_48K, strict=True):
        assert np.allclose(b, ref_b, atol=1e-8)
        assert np.allclose(a, ref_a, atol=1e-8)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 88200, 96000, 192000])
def test_k_weighting_response_is_the_same_curve_at_every_rate(rate: int) -> None:
    """The analog design gives the same response, well below Nyquist, whatever the rate."""
    freqs = np.array([20.0, 38.0, 100.0, 400.0, 1000.0, 1681.0, 3000.0, 6000.0])
    freqs = freqs[freqs <= 0.08 * rate]
    ref = _response_db(k_weighting_sections(192000), freqs, 192000)
    got = _response_db(k_weighting_sections(rate), freqs, rate)
    assert np.allclose(got, ref, atol=0.03)
    if rate == 48000:
        assert _response_db(k_weighting_sections(rate), np.array([1000.0]), rate)[0] == (
            pytest.approx(0.691, abs=0.01))


def _response_db(sections, freqs: np.ndarray, rate: int) -> np.ndarray:
    sos = np.array([list(b) + list(a) for b, a in sections])
    _, h = scipy.signal.sosfreqz(sos, worN=freqs, fs=rate)
    return 20 * np.log10(np.abs(h))


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 96000])
def test_block_iir_equals_direct_filtering(rate: int) -> None:
    sections = k_weighting_sections(rate)
    sos = np.array([list(b) + list(a) for b, a in sections])
    rng = np.random.default_rng(rate)
    x = rng.standard_normal((3, 64 * 700)).astype(np.float32)
    x[1] += 0.3  # DC: exercises the high-pass state
    x[2, 5000:] = 0.0  # a long silent tail: state decays without denormal trouble
    ref = scipy.signal.sosfilt(sos, x.astype(np.float64), axis=1)
    f = BlockIIR(sections)
    y, state = f.process(x, f.initial_state(3))
    assert np.max(np.abs(y - ref)) < 1e-4 * np.max(np.abs(ref))
    # and the per-sample reference agrees with scipy (it is what the docs point to)
    short = x[0, :3000].astype(np.float64)
    assert np.allclose(lfilter_reference(sections, short), ref[0, :3000], atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=30000), min_size=1, max_size=6),
       rate=st.sampled_from([44100, 48000]))
def test_any_block_split_gives_the_same_hop_energies(cuts: list[int], rate: int) -> None:
    x = pink(40000, 2, 3).astype(np.float32).T.copy()
    whole = LoudnessMeter(rate, 2, keep_hops=True)
    whole.add(x)
    whole.flush()
    split = LoudnessMeter(rate, 2, keep_hops=True)
    edges = sorted({min(c, x.shape[1]) for c in cuts})
    start = 0
    for e in [*edges, x.shape[1]]:
        split.add(np.ascontiguousarray(x[:, start:e]))
        start = e
    split.flush()
    a, b = whole.hop_power(), split.hop_power()
    assert len(a) == len(b)
    assert np.allclose(a, b, rtol=1e-4, atol=1e-9)
    ra, rb = whole.result(), split.result()
    assert ra.momentary_max_lufs == pytest.approx(rb.momentary_max_lufs, abs=1e-4)
    assert ra.short_term_max_lufs == pytest.approx(rb.short_term_max_lufs, abs=1e-4)
    assert ra.integrated_lufs == pytest.approx(rb.integrated_lufs, abs=1e-4)


@pytest.mark.parametrize("rate", [44100, 48000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_integrated_agrees_with_pyloudnorm(rate: int, seed: int) -> None:
    # music-like: pink noise with a loud and a quiet passage and a silent gap
    x = pink(rate * 30, 2, seed)
    x[rate * 10:rate * 15] *= 0.05
    x[rate * 20:rate * 22] = 0.0
    ours = integrated_lufs(x, rate)
    theirs = pyloudnorm.Meter(rate).integrated_loudness(x)
    assert ours == pytest.approx(theirs, abs=0.05)


def test_white_noise_difference_to_pyloudnorm_is_its_shelf_fit() -> None:
    """pyloudnorm re-fits the shelf (1.5 kHz, +4 dB); on white noise, most of whose energy
    lies above the shelf, that reads ~0.04 LU lower than the BS.1770 table. Still < 0.05."""
    rate = 48000
    x = np.random.default_rng(0).standard_normal((rate * 20, 2)) * 0.05
    assert integrated_lufs(x, rate) == pytest.approx(
        pyloudnorm.Meter(rate).integrated_loudness(x), abs=0.05)


def _brute_force_window_max(x: np.ndarray, rate: int, window_s: float) -> float:
    """Per-sample sliding window of the scipy-filtered signal: the exact maximum."""
    sos = np.array([list(b) + list(a) for b, a in k_weighting_sections(rate)])
    y = scipy.signal.sosfilt(sos, x, axis=0)
    power = (y ** 2).sum(axis=1)
    w = round(window_s * rate)
    cs = np.concatenate([[0.0], np.cumsum(power)])
    return -0.691 + 10 * math.log10((cs[w:] - cs[:-w]).max() / w)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), burst_ms=st.integers(50, 900),
       offset=st.integers(0, 20000))
def test_momentary_max_is_within_hundredths_of_the_per_sample_maximum(
        seed: int, burst_ms: int, offset: int) -> None:
    rate = 48000
    rng = np.random.default_rng(seed)
    x = 0.001 * rng.standard_normal((rate * 2, 2))
    n = round(burst_ms * rate / 1000)
    x[offset:offset + n] += 0.3 * rng.standard_normal((len(x[offset:offset + n]), 2))
    exact = _brute_force_window_max(x, rate, 0.4)
    ours = loudness(x, rate).momentary_max_lufs
    # never above the truth (up to float32 rounding), and never more than 0.01 dB below it
    assert exact - 0.01 <= ours <= exact + 0.001


def test_series_have_the_documented_length_and_step() -> None:
    rate = 48000
    x = pink(rate * 10, 2, 9)
    m = momentary_lufs(x, rate)
    s = short_term_lufs(x, rate)
    assert len(m) == pytest.approx((10 - 0.4) / 0.1 + 1, abs=1)
    assert len(s) == pytest.approx((10 - 3.0) / 0.1 + 1, abs=1)
    fine = momentary_lufs(x, rate, hop_s=0.0)  # finest: every hop
    _, hop = hop_frames(rate)
    assert len(fine) == (rate * 10 - round(0.4 * rate)) // hop + 1
    assert fine.max() >= m.max()


def test_silence_and_short_signals() -> None:
    rate = 48000
    r = loudness(np.zeros((rate, 2)), rate)
    assert r.integrated_lufs == -math.inf
    assert r.momentary_max_lufs == -math.inf
    assert r.lra_lu is None
    short = loudness(0.1 * np.ones((rate // 10, 1)), rate)
    assert short.integrated_lufs == -math.inf  # no complete 400 ms block
    assert math.isfinite(short.momentary_max_lufs)  # a meter still shows the 100 ms blip
    assert any("400 ms" in n for n in short.notes)


def test_mono_reads_3_db_below_the_same_signal_on_two_channels() -> None:
    rate = 48000
    x = pink(rate * 5, 1, 4)
    mono = integrated_lufs(x[:, 0], rate)
    stereo = integrated_lufs(np.repeat(x, 2, axis=1), rate)
    assert stereo - mono == pytest.approx(10 * math.log10(2), abs=0.01)


def _wavex_with_mask(path, x: np.ndarray, rate: int, mask: int):
    """A WAVE_FORMAT_EXTENSIBLE float file whose speaker mask is ``mask``."""
    import struct

    import soundfile as sf

    sf.write(path, x, rate, format="WAVEX", subtype="FLOAT")
    data = bytearray(path.read_bytes())
    fmt = data.index(b"fmt ")
    assert struct.unpack("<H", data[fmt + 8:fmt + 10])[0] == 0xFFFE
    data[fmt + 28:fmt + 32] = struct.pack("<I", mask)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("mask", "expected"), [
    (0x33, [1.0, 1.0, 1.41, 1.41]),             # quad: L R BL BR
    (0x107, [1.0, 1.0, 1.0, 1.41]),             # 4.0: L R C BC
    (0x60F, [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]),  # 5.1 (side)
    (0x63F, [1.0, 1.0, 1.0, 0.0, 1.41, 1.41, 1.41, 1.41]),  # 7.1
])
def test_surround_file_is_weighted_by_its_speaker_mask(tmp_path, mask, expected) -> None:
    from bridge.analysis.loudness import channel_weights
    from bridge.analysis.measure import measure_file
    from bridge.audio.reader import wav_channel_mask

    rate = 48000
    channels = len(expected)
    x = pink(rate * 4, channels, seed=channels) * np.linspace(0.3, 1.5, channels)
    path = _wavex_with_mask(tmp_path / "surround.wav", x.astype(np.float32), rate, mask)
    assert wav_channel_mask(path) == mask
    assert channel_weights(channels, mask).tolist() == expected
    # Independent: sum of each channel's own K-weighted energy, times its weight.
    per_channel = np.array([10 ** ((integrated_lufs(x[:, [c]].astype(np.float32), rate)
                                    + 0.691) / 10) for c in range(channels)])
    # Gating is on the summed signal, so compare on steady noise where no block is gated.
    reference = -0.691 + 10 * np.log10(np.dot(expected, per_channel))
    assert measure_file(path, threads=1).integrated_lufs == pytest.approx(reference, abs=0.05)


def test_files_without_a_mask_take_the_usual_order() -> None:
    from bridge.analysis.loudness import channel_weights

    assert channel_weights(1).tolist() == [1.0]
    assert channel_weights(2).tolist() == [1.0, 1.0]
    assert channel_weights(4).tolist() == [1.0, 1.0, 1.41, 1.41]
    assert channel_weights(6).tolist() == [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]
    assert channel_weights(3).tolist() == [1.0, 1.0, 1.0]
    # A mask naming fewer speakers than channels: the rest count as front channels.
    assert channel_weights(4, 0x3).tolist() == [1.0, 1.0, 1.0, 1.0]
