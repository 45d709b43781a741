"""Autoregressive models of short stretches of audio, and least-squares AR interpolation
(LSAR): filling in samples that are known to be wrong from the samples around them.

Used by :mod:`bridge.restore.declick` (clicks) and :mod:`bridge.restore.declip` (clipped
runs). An order-``p`` AR model predicts each sample from the ``p`` before it; the missing
samples are chosen to make the prediction error of the whole stretch as small as possible
(Vaseghi & Rayner 1990; Godsill & Rayner 1998, ch. 5)::

    >>> import numpy as np
    >>> t = np.arange(400)
    >>> x = np.sin(0.05 * t) + 0.5 * np.sin(0.13 * t)
    >>> known = np.ones(400, bool); known[200:212] = False
    >>> a = fit_ar(x, known, 16)
    >>> y = interpolate(np.where(known, x, 0.0), known, a)
    >>> float(np.max(np.abs(y - x))) < 1e-3
    True
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.linalg import solve_toeplitz, solveh_banded


def ar_order_for(rate: int) -> int:
    """A model order that follows formants and partials: 24 at 16 kHz, 48 at 44.1 kHz+."""
    return int(np.clip(round(rate / 900), 16, 48))


def fit_ar(x: np.ndarray, known: np.ndarray, order: int) -> np.ndarray:
    """AR coefficients ``a`` (``a[0] = 1``) by least squares over the rows whose ``order + 1``
    samples are all known (covariance method); falls back to the autocorrelation method on
    the known samples when too few such rows exist."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n > order + 1:
        windows = sliding_window_view(x, order + 1)
        good = sliding_window_view(known, order + 1).all(axis=1)
        rows = windows[good]
        if rows.shape[0] >= 3 * order:
            # Predict rows[:, -1] from the samples before it.
            past = rows[:, :-1][:, ::-1]
            gram = past.T @ past
            gram[np.diag_indices_from(gram)] += 1e-5 * np.trace(gram) / order + 1e-12
            coef = np.linalg.solve(gram, past.T @ rows[:, -1])
            return np.concatenate([[1.0], -coef])
    y = np.where(known, x, 0.0)
    r = np.correlate(y, y, mode="full")[len(y) - 1 : len(y) + order]
    if r[0] <= 0:
        return np.concatenate([[1.0], np.zeros(order)])
    r = r.copy()
    r[0] *= 1.0 + 1e-6
    coef = solve_toeplitz(r[:order], r[1 : order + 1])
    return np.concatenate([[1.0], -coef])


def interpolate(x: np.ndarray, known: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Fill ``x`` where ``known`` is False by LSAR with the AR coefficients ``a``.

    The normal equations are built from the autocorrelation of ``a`` directly (the
    prediction-error matrix is banded), so the cost grows with the number of missing
    samples, not with the length of the stretch."""
    x = np.array(x, dtype=np.float64, copy=True)
    unknown = np.flatnonzero(~known)
    if unknown.size == 0:
        return x
    p = len(a) - 1
    corr = np.correlate(a, a, mode="full")  # lags -p..p
    m = unknown.size
    # Missing samples further apart than p do not meet, so the matrix is banded: store its
    # upper band (row d holds the d-th superdiagonal) and solve by banded Cholesky.
    width = min(p, m - 1)
    band = np.zeros((width + 1, m))
    for d in range(width + 1):
        gap = unknown[d:] - unknown[: m - d]
        band[width - d, d:] = np.where(gap <= p, corr[np.minimum(gap, p) + p], 0.0)
    band[width] += 1e-9 * max(float(corr[p]), 1e-30)
    zeroed = np.where(known, x, 0.0)
    rhs = -np.convolve(zeroed, corr, mode="same")[unknown]
    try:
        x[unknown] = solveh_banded(band, rhs)
    except np.linalg.LinAlgError:
        x[unknown] = np.linalg.lstsq(_dense(band, width), rhs, rcond=None)[0]
    return x


def _dense(band: np.ndarray, width: int) -> np.ndarray:
    m = band.shape[1]
    full = np.zeros((m, m))
    for d in range(width + 1):
        idx = np.arange(m - d)
        full[idx, idx + d] = band[width - d, d:]
        full[idx + d, idx] = band[width - d, d:]
    return full


def interpolate_safely(x: np.ndarray, known: np.ndarray, order: int) -> np.ndarray:
    """:func:`fit_ar` + :func:`interpolate`, checked: a fill far louder than the samples around
    it means the model did not fit, so the order is halved and it is tried again (at the
    last, a straight line between the neighbours)."""
    ref = float(np.max(np.abs(x[known]))) if known.any() else 0.0
    while order >= 4:
        y = interpolate(x, known, fit_ar(x, known, order))
        if np.all(np.isfinite(y)) and float(np.max(np.abs(y[~known]), initial=0.0)) <= 2.0 * ref:
            return y
        order //= 2
    idx = np.arange(len(x))
    y = np.array(x, dtype=np.float64, copy=True)
    if known.any():
        y[~known] = np.interp(idx[~known], idx[known], x[known])
    return y


def interpolate_clipped(
    x: np.ndarray, known: np.ndarray, a: np.ndarray, level_pos: float, level_neg: float,
    rounds: int = 4,
) -> np.ndarray:
    """LSAR for clipped samples, kept consistent with the clipping: a restored sample that
    was clipped at +level must come out >= level (and <= -level for the negative rail).
    Samples that break this are pinned to the rail and the rest solved again."""
    x = np.array(x, dtype=np.float64, copy=True)
    sign = np.sign(x)
    free = ~known
    for _ in range(rounds):
        if not free.any():
            break
        y = interpolate(x, ~free, a)
        low_pos = free & (sign > 0) & (y < level_pos)
        low_neg = free & (sign < 0) & (y > -level_neg)
        x[free] = y[free]
        if not (low_pos.any() or low_neg.any()):
            break
        x[low_pos] = level_pos
        x[low_neg] = -level_neg
        free = free & ~(low_pos | low_neg)
    x[~known & (sign > 0)] = np.maximum(x[~known & (sign > 0)], level_pos)
    x[~known & (sign < 0)] = np.minimum(x[~known & (sign < 0)], -level_neg)
    return x


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
