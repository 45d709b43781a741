"""Loudness analysis speed and agreement: ours vs ffmpeg's ebur128 vs pyloudnorm.

Run: ``.venv/bin/python benchmarks/bench_loudness.py [--runs 5] [--minutes 10] [--keep DIR]``

Builds a 10-minute 48 kHz stereo 24-bit WAV (a drum/bass/pad arrangement from the Debian
``sonic-pi-samples`` one-shots, with quiet and loud sections, or synthetic pink-noise music when
those are not installed), then times whole processes, interleaved, on the same file:

* ours:        ``studio-bridge analyze --no-cache --json FILE`` (the full measurement set)
* ffmpeg:      ``ffmpeg -nostdin -hide_banner -nostats -i FILE -af ebur128=peak=true -f null -``
* pyloudnorm:  ``python -c "soundfile.read + pyloudnorm.Meter(rate).integrated_loudness"``

and prints median wall time, peak RSS (per child, from wait4), the speed ratios and the
figures each tool reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
SAMPLES = Path("/usr/share/sonic-pi/samples")
RATE = 48000


def _load(name: str) -> np.ndarray:
    from scipy.signal import resample_poly

    x, rate = sf.read(SAMPLES / name, always_2d=True)
    if rate != RATE:
        x = resample_poly(x, RATE, rate, axis=0)
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    return x[:, :2]


def _place(out: np.ndarray, sound: np.ndarray, at: int, gain: float, pan: float) -> None:
    end = min(len(out), at + len(sound))
    if end <= at:
        return
    left, right = np.cos((pan + 1) * np.pi / 4), np.sin((pan + 1) * np.pi / 4)
    out[at:end, 0] += gain * left * sound[:end - at, 0] * np.sqrt(2)
    out[at:end, 1] += gain * right * sound[:end - at, 1] * np.sqrt(2)


def build_programme(path: Path, minutes: float, seed: int = 7) -> None:
    """A drum/bass/pad arrangement written in 30 s blocks (never all in memory)."""
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * RATE)
    have = SAMPLES.is_dir() and (SAMPLES / "bd_haus.flac").exists()
    if have:
        kit = {n: _load(n + ".flac") for n in (
            "bd_haus", "sn_dolf", "drum_cymbal_closed", "drum_cymbal_open", "bass_hit_c",
            "ambi_choir", "ambi_drone", "ambi_glass_hum", "elec_bell")}
    beat = int(RATE * 60 / 120 / 2)  # eighth notes at 120 bpm
    chunk = 30 * RATE
    with sf.SoundFile(path, "w", RATE, 2, subtype="PCM_24") as f:
        for start in range(0, total, chunk):
            n = min(chunk, total - start)
            out = np.zeros((n + RATE * 8, 2))
            section = (start // chunk) % 4  # verse, chorus, breakdown, chorus
            level = [0.5, 1.0, 0.25, 0.9][section]
            if have:
                for k in range(n // beat + 1):
                    at = k * beat
                    if section != 2:
                        if k % 4 == 0:
                            _place(out, kit["bd_haus"], at, 0.9 * level, 0.0)
                        if k % 8 == 4:
                            _place(out, kit["sn_dolf"], at, 0.6 * level, 0.1)
                        _place(out, kit["drum_cymbal_closed"], at, 0.15 * level,
                               0.5 * rng.uniform(-1, 1))
                    if k % 16 == 0:
                        _place(out, kit["bass_hit_c"], at, 0.5 * level, -0.2)
                        _place(out, kit["ambi_choir" if section == 1 else "ambi_drone"],
                               at, 0.3, rng.uniform(-0.6, 0.6))
                    if k % 32 == 8:
                        _place(out, kit["elec_bell"], at, 0.2 * level, rng.uniform(-1, 1))
            else:
                spec = np.fft.rfft(rng.standard_normal((2, n + RATE * 8)), axis=1)
                spec[:, 1:] /= np.sqrt(np.arange(1, spec.shape[1]))
                out += 3 * level * np.fft.irfft(spec, axis=1).T[: len(out)]
            f.write(np.clip(out[:n] * 0.5, -1.0, 1.0))


GNU_TIME = shutil.which("time") if Path("/usr/bin/time").exists() else None


def _run_wait4(cmd: list[str]) -> tuple[float, float, int, str, str]:
    """(wall s, CPU s user+sys, peak RSS bytes or 0, stdout, stderr) of one child process.

    Peak RSS comes from GNU time's %M: a child forked from this (large) Python process would
    report the parent's pages in its own ru_maxrss, a child of the tiny ``time`` does not."""
    marker = "SB-BENCH-RSS-KB="
    full = ["/usr/bin/time", "-f", marker + "%M", *cmd] if GNU_TIME else cmd
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(full, stdout=out_f, stderr=err_f, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read().decode(), err_f.read().decode()
    if code != 0:
        raise RuntimeError(f"{cmd[0]} failed ({code}): {err[-500:]}")
    rss = 0
    if GNU_TIME and marker in err:
        head, _, tail = err.rpartition(marker)
        rss = int(tail.split()[0]) * 1024
        err = head
    return wall, usage.ru_utime + usage.ru_stime, rss, out, err


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--keep", type=Path, default=None, help="folder to keep/reuse the test file")
    ap.add_argument("--build", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build is not None:
        build_programme(args.build, args.minutes)
        return

    folder = args.keep or Path(tempfile.mkdtemp(prefix="sb-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    wav = folder / f"programme_{args.minutes:g}min_48k_24bit.wav"
    if not wav.exists():
        print(f"building {wav} ...", file=sys.stderr)
        # in a child process, so this process stays small while it times the others
        subprocess.run([PY, __file__, "--build", str(wav), "--minutes", str(args.minutes)],
                       check=True)
    info = sf.info(wav)
    print(f"file: {wav.name}: {info.duration:.1f} s, {info.samplerate} Hz, {info.channels} ch, "
          f"{info.subtype}, {wav.stat().st_size / 1e6:.0f} MB")

    studio_bridge = str(Path(PY).with_name("studio-bridge"))
    ffmpeg = shutil.which("ffmpeg")
    commands = {
        "ours (studio-bridge analyze --no-cache --json)": [
            studio_bridge, "analyze", "--no-cache", "--json", str(wav)],
        "ffmpeg ebur128=peak=true": [
            ffmpeg or "ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(wav),
            "-af", "ebur128=peak=true", "-f", "null", "-"],
        "pyloudnorm integrated": [
            PY, "-c", "import sys, soundfile as sf, pyloudnorm as pyln; "
            "x, r = sf.read(sys.argv[1]); print(pyln.Meter(r).integrated_loudness(x))", str(wav)],
    }
    if ffmpeg is None:
        del commands["ffmpeg ebur128=peak=true"]
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    rss: dict[str, list[int]] = {k: [] for k in commands}
    outputs: dict[str, tuple[str, str]] = {}
    loads = []
    for _ in range(args.runs):
        for name, cmd in commands.items():  # interleaved, so load changes hit all alike
            loads.append(os.getloadavg()[0])
            wall, cpu_s, peak, out, err = _run_wait4(cmd)
            times[name].append(wall)
            cpu[name].append(cpu_s)
            rss[name].append(peak)
            outputs[name] = (out, err)

    ours_key = next(iter(commands))
    ours = json.loads(outputs[ours_key][0])[0]
    print(f"\nmachine: {platform.machine()} {_cpu_name()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; 1-min load average during the runs: "
          f"median {statistics.median(loads):.1f} (min {min(loads):.1f}, max {max(loads):.1f})")
    print(f"runs: {args.runs} of each, interleaved\n")
    print("| tool | median wall s | min wall s | median CPU s | peak RSS MB | "
          "wall ratio to ours | CPU ratio to ours |")
    print("|---|---|---|---|---|---|---|")
    ours_wall = statistics.median(times[ours_key])
    ours_cpu = statistics.median(cpu[ours_key])
    for name in commands:
        med = statistics.median(times[name])
        c = statistics.median(cpu[name])
        print(f"| {name} | {med:.3f} | {min(times[name]):.3f} | {c:.3f} | "
              f"{max(rss[name]) / 2**20:.0f} | {med / ours_wall:.2f}x | {c / ours_cpu:.2f}x |")

    print("\nfigures:")
    print(f"  ours:       I {ours['integrated_lufs']:.2f} LUFS, LRA {ours['lra_lu']:.2f} LU, "
          f"TP {ours['true_peak_dbtp']:.2f} dBTP, M max {ours['momentary_max_lufs']:.2f}, "
          f"S max {ours['short_term_max_lufs']:.2f}")
    pyln_key = "pyloudnorm integrated"
    pyln = float(outputs[pyln_key][0].strip())
    print(f"  pyloudnorm: I {pyln:.2f} LUFS  (ours - pyloudnorm = "
          f"{ours['integrated_lufs'] - pyln:+.3f} LU)")
    if "ffmpeg ebur128=peak=true" in outputs:
        err = outputs["ffmpeg ebur128=peak=true"][1]
        summary = err[err.rfind("Summary:"):]
        i = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
        lra = float(re.search(r"LRA:\s+(-?[\d.]+) LU", summary).group(1))
        tp = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
        print(f"  ffmpeg:     I {i:.1f} LUFS, LRA {lra:.1f} LU, TP {tp:.1f} dBTP  "
              f"(ours - ffmpeg: I {ours['integrated_lufs'] - i:+.2f}, "
              f"LRA {ours['lra_lu'] - lra:+.2f}, TP {ours['true_peak_dbtp'] - tp:+.2f}; "
              "ffmpeg prints one decimal)")
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
