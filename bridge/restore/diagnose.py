"""Diagnose what a recording needs, and ``auto``: apply only that, in the right order.

Order matters: clipping and clicks are repaired first (they would fool the noise profile and
the hum tracker), then hum (a steady tone would be half-removed by the noise reduction and
leave a warble), then broadband noise, and breaths last (their level is judged against the
cleaned floor).

    >>> import numpy as np
    >>> from bridge.restore.corrupt import add_hum
    >>> rate = 16000
    >>> t = np.arange(rate * 4) / rate
    >>> notes = 0.5 * np.sin(2 * np.pi * 440 * t) * ((t % 1.0) < 0.6)
    >>> diagnosis = diagnose(add_hum(notes, rate, 60.0, hum_db=-10), rate)
    >>> "dehum" in diagnosis.needed, "denoise" in diagnosis.needed
    (True, False)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bridge.restore.blas import single_threaded
from bridge.restore.debreath import debreath, detect_breaths
from bridge.restore.declick import declick, detect_clicks
from bridge.restore.declip import MIN_CLIPPED_FRACTION, declip, find_clipping
from bridge.restore.dehum import HumProfile, dehum, detect_hum
from bridge.restore.denoise import denoise, learn_noise_profile
from bridge.restore.report import RestoreReport, as_2d, channel_mix

ORDER = ("declip", "declick", "dehum", "denoise", "debreath")
NOISY_SNR_DB = 25.0
"""Denoise when the quiet frames sit less than this far under the loud ones."""
CLICKS_PER_MINUTE = 30.0
MAINS_HZ = (50.0, 60.0)
MAINS_TOLERANCE_HZ = 0.5
"""auto only treats hum this close to a mains frequency (grids hold about +-0.2 Hz; the rest
is the detector's own error); ``dehum`` on its own still takes any fundamental."""
HUM_SEGMENT_S = 0.5
HUM_QUIET_PROMINENCE_DB = 10.0
"""In the quietest quarter of the take the hum harmonics still stand this far out..."""
HUM_COMB_CONTRAST_DB = 6.0
"""...and this much further than the points half-way between them."""


STEADY_TONE_VARIATION = 0.5
"""Noise varies from frame to frame (the power in an STFT bin of noise spreads as much as
its mean); a held tone does not. Quiet frames that vary less than this are a steady tone,
and denoising them would eat it."""

FLOOR_FRAME_S = 0.012
"""Frames for :func:`floor_spread_db`: short enough to see into the gaps between hits in a
16th-note loop or a roll."""
FLOOR_SPREAD_DB = 1.5
"""A noise floor holds its level: in at least one band, the quietest tenth of frames spans
less than this (2nd to 10th percentile). The tail of a hit keeps falling until the next one,
so its quiet frames spread over several dB in every band."""
FLOOR_BAND_MIN_BINS = 4
FLOOR_BAND_RANGE_DB = 60.0
"""Bands whose quiet level sits this far under the strongest band's are left out: a band
above a low-pass (or a codec's cut-off) is steady only because it is empty."""


@dataclass
class Diagnosis:
    """What :func:`diagnose` found, per problem, and which processes it calls for."""

    needed: list[str]
    findings: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"needed": self.needed, "findings": self.findings, "figures": self.figures}


def _loud_quiet_db(mono: np.ndarray, rate: int) -> tuple[float, float]:
    hop = max(int(0.032 * rate), 1)
    n = len(mono) // hop
    if n < 4:
        return -math.inf, -math.inf
    frames = mono[: n * hop].reshape(n, hop)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    return float(np.percentile(level, 95)), float(np.mean(np.sort(level)[: max(n // 10, 1)]))


def quiet_variation(mono: np.ndarray, rate: int) -> float:
    """How much the quietest tenth of ~46 ms frames (at least 8) varies from frame to frame:
    per STFT bin, the standard deviation of the power over those frames against its mean,
    pooled with the power as weight. About 1 for noise (the power of a noise bin spreads
    as much as its mean), near 0 for a steady tone or a held chord; ``inf`` when there are
    too few frames to tell.

    >>> rate = 16000
    >>> t = np.arange(2 * rate) / rate
    >>> saw = 0.3 * ((100 * t) % 1.0 - 0.5)
    >>> hiss = 0.01 * np.random.default_rng(0).standard_normal(len(t))
    >>> quiet_variation(saw, rate) < 0.2, quiet_variation(hiss, rate) > 0.8
    (True, True)
    """
    size = 1 << max(int(round(math.log2(0.046 * rate))), 4)
    hop = size // 2
    n = (len(mono) - size) // hop + 1 if len(mono) >= size else 0
    if n < 8:
        return math.inf
    frames = np.lib.stride_tricks.sliding_window_view(mono, size)[::hop][:n]
    energy = np.einsum("ij,ij->i", frames, frames)
    quiet = np.sort(np.argsort(energy)[: max(n // 10, 8)])
    power = np.abs(np.fft.rfft(frames[quiet] * np.hanning(size), axis=1)) ** 2
    mean = power.mean(axis=0)
    total = float(mean.sum())
    if total <= 1e-30:
        return math.inf
    return float(power.std(axis=0).sum() / total)


def floor_spread_db(mono: np.ndarray, rate: int) -> float:
    """How steady the quietest frames are, in dB: per band (half an octave, at least
    :data:`FLOOR_BAND_MIN_BINS` bins, 50 Hz up to 16 kHz), the 2nd to 10th percentile of
    the level of ~12 ms frames; the smallest over the bands. Digitally silent frames are left
    out, and so are bands whose quiet level is :data:`FLOOR_BAND_RANGE_DB` under the
    strongest band's. A noise floor heard in the gaps sits still where it shows (hiss in
    the top bands): speech with noise at 10 dB SNR measured 0.5-1.3 dB. The tails between
    drum hits or claps keep falling until the next hit: clean loops, rolls and applause
    measured 1.6 dB and up, except a snare roll whose ring outlasts the gap (1.4 dB) and a
    held synth-bass loop (1.0 dB). ``inf`` when there are too few frames to tell.

    >>> rate = 16000
    >>> t = np.arange(2 * rate) / rate
    >>> rng = np.random.default_rng(0)
    >>> hits = rng.standard_normal(len(t)) * np.exp(-(t % 0.125) / 0.02)
    >>> hiss = 0.01 * rng.standard_normal(len(t))
    >>> floor_spread_db(hits, rate) > 3, floor_spread_db(hits + hiss, rate) < 1.5
    (True, True)
    """
    size = 1 << max(int(round(math.log2(FLOOR_FRAME_S * rate))), 4)
    hop = size // 2
    n = (len(mono) - size) // hop + 1 if len(mono) >= size else 0
    if n < 20:
        return math.inf
    frames = np.lib.stride_tricks.sliding_window_view(mono, size)[::hop][:n]
    power = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    # digital silence (a lead-in, an edit) is no floor and no tail: leave it out
    energy = power.sum(axis=1)
    power = power[energy > 1e-12 * energy.max()]
    if len(power) < 20:
        return math.inf
    hz_per_bin = rate / size
    top = min(0.95 * rate / 2, 16000.0)
    levels = []
    lo = max(int(50 / hz_per_bin), 1)
    while True:
        hi = max(lo + FLOOR_BAND_MIN_BINS, int(math.ceil(lo * 2**0.5)))
        if hi * hz_per_bin > top:
            break
        levels.append(10 * np.log10(power[:, lo:hi].sum(axis=1) + 1e-30))
        lo = hi
    if not levels:
        return math.inf
    p2, p10 = np.percentile(np.array(levels), [2, 10], axis=1)
    present = p10 > p10.max() - FLOOR_BAND_RANGE_DB
    return float((p10 - p2)[present].min())


def hum_holds(mono: np.ndarray, rate: int, fundamental_hz: float,
              harmonics: list[int]) -> tuple[bool, str]:
    """Is a hum that :func:`~bridge.restore.dehum.detect_hum` found really mains hum?
    Returns ``(verdict, reason)``.

    Mains hum sits within :data:`MAINS_TOLERANCE_HZ` of 50 or 60 Hz, includes at least one of
    its first three harmonics, and holds still: in the quietest quarter of half-second
    segments its harmonics still stand out of their neighbourhood, and far more than the
    points half-way between them do. A cymbal, a tom or a bell has partials that happen to
    fall near a 50/60 Hz comb, but they decay with the note, or the spectrum between the comb
    teeth is just as busy.
    """
    nearest = min(MAINS_HZ, key=lambda m: abs(m - fundamental_hz))
    if abs(fundamental_hz - nearest) > MAINS_TOLERANCE_HZ:
        return False, f"{fundamental_hz:.2f} Hz is not a mains frequency"
    if not any(k <= 3 for k in harmonics):
        return False, "no energy at the first three harmonics"
    seg = int(HUM_SEGMENT_S * rate)
    n = len(mono) // seg if seg else 0
    if n < 2:
        return False, "too short to tell hum from a held note"
    frames = mono[: n * seg].reshape(n, seg) * np.hanning(seg)
    pad = 4 * seg
    power = np.abs(np.fft.rfft(frames, pad, axis=1)) ** 2
    hz_per_bin = rate / pad

    def prominence_db(freqs: list[float]) -> np.ndarray:
        """Per segment: median over ``freqs`` of the peak within 1 Hz against 5-15 Hz away;
        0 where the local peak (within 4 Hz) lies elsewhere: a partial a few Hz off the
        tooth leaks into it, but hum peaks on it."""
        proms = []
        for f in freqs:
            lo, hi = (int(round((f + d) / hz_per_bin)) for d in (-1.0, 1.0))
            wide_lo, wide_hi = (int(round((f + d) / hz_per_bin)) for d in (-4.0, 4.0))
            peak = power[:, lo: hi + 1].max(axis=1)
            on_tooth = peak >= 0.8 * power[:, wide_lo: wide_hi + 1].max(axis=1)
            side = np.concatenate(
                [power[:, int((f - 15) / hz_per_bin): int((f - 5) / hz_per_bin)],
                 power[:, int((f + 5) / hz_per_bin): int((f + 15) / hz_per_bin)]], axis=1)
            prom = 10 * np.log10((peak + 1e-30) / (np.median(side, axis=1) + 1e-30))
            proms.append(np.where(on_tooth, prom, 0.0))
        return np.median(proms, axis=0)

    teeth = [k for k in sorted(harmonics)[:8] if (k + 0.5) * fundamental_hz + 20 < rate / 2]
    if not teeth:
        return False, "no harmonic inside the band"
    on = prominence_db([k * fundamental_hz for k in teeth])
    off = prominence_db([(k + 0.5) * fundamental_hz for k in teeth])
    seg_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-30)
    quiet = np.argsort(seg_db)[: max(1, n // 4)]
    on_quiet, off_quiet = float(np.median(on[quiet])), float(np.median(off[quiet]))
    if on_quiet < HUM_QUIET_PROMINENCE_DB:
        return False, (f"its harmonics fade out of the quiet parts (they stand {on_quiet:.1f} "
                       "dB over their neighbourhood there)")
    if on_quiet - off_quiet < HUM_COMB_CONTRAST_DB:
        return False, (f"the spectrum between its harmonics is as busy ({on_quiet:.1f} vs "
                       f"{off_quiet:.1f} dB): partials, not a comb")
    return True, "steady"


@single_threaded
def diagnose(x: np.ndarray, rate: int, *, breaths: bool = True) -> Diagnosis:
    """Measure clipping, clicks, hum, broadband noise and breaths; decide what to run."""
    audio, _ = as_2d(x)
    mono = channel_mix(audio)
    needed: list[str] = []
    findings: dict[str, str] = {}
    figures: dict[str, Any] = {}
    minutes = max(len(mono) / rate / 60, 1e-9)

    clipped = max(
        (float(find_clipping(audio[:, c])[0].mean()) for c in range(audio.shape[1])), default=0.0
    )
    figures["clipped_fraction"] = round(clipped, 5)
    if clipped >= MIN_CLIPPED_FRACTION:
        needed.append("declip")
        findings["declip"] = f"{100 * clipped:.2f} % of samples clipped"

    clicks = len(detect_clicks(mono, rate, sensitivity=0.5))
    figures["clicks_per_minute"] = round(clicks / minutes, 1)
    # Clipped runs look like clicks to the detector; judge clicks only when not clipped.
    if clicks >= 3 and clicks / minutes >= CLICKS_PER_MINUTE and "declip" not in needed:
        needed.append("declick")
        findings["declick"] = f"{clicks} clicks ({clicks / minutes:.0f} per minute)"

    hum = detect_hum(audio, rate)
    if hum.found:
        # A hum there for only part of the take is judged where it is.
        where = mono
        if hum.regions_s:
            where = np.concatenate([mono[int(a * rate) : int(b * rate)] for a, b in hum.regions_s])
        holds, why = hum_holds(where, rate, float(hum.fundamental_hz), hum.harmonics)  # type: ignore[arg-type]
        if not holds:
            figures["hum_rejected"] = why
            hum = HumProfile(None)
    if hum.found:
        needed.append("dehum")
        findings["dehum"] = f"{hum.fundamental_hz:.2f} Hz hum, harmonics {hum.harmonics[:8]}"
        if hum.regions_s:
            findings["dehum"] += " in " + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in hum.regions_s)
            figures["hum_regions_s"] = [[a, b] for a, b in hum.regions_s]
        figures["hum_fundamental_hz"] = round(float(hum.fundamental_hz), 3)  # type: ignore[arg-type]

    if hum.found:
        # Judge the noise under the hum, not the hum itself.
        audio = as_2d(dehum(audio, rate, profile=hum)[0])[0]
        mono = channel_mix(audio)
    loud_db, quiet_db = _loud_quiet_db(mono, rate)
    snr = loud_db - quiet_db
    figures["loud_dbfs"] = round(loud_db, 1)
    figures["quiet_dbfs"] = round(quiet_db, 1)
    figures["estimated_snr_db"] = round(snr, 1) if math.isfinite(snr) else None
    if math.isfinite(snr) and snr < NOISY_SNR_DB and quiet_db > -80:
        # Broadband and steady: the quiet frames' spectrum is flat-ish, not one tone.
        profile = learn_noise_profile(audio[: min(len(mono), 60 * rate)], rate)
        power = profile.power[min(profile.power)].mean(axis=0)[1:]  # the shortest frames
        flatness = float(np.exp(np.mean(np.log(power + 1e-30))) / (np.mean(power) + 1e-30))
        figures["noise_flatness"] = round(flatness, 3)
        variation = quiet_variation(mono[: min(len(mono), 60 * rate)], rate)
        figures["quiet_variation"] = round(variation, 3)
        spread = floor_spread_db(mono[: min(len(mono), 60 * rate)], rate)
        figures["floor_spread_db"] = round(spread, 2) if math.isfinite(spread) else None
        # too short to tell (inf): as before, flatness and variation decide alone
        steady_floor = spread < FLOOR_SPREAD_DB or not math.isfinite(spread)
        if flatness > 0.05 and variation >= STEADY_TONE_VARIATION and not steady_floor:
            figures["noise_rejected"] = (
                f"the quietest frames keep falling (they spread over {spread:.1f} dB or more in "
                "every band): the tails between hits, not a noise floor")
        if flatness > 0.05 and variation >= STEADY_TONE_VARIATION and steady_floor:
            needed.append("denoise")
            findings["denoise"] = (
                f"noise floor {quiet_db:.1f} dBFS, {snr:.1f} dB under the loud parts"
            )

    if breaths:
        spans = detect_breaths(mono, rate)
        figures["breaths"] = len(spans)
        if spans:
            needed.append("debreath")
            findings["debreath"] = f"{len(spans)} breaths between phrases"
    return Diagnosis(needed, findings, figures)


PROCESSES: dict[str, Callable[..., tuple[np.ndarray, RestoreReport]]] = {
    "declip": declip,
    "declick": declick,
    "dehum": dehum,
    "denoise": denoise,
    "debreath": debreath,
}


@single_threaded
def auto(
    x: np.ndarray, rate: int, *, breaths: bool = True
) -> tuple[np.ndarray, list[RestoreReport], Diagnosis]:
    """Diagnose, then run the needed processes in :data:`ORDER`.

    Returns the processed audio, one report per process run, and the diagnosis."""
    diagnosis = diagnose(x, rate, breaths=breaths)
    out = np.asarray(x, dtype=np.float64)
    reports = []
    for name in ORDER:
        if name in diagnosis.needed:
            out, report = PROCESSES[name](out, rate)
            reports.append(report)
    return out, reports, diagnosis
