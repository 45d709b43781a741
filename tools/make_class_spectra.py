"""Build ``bridge/assist/class_spectra.json``: a target 1/3-octave spectrum per instrument class.

Reproducible from Debian packages only (no download):

- hydrogen-data GMRockKit and TR808EmulationKit: kick, snare, hihat, tom, cymbal samples;
- sonic-pi-samples: bd_*/sn_* one-shots, drum loops, tabla/percussion, bass, guitar, piano;
- pocketsphinx-testdata: the librivox reader and the "cards" speakers (speech, and the vocal
  target: no sung vocal recording ships in Debian, so the vocal target is speech with the same
  long-term shape; see docs/mixing.md);
- fluid-soundfont-gm rendered with fluidsynth (strings, brass, woodwind, extra keys/bass/guitar):
  a scale of held notes over two octaves per General MIDI program.

For each file: the long-term spectrum over the frames that play (bridge.assist.match), 1/3-octave
band levels 25 Hz .. 16 kHz, smoothed over one octave (power mean of three neighbouring bands:
many files are single notes of one pitch, whose harmonics would otherwise leave spikes and holes
that a part playing many pitches does not have), normalised to 0 dB total; per class the mean in
dB over its files. The targets describe a broad shape only; bridge.assist.eq compares stems with
them after removing level and (part of the) tilt.

    .venv/bin/python tools/make_class_spectra.py [--out PATH]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.assist.eq import smooth_octave
from bridge.assist.match import THIRD_OCTAVE_CENTRES_HZ, band_levels_db, long_term_spectrum
from bridge.audio.midi import note_events, render_fluidsynth, write_midi

RATE = 44100
OUT = Path(__file__).resolve().parents[1] / "bridge" / "assist" / "class_spectra.json"
SP = Path("/usr/share/sonic-pi/samples")
HY = Path("/usr/share/hydrogen/data/drumkits")
PS = Path("/usr/share/pocketsphinx/test/data")
SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
CENTRES = THIRD_OCTAVE_CENTRES_HZ[
    (THIRD_OCTAVE_CENTRES_HZ >= 24) & (THIRD_OCTAVE_CENTRES_HZ <= 17000)]

FILES: dict[str, list[str]] = {
    "kick": [f"{HY}/GMRockKit/Kick-*.wav", f"{HY}/TR808EmulationKit/808_Kick_*.flac",
             f"{SP}/bd_*.flac", f"{SP}/drum_heavy_kick.flac", f"{SP}/drum_bass_*.flac"],
    "snare": [f"{HY}/GMRockKit/Snare-*.wav", f"{HY}/GMRockKit/SnareRimshot-*.wav",
              f"{HY}/TR808EmulationKit/808_Snare_*.flac", f"{SP}/sn_*.flac",
              f"{SP}/drum_snare_*.flac"],
    "hihat": [f"{HY}/GMRockKit/Hat*.wav", f"{HY}/TR808EmulationKit/808_Hat_*.flac",
              f"{SP}/drum_cymbal_closed.flac", f"{SP}/drum_cymbal_pedal.flac"],
    "cymbal": [f"{HY}/GMRockKit/Crash-*.wav", f"{HY}/GMRockKit/Ride-*.wav",
               f"{HY}/GMRockKit/Splash-*.wav", f"{HY}/TR808EmulationKit/808_Cymbal.flac",
               f"{SP}/drum_cymbal_hard.flac", f"{SP}/drum_splash_*.flac"],
    "tom": [f"{HY}/GMRockKit/Tom*.wav", f"{HY}/TR808EmulationKit/808_Tom_*.flac",
            f"{SP}/drum_tom_*.flac"],
    "drums": [f"{SP}/loop_amen*.flac", f"{SP}/loop_breakbeat.flac", f"{SP}/loop_compus.flac",
              f"{SP}/loop_industrial.flac", f"{SP}/loop_mika.flac"],
    "percussion": [f"{SP}/tabla_*.flac", f"{SP}/perc_*.flac", f"{SP}/drum_cowbell.flac",
                   f"{HY}/TR808EmulationKit/808_Conga.flac",
                   f"{HY}/TR808EmulationKit/808_Shaker.flac", f"{SP}/loop_tabla.flac"],
    "bass": [f"{SP}/bass_*.flac"],
    "guitar": [f"{SP}/guit_*.flac"],
    "keys": [f"{SP}/ambi_piano.flac"],
    "speech": [f"{PS}/librivox/*.wav", f"{PS}/cards/*.wav"],
}
PROGRAMS: dict[str, list[int]] = {  # General MIDI, 0-based; (class, programs, lowest note)
    "keys": [0, 1, 4, 16],
    "bass": [32, 33, 34, 38],
    "guitar": [24, 25, 26, 27],
    "strings": [40, 41, 42, 48, 49],
    "brass": [56, 57, 60, 61],
    "woodwind": [65, 68, 71, 73],
}
LOWEST = {"keys": 48, "bass": 28, "guitar": 40, "strings": 48, "brass": 48, "woodwind": 55}


def scale_midi(path: Path, program: int, lowest: int) -> None:
    """Two octaves of a major scale, half a second a note (120 bpm)."""
    steps = [0, 2, 4, 5, 7, 9, 11]
    notes = [lowest + 12 * o + s for o in range(2) for s in steps]
    write_midi(path, note_events([(0.5 * i, 0.5, n, 96) for i, n in enumerate(notes)],
                                 program=program))


def render(midi: Path, wav: Path) -> np.ndarray:
    return render_fluidsynth(midi, SF2, wav, rate=RATE)


def levels(audio: np.ndarray, rate: int) -> np.ndarray:
    bands = band_levels_db(long_term_spectrum(audio, rate), CENTRES)
    top = 0.45 * rate
    bands[CENTRES > top] = np.nan  # a 16 kHz recording says nothing above 7 kHz
    bands = smooth_octave(bands)
    total = 10 * np.log10(np.nansum(10 ** (bands / 10)))
    return bands - total


def main() -> None:
    import argparse
    import glob

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    out_path = parser.parse_args().out

    per_class: dict[str, list[np.ndarray]] = {}
    sources: dict[str, list[str]] = {}
    for cls, patterns in FILES.items():
        for pattern in patterns:
            for name in sorted(glob.glob(pattern)):
                audio, rate = sf.read(name, dtype="float64", always_2d=True)
                per_class.setdefault(cls, []).append(levels(audio, rate))
                sources.setdefault(cls, []).append(name)
    if shutil.which("fluidsynth") and SF2.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            for cls, programs in PROGRAMS.items():
                for program in programs:
                    midi = Path(tmp) / f"{cls}{program}.mid"
                    scale_midi(midi, program, LOWEST[cls])
                    audio = render(midi, Path(tmp) / f"{cls}{program}.wav")
                    per_class.setdefault(cls, []).append(levels(audio, RATE))
                    sources.setdefault(cls, []).append(f"{SF2.name} program {program}")
    per_class["vocal"] = per_class["speech"]
    sources["vocal"] = [*sources["speech"], "(speech used as the vocal shape)"]
    out = {
        "version": 2,
        "method": "mean in dB over files of 1/3-octave LTAS (active frames), each smoothed over "
                  "one octave and normalised to 0 dB total; made by tools/make_class_spectra.py",
        "centres_hz": [round(float(c), 2) for c in CENTRES],
        "classes": {},
    }
    for cls, rows in sorted(per_class.items()):
        stack = np.array(rows)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # bands no file of the class covers
            mean = np.nanmean(stack, axis=0)
        mean -= 10 * np.log10(np.nansum(10 ** (mean / 10)))
        out["classes"][cls] = {"level_db": [round(float(v), 2) if np.isfinite(v) else None
                                            for v in mean],
                               "files": len(rows), "sources": sources[cls]}
        print(f"{cls:11s} {len(rows):3d} files")
    out_path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
