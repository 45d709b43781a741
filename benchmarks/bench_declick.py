"""De-click speed and quality across material, rates and click densities, next to ffmpeg's
adeclick on the same inputs, in one run.

    .venv/bin/python benchmarks/bench_declick.py [--repeat N]

Each case takes a clean recording, adds seeded clicks (bridge.restore.corrupt.add_clicks)
and scores the output by SI-SDR against the clean signal (dB). Speed is audio seconds per
CPU second of one process (time.process_time; the median of ``--repeat`` runs for ours,
one wall-clock run of single-threaded ffmpeg for the anchor). "clean" cases feed the clean
recording: the output should stay as it was. ``--period-fill`` runs ours with
``period_fill=True`` (clicks on periodic material blended with the neighbouring periods).

The whole run keeps BLAS on one thread: a threaded BLAS call in the scoring (a dot product
of a whole take) leaves worker threads spinning for a while, and their CPU time would be
charged to the next timed run.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.restore.blas import one_blas_thread  # noqa: E402
from bridge.restore.corrupt import add_clicks, si_sdr_db  # noqa: E402
from bridge.restore.declick import declick  # noqa: E402

SAMPLES = "/usr/share/sonic-pi/samples/"


def cases() -> list[tuple[str, np.ndarray, int, int]]:
    """(name, clean audio, rate, clicks); clicks 0 = clean input."""
    librivox = sorted(glob.glob("/usr/share/pocketsphinx/test/data/librivox/*.wav"))
    speech = np.concatenate([sf.read(f)[0] for f in librivox])
    guitar, rate = sf.read(SAMPLES + "guit_em9.flac")
    garzul, _ = sf.read(SAMPLES + "loop_garzul.flac")
    piano, _ = sf.read(SAMPLES + "ambi_piano.flac")
    voice, voice_rate = sf.read("/usr/share/sounds/alsa/Front_Center.wav")
    return [
        ("speech 16k mono, 200 clicks", speech, 16000, 200),
        ("guit_em9 44.1k stereo, 200 clicks", guitar, rate, 200),
        ("guit_em9 44.1k stereo, 2000 clicks", guitar, rate, 2000),
        ("guit_em9 44.1k stereo, clean", guitar, rate, 0),
        ("loop_garzul 44.1k stereo 8 s, 160 clicks", garzul, rate, 160),
        ("ambi_piano 48k stereo, 60 clicks", resample_poly(piano, 160, 147, axis=0), 48000, 60),
        ("alsa Front_Center 48k mono, 30 clicks", voice, voice_rate, 30),
    ]


def ffmpeg_adeclick(x: np.ndarray, rate: int, tmp: Path) -> tuple[np.ndarray, float]:
    src, dst = tmp / "in.wav", tmp / "out.wav"
    sf.write(str(src), x, rate, subtype="FLOAT")
    t0 = time.time()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-threads", "1", "-i", str(src), "-af", "adeclick",
         "-c:a", "pcm_f32le", str(dst)], check=True,
    )
    seconds = time.time() - t0
    y, _ = sf.read(str(dst))
    return y[: len(x)], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of ours per case")
    parser.add_argument("--period-fill", action="store_true",
                        help="ours with period_fill=True")
    args = parser.parse_args()
    have_ffmpeg = shutil.which("ffmpeg") is not None
    tmp = Path(tempfile.mkdtemp(prefix="bench_declick_"))
    rows = []
    try:
        for name, clean, rate, count in cases():
            damaged = add_clicks(clean, rate, count=count, seed=3)[0] if count else clean
            seconds = len(clean) / rate
            times = []
            for _ in range(args.repeat):
                t0 = time.process_time()
                out, report = declick(damaged, rate, period_fill=args.period_fill)
                times.append(time.process_time() - t0)
            ours = seconds / float(np.median(times))
            row = [name, min(si_sdr_db(clean, damaged), 99.0), min(si_sdr_db(clean, out), 99.0),
                   ours, report.figures["clicks"]]
            if have_ffmpeg:
                anchor, wall = ffmpeg_adeclick(damaged, rate, tmp)
                row += [min(si_sdr_db(clean, anchor), 99.0), seconds / wall]
            rows.append(row)
            print("  ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row),
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| case | input dB | ours dB | ours x realtime (CPU, median) | clicks found |"
          " adeclick dB | adeclick x realtime | speed ours / adeclick |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        tail = (f"{row[5]:.2f} | {row[6]:.0f} | {row[3] / row[6]:.1f}" if len(row) > 5
                else "- | - | -")
        print(f"| {row[0]} | {row[1]:.2f} | {row[2]:.2f} | {row[3]:.0f} | {row[4]} | {tail} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmachine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
          f"load average {load:.1f}, python {platform.python_version()}, numpy {np.__version__}")


if __name__ == "__main__":
    with one_blas_thread():
        main()
