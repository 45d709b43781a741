"""Silence and activity: where in a stem something is playing.

Works on the K-weighted energy the loudness meter already has (one value per hop of about
1 ms), summed into 20 ms frames and read in LUFS. A frame is active when it is above
``threshold_lufs`` (default -60 LUFS, well under any played part yet above a quiet noise
floor). Active stretches closer than ``bridge_gap_s`` (0.25 s) are joined and stretches shorter
than ``min_region_s`` (30 ms) are dropped, so a held note with a breath is one region and a
click is none.

Example::

    >>> import numpy as np
    >>> rate = 48000
    >>> x = np.zeros(rate * 3)
    >>> x[rate:2 * rate] = 0.1 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    >>> [(round(a, 1), round(b, 1)) for a, b in activity(x, rate).regions_s]
    [(1.0, 2.0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bridge.analysis.loudness import power_to_lufs

DEFAULT_THRESHOLD_LUFS = -60.0


@dataclass
class Activity:
    regions_s: list[tuple[float, float]]
    """(start, end) of each active stretch, seconds."""
    active_s: float
    active_fraction: float
    """Active time over duration (0..1)."""
    threshold_lufs: float
    notes: list[str] = field(default_factory=list)


def frame_levels(frame_energy: np.ndarray, frame_s: float, rate: int) -> np.ndarray:
    """Levels in LUFS of frames from their K-weighted energy (sum of squares)."""
    return power_to_lufs(frame_energy / max(1.0, round(frame_s * rate)))


def activity_from_frames(frame_energy: np.ndarray, frame_s: float, rate: int,
                         duration_s: float, threshold_lufs: float = DEFAULT_THRESHOLD_LUFS,
                         bridge_gap_s: float = 0.25, min_region_s: float = 0.03) -> Activity:
    """Active regions from the meter's 20 ms frame energies."""
    levels = frame_levels(frame_energy, frame_s, rate)
    active = levels > threshold_lufs
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1) * frame_s
    ends = np.flatnonzero(edges == -1) * frame_s
    regions: list[tuple[float, float]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if regions and a - regions[-1][1] < bridge_gap_s:
            regions[-1] = (regions[-1][0], b)
        else:
            regions.append((a, b))
    regions = [(a, min(b, duration_s)) for a, b in regions if b - a >= min_region_s]
    active_s = sum(b - a for a, b in regions)
    notes = [] if regions else [f"silent: nothing above {threshold_lufs:g} LUFS"]
    return Activity(regions, active_s, active_s / duration_s if duration_s > 0 else 0.0,
                    threshold_lufs, notes)


def activity(samples: np.ndarray, rate: int,
             threshold_lufs: float = DEFAULT_THRESHOLD_LUFS) -> Activity:
    """Active regions of ``samples`` ((frames,) or (frames, channels))."""
    from bridge.analysis.loudness import _meter

    meter = _meter(samples, rate, keep_hops=False)
    energy, frame_s = meter.frame_energy()
    return activity_from_frames(energy, frame_s, rate, meter.frames / rate, threshold_lufs)
