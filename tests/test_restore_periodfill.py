"""De-click's period fill (clicks on synth basses filled from the neighbouring periods) and
the speed work's exact rewrites (levinson's error share, declip's batched fits)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import bridge.restore.declick as dc
from bridge.restore.ar import fit_ar, levinson
from bridge.restore.corrupt import add_clicks, clip, si_sdr_db
from bridge.restore.declip import _fit_stretches, declip, find_clipping


def _saw_bass(rate: int, seconds: float, start_hz: float, end_hz: float) -> np.ndarray:
    """A band-limited sawtooth (additive, partials below 0.45 rate) gliding from
    ``start_hz`` to ``end_hz``."""
    t = np.arange(int(seconds * rate)) / rate
    freq = start_hz * (end_hz / start_hz) ** (t / seconds)
    phase = 2 * np.pi * np.cumsum(freq) / rate
    out = np.zeros_like(t)
    for k in range(1, int(0.45 * rate / max(start_hz, end_hz)) + 1):
        out += np.sin(k * phase) / k
    return 0.3 * out


def test_period_fill_follows_a_saw_bass_edge():
    """The AR fill rounds off a saw's edge under a click; the period next to it does not."""
    rate = 44100
    clean = _saw_bass(rate, 2.0, 41.2, 41.2)
    clicked, _ = add_clicks(clean, rate, count=20, seed=5)
    plain, report = dc.declick(clicked, rate)
    filled, filled_report = dc.declick(clicked, rate, period_fill=True)
    assert filled_report.figures["clicks"] == report.figures["clicks"] >= 15
    assert si_sdr_db(clean, filled) > si_sdr_db(clean, plain) + 5.0


def test_period_fill_on_a_glide_is_no_worse():
    """A glide moves the period from one cycle to the next: the lag is searched per click,
    and a poor period match gives way to the AR fill."""
    rate = 44100
    clean = _saw_bass(rate, 2.0, 82.4, 98.0)
    clicked, _ = add_clicks(clean, rate, count=20, seed=1)
    plain = si_sdr_db(clean, dc.declick(clicked, rate)[0])
    assert si_sdr_db(clean, dc.declick(clicked, rate, period_fill=True)[0]) > plain - 0.1


def test_period_fill_changes_nothing_without_clicks_and_is_off_by_default():
    rate = 44100
    clean = _saw_bass(rate, 1.0, 41.2, 41.2)
    out, report = dc.declick(clean, rate, period_fill=True)
    assert report.figures["clicks"] == 0
    assert np.array_equal(out, clean)
    clicked, _ = add_clicks(clean, rate, count=8, seed=1)
    assert np.array_equal(dc.declick(clicked, rate)[0],
                          dc.declick(clicked, rate, period_fill=False)[0])


@settings(max_examples=20, deadline=None)
@given(st.floats(45.0, 400.0), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_period_prediction_fills_a_gap_in_a_periodic_wave(freq, gap, seed):
    """A steady periodic wave (period not a whole number of samples) is predicted across a
    gap from the periods either side, whatever the pitch and the gap."""
    rate = 44100
    rng = np.random.default_rng(seed)
    t = np.arange(rate // 2) / rate
    phase = rng.uniform(0, 2 * np.pi, 6)
    x = sum(np.sin(2 * np.pi * k * freq * t + phase[k - 1]) / k for k in range(1, 7))
    at = int(rng.integers(rate // 8, rate // 4))
    mask = np.zeros(len(x), bool)
    mask[at : at + gap] = True
    damaged = np.where(mask, 0.0, x)
    lag = np.array([int(round(rate / freq))])
    fill, miss = dc._period_prediction(damaged, mask, np.array([[at, at + gap]]), lag, rate)
    error = fill[0, :gap] - x[at : at + gap]
    # (three taps carry a fractional delay well below a few kHz: a few per cent at most)
    assert float(np.sqrt(np.mean(error**2))) < 0.05 * float(np.std(x))
    assert miss[0] < 0.1


def test_period_prediction_gives_up_off_the_ends():
    """An event whose neighbouring periods lie off both ends has no period fill."""
    rate = 16000
    x = np.sin(2 * np.pi * 50 * np.arange(400) / rate)
    mask = np.zeros(len(x), bool)
    mask[200:205] = True
    _, miss = dc._period_prediction(x, mask, np.array([[200, 205]]), np.array([320]), rate)
    assert miss[0] > 1e20


def test_levinson_error_share_matches_an_ar2_process():
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(200_000)
    x = np.zeros_like(noise)
    for i in range(2, len(x)):
        x[i] = 1.5 * x[i - 1] - 0.8 * x[i - 2] + noise[i]
    r = np.array([[np.dot(x[: len(x) - k], x[k:]) for k in range(3)], [0.0, 0.0, 0.0]])
    a, share = levinson(r, 2, with_error=True)
    assert np.allclose(a[0], [1.0, -1.5, 0.8], atol=0.02)
    assert abs(share[0] - 1.0 / np.var(x)) < 0.05 / np.var(x)
    assert share[1] == 1.0 and np.array_equal(a[1], [1.0, 0.0, 0.0])
    assert np.array_equal(levinson(r, 2), a)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_batched_stretch_fits_match_one_by_one(seed):
    """declip's batched, size-sorted covariance fits give fit_ar's models (to rounding)."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal(6000)) * 0.01 + rng.standard_normal(6000) * 0.001
    mask = np.zeros(len(x), bool)
    spans = []
    lo = 0
    while lo < len(x) - 200:
        hi = lo + int(rng.integers(120, 1500))
        hi = min(hi, len(x))
        for _ in range(int(rng.integers(0, 4))):
            at = int(rng.integers(lo, hi - 5))
            mask[at : at + int(rng.integers(1, 6))] = True
        spans.append((lo, hi))
        lo = hi + int(rng.integers(0, 50))
    fits = _fit_stretches(x, mask, spans, 8)
    for (lo, hi), got in zip(spans, fits, strict=True):
        assert np.allclose(got, fit_ar(x[lo:hi], ~mask[lo:hi], 8), rtol=1e-7, atol=1e-9)


def test_declip_mask_is_every_run_of_two_on_a_rail():
    rate = 16000
    t = np.arange(rate) / rate
    clean = 0.6 * np.sin(2 * np.pi * 200 * t) + 0.3 * np.sin(2 * np.pi * 470 * t)
    clipped, level = clip(clean, 0.04)
    mask, top, bottom = find_clipping(clipped)
    on = np.abs(clipped) >= max(top, bottom) * (1 - 1e-4)
    paired = on & (np.r_[False, on[:-1]] | np.r_[on[1:], False])
    assert np.array_equal(mask, paired)
    fixed, report = declip(clipped, rate)
    assert report.applied and si_sdr_db(clean, fixed) > si_sdr_db(clean, clipped) + 10
