"""Offline instrument labeller: what is on this stem?

Audio features (:mod:`.features`) go through a small shipped classifier (:mod:`.model`); a
track or file name (:mod:`.names`) adds prior evidence, never the answer on its own. Nothing is
downloaded: the model ships in the package as ``model.npz`` and is retrained by
``tools/train_labeller.py``.

    >>> from bridge.assist.labeller import label_file
    >>> result = label_file("stems/Audio 03.wav", name_hint="Audio 03")
    >>> result.label, round(result.confidence, 2)
    ('snare', 0.97)
    >>> print(result.evidence)
    audio: snare 0.97 (next hihat 0.01)

The combination rule: scores = audio probabilities x (1 + NAME_WEIGHT x name prior), then
renormalised. A name that matches the audio settles a close call ("Tom 2" when the audio
hesitates between tom and kick); a name the audio clearly contradicts ("kick" on a bass line)
loses, and the evidence says so. Below the model's confidence threshold (or when the audio
looks like nothing in the vocabulary: noise, hum, tones) the label is ``unknown``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .model import OTHER, VOCABULARY, ModelError, load_model
from .names import NameHint, is_generic_name, name_hint

__all__ = [
    "UNKNOWN", "VOCABULARY", "NAME_WEIGHT", "LabelError", "LabelResult", "ModelError",
    "MIN_SOUNDING_S", "AUDIO_OVERRULES_NAME", "NAME_AGREES_NOVELTY", "KIT_PIECES", "combine",
    "is_generic_name", "label_audio", "label_file", "name_hint", "read_mono", "too_short",
]

UNKNOWN = "unknown"
NAME_WEIGHT = 4.0
"""A class the name points to has its audio probability multiplied by up to 1 + NAME_WEIGHT."""


NAME_AGREES_NOVELTY = 2.0
"""When the name and the audio both say the class, the stem may sit this far from that class's
training rows (novelty units; 1.0 otherwise) before it counts as unlike them: "kick01.wav" that
sounds like a kick, from a sample set the model never heard, is a kick."""

AUDIO_OVERRULES_NAME = 0.95
"""When the name a person gave points to other classes, the audio must be this sure of its own
class to relabel the stem; below, the answer is ``unknown`` (a trumpet sample the model half
takes for a cymbal is not renamed "OH" against its file name). Set high because on material
it never heard the model can be confidently wrong (a real acoustic guitar read as keys 0.91,
a synth loop as hihat 0.89), while a person's name for a track rarely is."""

KIT_PIECES = frozenset({"kick", "snare", "hihat", "tom", "cymbal"})
"""Drum-kit pieces: a close-miked piece, or a dense pattern of one drum, often sounds like a
whole kit (``drums``) to the model; when the name names the piece, the name settles which."""


MIN_SOUNDING_S = 0.04
"""A stem that sounds for less than this in total (seconds, 5 ms frames above the silence
floor) is ``unknown``: a click or a 10 ms blip is not enough evidence for any instrument."""


def too_short(sounding_s: float | None) -> bool:
    """Whether a stem sounding for ``sounding_s`` seconds is too short to be labelled."""
    return sounding_s is not None and 0.0 < sounding_s < MIN_SOUNDING_S


class LabelError(ValueError):
    """A file could not be labelled (unreadable, empty, not audio); the message names it."""


@dataclass(frozen=True)
class LabelResult:
    label: str
    """One of :data:`VOCABULARY`, or ``"unknown"``."""
    confidence: float
    """Calibrated probability of ``label`` after the name hint, 0..1 (0 for silent stems)."""
    scores: dict[str, float]
    """Probability per vocabulary class (sums to 1 minus the out-of-vocabulary share)."""
    evidence: str
    """Plain words: what the audio said, what the name said, why the answer is what it is."""
    figures: dict[str, Any] = field(default_factory=dict, compare=False)
    """``audio_label``, ``audio_confidence``, ``out_of_vocabulary``, ``active_s``,
    ``duration_s``, ``rms_active_dbfs``, ``name_hint``."""

    @property
    def is_known(self) -> bool:
        return self.label != UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": round(self.confidence, 4),
                "scores": {k: round(v, 4) for k, v in self.scores.items()},
                "evidence": self.evidence}


def combine(audio_probs: dict[str, float], hint: NameHint | None) -> dict[str, float]:
    """Audio probabilities (vocabulary + ``_other``) times the name prior, renormalised."""
    if not hint:
        return dict(audio_probs)
    boosted = {c: p * (1.0 + NAME_WEIGHT * hint.prior.get(c, 0.0)) for c, p in audio_probs.items()}
    total = sum(boosted.values()) or 1.0
    return {c: p / total for c, p in boosted.items()}


def _describe(probs: dict[str, float]) -> str:
    ranked = sorted(((p, c) for c, p in probs.items() if c != OTHER), reverse=True)
    text = f"{ranked[0][1]} {ranked[0][0]:.2f}"
    if len(ranked) > 1:
        text += f" (next {ranked[1][1]} {ranked[1][0]:.2f})"
    return text


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - comes with librosa's scikit-learn
        return None
    return ThreadpoolController()


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """The matrices here are small: a multi-threaded BLAS only wakes threads that then spin,
    and on a busy 2-core machine that spinning costs more than the work (about 2x CPU)."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def label_audio(samples: np.ndarray, rate: int, name_hint: str | None = None,
                *, min_confidence: float | None = None) -> LabelResult:
    """Label audio samples, (frames,) or (frames, channels) at ``rate`` Hz."""
    with _one_blas_thread():
        return _label_audio(samples, rate, name_hint, min_confidence)


def _label_audio(samples: np.ndarray, rate: int, name_hint: str | None,
                 min_confidence: float | None) -> LabelResult:
    from .features import analyse

    model = load_model()
    threshold = model.min_confidence if min_confidence is None else float(min_confidence)
    hint = _hint(name_hint)
    vec, activity = analyse(samples, rate)
    figures: dict[str, Any] = {
        "duration_s": round(activity.duration_s, 3), "active_s": round(activity.active_s, 3),
        "rms_active_dbfs": round(activity.rms_active_dbfs, 1),
        "name_hint": hint.best if hint else None,
    }
    if activity.active_s <= 0:
        return LabelResult(UNKNOWN, 0.0, {c: 0.0 for c in VOCABULARY},
                           "silent: no audio above the noise floor", figures)
    probs = model.predict_proba(vec[None, :])[0]
    audio = {c: float(p) for c, p in zip(model.classes, probs, strict=True)}
    combined = combine(audio, hint)
    best = max(VOCABULARY, key=lambda c: combined.get(c, 0.0))
    audio_best = max(VOCABULARY, key=lambda c: audio.get(c, 0.0))
    figures.update(audio_label=audio_best, audio_confidence=round(audio[audio_best], 4),
                   out_of_vocabulary=round(audio.get(OTHER, 0.0), 4))
    parts = [f"audio: {_describe(audio)}"]
    if audio.get(OTHER, 0.0) >= 0.2:
        parts.append(f"sounds outside the vocabulary ({audio[OTHER]:.2f})")
    if hint:
        said = "/".join(sorted(hint.prior))
        words = ", ".join(dict.fromkeys(hint.words))
        if hint.best == best and audio_best == best:
            parts.append(f"name {hint.name!r} agrees ({words})")
        elif best in hint.prior:
            parts.append(f"name {hint.name!r} ({words}) tipped it to {best}")
        else:
            parts.append(f"name {hint.name!r} says {said} but the audio disagrees")
    confidence = combined[best]
    label = best
    novelty = float(model.novelty(vec[None, :], np.array([model.classes.index(best)]))[0])
    piece = hint.best if hint and hint.best in KIT_PIECES else None
    if piece and best == "drums" and audio_best == "drums":
        # The audio hears a kit, the name says which piece of it this track is.
        parts[-1] = (f"name {hint.name!r} names one piece of the kit and the audio hears drums "
                     f"({audio['drums']:.2f}): the {piece}'s track")
        best = label = piece
        combined = {**combined, piece: combined[piece] + combined["drums"], "drums": 0.0}
        confidence = combined[piece]
        audio_best = piece
    figures["novelty"] = round(novelty, 3)
    figures["sounding_s"] = round(activity.sounding_s or 0.0, 3)
    name_agrees = bool(hint) and best in hint.prior and audio_best == best
    name_disagrees = bool(hint) and best not in hint.prior
    if too_short(activity.sounding_s):
        label = UNKNOWN
        parts.append(f"too short to tell: {activity.sounding_s * 1000:.0f} ms of sound")
    elif novelty > (NAME_AGREES_NOVELTY if name_agrees else 1.0):
        label = UNKNOWN
        parts.append(f"unlike any {best} the model was trained on (novelty {novelty:.1f})")
    elif combined.get(OTHER, 0.0) > confidence:
        label = UNKNOWN
        parts.append("most likely not an instrument or voice of the vocabulary")
    elif confidence < threshold:
        label = UNKNOWN
        parts.append(f"confidence {confidence:.2f} below threshold {threshold:.2f}")
    elif name_disagrees and audio[best] < AUDIO_OVERRULES_NAME:
        label = UNKNOWN
        parts.append(f"the audio ({best} {audio[best]:.2f}) is not sure enough to overrule "
                     "the name")
    scores = {c: combined.get(c, 0.0) for c in VOCABULARY}
    return LabelResult(label, float(confidence), scores, "; ".join(parts), figures)


def _hint(name: str | None) -> NameHint | None:
    if name is None:
        return None
    hint = name_hint(name)
    return hint if hint else None


def read_mono(path: str | Path, block_frames: int = 1 << 18) -> tuple[np.ndarray, int]:
    """Read an audio file as mono ``float32`` (block by block, so long stereo stems stay small)."""
    import soundfile as sf

    from .features import mono

    p = Path(path)
    if not p.is_file():
        raise LabelError(f"{p}: no such file")
    try:
        with sf.SoundFile(p) as f:
            rate = f.samplerate
            parts = [mono(block) for block in
                     f.blocks(blocksize=block_frames, dtype="float32", always_2d=True)]
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        # AAC/M4A, the sound of a video...: the reader decodes them through ffmpeg
        from bridge.audio.reader import AudioError, open_audio

        try:
            with open_audio(p) as stream:
                rate = stream.info.sample_rate
                parts = [mono(block) for block in stream.blocks(block_frames)]
        except AudioError as reader_exc:
            raise LabelError(f"{p}: cannot read audio ({exc}; {reader_exc.reason})") from None
    if not parts or not sum(len(x) for x in parts):
        raise LabelError(f"{p}: the file holds no audio frames")
    return np.concatenate(parts), rate


def label_file(path: str | Path, name_hint: str | None = None,
               *, min_confidence: float | None = None) -> LabelResult:
    """Label one audio file. ``name_hint`` is the track name, if there is one; the file name
    itself is used as a hint too unless it is a generic one ("Audio 01.wav").
    """
    samples, rate = read_mono(path)
    hint = name_hint
    stem = Path(path).name
    if not is_generic_name(stem):
        hint = stem if not hint or is_generic_name(hint) else f"{hint} {stem}"
    return label_audio(samples, rate, hint, min_confidence=min_confidence)
