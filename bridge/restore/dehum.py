"""Mains hum and buzz removal: find the fundamental (50 or 60 Hz, or one you name), follow
its drift, and subtract a model of the hum instead of notching the music.

How it works: a long-term spectrum (1 s Welch frames, 0.25 Hz steps, below 6 kHz) scores
every candidate fundamental by how far its harmonics stand above their neighbourhood; the
fundamental or its second harmonic must also stand out in the median spectrum over the
frames (hum never stops; a chord does). A phase track of the fundamental is then followed on
the channel mix at a low rate: in 0.4 s blocks (50 % overlap) every harmonic's complex
amplitude is measured against the track; the block-to-block phase advance gives the drift,
then each block's phase error against the long-term average of the harmonics is folded back
into the track, a few times over. With that track, each channel's harmonics are measured
again at the full rate and the harmonics whose phase holds over the take are kept. Their hum
is modelled as one slowly varying gain shared by all of them (followed over about 3 s, so a
hum that gets louder or quieter is followed) times a per-harmonic amplitude averaged over
about 12 s (hum holds still, the music under it does not), fitted by robust least squares: a
block where music sits on a harmonic misses the model there and gets little say in it. The
model is subtracted with a cross-fade between blocks. What is removed is a fraction of a
hertz wide around each harmonic, so the music under it stays.

Hum too low to stand out of the long-term spectrum (30-35 dB under a voice) is plainly heard
in the pauses: when the long-term tests fail, the same kind of tests run on the quiet
spectrum (the 25th percentile of each bin over the frames, where speech and most music
drop and hum does not), for a fundamental within half a hertz of 50/60 Hz that shows its
second or third harmonic too and is loud enough to be heard. A take under 2.5 s (one or two
frames) is looked at again in eight overlapping frames. Harmonics where a held note sits
(its partial far above the hum's harmonics around it) are left out of the model and of
the phase track, so the note is not subtracted with the hum.

Hum that is there for only part of a take (an amp switched on after a while, a dimmer for a
few seconds) fails the whole-take tests; a take of about 7.5 s or more is then searched in
4 s windows (2 s apart) with the same tests, the windows that agree on a fundamental near
the mains frequency are pooled and tested again, and the hum's regions are the 1 s frames
where its harmonics stand out. It is modelled and removed in each region on its own, fading
in and out over half a second; the rest of the take passes unchanged
(:attr:`HumProfile.regions_s`, and ``hum_regions_s`` in the report).

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

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import fft as sp_fft
from scipy.fft import next_fast_len
from scipy.signal import resample_poly, spectrogram

from bridge.restore.ar import runs
from bridge.restore.blas import single_threaded
from bridge.restore.report import RestoreReport, as_2d, change_figures, channel_mix, restore_shape

MAINS_SEARCH_HZ = ((48.5, 51.5), (58.5, 61.5))
"""Where the fundamental is looked for by default: 50 and 60 Hz mains, +-1.5 Hz."""
BLOCK_S = 0.4
PROMINENCE_DB = 8.0
"""A harmonic is hum when it stands this far above the median of its neighbourhood."""
STEADY_FUNDAMENTAL = 0.9
"""Share of 1 s frames in which a fundamental of only 1.5 x PROMINENCE_DB must stand out
(at least three frames) to count as hum on its own."""


INAUDIBLE_UNDER_DB = 70.0
"""Hum this far under the take's RMS level is not reported: it sits under the dither of a
16-bit file at any usual level, and at that depth a naive synth's aliased partials or a
window's leakage line up on a 50 Hz comb by chance (-100 dBFS "hum" under a -14 dBFS note)."""


@dataclass
class HumProfile:
    """The detected hum: fundamental and the harmonic numbers that stand out."""

    fundamental_hz: float | None
    harmonics: list[int] = field(default_factory=list)
    prominence_db: list[float] = field(default_factory=list)
    level_dbfs: float = -math.inf
    regions_s: list[tuple[float, float]] = field(default_factory=list)
    """Where the hum is (start, end in seconds from the start of the audio it was found in);
    empty when it runs through the whole take."""
    duration_s: float | None = None
    """Length of the audio the profile was found in (its regions apply only to that audio)."""

    @property
    def found(self) -> bool:
        return self.fundamental_hz is not None and bool(self.harmonics)


def _spectrogram(mono: np.ndarray, rate: float,
                 hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra of 1 s Hann frames (50 % overlap, or ``hop`` samples apart),
    zero-padded to 0.25 Hz bins."""
    seg = min(len(mono), int(round(rate)))
    nfft = int(round(4 * rate))
    overlap = seg // 2 if hop is None else seg - min(max(hop, 1), seg)
    freqs, _, spec = spectrogram(
        mono, rate, window="hann", nperseg=seg, noverlap=overlap, nfft=nfft, mode="psd"
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


def _prominence_many(
    power: np.ndarray, step_hz: float, f: np.ndarray, f0: np.ndarray
) -> np.ndarray:
    """:func:`_prominence_db` of a 1-D ``power`` for many (``f``, ``f0``) pairs at once."""
    nbins = len(power)
    centre = np.round(f / step_hz).astype(np.int64)
    half_peak = np.maximum(np.round((0.6 + 0.004 * f) / step_hz).astype(np.int64), 2)
    half = np.maximum((f0 / 2 / step_hz).astype(np.int64), 8)
    guard = half_peak + max(int(1.0 / step_hz), 2)
    cum = np.concatenate([[0.0], np.cumsum(power)])
    inside = centre + half_peak + 1 < nbins
    lo = np.clip(centre - half_peak, 0, nbins)
    hi = np.clip(centre + half_peak + 1, 0, nbins)
    peak = cum[hi] - cum[lo]
    j = np.arange(-int(half.max()), int(half.max()))[None, :]
    pos = centre[:, None] + j
    valid = (((j >= -half[:, None]) & (j <= -guard[:, None] - 1))
             | ((j >= guard[:, None]) & (j <= half[:, None] - 1)))
    valid &= (pos >= 0) & (pos < nbins)
    # Median of the valid neighbours of each row: invalid ones are sorted to the end
    # (several times faster than nanmedian, same answer).
    values = np.where(valid, power[np.clip(pos, 0, nbins - 1)], np.inf)
    values.sort(axis=1)
    count = valid.sum(axis=1)
    has = count > 0
    rows = np.arange(len(f))
    lower = values[rows, np.maximum(count - 1, 0) // 2]
    upper = values[rows, np.maximum(count, 1) // 2 - (count == 0)]
    floor = np.where(has, (lower + upper) / 2, np.nan)
    floor = floor * (2 * half_peak + 1)
    out = 10 * np.log10(np.maximum(peak, 1e-30) / np.maximum(np.nan_to_num(floor), 1e-30))
    return np.where(inside & has, out, -np.inf)


def _prominence_frames(
    frames: np.ndarray, step_hz: float, f: np.ndarray, f0: float
) -> np.ndarray:
    """:func:`_prominence_db` of every frame of ``frames`` (frames, bins) at every frequency
    in ``f`` at once: ``(frames, len(f))``.

    >>> power = np.ones((2, 4000)); power[:, 400] = 1000.0
    >>> np.round(_prominence_frames(power, 0.25, np.array([100.0, 150.0]), 50.0), 1).tolist()
    [[20.5, 0.0], [20.5, 0.0]]
    """
    nbins = frames.shape[1]
    f = np.asarray(f, dtype=np.float64)
    centre = np.round(f / step_hz).astype(np.int64)
    half_peak = np.maximum(np.round((0.6 + 0.004 * f) / step_hz).astype(np.int64), 2)
    half = max(int(f0 / 2 / step_hz), 8)
    guard = half_peak + max(int(1.0 / step_hz), 2)
    inside = centre + half_peak + 1 < nbins
    span = np.arange(-int(half_peak.max()), int(half_peak.max()) + 1)[None, :]
    at = centre[:, None] + span
    in_peak = (np.abs(span) <= half_peak[:, None]) & (at >= 0) & (at < nbins)
    peak = np.sum(frames[:, np.clip(at, 0, nbins - 1)] * in_peak, axis=2)
    j = np.arange(-half, half)[None, :]
    pos = centre[:, None] + j
    valid = ((j <= -guard[:, None] - 1) | (j >= guard[:, None])) & (pos >= 0) & (pos < nbins)
    count = valid.sum(axis=1)
    median = np.ones((frames.shape[0], len(f)))
    # Columns with as many neighbours take one partition-based median together.
    for size in np.unique(count[count > 0]):
        cols = np.flatnonzero(count == size)
        where = pos[cols][valid[cols]].reshape(len(cols), size)
        median[:, cols] = np.median(frames[:, where], axis=2)
    floor = median * (2 * half_peak + 1)
    out = 10 * np.log10(np.maximum(peak, 1e-30) / np.maximum(floor, 1e-30))
    return np.where(inside & (count > 0), out, -np.inf)


@single_threaded
def detect_hum(
    x: np.ndarray,
    rate: int,
    *,
    freq_hz: float | None = None,
    search_hz: tuple[tuple[float, float], ...] = MAINS_SEARCH_HZ,
    max_harmonics: int = 40,
    max_freq_hz: float = 3000.0,
) -> HumProfile:
    """Find the hum fundamental (searched in ``search_hz``, or near ``freq_hz`` +-2 %) and the
    harmonics that stand out by :data:`PROMINENCE_DB` in the long-term spectrum and in most
    1 s frames (hum is there all the time; a note in the music comes and goes).

    A candidate fundamental must also show its first or second harmonic in the median
    spectrum over the frames (a chord that is loud for part of the take cannot pose as
    hum), and partials that are all multiples of 3 f0 or more are taken for a note. The
    profile is empty (``found`` is False) when nothing passes."""
    audio, _ = as_2d(x)
    return _detect_in_mix(channel_mix(audio), rate, freq_hz, search_hz, max_harmonics,
                          max_freq_hz)


def _detect_in_mix(
    mono: np.ndarray,
    rate: int,
    freq_hz: float | None = None,
    search_hz: tuple[tuple[float, float], ...] = MAINS_SEARCH_HZ,
    max_harmonics: int = 40,
    max_freq_hz: float = 3000.0,
    low: np.ndarray | None = None,
) -> HumProfile:
    """:func:`detect_hum` on the channel mix ``mono`` (``low``: the mix already brought down
    by :func:`_detect_factor`)."""
    if len(mono) < rate // 2:
        return HumProfile(None)
    duration = len(mono) / rate
    programme_dbfs = 10 * math.log10(max(float(np.mean(np.square(mono))), 1e-30))
    # Nothing above max_freq_hz is looked at: a lower rate makes the long FFTs cheaper.
    factor = _detect_factor(rate, max_freq_hz)
    if low is not None:
        mono = low
    elif factor > 1:
        mono = resample_poly(mono, 1, factor)
    freqs, frames = _spectrogram(mono, rate / factor)
    step = float(freqs[1] - freqs[0])
    if freq_hz is not None:
        search_hz = ((freq_hz * 0.98, freq_hz * 1.02),)
    settings = (step, rate, search_hz, max_harmonics, max_freq_hz)
    profile = _detect_in_frames(frames, *settings)
    if not profile.found:
        # Hum too low to stand out of the long-term spectrum may still stand out where the
        # music pauses (heard in the gaps between words).
        profile = _detect_in_quiet(frames, *settings, programme_dbfs)
    if (not profile.found and len(frames) < QUIET_MIN_FRAMES and duration >= SHORT_MIN_S
            and _line_near_mains(frames.mean(axis=0), step, search_hz)):
        # A short take gives one or two frames half a second apart: too few to see the hum
        # hold still. Frames closer together let the same tests look at it; a take this
        # short has no room for a region of hum either.
        low_rate = rate / factor
        hop = max(int((len(mono) - low_rate) / (SHORT_FRAMES - 1)),
                  int(SHORT_MIN_HOP_S * low_rate))
        _, dense = _spectrogram(mono, low_rate, hop)
        profile = _detect_in_frames(dense, *settings)
        if not profile.found:
            profile = _detect_in_quiet(dense, *settings, programme_dbfs)
        # As in a window of a longer take (:func:`_find_partial_hum`): a second or two give a
        # note near the mains frequency as good a chance as hum, so only a fundamental near
        # the middle of its search range counts.
        if profile.found and (
                not _fundamental_audible(dense, step, float(profile.fundamental_hz),  # type: ignore[arg-type]
                                         programme_dbfs)
                or min(profile.harmonics) > 2
                or not any(abs(float(profile.fundamental_hz) - (lo + hi) / 2)  # type: ignore[arg-type]
                           <= max(PARTIAL_TOLERANCE_HZ, 0.01 * (lo + hi) / 2)
                           for lo, hi in search_hz)):
            profile = HumProfile(None)
        profile.duration_s = duration
        return profile
    if profile.found and min(profile.harmonics) <= 2:
        profile.regions_s = _hum_regions(frames, step, profile, duration)
        if profile.regions_s:
            # Only there for part of the take: its harmonics are judged again on that part
            # (over the whole take, only those the music also fills may have looked steady).
            inside = _frames_within(len(frames), profile.regions_s)
            again = _detect_in_frames(frames[inside], *settings) if inside.sum() >= 3 else None
            if again is not None and again.found:
                again.regions_s = _hum_regions(frames, step, again, duration) or [
                    (0.0, round(duration, 2))]
                profile = again
    else:
        # Not found, or only through partials that the music may hold over the whole take:
        # the hum may be there for part of it.
        partial = _find_partial_hum(frames, settings, duration)
        if partial.found:
            profile = partial
    if profile.found and profile.level_dbfs < programme_dbfs - INAUDIBLE_UNDER_DB:
        # A comb of lines that faint is leakage or aliasing of the music, or hum no one hears.
        profile = HumProfile(None)
    profile.duration_s = duration
    return profile


def _line_near_mains(power: np.ndarray, step_hz: float,
                     search_hz: tuple[tuple[float, float], ...]) -> bool:
    """Does anything stand out of the spectrum ``power`` by ``PROMINENCE_DB / 2`` within
    the tolerance of a mains frequency (the middle of a search range)? A cheap look that
    spares a short take with nothing there the closer one."""
    cand = np.concatenate([
        np.arange(c - max(PARTIAL_TOLERANCE_HZ, 0.01 * c),
                  c + max(PARTIAL_TOLERANCE_HZ, 0.01 * c) + 1e-9, 0.25)
        for c in ((lo + hi) / 2 for lo, hi in search_hz)])
    return bool(np.max(_prominence_many(power, step_hz, cand, cand)) >= PROMINENCE_DB / 2)


def _detect_factor(rate: float, max_freq_hz: float = 3000.0) -> int:
    """The decimation :func:`detect_hum` looks at the take with."""
    return max(int(rate // (2.4 * max_freq_hz)), 1)


def _detect_in_frames(
    frames: np.ndarray,
    step: float,
    rate: float,
    search_hz: tuple[tuple[float, float], ...],
    max_harmonics: int,
    max_freq_hz: float,
) -> HumProfile:
    """:func:`detect_hum` on power spectra ``frames`` (1 s frames, half overlapping, bins
    ``step`` Hz apart) of audio sampled at ``rate``."""
    mean = frames.mean(axis=0, keepdims=True)
    # Hum is there in every frame: a candidate whose fundamental and second harmonic both
    # stay down in the median spectrum over the frames is a chord or a held note that is
    # loud for part of the take, not mains.
    # (only the bins around the first two harmonics are needed)
    low_bins = int(3.0 * max(hi for _, hi in search_hz) / step) + 16
    typical = np.median(frames[:, :low_bins], axis=0) if frames.shape[0] >= 3 else mean[0]
    best: tuple[float, float] | None = None
    for lo, hi in search_hz:
        cand = np.arange(lo, hi + 1e-9, 0.05)
        # Score the first few harmonics: a fundamental with a couple of strong partials at
        # the right spacing beats a lone peak. Lower harmonics count more: hum puts its energy
        # there, and the higher ones land among the music's partials by chance.
        ks = np.arange(1, 6)
        each = _prominence_many(mean[0], step, np.outer(ks, cand).ravel(),
                                np.tile(cand, len(ks))).reshape(len(ks), len(cand))
        score = sum(np.maximum(each[k - 1], 0.0) / math.sqrt(k) for k in ks)
        low = _prominence_many(typical, step, np.concatenate([cand, 2 * cand]),
                               np.tile(cand, 2)).reshape(2, len(cand))
        present = np.maximum(low[0], low[1])
        score = np.where(present >= PROMINENCE_DB / 2, score, 0.0)
        i = int(np.argmax(score))
        if best is None or score[i] > best[1]:
            best = (float(cand[i]), float(score[i]))
    if best is None:
        return HumProfile(None)
    # The score sums several harmonics, each over a window of about +-1 Hz, so chance
    # partials of the music can pull the pick by most of a hertz off a hum that shows
    # only its fundamental; the strongest low harmonic, when it stands out, says where the
    # hum really is.
    lo, hi = next((lo, hi) for lo, hi in search_hz if lo - 1e-9 <= best[0] <= hi + 1e-9)
    picked = best[0]
    f0 = _refine_fundamental(mean[0], step, picked, lo, hi)
    harmonics, proms = [], []
    top = min(max_harmonics, int(min(max_freq_hz, rate / 2 - 2 * f0) // f0))
    many = frames.shape[0] >= 3
    evidence = 0.0  # summed prominence (dB) of the steady harmonics up to the 8th
    steady_first = 0.0  # share of 1 s frames where the fundamental stands out
    ks = np.arange(1, top + 1)
    overall = (_prominence_many(mean[0], step, ks * f0, np.full(len(ks), f0)) if top >= 1
               else np.zeros(0))
    # Share of 1 s frames in which each harmonic that stands out overall stands out.
    shares = np.zeros(top)
    out_overall = np.flatnonzero(overall >= PROMINENCE_DB / 2)
    if many and len(out_overall):
        shares[out_overall] = np.mean(
            _prominence_frames(frames, step, ks[out_overall] * f0, f0) >= PROMINENCE_DB / 2,
            axis=0)
    for k in range(1, top + 1):
        p = float(overall[k - 1])
        if p < PROMINENCE_DB / 2:
            continue
        if many:
            steady = float(shares[k - 1])
            if k == 1:
                steady_first = float(steady)
            if steady < 0.75:
                continue
        if k <= 8:
            evidence += p
        if p < PROMINENCE_DB:
            continue
        harmonics.append(k)
        proms.append(round(p, 1))
    # A fundamental pinned to the edge of the search range is a note near it, not mains.
    edge = any(abs(f - lo) < 0.11 or abs(f - hi) < 0.11
               for f in (picked, f0) for lo, hi in search_hz)
    # A few partials at the right spacing, or a fundamental standing far out on its own
    # (a pure ground-loop hum), or enough steady evidence over the first eight harmonics
    # taken together (hum under a loud drum loop stands out less in each); one or two
    # chance partials are the music.
    # A fundamental that stands out less but in nearly every second of a longer take is hum
    # too: at -20 dB under speech only 50/60 Hz itself clears the voice's low end.
    strong_fundamental = bool(harmonics) and harmonics[0] == 1 and (
        proms[0] >= 2.5 * PROMINENCE_DB
        or (proms[0] >= 1.5 * PROMINENCE_DB and steady_first >= STEADY_FUNDAMENTAL))
    enough = bool(harmonics) and evidence >= 3 * PROMINENCE_DB
    # Partials that are all multiples of 3 f0 or more are the harmonics of a note at that
    # pitch (a bass or organ note), not mains: hum and rectifier buzz carry f0 or 2 f0.
    note = bool(harmonics) and math.gcd(*harmonics) >= 3
    # The same for a series whose partials off a multiple of m f0 are only traces: a note
    # at 100 Hz (a saw, a square wave, a clipped sine) has nothing at 50, 150, 250 Hz, while
    # hum always carries its fundamental or its odd harmonics at the mains frequency itself.
    note = note or _note_spacing(harmonics, _harmonic_power_db(mean[0], step, f0, harmonics)) > 1
    # A comb finer than f0 (peaks a half or a third of the way between the harmonics too) is
    # a lower note, or a naive synth's aliasing, that happens to cross the mains multiples.
    note = note or (len(harmonics) >= 3 and _finer_comb(mean[0], step, f0))
    if edge or note or not (len(harmonics) >= 3 or strong_fundamental or enough):
        return HumProfile(None)
    level = 10 * math.log10(
        max(sum(float(mean[0, int(round(k * f0 / step))]) * step * 2 for k in harmonics), 1e-30)
    )
    return HumProfile(f0, harmonics, proms, level)


QUIET_PERCENTILE = 25.0
"""The quiet spectrum: in every bin, this percentile of the power over the 1 s frames. A
steady hum keeps its level in it; speech and music around it, which come and go, drop."""
QUIET_MIN_FRAMES = 4
SHORT_MIN_S = 1.25
SHORT_FRAMES = 8
SHORT_MIN_HOP_S = 0.05
"""A take shorter than 2.5 s (under :data:`QUIET_MIN_FRAMES` frames half a second apart)
whose hum was not found is looked at again in :data:`SHORT_FRAMES` 1 s frames spread over
it (at least this far apart), from :data:`SHORT_MIN_S` up."""
QUIET_STEADY = 0.75
QUIET_HARMONIC_DB = PROMINENCE_DB / 2
"""Hum found only in the quiet spectrum must show its second or third harmonic there by
this much too."""
"""Share of 1 s frames in which the fundamental of a hum found in the quiet spectrum must
stand out by ``PROMINENCE_DB / 2``: what the quiet spectrum itself asks of it (a quarter
of the seconds may be covered by a voice's low end or a bass note)."""
QUIET_TOLERANCE_HZ = 0.5
"""Hum found only in the quiet spectrum must lie this close to the mains frequency (the
middle of its search range): no note of an equal-tempered scale tuned near A = 440 Hz
comes that close to 50 or 60 Hz (G1 is 49.0 Hz, B1 61.7 Hz)."""


def _detect_in_quiet(
    frames: np.ndarray,
    step: float,
    rate: float,
    search_hz: tuple[tuple[float, float], ...],
    max_harmonics: int,
    max_freq_hz: float,
    programme_dbfs: float | None = None,
) -> HumProfile:
    """Hum that is too low to stand out of the long-term spectrum, found in the quiet
    spectrum (:data:`QUIET_PERCENTILE` of the power over the frames, bin by bin): speech
    and most music leave gaps where a hum 30-40 dB under the take is plainly heard, and
    there the hum stands far out. Only a fundamental whose peak in the quiet spectrum lies
    within :data:`QUIET_TOLERANCE_HZ` (1 % at 60 Hz) of the middle of a search range counts
    (:func:`_peak_near`), it must stand out by 1.5 x :data:`PROMINENCE_DB`
    in the quiet spectrum, show in the long-term one, and stand out in
    :data:`QUIET_STEADY` of the frames, and its second or third harmonic must show in the
    quiet spectrum too (:data:`QUIET_HARMONIC_DB`); the note tests of
    :func:`_detect_in_frames` apply as they do there."""
    count = frames.shape[0]
    if count < QUIET_MIN_FRAMES:
        return HumProfile(None)
    centres = [(lo + hi) / 2 for lo, hi in search_hz]
    nbins = min(int(min(max_freq_hz, rate / 2) / step),
                int((9 * max(centres) + QUIET_TOLERANCE_HZ * 9) / step) + 64, frames.shape[1])
    quiet = np.percentile(frames[:, :nbins], QUIET_PERCENTILE, axis=0)
    mean = frames[:, :nbins].mean(axis=0)
    best: tuple[float, float, float, float, float] | None = None
    ks = np.arange(1, 6)
    for centre in centres:
        tol = max(QUIET_TOLERANCE_HZ, 0.01 * centre)
        cand = np.arange(centre - tol, centre + tol + 1e-9, 0.05)
        each = _prominence_many(quiet, step, np.outer(ks, cand).ravel(),
                                np.tile(cand, len(ks))).reshape(len(ks), len(cand))
        score = sum(np.maximum(each[k - 1], 0.0) / math.sqrt(k) for k in ks)
        i = int(np.argmax(score))
        if best is None or score[i] > best[1]:
            best = (float(cand[i]), float(score[i]), centre - tol, centre + tol, centre)
    assert best is not None
    f0 = _refine_fundamental(quiet, step, best[0], best[2], best[3])
    top = min(max_harmonics, 8, int(min(max_freq_hz, rate / 2 - 2 * f0) // f0))
    if top < 1:
        return HumProfile(None)
    hs = np.arange(1, top + 1)
    in_quiet = _prominence_many(quiet, step, hs * f0, np.full(top, f0))
    in_mean = _prominence_many(mean, step, hs * f0, np.full(top, f0))
    shares = np.mean(_prominence_frames(frames, step, hs * f0, f0) >= PROMINENCE_DB / 2,
                     axis=0)
    if not (in_quiet[0] >= 1.5 * PROMINENCE_DB and in_mean[0] >= PROMINENCE_DB / 2
            and shares[0] >= QUIET_STEADY
            and abs(_peak_near(quiet, step, f0) - best[4]) <= best[3] - best[4]):
        return HumProfile(None)
    if top >= 2 and float(np.max(in_quiet[1:3])) < QUIET_HARMONIC_DB:
        # A lone line at 50/60 Hz this far down: the ear hears hum through its harmonics
        # (it is 20-30 dB less sensitive at 50-60 Hz than at 100-200 Hz), and a steady
        # pure tone at the mains frequency is as often part of the recording (a -30 dB
        # line under a spoken-word take) as leakage someone would want gone.
        return HumProfile(None)
    keep = (in_quiet >= PROMINENCE_DB) & (shares >= 0.75)
    keep[0] = True
    harmonics = [int(k) for k in hs[keep]]
    if len(harmonics) >= 3 and (
            _note_spacing(harmonics, _harmonic_power_db(quiet, step, f0, harmonics)) > 1
            or _finer_comb(quiet, step, f0)):
        return HumProfile(None)
    level = 10 * math.log10(
        max(sum(float(mean[int(round(k * f0 / step))]) * step * 2 for k in harmonics), 1e-30))
    if not _fundamental_audible(frames, step, f0, programme_dbfs):
        return HumProfile(None)
    return HumProfile(f0, harmonics, [round(float(in_quiet[k - 1]), 1) for k in harmonics],
                      level)


QUIET_AUDIBLE_UNDER_DB = 40.0
"""Hum found only in the quiet spectrum whose fundamental lies further than this under the
take's level (the power of every bin up to the top of the frames) is left alone: with the
take played loud (speech at 80-85 dB SPL) such a fundamental sits under the ear's threshold
at 50-60 Hz (about 40-44 dB SPL), and at that depth it is more often a trace in a
recording's own noise floor (a -80 dBFS line under a ringing cymbal) than hum anyone hears."""
PEAK_SPAN_HZ = 4.0


def _fundamental_audible(frames: np.ndarray, step_hz: float, f0: float,
                         programme_dbfs: float | None = None) -> bool:
    """Does the fundamental ``f0`` lie within :data:`QUIET_AUDIBLE_UNDER_DB` of the level
    of the take (``programme_dbfs``, its mean power over the full band; by default what
    the power spectra ``frames``, bins ``step_hz`` apart, hold)? Hum found only by a
    closer look is judged on its fundamental alone: partials of the music that happen to
    sit on its harmonics would make it look louder."""
    mean = frames.mean(axis=0)
    programme = (10 * math.log10(max(float(mean.sum()) * step_hz, 1e-30))
                 if programme_dbfs is None else programme_dbfs)
    fundamental = _harmonic_power_db(mean, step_hz, f0, [1])[0] + 10 * math.log10(step_hz)
    return fundamental >= programme - QUIET_AUDIBLE_UNDER_DB


def _peak_near(power: np.ndarray, step_hz: float, f: float) -> float:
    """Where (Hz) the spectrum ``power`` peaks within +-:data:`PEAK_SPAN_HZ` of ``f``. A
    note a hertz off the mains frequency (a G1 at 49.0 Hz) lends a pick at the edge of the
    search range a prominence of its own, and a strong note a few hertz away lifts its whole
    skirt above the median neighbourhood; either way the peak itself lies elsewhere.

    >>> freqs = np.arange(0, 200, 0.25)
    >>> power = 1e-6 + np.exp(-0.5 * ((freqs - 49.0) / 0.5) ** 2)
    >>> _peak_near(power, 0.25, 49.5)
    49.0
    """
    centre = int(round(f / step_hz))
    span = int(round(PEAK_SPAN_HZ / step_hz))
    lo = max(centre - span, 0)
    return (lo + int(np.argmax(power[lo : centre + span + 1]))) * step_hz


REGION_WINDOW_FRAMES = 7
"""Hum that runs through only part of a take is looked for in windows of this many 1 s
frames (4 s), half a window apart, with the same tests as the whole take."""
MIN_ABSENT_S = 3.0
"""A hum is taken to be away only over stretches at least this long (shorter gaps are
music covering it); a hum with no such gap runs through the whole take."""
MIN_REGION_S = 2.0
"""Stretches of hum shorter than this are not treated."""
PRESENCE_DROP_DB = 20.0
FRAME_HOP_S = 0.5
PARTIAL_TOLERANCE_HZ = 0.5
"""Hum found in a few seconds only must lie this close to the middle of its search range."""


def _frame_presence(frames: np.ndarray, step: float, profile: HumProfile,
                    reference: np.ndarray | None = None) -> np.ndarray:
    """Per 1 s frame: does the hum of ``profile`` show there? At least half of its harmonics
    up to the 8th stand out by ``PROMINENCE_DB / 2`` and by no less than
    :data:`PRESENCE_DROP_DB` under their typical prominence in the frames where they
    stand out (a note's partial that pokes out of the music a little is not the hum that
    stands far out of the quieter music a few seconds later). With ``reference`` (the
    frames where the hum was found) the typical prominence is taken there, and the drop
    allowed is half as large."""
    f0 = float(profile.fundamental_hz)  # type: ignore[arg-type]
    # A hum that passed the whole-take tests may change level by several dB; one found
    # in a few seconds is judged against those seconds.
    drop_db = PRESENCE_DROP_DB if reference is None else PRESENCE_DROP_DB / 2
    ks = [k for k in profile.harmonics if k <= 8] or profile.harmonics[:1]
    proms = _prominence_frames(frames, step, np.asarray(ks) * f0, f0).T
    standing = proms >= PROMINENCE_DB / 2
    floor = np.full((len(ks), 1), PROMINENCE_DB / 2)
    for i in range(len(ks)):
        typical = standing[i] if reference is None else standing[i] & reference
        if typical.any():
            floor[i] = max(PROMINENCE_DB / 2, float(np.median(proms[i, typical])) - drop_db)
    return np.mean(proms >= floor, axis=0) >= 0.5


def _frames_within(count: int, regions_s: list[tuple[float, float]]) -> np.ndarray:
    """Which of ``count`` 1 s frames (half a second apart) lie mostly inside the regions."""
    centres = FRAME_HOP_S * np.arange(count) + 0.5
    inside = np.zeros(count, bool)
    for start, end in regions_s:
        inside |= (centres >= start) & (centres <= end)
    return inside


def _hum_regions(
    frames: np.ndarray, step: float, profile: HumProfile, duration_s: float,
    reference: np.ndarray | None = None,
) -> list[tuple[float, float]]:
    """Where the hum of ``profile`` is, as (start, end) seconds; empty when it never leaves
    for :data:`MIN_ABSENT_S` or more (it runs through the whole take). ``reference``: see
    :func:`_frame_presence`."""
    present = _frame_presence(frames, step, profile, reference)
    absent_frames = int(math.ceil(MIN_ABSENT_S / FRAME_HOP_S))
    # Short gaps are music covering the hum: fill them.
    for a, b in runs(~present):
        if b - a < absent_frames and a > 0 and b < len(present):
            present[a:b] = True
    if not any(b - a >= absent_frames for a, b in runs(~present)):
        return []
    regions = []
    for a, b in runs(present):
        # Frame i spans [i, i + 2) half-seconds; its middle half is where it speaks for.
        start = 0.0 if a == 0 else FRAME_HOP_S * a + 0.25
        end = duration_s if b == len(present) else FRAME_HOP_S * (b - 1) + 0.75
        if end - start >= MIN_REGION_S:
            regions.append((round(start, 2), round(min(end, duration_s), 2)))
    return regions


def _find_partial_hum(
    frames: np.ndarray, settings: tuple, duration_s: float
) -> HumProfile:
    """Hum that is there for only part of the take: the whole-take tests run on windows of
    :data:`REGION_WINDOW_FRAMES` frames; windows that agree on the fundamental (within
    0.5 Hz) are pooled, the hum must pass the whole-take tests again on the pooled frames,
    and its regions are then the frames where it shows (:func:`_hum_regions`)."""
    width = REGION_WINDOW_FRAMES
    count = frames.shape[0]
    if count < 2 * width:
        return HumProfile(None)
    starts = list(range(0, count - width + 1, (width + 1) // 2))
    if starts[-1] != count - width:
        starts.append(count - width)
    hits = []
    centres = [(lo + hi) / 2 for lo, hi in settings[2]]
    for i in starts:
        found = _detect_in_frames(frames[i : i + width], *settings)
        if not found.found or min(found.harmonics) > 2:
            continue
        f = float(found.fundamental_hz)  # type: ignore[arg-type]
        # A few seconds give a note near the mains frequency (a G1 at 49 Hz) as good a
        # chance as the whole take gives hum: here only a fundamental close to the middle
        # of its search range counts (mains grids hold +-0.2 Hz).
        if min(abs(f - c) - max(PARTIAL_TOLERANCE_HZ, 0.01 * c) for c in centres) <= 0:
            hits.append((i, f))
    if not hits:
        return HumProfile(None)
    # The fundamental most windows agree on (a take may hold a second, steadier tone).
    fs = np.array([f for _, f in hits])
    f0 = float(fs[np.argmax([(np.abs(fs - f) <= 0.5).sum() for f in fs])])
    where = np.zeros(count, bool)
    for i, f in hits:
        if abs(f - f0) <= 0.5:
            where[i : i + width] = True
    profile = _detect_in_frames(frames[where], *settings)
    if not profile.found or where.all():
        return profile
    profile.regions_s = _hum_regions(frames, settings[0], profile, duration_s, where)
    if not profile.regions_s:
        # It shows all through the take, yet failed the whole-take tests: a trace the
        # music covers most of the time (the tail of a ride cymbal), left to those tests.
        return HumProfile(None)
    return profile


def _finer_comb(power: np.ndarray, step_hz: float, f0: float) -> bool:
    """Do the points a half, or a third, of the way between the first eight harmonics of
    ``f0`` stand out of the long-term spectrum ``power`` by :data:`PROMINENCE_DB`, and
    nearly as far as the harmonics do (medians over the points)? Hum has nothing there.

    >>> step = 0.25
    >>> freqs = np.arange(0, 2000, step)
    >>> comb = lambda f: sum(np.exp(-0.5 * ((freqs - k * f) / 0.5) ** 2) for k in range(1, 40))
    >>> _finer_comb(1e-6 + comb(50.0), step, 50.0), _finer_comb(1e-6 + comb(25.0), step, 50.0)
    (False, True)
    """
    ks = np.arange(1, 9, dtype=np.float64)
    f = np.concatenate([(ks + q) * f0 for q in (0.0, 0.5, 1 / 3, 2 / 3)])
    proms = _prominence_many(power, step_hz, f, np.full(len(f), f0))
    series = float(np.median(proms[:8]))
    for points in (proms[8:16], proms[16:]):
        if float(np.median(points)) >= max(PROMINENCE_DB, series - FINER_COMB_GAP_DB):
            return True
    return False


FINER_COMB_GAP_DB = 6.0
"""A finer comb counts when its points stand out nearly as far (this much less at most) as
the harmonics themselves: hum over a note keeps its own teeth well above the note's."""


NOTE_GAP_DB = 30.0
"""Partials of a candidate series off a multiple of m f0 that are all this far under the
strongest on it are traces (leakage, dither, a faint overtone): the series is a note at
m f0."""


def _refine_fundamental(power: np.ndarray, step_hz: float, f0: float, lo: float,
                        hi: float) -> float:
    """``f0`` moved onto the peak of its lowest clear harmonic among the first four
    (parabolic interpolation of the log power spectrum ``power``), kept inside ``lo``..``hi``;
    unchanged when no low harmonic stands out by :data:`PROMINENCE_DB` or its peak is not
    within 1 Hz of where ``f0`` puts it. The lowest, not the strongest: a note's partial
    near the 4th harmonic can outshine the hum there, while hum puts most of its energy at
    the fundamental and the second harmonic.

    >>> rate, step = 1000.0, 0.25
    >>> freqs = np.arange(0, rate / 2, step)
    >>> power = 1e-6 + np.exp(-0.5 * ((freqs - 50.1) / 0.8) ** 2)
    >>> round(_refine_fundamental(power, step, 50.8, 48.5, 51.5), 2)
    50.1
    """
    ks = np.arange(1, 5)
    proms = _prominence_many(power, step_hz, ks * f0, np.full(len(ks), f0))
    clear = np.flatnonzero(proms >= PROMINENCE_DB)
    if len(clear) == 0:
        return f0
    k = int(ks[clear[0]])
    a = int(math.floor(k * max(lo, f0 - 1.0) / step_hz))
    b = int(math.ceil(k * min(hi, f0 + 1.0) / step_hz))
    if a < 1 or b + 1 >= len(power):
        return f0
    i = a + int(np.argmax(power[a : b + 1]))
    if i in (a, b):
        # A slope: the pick sits on the skirt of a peak further out (chance partials of the
        # music pulled the score there). Climb to that peak, inside the search range.
        first = max(int(math.floor(k * lo / step_hz)), 1)
        last = min(int(math.ceil(k * hi / step_hz)), len(power) - 2)
        move = 1 if i == b else -1
        while first < i < last and power[i + move] > power[i]:
            i += move
        if not first < i < last:
            return f0
    y0, y1, y2 = np.log(np.maximum(power[i - 1 : i + 2], 1e-30))
    bend = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / bend if bend < 0 else 0.0
    return float(np.clip((i + shift) * step_hz / k, lo, hi))


def _harmonic_power_db(power: np.ndarray, step_hz: float, f0: float,
                       harmonics: list[int]) -> list[float]:
    """Power (dB) within the peak window of each harmonic ``k * f0`` of the spectrum ``power``."""
    out = []
    for k in harmonics:
        f = k * f0
        centre = int(round(f / step_hz))
        half = max(int(round((0.6 + 0.004 * f) / step_hz)), 2)
        band = power[max(centre - half, 0) : centre + half + 1]
        out.append(10 * math.log10(max(float(band.sum()), 1e-30)))
    return out


def _note_spacing(harmonics: list[int], power_db: list[float]) -> int:
    """The largest m (2..8) such that the harmonics off a multiple of m are all
    :data:`NOTE_GAP_DB` under the strongest one on it: the series is then a note at m f0.
    1 when there is none (the series carries its fundamental's own partials).

    >>> _note_spacing([2, 4, 6, 9], [0.0, -3.0, -6.0, -60.0])
    2
    >>> _note_spacing([1, 2, 3], [-20.0, 0.0, -6.0])
    1
    """
    spacing = 1
    for m in range(2, 9):
        on = [p for k, p in zip(harmonics, power_db, strict=True) if k % m == 0]
        off = [p for k, p in zip(harmonics, power_db, strict=True) if k % m]
        if on and (not off or max(off) < max(on) - NOTE_GAP_DB):
            spacing = m
    return spacing


TABLE = 4096
"""Points per hum period in the phase tables (projection and resynthesis)."""
SMOOTH_BLOCKS = 121
"""Hum amplitudes are averaged under a Hann window of this many blocks (about 24 s, 12 s
effective; cut short at the ends of the take): hum is steady, the music under it is not,
so the longer the average the less of the music leaks into the hum model. This needs a
phase track that holds over that time, hence the refinement passes."""
TRACK_HARMONICS = 24
"""Harmonics (at most) that vote on the phase track."""
TRACK_RATE = 4000
"""Sample rate the phase track is measured at (the low harmonics carry it)."""
REFINE_PASSES = 3
THETA_SMOOTH = 21
"""The phase corrections are averaged over this many blocks (about 4 s): mains frequency
wanders slowly, and a short average would follow the music's leak instead."""
HOLD_FACTOR = 2.0
"""A harmonic is subtracted when its phase holds over the whole take: its coherence must
exceed this many times what chance gives (1.5 / blocks). Keeping a harmonic that is not
there costs little (only its long average, near zero, is subtracted); missing one that is
leaves its hum in."""


def _block_sets(n: int, block: int) -> list[tuple[int, int]]:
    """The half-overlapping Hann blocks split into two tilings (even and odd blocks), each
    as (offset, number of blocks): sample t sits in block (t + offset) // block."""
    hop = block // 2
    count = len(range(-hop, n, hop))
    return [(hop, (count + 1) // 2), (0, count // 2)]


@dataclass
class _Folding:
    """Where every sample lands when the blocks are folded onto one hum period: for each
    tiling of blocks, the table bin nearest the sample's phase (block by block) and its
    Hann weight (computed once per phase track, used for every channel)."""

    blocks: int
    tilings: list[tuple[int, int, np.ndarray, np.ndarray]]


def _folding(phase: np.ndarray, block: int) -> _Folding:
    n = len(phase)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(block) / block)
    # Nearest bin: the phase is off by at most half a bin, 1/8192 of a period (-44 dB at
    # the 8th harmonic); the box kernel this makes is undone in the spectrum.
    nearest = np.rint(phase * (TABLE / (2 * np.pi))).astype(np.int64) & (TABLE - 1)
    tilings = []
    total = 0
    for parity, (offset, count) in enumerate(_block_sets(n, block)):
        total += count
        if count == 0:
            continue
        tiles = -(-(n + offset) // block)
        at = np.repeat(np.arange(tiles) * TABLE, block)[offset : offset + n] + nearest
        tilings.append((parity, count, at, np.tile(hann, tiles)[offset : offset + n]))
    return _Folding(total, tilings)


def _amplitudes(
    x: np.ndarray, phase: np.ndarray | _Folding, block: int, top: int
) -> np.ndarray:
    """Complex amplitudes ``(blocks, top)`` of harmonics 1..top in every Hann block:
    each tiling of blocks is folded onto one hum period (TABLE phase bins, one bincount
    over the whole signal) and all blocks take one batched FFT."""
    fold = phase if isinstance(phase, _Folding) else _folding(phase, block)
    norm = block / 4.0  # (the sum of the Hann window, halved)
    amps = np.zeros((fold.blocks, top), dtype=np.complex128)
    k = np.arange(1, top + 1)
    for parity, count, at, weight in fold.tilings:
        folded = np.bincount(at, x * weight, count * TABLE)
        spectrum = sp_fft.rfft(folded.reshape(count, TABLE), axis=1)[:, 1 : top + 1]
        # (undo the box kernel of the nearest-bin folding)
        amps[parity::2] = spectrum / np.sinc(k / TABLE) / norm
    return amps


def _synthesise(amps: np.ndarray, fold: _Folding, n: int) -> np.ndarray:
    """Overlap-add of sum_k Re(amps[b, k-1] exp(j k phase)) under each block's Hann
    window (the windows sum to one), through one period table per block."""
    out = np.zeros(n)
    full = np.zeros((amps.shape[0], TABLE // 2 + 1), dtype=np.complex128)
    full[:, 1 : amps.shape[1] + 1] = amps
    tables = sp_fft.irfft(full, TABLE, axis=1) * TABLE / 2
    for parity, _, at, weight in fold.tilings:
        out += tables[parity::2].reshape(-1)[at] * weight
    return out


def _phase_track(
    n: int, rate: float, f0: float, deviation_hz: np.ndarray, block: int
) -> np.ndarray:
    hop = block // 2
    centres = np.arange(len(deviation_hz)) * hop - hop + block // 2
    inst = f0 + np.interp(np.arange(n), centres, deviation_hz)
    return 2 * np.pi * np.cumsum(inst) / rate


def _coherence(amps: np.ndarray, width: int) -> np.ndarray:
    """|mean a|^2 / mean |a|^2 over ``width`` blocks: near 1 for hum, near 1/width for noise."""
    smooth = _smooth_blocks(amps, width)
    energy = _smooth_blocks(np.abs(amps) ** 2, width)
    return np.abs(smooth) ** 2 / np.maximum(energy, 1e-30)


@functools.lru_cache(maxsize=64)
def _smoothing_kernel(count: int, width: int) -> tuple[int, np.ndarray, np.ndarray]:
    """FFT size, kernel spectrum and end-correction weights of :func:`_smooth_blocks`
    (the same few shapes come back for every channel and pass)."""
    kernel = np.hanning(width + 2)[1:-1]
    size = next_fast_len(count + width, real=True)
    kf = np.fft.rfft(kernel, size)
    shift = width // 2
    weight = np.fft.irfft(np.fft.rfft(np.ones(count), size) * kf, size)[shift : shift + count]
    return size, kf[:, None], 1.0 / weight[:, None]


def _smooth_blocks(values: np.ndarray, width: int) -> np.ndarray:
    """Hann-weighted average of ``width`` blocks around each block (axis 0); near the ends
    the window is cut short and renormalised rather than padded with the end block."""
    if values.shape[0] < 2 or width < 2:
        return values
    count = values.shape[0]
    size, kf, inverse_weight = _smoothing_kernel(count, width)
    shift = width // 2
    flat = values.reshape(count, -1)
    columns = flat.shape[1]
    # Real and imaginary parts go through one transform side by side.
    parts = np.concatenate([flat.real, flat.imag], axis=1) if np.iscomplexobj(flat) else flat
    smoothed = sp_fft.irfft(sp_fft.rfft(parts, size, axis=0) * kf, size, axis=0)
    smoothed = smoothed[shift : shift + count] * inverse_weight
    if np.iscomplexobj(flat):
        out = smoothed[:, :columns] + 1j * smoothed[:, columns:]
    else:
        out = smoothed
    return out.reshape(values.shape)


def _track_phase(
    mono: np.ndarray, rate: float, f0: float, block: int, top: int, strong: np.ndarray
) -> tuple[np.ndarray, float]:
    """Phase of the hum fundamental at every sample of ``mono`` (radians) and the largest
    drift found (Hz).

    First the frequency: the block-to-block phase advance of the harmonics that hold
    their phase says how far the fundamental is from ``f0`` in each block. Then the phase
    itself: each block's harmonics are compared with their long-term average and the
    (amplitude-weighted) phase error is folded back into the track, a few times over."""
    n = len(mono)
    hop = block // 2
    phase = 2 * np.pi * f0 * np.arange(n) / rate
    amps = _amplitudes(mono, phase, block, top)
    k = np.arange(1, top + 1)
    pair = amps[1:] * amps[:-1].conj()
    steady = _coherence(amps, 7)
    weight = np.abs(pair) * np.minimum(steady[1:], steady[:-1]) ** 2
    weight[:, strong[strong < top]] *= 4.0
    # A held note sitting on a harmonic would steer the track to its own pitch.
    music = _music_on_harmonics(amps)
    weight[:, music] = 0.0
    advance = np.angle(pair) / (2 * np.pi * k * hop / rate)
    weight = weight * (np.abs(advance) < f0 * 0.02)
    dev = np.sum(advance * weight, axis=1) / np.maximum(weight.sum(axis=1), 1e-30)
    drift = 0.0
    if len(dev):
        dev = np.concatenate([[dev[0]], (dev[1:] + dev[:-1]) / 2, [dev[-1]]])
        dev = _smooth_blocks(dev[:, None], 9)[:, 0]
        phase = _phase_track(n, rate, f0, dev, block)
        drift = float(np.max(np.abs(dev)))
    centres = np.arange(amps.shape[0]) * hop - hop + block // 2
    for _ in range(REFINE_PASSES):
        amps = _amplitudes(mono, phase, block, top)
        ref = _smooth_blocks(amps, SMOOTH_BLOCKS)
        # Phase error of the fundamental seen by harmonic k: angle / k, trusted in
        # proportion to (k |a_k|)^2 (the phase of a strong, high harmonic is sharpest).
        z = amps * ref.conj()
        err = np.angle(z) / k
        trust = (k * np.abs(ref)) ** 2 * _coherence(amps, SMOOTH_BLOCKS) * ~music
        theta = np.sum(err * trust, axis=1) / np.maximum(trust.sum(axis=1), 1e-30)
        theta = _smooth_blocks(theta[:, None], THETA_SMOOTH)[:, 0]
        phase = phase + np.interp(np.arange(n), centres, theta)
    return phase, drift


def _holding(amps: np.ndarray) -> np.ndarray:
    """Which harmonics hold their phase over the whole take (see :data:`HOLD_FACTOR`)."""
    mean = np.abs(amps.mean(axis=0)) ** 2
    energy = np.maximum(np.mean(np.abs(amps) ** 2, axis=0), 1e-30)
    return mean / energy > HOLD_FACTOR * 1.5 / max(amps.shape[0], 1)


MUSIC_ON_HARMONIC_DB = 20.0
"""A harmonic whose long-term (phase-held) amplitude stands this far above the median of
the five harmonics around it is a steady note sitting on it, not hum."""


def _music_on_harmonics(amps: np.ndarray) -> np.ndarray:
    """Which harmonics carry a steady note rather than hum: their long-term amplitude in
    ``amps`` (blocks, harmonics) stands :data:`MUSIC_ON_HARMONIC_DB` above the median of
    the five harmonics around them (themselves included). A held note exactly on a hum
    harmonic (a flute at 200 Hz over 50 Hz hum, the 3rd partial of a 200 Hz note on the
    10th harmonic of 60 Hz) holds its phase as hum does, and subtracting it would take the
    note out; hum's own harmonics change by a few dB from one to the next.

    >>> level = np.array([1.0, 0.5, 0.6, 40.0, 0.4, 0.3, 0.35, 0.2])
    >>> _music_on_harmonics(np.tile(level, (3, 1))).nonzero()[0].tolist()
    [3]
    """
    level = np.abs(amps.mean(axis=0))
    count = len(level)
    if count < 3:
        return np.zeros(count, bool)
    padded = np.pad(level, 2, mode="edge")
    around = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    return level > around * 10 ** (MUSIC_ON_HARMONIC_DB / 20)


GAIN_BLOCKS = 15
"""The gain shared by all harmonics is followed under a Hann window of this many blocks
(about 3 s at 0.2 s steps): a level change is followed within a second or two, while each
harmonic's own amplitude and phase still average over :data:`SMOOTH_BLOCKS`."""
ROBUST_PASSES = 3


def _hum_model(amps: np.ndarray) -> np.ndarray:
    """The hum in every block, ``(blocks, harmonics)`` complex, from the measured
    amplitudes ``amps`` (same shape): g[b] * H[b, k], a real gain shared by every harmonic
    (smoothed over :data:`GAIN_BLOCKS`) times a per-harmonic amplitude (smoothed over
    :data:`SMOOTH_BLOCKS`), fitted by weighted least squares with Cauchy weights
    1 / (|miss|^2 + its median over the blocks), a few passes over.

    Why: music that sits on a harmonic in some blocks (a bass note, a chord partial) shows
    up there as a large miss and gets little say in that harmonic; the shared gain pools
    every harmonic, so one busy harmonic cannot drag the level of the others. A step in
    the level is blurred over about a second either side:

    >>> import numpy as np
    >>> hum = np.outer(np.r_[np.ones(20), np.full(20, 0.5)], [1.0, 0.5j, -0.3])
    >>> noisy = hum.copy(); noisy[5:9, 1] += 4.0
    >>> miss = np.abs(_hum_model(noisy) - hum).max(axis=1)
    >>> bool(miss[5:9].max() < 0.01), bool(miss[np.r_[0:15, 26:40]].max() < 0.01)
    (True, True)
    """
    count = amps.shape[0]
    profile = _smooth_blocks(amps, SMOOTH_BLOCKS)
    gain = np.ones(count)
    for _ in range(ROBUST_PASSES):
        resid = np.abs(amps - gain[:, None] * profile) ** 2
        weight = 1.0 / (resid + np.median(resid, axis=0, keepdims=True) + 1e-30)
        # The gain: one real number per block, pooled over the harmonics, then smoothed
        # (numerator and denominator apart, so it stays a weighted least-squares fit).
        num = np.sum(weight * (np.conj(profile) * amps).real, axis=1)
        den = np.sum(weight * np.abs(profile) ** 2, axis=1)
        num = _smooth_blocks(num[:, None], GAIN_BLOCKS)[:, 0]
        den = _smooth_blocks(den[:, None], GAIN_BLOCKS)[:, 0]
        gain = np.maximum(num / np.maximum(den, 1e-30), 0.0)
        # Each harmonic's amplitude over the long window, given the gain.
        num_h = _smooth_blocks(weight * gain[:, None] * amps, SMOOTH_BLOCKS)
        den_h = _smooth_blocks(weight * gain[:, None] ** 2, SMOOTH_BLOCKS)
        profile = num_h / np.maximum(den_h, 1e-30)
    return gain[:, None] * profile


MIN_REDUCTION_DB = -1.0
"""The power at the detected harmonics must drop at least this much (dB) for the removal to
count; less means the model missed the hum, and the audio is left as it was."""


def _level_at_harmonics_db(mono: np.ndarray, rate: float, f0: float,
                           harmonics: list[int]) -> float:
    """Long-term power (dB, summed) within the peak windows of the first eight of
    ``harmonics`` of ``f0``: 1 s Hann frames at 0.25 Hz steps, as :func:`detect_hum` sees
    them, averaged a few dozen frames at a time so a long take needs little memory.

    >>> rate = 4000
    >>> t = np.arange(3 * rate) / rate
    >>> hum = np.sin(2 * np.pi * 50 * t)
    >>> a = _level_at_harmonics_db(hum, rate, 50.0, [1])
    >>> b = _level_at_harmonics_db(0.1 * hum, rate, 50.0, [1])
    >>> round(a - b, 1)
    20.0
    """
    ks = sorted(harmonics)[:8] or [1]
    factor = max(int(rate // (2.4 * (max(ks) + 2) * f0)), 1)
    if factor > 1:
        mono = resample_poly(mono, 1, factor)
    low_rate = rate / factor
    seg = min(len(mono), int(round(low_rate)))
    nfft = next_fast_len(int(round(4 * low_rate)), real=True)
    hop = max(seg // 2, 1)
    window = np.hanning(seg)
    frames = np.lib.stride_tricks.sliding_window_view(mono, seg)[::hop]
    total = np.zeros(nfft // 2 + 1)
    for start in range(0, len(frames), 64):
        total += np.sum(np.abs(sp_fft.rfft(frames[start : start + 64] * window, nfft)) ** 2,
                        axis=0)
    power = _harmonic_power_db(total / max(len(frames), 1), low_rate / nfft, f0, ks)
    return 10 * math.log10(max(sum(10 ** (p / 10) for p in power), 1e-30))


REGION_FADE_S = 0.5
"""Around a stretch of hum (:attr:`HumProfile.regions_s`) the removal fades in and out over
this long: the stretch's ends are known to about a quarter of a second."""


def _regions_here(mono: np.ndarray, rate: int, profile: HumProfile,
                  low: np.ndarray | None) -> list[tuple[float, float]]:
    """The profile's regions when it was found in this very audio; otherwise (a profile learnt
    on another stretch of the file) where its hum shows in this audio (``low``: ``mono``
    brought down by :func:`_detect_factor`)."""
    n_s = len(mono) / rate
    if profile.duration_s is not None and abs(profile.duration_s - n_s) < 1e-6:
        return list(profile.regions_s)
    factor = _detect_factor(rate)
    if low is not None:
        mono = low
    elif factor > 1:
        mono = resample_poly(mono, 1, factor)
    freqs, frames = _spectrogram(mono, rate / factor)
    return _hum_regions(frames, float(freqs[1] - freqs[0]), profile, n_s)


def _upsample_linear(track: np.ndarray, factor: int, n: int) -> np.ndarray:
    """``track`` (one value every ``factor`` samples) drawn at every sample by straight
    lines, held after its last value: ``n`` values (what ``np.interp`` gives, without its
    search).

    >>> _upsample_linear(np.array([0.0, 3.0, 6.0]), 3, 8).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.0]
    """
    if factor == 1 or len(track) < 2:
        return np.resize(track, n) if len(track) >= n else np.pad(track, (0, n - len(track)),
                                                                   mode="edge")
    steps = np.arange(factor) / factor
    lines = (track[:-1, None] + np.diff(track)[:, None] * steps[None, :]).ravel()
    if len(lines) >= n:
        return lines[:n]
    return np.concatenate([lines, np.full(n - len(lines), track[-1])])


@dataclass
class _Removal:
    out: np.ndarray
    harmonics_removed: int
    drift_hz: float
    reduction_db: float


def _remove(audio: np.ndarray, rate: int, f0: float, profile: HumProfile,
            mix: np.ndarray) -> _Removal:
    """Track the hum of ``profile`` through ``audio`` (frames, channels; ``mix`` is its
    channel mix), model it per channel and subtract it."""
    n = audio.shape[0]
    top = max(int((min(rate / 2, 12000.0) - f0) // f0), 1)
    block = int(BLOCK_S * rate) // 2 * 2
    strong = np.asarray(profile.harmonics, dtype=np.int64) - 1
    # The phase track is measured on the channel mix, at a low rate (the low harmonics
    # carry it), then brought back to the full rate: the hum is one signal in every channel.
    factor = max(int(rate // TRACK_RATE), 1)
    if factor > 1:
        low = resample_poly(mix, 1, factor)
        low_rate = rate / factor
    else:
        low, low_rate = mix, float(rate)
    low_top = max(min(TRACK_HARMONICS, int((low_rate / 2 * 0.8 - f0) // f0)), 1)
    low_block = block // factor // 2 * 2
    track, drift = _track_phase(low, low_rate, f0, low_block, low_top, strong)
    # Continue the low-rate track: its phase at each full-rate sample.
    unwrapped = _upsample_linear(track, factor, n)
    out = np.empty_like(audio)
    kept_counts = []
    fold = _folding(unwrapped, block)
    removed = np.zeros((fold.blocks, top), dtype=np.complex128)
    on_music = np.zeros(top, bool)
    for c in range(audio.shape[1]):
        amps = _amplitudes(audio[:, c], fold, block, top)
        music = _music_on_harmonics(amps)
        on_music |= music
        keep = _holding(amps) & ~music
        kept_counts.append(int(keep.sum()))
        hum = np.zeros_like(amps)
        hum[:, keep] = _hum_model(amps[:, keep])
        out[:, c] = audio[:, c] - _synthesise(hum, fold, n)
        removed += hum
    # What the model took out where the hum was seen: a model that did not lock on (a wrong
    # fundamental) changes the signal without touching the hum, and must not claim it did.
    # (harmonics left to a note sitting on them are not what the model is judged on)
    ks = sorted(k for k in profile.harmonics if k > top or not on_music[k - 1])[:8] or sorted(
        profile.harmonics)[:8]
    if (max(ks) + 2) * f0 < low_rate / 2 * 0.8:
        # Measured on the low-rate mix, less the same hum model drawn at the low rate along
        # the phase track (the long FFTs of the measure need nothing faster).
        low_fold = _folding(track, low_block)
        count = min(low_fold.blocks, removed.shape[0])
        low_removed = np.zeros((low_fold.blocks, low_top), dtype=np.complex128)
        low_removed[:count] = removed[:count, :low_top] / audio.shape[1]
        low_removed[count:] = low_removed[count - 1]
        before_db = _level_at_harmonics_db(low, low_rate, f0, ks)
        after = low - _synthesise(low_removed, low_fold, len(low))
        after_db = _level_at_harmonics_db(after, low_rate, f0, ks)
    else:
        before_db = _level_at_harmonics_db(mix, rate, f0, ks)
        after_db = _level_at_harmonics_db(channel_mix(out), rate, f0, ks)
    return _Removal(out, max(kept_counts), drift, after_db - before_db)


@single_threaded
def dehum(
    x: np.ndarray,
    rate: int,
    *,
    freq_hz: float | None = None,
    profile: HumProfile | None = None,
) -> tuple[np.ndarray, RestoreReport]:
    """Remove hum and its harmonics.

    A hum that is there for only part of the take (an amp switched on later, a dimmer for a
    few seconds) is removed only where it is, fading in and out over :data:`REGION_FADE_S`;
    the rest of the take passes unchanged.

    Args:
        x: audio, (frames,) or (frames, channels).
        rate: sample rate, Hz.
        freq_hz: the hum fundamental if known (searched +-2 % around it); default: 50/60 Hz.
        profile: a :class:`HumProfile` from :func:`detect_hum` (a file driver detects once;
            when it was found on other audio, its regions are found again in this one).

    Returns:
        The audio with the hum subtracted (unchanged when no hum is found) and a report.
    """
    audio, mono = as_2d(x)
    mix = channel_mix(audio)
    base = _detect_factor(rate)
    detect_low = None
    if base > 1 and (profile is None or profile.found):
        detect_low = resample_poly(mix, 1, base)
    if profile is None:
        profile = _detect_in_mix(mix, rate, freq_hz, low=detect_low)
    if not profile.found or audio.shape[0] < rate // 4:
        report = RestoreReport("dehum", False, "no hum found")
        return restore_shape(audio.copy(), mono), report
    f0 = float(profile.fundamental_hz)  # type: ignore[arg-type]
    n = audio.shape[0]
    regions = _regions_here(mix, rate, profile, detect_low)
    figures: dict = {
        "fundamental_hz": round(f0, 3),
        "strong_harmonics": profile.harmonics,
        "hum_level_dbfs": round(profile.level_dbfs, 2),
    }
    if not regions:
        done = _remove(audio, rate, f0, profile, mix)
        out, reduction_db = done.out, done.reduction_db
        removed, drift = done.harmonics_removed, done.drift_hz
    else:
        out = audio.copy()
        fade = int(REGION_FADE_S * rate)
        removals = []
        for start_s, end_s in regions:
            a, b = int(start_s * rate), min(int(end_s * rate), n)
            lo, hi = max(a - fade, 0), min(b + fade, n)
            done = _remove(audio[lo:hi], rate, f0, profile, mix[lo:hi])
            removals.append(done)
            if not done.reduction_db <= MIN_REDUCTION_DB:
                continue
            t = np.arange(lo, hi)
            weight = np.clip(np.minimum((t - (a - fade)) / max(fade, 1),
                                        ((b + fade) - t) / max(fade, 1)), 0.0, 1.0)
            weight[(t >= a) & (t < b)] = 1.0
            if lo == 0:
                weight[t < a] = 1.0
            if hi == n:
                weight[t >= b] = 1.0
            out[lo:hi] = audio[lo:hi] + weight[:, None] * (done.out - audio[lo:hi])
        # (the reduction that counts is the best region's: each was judged on its own)
        reduction_db = min(r.reduction_db for r in removals)
        removed = max(r.harmonics_removed for r in removals)
        drift = max(r.drift_hz for r in removals)
        figures["hum_regions_s"] = [[a, b] for a, b in regions]
    figures["hum_reduction_db"] = round(reduction_db, 2)
    if not reduction_db <= MIN_REDUCTION_DB:
        report = RestoreReport(
            "dehum",
            False,
            f"{f0:.2f} Hz hum, but the hum model took out almost nothing at its harmonics "
            f"({reduction_db:+.1f} dB there)",
            figures=figures,
        )
        return restore_shape(audio.copy(), mono), report
    changed_db, fraction = change_figures(audio, out)
    where = ""
    if regions:
        where = " in " + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in regions)
    figures.update({
        "prominence_db": profile.prominence_db,
        "harmonics_removed": removed,
        "drift_hz": round(drift, 3),
    })
    report = RestoreReport(
        process="dehum",
        applied=True,
        found=(f"{f0:.2f} Hz hum{where}, {removed} harmonics, "
               f"{-reduction_db:.1f} dB less at its detected harmonics"),
        changed_db=changed_db,
        changed_fraction=fraction,
        figures=figures,
    )
    return restore_shape(out, mono), report
