"""Name hints and generic-name detection for the instrument labeller."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.assist.labeller.model import VOCABULARY
from bridge.assist.labeller.names import is_generic_name, name_hint, tokens


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("kick_in.wav", "kick"), ("Kick Out", "kick"), ("KickIn_01.wav", "kick"),
        ("BD", "kick"), ("bass drum", "kick"), ("Snare Top", "snare"), ("snr_bot", "snare"),
        ("HH", "hihat"), ("Hi Hat", "hihat"), ("hats.wav", "hihat"), ("Tom 2", "tom"),
        ("Floor Tom", "tom"), ("OH", "cymbal"), ("OH L", "cymbal"), ("Overheads", "cymbal"),
        ("Ride", "cymbal"), ("Drum Loop 3", "drums"), ("Room", "drums"), ("Shaker", "percussion"),
        ("Congas", "percussion"), ("Bass DI", "bass"), ("bass gtr", "bass"), ("Sub", "bass"),
        ("Gtr L", "guitar"), ("gtrL", "guitar"), ("Acoustic Guitar", "guitar"),
        ("Rhodes", "keys"), ("Piano", "keys"), ("Organ", "keys"), ("Violins", "strings"),
        ("Cello", "strings"), ("Tpt 1", "brass"), ("French Horn", "brass"),
        ("Flute", "woodwind"), ("Tenor Sax", "woodwind"), ("Vox", "vocal"), ("BV2", "vocal"),
        ("Lead Vocal", "vocal"), ("BGVs", "vocal"), ("Choir", "vocal"), ("VO", "speech"),
        ("Dialogue", "speech"), ("Voice Over", "speech"), ("Podcast Host", "speech"),
    ],
)
def test_name_hint_reads_studio_names(name: str, expected: str) -> None:
    hint = name_hint(name)
    assert hint.best == expected, (name, hint)
    assert 0 < hint.prior[expected] <= 1


@pytest.mark.parametrize("name", ["Audio 01", "Audio 1-01.wav", "Track 3", "", "untitled",
                                  "Untitled 2", "REC0003.wav", "01", "New Track", "Stereo 4",
                                  "Audio Track 12", "Bounce 1", "Insert 5", "take_3.wav"])
def test_generic_names(name: str) -> None:
    assert is_generic_name(name)
    assert not name_hint(name)


@pytest.mark.parametrize("name", ["Kick", "Gtr L", "BV2", "OH", "kick_in.wav", "Audio Kick",
                                  "Lead Vox", "Strings 1", "VO"])
def test_named_tracks_are_not_generic(name: str) -> None:
    assert not is_generic_name(name)


def test_none_is_generic() -> None:
    assert is_generic_name(None)


def test_ambiguous_names_share_the_evidence() -> None:
    hint = name_hint("Kick Snare")
    assert set(hint.prior) == {"kick", "snare"}
    assert hint.prior["kick"] == pytest.approx(0.5)


def test_lead_alone_is_vocal_but_lead_guitar_is_guitar() -> None:
    assert name_hint("Lead").best == "vocal"
    assert name_hint("Lead Gtr").best == "guitar"
    assert "vocal" not in name_hint("Lead Gtr").prior


def test_words_that_only_contain_instrument_words_are_not_hints() -> None:
    # "tomato", "subtle", "hatch" are not tom, bass, hihat
    for name in ("tomato", "subtle", "hatch", "organic chemistry"):
        assert name_hint(name).best is None, name


def test_tokens_split_case_digits_and_extension() -> None:
    assert tokens("KickIn_01.wav") == ["kick", "in", "01"]
    assert tokens("BV2") == ["bv", "2"]
    assert tokens("  Gtr-L  ") == ["gtr", "l"]


@given(st.text(max_size=40))
def test_any_text_gives_a_valid_hint(text: str) -> None:
    hint = name_hint(text)
    assert all(c in VOCABULARY for c in hint.prior)
    assert all(0 < p <= 1 for p in hint.prior.values())
    assert abs(sum(hint.prior.values()) - (1.0 if hint.prior else 0.0)) < 1e-9
    # a name that carries instrument evidence is never called generic
    if hint:
        assert not is_generic_name(text)


@given(st.sampled_from(["Audio", "Track", "Untitled", "Stereo", "Rec"]),
       st.integers(min_value=0, max_value=999), st.sampled_from([" ", "_", "-", ""]))
def test_generic_pattern_with_any_number(word: str, number: int, sep: str) -> None:
    assert is_generic_name(f"{word}{sep}{number:02d}")


class _Heard:
    """The shipped model with its answer for the next stem fixed (probabilities, novelty)."""

    def __init__(self, model, probs: dict[str, float], novelty: float) -> None:
        self.classes = model.classes
        self.min_confidence = model.min_confidence
        row = np.array([probs.get(c, 0.0) for c in model.classes])
        self._row = row / row.sum()
        self._novelty = novelty

    def predict_proba(self, x):
        return np.repeat(self._row[None, :], len(x), axis=0)

    def novelty(self, x, classes):
        return np.full(len(x), self._novelty)


def _label_with(monkeypatch, probs: dict[str, float], novelty: float, name: str | None):
    import bridge.assist.labeller as labeller

    heard = _Heard(labeller.load_model(), probs, novelty)
    monkeypatch.setattr(labeller, "load_model", lambda: heard)
    rate = 22050
    t = np.arange(2 * rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (t % 0.5 < 0.3)
    return labeller.label_audio(tone, rate, name)


def test_a_name_that_agrees_lets_an_unfamiliar_sample_through(monkeypatch) -> None:
    # "kick01.wav" sounding like a kick the model has not heard the like of (novelty 1.4)
    heard = {"kick": 0.85, "drums": 0.1, "bass": 0.05}
    assert _label_with(monkeypatch, heard, 1.4, "kick01.wav").label == "kick"
    assert _label_with(monkeypatch, heard, 1.4, None).label == "unknown"
    assert _label_with(monkeypatch, heard, 1.4, "snare01.wav").label == "unknown"
    # far out is still unknown, name or not
    assert _label_with(monkeypatch, heard, 2.5, "kick01.wav").label == "unknown"


def test_audio_must_be_sure_to_overrule_the_name(monkeypatch) -> None:
    half_sure = {"cymbal": 0.54, "guitar": 0.27, "brass": 0.02, "keys": 0.17}
    result = _label_with(monkeypatch, half_sure, 0.5, "trumpet01.wav")
    assert result.label == "unknown" and "overrule" in result.evidence
    assert _label_with(monkeypatch, half_sure, 0.5, "Audio 12.wav").label == "cymbal"
    # 0.9 is not enough: unseen material can be read that confidently and wrongly
    fairly_sure = {"cymbal": 0.9, "brass": 0.02, "keys": 0.08}
    assert _label_with(monkeypatch, fairly_sure, 0.5, "trumpet01.wav").label == "unknown"
    sure = {"cymbal": 0.97, "brass": 0.01, "keys": 0.02}
    assert _label_with(monkeypatch, sure, 0.5, "trumpet01.wav").label == "cymbal"


def test_a_named_kit_piece_that_sounds_like_a_kit_is_that_piece(monkeypatch) -> None:
    # a dense kick pattern, or a close mic full of bleed, reads as a whole kit
    kit = {"drums": 0.9, "kick": 0.04, "hihat": 0.03, "bass": 0.03}
    result = _label_with(monkeypatch, kit, 1.2, "Kick In")
    assert result.label == "kick" and "piece of the kit" in result.evidence
    assert result.scores["kick"] > 0.9 and result.scores["drums"] == 0.0
    assert _label_with(monkeypatch, kit, 0.5, "Drums").label == "drums"
    assert _label_with(monkeypatch, kit, 0.5, "Audio 7").label == "drums"
    # a piece name does not turn a bass line into a kick
    bass = {"bass": 0.97, "drums": 0.02, "kick": 0.01}
    assert _label_with(monkeypatch, bass, 0.5, "Kick").label == "bass"
