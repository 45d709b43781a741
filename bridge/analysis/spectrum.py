"""Long-term average spectrum in 1/3 octaves, and spectral shape summaries.

The signal (channels averaged to mono) is cut into frames of ``frame`` samples (the power of
two nearest 170 ms: 8192 at 48 kHz, 5.9 Hz bins), Hann-windowed and transformed; the power
spectra are averaged (Welch, no overlap) and summed into the 31 base-10 third-octave bands
from 20 Hz to 20 kHz (centres ``1000 * 10**(k/10)``, edges at ``10**(+-1/20)`` of the centre;
bins straddling an edge count in proportion). Bands above the Nyquist frequency are left out.

Band levels are in dB relative to full-scale mean square: a full-scale sine reads -3.01 dB in
its band, and the band levels add up (in power) to the signal's RMS level.

Per frame the spectral centroid (Hz, power-weighted mean frequency), flatness (geometric over
arithmetic mean of the power spectrum, 0 tonal .. 1 white noise) and 85 % roll-off (Hz below
which 85 % of the power lies) are taken; the summaries are medians over frames that are no more
than 50 dB below the loudest frame and above -80 dBFS.

Long files: the streaming accumulator analyses at most ``max_frames`` frames, spread evenly
over the whole file (every k-th frame), so the cost per file is bounded; files up to about
45 s are analysed whole, a 10-minute file at 48 kHz has about 7 % of its frames analysed.
The array functions analyse every frame.

Example::

    >>> import numpy as np
    >>> t = np.arange(48000 * 2) / 48000
    >>> centres, levels = third_octave_ltas(np.sin(2 * np.pi * 1000 * t), 48000)
    >>> float(centres[np.argmax(levels)]), round(float(levels.max()), 1)
    (1000.0, -3.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BAND_INDICES = range(-17, 14)  # 19.95 Hz .. 19953 Hz
DEFAULT_MAX_FRAMES = 256
_BATCH = 32


def frame_length(rate: int) -> int:
    """The analysis frame: the power of two nearest 170 ms."""
    return 1 << max(8, round(math.log2(rate * 0.17)))


def third_octave_centres(rate: int) -> np.ndarray:
    """Exact base-10 centres (Hz) of the bands whose upper edge is below Nyquist."""
    centres = np.array([1000.0 * 10.0 ** (k / 10.0) for k in BAND_INDICES])
    return centres[centres * 10.0 ** 0.05 <= rate / 2]


def nominal_centre(freq_hz: float) -> float:
    """The rounded name of a band (20, 25, 31.5, ... 1000, 1250, ...)."""
    names = [1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0]
    k = round(10 * math.log10(freq_hz / 1000.0))
    return names[k % 10] * 10.0 ** (3 + k // 10)


def _band_weights(rate: int, frame: int) -> tuple[np.ndarray, np.ndarray]:
    centres = third_octave_centres(rate)
    df = rate / frame
    bins = np.arange(frame // 2 + 1)
    lo_bin = (bins - 0.5) * df
    hi_bin = (bins + 0.5) * df
    lo = centres * 10.0 ** -0.05
    hi = centres * 10.0 ** 0.05
    overlap = (np.minimum(hi[:, None], hi_bin[None, :])
               - np.maximum(lo[:, None], lo_bin[None, :]))
    return centres, np.clip(overlap / df, 0.0, 1.0)


@dataclass
class SpectrumSummary:
    centres_hz: list[float]
    """Third-octave band centres."""
    levels_db: list[float]
    """Band levels, dB re full-scale mean square (-inf for an empty band)."""
    centroid_hz: float | None
    flatness: float | None
    rolloff_hz: float | None
    frames_analysed: int
    frames_total: int
    notes: list[str] = field(default_factory=list)


class SpectrumAccumulator:
    """Streaming LTAS + spectral-shape summaries over channel-major float32 blocks.

    ``total_frames`` (the file length, if known) sets which frames are analysed: every
    ``ceil(count / max_frames)``-th frame. Without it every frame is analysed.
    """

    def __init__(self, rate: int, channels: int, total_frames: int | None = None,
                 max_frames: int | None = DEFAULT_MAX_FRAMES) -> None:
        self.rate = rate
        self.channels = channels
        self.frame = frame_length(rate)
        count = (total_frames or 0) // self.frame
        self.stride = max(1, -(-count // max_frames)) if (max_frames and count) else 1
        self.centres, self._weights = _band_weights(rate, self.frame)
        window = np.hanning(self.frame).astype(np.float32)
        self._window = window
        # one-sided power scaling so that the bins sum to the frame's mean square
        self._scale = np.full(self.frame // 2 + 1, 2.0 / (self.frame * float(window @ window)))
        self._scale[0] /= 2
        self._scale[-1] /= 2
        self._freqs = np.arange(self.frame // 2 + 1) * rate / self.frame
        self._pos = 0  # absolute sample position of the next incoming sample
        self._current: np.ndarray | None = None  # frame being assembled
        self._filled = 0
        self._batch: list[np.ndarray] = []
        self._sum_power = np.zeros(self.frame // 2 + 1)
        self._frame_power: list[np.ndarray] = []
        self._centroid: list[np.ndarray] = []
        self._flatness: list[np.ndarray] = []
        self._rolloff: list[np.ndarray] = []
        self.analysed = 0
        self.total = 0

    def add(self, block: np.ndarray) -> None:
        n = block.shape[1]
        start = self._pos
        end = start + n
        self._pos = end
        f = self.frame
        pos = start
        while pos < end:
            k = pos // f
            frame_end = (k + 1) * f
            take = min(frame_end, end) - pos
            if k % self.stride == 0:
                if self._current is None:
                    self._current = np.empty(f, np.float32)
                    self._filled = 0
                part = block[:, pos - start:pos - start + take]
                self._current[self._filled:self._filled + take] = (
                    part[0] if self.channels == 1 else part.mean(axis=0))
                self._filled += take
                if self._filled == f:
                    self._batch.append(self._current)
                    self._current = None
                    if len(self._batch) >= _BATCH:
                        self._analyse()
            if pos + take == frame_end:
                self.total += 1
            pos += take

    def _analyse(self) -> None:
        if not self._batch:
            return
        frames = np.stack(self._batch) * self._window
        self._batch = []
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 * self._scale
        self.analysed += len(power)
        self._sum_power += power.sum(axis=0)
        total = power.sum(axis=1)
        self._frame_power.append(total)
        safe = np.maximum(total, 1e-30)
        self._centroid.append(power @ self._freqs / safe)
        usable = power[:, 1:]
        log_mean = np.log(np.maximum(usable, 1e-30)).mean(axis=1)
        self._flatness.append(np.exp(log_mean) / np.maximum(usable.mean(axis=1), 1e-30))
        cumulative = np.cumsum(power, axis=1)
        idx = (cumulative < 0.85 * cumulative[:, -1:]).sum(axis=1)
        self._rolloff.append(self._freqs[np.minimum(idx, len(self._freqs) - 1)])

    def result(self) -> SpectrumSummary:
        notes: list[str] = []
        if self._current is not None and self._filled > self.frame // 4:
            # a selected frame cut short by the end of the signal: zero-pad it
            self._current[self._filled:] = 0.0
            self._batch.append(self._current)
            self._current = None
        self._analyse()
        if self.analysed == 0:
            notes.append("too short for a spectrum")
            return SpectrumSummary(self.centres.tolist(), [-math.inf] * len(self.centres),
                                   None, None, None, 0, self.total, notes)
        mean_power = self._sum_power / self.analysed
        with np.errstate(divide="ignore"):
            bands = 10.0 * np.log10(self._weights @ mean_power)
        frame_power = np.concatenate(self._frame_power)
        loudest = frame_power.max()
        keep = (frame_power > loudest * 1e-5) & (frame_power > 1e-8)
        if not keep.any():
            notes.append("silent: no spectral shape")
            centroid = flatness = rolloff = None
        else:
            centroid = float(np.median(np.concatenate(self._centroid)[keep]))
            flatness = float(np.median(np.concatenate(self._flatness)[keep]))
            rolloff = float(np.median(np.concatenate(self._rolloff)[keep]))
        if self.stride > 1:
            notes.append(f"spectrum from every {self.stride}th frame "
                         f"({self.analysed} of {self.total})")
        return SpectrumSummary(self.centres.tolist(), [float(v) for v in bands], centroid,
                               flatness, rolloff, self.analysed, self.total, notes)


def spectrum_summary(samples: np.ndarray, rate: int) -> SpectrumSummary:
    """LTAS and spectral-shape summaries of a whole signal (every frame analysed)."""
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    acc = SpectrumAccumulator(rate, x.shape[1], max_frames=None)
    acc.add(np.ascontiguousarray(x.T, dtype=np.float32))
    return acc.result()


def third_octave_ltas(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(centres_hz, levels_db)``: the long-term average spectrum in 1/3-octave bands."""
    s = spectrum_summary(samples, rate)
    return np.array(s.centres_hz), np.array(s.levels_db)
