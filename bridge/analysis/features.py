"""Rhythm-ish features from the loudness envelope: onset density.

An onset is a rise of at least ``rise_db`` (6 dB) in the 20 ms-frame K-weighted level over
the previous 60 ms, peaking above the activity threshold, with at least 50 ms between onsets.
``onset_density_per_s`` is onsets per second of *playing* time (active regions joined across
gaps shorter than 2 s), so a drum stem with long rests still reads as busy. It separates
sustained parts (pads, vocals, bass: under ~1/s) from percussive ones (drums, plucks: several
per second); it is not a beat tracker.

Example::

    >>> import numpy as np
    >>> rate = 48000
    >>> x = np.zeros(rate * 4)
    >>> for k in range(8):                       # eight clicks, two per second
    ...     i = rate // 4 + k * rate // 2
    ...     x[i:i + 2400] = np.hanning(4800)[2400:] * np.sin(np.arange(2400) * 0.2)
    >>> onsets(x, rate).count
    8
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.analysis.activity import DEFAULT_THRESHOLD_LUFS, frame_levels

PLAYING_GAP_S = 2.0


@dataclass
class Onsets:
    times_s: list[float]
    count: int
    onset_density_per_s: float | None
    """Onsets per playing second; None when nothing is active."""


def onsets_from_frames(frame_energy: np.ndarray, frame_s: float, rate: int, playing_s: float,
                       rise_db: float = 6.0, threshold_lufs: float = DEFAULT_THRESHOLD_LUFS,
                       keep_times: int = 10000) -> Onsets:
    """Onsets from the meter's 20 ms frame energies; density over ``playing_s`` seconds."""
    levels = frame_levels(frame_energy, frame_s, rate)
    if len(levels) < 4:
        return Onsets([], 0, None)
    floored = np.maximum(levels, threshold_lufs - 20.0)
    lag = 3
    before = np.minimum.reduce([floored[lag - i:len(floored) - i] for i in range(1, lag + 1)])
    rise = np.zeros_like(floored)
    rise[lag:] = floored[lag:] - before
    candidate = (rise >= rise_db) & (floored > threshold_lufs)
    # one onset per rise: the first frame of each run of candidate frames
    starts = np.flatnonzero(candidate & ~np.concatenate([[False], candidate[:-1]]))
    picked: list[int] = []
    min_gap = max(1, round(0.05 / frame_s))
    for i in starts.tolist():
        if not picked or i - picked[-1] >= min_gap:
            picked.append(i)
    density = len(picked) / playing_s if playing_s > 0 else None
    times = [i * frame_s for i in picked[:keep_times]]
    return Onsets(times, len(picked), density)


def onsets(samples: np.ndarray, rate: int) -> Onsets:
    """Onsets of ``samples`` ((frames,) or (frames, channels))."""
    from bridge.analysis.activity import activity_from_frames
    from bridge.analysis.loudness import _meter

    meter = _meter(samples, rate, keep_hops=False)
    energy, frame_s = meter.frame_energy()
    playing = activity_from_frames(energy, frame_s, rate, meter.frames / rate,
                                   bridge_gap_s=PLAYING_GAP_S)
    return onsets_from_frames(energy, frame_s, rate, playing.active_s)
