"""Broadband noise reduction (hiss, air conditioning, amp noise) without a noise clip.

How it works:

- Noise profile: learnt from a region you name, or from the quietest 10 % of frames. Those are
  chosen first by energy, then once more by the sum over bins of each bin's power relative to
  the profile so far: by energy alone, noise that is much stronger in a few bins (the bottom
  octaves of pink noise) picks the frames where those bins dip and comes out several dB low
  there. The profile may rise at most 3 dB above its running median
  across 15 bins: music that never stops leaves its steady partials in the quietest frames as
  narrow peaks, which broadband noise does not have (a steady whine is dehum's or a notch's
  job). When most of the quietest frames' power stands well over the floor between partials
  at the longest frame (a held synth, a drone, an organ chord: music with no quiet frames at
  all), that floor caps the profile at every frame size: the 16 ms frames alone cannot tell a
  55 Hz square wave's partials from noise. A clean square wave used to change by -10.5 dB, a
  drone by -18; now -39 and -28, and with noise at 20 dB SNR they come out 7-10 dB cleaner.
- Gain: a Wiener gain whose a-priori SNR is the log-domain mean over about 56 ms x 3 bins
  (keeps "musical noise" down and follows onsets without the lag of the decision-directed
  estimator), then a second step: that gain applied to the cell's own power is the a-priori
  SNR of the final gain, which lets a strong cell through and holds a weak one down inside the
  same neighbourhood ("two-step" noise reduction). Below 40 Hz no cell goes down by more than
  6 dB: rumble is lowered gently, and a recording's own slow drift, which looks just like
  noise there, is mostly kept.
- Infrasound: in a take of 5 s or more the band under 20-30 Hz is split off, at about 100 Hz
  with 1.2 s frames (1 Hz bins; the 16 ms frames' lowest bin is 60 Hz wide), and judged. When
  it holds noise (steady, varying from frame to frame as noise does, well above the noise per
  Hz over 100-1000 Hz and at least 2 % of the power: pink noise, rumble), it is cleaned on its
  own with the same gain, whose profile there is the median frame (noise under 1 Hz wanders,
  and its quietest frames are far under its mean), and under 20 Hz, where no instrument has a
  fundamental, cells may go down by the full ``reduction_db``. Otherwise nothing is split and
  the band is handled with the rest, as above. Pink noise puts about half its power under
  10 Hz: at 0 dB SNR on speech this lifts the result from 3.2 to 7.2 dB SI-SDR.
- Three STFT resolutions (16, 32 and 64 ms at any rate) are run and averaged: each one smears
  differently, and their mean is closer to the clean signal than any one of them.

    >>> import numpy as np
    >>> from bridge.restore.corrupt import add_noise, si_sdr_db
    >>> rate = 16000
    >>> t = np.arange(rate * 2) / rate
    >>> clean = np.sin(2 * np.pi * 220 * t) * (t % 0.5 < 0.25)
    >>> noisy = add_noise(clean, snr_db=5, seed=3)
    >>> cleaned, report = denoise(noisy, rate)
    >>> si_sdr_db(clean, cleaned) > si_sdr_db(clean, noisy) + 8
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import median_filter, percentile_filter

from bridge.restore.blas import single_threaded
from bridge.restore.report import RestoreReport, as_2d, change_figures, restore_shape
from bridge.restore.stft import frame_size_for, istft, stft

RESOLUTIONS_S = (0.016, 0.032, 0.064)
"""Frame lengths, in seconds, of the STFTs that are averaged."""


@dataclass
class NoiseProfile:
    """The noise power spectrum per channel, for each STFT frame size used."""

    rate: int
    power: dict[int, np.ndarray]
    """frame size -> array (channels, size // 2 + 1) of mean |X|^2 per bin."""
    level_dbfs: float
    """RMS level of the noise, dBFS."""
    source: str
    """``quietest frames`` or ``region a..b s``."""
    low_power: np.ndarray | None = None
    """array (channels, LOW_FRAME // 2 + 1): the same for the band under ``LOW_SPLIT_HZ``,
    at the decimated rate ``rate / low_decimation(rate)``; None: that band is left as is."""
    low_dominated: np.ndarray | None = None
    """array (channels,) of bool: whether the noise under ``INFRASONIC_HZ`` stands well above the
    noise in the rest of the spectrum (pink noise, rumble); only then is that band cleaned."""


OVERLAP = 2
"""STFT frames per frame length (2 = 50 % overlap)."""

SPAN_S = 0.056
"""Time span, in seconds, of the neighbourhood the a-priori SNR is averaged over."""


def _power(spectra: np.ndarray) -> np.ndarray:
    return spectra.real**2 + spectra.imag**2


RESELECT_PASSES = 1
"""Times the quietest frames are chosen again, by power relative to the noise learnt so far
(more passes take out more of a steady bass line under pink noise)."""

PEAK_BINS = 15
"""Width, in bins, of the running median that gives the noise profile's smooth envelope."""

PEAK_RATIO = 2.0
"""How far (power ratio) a learnt profile may rise above its smooth envelope: steady partials
of music that never stops get into the quietest frames as narrow peaks; broadband noise has
none."""


def _without_peaks(profile: np.ndarray) -> np.ndarray:
    envelope = median_filter(profile, size=PEAK_BINS, mode="nearest")
    return np.minimum(profile, PEAK_RATIO * envelope)


VALLEY_BINS = 9
"""Width, in bins of the longest frame, of the window whose low percentile is the floor
between a steady sound's partials (9 bins: 140 Hz at 64 ms)."""

VALLEY_PERCENTILE = 20.0
VALLEY_SLACK = 2.0
"""The partials cap sits this far (power ratio) over that floor: the mean over the quietest
frames of noise is within it in every bin (0.65-0.8 of the mean at the 20th percentile)."""

PARTIALS_SHARE = 0.5
"""The cap is used when at least this share of the quietest frames' power stands over it."""


def _partials_cap(quiet: np.ndarray) -> np.ndarray | None:
    """A ceiling for the noise profile when the quietest frames are a steady sound, not noise.

    ``quiet`` is the mean power of the quietest frames at the longest frame size, before
    :func:`_without_peaks`. Music that never stops (a held synth, a drone, an organ chord) has
    no quiet frames: its quietest frames are the music, and the shorter frames cannot tell its
    partials from noise (a 55 Hz square wave fills every 62 Hz bin of a 16 ms frame). At 64 ms
    the partials stand apart, and what lies between them is the noise. Returns that floor
    (times :data:`VALLEY_SLACK`) when most of the quietest frames' power stands over it, else
    None (noise, or noise with a few tones in it: the profile is left as it is).
    """
    valley = percentile_filter(quiet, VALLEY_PERCENTILE, size=VALLEY_BINS, mode="nearest")
    cap = VALLEY_SLACK * valley
    above = float(np.sum(quiet - np.minimum(quiet, cap)))
    if above < PARTIALS_SHARE * float(np.sum(quiet)):
        return None
    return cap


def _cap_for(cap: np.ndarray, size: int) -> np.ndarray:
    """The partials cap learnt at one frame size, as a per-bin power at frame ``size``
    (noise power per bin grows with the frame length)."""
    longest = 2 * (len(cap) - 1)
    if size == longest:
        return cap
    freq = np.arange(size // 2 + 1) * (longest / size)
    return np.interp(freq, np.arange(len(cap)), cap) * (size / longest)


RUMBLE_HZ = 40.0
RUMBLE_REDUCTION_DB = 6.0
"""Between ``INFRASONIC_HZ`` and ``RUMBLE_HZ`` no cell is turned down by more than this: kick
and bass fundamentals live there, so rumble is lowered gently."""

INFRASONIC_HZ = 20.0
"""Below this no instrument has a fundamental (the lowest organ pipe is 16 Hz): where the noise
profile says a cell is noise, it may go down by the full ``reduction_db``."""

LOW_SPLIT_HZ = (INFRASONIC_HZ, 30.0)
"""The band under these frequencies (raised-cosine crossover between them) is split off and
cleaned on its own at a low rate with second-long frames: the shortest STFT bins are 60 Hz
wide and cannot tell 5 Hz from 50 Hz, and coloured noise can hold much of its power there
(pink noise: about half of it under 10 Hz)."""

LOW_RATE_HZ = 100.0
"""The band under ``LOW_SPLIT_HZ`` is resampled to at least this rate."""

LOW_FRAME = 128
"""STFT frame of that band, in samples at its rate (about 1.1-1.3 s: bins of about 1 Hz)."""


@functools.lru_cache(maxsize=32)
def low_decimation(rate: int) -> int:
    """The largest 5-smooth factor that keeps ``rate / factor`` at or above ``LOW_RATE_HZ``
    (125 at 16 kHz, 360 at 44.1 kHz): full-length FFTs stay fast and every chunk of a file
    gets the same low-band rate, so one learnt profile fits them all."""
    limit = max(1, int(rate // LOW_RATE_HZ))
    best = 1
    for two in range(0, 20):
        for three in range(0, 13):
            for five in range(0, 9):
                value = 2**two * 3**three * 5**five
                if best < value <= limit:
                    best = value
    return best


@dataclass
class _Split:
    """One channel split at ``LOW_SPLIT_HZ``: ``low`` at ``rate / (stage * factor)``.

    The low band is taken down in two steps: a triangular moving sum over ``stage`` samples
    (two box filters: whatever lands on 0-30 Hz after the first step is at least 60 dB down)
    and an FFT low-pass at the middle rate; it comes back the same way (FFT, then straight
    lines between the middle-rate samples). ``high`` is the channel minus exactly that, so
    ``high + join(low)`` is the channel to rounding error, whatever the steps lose; a full-rate
    FFT of the whole chunk each way cost about three times as much."""

    channel: np.ndarray
    low: np.ndarray
    stage: int
    factor: int
    edge: int

    def join(self, low: np.ndarray) -> np.ndarray:
        """``low`` (at the low rate) back at the full rate, the channel's length."""
        middle_len = len(low) * self.factor
        spectrum = sfft.rfft(low)
        middle = sfft.irfft(spectrum, middle_len) * np.float32(self.factor)
        start = self.edge
        # Straight lines between the middle-rate samples: sample k * stage + j.
        first, last = start // self.stage, (start + len(self.channel) - 1) // self.stage + 1
        seg = middle[first : last + 1].astype(np.float32)
        if len(seg) < last - first + 1:
            seg = np.concatenate([seg, np.zeros(last - first + 1 - len(seg), np.float32)])
        w = np.arange(self.stage, dtype=np.float32) / np.float32(self.stage)
        full = (seg[:-1, None] * (1 - w) + seg[1:, None] * w).ravel()
        offset = start - first * self.stage
        return full[offset : offset + len(self.channel)]

    def high(self) -> np.ndarray:
        """The channel minus its low band, at the full rate (float32)."""
        return self.channel - self.join(self.low)


def _variance(channel: np.ndarray) -> float:
    mean = float(channel.mean(dtype=np.float64))
    return max(float(np.dot(channel, channel)) / max(len(channel), 1) - mean * mean, 0.0)


def _has_low_band(frames: int, rate: int) -> bool:
    """Whether ``frames`` samples hold enough low-band frames to learn that band from."""
    return frames >= LOW_MIN_FRAMES * (LOW_FRAME // OVERLAP) * low_decimation(rate)


def _first_stage(rate: int, decimation: int) -> int:
    """The largest factor of ``decimation`` that keeps the middle rate at or above 600 Hz."""
    return max(d for d in range(1, decimation + 1) if decimation % d == 0 and rate / d >= 600)


def _split(channel: np.ndarray, rate: int) -> _Split:
    decimation = low_decimation(rate)
    stage = _first_stage(rate, decimation)
    factor = decimation // stage
    # Mirrored edges: the low band's second-long frames would otherwise see a step into the
    # zero padding at each end of a chunk, and leave the noise there (the file driver's chunks
    # overlap by only 1 s), and a chunk's edges would look like anything but noise.
    edge = min(LOW_FRAME * decimation, len(channel) - 1)
    mirrored = np.pad(channel, edge, mode="reflect") if edge > 0 else channel
    low_len = max(2 * LOW_FRAME, sfft.next_fast_len(-(-len(mirrored) // decimation)))
    low_len += low_len % 2
    middle_len = low_len * factor
    # Triangular moving sum centred on every stage-th sample, from per-block sums: with
    # B0[k] the sum of block k and B1[k] its sum weighted by the offset in the block, the
    # window over x[kS - S + 1 .. kS + S - 1] is S * B0[k] - B1[k] + B1[k - 1].
    blocks = np.zeros(middle_len * stage, np.float32)
    blocks[: len(mirrored)] = mirrored
    blocks = blocks.reshape(middle_len, stage)
    sums = blocks.sum(axis=1, dtype=np.float64)
    moments = blocks @ np.arange(stage, dtype=np.float32)
    middle = stage * sums - moments
    middle[1:] += moments[:-1]
    middle /= stage * stage
    spectrum = sfft.rfft(middle.astype(np.float32))[: low_len // 2 + 1]
    freq_hz = np.arange(low_len // 2 + 1) * (rate / stage / middle_len)
    lo, hi = LOW_SPLIT_HZ
    ramp = np.clip((hi - freq_hz) / (hi - lo), 0.0, 1.0)
    spectrum *= (0.5 - 0.5 * np.cos(np.pi * ramp)).astype(np.float32)
    low = sfft.irfft(spectrum, low_len) * np.float32(low_len / middle_len)
    return _Split(channel, low.astype(np.float32), stage, factor, max(edge, 0))


LOW_MIN_FRAMES = 8
"""Frames of the low band (about 5 s) needed to learn it; a shorter take is not split and its
low end is handled with the rest (at most ``RUMBLE_REDUCTION_DB`` under ``RUMBLE_HZ``)."""

DOMINANCE_DB = 10.0
"""Infrasonic noise must stand this far (per Hz) above the noise over 100-1000 Hz: pink noise
stands 13-17 dB above it, rumble more, white noise 0 dB."""

STEADY_DB = 4.0
"""... and its quietest frames must be within this of its mean (noise is stationary: 0.4-3 dB
under in pink noise; a plosive's or a synth's low end, or offsets that step between takes,
5-30 dB under) ..."""

INFRASONIC_SHARE_DB = -16.5
"""... and the band (1-20 Hz, no DC) must hold at least this share of the channel's power
(without its offset): pink noise at 0 / 5 / 10 / 15 dB SNR under speech holds about -7 / -10
/ -14 to -15.4 / -16.4 dB of it. A recording's own rumble can pass every other test (a
librivox reading holds -18.3 dB under 20 Hz, steady and noise-like), and taking it out would
change a clean take by that much; a weaker band is left to the gentle cut under
``RUMBLE_HZ``, as before ..."""

NOISE_VARIATION = (0.7, 1.3)
"""... and its power must vary from frame to frame as noise does (standard deviation over
mean: 1 for Gaussian noise; 0.75-1.05 measured in pink noise under music and speech): a
loop's kicks, repeated in every frame, are steadier (0.35-0.6), sparse content more uneven."""


def _low_profile(
    power: np.ndarray,
    quietest_fraction: float | None,
    main: np.ndarray,
    rate: int,
    mean_square: float,
) -> tuple[np.ndarray, bool]:
    """Noise profile of the band under ``LOW_SPLIT_HZ``, and whether that band holds noise
    well above the rest (``main`` is the channel's profile of one main frame size,
    ``mean_square`` the channel's variance).

    The profile is the median frame, not the quietest: noise there wanders on the scale of a
    frame (pink noise under 1 Hz), so the quietest frames are those where it passes near zero
    and came out 8-15 dB low in the bottom bins; the median of an exponentially distributed
    power is ln 2 times its mean (the DC bin is real: 0.455 times). Only a band that holds
    noise by the tests above (2-20 Hz) is cleaned; anything else there is the recording's own,
    and it is left exactly as it is."""
    p = power[2 * OVERLAP : -2 * OVERLAP] if power.shape[0] > 8 * OVERLAP else power
    mean = p.mean(axis=0, dtype=np.float64)
    quiet = mean if quietest_fraction is None else _profile_from_power(power, quietest_fraction)
    median = np.median(p, axis=0).astype(np.float64)
    low_rate = rate / low_decimation(rate)
    band = np.arange(LOW_FRAME // 2 + 1) * low_rate / LOW_FRAME
    band = (band >= 2.0) & (band < INFRASONIC_HZ)
    size = 2 * (len(main) - 1)
    main_hz = np.arange(size // 2 + 1) * rate / size
    # |X|^2 of noise with a per-Hz density d is d * rate / 2 * size / 2 (sqrt-Hann frames).
    low = float(np.median(quiet[band])) / (low_rate * LOW_FRAME)
    mid = float(np.median(main[(main_hz >= 100.0) & (main_hz < 1000.0)])) / (rate * size)
    floor = 1e-30
    # Parseval with the sqrt-Hann window, as in _noise_level_dbfs; without the DC bin (an
    # offset is no noise, and SI-SDR and every meter ignore it).
    infrasonic = np.arange(len(band)) * low_rate / LOW_FRAME < INFRASONIC_HZ
    share = float(mean[1:][infrasonic[1:]].sum()) * 2 / (LOW_FRAME * LOW_FRAME / 2)
    dominated = bool(
        share > max(mean_square, floor) * 10.0 ** (INFRASONIC_SHARE_DB / 10.0)
        and low > mid * 10.0 ** (DOMINANCE_DB / 10.0)
        and np.median(quiet[band] / np.maximum(mean[band], floor)) > 10.0 ** (-STEADY_DB / 10.0)
        and NOISE_VARIATION[0]
        <= np.median(p[:, band].std(axis=0) / np.maximum(mean[band], floor))
        <= NOISE_VARIATION[1]
    )
    if quietest_fraction is None:
        return mean, dominated
    profile = median / math.log(2)
    profile[0] = median[0] / 0.455
    return profile, dominated


def _low_floor(rate: int, floor: float, rumble_floor: float) -> np.ndarray:
    freq_hz = np.arange(LOW_FRAME // 2 + 1) * (rate / low_decimation(rate)) / LOW_FRAME
    return np.where(freq_hz < INFRASONIC_HZ, floor, rumble_floor).astype(np.float32)


def _profile_from_power(power: np.ndarray, quietest_fraction: float | None) -> np.ndarray:
    return _quietest_power(power, quietest_fraction)[0]


def _quietest_power(power: np.ndarray, quietest_fraction: float | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The noise profile from the quietest frames (peaks capped), and those frames' plain mean."""
    # Ignore the zero padding frames at either end of the STFT.
    p = power[2 * OVERLAP : -2 * OVERLAP] if power.shape[0] > 8 * OVERLAP else power
    if quietest_fraction is None:
        mean = p.mean(axis=0, dtype=np.float64)
        return mean, mean
    keep = min(len(p), max(3, int(len(p) * quietest_fraction)))

    def quietest(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chosen = p[np.argpartition(score, keep - 1)[:keep]].mean(axis=0, dtype=np.float64)
        return _without_peaks(chosen), chosen

    profile, raw = quietest(p.sum(axis=1, dtype=np.float64))
    for _ in range(RESELECT_PASSES):
        # One vote per bin; bins of digital silence would get all the votes, so cap them.
        weight = 1.0 / np.maximum(profile, max(1e-10 * float(profile.max()), 1e-30))
        profile, raw = quietest(p @ weight.astype(p.dtype))
    return profile, raw


def _noise_level_dbfs(power: dict[int, np.ndarray], low_power: np.ndarray | None) -> float:
    size = min(power, key=lambda s: abs(s - 2 * min(power)))
    # Parseval with the sqrt-Hann window: sum |X|^2 = size^2 / 2 * mean x^2 per frame.
    mean_sq = float(np.mean(power[size].sum(axis=1))) * 2 / (size * size / 2)
    if low_power is not None:
        mean_sq += float(np.mean(low_power.sum(axis=1))) * 2 / (LOW_FRAME * LOW_FRAME / 2)
    return 10 * math.log10(max(mean_sq, 1e-20))


def learn_noise_profile(
    x: np.ndarray,
    rate: int,
    region_s: tuple[float, float] | None = None,
    quietest_fraction: float = 0.1,
) -> NoiseProfile:
    """Learn the noise spectrum from ``region_s`` (start, end in seconds) when given, else
    from the quietest ``quietest_fraction`` of frames (chosen per frame size by energy)."""
    audio, _ = as_2d(x)
    source = "quietest frames"
    fraction: float | None = quietest_fraction
    if region_s is not None:
        a, b = (int(round(v * rate)) for v in region_s)
        a, b = max(a, 0), min(b, audio.shape[0])
        if b - a < frame_size_for(rate, RESOLUTIONS_S[-1]) * 2:
            raise ValueError(f"noise region {region_s} s is too short (needs >= 0.15 s of audio)")
        audio = audio[a:b]
        source = f"region {region_s[0]:.2f}..{region_s[1]:.2f} s"
        fraction = None
    # Too short to learn the low band from: no split, and that band is handled with the rest
    # (at most RUMBLE_REDUCTION_DB under RUMBLE_HZ).
    low_band = _has_low_band(audio.shape[0], rate)
    longest = frame_size_for(rate, RESOLUTIONS_S[-1])
    rows: dict[int, list[np.ndarray]] = {frame_size_for(rate, s): [] for s in RESOLUTIONS_S}
    lows: list[tuple[np.ndarray, bool]] = []
    for c in range(audio.shape[1]):
        channel = np.ascontiguousarray(audio[:, c], dtype=np.float32)
        main, whole = channel, None
        if low_band:
            spectra = stft(channel, longest, longest // OVERLAP)
            whole = _quietest_power(_power(spectra), fraction)
            sp = _split(channel, rate)
            low_power = _power(stft(sp.low, LOW_FRAME, LOW_FRAME // OVERLAP))
            mean_square = _variance(channel)
            lows.append(_low_profile(low_power, fraction, whole[0], rate, mean_square))
            if lows[-1][1]:
                main, whole = sp.high(), None
        cap = None
        for size in sorted(rows, reverse=True):  # the longest first: it gives the cap
            if size == longest and whole is not None:
                profile, quiet = whole
            else:
                profile, quiet = _quietest_power(_power(stft(main, size, size // OVERLAP)),
                                                 fraction)
            if size == longest and fraction is not None:
                cap = _partials_cap(quiet)
            if cap is not None:
                profile = np.minimum(profile, _cap_for(cap, size))
            rows[size].append(profile)
    powers = {size: np.stack(row) for size, row in rows.items()}
    if not lows:
        return NoiseProfile(rate, powers, _noise_level_dbfs(powers, None), source)
    low_profiles = np.stack([p for p, _ in lows])
    dominated = np.array([d for _, d in lows])
    level = _noise_level_dbfs(powers, low_profiles * dominated[:, None])
    return NoiseProfile(rate, powers, level, source, low_profiles, dominated)


def _box_mean(values: np.ndarray, time_span: int, bins: int) -> np.ndarray:
    """Mean over a ``time_span`` x ``bins`` box (odd sizes), edges repeated; the same as
    ``scipy.ndimage.uniform_filter(mode="nearest")`` but a third faster on these small boxes."""
    ht, hf = time_span // 2, bins // 2
    padded = np.pad(values, ((ht, ht), (hf, hf)), mode="edge")
    n_t, n_f = values.shape
    across = padded[:, :n_f].copy()
    for k in range(1, bins):
        across += padded[:, k : k + n_f]
    out = across[:n_t].copy()
    for k in range(1, time_span):
        out += across[k : k + n_t]
    out *= np.float32(1.0 / (time_span * bins))
    return out


def _wiener(
    spectra: np.ndarray,
    power: np.ndarray,
    noise: np.ndarray,
    hop_s: float,
    floor: np.ndarray,
) -> np.ndarray:
    """Apply the two-step Wiener gain to ``spectra`` in place (``power`` is their |X|^2);
    ``floor`` is the lowest gain per bin."""
    # Digital silence in the profile would make every gain 1/0; keep a tiny floor.
    noise = np.maximum(noise, 1e-12 * max(float(power.mean()), 1e-20)).astype(np.float32)
    post = power / noise
    log_snr = np.maximum(post, np.float32(1e-6))
    np.log(log_snr, out=log_snr)
    # About SPAN_S by 3 bins: long enough to tell a partial from a noise peak, short enough
    # to follow a consonant.
    time_span = max(3, int(round(SPAN_S / hop_s)) | 1)
    prior = _box_mean(log_snr, time_span, 3)
    np.exp(prior, out=prior)
    # gain = prior / (1 + prior) with prior = max(exp(...) - 1, 1e-3); written with one
    # temporary: 1 - 1 / max(exp(...), 1 + 1e-3).
    np.maximum(prior, np.float32(1.0 + 1e-3), out=prior)
    np.reciprocal(prior, out=prior)
    gain = np.subtract(np.float32(1.0), prior, out=prior)
    # Two-step: the first gain applied to this cell's own power is the second a-priori SNR.
    gain *= gain
    gain *= post
    post = np.add(gain, np.float32(1.0), out=post)
    gain /= post
    np.maximum(gain, floor, out=gain)
    spectra *= gain
    return spectra


@single_threaded
def denoise(
    x: np.ndarray,
    rate: int,
    *,
    profile: NoiseProfile | None = None,
    region_s: tuple[float, float] | None = None,
    reduction_db: float = 30.0,
) -> tuple[np.ndarray, RestoreReport]:
    """Reduce stationary broadband noise.

    Args:
        x: audio, (frames,) or (frames, channels), float.
        rate: sample rate in Hz.
        profile: a learnt :class:`NoiseProfile` (a file driver learns it once for a whole
            file); when None it is learnt from ``x`` (``region_s`` or the quietest frames).
        reduction_db: the most any time-frequency cell is turned down, in dB (> 0).

    Returns:
        The cleaned audio (same shape) and a :class:`RestoreReport`.
    """
    audio, mono = as_2d(x)
    if reduction_db <= 0:
        raise ValueError("reduction_db must be > 0")
    if profile is not None and profile.rate != rate:
        raise ValueError(f"noise profile is for {profile.rate} Hz, audio is {rate} Hz")
    if audio.shape[0] == 0:
        return restore_shape(audio.copy(), mono), RestoreReport("denoise", False, "empty input")
    if profile is None and region_s is not None:
        profile = learn_noise_profile(audio, rate, region_s)
    floor = 10.0 ** (-reduction_db / 20.0)
    rumble_floor = 10.0 ** (-min(reduction_db, RUMBLE_REDUCTION_DB) / 20.0)
    # One contiguous float32 copy per channel: the STFT works in float32 and a strided column
    # would be converted again for every resolution.
    channels = [np.ascontiguousarray(audio[:, c], dtype=np.float32) for c in range(audio.shape[1])]
    if profile is None:
        low_band = _has_low_band(audio.shape[0], rate)
    else:
        low_band = profile.low_power is not None and profile.low_dominated is not None
    longest = frame_size_for(rate, RESOLUTIONS_S[-1])
    mains: list[np.ndarray] = []
    # Per channel: the longest frame's spectra, power and learnt noise of the whole channel,
    # kept when they serve the main pass as well (no low band of its own).
    reuse: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None] = []
    lows: list[tuple[_Split, np.ndarray, np.ndarray, np.ndarray] | None] = []
    low_rows: list[tuple[np.ndarray, bool]] = []
    for c, channel in enumerate(channels):
        mains.append(channel)
        reuse.append(None)
        lows.append(None)
        if not low_band:
            continue
        if profile is None:
            spectra = stft(channel, longest, longest // OVERLAP)
            power = _power(spectra)
            whole, quiet = _quietest_power(power, 0.1)
            sp = _split(channel, rate)
            low_spectra = stft(sp.low, LOW_FRAME, LOW_FRAME // OVERLAP)
            low_power = _power(low_spectra)
            mean_square = _variance(channel)
            low_noise, dominated = _low_profile(low_power, 0.1, whole, rate, mean_square)
            low_rows.append((low_noise, dominated))
            reuse[c] = (spectra, power, whole, quiet)
        else:
            assert profile.low_power is not None and profile.low_dominated is not None
            row = min(c, profile.low_power.shape[0] - 1)
            low_noise, dominated = profile.low_power[row], bool(profile.low_dominated[row])
            if dominated:
                sp = _split(channel, rate)
                low_spectra = stft(sp.low, LOW_FRAME, LOW_FRAME // OVERLAP)
                low_power = _power(low_spectra)
        if dominated:
            mains[c], reuse[c] = sp.high(), None
            lows[c] = (sp, low_spectra, low_power, low_noise)
    sums = np.zeros((len(channels), audio.shape[0]))
    learnt: dict[int, np.ndarray] = {}
    caps: list[np.ndarray | None] = [None] * len(channels)
    for seconds in sorted(RESOLUTIONS_S, reverse=True):  # the longest first: it gives the cap
        size = frame_size_for(rate, seconds)
        hop = size // OVERLAP
        floors = np.full(size // 2 + 1, floor, np.float32)
        floors[: int(np.ceil(RUMBLE_HZ * size / rate))] = rumble_floor
        rows = []
        for c, main in enumerate(mains):
            kept = reuse[c] if size == longest else None
            if kept is not None:
                spectra, power, noise, quiet = kept
            else:
                spectra = stft(main, size, hop)
                power = _power(spectra)
                if profile is None:
                    noise, quiet = _quietest_power(power, 0.1)
            if profile is None:
                if size == longest:
                    caps[c] = _partials_cap(quiet)
                cap = caps[c]
                if cap is not None:
                    noise = np.minimum(noise, _cap_for(cap, size))
                rows.append(noise)
            else:
                noise = profile.power[size][min(c, profile.power[size].shape[0] - 1)]
            cleaned = _wiener(spectra, power, noise, hop / rate, floors)
            sums[c] += istft(cleaned, size, hop, audio.shape[0])
        if rows:
            learnt[size] = np.stack(rows)
    sums /= len(RESOLUTIONS_S)
    low_floors = _low_floor(rate, floor, rumble_floor)
    for c, low in enumerate(lows):
        if low is None:
            continue
        sp, spectra, power, noise = low
        hop = LOW_FRAME // OVERLAP
        cleaned = _wiener(spectra, power, noise, hop * sp.factor / rate, low_floors)
        sums[c] += sp.join(istft(cleaned, LOW_FRAME, hop, len(sp.low)))
    out = sums.T
    if profile is None:
        if low_rows:
            low_profiles = np.stack([p for p, _ in low_rows])
            dominated = np.array([d for _, d in low_rows])
            # A channel that is not split has that band in its main profile already.
            level = _noise_level_dbfs(learnt, low_profiles * dominated[:, None])
            profile = NoiseProfile(rate, learnt, level, "quietest frames", low_profiles, dominated)
        else:
            profile = NoiseProfile(rate, learnt, _noise_level_dbfs(learnt, None), "quietest frames")
    changed_db, fraction = change_figures(audio, out)
    signal_dbfs = 10 * math.log10(max(float(np.mean(audio**2)), 1e-20))
    report = RestoreReport(
        process="denoise",
        applied=True,
        found=f"noise floor {profile.level_dbfs:.1f} dBFS ({profile.source})",
        changed_db=changed_db,
        changed_fraction=fraction,
        figures={
            "noise_floor_dbfs": round(profile.level_dbfs, 2),
            "signal_dbfs": round(signal_dbfs, 2),
            "estimated_snr_db": round(signal_dbfs - profile.level_dbfs, 2),
            "reduction_db": reduction_db,
        },
    )
    return restore_shape(out, mono), report
