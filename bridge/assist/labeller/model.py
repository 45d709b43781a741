"""The instrument classifier: standardisation + a small ensemble of one-hidden-layer networks.

The weights live beside this module in ``model.npz`` (made by ``tools/train_labeller.py``;
a few hundred kB). Inference is plain numpy::

    >>> model = load_model()
    >>> probs = model.predict_proba(features[None, :])   # (1, n_classes), rows sum to 1
    >>> model.classes[int(probs.argmax())]
    'kick'

Probabilities are calibrated with one temperature fitted on training-side validation clips
(never on the held-out test set). The classes are the fixed vocabulary plus ``_other``, an
internal class for material outside the vocabulary (noise, hum, tones, effects); its mass is
reported as doubt, never as a label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

VOCABULARY: tuple[str, ...] = (
    "kick", "snare", "hihat", "tom", "cymbal", "drums", "percussion",
    "bass", "guitar", "keys", "strings", "brass", "woodwind", "vocal", "speech",
)
"""The labels the labeller can give (plus ``unknown``)."""
OTHER = "_other"
MODEL_PATH = Path(__file__).with_name("model.npz")


class ModelError(RuntimeError):
    """The shipped model file is missing or does not fit this code."""


@dataclass(frozen=True)
class LabelModel:
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    """(members, features, hidden)"""
    b1: np.ndarray
    w2: np.ndarray
    """(members, hidden, classes)"""
    b2: np.ndarray
    temperature: float = 1.0
    min_confidence: float = 0.5
    """Below this calibrated confidence the answer is ``unknown``."""
    info: dict[str, str] = field(default_factory=dict)
    class_mean: np.ndarray | None = None
    """(classes, features): mean standardised feature vector of each class's training rows."""
    class_spread: np.ndarray | None = None
    """(classes, features): their spread (standard deviation, floored)."""
    novelty_limit: np.ndarray | None = None
    """(classes,): a row farther than this from its class (see :meth:`novelty`) is unlike
    anything the class was trained on: twice the 99th percentile of the training rows."""

    def novelty(self, x: np.ndarray, class_index: np.ndarray) -> np.ndarray:
        """Distance of each row from the training rows of the given class, as a fraction of
        :attr:`novelty_limit` (> 1: out of distribution). Zero when the model has no stats."""
        if self.class_mean is None or self.class_spread is None or self.novelty_limit is None:
            return np.zeros(len(np.atleast_2d(x)))
        z = (np.atleast_2d(x).astype(np.float64) - self.mean) / self.scale
        ci = np.asarray(class_index)
        d = ((z - self.class_mean[ci]) / self.class_spread[ci]) ** 2
        return np.mean(np.clip(d, 0.0, 100.0), axis=1) / self.novelty_limit[ci]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Mean logits of the ensemble for feature rows ``x`` (n, features)."""
        z = (np.atleast_2d(x).astype(np.float64) - self.mean) / self.scale
        z = np.clip(z, -8.0, 8.0)  # far-off inputs must not blow up the hidden layer
        h = np.maximum(np.einsum("nf,mfh->mnh", z, self.w1) + self.b1[:, None, :], 0.0)
        out = np.einsum("mnh,mhc->mnc", h, self.w2) + self.b2[:, None, :]
        return out.mean(axis=0)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, (n, classes), each row summing to 1."""
        logits = self.logits(x) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            classes=np.array(self.classes), feature_names=np.array(self.feature_names),
            mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
            w1=self.w1.astype(np.float32), b1=self.b1.astype(np.float32),
            w2=self.w2.astype(np.float32), b2=self.b2.astype(np.float32),
            temperature=np.float64(self.temperature),
            min_confidence=np.float64(self.min_confidence),
            info_keys=np.array(list(self.info), dtype=str),
            info_values=np.array(list(self.info.values()), dtype=str),
            **({} if self.novelty_limit is None else {
                "class_mean": self.class_mean.astype(np.float32),
                "class_spread": self.class_spread.astype(np.float32),
                "novelty_limit": self.novelty_limit.astype(np.float64)}),
        )


def read_model(path: Path) -> LabelModel:
    """Load a model file written by :meth:`LabelModel.save`."""
    from .features import FEATURE_NAMES, FEATURES_VERSION

    if not path.is_file():
        raise ModelError(f"{path}: labeller model not found (train it: "
                         ".venv/bin/python tools/train_labeller.py)")
    try:
        with np.load(path, allow_pickle=False) as data:
            model = LabelModel(
                classes=tuple(str(c) for c in data["classes"]),
                feature_names=tuple(str(f) for f in data["feature_names"]),
                mean=data["mean"].astype(np.float64), scale=data["scale"].astype(np.float64),
                w1=data["w1"].astype(np.float64), b1=data["b1"].astype(np.float64),
                w2=data["w2"].astype(np.float64), b2=data["b2"].astype(np.float64),
                temperature=float(data["temperature"]),
                min_confidence=float(data["min_confidence"]),
                info=dict(zip((str(k) for k in data["info_keys"]),
                              (str(v) for v in data["info_values"]), strict=True)),
                **({} if "novelty_limit" not in data.files else {
                    "class_mean": data["class_mean"].astype(np.float64),
                    "class_spread": data["class_spread"].astype(np.float64),
                    "novelty_limit": data["novelty_limit"].astype(np.float64)}),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{path}: not a labeller model ({exc})") from None
    version = model.info.get("features_version")
    if model.feature_names != FEATURE_NAMES or (version and version != str(FEATURES_VERSION)):
        raise ModelError(f"{path}: trained on other features than this code computes; retrain")
    return model


@lru_cache(maxsize=1)
def load_model() -> LabelModel:
    """The model shipped in the package (loaded once per process)."""
    return read_model(MODEL_PATH)
