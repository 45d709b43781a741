"""Sample-level statistics: RMS, crest factor, DC offset and clipped-sample runs.

All figures are over every sample of every channel unless a field says "per channel".
Levels are dB relative to full scale (a full-scale square wave is 0 dBFS RMS; a full-scale sine
is -3.01 dBFS RMS). Silence gives ``-inf``.

Clipping is counted as runs of at least ``min_run`` (default 3) consecutive samples in one
channel whose magnitude is at or above ``clip_level`` (default 0.9999, i.e. -0.001 dBFS):
a lone full-scale sample is a normalised peak, three in a row are a flat top. Audio that was
clipped first and turned down afterwards is not detected (its flat tops are below full scale).

Example::

    >>> import numpy as np
    >>> x = np.clip(1.5 * np.sin(np.linspace(0, 20 * np.pi, 4800)), -1, 1)
    >>> s = levels(x)
    >>> s.clipped_samples > 0, round(s.rms_dbfs, 1) > -3.0
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

CLIP_LEVEL = 0.9999
MIN_CLIP_RUN = 3


def _db_power(value: float) -> float:
    return 10.0 * math.log10(value) if value > 0 else -math.inf


@dataclass
class LevelStats:
    rms_dbfs: float
    sample_peak_dbfs: float
    crest_db: float | None
    """Peak minus RMS; None for silence."""
    dc_offset: float
    """Mean sample value of the channel with the largest offset (signed, full scale = 1)."""
    dc_offset_per_channel: list[float]
    rms_dbfs_per_channel: list[float]
    clipped_samples: int
    clipped_runs: int
    longest_clip_run: int
    frames: int
    sum_squares: list[float] = field(default_factory=list, repr=False)
    """Per channel sum of x^2 (for stereo figures)."""
    sum_lr: float = field(default=0.0, repr=False)
    """Sum of x_0 * x_1 (0.0 for mono)."""


class LevelMeter:
    """Streaming accumulator over channel-major float32 blocks."""

    def __init__(self, channels: int, clip_level: float = CLIP_LEVEL,
                 min_run: int = MIN_CLIP_RUN) -> None:
        self.channels = channels
        self.clip_level = clip_level
        self.min_run = min_run
        self.frames = 0
        self._sum = np.zeros(channels)
        self._sq = np.zeros(channels)
        self._lr = 0.0
        self._peak = np.zeros(channels)
        # clip run still going at block end, per channel and rail (+, -): a run stays on one
        # rail (a full-scale square alternating +1/-1 every sample is not clipped)
        self._open_run = np.zeros((channels, 2), dtype=np.int64)
        self.clipped_samples = 0
        self.clipped_runs = 0
        self.longest_run = 0

    def add(self, block: np.ndarray, peaks: np.ndarray | None = None) -> None:
        """Feed ``(channels, n)`` float32 samples; ``peaks``: per-channel max |x| if known."""
        n = block.shape[1]
        if n == 0:
            return
        self.frames += n
        self._sum += block.sum(axis=1)
        # per-row dot products: a fifth of the cost of the full Gram matrix product
        for c in range(self.channels):
            self._sq[c] += float(np.dot(block[c], block[c]))
        if self.channels > 1:
            self._lr += float(np.dot(block[0], block[1]))
        peak = np.maximum(block.max(axis=1), -block.min(axis=1)) if peaks is None else peaks
        self._peak = np.maximum(self._peak, peak)
        hot = peak >= self.clip_level
        for c in range(self.channels):
            if hot[c]:
                self._runs(c, 0, block[c] >= self.clip_level)
                self._runs(c, 1, block[c] <= -self.clip_level)
            else:
                self._close(c)

    def _close(self, c: int) -> None:
        for rail in (0, 1):
            if self._open_run[c, rail]:
                self._count(int(self._open_run[c, rail]))
                self._open_run[c, rail] = 0

    def _count(self, length: int) -> None:
        if length >= self.min_run:
            self.clipped_samples += length
            self.clipped_runs += 1
            self.longest_run = max(self.longest_run, length)

    def _runs(self, c: int, rail: int, mask: np.ndarray) -> None:
        edges = np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        lengths = ends - starts
        if len(lengths) and starts[0] == 0:
            lengths[0] += self._open_run[c, rail]
        elif self._open_run[c, rail]:
            self._count(int(self._open_run[c, rail]))
        self._open_run[c, rail] = 0
        if len(lengths) and ends[-1] == len(mask):  # still clipping at the block end
            self._open_run[c, rail] = lengths[-1]
            lengths = lengths[:-1]
        for length in lengths[lengths >= self.min_run]:
            self._count(int(length))

    def result(self) -> LevelStats:
        for c in range(self.channels):
            self._close(c)
        n = max(self.frames, 1)
        power = self._sq / n
        dc = self._sum / n
        worst = int(np.argmax(np.abs(dc))) if self.channels else 0
        rms = _db_power(float(power.mean())) if self.channels else -math.inf
        peak = 20.0 * math.log10(self._peak.max()) if self._peak.max() > 0 else -math.inf
        return LevelStats(
            rms_dbfs=rms,
            sample_peak_dbfs=peak,
            crest_db=(peak - rms) if math.isfinite(rms) else None,
            dc_offset=float(dc[worst]),
            dc_offset_per_channel=[float(v) for v in dc],
            rms_dbfs_per_channel=[_db_power(float(p)) for p in power],
            clipped_samples=self.clipped_samples,
            clipped_runs=self.clipped_runs,
            longest_clip_run=self.longest_run,
            frames=self.frames,
            sum_squares=self._sq.tolist(),
            sum_lr=self._lr,
        )


def levels(samples: np.ndarray, clip_level: float = CLIP_LEVEL,
           min_run: int = MIN_CLIP_RUN) -> LevelStats:
    """Level statistics of ``samples`` ((frames,) or (frames, channels))."""
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    meter = LevelMeter(x.shape[1], clip_level, min_run)
    meter.add(np.ascontiguousarray(x.T, dtype=np.float32))
    return meter.result()
