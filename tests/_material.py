"""Test material several restoration tests share: real speech from alsa-utils and a clean
synthetic melody. Missing packages skip locally and fail in CI (see :mod:`_support`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from tests._support import missing, require_path

ALSA_SOUNDS = Path("/usr/share/sounds/alsa")


def alsa_announcements(gap_s: float = 0.3, *, with_noise: bool = True) -> tuple[np.ndarray, int]:
    """alsa-utils' channel announcements (one speaker, 48 kHz mono) joined with ``gap_s``
    seconds of silence after each; ``with_noise=False`` leaves out its ``Noise.wav``."""
    require_path(ALSA_SOUNDS)
    files = sorted(ALSA_SOUNDS.glob("*.wav"))
    if not with_noise:
        files = [f for f in files if "Noise" not in f.name]
    if not files:
        missing(f"speech files in {ALSA_SOUNDS}")
    parts, rate = [], 0
    for f in files:
        x, rate = sf.read(str(f))
        parts += [x, np.zeros(int(gap_s * rate))]
    return np.concatenate(parts), rate


def melody(seconds: int, rate: int) -> np.ndarray:
    """Smoothly enveloped half-second notes over a faint noise floor: nothing to repair."""
    rng = np.random.default_rng(1)
    t = np.arange(seconds * rate) / rate
    pitch = np.repeat(rng.choice([220, 247, 262, 294, 330, 349, 392], seconds * 2), rate // 2)
    swell = np.tile(np.sin(np.pi * np.arange(rate // 2) / (rate // 2)) ** 2, seconds * 2)
    return (0.3 * swell[: len(t)] * np.sin(2 * np.pi * np.cumsum(pitch[: len(t)]) / rate)
            + 1e-4 * rng.standard_normal(len(t)))
