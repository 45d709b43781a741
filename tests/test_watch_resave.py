"""Saves after the first one: the pending plan numbered like a fresh analysis, stems replaced
in place behind an unchanged project, and what the log says about them.

Real watchdog observers on real folders, real WAV files, and (where names are decided) the real
label assistant with its shipped model.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_watch_e2e import (
    RATE,
    TrackSpec,
    _require_labeller,
    drum_stems,
    make_session,
    recorded_stems,
    rpp_text,
    save_like_reaper,
    wait_until,
    write_wav,
)
from test_watch_jobs import RecordingPlanner
from test_watch_service import _config, _service

from bridge.plan import Plan, RenameTrack, SetColor, SetVolume
from bridge.watch.jobs import LabelJob, ProposalMemory

REPO = Path(__file__).resolve().parents[1]


def _renames(plan: Plan) -> dict[str, str]:
    return {e.track: e.name for e in plan if isinstance(e, RenameTrack)}


# -- 1. the pending plan is numbered against the whole session ---------------------------------
def test_pending_plan_numbers_names_like_a_fresh_analysis(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _require_labeller()
    from bridge.assist.label import plan_labels
    from bridge.service import BridgeService
    from bridge.session.rpp_session import load_session

    caplog.set_level(logging.INFO, logger="bridge")
    cfg = _config(tmp_path)  # nobody listens on the REAPER port: plans stay pending
    project, specs = make_session(cfg.watch_folders[0] / "song", recorded_stems(6.0))
    with BridgeService(cfg, spool=False) as service:
        save_like_reaper(project, rpp_text(specs))
        assert service.wait_delivery(1, 60), list(service.errors)
        assert service.deliveries[-1].how == "pending", service.deliveries[-1]
        first = service.pending.get(project.resolve())
        assert first is not None
        assert _renames(first[0])[specs[1].guid] == "Snare"
        # an edit of another kind waiting for the same project is not the watcher's to drop
        service.pending.store.put(project.resolve(), Plan([*first[0], SetVolume(
            track=specs[0].guid, track_name=specs[0].name, volume_db=-3.0)]))

        # a second snare on a new track, and the bass track named by hand
        folder = project.parent
        write_wav(folder / "Media/Track 05-001.wav", recorded_stems(6.0, "Soft")["snare"])
        snare2 = TrackSpec("Track 05", "Media/Track 05-001.wav", 6.0)
        # white noise: the labeller calls it unknown
        noise = np.random.default_rng(3).normal(0.0, 0.1, 6 * RATE)
        write_wav(folder / "Media/Audio 06.wav", noise)
        odd = TrackSpec("Audio 06", "Media/Audio 06.wav", 6.0)
        bass = TrackSpec("Bass DI", specs[3].media, specs[3].length_s, specs[3].guid)
        tracks = [*specs[:3], bass, snare2, odd]
        save_like_reaper(project, rpp_text(tracks))
        assert service.wait_delivery(2, 60), list(service.errors)
        assert service.settle(30)
        # only the two new tracks were heard; the others' labels were remembered
        assert "6 tracks, 2 new/changed analysed" in caplog.text
        waiting = service.pending.get(project.resolve())
        assert waiting is not None
        plan = waiting[0]
        fresh = plan_labels(load_session(project), {t.guid: folder / t.media for t in tracks})

        # no new audio, but the kick track named by hand: its waiting rename is withdrawn
        kick = TrackSpec("Kick In", specs[0].media, specs[0].length_s, specs[0].guid)
        analysed = caplog.text.count("new/changed analysed")
        save_like_reaper(project, rpp_text([kick, *tracks[1:]]))
        assert wait_until(lambda: "Audio 01: 'Kick' withdrawn" in caplog.text, 30), caplog.text
        assert caplog.text.count("new/changed analysed") == analysed  # nothing heard again
        after = service.pending.get(project.resolve())
        assert after is not None
        assert not [e for e in after[0] if e.track == kick.guid and e.op != "set_volume"]
        assert _renames(after[0])[snare2.guid] == "Snare 2"

    # exactly the renames (and colours) a fresh analysis of the saved project proposes
    assert _renames(plan) == _renames(fresh), (plan.describe(), fresh.describe())
    assert _renames(plan)[specs[1].guid] == "Snare 1"
    assert _renames(plan)[snare2.guid] == "Snare 2"
    names = list(_renames(plan).values())
    assert len(names) == len(set(names)), names
    colours = {(e.track, e.color) for e in plan if isinstance(e, SetColor)}
    assert colours == {(e.track, e.color) for e in fresh if isinstance(e, SetColor)}
    # the hand-named track's earlier rename and colour are withdrawn; the volume stays
    assert not [e for e in plan if e.track == bass.guid and e.op != "set_volume"]
    assert [e.op for e in plan if isinstance(e, SetVolume)] == ["set_volume"]
    # the log says the plan was replaced and what became of the earlier renames
    assert "pending plan replaced" in caplog.text
    assert "'Snare' is now 'Snare 1'" in caplog.text
    assert "Audio 04: 'Bass' withdrawn" in caplog.text
    # the unknown track is logged at INFO with its best guesses
    unknown = [r for r in caplog.records if "Audio 06: not renamed (unknown: " in r.getMessage()]
    assert unknown and unknown[0].levelno == logging.INFO


# -- 2. a stem replaced in place -------------------------------------------------------------
def _save_and_settle(service, project: Path, text: str) -> None:  # noqa: ANN001
    """Save like REAPER and wait until the watcher saw it and every job is done."""
    seen = service.watcher.events_seen
    save_like_reaper(project, text)
    assert wait_until(lambda: service.watcher.events_seen > seen, 10)
    assert service.settle(30)


def _replace_in_place(path: Path, samples: np.ndarray, keep_mtime: bool) -> None:
    """Overwrite an audio file in place (same inode, same size), as an editor that saves into
    the file does; ``keep_mtime`` puts the old modification time back, as some tools do."""
    before = path.stat()
    write_wav(path, samples)  # opens the same file for writing: same inode
    assert path.stat().st_size == before.st_size and path.stat().st_ino == before.st_ino
    if keep_mtime:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_stem_replaced_in_place_is_analysed_when_the_project_is_resaved_unchanged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge")
    cfg = _config(tmp_path)
    # the media lives outside the watched folder (absolute paths): only the save can tell
    media = tmp_path / "media"
    stems = drum_stems(2.0)
    specs = []
    for n, samples in enumerate(stems.values(), start=1):
        write_wav(media / f"Track {n}.wav", samples)
        specs.append(TrackSpec(f"Track {n}", str(media / f"Track {n}.wav"), 2.0))
    project = cfg.watch_folders[0] / "song" / "Song.RPP"
    project.parent.mkdir(parents=True)
    planner = RecordingPlanner()
    with _service(cfg, planner) as service:
        save_like_reaper(project, rpp_text(specs))
        assert service.wait_delivery(1, 30)
        assert len(planner.calls) == 1

        # saved again, nothing changed anywhere: nothing is analysed
        _save_and_settle(service, project, rpp_text(specs))
        assert len(planner.calls) == 1
        assert "unchanged since it was last processed" in caplog.text

        # Track 2's file rewritten with other audio, same size, old mtime put back
        _replace_in_place(media / "Track 2.wav", drum_stems(2.0, seed=9)["bass"], True)
        save_like_reaper(project, rpp_text(specs))  # the same bytes
        assert wait_until(lambda: len(planner.calls) == 2, 15), caplog.text
        assert list(planner.calls[1]) == [specs[1].guid]
        assert service.settle(10)

        # and once it has been analysed, the next identical save analyses nothing
        _save_and_settle(service, project, rpp_text(specs))
        assert len(planner.calls) == 2


def test_stem_replaced_in_place_without_a_save_is_checked(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge")
    cfg = _config(tmp_path)
    project, specs = make_session(cfg.watch_folders[0] / "song", drum_stems(2.0))
    planner = RecordingPlanner()
    with _service(cfg, planner) as service:
        save_like_reaper(project, rpp_text(specs))
        assert service.wait_delivery(1, 30)
        assert service.settle(10)
        # a file the project uses is rewritten in place; the project is not saved
        _replace_in_place(project.parent / specs[2].media, drum_stems(2.0, seed=5)["kick"],
                          False)
        assert wait_until(lambda: len(planner.calls) == 2, 15), caplog.text
        assert list(planner.calls[1]) == [specs[2].guid]
        # a file no project uses is not a reason to look again
        write_wav(project.parent / "Media/unused.wav", drum_stems(2.0)["kick"])
        time.sleep(0.5)
        assert service.settle(10)
        assert len(planner.calls) == 2


# -- 3. what the log says ----------------------------------------------------------------------
def test_missing_media_is_said_and_not_counted_as_analysed(tmp_path: Path) -> None:
    project, specs = make_session(tmp_path / "song", drum_stems(2.0))
    (project.parent / specs[1].media).unlink()
    project.write_text(rpp_text(specs))
    planner = RecordingPlanner()
    job = LabelJob(ProposalMemory(tmp_path / "watch.sqlite"), tmp_path / "stems", plan=planner)
    result = job.run(project, "reaper")
    summary = result.summary()
    assert "3 new/changed analysed" in summary, summary
    assert "1 missing media" in summary, summary
    assert set(planner.calls[0]) == {specs[0].guid, specs[2].guid, specs[3].guid}
    # the next save with the media still missing: nothing analysed, still said
    project.write_text(rpp_text(specs) + "\n")
    again = job.run(project, "reaper").summary()
    assert "new/changed analysed" not in again or "0 new/changed analysed" in again, again
    assert "1 missing media" in again, again


def test_a_slow_in_place_write_is_not_reported_malformed(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge")
    cfg = _config(tmp_path)  # debounce 100 ms
    project, specs = make_session(cfg.watch_folders[0] / "song", drum_stems(2.0))
    data = rpp_text(specs).encode()
    with _service(cfg, RecordingPlanner()) as service:
        with open(project, "wb") as fh:  # written straight into the project file
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(0.3)  # longer than the debounce: the half file settles once
            fh.write(data[len(data) // 2:])
        assert service.wait_delivery(1, 30), list(service.errors)
        assert service.settle(10)
        assert not service.errors, list(service.errors)
        assert service.deliveries[0].edits == 8
    assert "malformed" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_project_still_malformed_after_the_retry_is_a_warning_with_file_and_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge")
    cfg = _config(tmp_path)
    project, specs = make_session(cfg.watch_folders[0] / "song", drum_stems(2.0))
    good = rpp_text(specs)
    with _service(cfg, RecordingPlanner()) as service:
        save_like_reaper(project, good[: len(good) // 2])
        assert wait_until(lambda: service.errors, 10)
        assert service.settle(10)
        save_like_reaper(project, good)
        assert service.wait_delivery(1, 30)
    bad = [r for r in caplog.records if "malformed project" in r.getMessage()]
    assert len(bad) == 1, [r.getMessage() for r in bad]
    assert bad[0].levelno == logging.WARNING
    assert str(project.resolve()) in bad[0].getMessage()
    assert "line " in bad[0].getMessage()


def test_debug_output_is_the_bridges_not_its_libraries(tmp_path: Path) -> None:
    _require_labeller()
    folder = tmp_path / "projects"
    project, specs = make_session(folder / "song", dict(list(recorded_stems(2.0).items())[:2]))
    (tmp_path / "config.toml").write_text("")
    env = {**os.environ, "STUDIO_BRIDGE_DATA": str(tmp_path / "data"),
           "STUDIO_BRIDGE_CONFIG": str(tmp_path / "config.toml"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "-vv", "watch", str(folder), "--dry-run",
         "--debounce-ms", "50"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        assert wait_until(lambda: any("bridge running" in x for x in lines), 20), lines
        save_like_reaper(project, rpp_text(specs))  # two stems: labelled in this process
        assert wait_until(lambda: any("propose Audio 02" in x for x in lines), 30), lines
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(10)
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert "DEBUG bridge.watch: event for" in out, out  # -vv still shows the bridge's debug
    assert "propose Audio 01: rename to 'Kick'" in out, out
    assert "watchdog" not in out, out[:3000]
    assert "numba" not in out, out[:3000]


# -- the job's numbering, whatever order the tracks arrived in ---------------------------------
class TableLabeller:
    """A labeller that answers from a table (media file name -> class): which tracks a job
    hears, and in what order, is then the only thing that varies between runs."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.heard: list[str] = []

    def result(self, name: str):  # noqa: ANN201
        from bridge.assist.labeller import LabelResult

        cls = self.table[name]
        conf = 0.3 if cls == "unknown" else 0.9
        scores = {"keys": 0.3, "strings": 0.2} if cls == "unknown" else {cls: 0.9}
        return LabelResult(cls, conf, scores, f"table: {cls}", {"active_s": 1.0})

    def label(self, session, stems, *, rename_all=False, min_confidence=None):  # noqa: ANN001, ANN201
        from bridge.assist.label import TrackLabel, wants_rename

        out = []
        for track in session.tracks:
            if track.guid in stems and wants_rename(track, rename_all):
                self.heard.append(track.guid)
                out.append(TrackLabel(track, self.result(Path(stems[track.guid]).name)))
        return out

    def __call__(self, session, stems, **kw):  # noqa: ANN001, ANN003, ANN204
        from bridge.assist.label import plan_from_labels

        return plan_from_labels(self.label(session, stems), session)


CLASSES = ("kick", "snare", "guitar", "vocal", "unknown")


def test_any_order_of_saves_numbers_like_one_fresh_analysis(tmp_path_factory) -> None:  # noqa: ANN001
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from bridge.assist.label import plan_from_labels

    runs: list[int] = []

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(classes=st.lists(st.sampled_from(CLASSES), min_size=1, max_size=6),
           cuts=st.lists(st.integers(1, 6), max_size=4))
    def check(classes: list[str], cuts: list[int]) -> None:
        runs.append(len(classes))
        folder = tmp_path_factory.mktemp("song")
        tone = 0.2 * np.sin(np.linspace(0, 2000, RATE // 2))
        specs = []
        for n, cls in enumerate(classes, start=1):
            write_wav(folder / f"Media/{n:02d}-{cls}.wav", tone * (1 + 0.01 * n))
            specs.append(TrackSpec(f"Audio {n:02d}", f"Media/{n:02d}-{cls}.wav", 0.5))
        labeller = TableLabeller({f"{n:02d}-{c}.wav": c for n, c in enumerate(classes, 1)})
        job = LabelJob(ProposalMemory(":memory:"), folder / "stems", plan=labeller)  # type: ignore[arg-type]
        project = folder / "Song.RPP"
        # the tracks arrive over several saves, the last save holds all of them
        ends = sorted({min(c, len(specs)) for c in cuts} | {len(specs)})
        for end in ends:
            project.write_text(rpp_text(specs[:end]))
            result = job.run(project, "reaper")
            assert result.full_plan is not None
        # every track was heard exactly once, whatever the split
        assert sorted(labeller.heard) == sorted(s.guid for s in specs)
        from bridge.session.rpp_session import load_session

        session = load_session(project)
        fresh = TableLabeller(labeller.table)
        expected = plan_from_labels(
            fresh.label(session, {s.guid: folder / s.media for s in specs}), session)
        assert [(e.track, e.op, getattr(e, "name", None), getattr(e, "color", None))
                for e in result.full_plan] == \
            [(e.track, e.op, getattr(e, "name", None), getattr(e, "color", None))
             for e in expected]
        job.memory.close()

    check()
    assert len(runs) >= 20 and max(runs) > 1, runs
