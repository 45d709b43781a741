"""``studio-bridge inspect`` and ``render`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import soundfile as sf
from _support import REPO, shared_dir

EXAMPLE = REPO / "examples" / "untidy_session" / "untidy_session.RPP"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_inspect_json_lists_tracks_items_and_sources():
    result = run("inspect", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["tracks"]) == 8
    first = data["tracks"][0]
    assert first["name"] == "Audio 1" and first["volume_db"] == 6.0
    src = first["items"][0]["source"]
    assert src["kind"] == "FLAC" and src["missing"] is False


def test_inspect_flags_missing_media_and_names_bad_files():
    good = run("inspect", str(next((shared_dir() / "rpp_corpus").glob("01_*"))))
    assert good.returncode == 0 and "with missing media" in good.stdout
    bad = run("inspect", str(next((shared_dir() / "rpp_corpus").glob("40_*"))))
    assert bad.returncode != 0
    assert "40_LazyBone2017" in bad.stderr and "line 3529" in bad.stderr


def test_render_writes_one_stem_per_track_and_the_mix(tmp_path: Path):
    result = run("render", str(EXAMPLE), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    stems = sorted(tmp_path.glob("0*.wav"))
    assert len(stems) == 8 and (tmp_path / "mix.wav").exists()
    info = sf.info(str(stems[0]))
    assert info.samplerate == 44100 and info.channels == 2
    assert abs(info.duration - 12.0) < 0.01
