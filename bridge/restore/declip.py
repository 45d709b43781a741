"""Clipping repair: find runs of samples stuck at the rails and redraw the waveform above
them.

How it works: the rails are the most positive and most negative sample values; a file is
taken as clipped when a clear share of its samples sit on them in runs. Each clipped run is
redrawn by least-squares AR interpolation from the samples around it, kept consistent with
the clipping (a sample clipped at the top rail must come back at or above it); runs that lie
close together are solved together.

    >>> import numpy as np
    >>> from bridge.restore.corrupt import clip, si_sdr_db
    >>> rate = 16000
    >>> t = np.arange(rate) / rate
    >>> clean = 0.6 * np.sin(2 * np.pi * 200 * t) + 0.3 * np.sin(2 * np.pi * 470 * t)
    >>> clipped, level = clip(clean, 0.04)
    >>> fixed, report = declip(clipped, rate)
    >>> report.applied, si_sdr_db(clean, fixed) > si_sdr_db(clean, clipped) + 10
    (True, True)
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.linalg import solveh_banded

from bridge.restore.ar import ar_order_for, fill_change, fit_ar, interpolate_clipped, runs
from bridge.restore.blas import single_threaded
from bridge.restore.report import RestoreReport, as_2d, restore_shape

RAIL_TOLERANCE = 1e-4
"""Samples within this fraction of full rail value count as on the rail."""
MAX_GROUP = 4096
JOIN = 2
MIN_CLIPPED_FRACTION = 2e-4
"""Below this share of samples on the rails (in runs of 2+), a file is not called clipped."""
OVERSHOOT = 0.02
"""A run looks clipped when the waveform around it points this share of the rail above it."""
MIN_SHAPED_FRACTION = 0.3
"""Share of a rail's runs that must look clipped for the rail to count as clipping."""
QUIET_RAIL_DB = -12.0
"""Rails below this level (dBFS) are judged only on their runs of 3+ samples..."""
QUIET_MIN_RUNS = 10
"""...and need at least this many of them."""


def find_clipping(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Mask of clipped samples in a mono signal, with the positive and negative rails.

    A sample is clipped when it sits on a rail and is part of a run of at least two (a lone
    peak sample at the maximum is just the loudest sample), and the take's runs on that rail
    look like clipping: enough of them (:data:`MIN_SHAPED_FRACTION`) cut off a waveform that
    was still rising (:func:`_overshoot`). A tone whose peak falls between two samples also
    repeats its peak value, but its neighbours bend down into it. A rail more than
    :data:`QUIET_RAIL_DB` under full scale is judged only on its runs of 3+ samples, and
    needs :data:`QUIET_MIN_RUNS` of them.

        >>> import numpy as np
        >>> t = np.arange(48000) / 48000
        >>> tone = 0.25 * np.sin(2 * np.pi * 1600 * t)
        >>> clipped = np.clip(tone, -0.2, 0.2)
        >>> bool(find_clipping(tone)[0].any()), bool(find_clipping(clipped)[0].any())
        (False, True)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0, bool), 0.0, 0.0
    top, bottom = float(x.max()), float(-x.min())
    mask = np.zeros(len(x), bool)
    quiet = 10 ** (QUIET_RAIL_DB / 20)
    for level, sign in ((top, 1.0), (bottom, -1.0)):
        if level <= 0:
            continue
        signed = sign * x
        on = signed >= level * (1 - RAIL_TOLERANCE)
        framed = np.concatenate([[False], on, [False]])
        edges = np.flatnonzero(framed[1:] != framed[:-1])
        starts, stops = edges[::2], edges[1::2]
        stuck = stops - starts >= 2
        # The runs that decide whether the rail is clipping at all.
        judged = stuck if level >= quiet else stops - starts >= 3
        count = int(np.count_nonzero(judged))
        if not count or (level < quiet and count < QUIET_MIN_RUNS):
            continue
        shaped = _overshoots(signed, starts[judged], stops[judged]) > OVERSHOOT * level
        if np.mean(shaped) < MIN_SHAPED_FRACTION:
            continue
        # Every sample of a run of two or more: on the rail, next to another one there.
        pairs = on[1:] & on[:-1]
        mask[1:] |= pairs
        mask[:-1] |= pairs
    return mask, top, bottom


def _overshoots(x: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """For each run [a, b): how far above it the waveform would have gone, the top of a
    parabola through the two samples either side of the run less the run's level (0 at the
    ends of the take, where one side is missing). All runs at once (one small least-squares
    system per run, solved as a batch)."""
    out = np.zeros(len(starts))
    ok = (starts >= 2) & (stops + 2 <= len(x))
    a, b = starts[ok], stops[ok]
    if not len(a):
        return out
    length = (b - a).astype(np.float64)
    pos = np.stack([np.full_like(length, -2.0), np.full_like(length, -1.0), length,
                    length + 1.0], axis=1)
    val = x[np.stack([a - 2, a - 1, b, b + 1], axis=1)]
    design = np.stack([np.ones_like(pos), pos, pos * pos], axis=2)  # (runs, 4, 3)
    normal = np.einsum("rki,rkj->rij", design, design)
    rhs = np.einsum("rki,rk->ri", design, val)
    c0, c1, c2 = np.linalg.solve(normal, rhs[..., None])[..., 0].T
    # not bending down: a straight line from the steeper side would go on above the run
    straight = np.maximum(np.maximum(x[a - 1] - x[a - 2], x[b] - x[b + 1]), 0.0)
    bending = c2 < 0
    safe_c2 = np.where(bending, c2, -1.0)
    vertex = np.clip(-c1 / (2 * safe_c2), -1.0, length)
    top = c0 + c1 * vertex + c2 * vertex**2 - x[a]
    out[ok] = np.where(bending, top, straight)
    return out


ROUNDS = 4
"""Passes of the consistency rule (a restored sample must not fall back inside the rails)."""


def _groups(clipped_runs: list[tuple[int, int]], context: int) -> list[list[int]]:
    """Runs whose contexts would overlap, joined into stretches that share one AR model (up
    to :data:`MAX_GROUP` clipped samples each)."""
    groups: list[list[int]] = []
    count = 0
    for a, b in clipped_runs:
        if groups and a - groups[-1][1] < JOIN * context and count + b - a <= MAX_GROUP:
            groups[-1][1] = b
            count += b - a
        else:
            groups.append([a, b])
            count = b - a
    return groups


def _repair(
    x: np.ndarray, mask: np.ndarray, clipped_runs: list[tuple[int, int]], top: float,
    bottom: float, order: int, context: int,
) -> np.ndarray:
    """One channel with its clipped samples (``mask``) redrawn.

    Each stretch of runs gets its own AR model (from the samples around its runs); the
    clipped samples are then filled by least squares under the rule that they stay outside
    the rails (as :func:`~bridge.restore.ar.interpolate_clipped` does for one stretch).
    Samples of different stretches never meet in those equations, so every stretch of the
    channel goes into one banded system, solved once per pass of the rule: the answer each
    stretch would give on its own (to rounding), for one solver call instead of one per
    stretch and pass."""
    n = len(x)
    out = x.copy()
    peak = max(top, bottom)
    # Stretches with enough known samples to fit a model on.
    bounds = np.array(_groups(clipped_runs, context), dtype=np.int64).reshape(-1, 2)
    lo, hi = np.maximum(bounds[:, 0] - context, 0), np.minimum(bounds[:, 1] + context, n)
    marked = np.concatenate([[0], np.cumsum(mask)])
    fit = hi - lo - (marked[hi] - marked[lo]) >= order + 4
    stretches = list(zip(lo[fit].tolist(), hi[fit].tolist(), *bounds[fit].T.tolist(),
                         strict=True))
    fits = _fit_stretches(x, mask, [(lo, hi) for lo, hi, _, _ in stretches], order)
    groups = []  # (lo, hi, coefficients)
    unknown, owner = [], []
    for (lo, hi, a, b), coef in zip(stretches, fits, strict=True):
        groups.append((lo, hi, coef))
        where = np.flatnonzero(mask[a:b]) + a
        unknown.append(where)
        owner.append(np.full(len(where), len(groups) - 1))
    if groups:
        coef = np.stack([g[2] for g in groups])
        try:
            _fill(out, np.concatenate(unknown), np.concatenate(owner), coef, top, bottom)
        except np.linalg.LinAlgError:
            # (a system that is not numerically positive definite: stretch by stretch,
            # where the solver falls back to least squares)
            out = x.copy()
            for lo, hi, a in groups:
                known = ~mask[lo:hi]
                fixed = interpolate_clipped(x[lo:hi], known, a, top, bottom, ROUNDS)
                out[lo:hi] = np.where(known, x[lo:hi], fixed)
    # A stretch whose fill ran wild (the model did not fit) is tried again with a lower
    # order, and left as it was if that fails too. (Stretches never overlap: their runs
    # lie two contexts apart.)
    wild = np.concatenate([[0], np.cumsum(~(np.abs(out) <= 4 * peak))])
    for lo, hi, _ in groups:
        if wild[hi] == wild[lo]:
            continue
        seg, known = x[lo:hi], ~mask[lo:hi]
        coef = fit_ar(seg, known, max(order // 2, 4))
        fixed = interpolate_clipped(seg, known, coef, top, bottom, ROUNDS)
        ok = np.all(np.isfinite(fixed)) and np.max(np.abs(fixed)) <= 4 * peak
        out[lo:hi] = np.where(known, seg, fixed) if ok else seg
    return out


SHORT_STRETCH = 1024
"""Stretches up to this long have their AR models fitted together (batched products)."""
FIT_BATCH = 262_144
"""Samples of model-fitting rows gathered at a time (2 MB)."""


def _fit_stretches(x: np.ndarray, mask: np.ndarray, spans: list[tuple[int, int]],
                   order: int) -> list[np.ndarray]:
    """:func:`~bridge.restore.ar.fit_ar` of ``x[lo:hi]`` (known where ``mask`` is False) for
    every span: the short ones (most of them: a clipped peak or two and their context) in
    batched covariance fits (similar sizes together), the long ones one by one."""
    fits: list[np.ndarray | None] = [None] * len(spans)
    width = order + 1
    short: list[tuple[int, np.ndarray]] = []
    for i, (lo, hi) in enumerate(spans):
        if hi - lo <= SHORT_STRETCH:
            holes = np.concatenate([[0], np.cumsum(mask[lo:hi])])
            starts = lo + np.flatnonzero(holes[width:] == holes[: hi - lo - order])
            if len(starts) >= 3 * order:
                short.append((i, starts))
                continue
        fits[i] = fit_ar(x[lo:hi], ~mask[lo:hi], order)
    # Similar sizes together, a bounded batch at a time: little padding, and the working
    # set stays small (a big temporary costs its page faults on every call).
    short.sort(key=lambda item: len(item[1]))
    # Padding rows read a window of zeros past the end.
    padded = sliding_window_view(np.concatenate([x, np.zeros(width)]), width)
    first = 0
    while first < len(short):
        most = len(short[first][1])
        last = first + 1
        while last < len(short):
            longer = max(most, len(short[last][1]))
            if (last + 1 - first) * longer * width > FIT_BATCH:
                break
            most = longer
            last += 1
        batch = short[first:last]
        index = np.full((len(batch), most), len(x), np.int64)
        for j, (_, starts) in enumerate(batch):
            index[j, : len(starts)] = starts
        rows = padded[index]  # (stretches, rows, width)
        full = np.matmul(rows.transpose(0, 2, 1), rows)
        gram = full[:, :-1, :-1][:, ::-1, ::-1].copy()
        ridge = 1e-5 * np.trace(gram, axis1=1, axis2=2) / order + 1e-12
        gram[:, np.arange(order), np.arange(order)] += ridge[:, None]
        coef = np.linalg.solve(gram, full[:, :-1, -1][:, ::-1, None])[:, :, 0]
        for j, (i, _) in enumerate(batch):
            fits[i] = np.concatenate([[1.0], -coef[j]])
        first = last
    return fits  # type: ignore[return-value]


def _fill(out: np.ndarray, unknown: np.ndarray, owner: np.ndarray, coef: np.ndarray,
          top: float, bottom: float) -> None:
    """Fill ``out`` at the sorted clipped positions ``unknown`` (each with the stretch
    ``owner`` whose AR coefficients are a row of ``coef``), in place, keeping them outside
    the rails ``top`` / ``-bottom``."""
    n = len(out)
    p = coef.shape[1] - 1
    corr = np.stack([np.correlate(a, a, mode="full")[p:] for a in coef])  # lags 0..p
    taps = np.concatenate([corr[:, :0:-1], corr], axis=1)  # lags -p..p
    sign = np.sign(out[unknown])
    # Samples closer than p meet in the equations: such a chain is a cluster, solved (and
    # pinned) on its own.
    cluster = np.concatenate([[0], np.cumsum(np.diff(unknown) > p)])
    free = np.ones(len(unknown), bool)
    active = np.ones(int(cluster[-1]) + 1, bool)
    # Lag p + 1 stands for every lag past p: no coupling.
    flat_corr = np.concatenate([corr, np.zeros((len(corr), 1))], axis=1).ravel()
    # The signal with p zeros either side; the samples being solved are zeroed in it
    # while they are solved (only they change from pass to pass).
    padded = np.zeros(n + 2 * p)
    padded[p:-p] = out
    windows = sliding_window_view(padded, 2 * p + 1)
    for _ in range(ROUNDS):
        pick = np.flatnonzero(free & active[cluster])
        if not len(pick):
            break
        at, group = unknown[pick], owner[pick]
        m = len(at)
        width = min(p, m - 1)
        # Upper band (row ``width - d`` holds superdiagonal d): corr[|i - j|] when within p.
        # Column r of ``before`` holds each unknown's (width - r)-th predecessor.
        before = sliding_window_view(np.concatenate([np.full(width, -2 * n - 2 * p), at]),
                                     width + 1)
        # (few temporaries, each computed in place: this runs over every clipped sample;
        # built transposed, so the band is in the solver's own column-major order)
        lag = at[:, None] - before
        np.minimum(lag, p + 1, out=lag)
        lag += (group * (p + 2))[:, None]
        band = flat_corr[lag].T
        band[width] += 1e-9 * np.maximum(corr[group, 0], 1e-30)
        padded[at + p] = 0.0
        # (unknowns are sorted, so each stretch's are one slice: one product per stretch)
        rhs = np.empty(m)
        edges = np.flatnonzero(np.diff(group)) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, m], strict=True):
            rhs[lo:hi] = windows[at[lo:hi]] @ -taps[group[lo]]
        y = solveh_banded(band, rhs, overwrite_ab=True, overwrite_b=True, check_finite=False)
        out[at] = y
        s = sign[pick]
        low = ((s > 0) & (y < top)) | ((s < 0) & (y > -bottom))
        out[at[low & (s > 0)]] = top
        out[at[low & (s < 0)]] = -bottom
        padded[at + p] = out[at]
        free[pick[low]] = False
        # A cluster with nothing pinned this pass has its answer.
        still = np.zeros_like(active)
        still[cluster[pick[low]]] = True
        active &= still
    up, down = unknown[sign > 0], unknown[sign < 0]
    out[up] = np.maximum(out[up], top)
    out[down] = np.minimum(out[down], -bottom)


@single_threaded
def declip(
    x: np.ndarray, rate: int, *, force: bool = False
) -> tuple[np.ndarray, RestoreReport]:
    """Restore clipped peaks.

    Args:
        x: audio, (frames,) or (frames, channels).
        rate: sample rate, Hz.
        force: repair even when fewer than :data:`MIN_CLIPPED_FRACTION` samples are clipped.

    Returns:
        The repaired audio (its peaks may now exceed the old rails: lower the gain before
        writing to a fixed-point file) and a report.
    """
    audio, mono = as_2d(x)
    # Above ~22 kHz sampling, a higher order costs time (it grows with its square) and
    # buys nothing: the top octave carries little of a clipped peak.
    order = ar_order_for(min(rate, 22050))
    out = audio.copy()
    total_runs, total_samples = 0, 0
    context = max(3 * order, int(0.004 * rate))
    # Frames a repair may have touched (in any channel).
    touched = np.zeros(audio.shape[0], bool)
    for c in range(audio.shape[1]):
        # (one channel at a time, in a contiguous copy: strided reads cost twice as much)
        channel = np.ascontiguousarray(audio[:, c])
        mask, top, bottom = find_clipping(channel)
        if not force and (mask.mean() if mask.size else 0.0) < MIN_CLIPPED_FRACTION:
            continue
        clipped_runs = runs(mask)
        total_runs += len(clipped_runs)
        total_samples += int(mask.sum())
        touched |= mask
        out[:, c] = _repair(channel, mask, clipped_runs, top, bottom, order, context)
    changed_db, fraction = fill_change(audio, out, touched)
    clipped_fraction = total_samples / max(audio.size, 1)
    report = RestoreReport(
        process="declip",
        applied=total_runs > 0,
        found=(
            f"{total_runs} clipped runs, {100 * clipped_fraction:.2f} % of samples"
            if total_runs
            else "no clipping found"
        ),
        changed_db=changed_db,
        changed_fraction=fraction,
        figures={
            "clipped_runs": total_runs,
            "clipped_samples": total_samples,
            "clipped_fraction": round(clipped_fraction, 5),
            "peak_after": round(float(np.max(np.abs(out))) if out.size else 0.0, 4),
        },
    )
    return restore_shape(out, mono), report
