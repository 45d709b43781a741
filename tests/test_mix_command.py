"""``studio-bridge mix`` on the bundled example session: JSON Plan, report, copy of the project."""

from __future__ import annotations

import json
from pathlib import Path

from _support import REPO, require_path
from click.testing import CliRunner

from bridge.cli import main
from bridge.plan import Plan

LABELS = {"Audio 1": "kick", "Audio 2": "snare", "Track 3": "hihat", "Audio 4": "bass",
          "Track 5": "keys", "Audio 6": "guitar", "Track 7": "strings", "Audio 8": "vocal"}


def test_mix_json_report_and_copy(tmp_path: Path) -> None:
    project = require_path(REPO / "examples" / "untidy_session" / "untidy_session.RPP")
    before = project.read_bytes()
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS))
    report = tmp_path / "report.html"
    copy = tmp_path / "mixed.RPP"
    out = CliRunner().invoke(main, [
        "mix", str(project), "--labels", str(labels), "--json", "--max-move-db", "6",
        "--report", str(report), "--write-copy", str(copy)])
    assert out.exit_code == 0, out.output + out.stderr
    plan = Plan.from_json(out.stdout)
    volumes = [e for e in plan if e.op == "set_volume"]
    bands = [e for e in plan if e.op == "set_eq_band"]
    assert volumes and bands
    # the cap bounds each track's balance move; a common headroom trim comes on top
    assert all(abs(e.figures["move_db"] - e.figures["headroom_trim_db"]) <= 6.0 + 0.01
               for e in volumes)
    assert all(e.reason for e in plan)
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 3
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert project.read_bytes() == before  # the original is never touched
    text = copy.read_text(errors="replace")
    assert "VOLPAN" in text

    bad = tmp_path / "bad.json"
    bad.write_text('{"No such track": "kick"}')
    out = CliRunner().invoke(main, ["mix", str(project), "--labels", str(bad)])
    assert out.exit_code != 0 and "No such track" in out.stderr


def test_mix_apply_lands_live_over_osc_at_a_reaper_like_peer(tmp_path: Path,
                                                             monkeypatch) -> None:
    """--apply sends every fader move, in dB, to a peer that speaks REAPER's OSC dialect."""
    import socket

    from _support import shared_dir
    from test_reaper_osc import ReaperPeer  # the pattern-checking peer of the OSC tests

    from bridge.session.rpp_session import load_session

    project = require_path(REPO / "examples" / "untidy_session" / "untidy_session.RPP")
    session = load_session(project)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    feedback_port = probe.getsockname()[1]
    probe.close()
    peer = ReaperPeer(shared_dir() / "reaper" / "Default.ReaperOSC",
                      [t.name for t in session.tracks], feedback_port)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS))
    config = tmp_path / "config.toml"
    config.write_text(f'[reaper]\nport = {peer.port}\nfeedback_port = {feedback_port}\n'
                      f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setenv("STUDIO_BRIDGE_CONFIG", str(config))
    try:
        out = CliRunner().invoke(main, ["mix", str(project), "--labels", str(labels), "--no-eq",
                                        "--json", "--apply"])
    finally:
        peer.close()
    assert out.exit_code == 0, out.output + out.stderr
    plan = Plan.from_json(out.stdout)
    assert not peer.rejected
    got = {t.name: t.volume_db for t in peer.tracks}
    for edit in plan:
        assert abs(got[edit.track_name] - edit.volume_db) < 1e-3


def test_mix_apply_without_a_daw_fails_cleanly(tmp_path: Path, monkeypatch) -> None:
    project = require_path(REPO / "examples" / "untidy_session" / "untidy_session.RPP")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS))
    config = tmp_path / "config.toml"
    config.write_text("[reaper]\nport = 9\nfeedback_port = 39731\n"  # nobody answers there
                      "[apply]\nanswer_timeout_ms = 200\n"
                      f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setenv("STUDIO_BRIDGE_CONFIG", str(config))
    out = CliRunner().invoke(main, ["mix", str(project), "--labels", str(labels), "--no-eq",
                                    "--apply"])
    assert out.exit_code != 0
    assert "live apply failed" in out.stderr and "nothing was changed" in out.stderr


def test_mix_labels_read_the_take_and_file_names_as_hints(tmp_path, monkeypatch) -> None:
    from bridge.assist import labeller, pipeline
    from bridge.session.model import Item, Session, Source, Track

    seen: dict[str, str | None] = {}

    def fake_label_file(path, name_hint=None, **kw):
        seen[str(path)] = name_hint
        return labeller.LabelResult("unknown", 0.0, {}, "", {})

    monkeypatch.setattr(labeller, "label_file", fake_label_file)
    tracks = [Track(guid="{A}", name="Audio 01", index=0, items=[
                  Item(position_s=0.0, length_s=1.0, name="Bass DI.wav",
                       source=Source(kind="WAVE", file="Bass DI.wav"))]),
              Track(guid="{B}", name="Lead Vox", index=1)]
    session = Session(path=tmp_path / "s.RPP", daw="reaper", tracks=tracks)
    pipeline.label_stems(session, {"{A}": tmp_path / "a.wav", "{B}": tmp_path / "b.wav"})
    assert seen == {str(tmp_path / "a.wav"): "Bass DI.wav", str(tmp_path / "b.wav"): "Lead Vox"}
