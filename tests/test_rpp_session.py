"""The Session model built from real and synthesised REAPER projects."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _support import REPO, shared_dir

from bridge.session import load_session, project_daw
from bridge.session.rpp_session import hex_to_native, native_to_hex

EXAMPLE = REPO / "examples" / "untidy_session" / "untidy_session.RPP"


def corpus(prefix: str) -> Path:
    return next((shared_dir() / "rpp_corpus").glob(f"{prefix}*"))


def test_example_session_is_untidy_and_complete():
    session = load_session(EXAMPLE)
    assert session.daw == "reaper" and session.sample_rate == 44100
    names = [t.name for t in session.tracks]
    assert names[:3] == ["Audio 1", "Audio 2", "Track 3"]
    spread = max(t.volume_db for t in session.tracks) - min(t.volume_db for t in session.tracks)
    assert spread > 12  # deliberately unbalanced faders
    assert not session.missing_media()
    snare = session.tracks[1]
    assert len(snare.items) == 2 and snare.items[1].source_offset_s == pytest.approx(6.0)
    assert sum(p.stat().st_size for p in EXAMPLE.parent.rglob("*")) < 5e6


def test_real_project_tracks_mute_solo_volume_and_folders():
    session = load_session(corpus("01_"))
    vocals, lalala = session.tracks[0], session.tracks[1]
    assert vocals.name == "vocals" and vocals.volume_db == pytest.approx(20 * math.log10(16))
    assert lalala.solo and session.any_solo
    assert not session.audible(vocals) and session.audible(lalala)
    drums = load_session(corpus("21_"))
    assert drums.tracks[0].is_folder and drums.tracks[1].folder_level == 1
    assert drums.sample_rate == 48000


def test_items_takes_sources_and_missing_media():
    session = load_session(corpus("01_"))
    item = session.tracks[0].items[1]
    assert item.position_s == pytest.approx(120.347216)
    assert item.source_offset_s == pytest.approx(16.347216)
    assert item.fade_in_s == pytest.approx(0.01)
    assert item.source is not None and item.source.kind == "VORBIS"
    assert not item.source.exists  # the Windows path of the original machine
    assert len(session.missing_media()) > 0


def test_fx_names_are_read_from_the_chain():
    session = load_session(corpus("09_"))
    assert any(t.fx_names for t in session.tracks)
    assert all(isinstance(n, str) and n for t in session.tracks for n in t.fx_names)


def test_colour_round_trip():
    for color in ("#FF8000", "#000000", "#12AB34"):
        assert native_to_hex(hex_to_native(color)) == color
    assert native_to_hex(16576) is None


def test_project_daw_is_recognised(tmp_path: Path):
    assert project_daw(EXAMPLE) == "reaper"
    (tmp_path / "s.ardour").write_text("<Session/>")
    assert project_daw(tmp_path / "s.ardour") == "ardour"
    assert project_daw(tmp_path) == "ardour"
    with pytest.raises(ValueError, match="not a REAPER"):
        project_daw(tmp_path / "notes.txt")
