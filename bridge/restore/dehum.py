"""Mains hum and buzz removal: find the fundamental (50 or 60 Hz, or one you name), follow
its drift, and subtract a model of the hum instead of notching the music.

How it works: a long-term spectrum (1 s Welch frames, 0.25 Hz steps) scores every candidate
fundamental by how far its harmonics stand above their neighbourhood; harmonics that stand
out are kept. The signal is then cut into 0.4 s blocks (50 % overlap); in each block every
kept harmonic's complex amplitude is measured against a phase track, the block-to-block phase
advance gives the drift of the fundamental, the phase track is corrected, the amplitudes
measured again, and the sum of the harmonics is subtracted with a cross-fade between blocks.
What is removed is only a few hertz wide around each harmonic, so the music under it stays.

    >>> import numpy as np
    >>> from bridge.restore.corrupt import add_hum, si_sdr_db
    >>> rate = 16000
    >>> rng = np.random.default_rng(0)
    >>> clean = rng.standard_normal(rate * 3) * 0.1
    >>> hummed = add_hum(clean, rate, freq_hz=60.0, hum_db=0.0)
    >>> cleaned, report = dehum(hummed, rate)
    >>> gain_db = si_sdr_db(clean, cleaned) - si_sdr_db(clean, hummed)
    >>> report.figures["fundamental_hz"] // 1, gain_db > 8
    (60.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import spectrogram

from bridge.restore.report import RestoreReport, as_2d, change_figures, restore_shape

MAINS_SEARCH_HZ = ((48.5, 51.5), (58.5, 61.5))
"""Where the fundamental is looked for by default: 50 and 60 Hz mains, +-1.5 Hz."""
BLOCK_S = 0.4
PROMINENCE_DB = 8.0
"""A harmonic is hum when it stands this far above the median of its neighbourhood."""


@dataclass
class HumProfile:
    """The detected hum: fundamental and the harmonic numbers that stand out."""

    fundamental_hz: float | None
    harmonics: list[int] = field(default_factory=list)
    prominence_db: list[float] = field(default_factory=list)
    level_dbfs: float = -math.inf

    @property
    def found(self) -> bool:
        return self.fundamental_hz is not None and bool(self.harmonics)


def _spectrogram(mono: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra of 1 s Hann frames (50 % overlap), zero-padded to 0.25 Hz bins."""
    seg = min(len(mono), rate)
    freqs, _, spec = spectrogram(
        mono, rate, window="hann", nperseg=seg, noverlap=seg // 2, nfft=4 * rate, mode="psd"
    )
    return freqs, spec.T


def _prominence_db(power: np.ndarray, step_hz: float, f: float, f0: float) -> np.ndarray:
    """How far the energy near ``f`` stands above its neighbourhood, dB; ``power`` is
    (frames, bins) and the answer has one value per frame. The peak window widens with the
    harmonic number so that a drifting fundamental still lands in it."""
    centre = int(round(f / step_hz))
    half_peak = max(int(round((0.6 + 0.004 * f) / step_hz)), 2)
    if centre + half_peak + 1 >= power.shape[1]:
        return np.full(power.shape[0], -np.inf)
    peak = power[:, centre - half_peak : centre + half_peak + 1].sum(axis=1)
    half = max(int(f0 / 2 / step_hz), 8)
    guard = half_peak + max(int(1.0 / step_hz), 2)
    around = np.concatenate(
        [
            power[:, max(centre - half, 0) : max(centre - guard, 0)],
            power[:, centre + guard : centre + half],
        ],
        axis=1,
    )
    if around.shape[1] == 0:
        return np.full(power.shape[0], -np.inf)
    floor = np.median(around, axis=1) * (2 * half_peak + 1)
    return 10 * np.log10(np.maximum(peak, 1e-30) / np.maximum(floor, 1e-30))


def detect_hum(
    x: np.ndarray,
    rate: int,
    *,
    freq_hz: float | None = None,
    search_hz: tuple[tuple[float, float], ...] = MAINS_SEARCH_HZ,
    max_harmonics: int = 40,
    max_freq_hz: float = 6000.0,
) -> HumProfile:
    """Find the hum fundamental (searched in ``search_hz``, or near ``freq_hz`` +-2 %) and the
    harmonics that stand out by :data:`PROMINENCE_DB` in the long-term spectrum and in most
    1 s frames (hum is there all the time; a note in the music comes and goes)."""
    audio, _ = as_2d(x)
    mono = audio.mean(axis=1)
    if len(mono) < rate // 2:
        return HumProfile(None)
    freqs, frames = _spectrogram(mono, rate)
    step = float(freqs[1] - freqs[0])
    mean = frames.mean(axis=0, keepdims=True)
    if freq_hz is not None:
        search_hz = ((freq_hz * 0.98, freq_hz * 1.02),)
    best: tuple[float, float] | None = None
    for lo, hi in search_hz:
        for f in np.arange(lo, hi + 1e-9, 0.05):
            # Score the first few harmonics: a fundamental with a couple of strong partials at
            # the right spacing beats a lone peak.
            proms = [float(_prominence_db(mean, step, k * f, f)[0]) for k in range(1, 6)]
            score = sum(max(p, 0.0) for p in proms)
            if best is None or score > best[1]:
                best = (float(f), score)
    if best is None:
        return HumProfile(None)
    f0 = best[0]
    harmonics, proms = [], []
    top = min(max_harmonics, int(min(max_freq_hz, rate / 2 - 2 * f0) // f0))
    many = frames.shape[0] >= 3
    for k in range(1, top + 1):
        p = float(_prominence_db(mean, step, k * f0, f0)[0])
        if p < PROMINENCE_DB:
            continue
        if many:
            steady = np.mean(_prominence_db(frames, step, k * f0, f0) >= PROMINENCE_DB / 2)
            if steady < 0.75:
                continue
        harmonics.append(k)
        proms.append(round(p, 1))
    # A fundamental pinned to the edge of the search range is a note near it, not mains.
    edge = any(abs(f0 - lo) < 0.11 or abs(f0 - hi) < 0.11 for lo, hi in search_hz)
    # A few partials at the right spacing, or a fundamental standing far out on its own
    # (a pure ground-loop hum); one or two chance partials are the music.
    strong_fundamental = (
        bool(harmonics) and harmonics[0] == 1 and proms[0] >= 2.5 * PROMINENCE_DB
    )
    if edge or not (len(harmonics) >= 3 or strong_fundamental):
        return HumProfile(None)
    level = 10 * math.log10(
        max(sum(float(mean[0, int(round(k * f0 / step))]) * step * 2 for k in harmonics), 1e-30)
    )
    return HumProfile(f0, harmonics, proms, level)


TABLE = 4096
"""Points per hum period in the phase tables (projection and resynthesis)."""
SMOOTH_BLOCKS = 15
"""Hum amplitudes are averaged over this many blocks (about 3 s): hum is steady, the music
under it is not, so averaging keeps the hum and rejects the music that leaked in."""
LEAK_MARGIN = 1.0

"""How many times the expected random leakage a harmonic must exceed to be trusted."""


def _project(x: np.ndarray, phase: np.ndarray, weight: np.ndarray, top: int) -> np.ndarray:
    """Complex amplitudes of harmonics 1..top of ``x`` against ``phase``: sum of
    weight * x * exp(-j k phase), computed by folding the block onto one period (linear
    interpolation into TABLE phase bins) and taking one FFT."""
    pos = (phase / (2 * np.pi) % 1.0) * TABLE
    lo = pos.astype(np.int64)
    frac = pos - lo
    wx = weight * x
    folded = np.bincount(lo % TABLE, wx * (1 - frac), TABLE)
    folded += np.bincount((lo + 1) % TABLE, wx * frac, TABLE)
    spectrum = np.fft.rfft(folded)[1 : top + 1]
    # Undo the triangle kernel of the linear interpolation.
    k = np.arange(1, top + 1)
    return spectrum / np.sinc(k / TABLE) ** 2


def _resynth(amps: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """sum_k Re(amps[k-1] exp(j k phase)) through one period table."""
    full = np.zeros(TABLE // 2 + 1, dtype=np.complex128)
    full[1 : len(amps) + 1] = amps
    table = np.fft.irfft(full, TABLE) * TABLE / 2
    table = np.append(table, table[0])
    return np.interp((phase / (2 * np.pi) % 1.0) * TABLE, np.arange(TABLE + 1), table)


def _blocks(n: int, block: int) -> tuple[list[int], np.ndarray]:
    hop = block // 2
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(block) / block)
    return list(range(-hop, n, hop)), hann


def _span(start: int, block: int, n: int) -> tuple[int, int, slice]:
    a, b = max(start, 0), min(start + block, n)
    return a, b, slice(a - start, b - start)


def _amplitudes(x: np.ndarray, phase: np.ndarray, block: int, top: int) -> np.ndarray:
    starts, hann = _blocks(len(x), block)
    amps = np.zeros((len(starts), top), dtype=np.complex128)
    norm = hann.sum() / 2.0
    for i, start in enumerate(starts):
        a, b, part = _span(start, block, len(x))
        amps[i] = _project(x[a:b], phase[a:b], hann[part], top) / norm
    return amps


def _phase_track(n: int, rate: int, f0: float, deviation_hz: np.ndarray, block: int) -> np.ndarray:
    hop = block // 2
    centres = np.arange(len(deviation_hz)) * hop - hop + block // 2
    inst = f0 + np.interp(np.arange(n), centres, deviation_hz)
    return 2 * np.pi * np.cumsum(inst) / rate


def _effective_blocks(width: int) -> float:
    """Independent blocks in a Hann average of ``width`` half-overlapping blocks."""
    kernel = np.hanning(width + 2)[1:-1]
    return float(kernel.sum() ** 2 / np.sum(kernel**2)) / 1.5


def _coherence(amps: np.ndarray, width: int) -> np.ndarray:
    """|mean a|^2 / mean |a|^2 over ``width`` blocks: near 1 for hum, near 1/width for noise."""
    smooth = _smooth_blocks(amps, width)
    energy = _smooth_blocks(np.abs(amps) ** 2, width)
    return np.abs(smooth) ** 2 / np.maximum(energy, 1e-30)


def _block_power(x: np.ndarray, block: int) -> np.ndarray:
    starts, hann = _blocks(len(x), block)
    out = np.empty(len(starts))
    for i, start in enumerate(starts):
        a, b, part = _span(start, block, len(x))
        out[i] = np.dot(x[a:b] ** 2, hann[part]) / hann.sum()
    return out


def _convolve_blocks(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Unnormalised convolution along blocks (axis 0), edges held."""
    pad = len(kernel) // 2
    padded = np.pad(values, ((pad, pad), (0, 0)), mode="edge")
    out = np.empty(values.shape, dtype=np.result_type(values, kernel))
    for j in range(values.shape[1]):
        out[:, j] = np.convolve(padded[:, j], kernel, mode="valid")
    return out


def _smooth_blocks(values: np.ndarray, width: int) -> np.ndarray:
    if values.shape[0] < 2 or width < 2:
        return values
    kernel = np.hanning(width + 2)[1:-1]
    pad = width // 2
    padded = np.pad(values, ((pad, pad), (0, 0)), mode="edge")
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        out[:, j] = np.convolve(padded[:, j], kernel / kernel.sum(), mode="valid")
    return out


def dehum(
    x: np.ndarray,
    rate: int,
    *,
    freq_hz: float | None = None,
    profile: HumProfile | None = None,
) -> tuple[np.ndarray, RestoreReport]:
    """Remove hum and its harmonics.

    Args:
        x: audio, (frames,) or (frames, channels).
        rate: sample rate, Hz.
        freq_hz: the hum fundamental if known (searched +-2 % around it); default: 50/60 Hz.
        profile: a :class:`HumProfile` from :func:`detect_hum` (a file driver detects once).

    Returns:
        The audio with the hum subtracted (unchanged when no hum is found) and a report.
    """
    audio, mono = as_2d(x)
    if profile is None:
        profile = detect_hum(audio, rate, freq_hz=freq_hz)
    if not profile.found or audio.shape[0] < rate // 4:
        report = RestoreReport("dehum", False, "no hum found")
        return restore_shape(audio.copy(), mono), report
    f0 = float(profile.fundamental_hz)  # type: ignore[arg-type]
    top = max(int((min(rate / 2, 12000.0) - f0) // f0), 1)
    block = int(BLOCK_S * rate) // 2 * 2
    hop = block // 2
    out = audio.copy()
    drifts, kept_counts = [], []
    for c in range(audio.shape[1]):
        sig = audio[:, c]
        n = len(sig)
        phase = 2 * np.pi * f0 * np.arange(n) / rate
        strong = np.asarray(profile.harmonics) - 1
        amps = _smooth_blocks(_amplitudes(sig, phase, block, top), 3)[:, strong]
        # Drift: the phase advance of the strong harmonics from block to block says how far
        # the fundamental is from f0 there; harmonics that hold their phase have the say.
        k = strong + 1
        pair = amps[1:] * amps[:-1].conj()
        steady = _coherence(amps, 7)
        weight = np.abs(pair) * np.minimum(steady[1:], steady[:-1])
        advance = np.angle(pair) / (2 * np.pi * k * hop / rate)
        weight = weight * (np.abs(advance) < f0 * 0.02)
        dev = np.sum(advance * weight, axis=1) / np.maximum(weight.sum(axis=1), 1e-30)
        if len(dev):
            dev = np.concatenate([[dev[0]], (dev[1:] + dev[:-1]) / 2, [dev[-1]]])
            dev = _smooth_blocks(dev[:, None], 9)[:, 0]
            phase = _phase_track(n, rate, f0, dev, block)
            drifts.append(float(np.max(np.abs(dev))))
        amps = _amplitudes(sig, phase, block, top)
        # Quiet blocks tell the hum best: weight each block by the inverse of its power
        # around the harmonic (a minimum-variance average) under a Hann window of blocks.
        # (The block's broadband power, not the harmonic's own, which would favour blocks
        # where the music happens to cancel the hum.)
        power = _block_power(sig, block)[:, None]
        floor = 1e-3 * np.median(power) + 1e-30
        inverse = np.broadcast_to(1.0 / np.maximum(power, floor), amps.shape)
        kernel = np.hanning(SMOOTH_BLOCKS + 2)[1:-1]
        total = _convolve_blocks(inverse, kernel)
        smooth = _convolve_blocks(amps * inverse, kernel) / total
        # Shrink each harmonic by how sure we are that it is hum: the variance of the
        # weighted mean (from the scatter of the blocks around it) against its power.
        scatter = np.abs(amps - smooth) ** 2
        variance = 1.5 * _convolve_blocks(scatter * inverse**2, kernel**2) / total**2
        coherent = np.abs(smooth) ** 2
        weight = np.clip(1 - LEAK_MARGIN * variance / np.maximum(coherent, 1e-30), 0, 1)
        smooth = smooth * weight
        kept_counts.append(int(np.sum(weight.mean(axis=0) > 0.5)))
        starts, hann = _blocks(n, block)
        hum = np.zeros(n)
        for i, start in enumerate(starts):
            a, b, part = _span(start, block, n)
            hum[a:b] += _resynth(smooth[i], phase[a:b]) * hann[part]
        out[:, c] = sig - hum
    changed_db, fraction = change_figures(audio, out)
    report = RestoreReport(
        process="dehum",
        applied=True,
        found=f"{f0:.2f} Hz hum, {max(kept_counts)} harmonics",
        changed_db=changed_db,
        changed_fraction=fraction,
        figures={
            "fundamental_hz": round(f0, 3),
            "strong_harmonics": profile.harmonics,
            "prominence_db": profile.prominence_db,
            "harmonics_removed": max(kept_counts),
            "hum_level_dbfs": round(profile.level_dbfs, 2),
            "drift_hz": round(max(drifts, default=0.0), 3),
        },
    )
    return restore_shape(out, mono), report
