"""Restoration vs the free tools, on real clean recordings with known damage, in one run.

    .venv/bin/python benchmarks/bench_restore.py

Material: pocketsphinx-testdata speech (librivox excerpts, 16 kHz, 24.7 s joined) and a
sonic-pi guitar sample (44.1 kHz stereo). Score: SI-SDR against the clean signal (dB, higher is
better); speed: audio seconds per CPU second (x realtime, one process; ours: median of
REPEAT runs). After the table, each case's best anchor is set against ours: SI-SDR gain in
dB and the speed ratio. Anchors: ffmpeg afftdn,
adeclick, adeclip, a bandreject comb for hum (one ffmpeg bandreject per harmonic),
noisereduce (given a 2 s clip of the same noise), sox noisered (profile from that clip), and,
when installed (``pip install --no-deps pyrnnoise``, which ships RNNoise with its trained
weights), RNNoise: a learnt speech denoiser, 48 kHz only, so its input is resampled.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.restore.corrupt import (  # noqa: E402
    add_breaths,
    add_clicks,
    add_hum,
    add_noise,
    clip,
    coloured_noise,
    si_sdr_db,
)
from bridge.restore.debreath import debreath  # noqa: E402
from bridge.restore.declick import declick  # noqa: E402
from bridge.restore.declip import declip  # noqa: E402
from bridge.restore.dehum import dehum  # noqa: E402
from bridge.restore.denoise import denoise  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="bench_restore_"))


def speech() -> tuple[np.ndarray, int]:
    files = sorted(glob.glob("/usr/share/pocketsphinx/test/data/librivox/*.wav"))
    return np.concatenate([sf.read(f)[0] for f in files]), 16000


def guitar() -> tuple[np.ndarray, int]:
    x, rate = sf.read("/usr/share/sonic-pi/samples/guit_em9.flac")
    return x, rate


REPEAT = 3
"""Our processes run this many times; the median CPU time is reported."""


def timed(fn, *args, **kw):
    times = []
    for _ in range(REPEAT):
        t0 = time.process_time()
        out = fn(*args, **kw)
        times.append(time.process_time() - t0)
    return out, float(np.median(times))


def ffmpeg(x: np.ndarray, rate: int, filt: str) -> tuple[np.ndarray, float]:
    src, dst = TMP / "in.wav", TMP / "out.wav"
    sf.write(str(src), x, rate, subtype="FLOAT")
    t0 = time.time()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-threads", "1", "-i", str(src), "-af", filt,
         "-c:a", "pcm_f32le", str(dst)], check=True,
    )
    dt = time.time() - t0
    y, _ = sf.read(str(dst))
    return y[: len(x)], dt


def sox_noisered(x: np.ndarray, rate: int, noise_clip: np.ndarray) -> tuple[np.ndarray, float]:
    src, dst, nz, prof = TMP / "in.wav", TMP / "out.wav", TMP / "nz.wav", TMP / "nz.prof"
    sf.write(str(src), x, rate, subtype="FLOAT")
    sf.write(str(nz), noise_clip, rate, subtype="FLOAT")
    t0 = time.time()
    subprocess.run(["sox", str(nz), "-n", "noiseprof", str(prof)], check=True)
    subprocess.run(["sox", str(src), "-e", "floating-point", str(dst), "noisered", str(prof),
                    "0.21"], check=True)
    dt = time.time() - t0
    y, _ = sf.read(str(dst))
    return y[: len(x)], dt


def noisereduce(x: np.ndarray, rate: int, noise_clip: np.ndarray) -> tuple[np.ndarray, float]:
    import noisereduce as nr

    t0 = time.process_time()
    y = nr.reduce_noise(y=x.T if x.ndim == 2 else x, sr=rate,
                        y_noise=noise_clip.T if noise_clip.ndim == 2 else noise_clip,
                        stationary=True, n_jobs=1)
    return (y.T if x.ndim == 2 else y), time.process_time() - t0


def _rnnoise_library() -> ctypes.CDLL | None:
    """RNNoise from the pyrnnoise wheel, loaded directly: its Python wrapper pulls in plotting
    and audio-I/O packages the benchmark does not need."""
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "librnnoise.so"
    if not path.exists():
        return None
    lib = ctypes.CDLL(str(path))
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                          ctypes.POINTER(ctypes.c_float)]
    return lib


def rnnoise(lib: ctypes.CDLL, x: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
    """RNNoise per channel at 48 kHz (its only rate; resampling is counted in its time)."""
    import soxr

    t0 = time.process_time()
    size = lib.rnnoise_get_frame_size()
    channels = x.reshape(len(x), -1)
    out = np.zeros_like(channels)
    frame_in, frame_out = np.zeros(size, np.float32), np.zeros(size, np.float32)
    p_in = frame_in.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    p_out = frame_out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    for c in range(channels.shape[1]):
        # RNNoise works on the 16-bit scale.
        hi = soxr.resample(channels[:, c], rate, 48000) * 32768.0
        cleaned = np.zeros_like(hi)
        state = lib.rnnoise_create(None)
        for i in range(len(hi) // size):
            frame_in[:] = hi[i * size: (i + 1) * size]
            lib.rnnoise_process_frame(state, p_out, p_in)
            cleaned[i * size: (i + 1) * size] = frame_out
        lib.rnnoise_destroy(state)
        out[:, c] = soxr.resample(cleaned / 32768.0, 48000, rate)[: len(x)]
    return out.reshape(x.shape), time.process_time() - t0


def comb(f0: float, harmonics: int = 8) -> str:
    return ",".join(f"bandreject=f={k * f0}:width_type=q:w=30" for k in range(1, harmonics + 1))


ROWS: list[tuple[str, str, float, float, float]] = []


def align(out: np.ndarray, ref: np.ndarray, max_lag: int = 8192) -> np.ndarray:
    """Undo an external tool's delay (and length change) so SI-SDR compares like with like."""
    a = ref if ref.ndim == 1 else ref.mean(axis=1)
    b = out if out.ndim == 1 else out.mean(axis=1)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    lags = np.concatenate([corr[: max_lag + 1], corr[-max_lag:]])
    lag = int(np.argmax(lags))
    lag = lag if lag <= max_lag else lag - len(lags)
    shifted = out[lag:] if lag >= 0 else np.concatenate([np.zeros((-lag,) + out.shape[1:]), out])
    if len(shifted) < len(ref):
        shifted = np.concatenate([shifted, np.zeros((len(ref) - len(shifted),) + out.shape[1:])])
    return shifted[: len(ref)]


def row(case: str, tool: str, clean: np.ndarray, damaged: np.ndarray, out: np.ndarray,
        seconds: float, duration: float) -> None:
    out = align(out, damaged)
    ROWS.append((case, tool, si_sdr_db(clean, damaged), si_sdr_db(clean, out),
                 duration / max(seconds, 1e-9)))
    print(f"{case:34s} {tool:22s} in {ROWS[-1][2]:6.2f}  out {ROWS[-1][3]:6.2f} dB  "
          f"{ROWS[-1][4]:8.1f}x", flush=True)


def main() -> None:
    have_ffmpeg, have_sox = shutil.which("ffmpeg"), shutil.which("sox")
    rnnoise_lib = _rnnoise_library()
    sets = [("speech 16k", *speech()), ("guitar 44.1k stereo", *guitar())]
    for name, x, rate in sets:
        dur = len(x) / rate
        # Noise
        for colour in ("white", "pink"):
            for snr in (0, 5, 10):
                if name.startswith("guitar") and (colour, snr) != ("white", 10):
                    continue
                noisy = add_noise(x, snr, colour, seed=1)
                case = f"{name} {colour} {snr} dB"
                (y, _), dt = timed(denoise, noisy, rate)
                row(case, "ours denoise (no clip)", x, noisy, y, dt, dur)
                clip_noise = coloured_noise(2 * rate, colour, 99) * np.sqrt(
                    np.mean((noisy - x) ** 2))
                if x.ndim == 2:
                    clip_noise = np.stack([clip_noise, np.roll(clip_noise, 1000)], 1)
                y, dt = noisereduce(noisy, rate, clip_noise)
                row(case, "noisereduce (clip)", x, noisy, y, dt, dur)
                if have_ffmpeg:
                    y, dt = ffmpeg(noisy, rate, "afftdn=nt=w:tn=1")
                    row(case, "ffmpeg afftdn", x, noisy, y, dt, dur)
                if have_sox:
                    y, dt = sox_noisered(noisy, rate, clip_noise)
                    row(case, "sox noisered (clip)", x, noisy, y, dt, dur)
                if rnnoise_lib is not None:
                    y, dt = rnnoise(rnnoise_lib, noisy, rate)
                    row(case, "RNNoise (learnt)", x, noisy, y, dt, dur)
        # Hum
        for f0 in (50.0, 60.0):
            hummed = add_hum(x, rate, f0, hum_db=-10.0, drift_hz=0.05, seed=2)
            case = f"{name} hum {f0:.0f} Hz -10 dB"
            (y, _), dt = timed(dehum, hummed, rate)
            row(case, "ours dehum", x, hummed, y, dt, dur)
            if have_ffmpeg:
                y, dt = ffmpeg(hummed, rate, comb(f0))
                row(case, "bandreject comb x8", x, hummed, y, dt, dur)
        # Clicks
        clicked, _ = add_clicks(x, rate, count=200, seed=3)
        case = f"{name} 200 clicks"
        (y, _), dt = timed(declick, clicked, rate)
        row(case, "ours declick", x, clicked, y, dt, dur)
        if have_ffmpeg:
            y, dt = ffmpeg(clicked, rate, "adeclick")
            row(case, "ffmpeg adeclick", x, clicked, y, dt, dur)
        # Clipping
        clipped, _ = clip(x, 0.04)
        case = f"{name} 4 % clipped"
        (y, _), dt = timed(declip, clipped, rate)
        row(case, "ours declip", x, clipped, y, dt, dur)
        if have_ffmpeg:
            y, dt = ffmpeg(clipped, rate, "adeclip")
            row(case, "ffmpeg adeclip", x, clipped, y, dt, dur)
        # Breaths (speech only)
        if name.startswith("speech"):
            breathy, reference, _ = add_breaths(x, rate, count=8, level_db=-20.0, seed=4)
            (y, _), dt = timed(debreath, breathy, rate)
            row(f"{name} 8 breaths -20 dB", "ours debreath", reference, breathy, y, dt,
                len(breathy) / rate)
    print()
    print("| case | tool | input SI-SDR dB | output SI-SDR dB | x realtime |")
    print("|---|---|---:|---:|---:|")
    for case, tool, a, b, s in ROWS:
        print(f"| {case} | {tool} | {a:.2f} | {b:.2f} | {s:.0f} |")
    print("\n| case | ours dB | best anchor | anchor dB | ours - anchor dB | speed ours / anchor |")
    print("|---|---:|---|---:|---:|---:|")
    for case in dict.fromkeys(r[0] for r in ROWS):
        mine = [r for r in ROWS if r[0] == case and r[1].startswith("ours")]
        others = [r for r in ROWS if r[0] == case and not r[1].startswith("ours")]
        if not mine or not others:
            continue
        best = max(others, key=lambda r: r[3])
        print(f"| {case} | {mine[0][3]:.2f} | {best[1]} | {best[3]:.2f} | "
              f"{mine[0][3] - best[3]:+.2f} | {mine[0][4] / max(best[4], 1e-9):.1f} |")
    print(f"\nmachine: {platform.machine()} {platform.processor() or ''}, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    from bridge.restore.blas import one_blas_thread

    # Scoring's threaded BLAS calls leave worker threads spinning for about 0.1 s; their CPU
    # time would be charged to the next timed run.
    with one_blas_thread():
        main()
