"""Training and held-out material for the instrument labeller, built from Debian packages.

Every clip is made here, reproducibly (fixed seeds), from what these packages install:

- fluid-soundfont-gm (FluidR3_GM.sf2, TRAIN) and timgm6mb-soundfont (TimGM6mb.sf2, TEST):
  generated MIDI (bass lines, chords, melodies, drum patterns on channel 10) rendered with
  fluidsynth, one General MIDI program family per class;
- hydrogen-data drum kits: GMRockKit (TRAIN) and TR808EmulationKit (TEST), sequenced into
  patterns per drum class and full-kit grooves;
- sonic-pi-samples: electronic kicks/snares/loops/tabla/bass (TRAIN); the acoustic ``drum_*``
  kit, the guitar recordings and the choir/piano ambiences (TEST);
- pocketsphinx-testdata: the librivox reader (TRAIN); the other speakers (cards, goforward,
  numbers, something, tidigits) and alsa-utils' channel announcements (TEST);
- espeak-ng (TRAIN: one set of voices, TEST: other voices);
- our own formant synthesis of sung vocals and spoken syllables (TRAIN and TEST singers drawn
  from different seeds and parameter ranges).

The held-out split is by *source* (soundfont, kit, speaker, sample set, synth seed range),
never by file inside one source. Two more held-out splits are sealed: ``fresh`` (four
hydrogen-drumkits kits and half of freepats) and ``lmms`` (the lmms-common sample library,
:func:`lmms_clips`). Training clips also get sparse copies with rests (:func:`sparse`).
Out-of-vocabulary material (noise, hum, tones, sound effects) trains the model's internal
``_other`` class and is reported separately.

Run through ``tools/train_labeller.py``; this module only makes audio.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.audio import midi

RATE = 22050
"""Every clip is made or resampled to this rate (Hz)."""

SF2_TRAIN = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SF2_TRAIN_EXTRA = (
    Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),  # musescore-general-soundfont-small
    Path("/usr/share/sounds/sf2/sf_GMbank.sf2"),  # csound-soundfont
)
SF2_TEST = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
AVL_TRAIN = Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2")  # avldrums.lv2-soundfont
AVL_TEST = Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2")
HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")
SONIC_PI = Path("/usr/share/sonic-pi/samples")
SPHINX = Path("/usr/share/pocketsphinx/test/data")
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")

OTHER = "_other"
"""Internal class for material outside the vocabulary; reported to users as ``unknown``."""


@dataclass
class Clip:
    """One example: mono float32 samples at :data:`RATE`, its class, where it came from."""

    audio: np.ndarray
    label: str
    source: str
    """Source group, e.g. ``sf2:FluidR3/guitar`` or ``hydrogen:TR808``."""
    split: str
    """``train``, ``test`` (the first held-out set) or ``fresh`` (the sealed second one)."""
    augment: bool = True
    """Whether training may augment it (test clips are never augmented)."""


# ---------------------------------------------------------------------------------------------
# General MIDI: programs per class and drum notes per role
# ---------------------------------------------------------------------------------------------

GM_PROGRAMS: dict[str, list[int]] = {
    "keys": [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19],
    "guitar": [24, 25, 26, 27, 28, 29, 30, 31],
    "bass": [32, 33, 34, 35, 36, 37, 38, 39],
    "strings": [40, 41, 42, 43, 44, 45, 48, 49, 50, 51],
    "brass": [56, 57, 58, 59, 60, 61, 62, 63],
    "woodwind": [64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79],
    # 52 Choir Aahs, 53 Voice Oohs; 54 "Synth Voice" is a synth patch, not a singer
    "vocal": [52, 53],
    OTHER: [88, 89, 90, 91, 92, 93, 94, 95, 99, 100, 101, 102, 120, 121, 122, 123, 124, 125,
            126, 127],
}
"""General MIDI programs (0-based) rendered for each class."""

# pitch range (MIDI notes) and phrase style per class
_RANGES: dict[str, tuple[int, int]] = {
    "keys": (36, 88), "guitar": (40, 79), "bass": (28, 55), "strings": (40, 88),
    "brass": (45, 80), "woodwind": (55, 93), "vocal": (50, 77), OTHER: (40, 84),
}
_STYLES: dict[str, tuple[str, ...]] = {
    "keys": ("chords", "melody", "arpeggio", "twohands"),
    "guitar": ("strum", "melody", "arpeggio", "riff"),
    "bass": ("bassline",),
    "strings": ("pad", "melody", "chords"),
    "brass": ("melody", "stabs", "pad"),
    "woodwind": ("melody", "melody", "arpeggio"),
    "vocal": ("pad", "melody"),
    OTHER: ("pad", "melody"),
}

DRUM_NOTES: dict[str, list[int]] = {
    "kick": [35, 36],
    "snare": [38, 40, 38, 37],
    "hihat": [42, 42, 44, 46],
    "tom": [41, 43, 45, 47, 48, 50],
    "cymbal": [49, 57, 51, 59, 53, 55, 52],
    "percussion": [39, 54, 56, 58, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 73, 74, 75, 76,
                   77, 80, 81, 82],
}
DRUM_KITS_TRAIN = [0, 8, 16, 24, 25, 32, 40, 48]
DRUM_KITS_TEST = [0, 8, 16, 24, 25, 32, 40, 48]


# ---------------------------------------------------------------------------------------------
# MIDI writing and fluidsynth rendering
# ---------------------------------------------------------------------------------------------

_PPQ = 960


def write_midi(path: Path, events: list[tuple[float, bytes]]) -> None:
    """A format-0 standard MIDI file from ``(time_s, message_bytes)`` events (120 bpm)."""
    midi.write_midi(path, events, bpm=120.0, ppq=_PPQ)


def render_midi(sf2: Path, midi_path: Path, out_wav: Path) -> np.ndarray:
    """Render a MIDI file with fluidsynth (dry: no reverb/chorus), mono at :data:`RATE`."""
    audio = midi.render_fluidsynth(midi_path, sf2, out_wav, rate=RATE, dtype="float32")
    return audio.mean(axis=1)


@dataclass
class _Phrase:
    start_s: float
    end_s: float
    tag: str


class MidiBatch:
    """Many phrases in one MIDI file, separated by silence, rendered in a single run."""

    GAP_S = 2.0

    def __init__(self) -> None:
        self.events: list[tuple[float, bytes]] = []
        self.phrases: list[_Phrase] = []
        self.cursor = 0.5

    def add(self, notes: list[tuple[float, float, int, int]], channel: int, program: int | None,
            tag: str, bank: int | None = None) -> None:
        """``notes`` are ``(start_s, dur_s, note, velocity)`` relative to the phrase start."""
        t0 = self.cursor
        if bank is not None:
            self.events.append((t0 - 0.2, bytes([0xB0 | channel, 0, bank])))
        if program is not None:
            self.events.append((t0 - 0.1, bytes([0xC0 | channel, program])))
        end = t0
        for start, dur, note, vel in notes:
            a, b = t0 + start, t0 + start + dur
            self.events.append((a, bytes([0x90 | channel, note & 0x7F, max(1, min(127, vel))])))
            self.events.append((b, bytes([0x80 | channel, note & 0x7F, 0])))
            end = max(end, b)
        # all notes off, then silence so release tails end inside the phrase's slot
        self.events.append((end + 0.01, bytes([0xB0 | channel, 123, 0])))
        self.phrases.append(_Phrase(t0, end + 1.0, tag))
        self.cursor = end + self.GAP_S

    def render(self, sf2: Path) -> Iterator[tuple[str, np.ndarray]]:
        with tempfile.TemporaryDirectory(prefix="labeller-") as tmp:
            mid, wav = Path(tmp) / "batch.mid", Path(tmp) / "batch.wav"
            write_midi(mid, self.events)
            audio = render_midi(sf2, mid, wav)
        yield from self._cut(audio)

    def render_timidity(self, config: Path) -> Iterator[tuple[str, np.ndarray]]:
        """Render with timidity and a patch-set configuration (dry: reverb and chorus off)."""
        exe = shutil.which("timidity")
        if exe is None:
            raise RuntimeError("timidity is not installed (apt-get install timidity freepats)")
        with tempfile.TemporaryDirectory(prefix="labeller-") as tmp:
            mid, wav = Path(tmp) / "batch.mid", Path(tmp) / "batch.wav"
            write_midi(mid, self.events)
            cmd = [exe, "-c", str(config), "-Ow", "--output-mono", "-s", str(RATE),
                   "-EFreverb=0", "-EFchorus=0", "-o", str(wav), str(mid)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            audio = load(wav)
        yield from self._cut(audio)

    def _cut(self, audio: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
        for ph in self.phrases:
            seg = audio[int(ph.start_s * RATE):int(ph.end_s * RATE)]
            if seg.size and np.sqrt(np.mean(seg**2)) > 1e-4:
                yield ph.tag, seg.copy()


# ---------------------------------------------------------------------------------------------
# Phrase generators (notes as (start_s, dur_s, note, velocity))
# ---------------------------------------------------------------------------------------------

_MAJOR = [0, 2, 4, 5, 7, 9, 11]
_MINOR = [0, 2, 3, 5, 7, 8, 10]


def _scale_notes(rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    root = int(rng.integers(0, 12))
    steps = _MAJOR if rng.random() < 0.5 else _MINOR
    return np.array([n for n in range(lo, hi + 1) if (n - root) % 12 in steps])


def melodic_phrase(rng: np.random.Generator, cls: str, length_s: float
                   ) -> list[tuple[float, float, int, int]]:
    lo, hi = _RANGES[cls]
    style = str(rng.choice(_STYLES[cls]))
    scale = _scale_notes(rng, lo, hi)
    beat = 60.0 / rng.uniform(70, 150)
    notes: list[tuple[float, float, int, int]] = []
    t = 0.0
    vel0 = int(rng.integers(60, 120))

    def vel() -> int:
        return int(np.clip(vel0 + rng.normal(0, 10), 20, 127))

    idx = int(rng.integers(len(scale) // 4, max(len(scale) // 4 + 1, 3 * len(scale) // 4)))
    while t < length_s:
        if style in ("chords", "pad", "strum", "stabs", "twohands"):
            root = int(rng.integers(0, max(1, len(scale) - 5)))
            size = int(rng.integers(3, 5))
            chord = [int(scale[min(len(scale) - 1, root + 2 * k)]) for k in range(size)]
            dur = beat * float(rng.choice([1, 2, 4] if style != "stabs" else [0.5, 1]))
            spread = 0.02 if style == "strum" else 0.0
            hold = dur * (0.95 if style in ("pad", "chords") else rng.uniform(0.4, 0.9))
            for k, n in enumerate(chord):
                notes.append((t + k * spread, hold, n, vel()))
            if style == "twohands":
                notes.append((t, hold, max(lo, chord[0] - 12), vel()))
            t += dur
        elif style == "bassline":
            step = beat * float(rng.choice([0.5, 0.5, 1.0, 0.25]))
            for _ in range(int(rng.integers(4, 9))):
                idx = int(np.clip(idx + rng.integers(-3, 4), 0, len(scale) - 1))
                if rng.random() < 0.85:
                    notes.append((t, step * rng.uniform(0.5, 0.95), int(scale[idx]), vel()))
                t += step
        elif style in ("arpeggio", "riff"):
            step = beat * float(rng.choice([0.25, 0.5]))
            root = int(rng.integers(0, max(1, len(scale) - 7)))
            pattern = [root, root + 2, root + 4, root + 7, root + 4, root + 2]
            for k in range(int(rng.integers(4, 12))):
                n = int(scale[min(len(scale) - 1, pattern[k % len(pattern)])])
                notes.append((t, step * rng.uniform(0.6, 1.5), n, vel()))
                t += step
        else:  # melody
            step = beat * float(rng.choice([0.5, 1.0, 1.0, 2.0]))
            idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(scale) - 1))
            notes.append((t, step * rng.uniform(0.7, 1.0), int(scale[idx]), vel()))
            t += step
    return [n for n in notes if n[0] < length_s]


def drum_pattern(rng: np.random.Generator, roles: list[str], length_s: float
                 ) -> list[tuple[float, str, int]]:
    """``(time_s, role, velocity)`` hits: a groove over the given roles on a 16th grid."""
    bpm = rng.uniform(70, 170)
    step = 60.0 / bpm / 4
    swing = rng.uniform(0, 0.25) * step
    steps = int(length_s / step)
    hits: list[tuple[float, str, int]] = []
    busy = rng.uniform(0.3, 1.0)
    hat_div = int(rng.choice([1, 2, 2, 4]))
    for s in range(steps):
        t = s * step + (swing if s % 2 else 0.0)
        pos = s % 16
        for role in roles:
            v = int(np.clip(rng.normal(100, 15), 30, 127))
            if role == "kick":
                on = pos in (0, 8) or (rng.random() < 0.2 * busy and pos % 2 == 0)
            elif role == "snare":
                on = pos in (4, 12) or rng.random() < 0.08 * busy
                if on and pos not in (4, 12):
                    v = int(v * 0.5)
            elif role == "hihat":
                on = s % hat_div == 0 and rng.random() < 0.95
                if pos % 4 != 0:
                    v = int(v * rng.uniform(0.5, 0.9))
            elif role == "tom":
                on = rng.random() < 0.25 * busy or pos in (12, 14)
            elif role == "cymbal":
                on = (s % 32 == 0) or (rng.random() < 0.5 and s % 4 == 0 and busy > 0.6)
            else:  # percussion
                on = rng.random() < 0.45 * busy
            if on:
                hits.append((t + rng.normal(0, 0.004), role, max(1, v)))
    if not hits:
        hits.append((0.0, roles[0], 100))
    return [(max(0.0, t), r, v) for t, r, v in hits]


def _kit_roles(rng: np.random.Generator) -> list[str]:
    roles = ["kick", "snare", "hihat"]
    if rng.random() < 0.5:
        roles.append("tom")
    if rng.random() < 0.7:
        roles.append("cymbal")
    return roles


# ---------------------------------------------------------------------------------------------
# Soundfont material
# ---------------------------------------------------------------------------------------------

def soundfont_clips(sf2: Path, split: str, seed: int, per_class: int, *,
                    melodic: bool = True, drum_channel: int = 9,
                    kits: list[int] | None = None) -> Iterator[Clip]:
    """Melodic classes, drum classes, full-kit grooves and out-of-vocabulary programs.

    A drum-only soundfont (``melodic=False``, e.g. the AVL kits, whose kit sits at bank 0
    program 0) renders only the drum classes, on ``drum_channel``.
    """
    rng = np.random.default_rng(seed)
    tagname = sf2.stem
    for cls, programs in (GM_PROGRAMS.items() if melodic else ()):
        batch = MidiBatch()
        # melodic timbres vary more inside a class than drum hits do: twice the phrases
        n = 2 * per_class if cls != OTHER else per_class // 2
        for i in range(n):
            prog = programs[i % len(programs)]
            notes = melodic_phrase(rng, cls, rng.uniform(3.0, 8.0))
            batch.add(notes, channel=i % 9, program=prog, tag=cls)
        for tag, audio in batch.render(sf2):
            yield Clip(audio, tag, f"sf2:{tagname}/{tag}", split)
    if kits is None:
        kits = DRUM_KITS_TRAIN if split == "train" else DRUM_KITS_TEST
    batch = MidiBatch()
    for role, notes_for in DRUM_NOTES.items():
        if not melodic and role == "percussion":
            continue  # drum-kit soundfonts hold no hand percussion
        for i in range(per_class):
            kit = kits[i % len(kits)]
            hits = drum_pattern(rng, [role], rng.uniform(3.0, 8.0))
            choice = rng.choice(notes_for, size=2, replace=False) if len(notes_for) > 1 else [
                notes_for[0]] * 2
            notes = [(t, 0.2, int(choice[0] if rng.random() < 0.7 else choice[1]), v)
                     for t, _, v in hits]
            batch.add(notes, channel=drum_channel, program=kit, tag=role)
    for i in range(per_class):
        kit = kits[i % len(kits)]
        hits = drum_pattern(rng, _kit_roles(rng), rng.uniform(4.0, 8.0))
        picks = {r: int(rng.choice(DRUM_NOTES[r])) for r in DRUM_NOTES}
        notes = [(t, 0.2, picks[r], v) for t, r, v in hits]
        batch.add(notes, channel=drum_channel, program=kit, tag="drums")
    for tag, audio in batch.render(sf2):
        yield Clip(audio, tag, f"sf2:{tagname}/{tag}", split)


# ---------------------------------------------------------------------------------------------
# Sample sequencing (hydrogen kits, sonic-pi one-shots)
# ---------------------------------------------------------------------------------------------

def load(path: Path, rate: int = RATE) -> np.ndarray:
    """Any audio file (or raw 16 kHz 16-bit PCM, pocketsphinx's ``.raw``) as mono at ``rate``."""
    import librosa

    if path.suffix == ".raw":
        audio = np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
        src = 16000
    else:
        data, src = sf.read(path, dtype="float32", always_2d=True)
        audio = data.mean(axis=1)
    if src != rate:
        audio = librosa.resample(audio, orig_sr=src, target_sr=rate, res_type="soxr_mq")
    return audio.astype(np.float32)


def sequence(hits: list[tuple[float, np.ndarray, float]], length_s: float) -> np.ndarray:
    """Mix one-shots at ``(time_s, samples, gain)`` into a buffer of ``length_s`` + tails."""
    tail = max((len(s) for _, s, _ in hits), default=0)
    out = np.zeros(int(length_s * RATE) + tail, dtype=np.float32)
    for t, s, g in hits:
        i = int(t * RATE)
        out[i:i + len(s)] += g * s[: len(out) - i]
    return out


def _hydrogen_roles(kit: str) -> dict[str, list[Path]]:
    folder = HYDROGEN / kit
    files = sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".flac"))

    def pick(*keys: str, exclude: tuple[str, ...] = ()) -> list[Path]:
        return [p for p in files if any(k in p.stem.lower() for k in keys)
                and not any(x in p.stem.lower() for x in exclude)]

    return {
        "kick": pick("kick"),
        "snare": pick("snare", "sidestick"),
        "hihat": pick("hat"),
        "tom": pick("tom"),
        "cymbal": pick("ride", "crash", "splash", "cymbal", "bell", exclude=("cowbell",)),
        "percussion": pick("cowbell", "clap", "clave", "conga", "shaker"),
    }


def sample_pattern_clips(roles_files: dict[str, list[np.ndarray]], rng: np.random.Generator,
                         n_per_class: int, source: str, split: str) -> Iterator[Clip]:
    for role, samples in roles_files.items():
        if not samples:
            continue
        for i in range(n_per_class):
            if i < n_per_class // 6:
                # a bare one-shot: people label single samples too
                s = samples[int(rng.integers(len(samples)))]
                yield Clip(s.copy(), role, source, split)
                continue
            hits = drum_pattern(rng, [role], rng.uniform(3.0, 8.0))
            chosen = [samples[int(k)] for k in rng.integers(0, len(samples), size=2)]
            seq = [(t, chosen[0] if rng.random() < 0.7 else chosen[1], v / 127.0)
                   for t, _, v in hits]
            yield Clip(sequence(seq, hits[-1][0] + 0.1), role, source, split)
    kit_roles = [r for r in ("kick", "snare", "hihat", "tom", "cymbal") if roles_files.get(r)]
    if not kit_roles:
        return  # a hand-percussion set: no kit grooves to build
    for _ in range(n_per_class):
        roles = [r for r in _kit_roles(rng) if r in kit_roles] or kit_roles
        hits = drum_pattern(rng, roles, rng.uniform(4.0, 8.0))
        picks = {r: roles_files[r][int(rng.integers(len(roles_files[r])))] for r in roles}
        seq = [(t, picks[r], v / 127.0) for t, r, v in hits]
        yield Clip(sequence(seq, hits[-1][0] + 0.1), "drums", source, split)


def hydrogen_clips(kit: str, split: str, seed: int, n_per_class: int) -> Iterator[Clip]:
    rng = np.random.default_rng(seed)
    roles = {r: [load(p) for p in ps] for r, ps in _hydrogen_roles(kit).items()}
    yield from sample_pattern_clips(roles, rng, n_per_class, f"hydrogen:{kit}", split)


_SONIC_TRAIN_ROLES = {
    "kick": ["bd_*", "elec_hollow_kick", "elec_soft_kick"],
    "snare": ["sn_*", "elec_snare", "elec_hi_snare", "elec_lo_snare", "elec_mid_snare",
              "elec_filt_snare"],
    "percussion": ["tabla_*", "perc_snap*", "elec_wood", "elec_triangle", "perc_bell*",
                   "elec_fuzz_tom"],
    "cymbal": ["elec_cymbal"],
    "hihat": ["elec_tick"],
}
_SONIC_TEST_ROLES = {
    "kick": ["drum_heavy_kick", "drum_bass_hard", "drum_bass_soft"],
    "snare": ["drum_snare_hard", "drum_snare_soft"],
    "hihat": ["drum_cymbal_closed", "drum_cymbal_pedal"],
    "cymbal": ["drum_cymbal_hard", "drum_cymbal_soft", "drum_splash_hard", "drum_splash_soft",
               "drum_cymbal_open"],
    "tom": ["drum_tom_*"],
    "percussion": ["drum_cowbell"],
}
_SONIC_WHOLE = {
    # whole recordings used as they are: (glob, class, split)
    "loop_amen": ("drums", "train"), "loop_amen_full": ("drums", "train"),
    "loop_breakbeat": ("drums", "train"), "loop_tabla": ("percussion", "train"),
    "bass_*": ("bass", "train"), "guit_*": ("guitar", "test"), "ambi_choir": ("vocal", "test"),
    "ambi_piano": ("keys", "test"),
    "ambi_dark_woosh": (OTHER, "train"), "ambi_drone": (OTHER, "train"),
    "ambi_glass_*": (OTHER, "train"), "ambi_haunted_hum": (OTHER, "train"),
    "ambi_lunar_land": (OTHER, "train"), "ambi_sauna": (OTHER, "train"),
    "ambi_soft_buzz": (OTHER, "train"), "ambi_swoosh": (OTHER, "train"),
    "vinyl_*": (OTHER, "train"), "misc_*": (OTHER, "train"), "loop_3d_printer": (OTHER, "train"),
    "glitch_robot*": (OTHER, "train"), "mehackit_robot*": (OTHER, "train"),
    "elec_beep": (OTHER, "train"), "elec_blip*": (OTHER, "train"),
}


def _glob(patterns: list[str]) -> list[Path]:
    out: list[Path] = []
    for pat in patterns:
        out += sorted(SONIC_PI.glob(pat + ".flac"))
    return out


def sonic_pi_clips(seed: int, n_per_class: int) -> Iterator[Clip]:
    rng = np.random.default_rng(seed)
    for split, table in (("train", _SONIC_TRAIN_ROLES), ("test", _SONIC_TEST_ROLES)):
        roles = {r: [load(p) for p in _glob(pats)] for r, pats in table.items()}
        src = "sonic-pi:electronic" if split == "train" else "sonic-pi:acoustic-kit"
        for clip in sample_pattern_clips(roles, rng, n_per_class, src, split):
            if clip.label != "drums" or split == "test":
                yield clip
    for pat, (cls, split) in _SONIC_WHOLE.items():
        for p in _glob([pat]):
            audio = load(p)
            # long loops are cut into a few pieces so one file does not weigh like many
            piece = int(6 * RATE)
            for k in range(max(1, min(4, len(audio) // piece))):
                seg = audio[k * piece:(k + 1) * piece] if len(audio) > piece else audio
                yield Clip(seg, cls, f"sonic-pi:{p.stem}", split)


# ---------------------------------------------------------------------------------------------
# Speech: recordings and espeak-ng
# ---------------------------------------------------------------------------------------------

def _chop(audio: np.ndarray, rng: np.random.Generator, min_s: float = 2.5,
          max_s: float = 6.0) -> list[np.ndarray]:
    out, i = [], 0
    while i < len(audio) - int(min_s * RATE * 0.6):
        n = int(rng.uniform(min_s, max_s) * RATE)
        out.append(audio[i:i + n])
        i += n
    return out or [audio]


def speech_recording_clips(seed: int) -> Iterator[Clip]:
    rng = np.random.default_rng(seed)
    for p in sorted((SPHINX / "librivox").glob("*.wav")):
        for seg in _chop(load(p), rng):
            yield Clip(seg, "speech", "sphinx:librivox", "train")
    tests = sorted((SPHINX / "cards").glob("*.wav"))
    tests += [SPHINX / n for n in ("goforward.raw", "numbers.raw", "something.raw")]
    tests += [SPHINX / "tidigits" / "dhd.2934z.raw"]
    for p in tests:
        if p.exists():
            yield Clip(load(p), "speech", f"sphinx:{p.parent.name}/{p.stem}", "test", False)
    for p in sorted(ALSA_SOUNDS.glob("*.wav")):
        if p.stem != "Noise":
            yield Clip(load(p), "speech", "alsa-utils:announcer", "test", False)
        else:
            yield Clip(load(p), OTHER, "alsa-utils:noise", "test", False)


_SENTENCES = [
    "the session starts at nine and the band arrives an hour later",
    "please check the microphone levels before we record the next take",
    "we are going live in five minutes so everyone take your places",
    "this episode is brought to you by people who love good sound",
    "turn left at the second light and then keep going straight",
    "she said the recording sounded warmer on the old machine",
    "welcome back to the show today we talk about home studios",
    "the weather tomorrow will be cloudy with a chance of rain",
    "can you hear me clearly or should I move closer to the mic",
    "numbers one two three four five six seven eight nine ten",
    "our guest today has produced records for more than twenty years",
    "in the beginning there was only a drum machine and a dream",
    "the train to the city leaves from platform four at noon",
    "thank you for calling please hold while we connect you",
    "and that is why we always back up our projects twice",
]
ESPEAK_TRAIN_VOICES = ["en", "en-us", "en+m1", "en+m3", "en+m5", "en+f1", "en+f3", "en+f5",
                       "en-gb-scotland", "de", "fr", "es+m2", "it+f2", "en+croak", "en+klatt"]
ESPEAK_TEST_VOICES = ["en-us+m2", "en+f2", "en+m7", "en-029", "pt+f4", "nl", "en+f4",
                      "en-us+klatt2"]


def espeak_clips(split: str, seed: int, n: int) -> Iterator[Clip]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    rng = np.random.default_rng(seed)
    voices = ESPEAK_TRAIN_VOICES if split == "train" else ESPEAK_TEST_VOICES
    with tempfile.TemporaryDirectory(prefix="labeller-espeak-") as tmp:
        for i in range(n):
            voice = voices[i % len(voices)]
            words = " ".join(str(rng.choice(_SENTENCES)) for _ in range(2))
            out = Path(tmp) / f"{i}.wav"
            cmd = [exe, "-v", voice, "-p", str(int(rng.integers(25, 75))),
                   "-s", str(int(rng.integers(130, 200))), "-w", str(out), words]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            audio = load(out)
            yield Clip(audio[: int(rng.uniform(3, 7) * RATE)], "speech", f"espeak:{voice}", split)


# ---------------------------------------------------------------------------------------------
# Formant synthesis: sung vocals and spoken syllables
# ---------------------------------------------------------------------------------------------

_VOWELS = {  # F1, F2, F3 (Hz) for an adult male voice
    "a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010),
    "o": (570, 840, 2410), "u": (300, 870, 2240), "ae": (660, 1720, 2410),
    "er": (490, 1350, 1690), "uh": (520, 1190, 2390),
}


def _resonance(f: np.ndarray, fc: float, bw: float) -> np.ndarray:
    r = f / fc
    return 1.0 / np.sqrt((1 - r**2) ** 2 + (f * bw / fc**2) ** 2)


def _bandnoise(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n)
    return (x / (np.abs(x).max() + 1e-9)).astype(np.float32)


def formant_voice(rng: np.random.Generator, length_s: float, *, sung: bool,
                  female: bool | None = None) -> np.ndarray:
    """A voice from additive harmonics shaped by moving vowel formants.

    ``sung``: notes on a scale held 0.25-1.4 s with vibrato and legato; otherwise speech-like
    syllables of 0.08-0.3 s on a gliding, falling pitch contour with many consonants.
    """
    if female is None:
        female = bool(rng.random() < 0.5)
    base = rng.uniform(180, 330) if female else rng.uniform(90, 170)
    fscale = rng.uniform(1.1, 1.25) if female else rng.uniform(0.92, 1.05)
    n = int(length_s * RATE)
    f0 = np.zeros(n)
    amp = np.zeros(n)
    vowel_track = np.zeros((n, 3))
    consonants: list[tuple[int, int, str]] = []
    t = 0
    names = list(_VOWELS)
    scale = [0, 2, 4, 5, 7, 9, 11, 12] if rng.random() < 0.5 else [0, 2, 3, 5, 7, 8, 10, 12]
    degree = int(rng.integers(0, 5))
    while t < n:
        if sung:
            dur = int(rng.uniform(0.25, 1.4) * RATE)
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(scale) - 1))
            pitch = base * 2 ** (scale[degree] / 12)
            contour = np.full(dur, pitch)
            glide = int(min(dur // 3, rng.uniform(0.02, 0.08) * RATE))
            if t > 0 and glide > 0 and f0[t - 1] > 0:
                contour[:glide] = np.linspace(f0[t - 1], pitch, glide)
            tt = np.arange(dur) / RATE
            vib_rate, vib_depth = rng.uniform(4.5, 6.8), rng.uniform(15, 70)
            ramp = np.clip(tt / rng.uniform(0.1, 0.4), 0, 1)
            contour *= 2 ** (ramp * vib_depth / 1200 * np.sin(2 * np.pi * vib_rate * tt))
            gap = int(rng.uniform(0.0, 0.25) * RATE) if rng.random() < 0.35 else 0
        else:
            dur = int(rng.uniform(0.08, 0.3) * RATE)
            start = base * 2 ** (rng.normal(0, 3) / 12) * (1 - 0.25 * t / n)
            end = start * 2 ** (rng.normal(-1, 2.5) / 12)
            contour = np.geomspace(start, end, dur)
            gap = int(rng.uniform(0.02, 0.1) * RATE) if rng.random() < 0.6 else 0
            if rng.random() < 0.12:
                gap += int(rng.uniform(0.2, 0.5) * RATE)
        dur = min(dur, n - t)
        if dur <= 0:
            break
        f0[t:t + dur] = contour[:dur]
        env = np.ones(dur)
        a = max(1, min(dur // 3, int(0.03 * RATE)))
        env[:a] = np.linspace(0, 1, a)
        env[-a:] *= np.linspace(1, 0.3 if sung else 0.1, a)
        amp[t:t + dur] = env * rng.uniform(0.6, 1.0)
        v1, v2 = _VOWELS[str(rng.choice(names))], _VOWELS[str(rng.choice(names))]
        mix = np.linspace(0, 1, dur)[:, None] if rng.random() < 0.4 else np.zeros((dur, 1))
        vowel_track[t:t + dur] = (np.array(v1) * (1 - mix) + np.array(v2) * mix) * fscale
        if rng.random() < (0.35 if sung else 0.7):
            kind = str(rng.choice(["s", "sh", "t", "k", "f", "h"]))
            consonants.append((t, int(rng.uniform(0.03, 0.12) * RATE), kind))
        t += dur + gap
    f0 = np.where(f0 > 0, f0 * (1 + rng.normal(0, 0.003, n)), 0)  # jitter
    voiced = f0 > 0
    phase = np.cumsum(np.where(voiced, f0, 0) / RATE) * 2 * np.pi
    out = np.zeros(n)
    hop = 256
    max_h = int(min(9000, RATE / 2 - 200) / max(base, 80)) + 2
    tilt = rng.uniform(10, 15)  # glottal roll-off, dB per octave
    for k in range(1, max_h + 1):
        fk = f0 * k
        ctrl = slice(None, None, hop)
        fkc = fk[ctrl]
        vt = vowel_track[ctrl]
        gain = np.ones_like(fkc)
        for j, bw in enumerate((80, 100, 140)):
            gain *= _resonance(fkc, np.maximum(vt[:, j], 100), bw)
        gain *= 10 ** (-tilt * np.log2(k) / 20)
        gain *= (fkc < RATE / 2 - 200) & (fkc > 0)
        g = np.interp(np.arange(n), np.arange(n)[ctrl], gain)
        out += g * np.sin(k * phase)
    out *= amp * voiced
    out += 0.02 * out.std() * rng.standard_normal(n) * amp  # breath
    for start, length, kind in consonants:
        lo, hi = {"s": (4500, 9000), "sh": (2000, 6000), "t": (2500, 8000), "k": (1200, 4000),
                  "f": (1500, 8000), "h": (400, 3000)}[kind]
        length = min(length, n - start)
        if length <= 8:
            continue
        burst = _bandnoise(rng, length, lo, hi) * np.hanning(length)
        out[start:start + length] += burst * out.std() * rng.uniform(0.5, 1.5)
    out /= np.abs(out).max() + 1e-9
    return out.astype(np.float32)


def synth_voice_clips(split: str, seed: int, n: int) -> Iterator[Clip]:
    rng = np.random.default_rng(seed)
    for i in range(n):
        yield Clip(formant_voice(rng, rng.uniform(3, 7), sung=True), "vocal",
                   "synth:sung", split)
        if i % 2 == 0:
            yield Clip(formant_voice(rng, rng.uniform(3, 6), sung=False), "speech",
                       "synth:spoken", split)


# ---------------------------------------------------------------------------------------------
# Out-of-vocabulary synthesis
# ---------------------------------------------------------------------------------------------

def other_synth_clips(split: str, seed: int, n: int) -> Iterator[Clip]:
    """Noise colours, mains hum, test tones and sweeps: none of them is an instrument."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        length = int(rng.uniform(2, 6) * RATE)
        kind = ("white", "pink", "brown", "hum", "tone", "sweep", "click")[i % 7]
        t = np.arange(length) / RATE
        if kind in ("white", "pink", "brown"):
            spec = np.fft.rfft(rng.standard_normal(length))
            f = np.fft.rfftfreq(length, 1 / RATE)
            power = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
            spec /= np.maximum(f, 20) ** (power / 2)
            x = np.fft.irfft(spec, length)
        elif kind == "hum":
            f0 = 50.0 if rng.random() < 0.5 else 60.0
            x = sum(rng.uniform(0.1, 1) / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 8))
        elif kind == "tone":
            x = np.sin(2 * np.pi * rng.uniform(100, 8000) * t)
        elif kind == "sweep":
            f1, f2 = rng.uniform(20, 200), rng.uniform(5000, 10000)
            x = np.sin(2 * np.pi * f1 * length / RATE / np.log(f2 / f1) *
                       (np.exp(t / t[-1] * np.log(f2 / f1)) - 1))
        else:
            x = np.zeros(length)
            x[:: int(RATE * 60 / rng.uniform(60, 180))] = 1.0
        x = np.asarray(x, dtype=np.float64)
        x /= np.abs(x).max() + 1e-9
        yield Clip(x.astype(np.float32), OTHER, f"synth:{kind}", split)


# ---------------------------------------------------------------------------------------------
# Augmentation
# ---------------------------------------------------------------------------------------------

def augment(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gain, EQ tilt, room reverb, noise floor and small pitch changes (training only)."""
    import librosa
    from scipy.signal import fftconvolve, lfilter

    x = audio.astype(np.float64)
    if rng.random() < 0.4:
        semis = rng.uniform(-2, 2)
        x = librosa.resample(x, orig_sr=RATE, target_sr=int(RATE * 2 ** (-semis / 12)),
                             res_type="soxr_mq")
    if rng.random() < 0.7:
        # first-order tilt: mix of a low-passed and the dry signal
        a = np.exp(-2 * np.pi * rng.uniform(300, 3000) / RATE)
        low = lfilter([1 - a], [1, -a], x)
        tilt = rng.uniform(-0.6, 0.6)
        x = x + tilt * (low if tilt > 0 else x - low)
    if rng.random() < 0.5:
        rt60 = rng.uniform(0.2, 1.5)
        n = int(rt60 * RATE)
        ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
        ir[0] = 1.0 / rng.uniform(0.1, 0.6)
        wet = fftconvolve(x, ir)[: len(x) + n // 2]
        x = np.pad(x, (0, len(wet) - len(x)))
        x = x + rng.uniform(0.05, 0.5) * wet / (np.abs(wet).max() + 1e-9) * np.abs(x).max()
    if rng.random() < 0.5:
        snr = rng.uniform(25, 60)
        rms = np.sqrt(np.mean(x**2)) + 1e-12
        x = x + rng.standard_normal(len(x)) * rms * 10 ** (-snr / 20)
    x *= 10 ** (rng.uniform(-30, 0) / 20) / (np.abs(x).max() + 1e-9)
    return x.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# More sources: the hydrogen-drumkits kits and the freepats patch set (rendered by timidity)
# ---------------------------------------------------------------------------------------------

FRESH = "fresh"
"""A second held-out split, sealed: never trained on, never used to choose anything, scored
once on the final model (``tools/train_labeller.py --fresh``)."""

HYDROGEN_TRAIN_KITS = ("Audiophob", "BJA_Pacific", "ElectricEmpireKit", "ForzeeStereo",
                       "Gimme A Hand 1.0", "Millo-Drums_v.1", "Millo_MultiLayered2",
                       "Millo_MultiLayered3", "The Black Pearl 1.0", "rumpf_kit_z01_h2")
"""hydrogen-drumkits kits used for training (acoustic, electronic, hand percussion)."""
HYDROGEN_FRESH_KITS = ("ColomboAcousticDrumkit", "HardElectro1", "VariBreaks", "circAfrique v4")
"""hydrogen-drumkits kits sealed for the fresh held-out set: an acoustic kit, an electronic
kit, a breaks kit and an African percussion set."""
FREEPATS_CFG = Path("/etc/timidity/freepats.cfg")
LMMS_SAMPLES = Path("/usr/share/lmms/samples")

# instrument names in drumkit.xml -> role; the first matching rule wins (a "Cowbell" is
# percussion before "bell" can make it a cymbal, a "Dununba Bell" is a hand drum's bell)
_ROLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("percussion", ("cowbell", "clap", "clave", "conga", "shaker", "bongo", "cajon", "maraca",
                    "tambourine", "woodblock", "wood block", "snap", "djembe", "dununba",
                    "sangban", "kenkeni", "waterglass", "agogo", "triangle", "guiro", "cabasa",
                    "timbale")),
    ("kick", ("kick", "bass drum", "bassdrum")),
    ("tom", ("tom",)),
    ("hihat", ("hh", "hat", "hi-hat")),
    ("cymbal", ("crash", "ride", "splash", "china", "cymbal", "bell", "cup")),
    ("snare", ("snare", "stick", "rim")),
)


def _role_of(name: str) -> str | None:
    import re

    low = name.lower()
    for role, words in _ROLE_WORDS:
        # at the start of a word: "Tom Low" is a tom, "Ride (Custom, ...)" is not
        if any(re.search(r"(?<![a-z])" + re.escape(w), low) for w in words):
            return role
    return None


def hydrogen_kit_roles(kit: str) -> dict[str, list[Path]]:
    """Sample files per drum role, read from the kit's ``drumkit.xml`` instrument names.
    Instruments the names do not place (effects, zaps, clicks, whistles, loops) are left out."""
    import xml.etree.ElementTree as ET

    folder = HYDROGEN / kit
    root = ET.parse(folder / "drumkit.xml").getroot()
    ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
    roles: dict[str, list[Path]] = {}
    for inst in root.iter(ns + "instrument"):
        role = _role_of(inst.findtext(ns + "name") or "")
        if role is None:
            continue
        for f in inst.iter(ns + "filename"):
            p = folder / (f.text or "")
            if f.text and p.is_file() and p not in roles.get(role, []):
                roles.setdefault(role, []).append(p)
    return roles


def hydrogen_kit_clips(kit: str, split: str, seed: int, n_per_class: int) -> Iterator[Clip]:
    rng = np.random.default_rng(seed)
    roles = {r: [s for s in (load(p) for p in ps) if s.size > 64 and np.abs(s).max() > 1e-4]
             for r, ps in sorted(hydrogen_kit_roles(kit).items())}
    yield from sample_pattern_clips({r: s for r, s in roles.items() if s}, rng, n_per_class,
                                    f"hydrogen:{kit}", split)


def freepats_programs() -> tuple[set[int], set[int]]:
    """Melodic programs and drum-set notes that freepats.cfg defines (bank 0, drumset 0)."""
    progs: set[int] = set()
    drums: set[int] = set()
    target = None
    for line in FREEPATS_CFG.read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "bank":
            target = progs
        elif words[0] == "drumset":
            target = drums
        elif words[0].isdigit() and target is not None and len(words) > 1:
            target.add(int(words[0]))
    return progs, drums


def freepats_split(cls: str) -> dict[str, list[int]]:
    """The freepats programs of a class, split between training and the fresh held-out set:
    in program order, every second one is sealed; a class with one program goes to fresh."""
    progs, _ = freepats_programs()
    have = [p for p in GM_PROGRAMS[cls] if p in progs]
    if len(have) == 1:
        return {"train": [], FRESH: have}
    return {"train": have[0::2], FRESH: have[1::2]}


def freepats_clips(split: str, seed: int, per_class: int) -> Iterator[Clip]:
    """GM phrases rendered through timidity with the freepats patches. The drum set exists
    once, so its roles and grooves are all in the fresh held-out set."""
    rng = np.random.default_rng(seed)
    for cls in GM_PROGRAMS:
        programs = freepats_split(cls)[split]
        if not programs:
            continue
        batch = MidiBatch()
        n = 2 * per_class if cls != OTHER else per_class // 2
        for i in range(n):
            notes = melodic_phrase(rng, cls, rng.uniform(3.0, 8.0))
            batch.add(notes, channel=i % 9, program=programs[i % len(programs)], tag=cls)
        for tag, audio in batch.render_timidity(FREEPATS_CFG):
            yield Clip(audio, tag, f"freepats/{tag}", split)
    if split != FRESH:
        return
    _, notes_have = freepats_programs()
    batch = MidiBatch()
    for role, notes_for in DRUM_NOTES.items():
        have = [n for n in notes_for if n in notes_have]
        for _ in range(per_class):
            hits = drum_pattern(rng, [role], rng.uniform(3.0, 8.0))
            choice = rng.choice(have, size=2, replace=len(have) < 2)
            notes = [(t, 0.2, int(choice[0] if rng.random() < 0.7 else choice[1]), v)
                     for t, _, v in hits]
            batch.add(notes, channel=9, program=None, tag=role)
    for _ in range(per_class):
        hits = drum_pattern(rng, _kit_roles(rng), rng.uniform(4.0, 8.0))
        picks = {r: int(rng.choice([n for n in DRUM_NOTES[r] if n in notes_have]))
                 for r in DRUM_NOTES}
        batch.add([(t, 0.2, picks[r], v) for t, r, v in hits], channel=9, program=None,
                  tag="drums")
    for tag, audio in batch.render_timidity(FREEPATS_CFG):
        yield Clip(audio, tag, f"freepats/{tag}", split)


# What each material needs: (Debian package, path or program that shows it is installed)
REQUIREMENTS: tuple[tuple[str, str], ...] = (
    ("fluidsynth", "fluidsynth"),
    ("fluid-soundfont-gm", str(SF2_TRAIN)),
    ("timgm6mb-soundfont", str(SF2_TEST)),
    ("musescore-general-soundfont-small", str(SF2_TRAIN_EXTRA[0])),
    ("csound-soundfont", str(SF2_TRAIN_EXTRA[1])),
    ("avldrums.lv2-soundfont", str(AVL_TRAIN)),
    ("hydrogen-data", str(HYDROGEN / "GMRockKit")),
    ("hydrogen-drumkits", str(HYDROGEN / "ForzeeStereo")),
    ("sonic-pi-samples", str(SONIC_PI)),
    ("pocketsphinx-testdata", str(SPHINX)),
    ("alsa-utils", str(ALSA_SOUNDS)),
    ("espeak-ng", "espeak-ng"),
    ("timidity", "timidity"),
    ("freepats", str(FREEPATS_CFG)),
    ("lmms-common", str(LMMS_SAMPLES)),
)


def missing_packages() -> list[str]:
    """Debian packages the training material needs that are not installed here."""
    out = []
    for package, probe in REQUIREMENTS:
        found = Path(probe).exists() if probe.startswith("/") else shutil.which(probe)
        if not found:
            out.append(package)
    return out


def all_clips(seed: int = 1234, scale: float = 1.0) -> Iterator[Clip]:
    """Every base clip, train and test. ``scale`` shrinks the counts for quick runs."""
    def k(n: int) -> int:
        return max(2, int(round(n * scale)))

    yield from soundfont_clips(SF2_TRAIN, "train", seed + 1, k(24))
    for i, sf2 in enumerate(SF2_TRAIN_EXTRA):
        if sf2.exists():
            yield from soundfont_clips(sf2, "train", seed + 100 + i, k(24))
    yield from soundfont_clips(AVL_TRAIN, "train", seed + 110, k(20), melodic=False,
                               drum_channel=0, kits=[0])
    yield from soundfont_clips(SF2_TEST, "test", seed + 2, k(24))
    yield from soundfont_clips(AVL_TEST, "test", seed + 120, k(10), melodic=False,
                               drum_channel=0, kits=[0])
    yield from hydrogen_clips("GMRockKit", "train", seed + 3, k(30))
    yield from hydrogen_clips("TR808EmulationKit", "test", seed + 4, k(12))
    yield from sonic_pi_clips(seed + 5, k(14))
    yield from speech_recording_clips(seed + 6)
    yield from espeak_clips("train", seed + 7, k(60))
    yield from espeak_clips("test", seed + 8, k(24))
    yield from synth_voice_clips("train", seed + 9, k(60))
    yield from synth_voice_clips("test", seed + 10_000, k(24))
    yield from other_synth_clips("train", seed + 11, k(90))
    yield from other_synth_clips("test", seed + 20_000, k(14))
    # added later: appended so every clip above keeps its seed and its cached feature row
    for i, kit in enumerate(HYDROGEN_TRAIN_KITS):
        yield from hydrogen_kit_clips(kit, "train", seed + 30 + i, k(10))
    yield from freepats_clips("train", seed + 50, k(24))
    # the sealed fresh held-out set
    for i, kit in enumerate(HYDROGEN_FRESH_KITS):
        yield from hydrogen_kit_clips(kit, FRESH, seed + 60 + i, k(10))
    yield from freepats_clips(FRESH, seed + 70, k(12))
    # the sealed lmms held-out set (defined after the fresh one)
    if LMMS_SAMPLES.is_dir():
        yield from lmms_clips(seed + 80, k(10))


def cpu_count() -> int:
    return max(1, min(2, os.cpu_count() or 1))


# ---------------------------------------------------------------------------------------------
# The third held-out set: the LMMS sample library (lmms-common), sealed like the fresh set
# ---------------------------------------------------------------------------------------------

LMMS = "lmms"
"""A third held-out split, sealed: the LMMS sample library. Never trained on, never used to
choose anything; scored on the model shipped when it was defined (the "before" figure) and
once more on the final model (``tools/train_labeller.py --lmms``)."""

# file-name words -> drum role for lmms' drums/ one-shots (first matching rule wins)
_LMMS_DRUM_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("percussion", ("clap", "shaker", "wood", "clav", "cowbell", "conga", "bongo")),
    ("kick", ("kick", "bassdrum")),
    ("tom", ("tom",)),
    ("hihat", ("hihat", "hat")),
    ("cymbal", ("crash", "ride", "splash", "cymbal")),
    ("snare", ("snare", "sidestick", "rim")),
    (OTHER, ("zap",)),
)
# whole recordings per folder: file-name words -> class (first match; no match -> left out)
_LMMS_FOLDER_WORDS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "instruments": (("keys", ("piano", "organ", "harpsichord")), ("guitar", ("guitar",)),
                    ("bass", ("bass",)), ("strings", ("cello", "violin", "viola")),
                    ("brass", ("trumpet", "trombone", "horn")),
                    ("woodwind", ("flute", "clarinet", "oboe", "sax"))),
    "beats": (("hihat", ("hihat",)), ("kick", ("kick",)), ("snare", ("snare",)),
              ("drums", ("",))),
    "bassloops": (("bass", ("",)),),
    "basses": (("bass", ("",)),),
    "latin": (("guitar", ("guitar",)), ("brass", ("brass",))),
    # synth pads and bell choirs are no vocabulary instrument; "chorus" files are sung
    "stringsnpads": ((OTHER, ("pad", "ambient", "drone", "bell")), ("strings", ("string",)),
                     ("vocal", ("choir", "chorus"))),
    "effects": ((OTHER, ("",)),),
    "misc": ((OTHER, ("",)),),
    "shapes": ((OTHER, ("",)),),
}


def lmms_role(folder: str, stem: str) -> str | None:
    """The class of an lmms-common sample from its folder and file name, or None (left out).

    ``drums/`` one-shots by file-name word (``kick_hard01`` kick, ``sidestick01`` snare,
    ``clav01`` claves: percussion, ``zap01`` out of vocabulary); the other folders by the
    table above (``instruments/cello01`` strings, ``stringsnpads/juno_pad01`` out of
    vocabulary). ``waveforms/`` (single cycles) and ``drumsynth/`` (presets, not audio) are
    not used.
    """
    low = stem.lower()
    if folder == "drums":
        for role, words in _LMMS_DRUM_WORDS:
            if any(w in low for w in words):
                return role
        return None
    for role, words in _LMMS_FOLDER_WORDS.get(folder, ()):
        if any(w in low for w in words):
            return role
    return None


def _load_any(path: Path) -> np.ndarray | None:
    """Like :func:`load`, or None for the few lmms files nothing here decodes (five are
    Vorbis inside a WAV header, format tag 0x674F, which neither libsndfile nor ffmpeg
    reads: drums/kick04, effects/scratch01 and wind_chimes01, instruments/harpsichord01,
    misc/hit01)."""
    try:
        return load(path)
    except sf.LibsndfileError:
        return None


def _pitched(sample: np.ndarray, semitones: float) -> np.ndarray:
    """A sampler's pitch change: the sample played faster or slower."""
    import librosa

    if abs(semitones) < 1e-3:
        return sample
    return librosa.resample(sample.astype(np.float64), orig_sr=RATE,
                            target_sr=int(RATE * 2 ** (-semitones / 12)),
                            res_type="soxr_mq").astype(np.float32)


def sampler_phrase(sample: np.ndarray, rng: np.random.Generator, bass: bool) -> np.ndarray:
    """One sample played as a sampler plays it: a riff (bass) or melody on a scale, each note
    the sample pitched, cut at the next note with a short fade."""
    bpm = rng.uniform(85, 140)
    step = 60.0 / bpm / (2 if bass else 1)
    scale = np.array([0, 2, 3, 5, 7, 8, 10, 12, -2, -5])
    length = rng.uniform(4.0, 7.0)
    hits: list[tuple[float, np.ndarray, float]] = []
    t, cache = 0.0, {}
    fade = int(0.01 * RATE)
    while t < length:
        if rng.random() < 0.85:
            semis = int(rng.choice(scale[:8] if bass else scale))
            if semis not in cache:
                cache[semis] = _pitched(sample, semis)
            n_steps = int(rng.choice([1, 1, 2])) if bass else int(rng.choice([1, 2, 2, 4]))
            note = cache[semis][: int(n_steps * step * RATE)].copy()
            if len(note) > fade:
                note[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
            hits.append((t, note, float(rng.uniform(0.6, 1.0))))
            t += n_steps * step
        else:
            t += step
    if not hits:
        hits.append((0.0, sample, 1.0))
    return sequence(hits, length)


def lmms_clips(seed: int, n_per_class: int) -> Iterator[Clip]:
    """The sealed lmms-common set (:data:`LMMS` split). The ``drums/`` one-shots are sequenced
    into role patterns, kit grooves and bare one-shots exactly as a Hydrogen kit is; loops and
    instrument recordings are clips as they are (long ones cut into at most two 6 s pieces);
    the short single-note ``instruments/`` and ``basses/`` samples are also played as a
    sampler plays them (:func:`sampler_phrase`); ``effects/``, ``misc/``, the synth pads and
    the ``shapes/`` single cycles (bare, and every second one looped into a 2 s tone) are out
    of the vocabulary."""
    rng = np.random.default_rng(seed)
    roles: dict[str, list[np.ndarray]] = {}
    other: list[tuple[str, np.ndarray]] = []
    for p in sorted((LMMS_SAMPLES / "drums").glob("*.ogg")):
        role = lmms_role("drums", p.stem)
        audio = _load_any(p) if role is not None else None
        if audio is None:
            continue
        if role == OTHER:
            other.append(("lmms:drums-fx", audio))
        else:
            roles.setdefault(role, []).append(audio)
    yield from sample_pattern_clips(dict(sorted(roles.items())), rng, n_per_class,
                                    "lmms:drums", LMMS)
    for src, audio in other:
        yield Clip(audio, OTHER, src, LMMS, augment=False)
    for folder in ("instruments", "basses", "bassloops", "beats", "latin", "stringsnpads",
                   "effects", "misc", "shapes"):
        for i, p in enumerate(sorted((LMMS_SAMPLES / folder).iterdir())):
            role = lmms_role(folder, p.stem)
            if role is None:
                continue
            audio = _load_any(p)
            if audio is None or not audio.size or np.abs(audio).max() < 1e-4:
                continue
            src = f"lmms:{folder}"
            if folder == "shapes":
                if i % 2:
                    reps = int(2.0 * RATE / max(1, len(audio))) + 1
                    yield Clip(np.tile(audio, reps), OTHER, "lmms:shapes-looped", LMMS)
                else:
                    yield Clip(audio, OTHER, src, LMMS)
                continue
            if folder == "basses" or (folder == "instruments" and len(audio) < 2.5 * RATE):
                yield Clip(sampler_phrase(audio, rng, bass=role == "bass"), role,
                           f"{src}-played", LMMS)
            if folder == "basses":
                continue  # 0.2-2 s synth-bass one-shots: only played, as above
            piece = int(6 * RATE)
            for k in range(max(1, min(2, len(audio) // piece))):
                seg = audio[k * piece:(k + 1) * piece] if len(audio) > piece else audio
                yield Clip(seg, role, src, LMMS)


# ---------------------------------------------------------------------------------------------
# Sparse phrasing: parts that rest (a bass line with bars of silence, a tom fill every four
# bars, a singer between lines)
# ---------------------------------------------------------------------------------------------

def _onsets(audio: np.ndarray) -> np.ndarray:
    """Sample positions where the 10 ms envelope rises sharply (note or hit starts)."""
    hop = int(0.01 * RATE)
    n = len(audio) // hop
    if n < 3:
        return np.array([0])
    env = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(env + 1e-9)
    rise = np.diff(db, prepend=db[0])
    on = np.flatnonzero((rise > 6) & (db > db.max() - 40))
    keep = [int(o) for k, o in enumerate(on) if k == 0 or o - on[k - 1] > 5]
    return np.array([0] + [o * hop for o in keep if o > 0])


def sparse(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The clip played sparsely: runs of it (cut at note starts, 0.3-2 s long) separated by
    0.3-3 s of silence or room tail, so training sees parts with rests.

    Each run ends with a short release (20-300 ms fade); a rest is silent or, one time in
    three, a decaying room tail of the run before it.
    """
    from scipy.signal import fftconvolve

    starts = _onsets(audio)
    bounds = np.append(starts, len(audio))
    out: list[np.ndarray] = []
    i = 0
    while i < len(starts):
        run_s = rng.uniform(0.3, 2.0)
        j = i + 1
        while j < len(starts) and (bounds[j] - bounds[i]) / RATE < run_s:
            j += 1
        seg = audio[bounds[i]:bounds[j]].astype(np.float32).copy()
        fade = min(len(seg), int(rng.uniform(0.02, 0.3) * RATE))
        if fade > 1:
            seg[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32) ** 2
        rest = np.zeros(int(rng.uniform(0.3, 3.0) * RATE), np.float32)
        if rng.random() < 1 / 3 and len(seg):
            n = int(rng.uniform(0.2, 1.0) * RATE)
            ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
            end = seg[-min(len(seg), RATE // 2):]
            tail = fftconvolve(end, ir)[len(end):len(end) + len(rest)]
            # the tail starts 10-30 dB under the run's peak
            tail *= 10 ** (-rng.uniform(10, 30) / 20) * np.abs(seg).max() / (
                np.abs(tail).max() + 1e-12)
            rest[: len(tail)] += tail.astype(np.float32)
        out += [seg, rest]
        # sometimes a phrase is skipped altogether (a fill every few bars)
        i = j + (int(rng.integers(1, 4)) if rng.random() < 0.3 else 0)
    return np.concatenate(out[:-1]) if len(out) > 1 else audio
