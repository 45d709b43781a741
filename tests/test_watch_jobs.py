"""The job queue and the incremental label job, on real projects, audio files and stem renders.

The label assistant is replaced here by a recording planner so that *which* stems the job hands
over can be checked exactly; the real assistant runs in test_watch_e2e.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_watch_e2e import drum_stems, make_session, rpp_text, write_wav

from bridge.plan import Plan, RenameTrack, SetColor
from bridge.session.model import Session
from bridge.watch.jobs import JobQueue, LabelJob, ProposalMemory, track_fingerprint


class RecordingPlanner:
    """Names each stem's track after the stem's loudness rank; records what it was given."""

    def __init__(self, confidence: dict[str, float] | None = None) -> None:
        self.calls: list[dict[str, Path]] = []
        self.confidence = confidence or {}

    def __call__(self, session: Session, stems: dict[str, Path], *, rename_all: bool = False,
                 min_confidence: float | None = None) -> Plan:
        self.calls.append(dict(stems))
        plan = Plan()
        for guid, stem in stems.items():
            audio, _ = sf.read(stem)
            assert np.abs(audio).max() > 0.01, f"{stem} is silent"
            track = session.track(guid)
            conf = self.confidence.get(track.name, 0.9)
            plan.add(RenameTrack(track=guid, track_name=track.name, name=f"Stem {track.index + 1}",
                                 reason="test", figures={"confidence": conf}))
            plan.add(SetColor(track=guid, track_name=track.name, color="#C8453A"))
        return plan


@pytest.fixture
def project(tmp_path: Path):  # noqa: ANN201
    path, specs = make_session(tmp_path / "song", drum_stems(3.0))
    path.write_text(rpp_text(specs))
    return path, specs


def _job(tmp_path: Path, planner: RecordingPlanner, **kw: object) -> LabelJob:
    memory = ProposalMemory(tmp_path / "data" / "watch.sqlite")
    return LabelJob(memory, tmp_path / "data" / "stems", plan=planner, **kw)  # type: ignore[arg-type]


def test_first_save_analyses_every_track_then_only_what_changed(tmp_path: Path, project) -> None:  # noqa: ANN001
    path, specs = project
    planner = RecordingPlanner()
    job = _job(tmp_path, planner)

    first = job.run(path, "reaper")
    assert sorted(first.changed) == sorted(s.guid for s in specs)
    assert set(planner.calls[0]) == {s.guid for s in specs}
    assert [e.op for e in first.plan].count("rename_track") == 4
    job.memory.record(path, first.plan, "pending")

    # the same bytes again: nothing to do
    assert job.run(path, "reaper").skipped == "unchanged since it was last processed"

    # a fader move is a new save but no new audio
    path.write_text(rpp_text(specs).replace("VOLPAN 1 0 -1 -1 1", "VOLPAN 0.5 0 -1 -1 1", 1))
    assert job.run(path, "reaper").skipped == "no new or changed audio"
    assert len(planner.calls) == 1

    # one stem re-recorded: only that track is rendered and labelled
    time.sleep(0.01)
    write_wav(path.parent / specs[2].media, drum_stems(3.0, seed=7)["hihat"] * 0.5)
    path.write_text(rpp_text(specs) + "\n")
    third = job.run(path, "reaper")
    assert third.changed == [specs[2].guid]
    assert list(planner.calls[-1]) == [specs[2].guid]
    # ... and the same rename is not proposed twice
    assert not third.plan
    assert {why for _, why in third.dropped} == {"already proposed for this project"}


def test_a_new_track_is_the_only_one_analysed(tmp_path: Path, project) -> None:  # noqa: ANN001
    from test_watch_e2e import TrackSpec

    path, specs = project
    planner = RecordingPlanner()
    job = _job(tmp_path, planner)
    job.memory.record(path, job.run(path, "reaper").plan, "live")
    write_wav(path.parent / "Media/Audio 05.wav", drum_stems(3.0)["bass"])
    extra = TrackSpec("Audio 05", "Media/Audio 05.wav", 3.0)
    path.write_text(rpp_text([*specs, extra]))
    result = job.run(path, "reaper")
    assert result.changed == [extra.guid]
    assert [(e.op, e.track) for e in result.plan] == [("rename_track", extra.guid),
                                                      ("set_color", extra.guid)]


def test_missing_media_is_a_problem_and_is_retried(tmp_path: Path, project) -> None:  # noqa: ANN001
    path, specs = project
    media = path.parent / specs[1].media
    hidden = media.with_suffix(".away")
    media.rename(hidden)
    planner = RecordingPlanner()
    job = _job(tmp_path, planner)
    first = job.run(path, "reaper")
    assert specs[1].guid in first.missing and specs[1].guid not in first.problems
    assert specs[1].guid not in planner.calls[0]
    hidden.rename(media)  # the engineer found the file
    path.write_text(rpp_text(specs) + "\n")
    second = job.run(path, "reaper")
    assert second.changed == [specs[1].guid]


def test_low_confidence_edits_are_dropped_with_their_colour(tmp_path: Path, project) -> None:  # noqa: ANN001
    path, specs = project
    planner = RecordingPlanner(confidence={specs[0].name: 0.3})
    job = _job(tmp_path, planner, min_confidence=0.5)
    result = job.run(path, "reaper")
    assert specs[0].guid not in {e.track for e in result.plan}
    assert {e.track for e in result.plan} == {s.guid for s in specs[1:]}
    assert any("0.30 < 0.50" in why for _, why in result.dropped)


def test_a_malformed_project_raises_a_parse_error_with_the_line(tmp_path: Path) -> None:
    from bridge.session.rpp import RppParseError

    bad = tmp_path / "Bad.RPP"
    bad.write_text('<REAPER_PROJECT 0.1 "7.27"\n  <TRACK {A}\n    NAME x\n')
    job = _job(tmp_path, RecordingPlanner())
    with pytest.raises(RppParseError) as err:
        job.run(bad, "reaper")
    assert err.value.line == 2


def test_fingerprint_ignores_fader_name_and_position_but_not_audio(tmp_path: Path, project) -> None:  # noqa: ANN001
    from bridge.session.rpp_session import load_session

    path, specs = project
    track = load_session(path).tracks[0]
    before = track_fingerprint(track)
    track.volume_db, track.name = -12.0, "Kick"
    track.items[0].position_s += 4.0  # slid along the timeline: same audio
    assert track_fingerprint(track) == before
    track.items[0].source_offset_s += 0.5  # trimmed: other audio
    assert track_fingerprint(track) != before


# -- the queue ------------------------------------------------------------------------------------
def test_queue_coalesces_waiting_jobs_and_reruns_a_project_saved_while_running() -> None:
    gate = threading.Event()
    ran: list[str] = []

    def handler(path: Path, daw: str) -> None:
        ran.append(path.name)
        if len(ran) == 1:
            gate.wait(5)

    queue = JobQueue(handler)
    queue.start()
    try:
        a, b = Path("/p/A.RPP"), Path("/p/B.RPP")
        assert queue.submit(a, "reaper")
        assert _wait(lambda: ran == ["A.RPP"])
        assert queue.submit(a, "reaper")       # saved while its job runs: runs once more
        assert not queue.submit(a, "reaper")   # ... but only once
        assert queue.submit(b, "reaper")
        assert not queue.submit(b, "reaper")
        gate.set()
        assert queue.wait_idle(5)
        assert ran == ["A.RPP", "A.RPP", "B.RPP"]
        assert queue.coalesced == 2
    finally:
        assert queue.stop(5)


def test_queue_survives_a_failing_job() -> None:
    ran: list[str] = []

    def handler(path: Path, daw: str) -> None:
        if path.name == "bad.RPP":
            raise RuntimeError("boom")
        ran.append(path.name)

    queue = JobQueue(handler)
    queue.start()
    try:
        queue.submit(Path("bad.RPP"), "reaper")
        queue.submit(Path("good.RPP"), "reaper")
        assert queue.wait_idle(5)
        assert ran == ["good.RPP"] and queue.failed == 1 and queue.done == 1
    finally:
        queue.stop(5)


def _wait(check, timeout: float = 5.0) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_whole_file_tracks_label_their_file_and_edited_tracks_are_rendered(
        tmp_path: Path, project) -> None:  # noqa: ANN001
    path, specs = project
    text = rpp_text(specs)
    # track 2 plays only its first second: that track must be rendered, the others need not
    marker = f'NAME "{specs[1].name}"'
    head, tail = text.split(marker)
    tail = tail.replace(f"LENGTH {specs[1].length_s}", "LENGTH 1.0", 1)
    path.write_text(head + marker + tail)
    planner = RecordingPlanner()
    job = _job(tmp_path, planner)
    result = job.run(path, "reaper")
    given = planner.calls[0]
    assert result.direct == 3
    for spec in (specs[0], specs[2], specs[3]):
        assert given[spec.guid] == (path.parent / spec.media).resolve()
    rendered = given[specs[1].guid]
    assert rendered.is_relative_to(tmp_path / "data" / "stems")
    info = sf.info(str(rendered))
    assert info.duration >= 1.0
    audio, rate = sf.read(rendered)
    assert np.abs(audio[: rate]).max() > 0.01
    assert np.abs(audio[int(1.05 * rate):]).max(initial=0.0) == 0.0
