"""Click and crackle removal (vinyl ticks, digital spikes, mouth clicks).

How it works: an autoregressive model of each short block predicts every sample from the
ones before it and, separately, from the ones after it. A click is where both predictions
miss by far more than the block's usual miss (a robust, median-based scale): a drum hit or
a consonant is predictable from one side once it has started, a click is not. The marked
samples (runs up to ``max_click_ms`` long; longer events are left alone as real transients)
are filled in by least-squares AR interpolation from the 3 x order samples around them.

    >>> import numpy as np
    >>> from bridge.restore.corrupt import add_clicks, si_sdr_db
    >>> rate = 16000
    >>> t = np.arange(rate) / rate
    >>> clean = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t)
    >>> clicked, _ = add_clicks(clean, rate, count=20, seed=2)
    >>> restored, report = declick(clicked, rate)
    >>> report.figures["clicks"] >= 18, si_sdr_db(clean, restored) > 35
    (True, True)
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

from bridge.restore.ar import ar_order_for, interpolate_safely, runs
from bridge.restore.report import RestoreReport, as_2d, change_figures, restore_shape

BLOCK_S = 0.064
THRESHOLD = 14.0
EDGE = 3.0
GROW = 1


def _block_ar(x: np.ndarray, order: int) -> np.ndarray:
    r = np.correlate(x, x, mode="full")[len(x) - 1 : len(x) + order].copy()
    if r[0] <= 0:
        return np.concatenate([[1.0], np.zeros(order)])
    r[0] *= 1.0 + 1e-4
    return np.concatenate([[1.0], -solve_toeplitz(r[:order], r[1 : order + 1])])


def _scores(x: np.ndarray, rate: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward AR prediction errors in units of each block's robust scale."""
    n = len(x)
    block = int(BLOCK_S * rate)
    fwd_score = np.zeros(n)
    bwd_score = np.zeros(n)
    for start in range(0, n, block):
        lo = max(start - order, 0)
        hi = min(start + block + order, n)
        seg = x[lo:hi]
        if len(seg) <= 2 * order + 8 or not np.any(seg):
            continue
        a = _block_ar(seg * np.hanning(len(seg)), order)
        fwd = np.abs(lfilter(a, [1.0], seg))
        bwd = np.abs(lfilter(a, [1.0], seg[::-1])[::-1])
        fwd /= 1.4826 * np.median(fwd[order:]) + 1e-12
        bwd /= 1.4826 * np.median(bwd[:-order]) + 1e-12
        fwd[:order] = 0
        bwd[-order:] = 0
        a0 = start - lo
        stop = min(start + block, n)
        fwd_score[start:stop] = fwd[a0 : a0 + stop - start]
        bwd_score[start:stop] = bwd[a0 : a0 + stop - start]
    return fwd_score, bwd_score


def detect_clicks(
    x: np.ndarray, rate: int, *, sensitivity: float = 1.0, order: int | None = None,
    max_click_ms: float = 2.0,
) -> list[tuple[int, int]]:
    """(start, stop) frames of the clicks in a mono signal.

    A click starts where both the forward and the backward prediction miss by
    THRESHOLD / ``sensitivity`` robust units; it is then followed left while the forward
    error stays above EDGE units and right while the backward error does (its faint tail).
    Events longer than ``max_click_ms`` are left out: they are real transients.
    """
    order = order or ar_order_for(rate)
    fwd, bwd = _scores(np.asarray(x, dtype=np.float64), rate, order)
    # A click of a few samples can fool one of the predictions on its own first or last
    # sample, so each side may look one sample to either side.
    fwd3 = np.maximum(np.maximum(fwd, np.roll(fwd, 1)), np.roll(fwd, -1))
    bwd3 = np.maximum(np.maximum(bwd, np.roll(bwd, 1)), np.roll(bwd, -1))
    seeds = np.minimum(fwd3, bwd3) > THRESHOLD / max(sensitivity, 1e-3)
    max_len = max(int(max_click_ms * 1e-3 * rate), 2)
    edge = EDGE / max(sensitivity, 1e-3)
    events: list[tuple[int, int]] = []
    n = len(x)
    for a, b in runs(seeds):
        if events and a < events[-1][1]:
            continue
        # The click runs from the first sample the forward prediction misses (its history
        # is still clean) to the last one the backward prediction misses.
        lo, hi = a, b
        # Step outwards over gaps of up to 2 samples: inside a click the errors flicker.
        while lo > 0 and b - lo <= max_len and np.any(fwd[max(lo - 3, 0) : lo] > edge):
            lo -= 1 + int(np.argmax(fwd[max(lo - 3, 0) : lo][::-1] > edge))
        while hi < n and hi - a <= max_len and np.any(bwd[hi : hi + 3] > edge):
            hi += 1 + int(np.argmax(bwd[hi : hi + 3] > edge))
        lo, hi = max(min(lo, a) - GROW, 0), min(max(hi, b) + GROW, n)
        if events and lo - events[-1][1] < 4:
            lo = events.pop()[0]
        events.append((lo, hi))
    return [(a, b) for a, b in events if b - a <= max_len + 2 * GROW]


def declick(
    x: np.ndarray,
    rate: int,
    *,
    sensitivity: float = 1.0,
    max_click_ms: float = 2.0,
) -> tuple[np.ndarray, RestoreReport]:
    """Find and repair clicks.

    Args:
        x: audio, (frames,) or (frames, channels).
        rate: sample rate, Hz.
        sensitivity: detection sensitivity (1 = default, 2 = finds fainter clicks).
        max_click_ms: longer events are taken for real transients and left alone.

    Returns:
        The repaired audio and a report (``clicks`` found, ``samples_repaired``).
    """
    audio, mono = as_2d(x)
    order = ar_order_for(rate)
    n = audio.shape[0]
    mask = np.zeros(n, bool)
    for c in range(audio.shape[1]):
        for lo, hi in detect_clicks(
            audio[:, c], rate, sensitivity=sensitivity, order=order, max_click_ms=max_click_ms
        ):
            mask[lo:hi] = True
    events = runs(mask)
    out = audio.copy()
    context = max(4 * order, int(0.008 * rate))
    for a, b in events:
        lo, hi = max(a - context, 0), min(b + context, n)
        known = np.ones(hi - lo, bool)
        known[a - lo : b - lo] = False
        for c in range(audio.shape[1]):
            out[lo:hi, c] = interpolate_safely(out[lo:hi, c], known, order)
    changed_db, fraction = change_figures(audio, out)
    repaired = int(sum(b - a for a, b in events))
    report = RestoreReport(
        process="declick",
        applied=bool(events),
        found=f"{len(events)} clicks" if events else "no clicks found",
        changed_db=changed_db,
        changed_fraction=fraction,
        figures={
            "clicks": len(events),
            "samples_repaired": repaired,
            "clicks_per_minute": round(len(events) / max(n / rate / 60, 1e-9), 1),
        },
    )
    return restore_shape(out, mono), report
