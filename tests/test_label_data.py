"""The training-material code of the labeller, where it runs without the training packages:
drum-kit instrument names to roles, and the message naming missing Debian packages."""

from __future__ import annotations

import sys

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
