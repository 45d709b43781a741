"""Restore on material that fooled it: periodic edges taken for clicks, tone peaks taken for
clipping, NaN samples passed through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.restore.corrupt import add_clicks, si_sdr_db
from bridge.restore.declick import declick, detect_clicks
from bridge.restore.declip import declip, find_clipping
from bridge.restore.diagnose import diagnose


def _saw(freq_hz: float, rate: int, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * (2.0 * ((freq_hz * t) % 1.0) - 1.0)


def _square(freq_hz: float, rate: int, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.where((freq_hz * t) % 1.0 < 0.5, 1.0, -1.0)


@pytest.mark.parametrize(("wave", "freq_hz", "rate"), [
    (_saw, 100.0, 44100), (_saw, 73.0, 48000), (_square, 120.0, 44100), (_square, 55.0, 44100),
])
def test_periodic_edges_are_not_clicks(wave, freq_hz, rate):
    x = wave(freq_hz, rate)
    assert len(detect_clicks(x, rate, sensitivity=0.5)) == 0
    assert "declick" not in diagnose(x, rate).needed
    y, report = declick(x, rate)
    assert report.figures["clicks"] <= 3
    assert si_sdr_db(x, y) > 60.0


def test_clicks_on_a_sawtooth_bass_are_still_repaired():
    rate = 44100
    x = _saw(98.0, rate)
    clicked, starts = add_clicks(x, rate, count=25, seed=8)
    repaired, report = declick(clicked, rate)
    assert report.figures["clicks"] >= 20
    marked = repaired != clicked
    assert np.mean(marked[starts]) > 0.8


@pytest.mark.parametrize(("freq_hz", "rate"), [(1600.0, 48000), (2400.0, 48000), (882.0, 44100)])
def test_tone_peaks_are_not_clipping(freq_hz, rate):
    t = np.arange(5 * rate) / rate
    tone = 10 ** (-12 / 20) * np.sin(2 * np.pi * freq_hz * t)
    assert not find_clipping(tone)[0].any()
    assert "declip" not in diagnose(tone, rate).needed
    assert declip(tone, rate)[1].applied is False
    # The same tone really clipped is still found.
    clipped = np.clip(tone, -0.2, 0.2)
    assert find_clipping(clipped)[0].mean() > 0.1


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], check=False)


@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_nan_input_is_refused(tmp_path: Path, ext: str):
    rate = 44100
    x = 0.1 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    x[12345] = np.nan
    src = tmp_path / "nan.wav"
    sf.write(str(src), x, rate, subtype="FLOAT")
    out = tmp_path / f"out{ext}"
    done = _cli("restore", "auto", str(src), "--out", str(out))
    assert done.returncode != 0
    assert str(src) in done.stderr and "frame 12345" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() and not Path(str(out) + ".partial").exists()
