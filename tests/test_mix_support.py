"""Shared material for the mix / EQ / match tests: real recordings from Debian packages arranged
into a small band session, and an independent short-term loudness meter built on pyloudnorm's
K-weighting filters (used when the project's own meter is not installed).

No tests live here; the other test_mix_*/test_eq_*/test_match_* modules import it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from _support import require_path

from bridge.session.model import Item, Session, Source, Track

RATE = 44100
SONIC_PI = Path("/usr/share/sonic-pi/samples")
HYDROGEN = Path("/usr/share/hydrogen/data/drumkits/GMRockKit")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def load(path: Path, rate: int = RATE) -> np.ndarray:
    """A recording as float64 (frames, channels) at ``rate`` (skip/fail when it is missing)."""
    require_path(path)
    data, file_rate = sf.read(str(path), dtype="float64", always_2d=True)
    if file_rate != rate:
        import librosa

        data = librosa.resample(data.T, orig_sr=file_rate, target_sr=rate).T
    return np.ascontiguousarray(data)


def reference_short_term(samples: np.ndarray, rate: int) -> np.ndarray:
    """EBU R128 short-term loudness (3 s window, 100 ms hop) using pyloudnorm's K-weighting."""
    import pyloudnorm
    from scipy.signal import lfilter

    data = np.asarray(samples, dtype=np.float64)
    data = data.reshape(data.shape[0], -1)
    meter = pyloudnorm.Meter(rate)
    weighted = data.copy()
    for stage in meter._filters.values():
        weighted = stage.passband_gain * lfilter(stage.b, stage.a, weighted, axis=0)
    power = np.sum(weighted**2, axis=1)
    window, hop = 3 * rate, rate // 10
    padded = np.concatenate([power, np.zeros(window)])
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])
    starts = np.arange(0, max(1, power.size - window // 3), hop)
    mean_square = (cumulative[starts + window] - cumulative[starts]) / window
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_square)


def short_term_meter():
    """The project's short-term meter when present, else :func:`reference_short_term`."""
    try:
        from bridge.analysis.loudness import short_term_lufs
    except ImportError:
        return reference_short_term
    return short_term_lufs


def pattern(hit: np.ndarray, times_s: list[float], length_s: float, rate: int = RATE
            ) -> np.ndarray:
    out = np.zeros((int(length_s * rate), hit.shape[1]))
    for t in times_s:
        start = int(t * rate)
        n = min(hit.shape[0], out.shape[0] - start)
        if n > 0:
            out[start:start + n] += hit[:n]
    return out


def loop(clip: np.ndarray, length_s: float, rate: int = RATE, offset_s: float = 0.0
         ) -> np.ndarray:
    n = int(length_s * rate)
    start = int(offset_s * rate)
    reps = int(np.ceil((n - start) / clip.shape[0])) + 1
    body = np.concatenate([clip] * reps)[: n - start]
    return np.concatenate([np.zeros((start, clip.shape[1])), body])


def band_recordings(length_s: float = 12.0) -> dict[str, tuple[str, str, np.ndarray]]:
    """name -> (label, description, audio) for a small band made of real recordings."""
    beat = 0.5  # 120 bpm
    bars = [i * beat for i in range(int(length_s / beat))]
    kick = load(HYDROGEN / "Kick-Hard.wav")
    snare = load(HYDROGEN / "Snare-Hard.wav")
    hat = load(HYDROGEN / "HatClosed-Med.wav")
    bass = load(SONIC_PI / "bass_voxy_c.flac")
    guitar = load(SONIC_PI / "guit_em9.flac")
    keys = load(SONIC_PI / "ambi_piano.flac")
    voice = load(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav")
    return {
        "Audio 1": ("kick", "hydrogen GMRockKit kick on 1 and 3",
                    pattern(kick, bars[0::2], length_s)),
        "Audio 2": ("snare", "snare on 2 and 4", pattern(snare, bars[1::2], length_s)),
        "Audio 3": ("hihat", "closed hat in eighths",
                    pattern(hat, [t / 2 for t in range(int(length_s * 4))], length_s)),
        "Audio 4": ("bass", "sonic-pi bass_voxy_c looped", loop(bass, length_s)),
        "Audio 5": ("guitar", "sonic-pi guit_em9", loop(guitar, length_s, offset_s=1.0)),
        "Audio 6": ("keys", "sonic-pi ambi_piano looped", loop(keys, length_s, offset_s=2.0)),
        "Audio 7": ("vocal", "librivox speech as the lead", loop(voice, length_s, offset_s=2.0)),
    }


def build_band_session(folder: Path, *, drum_folder: bool = True, length_s: float = 12.0
                       ) -> tuple[Session, dict[str, str]]:
    """Write each part as a WAV file and make a REAPER-like Session that plays them.

    With ``drum_folder`` the kick, snare and hat sit in a folder track "Drums".
    Returns ``(session, labels)``; every fader at 0 dB.
    """
    folder.mkdir(parents=True, exist_ok=True)
    parts = band_recordings(length_s)
    tracks: list[Track] = []
    labels: dict[str, str] = {}
    index = 0
    if drum_folder:
        tracks.append(Track("{F0000000-0000-0000-0000-000000000000}", "Drums", index,
                            folder_depth=1))
        index += 1
    drum_names = [n for n, (lab, _, _) in parts.items() if lab in ("kick", "snare", "hihat")]
    for name, (label, _desc, audio) in parts.items():
        path = folder / f"{name.replace(' ', '_')}.wav"
        sf.write(str(path), audio.astype(np.float32), RATE, subtype="FLOAT")
        guid = f"{{{index:08d}-0000-0000-0000-000000000000}}"
        item = Item(0.0, audio.shape[0] / RATE, name=name,
                    source=Source("WAVE", path.name, path))
        depth = -1 if drum_folder and name == drum_names[-1] else 0
        tracks.append(Track(guid, name, index, items=[item], folder_depth=depth,
                            folder_level=1 if drum_folder and name in drum_names else 0))
        labels[guid] = label
        index += 1
    session = Session(folder / "band.rpp", "reaper", tracks, sample_rate=RATE)
    return session, labels
