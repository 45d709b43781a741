"""Broadband noise reduction (hiss, air conditioning, amp noise) without a noise clip.

How it works: the noise spectrum is learnt from the quietest 10 % of frames (or from a region
you name), then each short-time spectrum is multiplied by a Wiener gain whose a-priori SNR is
estimated from a time-frequency neighbourhood in the log domain (which keeps "musical noise"
down and follows speech onsets without the lag of the classic decision-directed estimator).
Three STFT resolutions (16, 32 and 64 ms at any rate) are run and averaged: each one smears
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
from scipy.ndimage import uniform_filter

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
SPAN_S = 0.056
"""STFT frames per frame length (2 = 50 % overlap)."""


def _power(spectra: np.ndarray) -> np.ndarray:
    return spectra.real**2 + spectra.imag**2


def _profile_from_power(power: np.ndarray, quietest_fraction: float | None) -> np.ndarray:
    # Ignore the zero padding frames at either end of the STFT.
    p = power[2 * OVERLAP : -2 * OVERLAP] if power.shape[0] > 8 * OVERLAP else power
    if quietest_fraction is not None:
        energy = p.sum(axis=1)
        keep = max(3, int(len(energy) * quietest_fraction))
        p = p[np.argpartition(energy, keep - 1)[:keep]]
    return p.mean(axis=0).astype(np.float64)


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


def _wiener(spectra: np.ndarray, noise: np.ndarray, hop_s: float, floor: float) -> np.ndarray:
    power = _power(spectra)
    # Digital silence in the profile would make every gain 1/0; keep a tiny floor.
    noise = np.maximum(noise, 1e-12 * max(float(power.mean()), 1e-20)).astype(np.float32)
    log_snr = np.log(np.maximum(power / noise, np.float32(1e-6)))
    # About SPAN_S by 3 bins: long enough to tell a partial from a noise peak, short enough
    # to follow a consonant.
    time_span = max(3, int(round(SPAN_S / hop_s)) | 1)
    prior = np.exp(uniform_filter(log_snr, size=(time_span, 3), mode="nearest")) - 1.0
    prior = np.maximum(prior, np.float32(1e-3))
    gain = np.maximum(prior / (1.0 + prior), np.float32(floor))
    return spectra * gain


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
    out = np.zeros_like(audio)
    learnt: dict[int, np.ndarray] = {}
    for seconds in RESOLUTIONS_S:
        size = frame_size_for(rate, seconds)
        hop = size // OVERLAP
        rows = []
        for c in range(audio.shape[1]):
            spectra = stft(audio[:, c], size, hop)
            if profile is None:
                noise = _profile_from_power(_power(spectra), 0.1)
                rows.append(noise)
            else:
                noise = profile.power[size][min(c, profile.power[size].shape[0] - 1)]
            cleaned = _wiener(spectra, noise, hop / rate, floor)
            out[:, c] += istft(cleaned, size, hop, audio.shape[0])
        if rows:
            learnt[size] = np.stack(rows)
    out /= len(RESOLUTIONS_S)
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
