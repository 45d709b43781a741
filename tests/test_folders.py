"""Folder grouping (``move_to_folder``) written into a REAPER project file: the new folder track,
the moved tracks, sends that follow their sources, and what is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.daw.rpp_file import apply_plan_to_file
from bridge.plan import MoveToFolder, Plan, PlanError, RenameTrack
from bridge.session import rpp
from bridge.session.rpp_session import load_session


def guid(n: int) -> str:
    return f"{{{n:08X}-0000-4000-8000-{n:012X}}}"


def track(n: int, name: str, *, isbus: str = "0 0", extra: str = "") -> str:
    return (f"  <TRACK {guid(n)}\n    NAME {rpp.quote(name)}\n    VOLPAN 1 0 -1 -1 1\n"
            f"    ISBUS {isbus}\n{extra}    TRACKID {guid(n)}\n  >\n")


PROJECT = (
    '<REAPER_PROJECT 0.1 "7.0" 1\n  TEMPO 120 4 4\n'
    + track(1, "Kick")
    + track(2, "Bass")
    + track(3, "Snare", extra="    AUXRECV 1 0 1 0 0 0 0 0 0 -1:U 0 -1 ''\n")
    + track(4, "Keys bus", isbus="1 1")
    + track(5, "Piano", isbus="2 -1", extra="    AUXRECV 1 0 0.5 0 0 0 0 0 0 -1:U 0 -1 ''\n")
    + track(6, "Hat")
    + ">\n"
)


def drums(*numbers: int, folder: str = "Drums") -> Plan:
    return Plan([MoveToFolder(track=guid(n), folder=folder, color="#C8453A",
                              reason="drum family") for n in numbers])


def test_drums_gather_under_a_new_folder_track(tmp_path: Path):
    path = tmp_path / "song.RPP"
    path.write_text(PROJECT)
    result = apply_plan_to_file(path, drums(1, 3, 6))
    assert len(result.applied) == 3 and result.skipped == []
    assert result.backup is not None and result.backup.read_text() == PROJECT
    session = load_session(path)
    names = [t.name for t in session.tracks]
    assert names == ["Drums", "Kick", "Snare", "Hat", "Bass", "Keys bus", "Piano"]
    levels = [t.folder_level for t in session.tracks]
    assert levels == [0, 1, 1, 1, 0, 0, 1]
    assert session.tracks[0].is_folder and session.tracks[0].color == "#C8453A"
    doc = rpp.read(str(path))
    sends = {t.values("NAME")[0]: t.get("AUXRECV") for t in doc.tracks}
    # Snare and Piano both received from Bass (index 1), which is now index 4; the rest of
    # each line keeps its own text
    assert sends["Snare"].text.strip() == "AUXRECV 4 0 1 0 0 0 0 0 0 -1:U 0 -1 ''"
    assert sends["Piano"].text.strip() == "AUXRECV 4 0 0.5 0 0 0 0 0 0 -1:U 0 -1 ''"
    assert doc.root.children[0].text.strip() == "TEMPO 120 4 4"


def test_tracks_in_folders_and_lone_tracks_are_left_alone(tmp_path: Path):
    path = tmp_path / "song.RPP"
    path.write_text(PROJECT)
    plan = Plan([*drums(4, 5, 2), MoveToFolder(track=guid(9), folder="Drums")])
    result = apply_plan_to_file(path, plan)
    why = {e.track: reason for e, reason in result.skipped}
    assert result.applied == []
    assert "opens or closes a folder" in why[guid(4)]
    assert "opens or closes a folder" in why[guid(5)]
    assert why[guid(2)] == "only one track for folder 'Drums'"
    assert "no track" in why[guid(9)]
    assert path.read_text() == PROJECT  # nothing applied: the file is untouched


def test_an_existing_folder_of_that_name_is_not_doubled(tmp_path: Path):
    path = tmp_path / "song.RPP"
    path.write_text(PROJECT)
    result = apply_plan_to_file(path, drums(1, 3, folder="keys bus"))
    assert result.applied == [] and "exists already" in result.skipped[0][1]


def test_other_edits_still_apply_and_the_plan_round_trips(tmp_path: Path):
    path = tmp_path / "song.RPP"
    path.write_text(PROJECT)
    plan = Plan([RenameTrack(track=guid(6), name="Hi-Hat"), *drums(6, 1)])
    assert Plan.from_json(plan.to_json()) == plan
    result = apply_plan_to_file(path, plan)
    assert len(result.applied) == 3
    names = [t.name for t in load_session(path).tracks]
    assert names == ["Drums", "Kick", "Hi-Hat", "Bass", "Snare", "Keys bus", "Piano"]


def test_bad_folder_edits_are_refused():
    with pytest.raises(PlanError, match="one-line name"):
        Plan.from_dict({"edits": [{"op": "move_to_folder", "track": "{A}", "folder": " "}]})
    with pytest.raises(PlanError, match="#RRGGBB"):
        Plan.from_dict({"edits": [{"op": "move_to_folder", "track": "{A}", "folder": "Drums",
                                   "color": "red"}]})


def _labelled(session_names: list[str], labels: list[str], tmp_path: Path):
    from bridge.assist.label import TrackLabel
    from bridge.assist.labeller import LabelResult
    from bridge.session.model import Session, Track

    tracks = [Track(guid=guid(i + 1), name=n, index=i) for i, n in enumerate(session_names)]
    session = Session(path=tmp_path / "song.RPP", daw="reaper", tracks=tracks)
    results = [TrackLabel(t, LabelResult(lab, 0.9, {lab: 0.9}, f"audio: {lab} 0.90",
                                         {"active_s": 10.0, "rms_active_dbfs": -20.0})
                          if lab != "unknown" else None)
               for t, lab in zip(tracks, labels, strict=True)]
    return session, results


def test_labels_group_each_family_of_two_or_more(tmp_path: Path):
    from bridge.assist.label import plan_from_labels

    names = [f"Audio {i}" for i in range(1, 8)]
    session, labels = _labelled(names, ["kick", "bass", "snare", "vocal", "hihat", "vocal",
                                        "unknown"], tmp_path)
    assert not [e for e in plan_from_labels(labels, session) if isinstance(e, MoveToFolder)]
    plan = plan_from_labels(labels, session, folders=True)
    moves = [e for e in plan if isinstance(e, MoveToFolder)]
    assert {(e.track_name, e.folder) for e in moves} == {
        ("Audio 1", "DRUMS"), ("Audio 3", "DRUMS"), ("Audio 5", "DRUMS"),
        ("Audio 4", "VOCALS"), ("Audio 6", "VOCALS")}  # one bass: no folder of one
    assert all(e.reason.startswith(("drums family: 3 tracks", "vocals family: 2 tracks"))
               for e in moves)
    # the Plan goes into a project file as two folders with the tracks in their order
    path = tmp_path / "song.RPP"
    path.write_text('<REAPER_PROJECT 0.1 "7.0" 1\n'
                    + "".join(track(i + 1, n) for i, n in enumerate(names)) + ">\n")
    result = apply_plan_to_file(path, plan)
    assert result.skipped == []
    after = load_session(path)
    assert [(t.name, t.folder_level) for t in after.tracks] == [
        ("DRUMS", 0), ("Kick", 1), ("Snare", 1), ("Hi-Hat", 1), ("Bass", 0),
        ("VOCALS", 0), ("Lead Vox", 1), ("BV 1", 1), ("Audio 7", 0)]


def test_the_watcher_does_not_propose_a_folder_for_a_track_already_in_one():
    from bridge.session.model import Track
    from bridge.watch.jobs import already_in_session

    edit = MoveToFolder(track=guid(1), folder="DRUMS")
    assert already_in_session(edit, Track(guid=guid(1), name="Kick", index=0, folder_level=1))
    assert already_in_session(edit, Track(guid=guid(1), name="Bus", index=0, folder_depth=1))
    assert not already_in_session(edit, Track(guid=guid(1), name="Kick", index=0))
