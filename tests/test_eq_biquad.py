"""RBJ biquads: shapes, gains at the documented points, rendering agrees with the response."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.audio.biquad import (
    EqBand,
    chain_sos,
    magnitude_db,
    octaves_to_q,
    q_to_octaves,
    render_chain,
)
from bridge.plan import SetEqBand

RATE = 48000


def at(bands, f):
    return float(magnitude_db(bands, np.array([f]), RATE)[0])


def test_documented_points_of_each_shape() -> None:
    assert at([EqBand("band", 1000, -6, 2.0)], 1000) == pytest.approx(-6.0, abs=1e-6)
    assert at([EqBand("band", 1000, -6, 2.0)], 100) == pytest.approx(0.0, abs=0.1)
    low = [EqBand("low_shelf", 200, 6.0, 0.707)]
    assert at(low, 20) == pytest.approx(6.0, abs=0.1)
    assert at(low, 200) == pytest.approx(3.0, abs=0.05)
    assert at(low, 10000) == pytest.approx(0.0, abs=0.05)
    high = [EqBand("high_shelf", 5000, -4.0, 0.707)]
    assert at(high, 20000) == pytest.approx(-4.0, abs=0.2)
    assert at(high, 5000) == pytest.approx(-2.0, abs=0.05)
    hp = [EqBand("high_pass", 100, 0.0, 0.707)]
    assert at(hp, 100) == pytest.approx(-3.01, abs=0.05)
    assert at(hp, 25) == pytest.approx(-24.0, abs=0.5)  # 12 dB/octave
    lp = [EqBand("low_pass", 4000, 0.0, 0.707)]
    assert at(lp, 4000) == pytest.approx(-3.01, abs=0.05)
    assert at([EqBand("notch", 1000, 0.0, 4.0)], 1000) < -60


def test_bandwidth_conversion_round_trip() -> None:
    assert q_to_octaves(1.414) == pytest.approx(1.0, abs=0.01)
    assert octaves_to_q(2.0) == pytest.approx(0.667, abs=0.01)
    for q in (0.3, 0.707, 2.0, 10.0):
        assert octaves_to_q(q_to_octaves(q)) == pytest.approx(q)


@settings(max_examples=40, deadline=None)
@given(freq=st.floats(30, 15000), gain=st.floats(-15, 15), q=st.floats(0.3, 10))
def test_bell_hits_its_gain_and_rendering_matches_response(freq, gain, q) -> None:
    band = EqBand("band", freq, gain, q)
    assert at([band], freq) == pytest.approx(gain, abs=1e-3)
    # a sine through the rendered filter comes out at the response's level
    t = np.arange(RATE) / RATE
    probe = 1000.0 if abs(np.log2(freq / 1000.0)) > 0.5 else 5000.0
    x = np.sin(2 * np.pi * probe * t)
    y = render_chain(x, RATE, [band, EqBand("high_pass", 30.0)])
    measured = 20 * np.log10(np.sqrt(np.mean(y[RATE // 2:] ** 2)) / np.sqrt(0.5))
    assert measured == pytest.approx(at([band, EqBand("high_pass", 30.0)], probe), abs=0.05)


def test_chain_accepts_plan_edits_and_multichannel() -> None:
    edit = SetEqBand(track="{A}", band=0, band_type="band", freq_hz=500.0, gain_db=3.0, q=1.0)
    assert chain_sos([edit], RATE).shape == (1, 6)
    stereo = np.random.default_rng(0).standard_normal((4800, 2))
    out = render_chain(stereo, RATE, [edit])
    assert out.shape == stereo.shape and not np.allclose(out, stereo)
    assert np.allclose(render_chain(stereo, RATE, []), stereo)
    with pytest.raises(ValueError):
        EqBand("peak", 100.0)
