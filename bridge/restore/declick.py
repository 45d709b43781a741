"""Click and crackle removal (vinyl ticks, digital spikes, mouth clicks).

How it works: an autoregressive model of each 64 ms block (all blocks fitted at once by
Levinson-Durbin) predicts every sample from the ones before it and, separately, from the
ones after it. A click is where both predictions miss by far more than the usual miss
around it (a robust scale: the median of 1 ms error levels over the surrounding 9 ms): a
drum hit or a consonant is predictable from one side once it has started, a click is not.
The marked samples (runs up to ``max_click_ms`` long; longer events are left alone as real
transients) are filled in by least-squares AR interpolation from the 16 ms either side,
every click of a channel solved in one batch. A second look at the repaired audio finds
the clicks that the first one missed next to others.

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
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy.fft import next_fast_len
from scipy.ndimage import median_filter

from bridge.restore.ar import (
    ar_order_for,
    autocorrelation,
    interpolate,
    interpolate_batch,
    interpolate_safely,
    levinson,
    runs,
)
from bridge.restore.blas import single_threaded
from bridge.restore.report import RestoreReport, as_2d, change_figures, restore_shape

BLOCK_S = 0.064
"""Length of the blocks that get one AR model each, seconds."""
THRESHOLD = 10.0
"""Both predictions must miss by this many local scale units for a click to start."""
EDGE = 3.0
"""A click's edges are followed while the error stays above this many units."""
GROW = 1
"""Samples added either side of a detected click (its edges are uncertain)."""
SCALE_FRAMES = 9
"""1 ms frames in the running median that sets the error scale."""
PASSES = 2
"""Looks at the audio: the second, on the repaired audio, only where the first found clicks."""
FILL_ORDER = 1.5
"""The repair uses a model this many times the detection order (it must carry the
waveform across the gap, not just flag it)."""
CONTEXT_MS = 16.0
"""Known audio either side of a click that its repair model is fitted on."""


def _scores(
    x: np.ndarray, rate: int, order: int, blocks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward AR prediction errors in units of their local robust scale.

    One AR model per BLOCK_S block (Hann-weighted, ``order`` samples of margin each side),
    all blocks fitted at once. ``blocks`` (booleans, one per block) limits the work to
    those blocks; the others score zero."""
    n = len(x)
    block = int(BLOCK_S * rate)
    count = -(-n // block)
    length = block + 2 * order
    padded = np.zeros(count * block + 2 * order)
    padded[order : order + n] = x
    chosen = np.arange(count) if blocks is None else np.flatnonzero(blocks[:count])
    fwd_score = np.zeros(count * block, np.float32)
    bwd_score = np.zeros(count * block, np.float32)
    if chosen.size:
        # Single precision is plenty to find where a prediction misses, and twice as fast.
        size = next_fast_len(length + order + 1, real=True)
        segs = np.zeros((chosen.size, size), np.float32)
        segs[:, :length] = sliding_window_view(padded, length)[::block][chosen]
        taper = np.zeros(size, np.float32)
        taper[:length] = np.hanning(length)
        windowed = sp_fft.rfft(segs * taper, axis=1)
        r = sp_fft.irfft(windowed.real**2 + windowed.imag**2, size, axis=1)[:, : order + 1]
        a = levinson(r.astype(np.float64), order)
        # Prediction errors through one batched FFT: forward = a * seg (causal convolution),
        # backward = the same filter run from the future (correlation).
        spec = sp_fft.rfft(segs, axis=1)
        filt = sp_fft.rfft(a.astype(np.float32), size, axis=1)
        core = slice(order, order + block)
        fwd = np.abs(sp_fft.irfft(spec * filt, size, axis=1)[:, core]).reshape(-1)
        bwd = np.abs(sp_fft.irfft(spec * filt.conj(), size, axis=1)[:, core]).reshape(-1)
        fwd /= _local_scale(fwd, rate)
        bwd /= _local_scale(bwd, rate)
        fwd_score.reshape(count, block)[chosen] = fwd.reshape(chosen.size, block)
        bwd_score.reshape(count, block)[chosen] = bwd.reshape(chosen.size, block)
    fwd_score, bwd_score = fwd_score[:n], bwd_score[:n]
    # The file's first and last samples have no history on one side.
    fwd_score[:order] = 0
    bwd_score[-order:] = 0
    return fwd_score, bwd_score


def _local_scale(error: np.ndarray, rate: int) -> np.ndarray:
    """Robust running scale of a prediction error: the median of 1 ms frame RMS values over
    SCALE_FRAMES frames around each sample (a click fills one or two of them)."""
    n = len(error)
    frame = max(int(0.001 * rate), 8)
    full = n // frame
    sums = np.einsum("ij,ij->i", *(error[: full * frame].reshape(full, frame),) * 2)
    if full * frame < n:
        rest = error[full * frame :]
        sums = np.append(sums, np.dot(rest, rest) * frame / len(rest))
    rms = np.sqrt(sums / frame)
    count = len(rms)
    half = SCALE_FRAMES // 2
    ext = np.pad(rms, (half, half), mode="reflect" if count > half else "edge")
    local = median_filter(ext, size=2 * half + 1, mode="nearest")[half : half + count]
    floor = 1e-4 * float(np.max(rms, initial=0.0)) + 1e-12
    return np.repeat(np.maximum(local, floor).astype(error.dtype), frame)[:n]


def _chain_starts(positions: np.ndarray) -> np.ndarray:
    """For sorted ``positions``, the index of the first member of each one's chain, where a
    chain links positions at most 3 apart."""
    if positions.size == 0:
        return np.zeros(0, np.int64)
    begins = np.concatenate([[True], np.diff(positions) > 3])
    return np.maximum.accumulate(np.where(begins, np.arange(positions.size), 0))


def _near(flags: np.ndarray) -> np.ndarray:
    """True where ``flags`` is True at the sample or one of its two neighbours."""
    out = flags.copy()
    out[1:] |= flags[:-1]
    out[:-1] |= flags[1:]
    return out


@single_threaded
def detect_clicks(
    x: np.ndarray, rate: int, *, sensitivity: float = 1.0, order: int | None = None,
    max_click_ms: float = 1.0, near: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """(start, stop) frames of the clicks in a mono signal (only in the BLOCK_S blocks that
    hold a True sample of ``near``, when given).

    A click starts where both the forward and the backward prediction miss by
    THRESHOLD / ``sensitivity`` local robust units (each may look one sample to either
    side); it is then followed left while the forward error stays above EDGE units and
    right while the backward error does (its faint tail), by at most ``max_click_ms``.
    Events longer than ``max_click_ms`` are left out: they are real transients.
    """
    order = order or ar_order_for(rate)
    if len(x) < 4 * order + 16:
        return []
    blocks = None
    if near is not None:
        block = int(BLOCK_S * rate)
        count = -(-len(x) // block)
        flags = np.zeros(count * block, bool)
        flags[: len(near)] = near
        blocks = flags.reshape(count, block).any(axis=1)
    fwd, bwd = _scores(np.asarray(x, dtype=np.float64), rate, order, blocks)
    threshold = THRESHOLD / max(sensitivity, 1e-3)
    # A click's first sample fools the forward prediction, its last the backward one; a
    # click of a few samples can also fool one side on a neighbour, hence the +-1.
    seeds = _near(fwd > threshold) & _near(bwd > threshold)
    max_len = max(int(max_click_ms * 1e-3 * rate), 2)
    edge = EDGE / max(sensitivity, 1e-3)
    # Chains of samples above EDGE with gaps of at most 2 (inside a click the errors
    # flicker): the click's start follows the forward chain left, its end the backward
    # chain right.
    left = np.flatnonzero(fwd > edge)
    left_start = _chain_starts(left)
    right = np.flatnonzero(bwd > edge)
    right_end = (len(right) - 1 - _chain_starts(-right[::-1]))[::-1]
    events: list[tuple[int, int]] = []
    n = len(x)
    for a, b in runs(seeds):
        if b - a > max_len:
            continue
        if events and a < events[-1][1]:
            continue
        # The click runs from the first sample the forward prediction misses (its history
        # is still clean) to the last one the backward prediction misses.
        lo, hi = a, b
        j = int(np.searchsorted(left, a)) - 1
        if j >= 0 and a - left[j] <= 3:
            lo = int(left[left_start[j]])
        k = int(np.searchsorted(right, b))
        if k < len(right) and right[k] - b <= 2:
            hi = int(right[right_end[k]]) + 1
        # In quiet passages the errors stay above EDGE: the tail then stops at max_len.
        lo, hi = max(lo, b - max_len), min(hi, a + max_len)
        lo, hi = max(min(lo, a) - GROW, 0), min(max(hi, b) + GROW, n)
        if events and lo - events[-1][1] < 4:
            lo = events.pop()[0]
        events.append((lo, hi))
    return [(a, b) for a, b in events if b - a <= max_len + 2 * GROW]


def _repair(audio: np.ndarray, base: np.ndarray, events: list[tuple[int, int]],
            mask: np.ndarray, order: int, context: int) -> np.ndarray:
    """LSAR over a window of ``context`` samples either side of every event, all events
    of a channel solved in one batch; every marked sample in a window counts as missing,
    so a neighbouring click never feeds a repair. Windows the batch cannot solve (or
    whose fill is implausibly loud) are solved one by one (banded), and failing that by
    :func:`interpolate_safely`.
    The repairs are written into a copy of ``base``."""
    n = audio.shape[0]
    out = base.copy()
    if not events:
        return out
    starts = np.array([a for a, _ in events])
    stops = np.array([b for _, b in events])
    length = 2 * context + int((stops - starts).max())
    take = (starts - context)[:, None] + np.arange(length)[None, :]
    inside = (take >= 0) & (take < n)
    take = np.clip(take, 0, n - 1)
    # Beyond the ends of the audio: known silence.
    known = ~mask[take] | ~inside
    own = (take >= starts[:, None]) & (take < stops[:, None]) & inside
    # Windows crowded with other clicks (crackle) go to the banded solver: a dense solve
    # grows with the cube of the missing samples.
    max_unknown = int((stops - starts).max()) + 8
    for c in range(audio.shape[1]):
        windows = np.where(inside, audio[take, c], 0.0)
        zeroed = np.where(known, windows, 0.0).astype(np.float32)
        a = levinson(autocorrelation(zeroed, order), order)
        filled, solved = interpolate_batch(windows, known, a, max_unknown)
        ref = np.max(np.abs(np.where(known, windows, 0.0)), axis=1)
        loud = np.max(np.abs(np.where(known, 0.0, filled)), axis=1) > 2.0 * ref
        solved &= ~loud
        rows, cols = np.nonzero(own & solved[:, None])
        out[take[rows, cols], c] = filled[rows, cols]
        for i in np.flatnonzero(~solved):
            # Crowded windows (crackle): the banded solve with the same model first.
            fixed = interpolate(windows[i], known[i], a[i])
            if np.all(np.isfinite(fixed)) and np.max(
                np.abs(fixed[~known[i]]), initial=0.0
            ) <= 2.0 * ref[i]:
                out[take[i, own[i]], c] = fixed[own[i]]
                continue
            lo, hi = max(starts[i] - context, 0), min(stops[i] + context, n)
            fixed = interpolate_safely(out[lo:hi, c], ~mask[lo:hi], order)
            out[starts[i] : stops[i], c] = fixed[starts[i] - lo : stops[i] - lo]
    return out


@single_threaded
def declick(
    x: np.ndarray,
    rate: int,
    *,
    sensitivity: float = 1.0,
    max_click_ms: float = 1.0,
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
    fill_order = int(round(order * FILL_ORDER))
    context = max(4 * fill_order, int(CONTEXT_MS * 1e-3 * rate))
    out = audio
    # A second look at the repaired audio finds clicks the first one hid: a neighbour that
    # took over the prediction error, or a cluster that spoilt the block's AR model.
    for step in range(PASSES):
        before = mask.copy()
        # The second look is needed only where the first found something: a click spoils
        # the AR model of its own block, which can hide a neighbour.
        near = None if step == 0 else before
        for c in range(audio.shape[1]):
            for lo, hi in detect_clicks(
                out[:, c], rate, sensitivity=sensitivity, order=order,
                max_click_ms=max_click_ms, near=near,
            ):
                mask[lo:hi] = True
        new = mask & ~before
        if not new.any():
            break
        # Only windows that now hold a newly marked sample need solving (again).
        fresh = np.flatnonzero(new)
        redo = [
            (a, b) for a, b in runs(mask)
            if np.searchsorted(fresh, b + context) > np.searchsorted(fresh, a - context)
        ]
        out = _repair(audio, out, redo, mask, fill_order, context)
    events = runs(mask)
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
