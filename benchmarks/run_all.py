"""Run every benchmark in this folder, one after the other (``make bench``).

    .venv/bin/python benchmarks/run_all.py [NAME ...]

Each ``bench_*.py`` runs in its own process with its default settings and prints its own
table; NAME (``restore``, ``loudness``, ...) runs only those. A benchmark that fails is
reported and the others still run; the exit status says whether all of them finished. The
figures to quote are in docs/benchmarks.md, with the command that produced each.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {n.removeprefix("bench_").removesuffix(".py") for n in names}
        unknown = wanted - {s.stem.removeprefix("bench_") for s in scripts}
        if unknown:
            print(f"no such benchmark: {', '.join(sorted(unknown))} (have: "
                  f"{', '.join(s.stem.removeprefix('bench_') for s in scripts)})")
            return 2
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        t0 = time.monotonic()
        code = subprocess.call([sys.executable, str(script)])
        print(f"=== {script.name}: {'ok' if code == 0 else f'FAILED ({code})'} in "
              f"{time.monotonic() - t0:.0f} s ===", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
