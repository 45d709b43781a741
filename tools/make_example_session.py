"""Build the bundled example session (examples/untidy_session/) reproducibly.

Material, all redistributable under terms compatible with MIT:
- drums: one-shot recordings from Debian's ``sonic-pi-samples`` (CC0), sequenced here;
- bass, keys, guitar, strings, lead: MIDI parts written here, rendered by ``fluidsynth`` with
  Debian's ``fluid-soundfont-gm`` (FluidR3_GM, MIT licence).

The project is deliberately untidy: generic track names ("Audio 1", "Track 3"), unbalanced
faders, a snare track made of two items (one with an offset and fades).

    python tools/make_example_session.py            # writes examples/untidy_session/
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.audio.midi import note_events, render_fluidsynth, write_midi

RATE = 44100
BPM = 120.0
BARS = 6
BEAT_S = 60.0 / BPM
LENGTH_S = BARS * 4 * BEAT_S
SAMPLES = Path("/usr/share/sonic-pi/samples")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RNG = np.random.default_rng(7)

# (track name, file stem, fader dB, pan): generic names, faders all over the place
TRACKS = [
    ("Audio 1", "audio1", 6.0, 0.0),
    ("Audio 2", "audio2", -9.0, 0.0),
    ("Track 3", "track3", 4.5, 0.25),
    ("Audio 4", "audio4", -11.0, 0.0),
    ("Track 5", "track5", 3.0, -0.2),
    ("Audio 6", "audio6", -5.0, 0.35),
    ("Track 7", "track7", 7.0, 0.0),
    ("Audio 8", "audio8", -7.0, 0.0),
]


# -- drums from CC0 one-shots ------------------------------------------------------------------
def one_shot(name: str) -> np.ndarray:
    data, rate = sf.read(SAMPLES / f"{name}.flac", dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    if rate != RATE:
        import soxr

        mono = soxr.resample(mono, rate, RATE)
    return mono


def sequence(hit: np.ndarray, beats: list[float], velocity_jitter: float = 0.15) -> np.ndarray:
    out = np.zeros(int(LENGTH_S * RATE) + RATE)
    for beat in beats:
        start = int(round(beat * BEAT_S * RATE)) + int(RNG.integers(-40, 40))
        start = max(0, start)
        gain = 1.0 - velocity_jitter * RNG.random()
        end = min(len(out), start + len(hit))
        out[start:end] += gain * hit[: end - start]
    return out[: int(LENGTH_S * RATE)]


def drum_tracks() -> dict[str, np.ndarray]:
    beats = BARS * 4
    kick = sequence(one_shot("drum_heavy_kick"), [b for b in range(beats)] + [14.5, 22.5])
    snare = sequence(one_shot("drum_snare_hard"), [b for b in range(beats) if b % 2 == 1])
    hats = sequence(one_shot("drum_cymbal_closed"), [b / 2 for b in range(beats * 2)], 0.4)
    return {"audio1": kick, "audio2": snare, "track3": hats}


# -- pitched parts through fluidsynth ------------------------------------------------------------
def write_part(path: Path, program: int, notes: list[tuple[float, float, int, int]]) -> None:
    """A MIDI part: ``notes`` are (start beat, length beats, pitch, velocity)."""
    in_seconds = [(start * BEAT_S, length * BEAT_S, pitch, velocity)
                  for start, length, pitch, velocity in notes]
    write_midi(path, note_events(in_seconds, program=program), bpm=BPM)


def render_part(midi: Path, wav: Path) -> np.ndarray:
    # reverb and chorus on: these parts should sound like a recorded room, not a dry test tone
    audio = render_fluidsynth(midi, SOUNDFONT, wav, rate=RATE, gain=0.6, dry=False)
    return audio.mean(axis=1)[: int(LENGTH_S * RATE)]


CHORDS = [(45, [57, 60, 64]), (41, [57, 60, 65]), (48, [55, 60, 64]), (43, [55, 59, 62])]


def pitched_parts() -> dict[str, tuple[int, list[tuple[float, float, int, int]]]]:
    bass, keys, guitar, strings, lead = [], [], [], [], []
    melody = [69, 72, 74, 76, 74, 72, 69, 67]
    for bar in range(BARS):
        root, chord = CHORDS[bar % len(CHORDS)]
        t0 = bar * 4.0
        for beat in (0, 1.5, 2, 3, 3.5):
            bass.append((t0 + beat, 0.45, root - 12 + (7 if beat == 3.5 else 0), 100))
        for beat in (0, 2):
            keys.extend((t0 + beat, 1.8, p, 70) for p in chord)
        for i, beat in enumerate(np.arange(0, 4, 0.5)):
            guitar.append((t0 + beat, 0.45, chord[i % 3] + 12 * (i % 2), 80))
        strings.extend((t0, 3.9, p - 12, 60) for p in chord)
        for i, beat in enumerate((0, 1, 1.5, 2.5, 3)):
            lead.append((t0 + beat, 0.9, melody[(bar * 5 + i) % len(melody)], 90))
    return {
        "audio4": (33, bass),      # electric bass (finger)
        "track5": (0, keys),       # acoustic grand piano
        "audio6": (25, guitar),    # acoustic guitar (steel)
        "track7": (48, strings),   # string ensemble
        "audio8": (53, lead),      # voice oohs: the "lead vocal" line
    }


# -- the project file -------------------------------------------------------------------------
def _guid() -> str:
    return "{" + str(uuid.UUID(int=int(RNG.integers(0, 2**63)) << 64 | 0x4000)).upper() + "}"


def item_lines(file: str, position: float, length: float, offset: float = 0.0,
               fade_in: float = 0.01, fade_out: float = 0.01) -> list[str]:
    return [
        "    <ITEM",
        f"      POSITION {position:.14g}",
        "      SNAPOFFS 0",
        f"      LENGTH {length:.14g}",
        "      LOOP 0",
        "      ALLTAKES 0",
        f"      FADEIN 1 {fade_in:.14g} 0 1 0 0 0",
        f"      FADEOUT 1 {fade_out:.14g} 0 1 0 0 0",
        "      MUTE 0 0",
        "      SEL 0",
        f"      IGUID {_guid()}",
        "      IID 1",
        f"      NAME {file}",
        "      VOLPAN 1 0 1 -1",
        f"      SOFFS {offset:.14g}",
        "      PLAYRATE 1 1 0 -1 0 0.0025",
        "      CHANMODE 0",
        f"      GUID {_guid()}",
        "      <SOURCE FLAC",
        f'        FILE "Audio/{file}"',
        "      >",
        "    >",
    ]


def project_text(lengths: dict[str, float]) -> str:
    lines = [
        '<REAPER_PROJECT 0.1 "7.27/linux-x86_64" 1732550000',
        "  RIPPLE 0",
        "  GROUPOVERRIDE 0 0 0",
        "  AUTOXFADE 129",
        "  ENVATTACH 3",
        "  MIXERUIFLAGS 11 48",
        "  PEAKGAIN 1",
        "  FEEDBACK 0",
        "  PANLAW 1",
        "  PROJOFFS 0 0 0",
        "  MAXPROJLEN 0 0",
        "  GRID 3199 8 1 8 1 0 0 0",
        "  TIMEMODE 1 5 -1 30 0 0 -1",
        "  PANMODE 3",
        "  CURSOR 0",
        "  ZOOM 100 0 0",
        "  VZOOMEX 6 0",
        "  USE_REC_CFG 0",
        "  RECMODE 1",
        "  LOOP 0",
        "  LOOPGRAN 0 4",
        "  RECORD_PATH Audio \"\"",
        "  <RECORD_CFG",
        "    ZXZhdxgAAQ==",
        "  >",
        "  RENDER_FILE \"\"",
        "  RENDER_PATTERN \"\"",
        "  RENDER_FMT 0 2 0",
        "  RENDER_1X 0",
        "  RENDER_RANGE 1 0 0 18 1000",
        "  RENDER_RESAMPLE 3 0 1",
        "  RENDER_ADDTOPROJ 0",
        "  RENDER_STEMS 0",
        "  RENDER_DITHER 0",
        "  TIMELOCKMODE 1",
        "  TEMPOENVLOCKMODE 1",
        "  ITEMMIX 1",
        "  DEFPITCHMODE 589824 0",
        "  TAKELANE 1",
        f"  SAMPLERATE {RATE} 1 0",
        "  <RENDER_CFG",
        "    ZXZhdxgAAQ==",
        "  >",
        "  LOCK 1",
        "  GLOBAL_AUTO -1",
        f"  TEMPO {BPM:g} 4 4",
        "  PLAYRATE 1 0 0.25 4",
        "  MASTERAUTOMODE 0",
        "  MASTERTRACKHEIGHT 0 0",
        "  MASTERPEAKCOL 16576",
        "  MASTERMUTESOLO 0",
        "  MASTERTRACKVIEW 0 0.6667 0.5 0.5 0 0 0 0 0 0 0 0 0",
        "  MASTER_NCH 2 2",
        "  MASTER_VOLUME 1 0 -1 -1 1",
        "  MASTER_PANMODE 3",
        "  MASTER_FX 1",
        "  MASTER_SEL 0",
    ]
    for name, stem, fader_db, pan in TRACKS:
        volume = 10 ** (fader_db / 20)
        lines += [
            f"  <TRACK {_guid()}",
            f'    NAME "{name}"',
            "    PEAKCOL 16576",
            "    BEAT -1",
            "    AUTOMODE 0",
            "    PANLAWFLAGS 3",
            f"    VOLPAN {volume:.14g} {pan:.14g} -1 -1 1",
            "    MUTESOLO 0 0 0",
            "    IPHASE 0",
            "    PLAYOFFS 0 1",
            "    ISBUS 0 0",
            "    BUSCOMP 0 0 0 0 0",
            "    SHOWINMIX 1 0.6667 0.5 1 0.5 0 0 0",
            "    FIXEDLANES 9 0 0 0 0",
            "    SEL 0",
            "    REC 0 0 1 0 0 0 0 0",
            "    VU 2",
            "    TRACKHEIGHT 0 0 0 0 0 0 0",
            "    INQ 0 0 0 0.5 100 0 0 100",
            "    NCHAN 2",
            "    FX 1",
            f"    TRACKID {_guid()}",
            "    PERF 0",
            "    MIDIOUT -1",
            "    MAINSEND 1 0",
        ]
        file = f"{stem}.flac"
        if stem == "audio2":  # the snare arrives as two takes edited together
            half = 3 * 4 * BEAT_S
            lines += item_lines(file, 0.0, half, fade_out=0.05)
            lines += item_lines(file, half, LENGTH_S - half, offset=half, fade_in=0.02)
        else:
            lines += item_lines(file, 0.0, lengths[stem])
        lines.append("  >")
    lines.append(">")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples/untidy_session"))
    args = parser.parse_args()
    audio = args.out / "Audio"
    if args.out.exists():
        shutil.rmtree(args.out)
    audio.mkdir(parents=True)

    parts = drum_tracks()
    with tempfile.TemporaryDirectory() as tmp:
        for stem, (program, notes) in pitched_parts().items():
            midi = Path(tmp) / f"{stem}.mid"
            write_part(midi, program, notes)
            parts[stem] = render_part(midi, Path(tmp) / f"{stem}.wav")
    lengths = {}
    for stem, signal in parts.items():
        peak = np.max(np.abs(signal))
        signal = signal / peak * 10 ** (-3 / 20)  # every file peaks at -3 dBFS as recorded
        sf.write(audio / f"{stem}.flac", signal.astype(np.float32), RATE, subtype="PCM_16")
        lengths[stem] = len(signal) / RATE
    (args.out / "untidy_session.RPP").write_text(project_text(lengths))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
