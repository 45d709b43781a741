"""Time to label one stem, against a naive full-file analysis of the same file.

    .venv/bin/python benchmarks/bench_labeller.py [--repeats 5]

Stems: 30 s and 4 min, stereo 44.1 kHz float WAV (the sonic-pi amen loop tiled), written
to a temporary folder. "ours" is ``label_file`` end to end (read, mono, pick at most 15 s of
active audio, features, model). The anchor is what a straightforward script does: librosa.load
of the whole file at 22.05 kHz mono plus a mel spectrogram and MFCCs over all of it (no model).
Prints medians and the ratio anchor/ours.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.assist.labeller import label_file  # noqa: E402


def _stem(seconds: float, rate: int = 44100) -> np.ndarray:
    loop, lr = sf.read("/usr/share/sonic-pi/samples/loop_amen_full.flac", dtype="float32",
                       always_2d=True)
    if lr != rate:
        import librosa

        loop = librosa.resample(loop.T, orig_sr=lr, target_sr=rate).T
    reps = int(np.ceil(seconds * rate / len(loop)))
    x = np.tile(loop, (reps, 1))[: int(seconds * rate)]
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    return x


def _anchor(path: Path) -> None:
    import librosa

    y, sr = librosa.load(path, sr=22050, mono=True)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=40)
    librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)


def _median(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of this process (the CPU time is what an idle
    core would take: on a shared machine the wall clock also counts waiting for a core)."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.wav"
        sf.write(warm, _stem(2.0), 44100, subtype="FLOAT")
        label_file(warm)
        _anchor(warm)
        print(f"{'stem':<24}{'ours wall':>10}{'ours cpu':>10}{'anchor wall':>12}"
              f"{'anchor cpu':>11}{'anchor/ours (cpu)':>19}")
        for seconds in (30.0, 240.0):
            path = Path(tmp) / f"stem_{int(seconds)}s.wav"
            sf.write(path, _stem(seconds), 44100, subtype="FLOAT")
            ours = _median(lambda p=path: label_file(p), args.repeats)
            anchor = _median(lambda p=path: _anchor(p), args.repeats)
            name = f"{seconds:.0f} s stereo 44.1 kHz"
            print(f"{name:<24}{ours[0]:>10.3f}{ours[1]:>10.3f}{anchor[0]:>12.3f}"
                  f"{anchor[1]:>11.3f}{anchor[1] / ours[1]:>19.2f}")
        print(f"load average during the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
              f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
