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

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy.fft import next_fast_len
from scipy.linalg import solve_toeplitz, solveh_banded

from bridge.restore.report import change_figures


def ar_order_for(rate: int) -> int:
    """A model order that follows formants and partials: 24 at 16 kHz, 48 at 44.1 kHz+."""
    return int(np.clip(round(rate / 900), 16, 48))


FIT_ROWS = 131_072
"""Samples of model-fitting rows (windows of ``order + 1``) copied out at a time."""


def fit_ar(x: np.ndarray, known: np.ndarray, order: int) -> np.ndarray:
    """AR coefficients ``a`` (``a[0] = 1``) by least squares over the rows whose ``order + 1``
    samples are all known (covariance method); falls back to the autocorrelation method on
    the known samples when too few such rows exist."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n > order + 1:
        windows = sliding_window_view(x, order + 1)
        # A row is usable when none of its order + 1 samples is missing.
        missing = np.concatenate([[0], np.cumsum(~np.asarray(known, bool))])
        good = np.flatnonzero(missing[order + 1 :] == missing[: n - order])
        if good.size >= 3 * order:
            # Predict each row's last sample from the ones before it: one Gram matrix of
            # the whole rows holds both the normal matrix and the right-hand side. (Summed
            # a bounded number of rows at a time: a long stretch would otherwise copy out
            # every window at once.)
            full = np.zeros((order + 1, order + 1))
            step = max(FIT_ROWS // (order + 1), 1)
            for at in range(0, good.size, step):
                rows = windows[good[at : at + step]]
                full += rows.T @ rows
            gram = full[:-1, :-1][::-1, ::-1].copy()
            gram[np.diag_indices_from(gram)] += 1e-5 * np.trace(gram) / order + 1e-12
            coef = np.linalg.solve(gram, full[:-1, -1][::-1])
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
    offset = np.arange(width, -1, -1)[:, None]  # row r of the band holds superdiagonal width - r
    col = np.arange(m)[None, :]
    gap = unknown[col] - unknown[np.maximum(col - offset, 0)]
    band = np.where((col >= offset) & (gap <= p), corr[np.minimum(gap, p) + p], 0.0)
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


def autocorrelation(frames: np.ndarray, order: int) -> np.ndarray:
    """Lags 0..order of the autocorrelation of each row of ``frames`` (one FFT per row,
    in the precision of ``frames``: float32 is plenty for an AR fit and twice as fast)."""
    frames = np.atleast_2d(frames)
    size = next_fast_len(frames.shape[1] + order + 1, real=True)
    spectrum = sp_fft.rfft(frames, size, axis=1)
    return sp_fft.irfft(spectrum.real**2 + spectrum.imag**2, size, axis=1)[:, : order + 1]


def levinson(
    r: np.ndarray, order: int, ridge: float = 1e-4, *, with_error: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """AR coefficients ``(rows, order + 1)`` (``a[:, 0] = 1``) from autocorrelations
    ``r`` ``(rows, >= order + 1)`` by the Levinson-Durbin recursion, all rows at once.
    ``ridge`` lifts lag 0 by that fraction so every model is stable; silent rows give
    ``[1, 0, ...]``. With ``with_error``, also each row's prediction error power as a share
    of its signal power (0..1; 1 for silent rows)."""
    r = np.array(np.atleast_2d(r)[:, : order + 1], dtype=np.float64)
    r[:, 0] *= 1.0 + ridge
    # Lags along the first axis: every step then works on whole contiguous rows.
    r = np.ascontiguousarray(r.T)
    a = np.zeros((order + 1, r.shape[1]))
    a[0] = 1.0
    err = r[0].copy()
    live = err > 0
    # Every row alive (the usual case) spares the masking at each step.
    everyone = bool(live.all())
    safe = err if everyone else np.where(live, err, 1.0)
    for i in range(1, order + 1):
        acc = r[i] + np.einsum("jb,jb->b", a[1:i], r[i - 1 : 0 : -1])
        k = -acc / safe if everyone else np.where(live, -acc / safe, 0.0)
        a[1:i] += k * a[i - 1 : 0 : -1]
        a[i] = k
        err *= 1.0 - k * k
        if everyone:
            if (err > 0).all():
                continue
            everyone = False
        live &= err > 0
        safe = np.where(live, err, 1.0)
    if with_error:
        power = r[0]
        share = np.where(power > 0, err / np.where(power > 0, power, 1.0), 1.0)
        return np.ascontiguousarray(a.T), share
    return np.ascontiguousarray(a.T)


BATCH_ENTRIES = 4_000_000
"""Matrix entries (float64) solved in one go by :func:`interpolate_batch`."""


def interpolate_batch(
    windows: np.ndarray, known: np.ndarray, a: np.ndarray, max_unknown: int
) -> tuple[np.ndarray, np.ndarray]:
    """LSAR for many windows at once: ``windows`` and ``known`` are ``(rows, length)``,
    ``a`` the AR coefficients of each row ``(rows, p + 1)``. Rows with more than
    ``max_unknown`` missing samples are not solved. Returns the filled windows and a
    boolean per row saying whether it was solved."""
    counts = (~known).sum(axis=1)
    solved = counts <= max_unknown
    out = np.array(windows, dtype=np.float64, copy=True)
    # Autocorrelation of each row's coefficients, lags 0..p (the prediction-error matrix).
    corr = autocorrelation(a, a.shape[1] - 1) if solved.any() else a
    # Rows are solved in groups of similar size (up to 8 or half again apart), so few
    # padded unknowns are carried along.
    low = 0
    while low < max_unknown:
        high = low + max(low // 2, 8)
        idx = np.flatnonzero(solved & (counts > low) & (counts <= high))
        low = high
        # (a bounded number of matrix and neighbourhood entries at a time keeps the memory
        # flat)
        width = max(high, windows.shape[1] // 8, 2 * a.shape[1] - 1)
        step = max(1, BATCH_ENTRIES // (high * width))
        for first in range(0, idx.size, step):
            _lsar_rows(out, known, corr, idx[first : first + step], solved)
    return out, solved


def _lsar_rows(
    out: np.ndarray, known: np.ndarray, corr: np.ndarray, idx: np.ndarray, solved: np.ndarray
) -> None:
    """Solve rows ``idx`` of :func:`interpolate_batch` in place (``corr``: the
    autocorrelation of every row's AR coefficients, lags 0..p)."""
    rows = len(idx)
    missing = ~known[idx]
    counts = missing.sum(axis=1)
    corr = corr[idx]
    p = corr.shape[1] - 1
    m = int(counts.max())
    # Unknown positions of each row, padded by repeating a far-away dummy position.
    row_of, col = np.nonzero(missing)
    rank = np.arange(row_of.size) - np.repeat(np.cumsum(counts) - counts, counts)
    valid = np.arange(m)[None, :] < counts[:, None]
    pos = np.broadcast_to(-10 * (p + 1) * (np.arange(m) + 1), (rows, m)).astype(np.int32)
    pos[row_of, rank] = col
    lagc = np.minimum(np.abs(pos[:, :, None] - pos[:, None, :]), p + 1)
    corr_ext = np.concatenate([corr, np.zeros((rows, 1))], axis=1)
    mat = np.take_along_axis(corr_ext, lagc.reshape(rows, -1), axis=1).reshape(rows, m, m)
    # Padding rows/columns: identity, so they solve to zero and touch nothing.
    diag = mat.reshape(rows, m * m)[:, :: m + 1]
    diag[~valid] = 1.0
    diag += 1e-9 * np.maximum(corr[:, :1], 1e-30)
    # Right-hand side: -sum_k corr[|k|] * zeroed[u + k] over the known neighbours of each
    # unknown u (read straight from the p samples either side: far cheaper than a
    # convolution of the whole window).
    zeroed = np.zeros((rows, out.shape[1] + 2 * p))
    zeroed[:, p:-p] = np.where(missing, 0.0, out[idx])
    taps = np.concatenate([corr[:, :0:-1], corr], axis=1)  # lags -p..p
    near = sliding_window_view(zeroed, 2 * p + 1, axis=1)[
        np.arange(rows)[:, None], np.where(valid, pos, 0)
    ]
    rhs = -np.einsum("rmk,rk->rm", near, taps)
    rhs[~valid] = 0.0
    try:
        fill = np.linalg.solve(mat, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        solved[idx] = False
        return
    good = np.all(np.isfinite(fill), axis=1)
    write = valid & good[:, None]
    out[np.repeat(idx[:, None], m, axis=1)[write], pos[write]] = fill[write]
    solved[idx[~good]] = False


def fill_change(audio: np.ndarray, out: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """:func:`~bridge.restore.report.change_figures` of a whole take ``(frames, channels)``
    whose repair ``out`` differs from ``audio`` only in the frames ``mask`` marks: read from
    those frames and the input's total power, not from a difference of the whole take."""
    marked = np.flatnonzero(mask)
    before, after = audio[marked], out[marked]
    part_db, part_fraction = change_figures(before, after)
    if marked.size == 0 or not math.isfinite(part_db):
        return part_db, 0.0
    part_power = float(np.vdot(before, before))
    if part_power <= 1e-30 * before.size:
        return change_figures(audio, out)
    # change_figures rates the change against the power of the frames it was given.
    flat = np.ravel(audio)
    total = float(np.dot(flat, flat))
    return (
        part_db + 10.0 * math.log10(part_power / max(total, 1e-300)),
        part_fraction * marked.size / audio.shape[0],
    )
