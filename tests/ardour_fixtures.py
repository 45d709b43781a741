"""Fixtures for tests that drive a real headless Ardour (import them into a test module).

``require_ardour()`` skips locally / fails in CI when Ardour is missing. ``studio_audio`` writes a
few seconds of real test signals; ``make_ardour_session`` turns them into an Ardour session
with generic track names and unbalanced faders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _support import require_path, require_program

SR = 48000
SECONDS = 3.0

# generic names, faders far from balanced: what an engineer finds in a session they inherit
TRACKS = (
    # name, file, fader dB, ACE EQ already inserted
    ("Audio 1", "bass_tone.wav", 6.0, True),
    ("Audio 2", "noise_bed.wav", -14.0, False),
    ("Audio 3", "lead_tone.wav", 0.0, False),
)


def require_ardour() -> None:
    require_program("ardour7-lua")
    require_path("/usr/lib/ardour7/luasession")
    require_path("/usr/lib/lv2/a-eq.lv2")


def write_signals(folder: Path) -> dict[str, Path]:
    """Real audio on disk: a low tone, white noise, a mid tone; -20 dBFS RMS each (mono)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    t = np.arange(int(SR * SECONDS)) / SR
    signals = {
        "bass_tone.wav": np.sin(2 * np.pi * 80.0 * t),
        "noise_bed.wav": rng.standard_normal(t.size),
        "lead_tone.wav": np.sin(2 * np.pi * 660.0 * t) + 0.5 * np.sin(2 * np.pi * 1320.0 * t),
    }
    paths = {}
    for name, x in signals.items():
        x = x / np.sqrt(np.mean(x**2)) * 10 ** (-20 / 20)
        path = folder / name
        sf.write(path, x.astype(np.float32), SR, subtype="FLOAT")
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def make_ardour_session(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A factory: ``make_ardour_session("name")`` -> a fresh session file (about 2 s)."""
    from bridge.daw.ardour_runtime import TrackSpec, create_session

    require_ardour()

    base = tmp_path_factory.mktemp("ardour")
    audio = write_signals(base / "media")

    def make(name: str = "song") -> Path:
        specs = [TrackSpec(track, audio[file], gain_db=gain, eq=eq)
                 for track, file, gain, eq in TRACKS]
        return create_session(base / name, name, specs, sample_rate=SR)

    return make


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12))


def band_db(x: np.ndarray, sr: int, lo_hz: float, hi_hz: float) -> float:
    """Energy of ``x`` (mono) between two frequencies, in dB (Welch PSD)."""
    from scipy.signal import welch

    f, p = welch(x, sr, nperseg=8192)
    sel = (f >= lo_hz) & (f <= hi_hz)
    return float(10 * np.log10(np.sum(p[sel]) + 1e-20))
