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

from bridge.restore.ar import ar_order_for, fit_ar, interpolate_clipped, runs
from bridge.restore.blas import single_threaded
from bridge.restore.report import RestoreReport, as_2d, change_figures, restore_shape

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
        stuck = [(a, b) for a, b in runs(on) if b - a >= 2]
        # The runs that decide whether the rail is clipping at all.
        judged = stuck if level >= quiet else [(a, b) for a, b in stuck if b - a >= 3]
        if not judged or (level < quiet and len(judged) < QUIET_MIN_RUNS):
            continue
        starts, stops = (np.array(v, dtype=np.int64) for v in zip(*judged, strict=True))
        shaped = _overshoots(signed, starts, stops) > OVERSHOOT * level
        if np.mean(shaped) < MIN_SHAPED_FRACTION:
            continue
        for a, b in stuck:
            mask[a:b] = True
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
    n = audio.shape[0]
    context = max(3 * order, int(0.004 * rate))
    for c in range(audio.shape[1]):
        mask, top, bottom = find_clipping(audio[:, c])
        if not force and (mask.mean() if mask.size else 0.0) < MIN_CLIPPED_FRACTION:
            continue
        clipped_runs = runs(mask)
        total_runs += len(clipped_runs)
        total_samples += int(mask.sum())
        # Join runs whose contexts would overlap: they are solved as one stretch.
        # (Up to MAX_GROUP clipped samples per stretch: the solve grows with their cube.)
        groups: list[list[int]] = []
        count = 0
        for a, b in clipped_runs:
            if groups and a - groups[-1][1] < JOIN * context and count + b - a <= MAX_GROUP:
                groups[-1][1] = b
                count += b - a
            else:
                groups.append([a, b])
                count = b - a
        for a, b in groups:
            lo, hi = max(a - context, 0), min(b + context, n)
            seg = audio[lo:hi, c]
            known = ~mask[lo:hi]
            if known.sum() < order + 4:
                continue
            coef = fit_ar(seg, known, order)
            fixed = interpolate_clipped(seg, known, coef, top, bottom)
            peak = max(top, bottom)
            if not np.all(np.isfinite(fixed)) or np.max(np.abs(fixed)) > 4 * peak:
                coef = fit_ar(seg, known, max(order // 2, 4))
                fixed = interpolate_clipped(seg, known, coef, top, bottom)
                if not np.all(np.isfinite(fixed)) or np.max(np.abs(fixed)) > 4 * peak:
                    continue
            out[lo:hi, c] = np.where(known, seg, fixed)
    changed_db, fraction = change_figures(audio, out)
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
