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
from bridge.restore.dehum import dehum, detect_hum
from bridge.restore.denoise import denoise, learn_noise_profile
from bridge.restore.report import RestoreReport, as_2d, channel_mix

ORDER = ("declip", "declick", "dehum", "denoise", "debreath")
NOISY_SNR_DB = 25.0
"""Denoise when the quiet frames sit less than this far under the loud ones."""
CLICKS_PER_MINUTE = 30.0


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
        needed.append("dehum")
        findings["dehum"] = f"{hum.fundamental_hz:.2f} Hz hum, harmonics {hum.harmonics[:8]}"
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
        power = next(iter(profile.power.values())).mean(axis=0)[1:]
        flatness = float(np.exp(np.mean(np.log(power + 1e-30))) / (np.mean(power) + 1e-30))
        figures["noise_flatness"] = round(flatness, 3)
        if flatness > 0.05:
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
