"""The labeller's feature vector: fixed length, finite, level-independent, bounded in cost."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bridge.assist.labeller.features import (
    FEATURE_NAMES,
    MAX_ANALYSIS_S,
    analyse,
    extract_features,
    mono,
    select_active,
)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float32, st.integers(0, 6000),
           elements=st.floats(-1, 1, width=32, allow_nan=False)),
    st.sampled_from([8000, 16000, 22050, 44100, 48000]),
)
def test_any_short_signal_gives_a_finite_vector(x: np.ndarray, rate: int) -> None:
    vec, activity = analyse(x, rate)
    assert vec.shape == (len(FEATURE_NAMES),)
    assert np.isfinite(vec).all()
    assert 0.0 <= activity.active_ratio <= 1.0 + 1e-9


def test_nan_and_inf_samples_are_treated_as_silence() -> None:
    x = np.sin(np.arange(22050) / 10.0)
    x[100:200] = np.nan
    x[300] = np.inf
    vec = extract_features(x, 22050)
    assert np.isfinite(vec).all()


def test_features_do_not_depend_on_level() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(3 * 22050) / 22050
    x = np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x += 0.01 * rng.standard_normal(len(t))
    a, b = extract_features(x, 22050), extract_features(0.1 * x, 22050)
    assert np.allclose(a, b, atol=1e-3)



@settings(max_examples=12, deadline=None)
@given(st.floats(-30.0, -20.0), st.floats(-28.0, 0.0))
def test_quiet_stems_with_long_decays_label_the_same_at_any_fader(
    peak_dbfs: float, fader_db: float
) -> None:
    """Plucked notes ringing down 60 dB between hits: the quiet tails must count the same
    whether the stem peaks at -20 dBFS or 28 dB lower (a fader or clip-gain change). Only
    float32 rounding may differ."""
    from bridge.assist.labeller import label_audio

    rate = 22050
    t = np.arange(int(0.8 * rate)) / rate
    note = np.sin(2 * np.pi * 196 * t) * np.exp(-t * 60 / 20 / 0.8 * np.log(10))
    x = np.tile(note, 6) * 10 ** (peak_dbfs / 20)
    a, act_a = analyse(x, rate)
    b, act_b = analyse(x * 10 ** (fader_db / 20), rate)
    assert act_a.active_s == act_b.active_s
    assert np.allclose(a, b, atol=1e-2)
    first, second = label_audio(x, rate), label_audio(x * 10 ** (fader_db / 20), rate)
    assert first.label == second.label
    assert abs(first.confidence - second.confidence) < 0.01


def test_an_empty_track_of_low_noise_stays_silent() -> None:
    hiss = 10 ** (-75 / 20) * np.random.default_rng(2).standard_normal(22050 * 3)
    vec, activity = analyse(hiss, 22050)
    assert activity.active_s == 0.0
    assert not vec.any()


def test_stereo_layouts_mix_to_the_same_mono() -> None:
    x = np.random.default_rng(1).standard_normal((1000, 2))
    assert np.allclose(mono(x), mono(x.T))
    assert np.allclose(mono(x), x.mean(axis=1))


def test_long_stems_are_cut_to_the_analysis_bound() -> None:
    rate = 8000
    y = np.sin(np.arange(rate * 200) / 5.0)  # 200 s, all active
    sel, activity = select_active(y, rate)
    assert len(sel) <= (MAX_ANALYSIS_S + 0.5) * rate
    assert activity.active_s > 190


def test_sparse_stem_keeps_the_hits_and_measures_activity() -> None:
    rate = 22050
    y = np.zeros(rate * 60)
    burst = np.sin(np.arange(rate // 2) / 3.0) * np.exp(-np.arange(rate // 2) / 2000)
    for s in (5, 30, 55):
        y[s * rate:s * rate + len(burst)] = burst
    sel, activity = select_active(y, rate)
    assert 0.0 < activity.active_ratio < 0.1
    assert np.abs(sel).max() > 0.5


def _feature(vec: np.ndarray, name: str) -> float:
    return float(vec[FEATURE_NAMES.index(name)])


def _notes(rate: int, attack_s: float, seconds: float = 4.0) -> np.ndarray:
    """A 220 Hz note every 0.5 s with the given linear attack and an exponential decay."""
    n = int(0.5 * rate)
    t = np.arange(n) / rate
    env = np.minimum(t / attack_s, 1.0) * np.exp(-np.maximum(t - attack_s, 0) * 4)
    note = np.sin(2 * np.pi * 220 * t) * env
    return np.tile(note, int(seconds / 0.5))


def test_attack_time_separates_plucks_from_swells() -> None:
    rate = 22050
    fast = extract_features(_notes(rate, 0.002), rate)
    slow = extract_features(_notes(rate, 0.12), rate)
    # log10(ms) / 2: a 2 ms attack reads about 0.2-0.4, a 120 ms one about 1
    assert _feature(slow, "attack_ms_log") > _feature(fast, "attack_ms_log") + 0.4


def test_high_band_decay_tells_a_ringing_cymbal_from_a_closed_hat() -> None:
    rate = 22050
    rng = np.random.default_rng(3)
    t = np.arange(int(2.0 * rate)) / rate
    hat = rng.standard_normal(len(t)) * np.exp(-t / 0.03)
    crash = rng.standard_normal(len(t)) * np.exp(-t / 0.8)
    hv, cv = (extract_features(np.tile(x, 3), rate) for x in (hat, crash))
    assert _feature(hv, "hf_decay_300ms") < _feature(cv, "hf_decay_300ms") - 0.5


def test_harmonic_profile_hears_odd_harmonics() -> None:
    """A square wave has odd harmonics only, a sawtooth all of them."""
    rate = 22050
    t = np.arange(3 * rate) / rate
    f0 = 196.0
    square = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 20, 2))
    saw = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 20))
    sq, sw = extract_features(square, rate), extract_features(saw, rate)
    assert _feature(sq, "odd_even_db") > _feature(sw, "odd_even_db") + 1.0
    assert _feature(sq, "harmonic_2_rel") < _feature(sw, "harmonic_2_rel") - 0.5
    assert _feature(sw, "voiced_ratio") > 0.9


def test_float32_and_float64_stems_give_the_same_features() -> None:
    """File reads come as float32, arrays from callers often as float64: same answer."""
    rng = np.random.default_rng(7)
    t = np.arange(2 * 44100) / 44100
    x = np.sin(2 * np.pi * 330 * t) * np.exp(-(t % 0.5) * 6) + 0.01 * rng.standard_normal(len(t))
    a = extract_features(x.astype(np.float64), 44100)
    b = extract_features(x.astype(np.float32), 44100)
    assert np.allclose(a, b, atol=2e-3)


def test_read_mono_mixes_every_channel_block_by_block(tmp_path) -> None:
    import soundfile as sf

    from bridge.assist.labeller import read_mono

    rng = np.random.default_rng(8)
    x = rng.uniform(-0.5, 0.5, (10_000, 3)).astype(np.float32)
    path = tmp_path / "three.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    y, rate = read_mono(path, block_frames=4096)  # several blocks, a short last one
    assert rate == 48000 and y.dtype == np.float32
    assert np.allclose(y, x.mean(axis=1), atol=1e-6)


def test_long_rests_inside_a_part_are_shortened():
    """A bass line resting for bars between notes is analysed with rests of at most
    MAX_REST_S, so it does not look sparser than the continuously played parts the model
    learnt from; short gaps (between drum hits) are kept as they are."""
    from bridge.assist.labeller.features import MAX_REST_S, select_active

    rate = 22050
    t = np.arange(int(0.8 * rate)) / rate
    note = 0.5 * np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.3)
    rest = np.zeros(int(2.5 * rate))
    short = np.zeros(int(0.3 * rate))
    sel, _ = select_active(np.concatenate([note, rest, note, rest, note]), rate)
    assert len(sel) < 3 * len(note) + 2 * (MAX_REST_S + 0.1) * rate
    assert len(sel) > 3 * len(note) + 2 * (MAX_REST_S - 0.1) * rate
    kept, _ = select_active(np.concatenate([note, short, note, short, note]), rate)
    assert abs(len(kept) - (3 * len(note) + 2 * len(short))) < 0.25 * rate
