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
