"""Stereo image: correlation, width and balance of the first two channels.

* ``correlation``: the phase-correlation meter's reading over the whole signal,
  ``sum(L R) / sqrt(sum(L^2) sum(R^2))``: +1 mono, 0 unrelated, -1 polarity-inverted.
* ``width``: side energy over total energy, ``E_side / (E_mid + E_side)`` with
  ``mid = (L + R) / 2``, ``side = (L - R) / 2``: 0 mono, 0.5 unrelated channels, 1 anti-phase.
* ``balance_db``: left energy over right energy in dB (positive = left heavier).

Mono signals have no stereo figures (``None``).

Example::

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal(48000)
    >>> round(stereo_image(np.stack([x, x], axis=1)).correlation, 3)
    1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class StereoImage:
    correlation: float | None
    width: float | None
    side_to_mid_db: float | None
    balance_db: float | None


def from_sums(ll: float, rr: float, lr: float) -> StereoImage:
    """Stereo figures from the sums of L*L, R*R and L*R."""
    if ll <= 0.0 and rr <= 0.0:
        return StereoImage(None, None, None, None)
    corr = lr / math.sqrt(ll * rr) if ll > 0 and rr > 0 else 0.0
    mid = (ll + rr + 2 * lr) / 4
    side = max((ll + rr - 2 * lr) / 4, 0.0)
    total = mid + side
    width = side / total if total > 0 else None
    s2m = (10 * math.log10(side / mid) if side > 0 and mid > 0
           else (-math.inf if side <= 0 else math.inf))
    balance = (10 * math.log10(ll / rr) if ll > 0 and rr > 0
               else (math.inf if rr <= 0 else -math.inf))
    return StereoImage(max(-1.0, min(1.0, corr)), width, s2m, balance)


def from_channel_sums(sum_squares: list[float], sum_lr: float) -> StereoImage:
    """Stereo figures from per-channel sums of squares and the L*R sum (None if mono)."""
    if len(sum_squares) < 2:
        return StereoImage(None, None, None, None)
    return from_sums(float(sum_squares[0]), float(sum_squares[1]), float(sum_lr))


def stereo_image(samples: np.ndarray) -> StereoImage:
    """Stereo figures of ``samples`` shaped (frames, channels); channels 0 and 1 are L and R."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1 or x.shape[1] < 2:
        return StereoImage(None, None, None, None)
    left, right = x[:, 0], x[:, 1]
    return from_sums(float(left @ left), float(right @ right), float(left @ right))
