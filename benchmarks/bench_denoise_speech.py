"""Denoise on every speech recording pocketsphinx-testdata holds, against noisereduce.

    .venv/bin/python benchmarks/bench_denoise_speech.py [--snr-db 5]

The restoration benchmark (``bench_restore.py``) scores the five librivox excerpts joined; this
one asks whether that input is unusually hard: each file alone (librivox excerpts, the
cards/goforward/numbers/something recordings, 16 kHz) with white noise at ``--snr-db`` (whole
file RMS), ours without a noise clip against noisereduce given a 2 s clip of the same noise.
SI-SDR in dB against the clean file; the last line gives the medians and their difference.
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.restore.blas import one_blas_thread  # noqa: E402
from bridge.restore.corrupt import add_noise, coloured_noise, si_sdr_db  # noqa: E402
from bridge.restore.denoise import denoise  # noqa: E402

DATA = Path("/usr/share/pocketsphinx/test/data")
RATE = 16000


def recordings() -> dict[str, np.ndarray]:
    """Every clean 16 kHz speech recording of the package: WAV files and headerless .raw."""
    found: dict[str, np.ndarray] = {}
    for path in sorted(glob.glob(str(DATA / "librivox" / "*.wav"))) + sorted(
            glob.glob(str(DATA / "cards" / "*.wav"))):
        x, rate = sf.read(path)
        if rate == RATE:
            found[str(Path(path).relative_to(DATA))] = x if x.ndim == 1 else x.mean(axis=1)
    for path in sorted(DATA.glob("*.raw")):
        found[path.name] = np.fromfile(path, dtype="<i2").astype(np.float64) / 32768.0
    return found


def main() -> None:
    import noisereduce as nr

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr-db", type=float, default=5.0)
    args = parser.parse_args()
    files = recordings()
    if not files:
        sys.exit(f"no speech found under {DATA} (apt-get install pocketsphinx-testdata)")
    ours, theirs = [], []
    print("| file | seconds | input dB | ours dB | noisereduce (clip) dB |")
    print("|---|---:|---:|---:|---:|")
    for name, x in files.items():
        noisy = add_noise(x, args.snr_db, "white", seed=1)
        cleaned, _ = denoise(noisy, RATE)
        clip = coloured_noise(2 * RATE, "white", 99) * np.sqrt(np.mean((noisy - x) ** 2))
        other = nr.reduce_noise(y=noisy, sr=RATE, y_noise=clip, stationary=True, n_jobs=1)
        ours.append(si_sdr_db(x, cleaned))
        theirs.append(si_sdr_db(x, other))
        print(f"| {name} | {len(x) / RATE:.1f} | {si_sdr_db(x, noisy):.2f} | {ours[-1]:.2f} | "
              f"{theirs[-1]:.2f} |", flush=True)
    print(f"\nmedian over {len(files)} files: ours {np.median(ours):.2f} dB, noisereduce "
          f"{np.median(theirs):.2f} dB, difference {np.median(ours) - np.median(theirs):+.2f} dB")


if __name__ == "__main__":
    with one_blas_thread():
        main()
