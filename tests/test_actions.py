"""The DAW actions' real handlers, through the spool exchange, on the example session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _support import REPO

from bridge.daw.pending import PendingPlans
from bridge.daw.spool import SpoolServer
from bridge.plan import Plan
from bridge.session.rpp_session import load_session

EXAMPLE = REPO / "examples" / "untidy_session"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "song")
    return tmp_path / "song" / "untidy_session.RPP"


@pytest.fixture
def server(tmp_path: Path) -> SpoolServer:
    return SpoolServer(tmp_path / "spool", pending=PendingPlans(tmp_path / "pending"))


def ask(server: SpoolServer, project: Path, action: str, tracks: list[dict] | None = None,
        **options) -> dict:
    session = load_session(project)
    if tracks is None:
        tracks = [{"guid": t.guid, "name": t.name, "index": t.index} for t in session.tracks]
    request = {"protocol": 1, "id": f"r-{action}", "action": action, "project": str(project),
               "tracks": tracks, "options": options}
    (server.paths.requests / f"r-{action}.json").write_text(json.dumps(request))
    assert server.poll_once() == 1
    return json.loads((server.paths.responses / f"r-{action}.json").read_text())


def test_label_action_renames_generic_tracks(server, project):
    response = ask(server, project, "label")
    assert response["status"] == "ok", response
    plan = Plan.from_dict(response["plan"])
    renames = {e.track_name: e.name for e in plan if e.op == "rename_track"}
    assert len(renames) >= 5, plan.describe()
    assert renames.get("Audio 1") == "Kick" and renames.get("Audio 2") == "Snare"
    assert all(e.reason for e in plan)
    # working files stay in the project's own data folder
    assert (project.parent / ".studio-bridge" / "stems").is_dir()


def test_starter_mix_action_answers_for_the_selection_only(server, project):
    session = load_session(project)
    bass = session.tracks[3]
    response = ask(server, project, "starter_mix",
                   tracks=[{"guid": bass.guid, "name": bass.name, "index": 3}])
    assert response["status"] == "ok", response
    plan = Plan.from_dict(response["plan"])
    assert [e.op for e in plan] == ["set_volume"] and plan.edits[0].track == bass.guid
    assert abs(plan.edits[0].volume_db - bass.volume_db) <= 12.0


def test_suggest_eq_action_gives_bands_with_reasons(server, project):
    response = ask(server, project, "suggest_eq")
    plan = Plan.from_dict(response["plan"])
    bands = [e for e in plan if e.op == "set_eq_band"]
    assert bands and all(e.reason for e in bands)
    per_track: dict[str, int] = {}
    for e in bands:
        per_track[e.track] = per_track.get(e.track, 0) + 1
    assert max(per_track.values()) <= 8


def test_cleanup_action_writes_a_new_file_and_keeps_the_original(server, project):
    media = project.parent / "Audio" / "audio8.flac"
    clean, rate = sf.read(media, always_2d=True)
    noisy = clean + np.random.default_rng(3).normal(0, 0.05, clean.shape)
    sf.write(media, np.clip(noisy, -1, 1), rate, subtype="PCM_16")
    before = media.read_bytes()
    session = load_session(project)
    lead = session.tracks[7]
    response = ask(server, project, "cleanup", tracks=[{
        "guid": lead.guid, "name": lead.name, "index": 7,
        "items": [{"guid": lead.items[0].guid, "position_s": 0.0}]}], process="denoise")
    assert response["status"] == "ok", response
    plan = Plan.from_dict(response["plan"])
    (take,) = plan.edits
    assert take.op == "add_take" and take.item == 0
    new_file = project.parent / take.file  # relative to the project folder
    assert new_file.exists() and new_file.resolve() != media.resolve()
    assert sorted(p.name for p in media.parent.glob("audio8.cleaned*")) == [new_file.name]
    assert media.read_bytes() == before  # the original is never overwritten


def test_cleanup_of_an_unknown_item_is_a_clear_error(server, project):
    lead = load_session(project).tracks[7]
    response = ask(server, project, "cleanup", tracks=[{
        "guid": lead.guid, "name": lead.name, "index": 7,
        "items": [{"guid": "{NOT-THERE}", "position_s": 99.0}]}])
    assert response["status"] == "error" and "save the project" in response["error"]
