"""What a restoration process found and how much it changed: one dataclass for all of them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class RestoreReport:
    """The outcome of one process on one signal.

    ``found`` says in words what was detected (``"50.0 Hz hum, 8 harmonics"``); ``figures``
    carries the numbers behind it with units in the keys. ``changed_db`` is the level of what
    the process removed or added (output minus input) relative to the input, in dB: -40 means
    a light touch, 0 means as much was changed as was there. ``-inf`` when nothing changed.
    """

    process: str
    applied: bool
    found: str
    changed_db: float = -math.inf
    changed_fraction: float = 0.0
    """Share of samples that moved by more than -80 dBFS (0..1)."""
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not math.isfinite(self.changed_db):
            data["changed_db"] = None
        return _plain(data)

    def __str__(self) -> str:
        change = (
            f", changed {self.changed_db:.1f} dB re input" if math.isfinite(self.changed_db) else ""
        )
        verb = "applied" if self.applied else "left alone"
        return f"{self.process}: {self.found} ({verb}{change})"


def change_figures(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """``(changed_db, changed_fraction)`` between two equal-shape arrays."""
    diff = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    flat_in = np.ravel(np.asarray(before, dtype=np.float64))
    flat_diff = np.ravel(diff)
    power_in = float(np.dot(flat_in, flat_in)) / max(flat_in.size, 1)
    power_diff = float(np.dot(flat_diff, flat_diff)) / max(flat_diff.size, 1)
    if power_diff == 0.0:
        return -math.inf, 0.0
    changed_db = 10.0 * math.log10(power_diff / max(power_in, 1e-30))
    moved = np.abs(diff) > 1e-4
    if moved.ndim == 2:
        moved = np.logical_or.reduce([moved[:, c] for c in range(moved.shape[1])])
    return changed_db, float(np.mean(moved))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def as_2d(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """View ``x`` as (frames, channels) float64; the flag says whether it was mono 1-D."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim != 2:
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {arr.shape}")
    return arr, False


def channel_mix(audio: np.ndarray) -> np.ndarray:
    """Mean of the channels of a (frames, channels) array (column by column: numpy's
    mean over a short last axis is several times slower)."""
    mix = np.array(audio[:, 0], dtype=np.float64, copy=True)
    for c in range(1, audio.shape[1]):
        mix += audio[:, c]
    if audio.shape[1] > 1:
        mix /= audio.shape[1]
    return mix


def restore_shape(y: np.ndarray, mono: bool) -> np.ndarray:
    return y[:, 0] if mono else y


@dataclass
class OutputReport:
    """How a result was written: the container and sample format, the processed audio's peak
    and the one gain applied to the whole file when that peak did not fit the format.

    ``gain_db`` is 0.0 unless the format holds no samples beyond full scale (FLAC, integer
    PCM, Ogg Vorbis, MP3) and the processed peak (``peak_dbfs``) was over 0 dBFS: then every
    sample is lowered by the same amount instead of clipping the peaks.

        >>> str(OutputReport("out.flac", "FLAC", "PCM_24", peak_dbfs=6.6, gain_db=-6.6))
        'output: lowered 6.6 dB as a whole (peak +6.6 dBFS does not fit FLAC PCM_24)'
    """

    path: str
    format: str
    subtype: str
    peak_dbfs: float = -math.inf
    gain_db: float = 0.0
    note: str = ""
    """Anything else worth saying (a WAV too large for RIFF written as RF64)."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    def __str__(self) -> str:
        if self.gain_db < 0.0:
            text = (f"output: lowered {-self.gain_db:.1f} dB as a whole (peak "
                    f"{self.peak_dbfs:+.1f} dBFS does not fit {self.format} {self.subtype})")
        else:
            text = f"output: {self.format} {self.subtype}"
        return f"{text}; {self.note}" if self.note else text
