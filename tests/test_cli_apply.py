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
