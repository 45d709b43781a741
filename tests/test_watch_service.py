"""The running bridge: delivery rule (live over OSC / pending / written into a closed project),
malformed projects, and clean shutdown of the command on SIGTERM / SIGINT.

The label decisions come from a recording planner (test_watch_jobs.py) so these tests do not
depend on the trained model; test_watch_e2e.py runs the real one.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_watch_e2e import (
    ReaperPeer,
    drum_stems,
    free_udp_port,
    make_session,
    rpp_text,
    save_like_reaper,
    wait_until,
)
from test_watch_jobs import RecordingPlanner

from bridge.config import Config
from bridge.service import BridgeService, daw_running
from bridge.watch.jobs import LabelJob, ProposalMemory

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, **kw: object) -> Config:
    folder = tmp_path / "projects"
    folder.mkdir(exist_ok=True)
    return Config(watch_folders=[folder], debounce_ms=100, data_dir=tmp_path / "data",
                  reaper_port=free_udp_port(), reaper_feedback_port=free_udp_port(),
                  answer_timeout_ms=300, **kw)  # type: ignore[arg-type]


def _service(cfg: Config, planner: RecordingPlanner, **kw: object) -> BridgeService:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    job = LabelJob(ProposalMemory(cfg.memory_path), cfg.stems_dir, plan=planner)
    return BridgeService(cfg, job=job, spool=False, **kw)  # type: ignore[arg-type]


def _song(cfg: Config, seconds: float = 2.0):  # noqa: ANN202
    return make_session(cfg.watch_folders[0] / "song", drum_stems(seconds))


def test_live_reaper_gets_renames_over_osc_and_colours_via_the_pending_action(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge")
    cfg = _config(tmp_path)
    project, specs = _song(cfg)
    with ReaperPeer([s.name for s in specs], cfg.reaper_feedback_port) as peer:
        cfg.reaper_port = peer.port
        with _service(cfg, RecordingPlanner()) as service:
            save_like_reaper(project, rpp_text(specs))
            assert service.wait_delivery(1, 30), list(service.errors)
            assert service.deliveries[0].how == "live"
            assert wait_until(lambda: len(peer.renames()) == 4, 3)
            assert peer.renames() == {n: f"Stem {n}" for n in range(1, 5)}
            # colours have no OSC address: they wait in the pending store and the action runs
            assert peer.messages("/action/_STUDIO_BRIDGE_APPLY_PENDING")
            pending = service.pending.get(project)
            assert pending is not None
            assert {e.op for e in pending[0]} == {"set_color"} and len(pending[0]) == 4
    assert "applied live through REAPER OSC" in caplog.text


def test_without_a_daw_the_plan_waits_and_is_not_proposed_twice(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    project, specs = _song(cfg)
    with _service(cfg, RecordingPlanner()) as service:
        save_like_reaper(project, rpp_text(specs))
        assert service.wait_delivery(1, 30), list(service.errors)
        assert service.deliveries[0].how == "pending"
        plan, meta = service.pending.get(project)
        assert len(plan) == 8 and meta["project"] == str(project.resolve())
        save_like_reaper(project, rpp_text(specs) + "\n")  # saved again, nothing new
        assert service.settle(20)
        assert len(service.deliveries) == 1
    assert project.read_text() == rpp_text(specs) + "\n"  # the project itself untouched


@pytest.mark.skipif(daw_running("reaper"), reason="REAPER runs here: closed-file write is off")
def test_closed_project_is_written_safely_when_enabled(tmp_path: Path) -> None:
    cfg = _config(tmp_path, write_closed_projects=True)
    project, specs = _song(cfg)
    planner = RecordingPlanner()
    with _service(cfg, planner) as service:
        save_like_reaper(project, rpp_text(specs))
        assert service.wait_delivery(1, 30), list(service.errors)
        assert service.deliveries[0].how == "written", service.deliveries[0]
        assert service.settle(10)
        time.sleep(0.4)  # the bridge's own write must not come back as a save
        assert service.settle(10)
        assert len(service.deliveries) == 1 and len(planner.calls) == 1
    text = project.read_text()
    assert all(f'NAME "Stem {n}"' in text or f"NAME Stem {n}" in text for n in range(1, 5))
    backups = list((project.parent / ".studio-bridge" / "backups").iterdir())
    assert len(backups) == 1 and backups[0].read_text() == rpp_text(specs)


def test_a_malformed_save_is_logged_and_the_next_good_save_is_processed(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge")
    cfg = _config(tmp_path)
    project, specs = _song(cfg)
    good = rpp_text(specs)
    truncated = good[: good.index("  <TRACK", good.index("  <TRACK") + 1) + 40]
    with _service(cfg, RecordingPlanner()) as service:
        save_like_reaper(project, truncated)
        assert wait_until(lambda: service.errors, 10)
        assert service.settle(10)
        path, message = service.errors[0]
        assert path == project.resolve() and "malformed project (line " in message
        assert "still open" in message
        assert service.queue._thread is not None and service.queue._thread.is_alive()
        save_like_reaper(project, b"\x00\xff not a project at all")
        assert wait_until(lambda: len(service.errors) == 2, 10)
        assert "not a REAPER project" in service.errors[1][1]
        save_like_reaper(project, good)
        assert service.wait_delivery(1, 30)
        assert service.deliveries[0].edits == 8
    assert "malformed project (line" in caplog.text


@pytest.mark.parametrize(("cmd", "sig"), [("watch", signal.SIGTERM), ("watch", signal.SIGINT),
                                          ("run", signal.SIGTERM)])
def test_the_commands_stop_cleanly_on_a_signal(tmp_path: Path, cmd: str, sig: int) -> None:
    folder = tmp_path / "projects"
    folder.mkdir()
    data = tmp_path / "data"
    env = dict(os.environ, STUDIO_BRIDGE_DATA=str(data),
               STUDIO_BRIDGE_CONFIG=str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text(
        f'[watch]\nfolders = ["{folder}"]\ndebounce_ms = 50\n'
        f"[reaper]\nfeedback_port = {free_udp_port()}\nport = {free_udp_port()}\n")
    args = ["watch", str(folder)] if cmd == "watch" else ["run"]
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if "bridge running" in line or not line:
                break
        assert any("bridge running" in x for x in lines), "".join(lines)
        if cmd == "run":  # the full service also answers the DAW-side actions
            heartbeat = data / "reaper-spool" / "bridge.json"
            assert wait_until(heartbeat.exists, 5), "no spool heartbeat"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert "Traceback" not in out


def test_run_without_folders_says_what_to_set(tmp_path: Path) -> None:
    env = dict(os.environ, STUDIO_BRIDGE_DATA=str(tmp_path / "data"),
               STUDIO_BRIDGE_CONFIG=str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text("[watch]\ndebounce_ms = 50\n")
    proc = subprocess.run([sys.executable, "-m", "bridge.cli", "run"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "[watch] folders" in proc.stderr and str(tmp_path / "config.toml") in proc.stderr
    bad = subprocess.run([sys.executable, "-m", "bridge.cli", "run", "--config",
                          str(tmp_path / "absent.toml")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "absent.toml: settings file not found" in bad.stderr


def test_a_dry_run_delivers_nothing_and_remembers_nothing(tmp_path: Path) -> None:
    from test_watch_e2e import _require_labeller, recorded_stems

    _require_labeller()
    cfg = _config(tmp_path)
    project, specs = make_session(cfg.watch_folders[0] / "song", recorded_stems(3.0))
    project.write_text(rpp_text(specs))
    with BridgeService(cfg, dry_run=True, spool=False) as service:
        service.process_now(project)
        assert service.wait_delivery(1, 60), list(service.errors)
        assert service.deliveries[0].how == "dry-run" and service.deliveries[0].edits >= 4
        assert service.pending.get(project) is None
    assert not cfg.memory_path.exists()
    with BridgeService(cfg, spool=False) as service:  # the real run still proposes it all
        service.process_now(project)
        assert service.wait_delivery(1, 60), list(service.errors)
        assert service.deliveries[0].how == "pending"
