"""Recognising saves: which files are projects, debouncing bursts, the real watchdog observer."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_watch_e2e import save_like_reaper, wait_until

from bridge.watch.events import Debouncer
from bridge.watch.observer import ProjectWatcher, WatchError
from bridge.watch.saves import OwnWrites, project_kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Song.RPP", "reaper"), ("song.rpp", "reaper"), ("My Mix v2.Rpp", "reaper"),
        ("sess.ardour", "ardour"), ("Bänd – take 3.RPP", "reaper"),
        ("Song.rpp-bak", None), ("Song.RPP-bak", None), ("Song.rpp-undo", None),
        ("Song.RPP-PROX", None), ("Song.RPP.tmp1234", None), ("Song.RPP.tmp", None),
        (".Song.RPP.x8f2.tmp", None), (".Song.RPP", None), ("Song.RPP~", None),
        ("sess.ardour.bak", None), ("sess.pending", None), ("sess.history", None),
        ("sess.ardour.tmp", None), ("Song.wav", None), ("Song", None), ("RPP", None),
    ],
)
def test_project_kind(name: str, kind: str | None) -> None:
    assert project_kind(Path("/x") / name) == kind


@given(stem=st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=30),
       ending=st.sampled_from([".rpp-bak", ".RPP-bak", ".ardour.bak", ".RPP.tmp", ".pending",
                               ".rpp-undo", "~", ".ardour.pending", ".history"]))
def test_backups_and_temporaries_are_never_projects(stem: str, ending: str) -> None:
    assert project_kind(stem + ending) is None


def test_own_writes_are_recognised_until_the_daw_saves_again(tmp_path: Path) -> None:
    own = OwnWrites()
    project = tmp_path / "Song.RPP"
    project.write_bytes(b"<REAPER_PROJECT\n>\n")
    assert not own.is_own(project)
    written = b"<REAPER_PROJECT\n  <TRACK\n  >\n>\n"
    own.remember(project, written)
    project.write_bytes(written)
    assert own.is_own(project) and own.is_own(str(project))
    project.write_bytes(written + b"\n")  # the engineer saved something else
    assert not own.is_own(project)
    assert len(own) == 0


# -- debouncer -------------------------------------------------------------------------------
def test_a_burst_fires_once_after_the_quiet_period() -> None:
    fired: list[tuple[str, float]] = []
    d: Debouncer[str] = Debouncer(0.1, lambda k: fired.append((k, time.monotonic())))
    d.start()
    try:
        start = time.monotonic()
        for _ in range(10):
            last_touch = time.monotonic()
            d.touch("a")
            time.sleep(0.02)
        assert d.flush(2.0)
        assert [k for k, _ in fired] == ["a"]
        assert fired[0][1] - last_touch >= 0.09  # waited for the quiet period
        assert fired[0][1] - start < 1.0
    finally:
        d.stop()


def test_keys_are_debounced_independently() -> None:
    fired: list[str] = []
    d: Debouncer[str] = Debouncer(0.05, fired.append)
    d.start()
    try:
        d.touch("a")
        d.touch("b")
        d.touch("a")
        assert d.flush(2.0)
        assert sorted(fired) == ["a", "b"]
    finally:
        d.stop()


def test_a_key_that_never_goes_quiet_still_fires_after_max_wait() -> None:
    fired: list[str] = []
    d: Debouncer[str] = Debouncer(0.1, fired.append, max_wait_s=0.3)
    d.start()
    try:
        end = time.monotonic() + 0.8
        while time.monotonic() < end:
            d.touch("busy")
            time.sleep(0.02)
        assert 2 <= fired.count("busy") <= 4
    finally:
        d.stop()


def test_an_exception_in_the_handler_does_not_stop_the_debouncer() -> None:
    fired: list[str] = []

    def fire(key: str) -> None:
        if key == "bad":
            raise RuntimeError("boom")
        fired.append(key)

    d: Debouncer[str] = Debouncer(0.02, fire)
    d.start()
    try:
        d.touch("bad")
        assert d.flush(2.0)
        d.touch("good")
        assert d.flush(2.0)
        assert fired == ["good"]
    finally:
        d.stop()


# -- the observer on a real folder -----------------------------------------------------------
class Saves:
    def __init__(self) -> None:
        self.seen: list[tuple[Path, str]] = []
        self.lock = threading.Lock()

    def __call__(self, path: Path, daw: str) -> None:
        with self.lock:
            self.seen.append((path, daw))


def _project(n_tracks: int = 1) -> str:
    tracks = "".join(f'  <TRACK {{{i}}}\n    NAME "Audio {i}"\n  >\n' for i in range(n_tracks))
    return f'<REAPER_PROJECT 0.1 "7.27"\n{tracks}>\n'


@pytest.mark.parametrize("temp_style", ["suffix", "rpp-named"])
def test_a_reaper_save_is_one_event(tmp_path: Path, temp_style: str) -> None:
    saves = Saves()
    song = tmp_path / "song"
    song.mkdir()
    project = song / "Song.RPP"
    project.write_text(_project(1))
    with ProjectWatcher([tmp_path], saves, debounce_s=0.1) as watcher:
        save_like_reaper(project, _project(2), temp_style=temp_style)
        assert wait_until(lambda: saves.seen, 3.0)
        assert watcher.flush(3.0)
        time.sleep(0.2)
    assert saves.seen == [(project.resolve(), "reaper")]
    assert (song / "Song.rpp-bak").exists()


def test_ardour_save_with_backup_and_pending_is_one_event(tmp_path: Path) -> None:
    saves = Saves()
    session = tmp_path / "sess"
    session.mkdir()
    main = session / "sess.ardour"
    main.write_text("<Session/>")
    with ProjectWatcher([tmp_path], saves, debounce_s=0.1) as watcher:
        (session / "sess.pending").write_text("x")
        (session / "sess.ardour.bak").write_text("<Session/>")
        tmp = session / "sess.ardour.tmp"
        tmp.write_text('<Session version="7003"/>')
        os.replace(tmp, main)
        (session / "sess.history").write_text("<UndoHistory/>")
        (session / "sess.pending").unlink()
        assert wait_until(lambda: saves.seen, 3.0)
        assert watcher.flush(3.0)
        time.sleep(0.2)
    assert saves.seen == [(main.resolve(), "ardour")]


def test_two_projects_saved_together_are_two_saves(tmp_path: Path) -> None:
    saves = Saves()
    a, b = tmp_path / "a" / "A.RPP", tmp_path / "b" / "B.RPP"
    for p in (a, b):
        p.parent.mkdir()
    with ProjectWatcher([tmp_path], saves, debounce_s=0.1) as watcher:
        for _ in range(3):
            save_like_reaper(a, _project(1))
            save_like_reaper(b, _project(1))
        assert wait_until(lambda: len(saves.seen) >= 2, 3.0)
        assert watcher.flush(3.0)
        time.sleep(0.2)
    assert sorted(p.name for p, _ in saves.seen) == ["A.RPP", "B.RPP"]


def test_own_writes_hidden_folders_and_ignored_roots_are_not_saves(tmp_path: Path) -> None:
    saves = Saves()
    own = OwnWrites()
    project = tmp_path / "Song.RPP"
    project.write_text(_project(1))
    data = tmp_path / "bridge-data"
    data.mkdir()
    hidden = tmp_path / ".studio-bridge" / "backups"
    hidden.mkdir(parents=True)
    with ProjectWatcher([tmp_path], saves, debounce_s=0.1, own_writes=own,
                        ignore=[data]) as watcher:
        written = _project(3).encode()
        own.remember(project, written)
        save_like_reaper(project, written)
        (data / "Copy.RPP").write_text(_project(1))
        (hidden / "Song.RPP").write_text(_project(1))
        time.sleep(0.3)
        assert watcher.flush(3.0)
        assert saves.seen == []
        save_like_reaper(project, _project(4))  # the engineer saves: that one counts
        assert wait_until(lambda: saves.seen, 3.0)
    assert saves.seen == [(project.resolve(), "reaper")]


def test_a_project_file_argument_watches_only_that_project(tmp_path: Path) -> None:
    saves = Saves()
    one, other = tmp_path / "One.RPP", tmp_path / "Other.RPP"
    one.write_text(_project(1))
    other.write_text(_project(1))
    with ProjectWatcher([one], saves, debounce_s=0.05) as watcher:
        save_like_reaper(other, _project(2))
        save_like_reaper(one, _project(2))
        assert wait_until(lambda: saves.seen, 3.0)
        assert watcher.flush(3.0)
        time.sleep(0.15)
    assert saves.seen == [(one.resolve(), "reaper")]


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(WatchError, match="no such folder"):
        ProjectWatcher([tmp_path / "absent"], Saves())
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(WatchError, match="not a REAPER"):
        ProjectWatcher([tmp_path / "notes.txt"], Saves())
    with pytest.raises(WatchError, match="no folder"):
        ProjectWatcher([], Saves())


def test_a_rename_save_settles_fast_and_a_direct_write_waits_the_full_debounce(
        tmp_path: Path) -> None:
    saves = Saves()
    renamed, direct = tmp_path / "Renamed.RPP", tmp_path / "Direct.RPP"
    with ProjectWatcher([tmp_path], saves, debounce_s=1.0):
        t0 = time.monotonic()
        save_like_reaper(renamed, _project(1))  # temp file + rename: complete when it lands
        assert wait_until(lambda: saves.seen, 3.0)
        fast = time.monotonic() - t0
        t0 = time.monotonic()
        direct.write_text(_project(1))  # written in place: could still be growing
        assert wait_until(lambda: len(saves.seen) == 2, 5.0)
        slow = time.monotonic() - t0
    assert fast < 0.5, fast
    assert slow >= 0.95, slow
    assert [p.name for p, _ in saves.seen] == ["Renamed.RPP", "Direct.RPP"]
