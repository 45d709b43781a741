"""``label --folders``: every folder move the label assistant proposes is one the project-file
writer carries out, on any folder layout (the preview and the result agree)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.assist.label import FAMILY_FOLDERS, TrackLabel, plan_from_labels
from bridge.assist.labeller import LabelResult
from bridge.assist.labeller.model import VOCABULARY
from bridge.daw.rpp_file import apply_plan
from bridge.plan import MoveToFolder
from bridge.session import rpp
from bridge.session.rpp_session import session_from_document


def _result(label: str) -> LabelResult:
    scores = {c: 0.0 for c in VOCABULARY}
    scores[label] = 0.9
    return LabelResult(label, 0.9, scores, f"audio: {label} 0.90",
                       {"active_s": 10.0, "rms_active_dbfs": -20.0})


def _project(tracks: list[tuple[str, int, int]]) -> rpp.Document:
    """(name, ISBUS role, depth change) per track."""
    text = ['<REAPER_PROJECT 0.1 "7.0/linux-x86_64" 1700000000']
    for i, (name, role, depth) in enumerate(tracks):
        guid = f"{{{i + 1:08d}-0000-4000-8000-000000000000}}"
        text += [f"  <TRACK {guid}", f'    NAME "{name}"', "    VOLPAN 1 0 -1 -1 1",
                 f"    ISBUS {role} {depth}", f"    TRACKID {guid}", "  >"]
    text.append(">")
    return rpp.parse("\n".join(text) + "\n")


def _folder_moves(doc: rpp.Document, labels: dict[int, str], tmp_path: Path
                  ) -> tuple[list[MoveToFolder], list[tuple[object, str]]]:
    session = session_from_document(doc, tmp_path / "song.RPP")
    tl = [TrackLabel(session.tracks[i], _result(label)) for i, label in sorted(labels.items())
          if not session.tracks[i].is_folder]
    plan = plan_from_labels(tl, session, folders=True)
    moves = [e for e in plan if isinstance(e, MoveToFolder)]
    result = apply_plan(doc, plan, tmp_path)
    return moves, result.skipped


def test_tracks_already_in_folders_are_not_proposed(tmp_path: Path) -> None:
    # the QA layout: a folder opens at "Audio 06" and closes at "Audio 08"
    doc = _project([("Audio 01", 0, 0), ("Audio 02", 0, 0), ("Audio 06", 1, 1),
                    ("Audio 07", 0, 0), ("Audio 08", 2, -1), ("Audio 09", 0, 0),
                    ("Audio 10", 0, 0)])
    moves, skipped = _folder_moves(
        doc, {0: "kick", 1: "snare", 3: "keys", 4: "keys", 5: "bass", 6: "bass"}, tmp_path)
    assert not skipped, skipped
    moved = {e.track_name: e.folder for e in moves}
    assert moved == {"Audio 01": "DRUMS", "Audio 02": "DRUMS", "Audio 09": "BASS",
                     "Audio 10": "BASS"}


def test_a_family_whose_folder_exists_is_left_alone(tmp_path: Path) -> None:
    doc = _project([("drums", 1, 1), ("Audio 02", 2, -1), ("Audio 03", 0, 0),
                    ("Audio 04", 0, 0), ("Audio 05", 0, 0)])
    moves, skipped = _folder_moves(doc, {2: "kick", 3: "snare", 4: "vocal"}, tmp_path)
    assert moves == [] and skipped == []


def test_a_family_left_with_one_free_track_gets_no_folder(tmp_path: Path) -> None:
    doc = _project([("Audio 01", 1, 1), ("Audio 02", 2, -1), ("Audio 03", 0, 0)])
    moves, skipped = _folder_moves(doc, {1: "guitar", 2: "guitar"}, tmp_path)
    assert moves == [] and skipped == []


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[tuple[str, int, int]], dict[int, str]]:
    """A well-formed folder layout (folders open and close, maybe nested) plus labels."""
    count = draw(st.integers(2, 12))
    tracks: list[tuple[str, int, int]] = []
    depth = 0
    for i in range(count):
        left = count - i - 1
        choices = [0]
        if left > depth:  # room to close whatever is opened here
            choices.append(1)
        if depth > 0:
            choices += [-1] * depth
        change = draw(st.sampled_from(choices))
        if change < 0:
            change = -draw(st.integers(1, depth))
        if i == count - 1:
            change = -depth
        role = 1 if change > 0 else (2 if change < 0 else 0)
        name = draw(st.sampled_from([f"Audio {i + 1:02d}", *FAMILY_FOLDERS.values()]))
        tracks.append((name if role == 1 else f"Audio {i + 1:02d}", role, change))
        depth += change
    classes = ["kick", "snare", "bass", "guitar", "keys", "vocal", "strings"]
    labels = {i: draw(st.sampled_from(classes)) for i in range(count) if draw(st.booleans())}
    return tracks, labels


@settings(max_examples=120, deadline=None)
@given(layouts())
def test_every_proposed_folder_move_is_applied(layout) -> None:
    import tempfile

    tracks, labels = layout
    doc = _project(tracks)
    with tempfile.TemporaryDirectory() as tmp:
        moves, skipped = _folder_moves(doc, labels, Path(tmp))
    assert not [s for s in skipped if isinstance(s[0], MoveToFolder)], (tracks, skipped)
    for edit in moves:  # and each folder is new and holds two or more tracks
        assert sum(e.folder == edit.folder for e in moves) >= 2
