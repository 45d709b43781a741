"""Writing a project: atomic replace, timestamped backup, refusal when it changed on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.daw.rpp_file import apply_plan_to_file
from bridge.plan import Plan, RenameTrack, SetVolume
from bridge.session.project_file import (
    ProjectChangedError,
    backup_folder,
    read_with_fingerprint,
    safe_write,
)
from bridge.session.rpp_session import load_session

PROJECT = (b'<REAPER_PROJECT 0.1 "7.0" 1\n  <TRACK {A}\n    NAME "Audio 1"\n'
           b"    VOLPAN 1 0 -1\n  >\n>\n")


def write_project(tmp_path: Path) -> Path:
    path = tmp_path / "song.RPP"
    path.write_bytes(PROJECT)
    return path


def test_safe_write_keeps_a_backup_of_what_was_there(tmp_path: Path):
    path = write_project(tmp_path)
    data, fp = read_with_fingerprint(path)
    backup = safe_write(path, data.replace(b"Audio 1", b"Kick"), fp)
    assert backup is not None and backup.parent == backup_folder(path)
    assert backup.read_bytes() == PROJECT
    assert b"Kick" in path.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_safe_write_refuses_when_the_file_changed_since_read(tmp_path: Path):
    path = write_project(tmp_path)
    data, fp = read_with_fingerprint(path)
    path.write_bytes(PROJECT + b"\n")  # the engineer saved meanwhile
    with pytest.raises(ProjectChangedError, match="changed on disk"):
        safe_write(path, b"new", fp)
    assert path.read_bytes() == PROJECT + b"\n"
    assert not backup_folder(path).exists()


def test_writing_a_copy_never_touches_the_original(tmp_path: Path):
    path = write_project(tmp_path)
    copy = tmp_path / "song-mixed.RPP"
    plan = Plan([SetVolume(track="{A}", volume_db=-3.0), RenameTrack(track="{A}", name="Kick")])
    result = apply_plan_to_file(path, plan, out=copy)
    assert len(result.applied) == 2 and result.backup is None
    assert path.read_bytes() == PROJECT
    track = load_session(copy).tracks[0]
    assert track.name == "Kick" and track.volume_db == pytest.approx(-3.0)
    with pytest.raises(ProjectChangedError, match="exists already"):
        apply_plan_to_file(path, plan, out=copy)


def test_a_copy_into_a_new_folder_makes_the_folder(tmp_path: Path):
    path = write_project(tmp_path)
    copy = tmp_path / "versions" / "day 2" / "song-mixed.RPP"
    apply_plan_to_file(path, Plan([RenameTrack(track="{A}", name="Kick")]), out=copy)
    assert load_session(copy).tracks[0].name == "Kick" and path.read_bytes() == PROJECT
    assert [p.name for p in copy.parent.iterdir()] == ["song-mixed.RPP"]


def test_in_place_apply_backs_up_and_is_idempotent(tmp_path: Path):
    path = write_project(tmp_path)
    plan = Plan([SetVolume(track="{A}", volume_db=-3.0)])
    first = apply_plan_to_file(path, plan)
    assert first.backup is not None and first.backup.read_bytes() == PROJECT
    after_first = path.read_bytes()
    second = apply_plan_to_file(path, plan)
    assert second.backup is None  # nothing changed, nothing written
    assert path.read_bytes() == after_first


def test_failed_write_leaves_the_original(tmp_path: Path, monkeypatch):
    path = write_project(tmp_path)
    data, fp = read_with_fingerprint(path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("bridge.session.project_file.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        safe_write(path, b"half-written", fp)
    assert path.read_bytes() == PROJECT
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
