"""Click and crackle removal (vinyl ticks, digital spikes, mouth clicks).

How it works: an autoregressive model of each 64 ms block (all blocks of all channels
fitted at once by Levinson-Durbin, on a Hann-weighted frame) predicts every sample from the
ones before it and, separately, from the ones after it. A click is where both predictions
miss by far more than the usual miss around it (a robust scale: the median of 1 ms error
levels over the surrounding 9 ms): a drum hit or a consonant is predictable from one side
once it has started, a click is not. The marked samples (runs up to ``max_click_ms`` long;
longer events are left alone as real transients, unless they split into several short
cores: clicks closer together than the model order join up) are filled in by least-squares
AR interpolation, each with a model fitted on the 16 ms either side, every click of every
channel solved in one batch. A second look at the repaired audio, in the blocks that had
clicks, finds the clicks that the first one missed next to others.

A synth's sharp edges (a sawtooth's or a pulse's, once a period) fool the AR model as clicks
do, but they come back every period: events that recur in a steady train are left alone, and
so is an event that the waveform one period before or after predicts (lag found near the
block's pitch, so a gliding bass is followed), which a click never is.

The AR fill rounds off such an edge when a click lands on it. With ``period_fill``, each
repair in a periodic block is blended with the waveform one period before and after it
(a three-tap period-aligned prediction from each side), the two weighed against the AR
fill by what each misses of the audio around the click.

Speed: detection runs in single precision, a block's FFT frame serves both the AR fit
(the Hann window applied as a three-tap kernel on the spectrum, the autocorrelation by a
DCT-I) and the prediction errors, and blocks are transformed a cache-sized chunk at a
time. Thresholds are compared frame by frame (the scale is never spread to every sample),
and candidate pairs of a train are compared all at once.

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

import functools
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy.fft import next_fast_len
from scipy.ndimage import median_filter

from bridge.restore.ar import (
    ar_order_for,
    autocorrelation,
    fill_change,
    interpolate,
    interpolate_batch,
    interpolate_safely,
    levinson,
    runs,
)
from bridge.restore.blas import single_threaded
from bridge.restore.report import RestoreReport, as_2d, restore_shape

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
CLUSTER_FACTOR = 3.0
"""An event too long for one click is taken for a cluster of clicks when it holds two or
more short cores at this many times the threshold."""
MERGE_GAP = 4
"""Clicks closer than this many samples are taken as one."""
PASSES = 2
"""Looks at the audio: the second, on the repaired audio, only where the first found clicks."""
FILL_ORDER = 1.5
"""The repair uses a model this many times the detection order (it must carry the
waveform across the gap, not just flag it)."""
CHUNK_SAMPLES = 96_000
"""Samples of blocks (or repair windows) transformed together: a bigger batch falls out of
the processor's cache, a smaller one pays more call overhead."""
TRAIN_LENGTH = 4
"""Events this many in a row at a steady pitch period are the waveform, not clicks."""
TRAIN_TOLERANCE = 0.03
"""Relative change of the period allowed from one gap of a train to the next."""
LOWEST_PITCH_HZ = 25.0
TRAIN_LIKENESS = 0.6
"""Correlation of the waveforms around two events of a train."""
TRAIN_SHARE = 0.5
"""Trains are left alone only when they hold this share of the events found."""
HIGHEST_PITCH_HZ = 2000.0
"""Periods of the trains looked for: the pitch range of basses and leads."""
CONTEXT_MS = 16.0
"""Known audio either side of a click that its repair model is fitted on."""
PITCH_OVERLAP = 0.25
"""A block's pitch is looked for only at lags where its window's own autocorrelation is
at least this (longer periods are measured too unreliably)."""
PERIODIC_GATE = 0.5
"""Events are checked against their neighbouring periods in blocks at least this periodic
(normalised autocorrelation at the pitch period)."""
PERIODIC_MISS = 0.1
"""An event the period-aligned prediction misses by less than this share of the AR
prediction's miss (energy) is part of the waveform."""
PERIOD_MS = 2.0
"""Audio either side of an event that the period-aligned match is made on."""
NEIGHBOUR_SLACK = 0.3
"""An event is checked against its neighbouring periods when another event lies within
this share of a period of one period away."""
LAG_SEARCH = 0.25
"""How far from the block's pitch period the event's own lag is looked for (a glide moves
it), relative."""



class _Layout(NamedTuple):
    """How a signal is cut for detection, in samples."""

    block: int
    """One AR model per block (BLOCK_S)."""
    frame: int
    """The robust scale's frame (1 ms, at least 8 samples); each block holds
    ``block // frame`` of them, its last one taking the remainder, so a frame never
    straddles two blocks."""
    size: int
    """FFT frame of a block: the block, at least ``order`` samples either side, rounded up
    to an even fast length (filled with audio, not zeros)."""
    lead: int
    """Samples of margin before the block in its FFT frame (the block sits in the middle)."""

    @classmethod
    def of(cls, rate: int, order: int) -> _Layout:
        block = max(int(BLOCK_S * rate), 8)
        size = next_fast_len(block + 2 * order, real=True)
        while size % 2:
            size = next_fast_len(size + 1, real=True)
        frame = min(max(int(0.001 * rate), 8), block)
        return cls(block, frame, size, (size - block) // 2)

    def blocks(self, n: int) -> int:
        return -(-n // self.block)

    def padded(self, x: np.ndarray) -> np.ndarray:
        """``x`` ``(channels, frames)`` as float32, shifted by ``lead`` and zero-padded so
        that every block's FFT frame is a plain slice."""
        chans, n = x.shape
        out = np.zeros((chans, (self.blocks(n) - 1) * self.block + self.size), np.float32)
        out[:, self.lead : self.lead + n] = x
        return out


class _Scores(NamedTuple):
    """Raw prediction errors of every channel ``(channels, blocks * block)`` and their
    robust scale per frame ``(channels, blocks * frames per block)``; each block's
    windowed autocorrelation at the lags a pitch period is looked for at
    ``(channels, blocks, lags)`` (see :func:`_pitch_lags`)."""

    fwd: np.ndarray
    bwd: np.ndarray
    fwd_scale: np.ndarray
    bwd_scale: np.ndarray
    autocorr: np.ndarray


def _scores(
    padded: np.ndarray, n: int, lay: _Layout, order: int, blocks: np.ndarray | None = None
) -> _Scores:
    """Forward and backward AR prediction errors of every row (channel) of ``padded`` (see
    :meth:`_Layout.padded`; ``n`` frames of audio) and their local robust scale.

    One AR model per block and channel (Hann-weighted over the block's FFT frame), all
    blocks of all channels fitted at once. ``blocks`` (booleans, one per block) limits the
    work to those blocks; the others get zero error."""
    chans = padded.shape[0]
    block, frame, size, lead = lay
    count = lay.blocks(n)
    per_block = max(block // frame, 1)
    chosen = np.arange(count) if blocks is None else np.flatnonzero(blocks[:count])
    if chosen.size == 0:
        none = np.zeros((chans, count * block), np.float32)
        unit = np.ones((chans, count * per_block), np.float32)
        return _Scores(none, none.copy(), unit, unit.copy(), np.zeros((chans, count, 1)))
    # Single precision is plenty to find where a prediction misses, and twice as fast.
    frames = sliding_window_view(padded, size, axis=1)[:, ::block]
    rows = chans * chosen.size
    chunk = max(CHUNK_SAMPLES // size, 4)
    # Rows (channel-major) are transformed a chunk at a time, without copying the
    # frames first: the working set then stays in the processor's cache, which is worth
    # more than one big batched call.
    spans = [
        slice(c * chosen.size + lo, c * chosen.size + min(lo + chunk, chosen.size))
        for c in range(chans) for lo in range(0, chosen.size, chunk)
    ]
    specs = []
    r = np.empty((rows, order + 1), np.float32)
    lags = _pitch_lags(block, size)[0]
    # (at least lag 0 and one more: a very short frame has no pitch lags)
    lags = lags if lags.size else np.array([1])
    # Lag 0 first, then the pitch lags.
    autocorr = np.empty((rows, lags.size + 1), np.float32)
    for span in spans:
        c, lo = divmod(span.start, chosen.size)
        picked = chosen[lo : lo + span.stop - span.start]
        source = frames[c, picked[0] : picked[-1] + 1] if blocks is None else frames[c, picked]
        spec = sp_fft.rfft(source, axis=1)
        # The AR fit sees the frame through a periodic Hann window: in the frequency
        # domain that is the three-tap kernel (-1/4, 1/2, -1/4) (scaled by 4 here: the fit
        # does not see the scale), which saves a second transform. The frame is full of
        # audio, so the window takes it to zero at both ends and the circular
        # autocorrelation equals the linear one at the lags the fit uses.
        # (worked on as interleaved real and imaginary parts: plain float arithmetic, twice
        # as fast as complex arithmetic on neighbouring bins, and exactly the same)
        parts = spec.view(np.float32)
        windowed = np.multiply(parts, 2.0, dtype=np.float32)
        windowed[:, 2:] -= parts[:, :-2]
        windowed[:, :-2] -= parts[:, 2:]
        edges = windowed.view(np.complex64)
        edges[:, 0] -= spec[:, 1].conj()
        edges[:, -1] -= spec[:, -2].conj()
        windowed *= windowed
        power = windowed[:, 0::2] + windowed[:, 1::2]
        # The autocorrelation is the inverse transform of the power spectrum; a real, even
        # spectrum makes that a DCT-I.
        full = sp_fft.dct(power, type=1, axis=1)
        r[span] = full[:, : order + 1]
        autocorr[span, 0] = full[:, 0]
        autocorr[span, 1:] = full[:, lags[0] : lags[-1] + 1]
        specs.append(spec)
    a = levinson(r, order).astype(np.float32)
    # Prediction errors through the same transform: forward = a * frame (causal
    # convolution), backward = the same filter run from the future (correlation). The
    # margins keep the circular wrap out of the block itself.
    fwd = np.empty((rows, block), np.float32)
    bwd = np.empty((rows, block), np.float32)
    whole = per_block * frame
    # Frame lengths within a block: the last frame takes the remainder.
    lengths = np.full(per_block, frame, np.float32)
    lengths[-1] += block - whole
    energies = np.empty((2, rows, per_block), np.float32)
    core = slice(lead, lead + block)
    for span, spec in zip(spans, specs, strict=True):
        filt = sp_fft.rfft(a[span], size, axis=1)
        for error, energy, f in ((fwd, energies[0], filt), (bwd, energies[1], filt.conj())):
            part = np.abs(sp_fft.irfft(spec * f, size, axis=1)[:, core], out=error[span])
            framed = part[:, :whole].reshape(-1, per_block, frame)
            energy[span] = np.einsum("rij,rij->ri", framed, framed)
            rest = part[:, whole:]
            energy[span, -1] += np.einsum("ri,ri->r", rest, rest)
    scales = [_local_scale((energy / lengths).reshape(chans, -1)) for energy in energies]
    if blocks is None:
        return _Scores(fwd.reshape(chans, -1), bwd.reshape(chans, -1), *scales,
                       autocorr.reshape(chans, count, -1))
    # Only some blocks were looked at: the others get no error (and a unit scale).
    out = []
    for part, width, fill in ((fwd, block, 0.0), (bwd, block, 0.0),
                              (scales[0], per_block, 1.0), (scales[1], per_block, 1.0),
                              (autocorr, autocorr.shape[1], 0.0)):
        # (zeros come from fresh pages without a pass of writes)
        full = (np.full((chans, count, width), fill, np.float32) if fill
                else np.zeros((chans, count, width), np.float32))
        full[:, chosen] = part.reshape(chans, -1, width)
        out.append(full.reshape(chans, -1))
    out[-1] = out[-1].reshape(chans, count, -1)
    return _Scores(*out)


@functools.lru_cache(maxsize=16)
def _pitch_lags(block: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The lags (samples) a pitch period is looked for at in a ``block`` whose FFT frame
    holds ``size`` samples, and the autocorrelation of the frame's Hann window at those
    lags (normalised to 1 at lag 0): the windowed autocorrelation of a periodic signal falls
    off with the lag as the window's own does."""
    rate = block / BLOCK_S
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)
    spectrum = np.abs(np.fft.rfft(window, 2 * size)) ** 2
    own = np.fft.irfft(spectrum)[: size // 2 + 1]
    own /= own[0]
    # Lags where the window still overlaps itself well enough to measure anything.
    lags = np.arange(max(int(rate / HIGHEST_PITCH_HZ), 2),
                     min(int(rate / LOWEST_PITCH_HZ), size // 2) + 1)
    # (a run of consecutive lags: the window's autocorrelation only falls)
    lags = lags[own[lags] >= PITCH_OVERLAP]
    return lags, own[lags].astype(np.float32)


def _block_pitch(autocorr: np.ndarray, lags: tuple[np.ndarray, np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Pitch period (samples) and periodicity (the normalised autocorrelation there, 0..1)
    of each row of windowed autocorrelations ``autocorr`` (lag 0, then ``lags``): the first
    peak within 10 % of the highest (a multiple of the period matches as well as the
    period itself)."""
    at, own = lags
    if at.size < 3 or autocorr.shape[1] != at.size + 1:
        zero = np.zeros(autocorr.shape[0], np.float32)
        return zero, zero.copy()
    norm = autocorr[:, 1:] / (np.maximum(autocorr[:, :1], 1e-30) * own)
    peak = np.zeros_like(norm, dtype=bool)
    peak[:, 1:-1] = (norm[:, 1:-1] >= norm[:, :-2]) & (norm[:, 1:-1] >= norm[:, 2:])
    # A bass is smooth: its autocorrelation stays high for the first few lags. A period
    # comes only after the autocorrelation has dipped (its first trough).
    trough = np.zeros_like(peak)
    trough[:, 1:-1] = (norm[:, 1:-1] <= norm[:, :-2]) & (norm[:, 1:-1] <= norm[:, 2:])
    turn = np.argmax(trough, axis=1)
    past = (np.arange(norm.shape[1]) >= turn[:, None]) & trough[np.arange(len(turn)), turn, None]
    best = np.where(past, norm, -np.inf).max(axis=1, keepdims=True)
    first = np.argmax(peak & past & (norm >= 0.9 * best), axis=1)
    rows = np.arange(autocorr.shape[0])
    return at[first].astype(np.float32), np.clip(norm[rows, first], 0.0, 1.0)


def _local_scale(power: np.ndarray) -> np.ndarray:
    """Robust running scale of a prediction error from its 1 ms frame mean squares
    ``(rows, frames)``: the median of the frame RMS values over SCALE_FRAMES frames around
    each frame (a click fills one or two of them), floored at 1e-4 of the row's loudest."""
    rms = np.sqrt(power)
    local = np.empty_like(rms)
    mode = "mirror" if rms.shape[1] > SCALE_FRAMES // 2 else "nearest"
    for row in range(rms.shape[0]):
        local[row] = median_filter(rms[row], size=SCALE_FRAMES, mode=mode)
    floor = 1e-4 * np.max(rms, axis=1, keepdims=True, initial=0.0) + 1e-12
    return np.maximum(local, floor)


def _chain_starts(positions: np.ndarray) -> np.ndarray:
    """For sorted ``positions``, the index of the first member of each one's chain, where a
    chain links positions at most 3 apart."""
    if positions.size == 0:
        return np.zeros(0, np.int64)
    begins = np.concatenate([[True], np.diff(positions) > 3])
    return np.maximum.accumulate(np.where(begins, np.arange(positions.size), 0))


def _near(positions: np.ndarray) -> np.ndarray:
    """Sorted positions at most one sample from one of the sorted ``positions``."""
    return np.unique(np.concatenate([positions - 1, positions, positions + 1]))


def _position_runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of consecutive values in sorted unique ``positions``."""
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > 1)
    starts = positions[np.concatenate([[0], breaks + 1])]
    stops = positions[np.concatenate([breaks, [positions.size - 1]])] + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


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

        >>> import numpy as np
        >>> t = np.arange(16000) / 16000
        >>> x = 0.3 * np.sin(2 * np.pi * 440 * t)
        >>> x[5000] += 0.5
        >>> detect_clicks(x, 16000)
        [(4998, 5003)]
    """
    x = np.asarray(x, dtype=np.float64)
    order = order or ar_order_for(rate)
    lay = _Layout.of(rate, order)
    return _find_clicks(
        lay.padded(x[None, :]), len(x), rate, lay, sensitivity=sensitivity, order=order,
        max_click_ms=max_click_ms, near=near,
    )[0][0]


def _find_clicks(
    padded: np.ndarray, n: int, rate: int, lay: _Layout, *, sensitivity: float, order: int,
    max_click_ms: float, near: np.ndarray | None,
) -> tuple[list[list[tuple[int, int]]], np.ndarray | None]:
    """:func:`detect_clicks` for every channel of ``padded`` (see :meth:`_Layout.padded`),
    and the blocks' windowed autocorrelations at the pitch lags (see :class:`_Scores`)."""
    chans = padded.shape[0]
    if n < 4 * order + 16:
        return [[] for _ in range(chans)], None
    blocks = None
    if near is not None:
        count = lay.blocks(n)
        flags = np.zeros(count * lay.block, bool)
        flags[: len(near)] = near
        blocks = flags.reshape(count, lay.block).any(axis=1)
    scores = _scores(padded, n, lay, order, blocks)
    threshold = THRESHOLD / max(sensitivity, 1e-3)
    max_len = max(int(max_click_ms * 1e-3 * rate), 2)
    edge = EDGE / max(sensitivity, 1e-3)
    found = []
    for c in range(chans):
        fwd, bwd = scores.fwd[c, :n], scores.bwd[c, :n]
        # The first and last samples have no history on one side.
        fwd[:order] = 0
        bwd[-order:] = 0
        left = _above(scores.fwd[c], scores.fwd_scale[c], edge, lay, n)
        right = _above(scores.bwd[c], scores.bwd_scale[c], edge, lay, n)
        events = _events(fwd, bwd, *left, *right, threshold, max_len)
        audio = padded[c, lay.lead : lay.lead + n]
        kept = _drop_recurring(events, rate, audio)
        found.append(_drop_periodic(kept, events, rate, audio, fwd, bwd, lay,
                                    scores.autocorr[c]))
    return found, scores.autocorr


def _above(
    error: np.ndarray, scale: np.ndarray, factor: float, lay: _Layout, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The samples (below ``n``) where ``error`` (one row of :class:`_Scores`, whole
    blocks) passes ``factor`` times its robust ``scale`` (one value per frame), and the
    scale at each of them. Compared frame by frame: the scale is never spread out to one
    value per sample, as only the few samples above it need theirs."""
    per_block = max(lay.block // lay.frame, 1)
    whole = per_block * lay.frame
    blocks = error.reshape(-1, lay.block)
    limit = (factor * scale).reshape(-1, per_block)
    over = np.empty(blocks.shape, bool)
    np.greater(blocks[:, :whole].reshape(len(blocks), per_block, lay.frame),
               limit[:, :, None], out=over[:, :whole].reshape(len(blocks), per_block, -1))
    # The last frame of a block takes the remainder.
    np.greater(blocks[:, whole:], limit[:, -1:], out=over[:, whole:])
    at = np.flatnonzero(over.reshape(-1)[:n])
    frame = np.minimum(at % lay.block // lay.frame, per_block - 1)
    return at, scale[at // lay.block * per_block + frame]


def _drop_periodic(
    events: list[tuple[int, int]], found: list[tuple[int, int]], rate: int, x: np.ndarray,
    fwd: np.ndarray, bwd: np.ndarray, lay: _Layout, autocorr: np.ndarray,
) -> list[tuple[int, int]]:
    """``events`` without those the waveform one pitch period earlier or later explains.

    A sharp edge of a sawtooth, a pulse or a hard-synced wave fools the AR model once per
    period, but it is there again a period before and after, gliding pitch and envelope
    and all; a click is not. For each event in a periodic block (PERIODIC_GATE), the lag
    near the block's period that best matches the PERIOD_MS either side of the event and
    the event itself is found, a three-tap predictor (a fractional delay and a gain)
    fitted there, and the event dropped when that prediction misses it by less than
    PERIODIC_MISS of what the AR prediction did. Only events with another one of ``found``
    (all events, trains included) about a period away are checked: a waveform's edges come
    in a row, and that keeps the check off nearly every real click."""
    if not events:
        return events
    bounds = np.array(events, dtype=np.int64)
    blocks = np.minimum(bounds[:, 0] // lay.block, len(autocorr) - 1)
    # Only the blocks that hold events get their pitch measured.
    where, which = np.unique(blocks, return_inverse=True)
    period, periodicity = _block_pitch(autocorr[where], _pitch_lags(lay.block, lay.size))
    lag, periodicity = period[which].astype(np.int64), periodicity[which]
    middles = np.array([(a + b) // 2 for a, b in found], dtype=np.int64)
    mid = (bounds[:, 0] + bounds[:, 1]) // 2
    near, far = ((1.0 - NEIGHBOUR_SLACK) * lag).astype(np.int64), (
        (1.0 + NEIGHBOUR_SLACK) * lag).astype(np.int64)
    neighbour = np.zeros(len(events), bool)
    for sign in (-1, 1):
        lo, hi = np.sort([mid + sign * near, mid + sign * far], axis=0)
        neighbour |= np.searchsorted(middles, hi, side="right") > np.searchsorted(middles, lo)
    chosen = np.flatnonzero((periodicity >= PERIODIC_GATE) & (lag > 2) & neighbour)
    if chosen.size == 0:
        return events
    miss = _period_miss(x, bounds[chosen], lag[chosen], rate, fwd, bwd)
    drop = np.zeros(len(events), bool)
    drop[chosen] = miss < PERIODIC_MISS
    return [event for event, gone in zip(events, drop, strict=True) if not gone]


def _period_miss(
    x: np.ndarray, bounds: np.ndarray, lag: np.ndarray, rate: int, fwd: np.ndarray,
    bwd: np.ndarray,
) -> np.ndarray:
    """For each event ``bounds`` (rows of start, stop) near pitch period ``lag`` (samples):
    the energy of the best period-aligned prediction's miss over the event, as a share of
    the AR prediction errors' (``fwd``, ``bwd``) there; the smaller of the two neighbours
    (the period before, the period after)."""
    side = max(int(PERIOD_MS * 1e-3 * rate), 8)
    length = int((bounds[:, 1] - bounds[:, 0]).max())
    width = 2 * side + length
    slack = np.maximum((LAG_SEARCH * lag).astype(np.int64), 2)
    reach = int(slack.max())
    starts = bounds[:, 0] - side
    here = x.take(starts[:, None] + np.arange(width), mode="clip").astype(np.float64)
    inside = np.arange(width)[None, :] - side
    event = (inside >= 0) & (inside < (bounds[:, 1] - bounds[:, 0])[:, None])
    at = starts[:, None] + np.arange(width)
    errors = (fwd.take(at, mode="clip").astype(np.float64) ** 2
              + bwd.take(at, mode="clip").astype(np.float64) ** 2) / 2.0
    ar_miss = np.where(event, errors, 0.0).sum(axis=1)
    span = width + 2 * reach
    # (no wrap-around: the correlation is read at lags up to 2 * reach, where the event's
    # window still ends inside ``span``)
    size = next_fast_len(span, real=True)
    here_spec = np.conj(sp_fft.rfft(here, size, axis=1))
    # Both neighbours at once: rows of the period before, then of the period after.
    # Candidate lags lag - reach .. lag + reach; segment k starts at offset k.
    first = np.concatenate([starts - lag, starts + lag]) - reach
    there = x.take(first[:, None] + np.arange(span), mode="clip").astype(np.float64)
    corr = sp_fft.irfft(sp_fft.rfft(there, size, axis=1) * np.tile(here_spec, (2, 1)), size,
                        axis=1)[:, : 2 * reach + 1]
    sums = np.zeros((len(there), span + 1))
    np.cumsum(there**2, axis=1, out=sums[:, 1:])
    energy = sums[:, width : width + 2 * reach + 1] - sums[:, : 2 * reach + 1]
    score = corr / np.sqrt(np.maximum(energy, 1e-30))
    # Lags outside this event's own search range do not count.
    offset = np.abs(np.arange(2 * reach + 1)[None, :] - reach)
    score[offset > np.tile(slack, 2)[:, None]] = -np.inf
    k = np.clip(np.argmax(score, axis=1), 1, 2 * reach - 1)
    taps = np.stack(
        [np.take_along_axis(there, (k + d)[:, None] + np.arange(width)[None, :], axis=1)
         for d in (-1, 0, 1)], axis=2)
    flip = taps.transpose(0, 2, 1)
    gram = flip @ taps
    lift = 1e-9 * np.trace(gram, axis1=1, axis2=2) + 1e-20
    gram += lift[:, None, None] * np.eye(3)
    target = np.tile(here, (2, 1))
    coef = np.linalg.solve(gram, flip @ target[:, :, None])
    left = target - (taps @ coef)[:, :, 0]
    miss = np.where(np.tile(event, (2, 1)), left**2, 0.0).sum(axis=1)
    miss /= np.tile(np.maximum(ar_miss, 1e-30), 2)
    best = np.minimum(miss[: len(bounds)], miss[len(bounds) :])
    return best



def _drop_recurring(
    events: list[tuple[int, int]], rate: int, x: np.ndarray
) -> list[tuple[int, int]]:
    """``events`` without those that belong to a train: TRAIN_LENGTH or more events whose
    spacing is a pitch period (between 1 / HIGHEST_PITCH_HZ and 1 / LOWEST_PITCH_HZ) and
    changes by at most TRAIN_TOLERANCE from one gap to the next, and whose waveforms ``x``
    around them look alike (correlation TRAIN_LIKENESS over 1 ms). The edges of a sawtooth or
    a square wave, or a synth bass's sharp corners, fool the AR model once per period; a
    click is an isolated event, and random clicks almost never line up four in a row."""
    if len(events) < TRAIN_LENGTH:
        return events
    # Where each event sits: its start, and its middle. Where the prediction error first
    # crosses the threshold on a waveform edge can move by several percent of a period from
    # one period to the next (it depends on each block's model); the middle of the
    # disturbance then moves less. A train seen either way counts.
    member = _train_members(np.array([a for a, _ in events], dtype=np.int64), rate, x)
    member |= _train_members(np.array([(a + b) // 2 for a, b in events], dtype=np.int64),
                             rate, x)
    # Random clicks line up now and then when they are dense (crackle): trains count only
    # when they are most of what was found, as a periodic waveform's edges are.
    if member.mean() < TRAIN_SHARE:
        return events
    return [event for event, periodic in zip(events, member, strict=True) if not periodic]


PAIR_BATCH = 65_536
"""Pairs of events compared at a time in :func:`_train_members`."""


def _train_members(starts: np.ndarray, rate: int, x: np.ndarray) -> np.ndarray:
    """Which of the sorted event positions ``starts`` belong to a train (see
    :func:`_drop_recurring`)."""
    shortest = max(int(rate / HIGHEST_PITCH_HZ), 2)
    longest = int(rate / LOWEST_PITCH_HZ)
    member = np.zeros(len(starts), bool)
    half = max(int(0.5e-3 * rate), 8)
    around = np.arange(-half, half)

    # The waveform around every event, without its mean, read once.
    shapes = x.take(starts[:, None] + around, mode="clip").astype(np.float64)
    shapes -= shapes.mean(axis=1, keepdims=True)
    sizes = np.sqrt(np.einsum("ij,ij->i", shapes, shapes))

    def alike(p: int, q: int) -> bool:
        return float(shapes[p] @ shapes[q]) > TRAIN_LIKENESS * sizes[p] * sizes[q] + 1e-30

    # Every pair a pitch period apart, and whether their waveforms look alike, at once:
    # only the alike pairs are followed along the train, one by one.
    lo = np.searchsorted(starts, starts + shortest)
    hi = np.searchsorted(starts, starts + longest, side="right")
    counts = np.maximum(hi - lo, 0)
    first = np.repeat(np.arange(len(starts)), counts)
    second = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - lo, counts)
    pairs = np.empty(first.size, bool)
    # (a bounded number of pairs at a time: dense crackle makes many)
    for at in range(0, first.size, PAIR_BATCH):
        i, j = first[at : at + PAIR_BATCH], second[at : at + PAIR_BATCH]
        dots = np.einsum("ij,ij->i", shapes[i], shapes[j])
        pairs[at : at + PAIR_BATCH] = dots > TRAIN_LIKENESS * sizes[i] * sizes[j] + 1e-30
    for i, j in zip(first[pairs].tolist(), second[pairs].tolist(), strict=True):
        chain = [i, j]
        gap = int(starts[j] - starts[i])
        while len(chain) < TRAIN_LENGTH:
            slack = max(2, int(TRAIN_TOLERANCE * gap))
            want = starts[chain[-1]] + gap
            k = np.searchsorted(starts, want - slack)
            if k >= len(starts) or starts[k] > want + slack or not alike(chain[-1], int(k)):
                break
            gap = int(starts[k] - starts[chain[-1]])
            chain.append(int(k))
        if len(chain) >= TRAIN_LENGTH:
            member[chain] = True
    return member


def _events(
    fwd: np.ndarray, bwd: np.ndarray, left: np.ndarray, left_units: np.ndarray,
    right: np.ndarray, right_units: np.ndarray, threshold: float, max_len: int,
) -> list[tuple[int, int]]:
    """Clicks of one channel from its raw forward and backward errors, the samples
    ``left`` / ``right`` where they pass EDGE units of their robust scales, and those
    scales there (see :func:`_above`), see detect_clicks."""
    # Chains of samples above EDGE with gaps of at most 2 (inside a click the errors
    # flicker): the click's start follows the forward chain left, its end the backward
    # chain right.
    n = len(fwd)
    # (the errors where they pass EDGE units: all that is read of them)
    fwd, bwd = fwd[left], bwd[right]
    # A click's first sample fools the forward prediction, its last the backward one; a
    # click of a few samples can also fool one side on a neighbour, hence the +-1. (The
    # samples above THRESHOLD are among those above EDGE: all of this is sparse.)
    seeds = _seeds(fwd, bwd, left_units, right_units, left, right, threshold)
    # The same at CLUSTER_FACTOR times the threshold: the cores of the clicks in a cluster
    # (worked out the first time a cluster is suspected).
    strict: list[np.ndarray] = []

    def cluster(a: int, b: int) -> list[tuple[int, int]]:
        """The clicks in [a, b), too long for one click, if it holds two or more short
        cores (clicks closer together than the model order join up, as each one's error
        tail reaches the next; a real transient has one core, or a long one): each core
        followed along its chains, but not into its neighbours. Empty if not a cluster."""
        if not strict:
            strict.append(
                _seeds(fwd, bwd, left_units, right_units, left, right,
                       CLUSTER_FACTOR * threshold)
            )
        cores = strict[0]
        parts = _position_runs(cores[np.searchsorted(cores, a) : np.searchsorted(cores, b)])
        if len(parts) < 2 or any(hi - lo > max_len for lo, hi in parts):
            return []
        # Between the clicks of a cluster the errors stay above EDGE (tails), so each core
        # is followed only while its errors stay above the threshold.
        bounds = np.array(parts)
        lo, hi = _extent(bounds[:, 0], bounds[:, 1], *strong, max_len)
        lo = np.maximum(lo, [a, *bounds[:-1, 1]])
        hi = np.minimum(hi, [*bounds[1:, 0], b])
        return list(zip(lo.tolist(), hi.tolist(), strict=True))

    left_start = _chain_starts(left)
    right_end = (len(right) - 1 - _chain_starts(-right[::-1]))[::-1]
    strong_left = left[fwd > threshold * left_units]
    strong_right = right[bwd > threshold * right_units]
    strong = (
        strong_left, _chain_starts(strong_left),
        strong_right, (len(strong_right) - 1 - _chain_starts(-strong_right[::-1]))[::-1],
    )
    events: list[tuple[int, int]] = []
    limit = max_len + 2 * GROW
    seed_runs = np.array(_position_runs(seeds), dtype=np.int64).reshape(-1, 2)
    spans = _extent(seed_runs[:, 0], seed_runs[:, 1], left, left_start, right, right_end,
                    max_len)
    spans = np.maximum(spans[0] - GROW, 0).tolist(), np.minimum(spans[1] + GROW, n).tolist()
    for (a, b), lo, hi in zip(seed_runs.tolist(), *spans, strict=True):
        if events and a < events[-1][1]:
            continue
        if b - a > max_len:
            found = [(max(lo - GROW, 0), min(hi + GROW, n)) for lo, hi in cluster(a, b)]
        else:
            found = [(lo, hi)]
        for lo, hi in found:
            if events and lo - events[-1][1] < MERGE_GAP:
                merged = (events[-1][0], hi)
                if merged[1] - merged[0] <= limit:
                    events[-1] = merged
                    continue
                # Two clicks that nearly touch but together are too long for one: keep
                # them apart if they are a cluster, else both are a real transient.
                parts = cluster(*merged)
                if not parts:
                    events.pop()
                    continue
                events.pop()
                events.extend((max(p - GROW, 0), min(q + GROW, n)) for p, q in parts)
                continue
            events.append((lo, hi))
    # The pieces of a cluster may overlap: one event each.
    joined: list[tuple[int, int]] = []
    for lo, hi in sorted(events):
        if joined and lo <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], hi))
        else:
            joined.append((lo, hi))
    return joined


def _seeds(
    fwd: np.ndarray, bwd: np.ndarray, fwd_units: np.ndarray, bwd_units: np.ndarray,
    left: np.ndarray, right: np.ndarray, threshold: float,
) -> np.ndarray:
    """Sorted samples where both errors pass ``threshold`` units (each may look one sample
    to either side). ``left`` / ``right``: the samples where the forward / backward error
    passes EDGE units (a superset: all of this is sparse); ``fwd`` and ``fwd_units`` the
    forward error and its scale at ``left``, ``bwd`` and ``bwd_units`` the backward ones at
    ``right``."""
    fwd_hits = _near(left[fwd > threshold * fwd_units])
    bwd_hits = right[bwd > threshold * bwd_units]
    if bwd_hits.size == 0:
        return bwd_hits
    at = np.searchsorted(bwd_hits, fwd_hits - 1)
    ahead = np.minimum(at, bwd_hits.size - 1)
    return fwd_hits[(at < bwd_hits.size) & (bwd_hits[ahead] <= fwd_hits + 1)]


def _extent(
    a: np.ndarray, b: np.ndarray, left: np.ndarray, left_start: np.ndarray,
    right: np.ndarray, right_end: np.ndarray, max_len: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The spans of clicks around their seed runs [a, b) (arrays): from the first sample the
    forward prediction misses (its history is still clean) to the last one the backward
    prediction misses, at most ``max_len`` past the seeds."""
    lo, hi = a, b
    if left.size:
        j = np.searchsorted(left, a) - 1
        jj = np.maximum(j, 0)
        lo = np.where((j >= 0) & (a - left[jj] <= 3), left[left_start[jj]], a)
    if right.size:
        k = np.searchsorted(right, b)
        kk = np.minimum(k, right.size - 1)
        hi = np.where((k < right.size) & (right[kk] - b <= 2), right[right_end[kk]] + 1, b)
    # In quiet passages the errors stay above EDGE: the tail then stops at max_len.
    lo, hi = np.maximum(lo, b - max_len), np.minimum(hi, a + max_len)
    return np.minimum(lo, a), np.maximum(hi, b)


def _repair(audio: np.ndarray, out: np.ndarray, events: list[tuple[int, int]],
            mask: np.ndarray, order: int, context: int, padded: np.ndarray,
            lead: int, misses: dict[tuple[int, int, int], float] | None = None) -> None:
    """LSAR repair of every event of every channel, written into ``out`` (in place).

    Each event's AR model is fitted on ``context`` samples either side of it (marked
    samples left out; read from ``padded``, the float32 detection copy, ``lead`` samples
    ahead); the fill is solved over a shorter window (twice the model order either side:
    the solve only reaches ``order`` samples past an unknown), every marked sample in it
    counting as missing, so a neighbouring click never feeds a repair. All windows are
    solved in one batch; those the batch cannot solve (or whose fill is implausibly loud)
    are solved one by one (banded), and failing that by :func:`interpolate_safely`."""
    n, chans = audio.shape
    if not events:
        return
    starts = np.array([a for a, _ in events])
    stops = np.array([b for _, b in events])
    widest = int((stops - starts).max())
    # Rows: every event of channel 0, then every event of channel 1, ...
    rows = chans * len(events)
    channel = np.repeat(np.arange(chans), len(events))
    first = np.tile(starts, chans)
    r = np.empty((rows, order + 1), np.float32)
    # The marks on the same footing as ``padded`` (beyond the audio: known silence).
    marked = np.zeros(padded.shape[1], bool)
    marked[lead : lead + n] = mask
    span = np.arange(2 * context + widest) + (lead - context)
    chunk = max(CHUNK_SAMPLES // span.size, 4)
    for c in range(chans):
        for lo in range(0, len(events), chunk):
            take = starts[lo : lo + chunk, None] + span
            zeroed = padded[c].take(take, mode="clip")
            zeroed[marked.take(take, mode="clip")] = 0.0
            at = c * len(events) + lo
            r[at : at + len(take)] = autocorrelation(zeroed, order)
    if misses is None:
        a = levinson(r, order)
    else:
        a, share = levinson(r, order, with_error=True)
        # What the AR fill is expected to miss, as a share of the audio's power, for the
        # period fill to be weighed against: the model's prediction error over the sum of
        # its squared coefficients, the error of filling in one missing sample from both
        # sides (a longer gap is filled worse: this leans to the AR fill).
        share /= np.einsum("ij,ij->i", a, a)
        for i, value in enumerate(share.tolist()):
            misses[(int(first[i]), int(stops[i % len(events)]), int(channel[i]))] = value
    reach = 2 * order
    take = (first - reach)[:, None] + np.arange(2 * reach + widest)
    inside = (take >= 0) & (take < n)
    take = np.clip(take, 0, n - 1)
    # Beyond the ends of the audio: known silence.
    known = ~mask[take] | ~inside
    own = (take >= first[:, None]) & (take < np.tile(stops, chans)[:, None]) & inside
    windows = np.where(inside, audio[take, channel[:, None]], 0.0)
    # Windows crowded with other clicks (crackle: more than about two clicks' worth of
    # missing samples) go to the banded solver: a dense solve grows with the cube of the
    # missing samples.
    filled, solved = interpolate_batch(windows, known, a, 2 * widest + 16)
    ref = np.max(np.abs(np.where(known, windows, 0.0)), axis=1)
    loud = np.max(np.abs(np.where(known, 0.0, filled)), axis=1) > 2.0 * ref
    solved &= ~loud
    rows_at, cols = np.nonzero(own & solved[:, None])
    out[take[rows_at, cols], channel[rows_at]] = filled[rows_at, cols]
    for i in np.flatnonzero(~solved):
        c = channel[i]
        # Crowded windows (crackle): the banded solve with the same model first.
        fixed = interpolate(windows[i], known[i], a[i])
        if np.all(np.isfinite(fixed)) and np.max(
            np.abs(fixed[~known[i]]), initial=0.0
        ) <= 2.0 * ref[i]:
            out[take[i, own[i]], c] = fixed[own[i]]
            continue
        e = i % len(events)
        lo, hi = max(starts[e] - context, 0), min(stops[e] + context, n)
        fixed = interpolate_safely(out[lo:hi, c], ~mask[lo:hi], order)
        out[starts[e] : stops[e], c] = fixed[starts[e] - lo : stops[e] - lo]


@single_threaded
def declick(
    x: np.ndarray,
    rate: int,
    *,
    sensitivity: float = 1.0,
    max_click_ms: float = 1.0,
    period_fill: bool = False,
) -> tuple[np.ndarray, RestoreReport]:
    """Find and repair clicks.

    Args:
        x: audio, (frames,) or (frames, channels).
        rate: sample rate, Hz.
        sensitivity: detection sensitivity (1 = default, 2 = finds fainter clicks).
        max_click_ms: longer events are taken for real transients and left alone.
        period_fill: in strongly periodic passages (synth basses, leads), blend each
            repair with the waveform one pitch period before and after it, which follows
            a sharp edge that the AR fill rounds off (see :func:`_period_fill`; 1.2 to
            1.7 times the time on periodic material, so it is not the default).

    Returns:
        The repaired audio and a report (``clicks`` found, ``samples_repaired``).
    """
    audio, mono = as_2d(x)
    order = ar_order_for(rate)
    n = audio.shape[0]
    mask = np.zeros(n, bool)
    fill_order = int(round(order * FILL_ORDER))
    context = max(4 * fill_order, int(CONTEXT_MS * 1e-3 * rate))
    out = audio.copy()
    lay = _Layout.of(rate, order)
    padded = lay.padded(audio.T)
    # What each repair's AR model misses of the audio around it, by (start, stop, channel).
    misses: dict[tuple[int, int, int], float] | None = {} if period_fill else None
    autocorr = None
    # A second look at the repaired audio finds clicks the first one hid: a neighbour that
    # took over the prediction error, or a cluster that spoilt the block's AR model.
    for step in range(PASSES):
        before = mask.copy()
        # The second look is needed only where the first found something: a click spoils
        # the AR model of its own block, which can hide a neighbour.
        near = None if step == 0 else before
        if step:
            # The detection copy follows the repairs.
            changed = np.flatnonzero(before)
            padded[:, lay.lead + changed] = out[changed].T
        found, blocks_autocorr = _find_clicks(
            padded, n, rate, lay, sensitivity=sensitivity, order=order,
            max_click_ms=max_click_ms, near=near,
        )
        if step == 0:
            autocorr = blocks_autocorr
        for lo, hi in (event for channel in found for event in channel):
            mask[lo:hi] = True
        _close_gaps(mask, MERGE_GAP)
        new = mask & ~before
        if not new.any():
            break
        # Only windows that now hold a newly marked sample need solving (again).
        fresh = np.flatnonzero(new)
        marked = runs(mask)
        bounds = np.array(marked).reshape(-1, 2)
        hit = np.searchsorted(fresh, bounds[:, 1] + context) > np.searchsorted(
            fresh, bounds[:, 0] - context
        )
        _repair(
            audio, out, [marked[i] for i in np.flatnonzero(hit)], mask, fill_order, context,
            padded, lay.lead, misses,
        )
    events = runs(mask)
    if misses is not None and events and autocorr is not None:
        _period_fill(out, events, mask, autocorr, lay, rate, misses)
    changed_db, fraction = fill_change(audio, out, mask)
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


def _period_fill(
    out: np.ndarray, events: list[tuple[int, int]], mask: np.ndarray, autocorr: np.ndarray,
    lay: _Layout, rate: int, misses: dict[tuple[int, int, int], float],
) -> None:
    """Blend (in place) the AR repair of each event in a periodic block with the waveform
    one pitch period before and after it.

    An AR model cannot carry a synth's sharp edge across a gap; the period next to it can.
    Each side's three-tap period-aligned prediction (see :func:`_period_prediction`) is
    weighed by what it misses of the known audio around the event, the two sides' average
    against the AR fill by what the AR model misses there (``misses``): each counts in
    inverse proportion to its miss."""
    bounds = np.array(events, dtype=np.int64)
    blocks = np.minimum(bounds[:, 0] // lay.block, autocorr.shape[1] - 1)
    where, which = np.unique(blocks, return_inverse=True)
    lags = _pitch_lags(lay.block, lay.size)
    for c in range(out.shape[1]):
        period, periodicity = _block_pitch(autocorr[c, where], lags)
        lag = period[which].astype(np.int64)
        ar_miss = np.array([misses.get((a, b, c), np.nan) for a, b in events])
        pick = np.flatnonzero((periodicity[which] >= PERIODIC_GATE) & (lag > 2)
                              & np.isfinite(ar_miss))
        if pick.size == 0:
            continue
        signal = np.ascontiguousarray(out[:, c])
        # Events of similar period together: each batch's windows are as wide as its
        # longest period needs, not the longest of the take.
        pick = pick[np.argsort(lag[pick], kind="stable")]
        octave = np.floor(np.log2(lag[pick])).astype(np.int64)
        for group in np.split(pick, np.flatnonzero(np.diff(octave)) + 1):
            fill, period_miss = _period_prediction(signal, mask, bounds[group], lag[group],
                                                   rate)
            weight = ar_miss[group] / np.maximum(ar_miss[group] + period_miss, 1e-30)
            for (a, b), w, predicted in zip(bounds[group].tolist(), weight.tolist(), fill,
                                            strict=True):
                out[a:b, c] = w * predicted[: b - a] + (1.0 - w) * out[a:b, c]


def _period_prediction(
    x: np.ndarray, mask: np.ndarray, bounds: np.ndarray, lag: np.ndarray, rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """The events ``bounds`` (rows of start, stop) of ``x`` predicted from one pitch period
    (about ``lag`` samples) before and after, and what that prediction misses of the known
    audio around them (a share of its power).

    Each side: the lag within LAG_SEARCH of ``lag`` whose waveform best matches the known
    audio within half a period (at least PERIOD_MS) either side of the event (samples
    marked in ``mask`` left out), a three-tap predictor (fractional delay and gain) fitted
    there, and the event predicted through it; the two sides averaged, each weighted by
    the inverse of its miss. A side that runs off the audio, or whose fill is far louder
    than the audio around it, counts as missing everything."""
    n = len(x)
    # Half a period either side (at least PERIOD_MS): a flat stretch of a pulse wave next
    # to the event would fit any alignment; its edges a little further off do not.
    own = np.maximum(lag // 2, max(int(PERIOD_MS * 1e-3 * rate), 8))
    side = int(own.max())
    length = int((bounds[:, 1] - bounds[:, 0]).max())
    width = 2 * side + length
    slack = np.maximum((LAG_SEARCH * lag).astype(np.int64), 2)
    reach = int(slack.max())
    starts = bounds[:, 0] - side
    at = starts[:, None] + np.arange(width)
    inside = (at >= 0) & (at < n)
    near = (at >= (bounds[:, 0] - own)[:, None]) & (at < (bounds[:, 1] + own)[:, None])
    known = inside & near & ~mask.take(at, mode="clip")
    here = np.where(known, x.take(at, mode="clip"), 0.0)
    power = np.maximum(np.einsum("ij,ij->i", here, here), 1e-30)
    span = width + 2 * reach
    size = next_fast_len(span, real=True)
    here_spec = np.conj(sp_fft.rfft(here, size, axis=1))
    known_spec = np.conj(sp_fft.rfft(known.astype(np.float64), size, axis=1))
    offset = np.abs(np.arange(2 * reach + 1)[None, :] - reach)
    fills, weights = [], []
    for sign in (-1, 1):
        first = starts + sign * lag - reach
        there = x.take(first[:, None] + np.arange(span), mode="clip")
        corr = sp_fft.irfft(sp_fft.rfft(there, size, axis=1) * here_spec, size, axis=1)
        energy = sp_fft.irfft(sp_fft.rfft(there**2, size, axis=1) * known_spec, size, axis=1)
        score = corr[:, : 2 * reach + 1] / np.sqrt(
            np.maximum(energy[:, : 2 * reach + 1], 1e-30))
        score[offset > slack[:, None]] = -np.inf
        k = np.clip(np.argmax(score, axis=1), 1, 2 * reach - 1)
        taps = np.stack(
            [np.take_along_axis(there, (k + d)[:, None] + np.arange(width)[None, :], axis=1)
             for d in (-1, 0, 1)], axis=2)
        seen = taps * known[:, :, None]
        flip = seen.transpose(0, 2, 1)
        gram = flip @ seen
        # (a real ridge: on a flat stretch the three taps are alike, and an unsteadied fit
        # trades huge opposite coefficients that blow up at the next edge)
        lift = 1e-3 * np.trace(gram, axis1=1, axis2=2) / 3.0 + 1e-20
        gram += lift[:, None, None] * np.eye(3)
        coef = np.linalg.solve(gram, flip @ here[:, :, None])
        predicted = (taps @ coef)[:, :, 0]
        left = np.where(known, here - predicted, 0.0)
        miss = np.einsum("ij,ij->i", left, left) / power
        # A side whose period runs off the audio has nothing to say, nor one whose fill is
        # far louder than the audio around it.
        loud = np.max(np.abs(np.where(known, 0.0, predicted)), axis=1) > 2.0 * np.max(
            np.abs(here), axis=1)
        miss[(first < 0) | (first + span > n) | loud] = np.inf
        fills.append(predicted[:, side:])
        weights.append(1.0 / np.maximum(miss, 1e-12))
    total = weights[0] + weights[1]
    fill = (fills[0] * weights[0][:, None] + fills[1] * weights[1][:, None]) / np.maximum(
        total, 1e-30)[:, None]
    return fill, 1.0 / np.maximum(total, 1e-30)


def _close_gaps(mask: np.ndarray, gap: int) -> None:
    """Mark (in place) the runs of fewer than ``gap`` unmarked samples between two marked
    ones: clicks found apart (on two channels, or in two looks) that nearly touch are one
    click, and the few samples between them are as damaged as their neighbours."""
    marked = runs(mask)
    for (_, stop), (start, _) in zip(marked[:-1], marked[1:], strict=True):
        if start - stop < gap:
            mask[stop:start] = True
