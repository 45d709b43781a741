"""Breath taming for voice: find breaths between phrases and turn them down, never words.

How it works: 20 ms frames (10 ms hop) are measured for level and voicing (the peak of the
normalised autocorrelation between 2.5 and 14 ms lag, i.e. 70..400 Hz). A breath is a run of
unvoiced frames, 150 ms to 1.2 s long, that sits well under the phrases around it
(``max_level_db`` below the loud frames) yet above the room, with voiced phrases on both
sides; a take with little voiced sound (drums, noise, a one-shot) has no breaths. Frames
next to voiced speech are never part of it (a guard of ``guard_ms`` on either side keeps
consonants and word onsets out). Each breath is lowered by ``reduction_db`` (or to
``target_db`` under the speech level) with raised-cosine ramps inside its edges.

    >>> import numpy as np
    >>> from bridge.restore.corrupt import add_breaths
    >>> rate = 16000
    >>> t = np.arange(rate * 3) / rate
    >>> voice = 0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * ((t % 1.0) < 0.45)
    >>> breathy, reference, spans = add_breaths(voice, rate, count=2, seed=1)
    >>> cleaned, report = debreath(breathy, rate)
    >>> report.figures["breaths"]
    2
"""

from __future__ import annotations

import numpy as np

from bridge.restore.ar import runs
from bridge.restore.report import RestoreReport, as_2d, change_figures, channel_mix, restore_shape

FRAME_S = 0.02
HOP_S = 0.01
MIN_VOICED_S = 1.0
"""A take with less voiced sound than this (seconds) is not treated as a voice."""
MIN_VOICED_SHARE = 0.2
"""...nor one where voiced frames are under this share of the active ones."""
PHRASE_GAP_S = 1.5
"""A breath has voice on both sides within this many seconds."""


def _frames(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame level (dB) and voicing (0..1)."""
    size, hop = int(FRAME_S * rate), int(HOP_S * rate)
    n = max(1 + (len(x) - size) // hop, 0)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    idx = np.arange(size)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(size)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    spec = np.fft.rfft(frames, n=2 * size, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :size]
    lo, hi = int(rate / 400), min(int(rate / 70), size - 1)
    voicing = ac[:, lo:hi].max(axis=1) / np.maximum(ac[:, 0], 1e-20)
    return level, voicing


def detect_breaths(
    x: np.ndarray,
    rate: int,
    *,
    max_level_db: float = -12.0,
    guard_ms: float = 40.0,
    min_ms: float = 150.0,
    max_ms: float = 1200.0,
) -> list[tuple[int, int]]:
    """(start, stop) frames of the breaths in a mono voice signal."""
    level, voicing = _frames(np.asarray(x, dtype=np.float64), rate)
    if level.size < 10:
        return []
    hop = int(HOP_S * rate)
    speech_db = float(np.percentile(level, 95))
    floor_db = float(np.percentile(level, 5))
    voiced = (voicing > 0.45) & (level > speech_db - 35)
    loud = level > speech_db + max_level_db
    guard = max(int(guard_ms / 1000 / HOP_S), 1)
    near_voice = np.convolve(voiced | loud, np.ones(2 * guard + 1), mode="same") > 0
    candidate = ~near_voice & (level > floor_db + 3) & (voicing < 0.45)
    # Only a voice has breaths: drum tails, cymbal decays and noisy loops have unvoiced
    # stretches too, but no phrases of voiced sound around them.
    active = level > floor_db + 10
    voiced_s = float(voiced.sum()) * HOP_S
    if voiced_s < MIN_VOICED_S or voiced.sum() < MIN_VOICED_SHARE * max(int(active.sum()), 1):
        return []
    voiced_at = np.flatnonzero(voiced)
    reach = int(PHRASE_GAP_S / HOP_S)
    spans = []
    for a, b in runs(candidate):
        ms = (b - a) * HOP_S * 1000
        # Between phrases: voice before and after, within a breath's reach.
        before = np.searchsorted(voiced_at, a)
        after = np.searchsorted(voiced_at, b)
        between = (before > 0 and a - voiced_at[before - 1] <= reach
                   and after < len(voiced_at) and voiced_at[after] - b <= reach)
        # The run as a whole must stand clear of the room, or it is the room.
        if between and min_ms <= ms <= max_ms and float(np.mean(level[a:b])) > floor_db + 5:
            # Follow the breath's faint ends, still clear of any voice.
            while a > 0 and not near_voice[a - 1] and level[a - 1] > floor_db + 1:
                a -= 1
            while b < len(level) and not near_voice[b] and level[b] > floor_db + 1:
                b += 1
            spans.append((a * hop, b * hop + int(FRAME_S * rate) - hop))
    return spans


def debreath(
    x: np.ndarray,
    rate: int,
    *,
    reduction_db: float = 12.0,
    target_db: float | None = None,
    max_level_db: float = -12.0,
) -> tuple[np.ndarray, RestoreReport]:
    """Lower breaths in a voice recording.

    Args:
        x: audio, (frames,) or (frames, channels).
        rate: sample rate, Hz.
        reduction_db: how far each breath is turned down, dB.
        target_db: instead, bring each breath to this level relative to the speech level
            (the 95th-percentile frame level), e.g. -40; never turned up.
        max_level_db: a breath is at least this far under the speech level.

    Returns:
        The processed audio and a report with the breath count and their times.
    """
    audio, mono = as_2d(x)
    voice = channel_mix(audio)
    spans = detect_breaths(voice, rate, max_level_db=max_level_db)
    gain = np.ones(audio.shape[0])
    level, _ = _frames(voice, rate)
    speech_db = float(np.percentile(level, 95)) if level.size else 0.0
    cuts = []
    for a, b in spans:
        if target_db is not None:
            breath_db = 10 * np.log10(np.mean(voice[a:b] ** 2) + 1e-12)
            cut = max(breath_db - (speech_db + target_db), 0.0)
        else:
            cut = reduction_db
        cuts.append(round(float(cut), 1))
        depth = 10 ** (-cut / 20)
        ramp = min(int(0.02 * rate), (b - a) // 3)
        shape = np.ones(b - a)
        if ramp > 0:
            edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
            shape[:ramp] = edge
            shape[-ramp:] = edge[::-1]
        gain[a:b] = 1 - (1 - depth) * shape
    out = audio * gain[:, None]
    changed_db, fraction = change_figures(audio, out)
    report = RestoreReport(
        process="debreath",
        applied=bool(spans),
        found=f"{len(spans)} breaths" if spans else "no breaths found",
        changed_db=changed_db,
        changed_fraction=fraction,
        figures={
            "breaths": len(spans),
            "times_s": [[round(a / rate, 3), round(b / rate, 3)] for a, b in spans],
            "reduction_db": cuts,
        },
    )
    return restore_shape(out, mono), report
