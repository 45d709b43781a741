"""Tone matching to a reference: long-term spectrum difference, smoothed, fitted to <= 8 bands.

The method (docs/mixing.md says the same in prose):

1. **LTAS** of source and reference: Hann-windowed power spectra (``n_fft`` 8192, 50 % overlap)
   of the mid signal, averaged over the frames that play (frames more than 45 dB under the
   loudest are silence and left out), in dB per frequency bin.
2. **Smoothing**: fractional-octave smoothing (``smoothing_oct``, default 1/3 octave, done in the
   power domain) so the match follows tonal balance, not the notes of one performance.
3. **Difference** on a 1/12-octave grid (30 Hz up to 16 kHz or 0.45 x the lower sample rate):
   reference minus source, level-aligned (the weighted mean is removed: loudness is compared
   separately, not put into the EQ), smoothed once more (``FIT_SMOOTHING_OCT``) so the bands
   follow the balance rather than the notes each recording plays, and scaled by ``amount``
   (0 = nothing, 1 = full match). Only frequencies where the source has content count
   (:data:`CONTENT_DB`: a 1/3-octave band more than 35 dB under the source's loudest band
   holds only noise or leakage) and where the reference is within 60 dB of its loudest band.
   **Too dissimilar**: when the two 1/3-octave band-level curves correlate under
   :data:`DISSIMILAR_CORRELATION` (different instruments, not different colour), the amount is
   scaled so the largest move is :data:`DISSIMILAR_TARGET_DB` and every band stays within it;
   when the shapes agree but one region needs more than :data:`DISSIMILAR_PEAK_DB`, that
   region is limited. Both are said in ``notes`` ("references too dissimilar: ...").
4. **Fit** to at most ``max_bands`` ReaEQ bands: shelves at the ends, then bells where the
   remaining error is largest, all refined together (scipy least squares on the dB error,
   a small price on each band's gain so propped-up pairs lose to plain moves). Rules the fit
   keeps: never more than 1 dB of boost where the source has no content (a one-sided wall in
   the least squares, checked afterwards); no two bands pushing opposite ways closer than
   2/3 octave (:data:`MIN_OPPOSING_OCT`; for two bells, half their mean bandwidth if that is
   more; a bell inside an opposite shelf's range counts as 0 octaves) - a too-close pair is
   first moved just far enough apart, else the smaller one goes; bells 0.48 octave wide at
   the narrowest; a bell stays only if it lowers the RMS error by 4 %; a cut centred on the
   empty spectrum below (above) all content becomes a high-pass (low-pass), any other band
   centred on empty spectrum goes.
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

from bridge.audio.biquad import EqBand, band_sos, magnitude_db, q_to_octaves, render_chain

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
                     ref_rate: int | None = None, floor_db: float = -50.0,
                     source_floor_db: float | None = None,
                     content_from: np.ndarray | None = None) -> float:
    """RMS difference (dB) of the 1/3-octave LTAS of two signals, level-aligned.

    Bands from 31.5 Hz to 16 kHz (or 0.45 x the lower rate) where both signals are within
    ``floor_db`` of their loudest band count; the mean difference (a level offset) is removed.
    ``source_floor_db`` (e.g. ``-CONTENT_DB``) narrows that to the bands where the first signal
    (or ``content_from``, e.g. the source before EQ, at ``rate``) has content: the only bands a
    match may boost.
    """
    ref_rate = ref_rate or rate
    top = min(16000.0, 0.45 * min(rate, ref_rate))
    centres = THIRD_OCTAVE_CENTRES_HZ[(THIRD_OCTAVE_CENTRES_HZ >= 31.0)
                                      & (THIRD_OCTAVE_CENTRES_HZ <= top)]
    a = band_levels_db(long_term_spectrum(samples, rate), centres)
    b = band_levels_db(long_term_spectrum(reference, ref_rate), centres)
    used = (a >= a.max() + floor_db) & (b >= b.max() + floor_db)
    if source_floor_db is not None:
        c = a if content_from is None else band_levels_db(
            long_term_spectrum(content_from, rate), centres)
        used &= c >= c.max() + source_floor_db
    if not used.any():
        return 0.0
    diff = (b - a)[used]
    return float(np.sqrt(np.mean((diff - diff.mean()) ** 2)))


# -------------------------------------------------------------------------------------- fitting

MIN_OPPOSING_OCT = 2.0 / 3.0
"""Bands pushing opposite ways must be at least this far apart (octaves): closer, they undo each
other and the EQ zig-zags over one performance's notes instead of following tonal balance."""
BELL_Q_RANGE = (0.3, 3.0)
"""Bells from about 4.4 to 0.48 octaves wide: tonal balance, not single harmonics."""
SHELF_Q_RANGE = (0.4, 1.2)
_GAINED = frozenset({"band", "low_shelf", "high_shelf"})
_NO_BOOST_SLACK_DB = 0.25
_NO_BOOST_LIMIT_DB = 1.0
_NO_BOOST_PENALTY = 10.0
_GAIN_PRICE = 0.001
"""Each band's gain costs gain**2 x this x the summed weights: of two fits about as close, the
one with smaller moves wins (no +12 dB bell propped up by a -7 dB one beside it)."""
_MIN_ERROR_DB = 0.5
"""No bell is added for a remaining error smaller than this."""
_MIN_IMPROVEMENT = 0.04
"""A bell stays only when it lowers the weighted RMS error by this fraction (and 0.05 dB)."""
_BELL_ROAM_OCT = 0.5
"""While refining, a bell stays within this many octaves of where it was placed."""


def smooth_curve(curve_db: np.ndarray, weights: np.ndarray, points: int) -> np.ndarray:
    """Weighted moving average over ``points`` grid points (odd); points without weight do not
    pull their neighbours, and keep their own value when no weighted neighbour is near."""
    curve = np.asarray(curve_db, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if points <= 1:
        return curve.copy()
    box = np.ones(points)
    num = np.convolve(curve * w, box, mode="same")
    den = np.convolve(w, box, mode="same")
    return np.where(den > 1e-9, num / np.maximum(den, 1e-9), curve)


def band_distance_oct(a: EqBand, b: EqBand) -> float:
    """How far apart two bands act, in octaves: between bell centres; for a shelf, from the
    nearest point of the whole range it lifts or lowers (a bell inside a shelf is at 0)."""
    def span(band: EqBand) -> tuple[float, float]:
        f = math.log2(band.freq_hz)
        if band.band_type == "low_shelf":
            return -math.inf, f
        if band.band_type == "high_shelf":
            return f, math.inf
        return f, f

    (a_lo, a_hi), (b_lo, b_hi) = span(a), span(b)
    return max(0.0, b_lo - a_hi, a_lo - b_hi)


def spacing_needed_oct(a: EqBand, b: EqBand, min_octaves: float = MIN_OPPOSING_OCT
                       ) -> float:
    """The distance two opposing bands need: ``min_octaves``, and for two bells at least half
    their mean bandwidth, so a wide bell does not hold a narrow opposite one in its skirt."""
    if a.band_type == b.band_type == "band":
        return max(min_octaves, 0.25 * (q_to_octaves(a.q) + q_to_octaves(b.q)))
    return min_octaves


def opposing_pairs(bands: list[EqBand], min_octaves: float = MIN_OPPOSING_OCT
                   ) -> list[tuple[int, int]]:
    """Index pairs of bands that push opposite ways closer than they should
    (:func:`band_distance_oct`, :func:`spacing_needed_oct`)."""
    out = []
    for i, a in enumerate(bands):
        for j in range(i + 1, len(bands)):
            b = bands[j]
            if a.band_type in _GAINED and b.band_type in _GAINED and a.gain_db * b.gain_db < 0 \
                    and band_distance_oct(a, b) < spacing_needed_oct(a, b, min_octaves) - 1e-9:
                out.append((i, j))
    return out


def fit_bands(freqs_hz: np.ndarray, curve_db: np.ndarray, rate: int, *,
              weights: np.ndarray | None = None, max_bands: int = 8,
              max_gain_db: float = 12.0, boost_allowed: np.ndarray | None = None,
              min_opposing_oct: float = MIN_OPPOSING_OCT) -> list[EqBand]:
    """At most ``max_bands`` shelves/bells whose summed response follows ``curve_db``.

    Rules an engineer would keep: no band beyond +-``max_gain_db``; where ``boost_allowed`` is
    False (the source has nothing there) the chain raises the level by at most 1 dB; no two
    bands pushing opposite ways closer than ``min_opposing_oct``; a band is only added when it
    lowers the weighted RMS error by 0.1 dB or more (fewer, wider bands).

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
    no_boost = np.zeros(freqs.shape, bool) if boost_allowed is None else \
        ~np.asarray(boost_allowed, dtype=bool)
    if no_boost.size and (no_boost[0] or no_boost[-1]):
        # empty ends stay empty past the grid: a shelf would lift what lies beyond it, too
        step = math.log2(freqs[1] / freqs[0]) if freqs.size > 1 else 1.0 / 12.0
        below = freqs[0] * 2.0 ** (-step * np.arange(12, 0, -1)) if no_boost[0] else \
            np.empty(0)
        top = 0.49 * rate
        above = freqs[-1] * 2.0 ** (step * np.arange(1, 25)) if no_boost[-1] else np.empty(0)
        above = above[above < top]
        freqs = np.concatenate([below, freqs, above])
        curve = np.concatenate([np.zeros(below.size), curve, np.zeros(above.size)])
        w = np.concatenate([np.zeros(below.size), w, np.zeros(above.size)])
        no_boost = np.concatenate([np.ones(below.size, bool), no_boost,
                                   np.ones(above.size, bool)])
    if max_bands <= 0 or float(np.max(np.abs(curve) * (w > 0), initial=0.0)) < 0.25:
        return []
    f_lo, f_hi = float(freqs[0]), float(freqs[-1])
    octave = np.log2(freqs)
    kinds: list[str] = []
    params: list[float] = []  # per band: log2(freq), gain, log2(q)
    homes: list[float] = []  # log2 of where each band was placed
    pinned: list[bool] = []  # frequency held (moved apart from an opposing neighbour)
    price_scale = math.sqrt(_GAIN_PRICE * float(w.sum()))
    has = np.flatnonzero(~no_boost)
    # log2 Hz of the lowest and highest frequency with content
    edge_lo = float(octave[has[0]]) if has.size else float(octave[0])
    edge_hi = float(octave[has[-1]]) if has.size else float(octave[-1])

    def bands_of(p: np.ndarray) -> list[EqBand]:
        return [EqBand(k, float(2.0 ** p[3 * i]), float(p[3 * i + 1]) if k in _GAINED else 0.0,
                       float(2.0 ** p[3 * i + 2])) for i, k in enumerate(kinds)]

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
        resp = response_db(p)
        # a one-sided wall: cutting empty spectrum is harmless, raising it raises only noise
        wall = np.maximum(resp[no_boost] - _NO_BOOST_SLACK_DB, 0.0) * _NO_BOOST_PENALTY
        price = np.asarray(p[1::3]) * price_scale
        return np.concatenate([(resp - curve) * np.sqrt(w), wall, price])

    def rms(p: np.ndarray) -> float:
        err = response_db(p) - curve if kinds else -curve
        return float(np.sqrt(np.sum(w * err**2) / max(float(w.sum()), 1e-12)))

    def bounds() -> tuple[list[float], list[float]]:
        lo, hi = [], []
        for k, home, pin in zip(kinds, homes, pinned, strict=True):
            if k in ("high_pass", "low_pass"):
                # only over empty spectrum, no resonant peak (Q <= Butterworth), no gain
                lo += [math.log2(f_lo) - 1.0 if k == "high_pass" else edge_hi, -1e-6,
                       math.log2(0.5)]
                hi += [edge_lo if k == "high_pass" else min(math.log2(0.45 * rate),
                                                            edge_hi + 1.0), 1e-6,
                       math.log2(0.7071)]
                continue
            roam = 0.002 if pin else _BELL_ROAM_OCT
            fmin, fmax = (f_lo, min(f_hi, 500.0)) if k == "low_shelf" else (
                (max(f_lo, 1500.0), f_hi) if k == "high_shelf" else
                (max(f_lo, 2.0 ** (home - roam)), min(f_hi, 2.0 ** (home + roam))))
            qmin, qmax = SHELF_Q_RANGE if k.endswith("shelf") else BELL_Q_RANGE
            lo += [math.log2(fmin), -max_gain_db, math.log2(qmin)]
            hi += [math.log2(fmax), max_gain_db, math.log2(qmax)]
        return lo, hi

    def refine() -> None:
        if not kinds:
            return
        lo, hi = bounds()
        start = np.clip(np.array(params), np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        fit = least_squares(residual, start, bounds=(lo, hi), max_nfev=40 * len(params),
                            x_scale="jac")
        params[:] = list(fit.x)

    def drop(i: int) -> None:
        del kinds[i]
        del homes[i]
        del pinned[i]
        del params[3 * i:3 * i + 3]

    def enforce() -> None:
        """Remove bands until the rules hold (least squares treats them as soft)."""
        for _ in range(2 * max_bands + 2):
            bands = bands_of(np.array(params))
            pairs = opposing_pairs(bands, min_opposing_oct)
            if pairs:
                i, j = pairs[0]
                small, big = (i, j) if abs(bands[i].gain_db) < abs(bands[j].gain_db) else (j, i)
                if kinds[small] == kinds[big] == "band" and not pinned[small]:
                    # first try the two bells just far enough apart, then hold them there
                    side = 1.0 if params[3 * small] >= params[3 * big] else -1.0
                    moved = params[3 * big] + side * (
                        spacing_needed_oct(bands[small], bands[big], min_opposing_oct) + 0.01)
                    if math.log2(f_lo) <= moved <= math.log2(f_hi):
                        params[3 * small] = homes[small] = moved
                        homes[big] = params[3 * big]
                        pinned[small] = pinned[big] = True
                        refine()
                        continue
                drop(small)
                refine()
                continue
            if kinds and no_boost.any():
                # a bell centred on empty spectrum acts on nothing: it only props up a
                # neighbour's skirt, which then should be smaller or wider instead
                idle = [k for k, b in enumerate(bands) if b.band_type == "band"
                        and no_boost[int(np.argmin(np.abs(octave - math.log2(b.freq_hz))))]]
                if idle:
                    k = idle[0]
                    f = math.log2(bands[k].freq_hz)
                    # a cut below (above) all content is what a high-pass (low-pass) does,
                    # in one plain knob: keep that, at most one of each
                    kind = "high_pass" if f < edge_lo else "low_pass" if f > edge_hi else ""
                    if bands[k].gain_db < 0 and kind and kind not in kinds:
                        kinds[k], homes[k], pinned[k] = kind, f, False
                        params[3 * k:3 * k + 3] = [min(max(f, math.log2(f_lo) - 1), edge_lo)
                                                   if kind == "high_pass" else max(f, edge_hi),
                                                   0.0, math.log2(0.7)]
                    else:
                        drop(k)
                    refine()
                    continue
                resp = response_db(np.array(params))
                if float(resp[no_boost].max()) > _NO_BOOST_LIMIT_DB:
                    # the band lifting the empty region most goes
                    lift = [float(magnitude_db([b], freqs[no_boost], rate).max())
                            for b in bands]
                    drop(int(np.argmax(lift)))
                    refine()
                    continue
            return

    # shelves first, at the ends, with the mean of the curve there (no shelf boost whose far
    # end is empty spectrum: it would raise only noise there)
    low = (freqs < 150.0) & (w > 0)
    high = (freqs > 6000.0) & (w > 0)
    if low.any():
        gain = float(np.average(curve[low], weights=w[low]))
        if gain**2 > 1.0 and not (gain > 0 and no_boost[0]):
            kinds.append("low_shelf")
            homes.append(math.log2(120.0))
            pinned.append(False)
            params += [math.log2(120.0), gain, math.log2(0.707)]
    if high.any() and len(kinds) < max_bands:
        gain = float(np.average(curve[high], weights=w[high]))
        if gain**2 > 1.0 and not (gain > 0 and no_boost[-1]):
            kinds.append("high_shelf")
            homes.append(math.log2(8000.0))
            pinned.append(False)
            params += [math.log2(8000.0), gain, math.log2(0.707)]
    refine()
    enforce()
    blocked = np.zeros(freqs.shape, bool)  # places where a bell was tried and did not help
    for _ in range(2 * max_bands + 2):
        if len(kinds) >= max_bands:
            break
        current = np.array(params)
        err = curve - response_db(current) if kinds else curve.copy()
        smooth_err = smooth_curve(err, w, 5) * (w > 0)
        bands = bands_of(current)
        allowed = ~blocked & ~((smooth_err > 0) & no_boost)
        for band in bands:  # a bell may not push against a neighbour that pushes the other way
            near = np.array([band_distance_oct(band, EqBand("band", float(f))) for f in freqs]
                            ) < min_opposing_oct
            allowed &= ~(near & (np.sign(smooth_err) * np.sign(band.gain_db) < 0))
        candidates = np.where(allowed, np.abs(smooth_err), 0.0)
        i = int(np.argmax(candidates))
        if candidates[i] < _MIN_ERROR_DB:
            break
        before, saved = rms(current), (list(kinds), list(params), list(homes), list(pinned))
        kinds.append("band")
        homes.append(float(octave[i]))
        pinned.append(False)
        params += [math.log2(float(freqs[i])),
                   float(np.clip(smooth_err[i], -max_gain_db, max_gain_db)), math.log2(1.0)]
        refine()
        enforce()
        if rms(np.array(params)) > before - max(0.05, _MIN_IMPROVEMENT * before):
            kinds[:], params[:], homes[:], pinned[:] = saved
            blocked |= np.abs(octave - octave[i]) < 1.0 / 3.0
    bands = bands_of(np.array(params))
    # bands that do almost nothing are not worth a knob
    kept = [b for b in bands if abs(b.gain_db) >= 0.2 or b.band_type not in _GAINED]
    return sorted(kept, key=lambda b: b.freq_hz)


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
    content: np.ndarray | None = None
    """True on ``freq_hz`` where the source has content (the only places a band may boost)."""
    correlation: float | None = None
    """Correlation of the two 1/3-octave band-level curves where both have content."""
    amount_used: float | None = None
    """The amount after scaling down for too dissimilar references."""
    content_distance_before_db: float | None = None
    """:attr:`distance_before_db` over the bands where the source has content only."""
    content_distance_after_db: float | None = None

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
            "content_ltas_distance_before_db": _r(self.content_distance_before_db),
            "content_ltas_distance_after_db": _r(self.content_distance_after_db),
            "ltas_correlation": _r(self.correlation),
            "amount_used": _r(self.amount_used),
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


CONTENT_DB = 35.0
"""A 1/3-octave band of the source more than this under its loudest band holds no content
(noise, leakage, a roll-off): the match never boosts there."""
FIT_SMOOTHING_OCT = 0.25
"""The difference is smoothed this much more before fitting, so the bands follow the balance
and not the harmonics of the notes each recording happens to play."""
DISSIMILAR_PEAK_DB = 12.0
"""Above this (smoothed, level-aligned) difference somewhere, the references are too
dissimilar there: that region is limited to this."""
DISSIMILAR_CORRELATION = 0.5
"""Below this correlation of the two 1/3-octave band-level curves the references are too
dissimilar for a full match: the amount is scaled down."""
DISSIMILAR_TARGET_DB = 6.0
"""When too dissimilar, the amount is scaled so the largest move asked for is this."""


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
    content = _content(src_spec, grid, src_band)
    weights = (content & (ref_band >= ref_band.max() - 60.0)).astype(float)
    notes: list[str] = []
    if weights.sum() < 3:
        notes.append("source and reference share almost no spectrum: nothing to match")
        weights[:] = 0.0
    empty = _empty_ranges(grid, content)
    if empty:
        notes.append(f"no boost {empty}: the source has nothing there (more than "
                     f"{CONTENT_DB:.0f} dB under its loudest 1/3-octave band)")
    diff = ref_db - src_db
    offset = float(np.average(diff, weights=weights)) if weights.any() else 0.0
    per_octave = 1.0 / math.log2(grid[1] / grid[0]) if grid.size > 1 else 12.0
    points = max(1, int(round(FIT_SMOOTHING_OCT * per_octave))) | 1  # odd, centred
    smoothed = smooth_curve(diff - offset, weights, points)
    used = weights > 0
    peak_db, peak_hz, correlation = 0.0, float(grid[0]), 1.0
    if used.sum() >= 3:
        k = int(np.argmax(np.where(used, np.abs(smoothed), -1.0)))
        peak_db, peak_hz = float(smoothed[k]), float(grid[k])
        if np.std(src_band[used]) > 0 and np.std(ref_band[used]) > 0:
            correlation = float(np.corrcoef(src_band[used], ref_band[used])[0, 1])
    scale = 1.0
    need = f"a full match needs {peak_db:+.0f} dB at {_hz(peak_hz)}"
    if correlation < DISSIMILAR_CORRELATION:
        # different material: the difference is mostly the notes and instruments, not colour
        scale = min(1.0, DISSIMILAR_TARGET_DB / max(abs(peak_db), 1e-9))
        notes.append(f"references too dissimilar: their 1/3-octave shapes correlate "
                     f"{correlation:.2f}" + (f" and {need}" if abs(peak_db) > 3 else "")
                     + (f"; amount scaled {amount:.2f} -> {amount * scale:.2f} (largest move "
                        f"{DISSIMILAR_TARGET_DB:.0f} dB)" if scale < 1.0 else
                        "; take the bands as a rough guide"))
    elif abs(peak_db) > min(DISSIMILAR_PEAK_DB, max_gain_db):
        # similar shapes, one region far off: match the rest, do not chase that region
        notes.append(f"references too dissimilar: {need}; that region is limited to "
                     f"+-{min(DISSIMILAR_PEAK_DB, max_gain_db):.0f} dB")
    target = np.clip(smoothed * scale, -max_gain_db, max_gain_db) * amount * used
    # a scaled-down match keeps its promise band by band, too
    band_limit_db = min(max_gain_db, DISSIMILAR_TARGET_DB) if scale < 1.0 else max_gain_db
    bands = fit_bands(grid, target, rate, weights=weights, max_bands=max_bands,
                      max_gain_db=band_limit_db, boost_allowed=content)
    fitted = magnitude_db(bands, grid, rate)
    rendered = render_chain(samples, rate, bands) if bands else samples
    before, after, content_before, content_after = (
        ltas_distance_db(x, reference, rate, ref_rate=ref_rate, source_floor_db=floor,
                         content_from=samples)
        for floor in (None, -CONTENT_DB) for x in (samples, rendered))
    comparison = compare_loudness_width(samples, reference, rate, ref_rate) if compare else None
    return MatchResult(bands, grid, target, fitted, src_db + offset, ref_db, before, after,
                       comparison, notes, content=content, correlation=correlation,
                       amount_used=amount * scale, content_distance_before_db=content_before,
                       content_distance_after_db=content_after)


def _content(src_spec: Spectrum, grid: np.ndarray, band_db: np.ndarray) -> np.ndarray:
    """Where the source has content: its fractional-octave band level (``band_db``) within
    :data:`CONTENT_DB` of the loudest band, and between the lowest and highest frequency where
    a 1/12-octave analysis still finds it. The finer look places the ends: a 1/3-octave
    window reaches 1/6 octave past a hard roll-off and would call that leakage content."""
    content = band_db >= band_db.max() - CONTENT_DB
    fine = smooth_db(src_spec, grid, 1.0 / 12.0) + 10.0 * np.log10(grid)
    has = np.flatnonzero(fine >= fine.max() - CONTENT_DB)
    if has.size:
        idx = np.arange(grid.size)
        content &= (idx >= has[0]) & (idx <= has[-1])
    return content


def _empty_ranges(grid: np.ndarray, content: np.ndarray) -> str:
    """'under 80 Hz and above 7.6 kHz' for the empty ends of the source's spectrum."""
    if content.all() or not content.any():
        return ""
    first, last = int(np.argmax(content)), int(len(content) - 1 - np.argmax(content[::-1]))
    parts = []
    if first > 0:
        parts.append(f"under {_hz(grid[first])}")
    if last < len(content) - 1:
        parts.append(f"above {_hz(grid[last])}")
    if not content[first:last + 1].all():
        parts.append("in its gaps")
    return " and ".join(parts)


def _hz(f: float) -> str:
    return f"{f / 1000:.1f} kHz" if f >= 1000 else f"{f:.0f} Hz"


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
