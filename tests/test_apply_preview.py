"""``studio-bridge apply``: the dry run shows what the real run will do (skips included), a bad
plan or a plan that changes nothing writes nothing, and the exit status says which case it was."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from _support import REPO

from bridge.session.rpp_session import load_session

GUIDS = {name: f"{{{i:08d}-0000-4000-8000-000000000000}}"
         for i, name in enumerate(["A", "F", "B", "C", "D"], start=1)}


def project(tmp_path: Path) -> Path:
    """Five tracks: A at the top, folder F holding B, then C and D at the top again."""
    isbus = {"A": "0 0", "F": "1 1", "B": "2 -1", "C": "0 0", "D": "0 0"}
    text = ['<REAPER_PROJECT 0.1 "7.0/linux-x86_64" 1700000000', "  SAMPLERATE 48000 0 0"]
    for name, guid in GUIDS.items():
        text += [f"  <TRACK {guid}", f'    NAME "Audio {name}"', "    PEAKCOL 16576",
                 "    VOLPAN 1 0 -1 -1 1", "    MUTESOLO 0 0 0", f"    ISBUS {isbus[name]}",
                 f"    TRACKID {guid}", "  >"]
    text.append(">")
    path = tmp_path / "song" / "song.RPP"
    path.parent.mkdir()
    path.write_text("\n".join(text) + "\n")
    path.chmod(0o640)
    return path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.cli", "apply", *args],
                          capture_output=True, text=True, cwd=REPO, input=stdin, timeout=60)


def write_plan(tmp_path: Path, edits: list[dict], name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"edits": edits}))
    return path


def eq(track: str) -> dict:
    return {"op": "set_eq_band", "track": GUIDS[track], "band": 0, "band_type": "high_pass",
            "freq_hz": 80.0, "gain_db": 0.0, "q": 0.7}


def test_dry_run_says_which_edits_would_be_skipped_and_why(tmp_path: Path) -> None:
    song = project(tmp_path)
    before = song.read_bytes()
    plan = write_plan(tmp_path, [
        {"op": "rename_track", "track": GUIDS["A"], "track_name": "Audio A", "name": "Kick"},
        eq("A"),
        {"op": "move_to_folder", "track": GUIDS["B"], "track_name": "Audio B", "folder": "X"},
        {"op": "move_to_folder", "track": GUIDS["C"], "track_name": "Audio C", "folder": "Y"},
        {"op": "move_to_folder", "track": GUIDS["D"], "track_name": "Audio D", "folder": "Y"},
        {"op": "set_pan", "track": "{GONE}", "pan": 0.5},
    ])
    done = run(str(plan), str(song), "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()

    def after(number: int) -> str:
        at = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"{number}."))
        return lines[at + 1] if at + 1 < len(lines) else ""

    assert "would be skipped" not in after(1)
    assert "would be skipped" in after(2) and "Apply pending plan" in after(2)
    assert "would be skipped" in after(3) and "folder already" in after(3)
    assert "would be skipped" not in after(4) and "would be skipped" not in after(5)
    assert "would be skipped" in after(6) and "no track {GONE}" in after(6)
    assert "3 edit(s) would be written" in done.stdout and "3 would be skipped" in done.stdout
    assert song.read_bytes() == before
    assert not (song.parent / ".studio-bridge").exists()


def test_the_real_run_does_what_the_dry_run_said(tmp_path: Path) -> None:
    song = project(tmp_path)
    plan = write_plan(tmp_path, [
        {"op": "rename_track", "track": GUIDS["A"], "name": "Kick"}, eq("A"),
        {"op": "move_to_folder", "track": GUIDS["C"], "folder": "Y"},
        {"op": "move_to_folder", "track": GUIDS["D"], "folder": "Y"},
    ])
    done = run(str(plan), str(song))
    assert done.returncode == 3, done.stderr
    assert "1 edit(s) skipped" in done.stderr and "EQ band 1" in done.stderr
    names = [t.name for t in load_session(song).tracks]
    assert names == ["Kick", "Audio F", "Audio B", "Y", "Audio C", "Audio D"]


def test_nothing_is_written_when_no_edit_applies(tmp_path: Path) -> None:
    song = project(tmp_path)
    before = song.read_bytes()
    plan = write_plan(tmp_path, [eq("A"), eq("C")])
    out = tmp_path / "copy.RPP"
    for extra in (["--out", str(out)], []):
        done = run(str(plan), str(song), *extra)
        assert done.returncode == 4, done.stderr
        assert "no edit applies" in done.stderr.lower() and "nothing written" in done.stderr
    assert not out.exists()
    assert song.read_bytes() == before
    assert not (song.parent / ".studio-bridge").exists()


def test_an_empty_plan_writes_nothing_and_succeeds(tmp_path: Path) -> None:
    song = project(tmp_path)
    out = tmp_path / "copy.RPP"
    done = run("-", str(song), "--out", str(out), stdin='{"edits": []}')
    assert done.returncode == 0, done.stderr
    assert "Nothing to change" in done.stdout and not out.exists()


def test_help_documents_the_exit_status() -> None:
    done = run("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for words in ("Exit status", "0 every edit was written", "1 error",
                  "3 some edits were written and some skipped",
                  "4 no edit applies"):
        assert words in text, words


def test_a_missing_field_names_file_edit_op_and_field_and_writes_nothing(tmp_path: Path) -> None:
    song = project(tmp_path)
    before = song.read_bytes()
    out = tmp_path / "copy.RPP"
    plan = write_plan(tmp_path, [{"op": "rename_track", "track": GUIDS["A"], "name": "Kick"},
                                 {"op": "set_volume", "track": GUIDS["B"]}], name="levels.json")
    done = run(str(plan), str(song), "--out", str(out))
    assert done.returncode == 1
    assert "levels.json: edit 2 (set_volume): volume_db is missing" in done.stderr
    assert not out.exists() and song.read_bytes() == before


def test_a_huge_volume_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    song = project(tmp_path)
    before = song.read_bytes()
    plan = write_plan(tmp_path, [{"op": "set_volume", "track": GUIDS["A"], "volume_db": 1e9}])
    for extra in ([], ["--dry-run"]):
        done = run(str(plan), str(song), *extra)
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        assert "edit 1 (set_volume): volume_db" in done.stderr and "-150..+24" in done.stderr
    assert song.read_bytes() == before


def test_a_copy_gets_a_normal_file_mode_and_in_place_keeps_the_original(tmp_path: Path) -> None:
    song = project(tmp_path)
    plan = write_plan(tmp_path, [{"op": "rename_track", "track": GUIDS["A"], "name": "Kick"}])
    old = os.umask(0o022)
    try:
        out = tmp_path / "copy.RPP"
        assert run(str(plan), str(song), "--out", str(out)).returncode == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        assert run(str(plan), str(song)).returncode == 0
        assert stat.S_IMODE(song.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_dry_run_on_an_ardour_session_reports_skips(tmp_path: Path) -> None:
    session = tmp_path / "song" / "song.ardour"
    session.parent.mkdir()
    session.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<Session version="7003"/>\n')
    done = run("-", str(session), "--dry-run",
               stdin=json.dumps({"edits": [{"op": "rename_track", "track": "7", "name": "K"}]}))
    assert done.returncode == 0, done.stderr
    assert "would be skipped: no track with route id 7" in done.stdout
