"""How often ``restore auto`` calls for a process on clean real recordings (false alarms), and
how often it still finds hum and broadband noise that were added to them.

    .venv/bin/python benchmarks/bench_restore_auto.py

Material (Debian packages): alsa-utils announcements, pocketsphinx-testdata, 60 sonic-pi
samples and 30 Hydrogen kit samples (hydrogen-data, plus hydrogen-drumkits when installed),
drawn with fixed seeds. Prints one line per file where something was called for, then totals.

A second clean set, reported on its own, holds dense material with no pauses: every sonic-pi
``loop_*``, a 16th-note groove and a 32nd-note snare roll sequenced from each Hydrogen kit
that has a kick, a snare and a closed hat, and synthetic applause at 15, 40 and 120 claps a
second. Noise (white, pink, brown at 10, 20 and 30 dB SNR, whole-take RMS) is added to the
hum takes and to the dense set, and the share that gets denoise is printed per colour and SNR.
"""

from __future__ import annotations

import collections
import glob
import random
import sys
from pathlib import Path

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.audio.reader import read_audio  # noqa: E402
from bridge.restore.corrupt import add_hum, coloured_noise  # noqa: E402
from bridge.restore.diagnose import diagnose  # noqa: E402


def clean_files() -> list[str]:
    files = sorted(glob.glob("/usr/share/sounds/alsa/*.wav"))
    files += sorted(glob.glob("/usr/share/pocketsphinx/test/data/**/*.wav", recursive=True))[:15]
    sonic = sorted(glob.glob("/usr/share/sonic-pi/samples/*.flac"))
    random.Random(1).shuffle(sonic)
    kits = sorted(glob.glob("/usr/share/hydrogen/data/drumkits/*/*.flac")
                  + glob.glob("/usr/share/hydrogen/data/drumkits/*/*.wav"))
    random.Random(2).shuffle(kits)
    return files + sonic[:60] + kits[:30]


def false_alarms() -> None:
    called: collections.Counter[str] = collections.Counter()
    files = clean_files()
    for path in files:
        x, rate = read_audio(path)
        if len(x) < rate * 0.3:
            continue
        d = diagnose(x, rate)
        called.update(d.needed)
        if d.needed:
            print(f"  {Path(path).name[:40]:40s} {len(x) / rate:5.1f} s  {', '.join(d.needed)}")
    print(f"clean files: {len(files)}; processes called for: {dict(called)}")


KITS = "/usr/share/hydrogen/data/drumkits"
DENSE_RATE = 44100


def _kit_hit(kit: str, words: tuple[str, ...]) -> np.ndarray | None:
    files = sorted(f for f in glob.glob(f"{KITS}/{kit}/*")
                   if f.lower().endswith((".wav", ".flac", ".aiff")))
    for word in words:
        hits = [f for f in files if word in Path(f).name.lower()]
        if hits:
            x, rate = read_audio(hits[len(hits) // 2])
            x = x.astype(np.float64).mean(axis=1)
            if rate != DENSE_RATE:
                g = np.gcd(rate, DENSE_RATE)
                x = resample_poly(x, DENSE_RATE // g, rate // g)
            return x
    return None


def _place(out: np.ndarray, hit: np.ndarray, at_s: float, gain: float) -> None:
    at = int(at_s * DENSE_RATE)
    n = min(len(hit), len(out) - at)
    if n > 0:
        out[at : at + n] += gain * hit[:n]


def dense_takes() -> list[tuple[str, np.ndarray, int]]:
    """Clean material with no pauses: loops, rolls, applause (see the module docstring)."""
    takes = []
    for path in sorted(glob.glob("/usr/share/sonic-pi/samples/loop_*.flac")):
        x, rate = read_audio(path)
        takes.append((Path(path).stem, x.astype(np.float64), rate))
    rng = random.Random(4)
    hat_words = ("hatclosed", "hihatclosed", "hat_cl", "hhclosed", "closehihat", "chh",
                 "hat-closed", "hihat-closed", "hh", "hat")
    for kit in sorted(Path(KITS).iterdir()) if Path(KITS).is_dir() else []:
        kick = _kit_hit(kit.name, ("kick", "bd"))
        snare = _kit_hit(kit.name, ("snare", "sd"))
        hat = _kit_hit(kit.name, hat_words)
        if kick is None or snare is None or hat is None:
            continue
        step = 60 / rng.uniform(90, 170) / 4
        groove = np.zeros(6 * DENSE_RATE)
        for i in range(int(6 / step)):
            if i % 8 == 0 or (i % 16 == 10 and rng.random() < 0.5):
                _place(groove, kick, i * step, 0.8)
            if i % 8 == 4:
                _place(groove, snare, i * step, 0.7)
            _place(groove, hat, i * step, 0.35 * rng.uniform(0.6, 1.0))
        roll = np.zeros(6 * DENSE_RATE)
        for i in range(int(6 / (step / 2))):
            swell = 0.5 + 0.5 * np.sin(i / 9) ** 2
            _place(roll, snare, i * step / 2, 0.5 * rng.uniform(0.5, 1.0) * swell)
        for style, x in (("groove", groove), ("roll", roll)):
            takes.append((f"{kit.name[:20]} {style}", 0.8 * x / np.abs(x).max(), DENSE_RATE))
    nrng = np.random.default_rng(6)
    t = np.arange(int(0.05 * DENSE_RATE)) / DENSE_RATE
    for density in (15, 40, 120):
        claps = np.zeros(6 * DENSE_RATE)
        for _ in range(6 * density):
            burst = nrng.standard_normal(len(t)) * np.exp(-t / nrng.uniform(0.004, 0.015))
            lo = nrng.uniform(500, 1500)
            band = butter(2, [lo, min(lo * nrng.uniform(2, 6), 18000)], "bandpass",
                          fs=DENSE_RATE, output="sos")
            _place(claps, sosfilt(band, burst), nrng.uniform(0, 6), nrng.uniform(0.2, 1.0))
        takes.append((f"applause {density}/s", 0.7 * claps / np.abs(claps).max(), DENSE_RATE))
    return takes


def dense_false_alarms(takes: list[tuple[str, np.ndarray, int]]) -> None:
    called: collections.Counter[str] = collections.Counter()
    for name, x, rate in takes:
        d = diagnose(x, rate)
        called.update(d.needed)
        if d.needed:
            print(f"  {name[:40]:40s} {len(x) / rate:5.1f} s  {', '.join(d.needed)}")
    print(f"dense clean takes: {len(takes)}; processes called for: {dict(called)}")


def _noise(frames: int, colour: str, seed: int, rate: int) -> np.ndarray:
    if colour != "brown":
        return coloured_noise(frames, colour, seed)
    # brown: integrated white noise (-6 dB/octave), its drift taken out below 20 Hz
    walk = np.cumsum(np.random.default_rng(seed).standard_normal(frames))
    walk = sosfilt(butter(1, 20, "highpass", fs=rate, output="sos"), walk)
    return walk / np.sqrt(np.mean(walk**2))


def _band_levels(x: np.ndarray, rate: int) -> np.ndarray:
    """Half-octave band power (100 Hz up) of ~23 ms frames, shape (bands, frames)."""
    size = 1 << int(round(np.log2(0.023 * rate)))
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[:: size // 2]
    power = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1 / rate)
    edges = 100.0 * 2.0 ** (np.arange(20) / 2)
    edges = edges[edges < min(rate / 2, 16000)]
    return np.array([power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
                     for lo, hi in zip(edges[:-1], edges[1:], strict=True)])


def noise_found(sets: dict[str, list[tuple[str, np.ndarray, int]]]) -> None:
    """Takes that get denoise with noise added, per colour and SNR (dB): found/all, and in
    brackets found/exposed over the takes where the noise shows, i.e. is louder than the
    clean take in more than a fifth of the half-octave x 23 ms cells."""
    for set_name, takes in sets.items():
        cells = []
        for colour in ("white", "pink", "brown"):
            for snr_db in (10.0, 20.0, 30.0):
                hits = exposed = exposed_hits = 0
                for i, (_name, x, rate) in enumerate(takes):
                    x = x.reshape(len(x), -1)
                    noise = np.stack([_noise(len(x), colour, 10 * i + c, rate)
                                      for c in range(x.shape[1])], axis=1)
                    noise *= np.sqrt(np.mean(x**2)) * 10 ** (-snr_db / 20)
                    found = "denoise" in diagnose(x + noise, rate, breaths=False).needed
                    shows = np.mean(_band_levels(noise[: 60 * rate].mean(axis=1), rate)
                                    > _band_levels(x[: 60 * rate].mean(axis=1), rate)) > 0.2
                    hits += found
                    exposed += shows
                    exposed_hits += found and shows
                cells.append(f"{colour}/{snr_db:.0f}dB:{hits}/{len(takes)}"
                             f"({exposed_hits}/{exposed})")
        print(f"  {set_name:18s} {' '.join(cells)}")


def hum_takes() -> list[tuple[str, np.ndarray, int]]:
    speech_files = sorted(glob.glob("/usr/share/pocketsphinx/test/data/librivox/*.wav"))
    speech = np.concatenate([read_audio(f)[0][:, 0] for f in speech_files]).astype(np.float64)
    takes = [("speech 24.7 s", speech, 16000), ("speech 7 s", speech[: 16000 * 7], 16000)]
    for name in ("guit_em9", "loop_amen_full", "ambi_piano", "bass_voxy_c", "loop_compus",
                 "guit_e_slide", "ambi_choir"):
        x, rate = read_audio(f"/usr/share/sonic-pi/samples/{name}.flac")
        takes.append((name, x.astype(np.float64), rate))
    x, rate = read_audio("/usr/share/sounds/alsa/Front_Center.wav")
    takes.append(("alsa Front_Center", x.astype(np.float64), rate))
    return takes


def hum_found(takes: list[tuple[str, np.ndarray, int]]) -> None:
    hits = total = 0
    for name, x, rate in takes:
        marks = []
        for freq in (50.0, 60.0):
            for level in (-10.0, -20.0, -30.0):
                hummy = add_hum(x, rate, freq, hum_db=level, drift_hz=0.05, seed=3)
                found = "dehum" in diagnose(hummy, rate, breaths=False).needed
                hits += found
                total += 1
                marks.append(f"{freq:.0f}Hz/{level:.0f}dB:{'found' if found else 'missed'}")
        print(f"  {name:18s} {' '.join(marks)}")
    print(f"hum found in {hits} of {total} takes")


if __name__ == "__main__":
    print("false alarms on clean recordings")
    false_alarms()
    print("hum added to real recordings")
    hum_found(hum_takes())
    print("false alarms on dense clean material (second set)")
    dense = dense_takes()
    dense_false_alarms(dense)
    print("noise added: takes that get denoise, per colour/SNR: found/all (found/noise shows)")
    noise_found({"hum takes (10)": hum_takes(), f"dense set ({len(dense)})": dense})
