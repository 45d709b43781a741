"""The shipped labeller model on held-out material: real recordings from Debian packages that
training never saw (another soundfont, another drum kit, other speakers, other sample sets)
and synthesised signals. The accuracy floors are below what the model reaches (docs/labeller.md)
by a margin for the smaller samples drawn here, so a real regression fails."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _support import REPO, require_path, require_program

from bridge.assist.labeller import UNKNOWN, label_audio, label_file
from bridge.assist.labeller.model import VOCABULARY, load_model

sys.path.insert(0, str(REPO / "tools"))
import labeller_data as data  # noqa: E402

RATE = data.RATE


def _accuracy(pairs: list[tuple[str, str]]) -> float:
    return sum(a == b for a, b in pairs) / len(pairs)


def test_model_ships_small_and_matches_the_features() -> None:
    from bridge.assist.labeller.model import MODEL_PATH

    assert MODEL_PATH.stat().st_size < 3 * 1024 * 1024
    model = load_model()
    assert set(VOCABULARY) <= set(model.classes)
    assert 0.0 < model.min_confidence < 1.0


@pytest.fixture(scope="module")
def tim_clips() -> list[data.Clip]:
    """Phrases from the held-out soundfont (TimGM6mb), with a seed training never used."""
    require_program("fluidsynth")
    require_path(data.SF2_TEST)
    return list(data.soundfont_clips(data.SF2_TEST, "test", seed=777, per_class=3))


def test_held_out_soundfont_renders(tim_clips: list[data.Clip]) -> None:
    pairs = []
    for clip in tim_clips:
        if clip.label == data.OTHER:
            continue
        r = label_audio(clip.audio, RATE)
        pairs.append((clip.label, r.label))
    wrong = Counter((t, p) for t, p in pairs if t != p)
    assert len(pairs) >= 60
    assert _accuracy(pairs) >= 0.82, wrong  # 88.6% on the full held-out TimGM6mb set


def test_held_out_drum_kit_tr808() -> None:
    require_path(data.HYDROGEN / "TR808EmulationKit")
    clips = list(data.hydrogen_clips("TR808EmulationKit", "test", seed=99, n_per_class=4))
    pairs = [(c.label, label_audio(c.audio, RATE).label) for c in clips]
    wrong = Counter((t, p) for t, p in pairs if t != p)
    # a weak held-out source (81% on the full held-out set, docs/labeller.md)
    assert _accuracy(pairs) >= 0.65, wrong


def test_held_out_acoustic_kit_one_shots() -> None:
    """sonic-pi's acoustic drum samples, each file labelled as it is (one hit), audio only:
    their file names ("drum_cymbal_closed") would be hints otherwise."""
    require_path(data.SONIC_PI)
    pairs = []
    for cls, patterns in data._SONIC_TEST_ROLES.items():
        for p in data._glob(patterns):
            pairs.append((cls, label_audio(data.load(p), RATE).label))
    wrong = Counter((t, p) for t, p in pairs if t != p)
    assert len(pairs) >= 15
    assert _accuracy(pairs) >= 0.75, wrong


def test_held_out_speakers_are_speech() -> None:
    require_path(data.SPHINX)
    files = sorted((data.SPHINX / "cards").glob("*.wav"))
    files += sorted(p for p in data.ALSA_SOUNDS.glob("*.wav") if p.stem != "Noise")
    raws = [data.SPHINX / "goforward.raw", data.SPHINX / "numbers.raw"]
    results = [label_file(p) for p in files]
    results += [label_audio(data.load(p), RATE) for p in raws]
    top = [max(r.scores, key=r.scores.__getitem__) for r in results]
    labels = [r.label for r in results]
    # every clip scores highest as speech; the 1-second alsa announcements are sometimes under
    # the confidence threshold, and then they are "unknown", never another class
    assert top.count("speech") >= len(top) - 1, top
    assert labels.count("speech") >= 0.7 * len(labels), labels
    assert set(labels) <= {"speech", UNKNOWN}, labels


def test_real_guitar_recordings() -> None:
    """The four real guitar recordings in sonic-pi are a known weak spot (docs/labeller.md):
    the chord and harmonics read as keys, the distorted fifths as out of vocabulary. They must
    at least never read as drums or voice, and a "Gtr" name must raise their guitar score."""
    files = data._glob(["guit_*"])
    if not files:
        require_path(data.SONIC_PI / "guit_em9.flac")
    plain = [label_audio(data.load(p), RATE) for p in files]
    melodic = {"guitar", "keys", "bass", "strings", "brass", "woodwind", UNKNOWN}
    assert {r.label for r in plain} <= melodic, plain
    named = [label_audio(data.load(p), RATE, name_hint="Gtr") for p in files]
    for a, b in zip(plain, named, strict=True):
        assert b.scores["guitar"] > a.scores["guitar"]


def test_synthesised_singer_and_talker() -> None:
    rng = np.random.default_rng(4242)
    sung = [label_audio(data.formant_voice(rng, 5.0, sung=True), RATE).label for _ in range(6)]
    spoken = [label_audio(data.formant_voice(rng, 5.0, sung=False), RATE).label for _ in range(4)]
    assert sung.count("vocal") >= 5, sung
    assert spoken.count("speech") >= 3, spoken


def test_outside_the_vocabulary_is_unknown() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(4 * RATE) / RATE
    signals = {
        "white noise": rng.standard_normal(len(t)) * 0.2,
        "mains hum": sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 6)) * 0.2,
        "1 kHz tone": 0.5 * np.sin(2 * np.pi * 1000 * t),
        "sweep": 0.5 * np.sin(2 * np.pi * (30 * t + 1200 * t**2)),
    }
    for what, x in signals.items():
        r = label_audio(x, RATE)
        assert r.label == UNKNOWN, (what, r)
    noise = require_path(data.ALSA_SOUNDS / "Noise.wav")
    assert label_file(noise).label == UNKNOWN


def test_silence_and_near_silence_are_unknown() -> None:
    r = label_audio(np.zeros(RATE * 2), RATE)
    assert r.label == UNKNOWN and r.confidence == 0.0 and "silent" in r.evidence
    r = label_audio(np.full(RATE, 1e-6), RATE)
    assert r.label == UNKNOWN


def test_gain_does_not_change_the_label() -> None:
    """Stems from full scale down to -20 dB get the same answer (much quieter stems lose their
    decays under the -65 dBFS floor, so their confidence may move)."""
    clip = data.load(data.SONIC_PI / "drum_snare_hard.flac")
    ref = label_audio(clip, RATE)
    for gain in (0.5, 0.3, 0.1):
        r = label_audio(clip * gain, RATE)
        assert r.label == ref.label
        assert abs(r.confidence - ref.confidence) < 0.05, gain


def test_name_hint_settles_close_calls_but_never_overrides_clear_audio() -> None:
    speech = data.load(data.SPHINX / "cards" / "001.wav")
    plain = label_audio(speech, RATE)
    assert plain.label == "speech"
    # the name says kick; the audio is clearly speech: the audio wins, the evidence says so
    wrong_name = label_audio(speech, RATE, name_hint="kick_in")
    assert wrong_name.label == "speech"
    assert "disagrees" in wrong_name.evidence
    # an agreeing name raises the confidence
    named = label_audio(speech, RATE, name_hint="VO")
    assert named.label == "speech" and named.confidence >= plain.confidence
    assert "agrees" in named.evidence


def test_label_result_fields() -> None:
    r = label_file(data.SONIC_PI / "drum_heavy_kick.flac")
    assert r.label in VOCABULARY
    assert 0.0 <= r.confidence <= 1.0
    assert set(r.scores) == set(VOCABULARY)
    assert abs(sum(r.scores.values())) <= 1.0 + 1e-6
    assert r.scores[r.label] == pytest.approx(r.confidence)
    assert r.evidence.startswith("audio:")


def test_long_stem_is_bounded_in_time() -> None:
    import time

    loop = data.load(data.SONIC_PI / "loop_amen_full.flac")
    four_minutes = np.tile(loop, int(np.ceil(240 * RATE / len(loop))))[: 240 * RATE]
    stereo = np.stack([four_minutes, four_minutes], axis=1)
    label_audio(stereo[: RATE * 2], RATE)  # warm-up (imports, JIT caches)
    t0 = time.perf_counter()
    r = label_audio(stereo, RATE)
    assert time.perf_counter() - t0 < 3.0
    assert r.label == "drums"


def test_label_file_reports_bad_files(tmp_path: Path) -> None:
    from bridge.assist.labeller import LabelError

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(LabelError, match="bad.wav"):
        label_file(bad)
    with pytest.raises(LabelError, match="missing.wav"):
        label_file(tmp_path / "missing.wav")


@pytest.mark.parametrize("ms", [2, 10, 30])
def test_a_blip_is_too_short_to_label(ms: int) -> None:
    """A few ms of noise, a click or a single cycle is no evidence of any instrument."""
    rng = np.random.default_rng(ms)
    x = np.zeros(2 * RATE, np.float32)
    n = int(ms / 1000 * RATE)
    x[RATE:RATE + n] = rng.standard_normal(n).astype(np.float32) * 0.5
    r = label_audio(x, RATE)
    assert r.label == UNKNOWN, r
    assert "too short" in r.evidence
    assert r.figures["sounding_s"] < 0.04


def test_short_one_shots_are_still_labelled() -> None:
    """The too-short rule leaves real one-shots alone: a closed hi-hat and a snare hit."""
    for name, want in (("drum_cymbal_closed", "hihat"), ("drum_snare_soft", "snare")):
        x = data.load(require_path(data.SONIC_PI / f"{name}.flac"))
        r = label_audio(x, RATE)
        assert r.figures["sounding_s"] >= 0.04, (name, r.figures)
        assert r.label == want, (name, r)


@pytest.mark.parametrize(("program", "note_s"), [(32, 1.5), (33, 0.4)])
def test_bass_line_with_long_rests_is_bass(program: int, note_s: float) -> None:
    """Held-out soundfont bass notes, each after 1.5 s of silence (a part that rests for
    bars), still read as bass. (Finger bass, program 33, held for 1.5 s reads as keys with or
    without the rests: a known weakness about long notes, docs/labeller.md.)"""
    require_program("fluidsynth")
    require_path(data.SF2_TEST)
    batch = data.MidiBatch()
    notes = [((note_s + 1.5) * k, note_s * 0.95, n, 100)
             for k, n in enumerate((36, 43, 41, 38, 36, 40, 43, 45))]
    batch.add(notes, channel=0, program=program, tag="bass")
    (_, audio), = list(batch.render(data.SF2_TEST))
    r = label_audio(audio, RATE)
    assert r.label == "bass", r
