"""``studio-bridge apply``: a saved Plan written into a closed project, safely."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from _support import REPO

from bridge.session.rpp_session import load_session

EXAMPLE = REPO / "examples" / "untidy_session"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], capture_output=True,
                          text=True, cwd=REPO, input=stdin, timeout=60)


def test_apply_renames_and_levels_with_a_backup(tmp_path: Path):
    shutil.copytree(EXAMPLE, tmp_path / "s")
    project = tmp_path / "s" / "untidy_session.RPP"
    before = project.read_bytes()
    guid = load_session(project).tracks[0].guid
    plan = {"edits": [
        {"op": "rename_track", "track": guid, "name": "Kick", "reason": "test"},
        {"op": "set_volume", "track": guid, "volume_db": -2.5},
        {"op": "set_eq_band", "track": guid, "band": 0, "band_type": "high_pass",
         "freq_hz": 30.0, "gain_db": 0.0, "q": 0.7},
    ]}
    result = run("apply", "-", str(project), stdin=json.dumps(plan))
    assert result.returncode == 3  # one edit could not go into the file, and it says so
    assert "skipped" in result.stderr and "Apply pending plan" in result.stderr
    track = load_session(project).tracks[0]
    assert track.name == "Kick" and abs(track.volume_db + 2.5) < 1e-9
    backups = list((project.parent / ".studio-bridge" / "backups").iterdir())
    assert len(backups) == 1 and backups[0].read_bytes() == before


def test_apply_refuses_a_malformed_plan_and_changes_nothing(tmp_path: Path):
    shutil.copytree(EXAMPLE, tmp_path / "s")
    project = tmp_path / "s" / "untidy_session.RPP"
    before = project.read_bytes()
    bad = tmp_path / "plan.json"
    bad.write_text('{"edits": [{"op": "set_pan", "track": "{X}", "pan": 7}]}')
    result = run("apply", str(bad), str(project))
    assert result.returncode != 0
    assert "plan.json" in result.stderr and "outside -1..1" in result.stderr
    assert project.read_bytes() == before


def test_a_copy_written_elsewhere_still_finds_its_media(tmp_path: Path):
    shutil.copytree(EXAMPLE, tmp_path / "s")
    project = tmp_path / "s" / "untidy_session.RPP"
    session = load_session(project)
    assert not session.missing_media()
    elsewhere = tmp_path / "other place" / "deeper"
    elsewhere.mkdir(parents=True)
    plan = {"edits": [{"op": "rename_track", "track": session.tracks[0].guid, "name": "Kick"}]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    before = project.read_bytes()
    out = elsewhere / "copy.RPP"
    done = run("apply", str(tmp_path / "plan.json"), str(project), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert project.read_bytes() == before
    copy = load_session(out)
    assert copy.tracks[0].name == "Kick"
    assert not copy.missing_media()
    originals = sorted(str(i.source.path.resolve()) for t in session.tracks for i in t.items
                       if i.source is not None and i.source.path is not None)
    moved = sorted(str(i.source.path.resolve()) for t in copy.tracks for i in t.items
                   if i.source is not None and i.source.path is not None)
    assert moved == originals


def test_rebasing_leaves_absolute_paths_and_handles_backslashes(tmp_path: Path):
    from bridge.daw.rpp_file import rebase_media_paths
    from bridge.session import rpp

    doc = rpp.parse('<REAPER_PROJECT 0.1 "7.0" 1\n  <TRACK\n    <ITEM\n'
                    '      <SOURCE WAVE\n        FILE "Audio\\\\kick one.wav" 1\n      >\n'
                    '    >\n    <ITEM\n      <SOURCE WAVE\n        FILE "C:\\\\x\\\\snare.wav"\n'
                    '      >\n    >\n    <ITEM\n      <SOURCE WAVE\n        FILE /abs/hat.wav\n'
                    '      >\n    >\n  >\n>\n')
    assert rebase_media_paths(doc, tmp_path / "a", tmp_path / "b" / "c") == 1
    files = [line.text.strip() for s in doc.root.walk("SOURCE") for line in s.lines("FILE")]
    assert files == ['FILE "../../a/Audio/kick one.wav" 1', 'FILE "C:\\\\x\\\\snare.wav"',
                     "FILE /abs/hat.wav"]


def test_an_ardour_copy_outside_its_session_folder_is_refused(tmp_path: Path):
    import pytest

    from bridge.plan import Plan, RenameTrack
    from bridge.session.ardour import apply_plan_to_file

    session = tmp_path / "song" / "song.ardour"
    session.parent.mkdir()
    session.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<Session version="7003"/>\n')
    plan = Plan([RenameTrack(track="1", name="Kick")])
    with pytest.raises(ValueError, match="opens only from its own folder"):
        apply_plan_to_file(session, plan, out=tmp_path / "elsewhere.ardour")
    assert not (tmp_path / "elsewhere.ardour").exists()
