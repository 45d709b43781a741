"""Benchmark the watching bridge end to end: project save -> renames arriving over OSC.

Two measurements, each beside its anchor on the same input in the same run:

1. **one changed stem**: a warm bridge watches a session; each round adds one new stem (a new
   track with a generic name) and saves the project the way REAPER does. Measured: the time from
   the save's rename to the last OSC message at a REAPER-like peer on loopback, and the job
   alone. Anchor: the same job without the incremental path (every track re-rendered and
   relabelled, ``LabelJob.run(force=True)``), as a watcher without memory would do.
2. **cold session**: 32 tracks x 4 minutes, nothing cached, saved once: save -> last OSC
   message. Anchor: the same session with every track rendered (no "label the file itself"
   shortcut), i.e. render_stems of all tracks + plan_labels.

Run: ``.venv/bin/python benchmarks/bench_watch.py`` (``--help`` for sizes). Prints medians.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_watch_e2e import (  # noqa: E402
    RATE,
    ReaperPeer,
    TrackSpec,
    drum_stems,
    free_udp_port,
    recorded_stems,
    rpp_text,
    save_like_reaper,
    wait_until,
)

from bridge.config import Config  # noqa: E402
from bridge.service import BridgeService  # noqa: E402
from bridge.watch.jobs import LabelJob, ProposalMemory  # noqa: E402

SONIC_PI = Path("/usr/share/sonic-pi/samples")
LOOPS = ["loop_amen.flac", "guit_em9.flac", "ambi_piano.flac", "loop_tabla.flac"]


def source_audio(kind: int, variant: int, seconds: float) -> np.ndarray:
    """Distinct mono material per (kind, variant): synthetic drums/bass, or a Sonic Pi
    recording tiled to length and rotated so every variant's bytes differ."""
    if kind < 4:
        level = ("Hard", "Med", "Soft", "Hardest", "Softest")[variant % 5]
        one = list(recorded_stems(min(seconds, 16.0), level).values())[kind]
    else:
        path = SONIC_PI / LOOPS[(kind - 4) % len(LOOPS)]
        if path.is_file():
            data, rate = sf.read(path, always_2d=True)
            one = data.mean(axis=1)
            if rate != RATE:
                idx = np.arange(0, len(one), rate / RATE)
                one = np.interp(idx, np.arange(len(one)), one)
        else:
            one = drum_stems(8.0, seed=200 + variant)["bass"]
    n = int(seconds * RATE)
    reps = int(np.ceil(n / len(one)))
    out = np.tile(one, reps)[:n]
    return np.roll(out, variant * 1117) * (0.8 - 0.1 * variant)


def write_session(folder: Path, tracks: int, seconds: float) -> tuple[Path, list[TrackSpec]]:
    specs = []
    for n in range(tracks):
        name = f"Audio {n + 1:02d}"
        media = f"Media/{name}.wav"
        (folder / "Media").mkdir(parents=True, exist_ok=True)
        sf.write(folder / media, source_audio(n % 8, n // 8, seconds).astype(np.float32),
                 RATE, subtype="PCM_16")
        specs.append(TrackSpec(name, media, seconds))
    return folder / "Song.RPP", specs


def config_for(tmp: Path, watch: Path, peer_feedback: int, debounce_ms: int) -> Config:
    return Config(watch_folders=[watch], debounce_ms=debounce_ms, data_dir=tmp / "data",
                  reaper_feedback_port=peer_feedback, answer_timeout_ms=500)


def last_osc_after(peer: ReaperPeer, since: float, settle_s: float = 0.3) -> float:
    """Arrival time of the last message after ``since`` (waits until the peer goes quiet)."""
    count = -1
    while True:
        msgs = [m for m in peer.messages() if m[0] >= since]
        if len(msgs) == count and msgs:
            return msgs[-1][0]
        count = len(msgs)
        time.sleep(settle_s)


def bench_one_changed(repeats: int, debounce_ms: int, tracks: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp_text:
        tmp = Path(tmp_text)
        watch = tmp / "projects"
        project, specs = write_session(watch / "song", tracks, seconds)
        feedback = free_udp_port()
        ours_total, ours_job, anchor_job = [], [], []
        phases: list[dict[str, float]] = []
        with ReaperPeer([s.name for s in specs], feedback) as peer:
            cfg = config_for(tmp, watch, feedback, debounce_ms)
            cfg.reaper_port = peer.port
            with BridgeService(cfg, spool=False) as service:
                save_like_reaper(project, rpp_text(specs))
                if not service.wait_delivery(1, 300):
                    raise SystemExit(f"first save not delivered: {list(service.errors)}")
                first_done = time.perf_counter()
                anchor = LabelJob(ProposalMemory(tmp / "anchor.sqlite"), tmp / "anchor-stems")
                anchor.warm()
                anchor.wait_ready(120)
                for r in range(repeats):
                    n = len(specs) + 1
                    name = f"Audio {n:02d}"
                    media = f"Media/{name}.wav"
                    sf.write(project.parent / media,
                             source_audio(r % 4, 10 + r, seconds).astype(np.float32), RATE,
                             subtype="PCM_16")
                    specs.append(TrackSpec(name, media, seconds))
                    peer.names.append(name)
                    before = len(service.deliveries)
                    save_like_reaper(project, rpp_text(specs))
                    saved = time.perf_counter()
                    if not service.wait_delivery(before + 1, 120):
                        raise SystemExit(f"round {r}: no delivery (labelled unknown?): "
                                         f"{list(service.errors)}")
                    delivery = service.deliveries[-1]
                    if delivery.how != "live":
                        raise SystemExit(f"round {r}: delivered {delivery.how}: {delivery}")
                    last = last_osc_after(peer, saved)
                    ours_total.append(last - saved)
                    ours_job.append(sum(v for k, v in delivery.timings_s.items()
                                        if k != "deliver"))
                    phases.append(dict(delivery.timings_s))
                    assert service.settle(60)
                    t0 = time.perf_counter()
                    anchor.run(project, "reaper", force=True)
                    anchor_job.append(time.perf_counter() - t0)
                    anchor.after_job()  # its fresh workers start now: let them, before ours
                    anchor.wait_ready(120)
                anchor.close()
                renamed = wait_until(
                    lambda: sum(1 for m in peer.messages("/track/") if m[1].endswith("/name")
                                and m[0] >= first_done) >= repeats, 2.0)
        return {"ours_total": ours_total, "ours_job": ours_job, "anchor_job": anchor_job,
                "phases": {k: statistics.median(p.get(k, 0.0) for p in phases)
                           for k in ("load", "render", "label", "deliver")},
                "renamed": renamed, "tracks": tracks, "seconds": seconds}


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (label workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def idle_service_cpu_s(tmp: Path) -> float:
    """CPU seconds a service costs without any save: start, label workers up, stop."""
    watch = tmp / "idle"
    watch.mkdir()
    before = _cpu_s()
    with BridgeService(config_for(tmp / "data-idle", watch, free_udp_port(), 300),
                       spool=False) as service:
        service.job.planner.recycle_after_job = False  # type: ignore[union-attr]
        service.job.wait_ready(120)
    return _cpu_s() - before


def bench_cold(tracks: int, seconds: float, debounce_ms: int, repeats: int) -> dict:
    import bridge.watch.jobs as jobs

    ours, anchor, ready = [], [], []
    cpu: dict[str, list[float]] = {"ours": [], "anchor": []}
    with tempfile.TemporaryDirectory(prefix="bench-watch-cold-") as tmp_text:
        tmp = Path(tmp_text)
        idle_cpu = idle_service_cpu_s(tmp)
        t0 = time.perf_counter()
        project, specs = write_session(tmp / "src" / "song", tracks, seconds)
        made = time.perf_counter() - t0
        text = rpp_text(specs)
        for r in range(repeats):
            for mode in ("ours", "anchor"):
                watch = tmp / f"{mode}{r}"
                folder = watch / "song"
                folder.mkdir(parents=True)
                (folder / "Media").symlink_to(project.parent / "Media")
                feedback = free_udp_port()
                original = jobs.direct_stem
                if mode == "anchor":
                    jobs.direct_stem = lambda track: None  # noqa: E731
                cpu0 = _cpu_s()
                try:
                    with ReaperPeer([s.name for s in specs], feedback) as peer:
                        cfg = config_for(tmp / f"data-{mode}{r}", watch, feedback, debounce_ms)
                        cfg.reaper_port = peer.port
                        with BridgeService(cfg, spool=False) as service:
                            # workers live until the service stops, so their CPU is counted
                            service.job.planner.recycle_after_job = False  # type: ignore
                            t_ready = time.perf_counter()
                            service.job.wait_ready(120)
                            ready.append(time.perf_counter() - t_ready)
                            save_like_reaper(folder / "Song.RPP", text)
                            saved = time.perf_counter()
                            if not service.wait_delivery(1, 600):
                                raise SystemExit(f"cold {mode}: {list(service.errors)}")
                            last = last_osc_after(peer, saved)
                            (ours if mode == "ours" else anchor).append(
                                (last - saved, service.deliveries[-1]))
                finally:
                    jobs.direct_stem = original
                cpu[mode].append(_cpu_s() - cpu0)
    return {"ours": ours, "anchor": anchor, "made_s": made, "ready": ready, "cpu": cpu,
            "idle_cpu": idle_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--debounce-ms", type=int, default=300)
    parser.add_argument("--warm-tracks", type=int, default=16)
    parser.add_argument("--warm-seconds", type=float, default=30.0)
    parser.add_argument("--cold-tracks", type=int, default=32)
    parser.add_argument("--cold-minutes", type=float, default=4.0)
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import os

    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"python {platform.python_version()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    print(f"debounce {args.debounce_ms} ms")
    w = bench_one_changed(args.repeats, args.debounce_ms, args.warm_tracks, args.warm_seconds)
    med = statistics.median
    print(f"\n[one changed stem] {w['tracks']}-track session, {w['seconds']:.0f} s stems, "
          f"{args.repeats} rounds (a new stem each)")
    print(f"  ours   save -> last OSC message: median {med(w['ours_total']) * 1000:7.1f} ms "
          f"(min {min(w['ours_total']) * 1000:.1f}, max {max(w['ours_total']) * 1000:.1f})")
    print("         phases (median ms): quiet after the rename 30, " + ", ".join(
        f"{k} {v * 1000:.1f}" for k, v in w["phases"].items()))
    print(f"  ours   job (load+render+label):   median {med(w['ours_job']) * 1000:7.1f} ms")
    print(f"  anchor job, everything again:     median {med(w['anchor_job']) * 1000:7.1f} ms")
    print(f"  ratio anchor/ours (job): {med(w['anchor_job']) / med(w['ours_job']):.1f}x")
    print(f"  all renames arrived: {w['renamed']}")

    if args.skip_cold:
        return
    c = bench_cold(args.cold_tracks, args.cold_minutes * 60, args.debounce_ms,
                   args.cold_repeats)
    ours = [t for t, _ in c["ours"]]
    anchor = [t for t, _ in c["anchor"]]
    d = c["ours"][-1][1]
    print(f"\n[cold] {args.cold_tracks} tracks x {args.cold_minutes:g} min "
          f"(session written in {c['made_s']:.1f} s), {args.cold_repeats} runs")
    print(f"  ours   save -> last OSC message: median {med(ours):6.2f} s   "
          f"(last run: " + ", ".join(f"{k} {v:.2f}s" for k, v in d.timings_s.items()) + ")")
    d = c["anchor"][-1][1]
    print(f"  anchor (render every stem):      median {med(anchor):6.2f} s   "
          f"(last run: " + ", ".join(f"{k} {v:.2f}s" for k, v in d.timings_s.items()) + ")")
    print(f"  ratio anchor/ours: {med(anchor) / med(ours):.2f}x")
    for mode in ("ours", "anchor"):
        print(f"  {mode} runs: " + "; ".join(
            f"{t:.2f} s (job {sum(v for k, v in d.timings_s.items() if k != 'deliver'):.2f} s)"
            for t, d in c[mode]))
    cores = __import__("os").cpu_count() or 1
    for mode in ("ours", "anchor"):
        work = med(c["cpu"][mode]) - c["idle_cpu"]
        print(f"  {mode} CPU for the save (service start/stop cost {c['idle_cpu']:.1f} s "
              f"removed): median {work:.1f} s -> {work / cores:.1f} s of wall time on "
              f"{cores} otherwise idle cores")
    print(f"  (label workers started with the service, before the save: median "
          f"{med(c['ready']):.1f} s, not counted above)")


if __name__ == "__main__":
    main()
