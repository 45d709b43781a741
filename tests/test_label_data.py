"""The training-material code of the labeller, where it runs without the training packages:
drum-kit instrument names to roles, and the message naming missing Debian packages."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _support import REPO

sys.path.insert(0, str(REPO / "tools"))
import labeller_data as data  # noqa: E402


@pytest.mark.parametrize(("name", "role"), [
    ("Kick Lite 1", "kick"), ("BassDrum", "kick"), ("c3 - bass drum 1", "kick"),
    ("Snare Rimshot", "snare"), ("Stick", "snare"), ("Rim Click (Pearl 14x3.5)", "snare"),
    ("Hi Hat Closed", "hihat"), ("Closed HH 2", "hihat"), ("Sabian Hat Choke", "hihat"),
    ("Tom Low (Tama Superstar 16\")", "tom"), ("Floor Tom", "tom"),
    ("Ride (Custom, Zagrebin 22\")", "cymbal"), ("Ride Bell", "cymbal"), ("China", "cymbal"),
    ("Cowbell", "percussion"), ("Dununba1 Bell Mute", "percussion"),
    ("Hand Clap", "percussion"), ("Djembe3 Slap", "percussion"), ("Tambourine", "percussion"),
])
def test_kit_instrument_names_map_to_roles(name: str, role: str) -> None:
    assert data._role_of(name) == role


@pytest.mark.parametrize("name", ["Zap 1", "FX", "Whistle", "Click", "", "17",
                                  "Bottom"])
def test_names_that_are_no_drum_role_are_left_out(name: str) -> None:
    assert data._role_of(name) is None


def test_missing_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "REQUIREMENTS", (
        ("hydrogen-drumkits", "/nonexistent/drumkits/ForzeeStereo"),
        ("timidity", "no-such-program-here"),
        ("python3", sys.executable),
    ))
    assert data.missing_packages() == ["hydrogen-drumkits", "timidity"]


def test_training_script_stops_with_the_package_list(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import train_labeller

    monkeypatch.setattr(data, "missing_packages", lambda: ["freepats", "timidity"])
    assert train_labeller.main(["--build-only"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install freepats timidity" in err


def test_cross_validation_folds_hold_out_disjoint_training_sources() -> None:
    import train_labeller

    seen: set[str] = set()
    for fold in train_labeller.CV_FOLDS:
        assert not seen & set(fold)
        seen |= set(fold)
    kits = {f"hydrogen:{k}" for k in data.HYDROGEN_TRAIN_KITS}
    assert kits <= seen
    assert not {f"hydrogen:{k}" for k in data.HYDROGEN_FRESH_KITS} & seen
    assert train_labeller.family("sf2:FluidR3_GM/keys") == "sf2:FluidR3_GM"
    assert train_labeller.family("freepats/brass") == "freepats"


@pytest.mark.parametrize(("folder", "stem", "role"), [
    ("drums", "kick_hard01", "kick"), ("drums", "bassdrum_acoustic02", "kick"),
    ("drums", "sidestick01", "snare"), ("drums", "nasty_rim01", "snare"),
    ("drums", "hihat_foot_pedal01", "hihat"), ("drums", "tom_low01", "tom"),
    ("drums", "ride02", "cymbal"), ("drums", "clav01", "percussion"),
    ("drums", "zap02", "_other"), ("drums", "nasty_bass01", None),
    ("instruments", "cello01", "strings"), ("instruments", "church_organ03", "keys"),
    ("instruments", "steel_guitar_heavy_distorted01", "guitar"),
    ("instruments", "bassslap02", "bass"), ("instruments", "trumpet01", "brass"),
    ("instruments", "flute01", "woodwind"), ("beats", "rave_hihat01", "hihat"),
    ("beats", "jungle01", "drums"), ("bassloops", "tb303_01", "bass"),
    ("latin", "latin_brass01", "brass"), ("stringsnpads", "juno_pad01", "_other"),
    ("stringsnpads", "bell_choir01", "_other"), ("stringsnpads", "chorus02", "vocal"),
    ("stringsnpads", "space_strings03", "strings"), ("misc", "applause01", "_other"),
    ("effects", "warp01", "_other"), ("waveforms", "sine", None),
])
def test_lmms_samples_map_to_classes_by_folder_and_name(folder: str, stem: str,
                                                       role: str | None) -> None:
    assert data.lmms_role(folder, stem) == role


def test_sparse_copy_rests_between_runs_of_notes() -> None:
    """A continuously played phrase gets rests of 0.3-3 s: longer, the same notes, and
    stretches of silence it did not have."""
    rate = data.RATE
    t = np.arange(int(0.25 * rate)) / rate
    note = (np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.2)).astype(np.float32)
    phrase = np.concatenate([note] * 24)
    out = data.sparse(phrase, np.random.default_rng(3))
    assert len(out) > len(phrase) + int(0.3 * rate)
    frame = int(0.05 * rate)
    n = len(out) // frame
    level = np.sqrt(np.mean(out[: n * frame].reshape(n, frame) ** 2, axis=1))
    quiet = level < 1e-4
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], quiet, [0]]))))[::2]
    assert runs.max() * 0.05 >= 0.3
    assert np.abs(out).max() <= np.abs(phrase).max() + 1e-6
