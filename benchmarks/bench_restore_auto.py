"""How often ``restore auto`` calls for a process on clean real recordings (false alarms), and
how often it still finds hum that was added to them.

    .venv/bin/python benchmarks/bench_restore_auto.py

Material (Debian packages): alsa-utils announcements, pocketsphinx-testdata, 60 sonic-pi
samples and 30 Hydrogen kit samples (hydrogen-data, plus hydrogen-drumkits when installed),
drawn with fixed seeds. Prints one line per file where something was called for, then totals.
"""

from __future__ import annotations

import collections
import glob
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.audio.reader import read_audio  # noqa: E402
from bridge.restore.corrupt import add_hum  # noqa: E402
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


def hum_found() -> None:
    speech_files = sorted(glob.glob("/usr/share/pocketsphinx/test/data/librivox/*.wav"))
    speech = np.concatenate([read_audio(f)[0][:, 0] for f in speech_files]).astype(np.float64)
    takes = [("speech 24.7 s", speech, 16000), ("speech 7 s", speech[: 16000 * 7], 16000)]
    for name in ("guit_em9", "loop_amen_full", "ambi_piano", "bass_voxy_c", "loop_compus",
                 "guit_e_slide", "ambi_choir"):
        x, rate = read_audio(f"/usr/share/sonic-pi/samples/{name}.flac")
        takes.append((name, x.astype(np.float64), rate))
    x, rate = read_audio("/usr/share/sounds/alsa/Front_Center.wav")
    takes.append(("alsa Front_Center", x.astype(np.float64), rate))
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
    hum_found()
