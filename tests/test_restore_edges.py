"""De-click on edgy synths: the sharp edge a sawtooth, a pulse or a gliding bass has once per
period fools the AR model, but it is the waveform, not a click; real clicks on such a bass are
still found."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from bridge.restore import declick as dc
from bridge.restore.corrupt import add_clicks, si_sdr_db

OVERSAMPLE = 16


def _synth(pitch_hz, rate: int, seconds: float, shape: str = "saw", duty=0.5) -> np.ndarray:
    """A synth voice, band-limited (drawn at 16 times the rate, then brought down), with a
    faint dither floor. ``pitch_hz`` and ``duty`` are numbers or functions of time (s)."""
    n = int(seconds * rate)
    t = np.arange(n * OVERSAMPLE) / (rate * OVERSAMPLE)
    freq = pitch_hz(t) if callable(pitch_hz) else np.full_like(t, pitch_hz)
    cycle = (np.cumsum(freq) / (rate * OVERSAMPLE) + 0.37) % 1.0
    if shape == "saw":
        wave = 2.0 * cycle - 1.0
    else:
        width = duty(t) if callable(duty) else duty
        wave = np.where(cycle < width, 1.0, -1.0)
    x = 0.3 * resample_poly(wave, 1, OVERSAMPLE)[:n]
    return x + 2.0**-16 * np.random.default_rng(1).standard_normal(n)


def _glide(t: np.ndarray) -> np.ndarray:
    """A bass line whose notes glide into each other in 120 ms (up to an octave a note)."""
    notes = np.array([55.0, 82.4, 41.2, 110.0, 61.7, 73.4])
    step = (t // 0.5).astype(int)
    now, before = notes[step % 6], notes[(step - 1) % 6]
    return before * (now / before) ** np.clip((t - 0.5 * step) / 0.12, 0.0, 1.0)


@pytest.mark.parametrize(
    "name, rate, make",
    [
        ("gliding saw", 44100, lambda r: _synth(_glide, r, 3.0)),
        ("gliding square", 48000, lambda r: _synth(_glide, r, 3.0, "pulse")),
        ("saw 35 Hz", 44100, lambda r: _synth(35.0, r, 3.0)),
        ("saw 150 Hz", 44100, lambda r: _synth(150.0, r, 3.0)),
        ("pulse with PWM", 44100,
         lambda r: _synth(55.0, r, 3.0, "pulse", lambda t: 0.5 + 0.4 * np.sin(2 * np.pi * t))),
    ],
)
def test_edgy_synths_pass_untouched(name, rate, make):
    # Each of these had its edges taken for clicks (gliding saw: 88 in 6 s, 21.5 dB against
    # the clean input after "repair"; gliding square 180).
    x = make(rate)
    cleaned, report = dc.declick(x, rate)
    assert report.figures["clicks"] == 0, name
    assert np.array_equal(cleaned, x)
    assert dc.detect_clicks(x, rate, sensitivity=0.5) == []


def test_clicks_on_a_gliding_bass_are_still_found():
    rate = 44100
    x = _synth(_glide, rate, 4.0)
    clicked, starts = add_clicks(x, rate, count=40, seed=7)
    events = np.array(dc.detect_clicks(clicked, rate))
    hit = [np.any((events[:, 0] <= s + 2) & (events[:, 1] >= s)) for s in starts]
    assert np.mean(hit) >= 0.9
    repaired, _ = dc.declick(clicked, rate)
    # about 39 dB (the edges were "repaired" too before: 22)
    assert si_sdr_db(x, repaired) > si_sdr_db(x, clicked) + 6.0


def test_block_pitch_of_a_saw_and_of_noise():
    rate = 44100
    order = dc.ar_order_for(rate)
    lay = dc._Layout.of(rate, order)
    saw = _synth(82.4, rate, 1.0)
    noise = np.random.default_rng(3).standard_normal(rate) * 0.1
    scores = dc._scores(lay.padded(np.stack([saw, noise])), rate, lay, order)
    lags = dc._pitch_lags(lay.block, lay.size)
    period, periodicity = dc._block_pitch(scores.autocorr[0, 2:-2], lags)
    assert np.all(np.abs(period - rate / 82.4) <= 2.0)
    assert np.all(periodicity > 0.9)
    _, periodicity = dc._block_pitch(scores.autocorr[1, 2:-2], lags)
    assert np.all(periodicity < dc.PERIODIC_GATE)


def test_period_miss_tells_an_edge_from_a_click():
    rate = 44100
    x = _synth(110.0, rate, 1.0)
    period = rate / 110.0
    # The saw falls once a period: find the edges near the middle.
    edges = np.flatnonzero(np.diff(x) < -0.2)
    edge = int(edges[np.searchsorted(edges, rate // 2)])
    clicked = x.copy()
    spot = edge + int(period / 3)
    clicked[spot : spot + 4] += 0.2
    order = dc.ar_order_for(rate)
    lay = dc._Layout.of(rate, order)
    scores = dc._scores(lay.padded(clicked[None, :]), len(x), lay, order)
    bounds = np.array([[edge - 3, edge + 5], [spot - 1, spot + 5]])
    miss = dc._period_miss(clicked.astype(np.float32), bounds, np.full(2, round(period)),
                           rate, scores.fwd[0], scores.bwd[0])
    assert miss[0] < dc.PERIODIC_MISS < miss[1]
    assert miss[1] > 0.3
