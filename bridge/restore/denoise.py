"""Broadband noise reduction (hiss, air conditioning, amp noise) without a noise clip.

How it works:

- Noise profile: learnt from a region you name, or from the quietest 10 % of frames. Those are
  chosen first by energy, then once more by the sum over bins of each bin's power relative to
  the profile so far: by energy alone, noise that is much stronger in a few bins (the bottom
  octaves of pink noise) picks the frames where those bins dip and comes out several dB low
  there. The profile may rise at most 3 dB above its running median
  across 15 bins: music that never stops leaves its steady partials in the quietest frames as
  narrow peaks, which broadband noise does not have (a steady whine is dehum's or a notch's
  job).
- Gain: a Wiener gain whose a-priori SNR is the log-domain mean over about 56 ms x 3 bins
  (keeps "musical noise" down and follows onsets without the lag of the decision-directed
  estimator), then a second step: that gain applied to the cell's own power is the a-priori
  SNR of the final gain, which lets a strong cell through and holds a weak one down inside the
  same neighbourhood ("two-step" noise reduction). Below 40 Hz no cell goes down by more than
  6 dB: rumble is lowered gently, and a recording's own slow drift, which looks just like
  noise there, is mostly kept.
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

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

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


RUMBLE_HZ = 40.0
RUMBLE_REDUCTION_DB = 6.0
"""Below ``RUMBLE_HZ`` no cell is turned down by more than this: rumble there is lowered
gently, and a recording's own slow drift (which looks just like noise there) is mostly kept."""


def _profile_from_power(power: np.ndarray, quietest_fraction: float | None) -> np.ndarray:
    # Ignore the zero padding frames at either end of the STFT.
    p = power[2 * OVERLAP : -2 * OVERLAP] if power.shape[0] > 8 * OVERLAP else power
    if quietest_fraction is None:
        return p.mean(axis=0, dtype=np.float64)
    keep = min(len(p), max(3, int(len(p) * quietest_fraction)))

    def quietest(score: np.ndarray) -> np.ndarray:
        chosen = p[np.argpartition(score, keep - 1)[:keep]]
        return _without_peaks(chosen.mean(axis=0, dtype=np.float64))

    profile = quietest(p.sum(axis=1, dtype=np.float64))
    for _ in range(RESELECT_PASSES):
        # One vote per bin; bins of digital silence would get all the votes, so cap them.
        weight = 1.0 / np.maximum(profile, max(1e-10 * float(profile.max()), 1e-30))
        profile = quietest(p @ weight.astype(p.dtype))
    return profile


def _noise_level_dbfs(power: dict[int, np.ndarray]) -> float:
    size = min(power, key=lambda s: abs(s - 2 * min(power)))
    # Parseval with the sqrt-Hann window: sum |X|^2 = size^2 / 2 * mean x^2 per frame.
    mean_sq = float(np.mean(power[size].sum(axis=1))) * 2 / (size * size / 2)
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
    powers: dict[int, np.ndarray] = {}
    for seconds in RESOLUTIONS_S:
        size = frame_size_for(rate, seconds)
        powers[size] = np.stack(
            [
                _profile_from_power(_power(stft(audio[:, c], size, size // OVERLAP)), fraction)
                for c in range(audio.shape[1])
            ]
        )
    level = _noise_level_dbfs(powers)
    return NoiseProfile(rate=rate, power=powers, level_dbfs=level, source=source)


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
    floor: float,
    rumble_bins: int,
    rumble_floor: float,
) -> np.ndarray:
    """Apply the two-step Wiener gain to ``spectra`` in place (``power`` is their |X|^2)."""
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
    np.maximum(gain, np.float32(floor), out=gain)
    np.maximum(gain[:, :rumble_bins], np.float32(rumble_floor), out=gain[:, :rumble_bins])
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
    # One contiguous float32 copy per channel, summed per channel: the STFT works in float32
    # and a strided column would be converted again for every resolution.
    channels = [np.ascontiguousarray(audio[:, c], dtype=np.float32) for c in range(audio.shape[1])]
    sums = np.zeros((len(channels), audio.shape[0]))
    learnt: dict[int, np.ndarray] = {}
    for seconds in RESOLUTIONS_S:
        size = frame_size_for(rate, seconds)
        hop = size // OVERLAP
        rows = []
        for c, channel in enumerate(channels):
            spectra = stft(channel, size, hop)
            power = _power(spectra)
            if profile is None:
                noise = _profile_from_power(power, 0.1)
                rows.append(noise)
            else:
                noise = profile.power[size][min(c, profile.power[size].shape[0] - 1)]
            rumble_bins = int(np.ceil(RUMBLE_HZ * size / rate))
            cleaned = _wiener(spectra, power, noise, hop / rate, floor, rumble_bins, rumble_floor)
            sums[c] += istft(cleaned, size, hop, audio.shape[0])
        if rows:
            learnt[size] = np.stack(rows)
    out = sums.T / len(RESOLUTIONS_S)
    if profile is None:
        profile = NoiseProfile(rate, learnt, _noise_level_dbfs(learnt), "quietest frames")
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
