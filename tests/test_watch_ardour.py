"""The watching bridge with a real headless Ardour: Ardour itself saves its session (its own
temporary file, rename, ``.bak``, ``.pending``), the bridge recognises the save, labels the
generic tracks and renames them live over Ardour's OSC, read back from Ardour's strip list."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from ardour_fixtures import require_ardour
from test_watch_e2e import drum_stems, recorded_stems, wait_until, write_wav
from test_watch_jobs import RecordingPlanner

from bridge.config import Config
from bridge.service import BridgeService
from bridge.watch.jobs import LabelJob, ProposalMemory

pytestmark = pytest.mark.ardour


def _real_planner_or_none():  # noqa: ANN202
    try:
        from bridge.assist.labeller.model import load_model

        load_model()
    except Exception:
        return None
    from bridge.assist.label import plan_labels

    return plan_labels


@pytest.mark.parametrize("labeller", ["recording", "real"])
def test_ardour_save_is_labelled_live(tmp_path: Path, labeller: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    require_ardour()
    from bridge.daw.ardour import OscClient
    from bridge.daw.ardour_runtime import ArdourHost, TrackSpec, create_session

    planner = RecordingPlanner() if labeller == "recording" else _real_planner_or_none()
    if planner is None:
        from _support import missing

        missing("the shipped labeller model (bridge/assist/labeller/model.npz)")
    caplog.set_level(logging.INFO, logger="bridge")
    media = tmp_path / "media"
    stems = drum_stems(4.0) if labeller == "recording" else recorded_stems(6.0)
    files = {k: write_wav(media / f"take{i}.wav", v) for i, (k, v) in enumerate(stems.items())}
    projects = tmp_path / "projects"
    session_file = create_session(projects / "song", "song",
                                  [TrackSpec(f"Audio {i + 1}", path)
                                   for i, path in enumerate(files.values())], sample_rate=48000)
    host = ArdourHost(session_file).start()
    try:
        cfg = Config(watch_folders=[projects], debounce_ms=200, data_dir=tmp_path / "data",
                     ardour_port=host.osc_port, answer_timeout_ms=1500)
        cfg.data_dir.mkdir()
        job = LabelJob(ProposalMemory(cfg.memory_path), cfg.stems_dir, plan=planner)
        with BridgeService(cfg, job=job, spool=False) as service:
            with OscClient("127.0.0.1", host.osc_port) as osc:
                osc.send("/set_surface", 0, 31, 16384, 0, 0, 0, 0)
                time.sleep(0.2)
                mtime = session_file.stat().st_mtime_ns
                osc.send("/save_state")  # Ardour writes its own session file
                assert wait_until(lambda: session_file.stat().st_mtime_ns != mtime, 15)
                assert service.wait_delivery(1, 60), list(service.errors)
                delivery = service.deliveries[0]
                assert delivery.how == "live", delivery
                names = [s.name for s in osc.strip_list(timeout_s=3.0) if s.kind != "V"]
        if labeller == "recording":
            assert names == [f"Stem {n}" for n in range(1, 5)]
        else:
            assert names == ["Kick", "Snare", "Hi-Hat", "Bass"], names
    finally:
        host.stop()
    assert "applied live through Ardour OSC" in caplog.text
