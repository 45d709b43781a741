"""20 consecutive start / apply / stop cycles against a real headless Ardour.

Each cycle starts Ardour on the same generated session (own HOME, free OSC port), applies a
Plan over OSC (3 renames, 3 fader moves, an ACE EQ band with its read-back), stops Ardour, and
checks that no process of that run is left. The anchor is the bare cost of Ardour itself on
the same session: ``ardour7-lua`` loading and closing it with no OSC, no waiting, no Plan.

    .venv/bin/python benchmarks/bench_ardour_cycles.py [--cycles 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.daw.ardour import ArdourOsc  # noqa: E402
from bridge.daw.ardour_runtime import (  # noqa: E402
    ArdourHost,
    TrackSpec,
    create_session,
    lua_string,
    run_lua,
)
from bridge.plan import Plan, RenameTrack, SetEqBand, SetVolume  # noqa: E402
from bridge.session.ardour import load_session  # noqa: E402


def _pids_in_group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # field 5 of /proc/pid/stat: process group
            found.append(int(entry.name))
    return found


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ardour-"))
    sr = 48000
    t = np.arange(sr * 3) / sr
    specs = []
    for i, f in enumerate((80.0, 440.0, 2000.0)):
        path = work / f"t{i}.wav"
        sf.write(path, (0.1 * np.sin(2 * np.pi * f * t)).astype(np.float32), sr)
        specs.append(TrackSpec(f"Audio {i + 1}", path, gain_db=-6.0 * i, eq=(i == 0)))
    session_file = create_session(work / "bench", "bench", specs)
    tracks = load_session(session_file).tracks

    start_s, apply_s, stop_s, failures, leftovers = [], [], [], 0, 0
    for cycle in range(args.cycles):
        plan = Plan([RenameTrack(track=tr.guid, name=f"Take {cycle} {i}")
                     for i, tr in enumerate(tracks)]
                    + [SetVolume(track=tr.guid, volume_db=-1.0 * ((cycle + i) % 7))
                       for i, tr in enumerate(tracks)]
                    + [SetEqBand(track=tracks[0].guid, band=0, band_type="band",
                                 freq_hz=100.0 + cycle, gain_db=-3.0)])
        host = ArdourHost(session_file)
        t0 = time.monotonic()
        try:
            host.start()
            t1 = time.monotonic()
            routes = [(tr.guid, n) for tr, n in zip(tracks, _names(host), strict=False)]
            with ArdourOsc(port=host.osc_port, routes=routes, lua_host=host) as daw:
                report = daw.apply(plan)
            t2 = time.monotonic()
            if not report.ok:
                failures += 1
                print(f"cycle {cycle}: {report}", file=sys.stderr)
            pgid = host.pid
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and carries on
            failures += 1
            print(f"cycle {cycle}: {exc}", file=sys.stderr)
            host.stop()
            continue
        host.stop()
        t3 = time.monotonic()
        left = _pids_in_group(pgid) if pgid else []
        leftovers += len(left)
        start_s.append(t1 - t0)
        apply_s.append(t2 - t1)
        stop_s.append(t3 - t2)
        print(f"cycle {cycle + 1:2d}: start {t1 - t0:.2f} s  apply {t2 - t1:.2f} s  "
              f"stop {t3 - t2:.2f} s  attempts {host.attempts}  leftovers {len(left)}")

    # anchor: Ardour alone loading and closing the same session
    anchor = []
    for _ in range(min(5, args.cycles)):
        home = work / "anchor-home"
        script = (f"local ok = load_session({lua_string(str(session_file.parent))}, "
                  f"{lua_string(session_file.stem)})\nclose_session()\nos.exit(ok and 0 or 3)\n")
        t0 = time.monotonic()
        run_lua(script, home=home)
        anchor.append(time.monotonic() - t0)

    cycle_s = [a + b + c for a, b, c in zip(start_s, apply_s, stop_s, strict=True)]
    print()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, {platform.platform()}")
    print(f"cycles: {args.cycles}, failures: {failures}, leftover processes: {leftovers}")
    if cycle_s:
        print(f"median start {statistics.median(start_s):.2f} s, apply "
              f"{statistics.median(apply_s):.2f} s, stop {statistics.median(stop_s):.2f} s, "
              f"whole cycle {statistics.median(cycle_s):.2f} s (max {max(cycle_s):.2f} s)")
    print(f"anchor (ardour7-lua load + close, no OSC): median {statistics.median(anchor):.2f} s")
    if cycle_s:
        print(f"ratio cycle / anchor: {statistics.median(cycle_s) / statistics.median(anchor):.2f}")
    return 1 if failures or leftovers else 0


def _names(host: ArdourHost) -> list[str]:
    from bridge.daw.ardour import OscClient

    with OscClient(port=host.osc_port) as osc:
        return [s.name for s in osc.strip_list()]


if __name__ == "__main__":
    raise SystemExit(main())
