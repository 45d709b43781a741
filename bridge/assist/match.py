"""Tone matching to a reference: long-term spectrum difference, smoothed, fitted to <= 8 bands.

The method (docs/mixing.md says the same in prose):

1. **LTAS** of source and reference: Hann-windowed power spectra (``n_fft`` 8192, 50 % overlap)
   of the mid signal, averaged over the frames that play (frames more than 45 dB under the
   loudest are silence and left out), in dB per frequency bin.
2. **Smoothing**: fractional-octave smoothing (``smoothing_oct``, default 1/3 octave, done in the
   power domain) so the match follows tonal balance, not the notes of one performance.
3. **Difference** on a 1/12-octave grid (30 Hz up to 16 kHz or 0.45 x the lower sample rate):
   reference minus source, level-aligned (the weighted mean is removed: loudness is compared
   separately, not put into the EQ), limited to +-``max_gain_db`` and scaled by ``amount``
   (0 = nothing, 1 = full match). Frequencies where either side has nothing (60 dB under its
   peak) get no weight, so the EQ never boosts empty spectrum.
4. **Fit** to at most ``max_bands`` ReaEQ bands: a low and a high shelf plus bells placed where
   the remaining error is largest, then all parameters refined together (scipy least squares
   on the dB error, frequencies and Q kept in sensible ranges).
5. **Also compared**: integrated loudness (BS.1770, :mod:`bridge.analysis.loudness`) and
   stereo width (side/mid energy in dB, and correlation).

"Drums like the reference": :func:`drum_part` keeps the percussive part of a mix (librosa's
median-filter HPSS, margin 2), so a drum stem can be matched to the drums inside a finished mix;
or give a reference drum stem directly.

Example::

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> src = rng.standard_normal(44100 * 4)
    >>> from bridge.audio.biquad import EqBand, render_chain
    >>> ref = render_chain(src, 44100, [EqBand("band", 2000.0, 6.0, 1.0)])
    >>> result = match_eq(src, ref, 44100)
    >>> result.distance_after_db < 0.25 * result.distance_before_db
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bridge.audio.biquad import EqBand, band_sos, magnitude_db, render_chain

THIRD_OCTAVE_CENTRES_HZ = 1000.0 * 2.0 ** (np.arange(-16, 15) / 3.0)
"""1/3-octave band centres (base 2), 25 Hz .. 25 kHz."""


@dataclass
class Spectrum:
    """A long-term average spectrum: power per bin (linear, arbitrary unit) and its frequencies."""

    freq_hz: np.ndarray
    power: np.ndarray
    sample_rate: int

    @property
    def level_db(self) -> np.ndarray:
        return 10.0 * np.log10(np.maximum(self.power, 1e-30))


def mono(samples: np.ndarray) -> np.ndarray:
    """The mid signal (mean of channels) as float64; time on axis 0."""
    data = np.asarray(samples, dtype=np.float64)
    return data if data.ndim == 1 else data.mean(axis=1)


def long_term_spectrum(samples: np.ndarray, rate: int, *, n_fft: int = 8192,
                       gate_db: float = -45.0) -> Spectrum:
    """LTAS over the frames that play (see module notes).

    >>> import numpy as np
    >>> s = long_term_spectrum(np.sin(2 * np.pi * 1000 * np.arange(44100) / 44100), 44100)
    >>> abs(float(s.freq_hz[np.argmax(s.power)]) - 1000) < 6
    True
    """
    x = mono(samples)
    if x.size < n_fft:
        x = np.concatenate([x, np.zeros(n_fft - x.size)])
    hop = n_fft // 2
    count = 1 + (x.size - n_fft) // hop
    window = np.hanning(n_fft)
    scale = 1.0 / np.sum(window**2)
    powers = []
    energies = []
    for i in range(count):
        frame = x[i * hop:i * hop + n_fft] * window
        spec = np.abs(np.fft.rfft(frame)) ** 2 * scale
        powers.append(spec)
        energies.append(float(spec.sum()))
    power = np.array(powers)
    energy = np.array(energies)
    if energy.max() <= 0:
        return Spectrum(np.fft.rfftfreq(n_fft, 1.0 / rate), np.zeros(n_fft // 2 + 1), rate)
    keep = energy >= energy.max() * 10.0 ** (gate_db / 10.0)
    return Spectrum(np.fft.rfftfreq(n_fft, 1.0 / rate), power[keep].mean(axis=0), rate)


def band_levels_db(spectrum: Spectrum, centres_hz: np.ndarray, fraction: float = 1.0 / 3.0
                   ) -> np.ndarray:
    """Level (dB) of the power in each fractional-octave band around ``centres_hz``."""
    half = 2.0 ** (fraction / 2.0)
    out = np.empty(len(centres_hz))
    df = spectrum.freq_hz[1] - spectrum.freq_hz[0]
    for i, fc in enumerate(centres_hz):
        lo, hi = fc / half, fc * half
        sel = (spectrum.freq_hz >= lo) & (spectrum.freq_hz < hi)
        if sel.any():
            total = spectrum.power[sel].sum()
        else:  # band narrower than a bin: interpolate the density
            total = np.interp(fc, spectrum.freq_hz, spectrum.power) * (hi - lo) / df
        out[i] = 10.0 * np.log10(max(total, 1e-30))
    return out


def smooth_db(spectrum: Spectrum, grid_hz: np.ndarray, fraction: float) -> np.ndarray:
    """Fractional-octave smoothed level (dB per Hz density) at ``grid_hz``."""
    half = 2.0 ** (fraction / 2.0)
    freqs, power = spectrum.freq_hz, spectrum.power
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    out = np.empty(len(grid_hz))
    for i, f in enumerate(grid_hz):
        lo = np.searchsorted(freqs, f / half)
        hi = max(np.searchsorted(freqs, f * half), lo + 1)
        hi = min(hi, freqs.size)
        lo = min(lo, hi - 1)
        out[i] = 10.0 * np.log10(max((cumulative[hi] - cumulative[lo]) / (hi - lo), 1e-30))
    return out


def log_grid(rate: int, per_octave: int = 12, low_hz: float = 30.0, high_hz: float = 16000.0
             ) -> np.ndarray:
    top = min(high_hz, 0.45 * rate)
    n = int(math.floor(per_octave * math.log2(top / low_hz))) + 1
    return low_hz * 2.0 ** (np.arange(n) / per_octave)


def ltas_distance_db(samples: np.ndarray, reference: np.ndarray, rate: int, *,
                     ref_rate: int | None = None, floor_db: float = -50.0) -> float:
    """RMS difference (dB) of the 1/3-octave LTAS of two signals, level-aligned.

    Bands from 31.5 Hz to 16 kHz (or 0.45 x the lower rate) where both signals are within
    ``floor_db`` of their loudest band count; the mean difference (a level offset) is removed.
    """
    ref_rate = ref_rate or rate
    top = min(16000.0, 0.45 * min(rate, ref_rate))
    centres = THIRD_OCTAVE_CENTRES_HZ[(THIRD_OCTAVE_CENTRES_HZ >= 31.0)
                                      & (THIRD_OCTAVE_CENTRES_HZ <= top)]
    a = band_levels_db(long_term_spectrum(samples, rate), centres)
    b = band_levels_db(long_term_spectrum(reference, ref_rate), centres)
    used = (a >= a.max() + floor_db) & (b >= b.max() + floor_db)
    if not used.any():
        return 0.0
    diff = (b - a)[used]
    return float(np.sqrt(np.mean((diff - diff.mean()) ** 2)))


# -------------------------------------------------------------------------------------- fitting


def fit_bands(freqs_hz: np.ndarray, curve_db: np.ndarray, rate: int, *,
              weights: np.ndarray | None = None, max_bands: int = 8,
              max_gain_db: float = 12.0) -> list[EqBand]:
    """At most ``max_bands`` shelves/bells whose summed response follows ``curve_db``.

    >>> import numpy as np
    >>> f = log_grid(48000)
    >>> target = magnitude_db([EqBand("band", 500.0, -5.0, 2.0)], f, 48000)
    >>> bands = fit_bands(f, target, 48000, max_bands=3)
    >>> float(np.max(np.abs(magnitude_db(bands, f, 48000) - target))) < 0.5
    True
    """
    from scipy.optimize import least_squares

    freqs = np.asarray(freqs_hz, dtype=np.float64)
    curve = np.asarray(curve_db, dtype=np.float64)
    w = np.ones_like(freqs) if weights is None else np.asarray(weights, dtype=np.float64)
    if max_bands <= 0 or float(np.max(np.abs(curve) * (w > 0), initial=0.0)) < 0.25:
        return []
    f_lo, f_hi = float(freqs[0]), float(freqs[-1])
    kinds: list[str] = []
    params: list[float] = []  # per band: log2(freq), gain, log2(q)

    def bands_of(p: np.ndarray) -> list[EqBand]:
        return [EqBand(k, float(2.0 ** p[3 * i]), float(p[3 * i + 1]), float(2.0 ** p[3 * i + 2]))
                for i, k in enumerate(kinds)]

    # z^-1 and z^-2 on the grid, for a fast response of the whole chain in the inner loop
    z1 = np.exp(-1j * 2.0 * np.pi * freqs / rate)
    z2 = z1 * z1

    def response_db(p: np.ndarray) -> np.ndarray:
        total = np.zeros_like(freqs)
        for band in bands_of(p):
            b0, b1, b2, _, a1, a2 = band_sos(band, rate)
            num = np.abs(b0 + b1 * z1 + b2 * z2)
            den = np.abs(1.0 + a1 * z1 + a2 * z2)
            total += 20.0 * np.log10(np.maximum(num, 1e-12) / np.maximum(den, 1e-12))
        return total

    def residual(p: np.ndarray) -> np.ndarray:
        return (response_db(p) - curve) * np.sqrt(w)

    def bounds() -> tuple[list[float], list[float]]:
        lo, hi = [], []
        for k in kinds:
            fmin, fmax = (f_lo, min(f_hi, 500.0)) if k == "low_shelf" else (
                (max(f_lo, 1500.0), f_hi) if k == "high_shelf" else (f_lo, f_hi))
            qmin, qmax = (0.4, 1.2) if k.endswith("shelf") else (0.3, 8.0)
            lo += [math.log2(fmin), -max_gain_db, math.log2(qmin)]
            hi += [math.log2(fmax), max_gain_db, math.log2(qmax)]
        return lo, hi

    def refine() -> None:
        lo, hi = bounds()
        start = np.clip(np.array(params), np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        fit = least_squares(residual, start, bounds=(lo, hi), max_nfev=40 * len(params),
                            x_scale="jac")
        params[:] = list(fit.x)

    # shelves first, at the ends, with the mean of the curve there
    low = freqs < 150.0
    high = freqs > 6000.0
    if low.any() and np.average(curve[low], weights=w[low] + 1e-12) ** 2 > 1.0:
        kinds.append("low_shelf")
        params += [math.log2(120.0), float(np.average(curve[low], weights=w[low] + 1e-12)),
                   math.log2(0.707)]
    if high.any() and len(kinds) < max_bands and \
            np.average(curve[high], weights=w[high] + 1e-12) ** 2 > 1.0:
        kinds.append("high_shelf")
        params += [math.log2(8000.0), float(np.average(curve[high], weights=w[high] + 1e-12)),
                   math.log2(0.707)]
    if kinds:
        refine()
    while len(kinds) < max_bands:
        err = (curve - response_db(np.array(params))) if kinds else curve
        smooth_err = np.convolve(err * w, np.ones(5) / 5, mode="same")
        i = int(np.argmax(np.abs(smooth_err)))
        if abs(smooth_err[i]) < 0.3:
            break
        kinds.append("band")
        params += [math.log2(float(freqs[i])), float(np.clip(err[i], -max_gain_db, max_gain_db)),
                   math.log2(1.4)]
        refine()
    bands = bands_of(np.array(params))
    # bands that do almost nothing are not worth a knob
    return [b for b in bands if abs(b.gain_db) >= 0.2]


# ---------------------------------------------------------------------------------------- match


@dataclass
class Comparison:
    """Loudness and width of source and reference."""

    source_lufs: float | None
    reference_lufs: float | None
    source_width_db: float | None
    """Side/mid energy ratio, dB (``None`` for mono; -inf for dual mono)."""
    reference_width_db: float | None
    source_correlation: float | None
    reference_correlation: float | None

    @property
    def loudness_difference_lu(self) -> float | None:
        if self.source_lufs is None or self.reference_lufs is None:
            return None
        return self.reference_lufs - self.source_lufs


@dataclass
class MatchResult:
    bands: list[EqBand]
    freq_hz: np.ndarray
    target_db: np.ndarray
    """The smoothed, aligned, limited and scaled difference the bands were fitted to."""
    fitted_db: np.ndarray
    source_db: np.ndarray
    """Smoothed source LTAS on ``freq_hz`` (dB, level-aligned to the reference)."""
    reference_db: np.ndarray
    distance_before_db: float
    distance_after_db: float
    comparison: Comparison | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        comp = self.comparison
        return {
            "bands": [{"band_type": b.band_type, "freq_hz": round(b.freq_hz, 1),
                       "gain_db": round(b.gain_db, 2), "q": round(b.q, 3)} for b in self.bands],
            "ltas_distance_before_db": round(self.distance_before_db, 2),
            "ltas_distance_after_db": round(self.distance_after_db, 2),
            "loudness": None if comp is None else {
                "source_lufs": _r(comp.source_lufs), "reference_lufs": _r(comp.reference_lufs),
                "difference_lu": _r(comp.loudness_difference_lu)},
            "width": None if comp is None else {
                "source_side_to_mid_db": _r(comp.source_width_db),
                "reference_side_to_mid_db": _r(comp.reference_width_db),
                "source_correlation": _r(comp.source_correlation),
                "reference_correlation": _r(comp.reference_correlation)},
            "notes": self.notes,
        }


def _r(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 2)


MIN_MATCH_S = 0.5
"""Shorter audio has no long-term spectrum worth matching (seconds)."""
SILENT_DBFS = -90.0


def check_matchable(samples: np.ndarray, rate: int, what: str) -> None:
    """Raise ValueError, saying why, when ``samples`` cannot stand for a tonal balance:
    too short, silent, or holding NaN/Inf."""
    x = np.asarray(samples, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or infinite samples")
    if x.shape[0] < MIN_MATCH_S * rate:
        raise ValueError(f"{what} is {x.shape[0] / rate * 1000:.0f} ms long; matching needs at "
                         f"least {MIN_MATCH_S:.1f} s")
    rms = float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    if rms <= 10 ** (SILENT_DBFS / 20):
        raise ValueError(f"{what} is silent (RMS under {SILENT_DBFS:.0f} dBFS)")


def match_eq(samples: np.ndarray, reference: np.ndarray, rate: int, *,
             ref_rate: int | None = None, amount: float = 1.0, smoothing_oct: float = 1.0 / 3.0,
             max_bands: int = 8, max_gain_db: float = 12.0, compare: bool = False
             ) -> MatchResult:
    """Bands that bring the source's tonal balance toward the reference's (see module notes)."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount {amount} outside 0..1")
    if smoothing_oct <= 0:
        raise ValueError("smoothing_oct must be > 0")
    ref_rate = ref_rate or rate
    check_matchable(samples, rate, "the source")
    check_matchable(reference, ref_rate, "the reference")
    src_spec = long_term_spectrum(samples, rate)
    ref_spec = long_term_spectrum(reference, ref_rate)
    grid = log_grid(min(rate, ref_rate))
    src_db = smooth_db(src_spec, grid, smoothing_oct)
    ref_db = smooth_db(ref_spec, grid, smoothing_oct)
    # "has content" is judged per fractional-octave band (density x bandwidth), as ears do
    tilt = 10.0 * np.log10(grid)
    src_band, ref_band = src_db + tilt, ref_db + tilt
    weights = ((src_band >= src_band.max() - 60.0)
               & (ref_band >= ref_band.max() - 60.0)).astype(float)
    notes: list[str] = []
    if weights.sum() < 3:
        notes.append("source and reference share almost no spectrum: nothing to match")
        weights[:] = 0.0
    diff = ref_db - src_db
    offset = float(np.average(diff, weights=weights)) if weights.any() else 0.0
    target = np.clip(diff - offset, -max_gain_db, max_gain_db) * amount * (weights > 0)
    if np.any(np.abs(diff - offset)[weights > 0] > max_gain_db):
        notes.append(f"differences beyond +-{max_gain_db:.0f} dB were limited")
    bands = fit_bands(grid, target, rate, weights=weights, max_bands=max_bands,
                      max_gain_db=max_gain_db)
    fitted = magnitude_db(bands, grid, rate)
    before = ltas_distance_db(samples, reference, rate, ref_rate=ref_rate)
    after = ltas_distance_db(render_chain(samples, rate, bands), reference, rate,
                             ref_rate=ref_rate) if bands else before
    comparison = compare_loudness_width(samples, reference, rate, ref_rate) if compare else None
    return MatchResult(bands, grid, target, fitted, src_db + offset, ref_db, before, after,
                       comparison, notes)


def drum_part(samples: np.ndarray, rate: int, *, margin: float = 2.0) -> np.ndarray:
    """The percussive part of a mix (librosa HPSS), per channel, same shape as the input."""
    import librosa

    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        return librosa.effects.percussive(data, margin=margin).astype(np.float64)
    return np.stack([librosa.effects.percussive(np.ascontiguousarray(data[:, c]), margin=margin)
                     for c in range(data.shape[1])], axis=1).astype(np.float64)


def integrated_loudness(samples: np.ndarray, rate: int) -> float | None:
    """BS.1770 integrated loudness, LUFS (None for silence or audio shorter than 400 ms)."""
    from bridge.analysis.loudness import integrated_lufs

    data = np.asarray(samples, dtype=np.float64)
    if data.shape[0] < int(0.4 * rate) + 1:
        return None
    value = float(integrated_lufs(data, rate))
    return value if math.isfinite(value) else None


def stereo_width(samples: np.ndarray) -> tuple[float | None, float | None]:
    """``(side/mid energy dB, correlation)``; ``(None, None)`` for mono."""
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim == 1 or data.shape[1] < 2:
        return None, None
    left, right = data[:, 0], data[:, 1]
    mid, side = (left + right) / 2, (left - right) / 2
    m, s = float(np.sum(mid**2)), float(np.sum(side**2))
    width = -math.inf if s == 0 else (math.inf if m == 0 else 10 * math.log10(s / m))
    denom = math.sqrt(float(np.sum(left**2)) * float(np.sum(right**2)))
    corr = float(np.sum(left * right)) / denom if denom > 0 else None
    return width, corr


def compare_loudness_width(samples: np.ndarray, reference: np.ndarray, rate: int,
                           ref_rate: int | None = None) -> Comparison:
    ref_rate = ref_rate or rate
    sw, sc = stereo_width(samples)
    rw, rc = stereo_width(reference)
    return Comparison(integrated_loudness(samples, rate), integrated_loudness(reference, ref_rate),
                      sw, rw, sc, rc)
