"""Parse + write every corpus project: ours vs the ``rpp`` package from PyPI, side by side.

    .venv/bin/python benchmarks/bench_rpp.py [--repeat 7] [--corpus ../shared/rpp_corpus]

Prints, per file, the median time of parse+write for each and whether the output is
byte-identical to the input, then the total and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import rpp as pypi_rpp

from bridge.session import rpp as ours

REPO = Path(__file__).resolve().parents[1]


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "rpp_corpus")
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.iterdir() if p.suffix.lower() == ".rpp")
    print(f"{'file':44} {'KB':>6} {'ours ms':>8} {'ours+tok':>8} {'rpp ms':>8} {'ratio':>6}"
          "  identical(ours/rpp)")
    total_ours = total_full = total_theirs = 0.0
    same_ours = same_theirs = counted = 0
    for path in files:
        data = path.read_bytes()
        text = data.decode("utf-8", "surrogateescape")
        try:
            ours.parse(data)
        except ours.RppParseError as exc:
            print(f"{path.name[:44]:44} {len(data) / 1024:6.0f}  ours: RppParseError "
                  f"line {exc.line} (truncated file, expected)")
            continue

        def run_ours(data: bytes = data) -> bytes:
            return ours.parse(data).to_bytes()

        def run_ours_tokenised(data: bytes = data) -> bytes:
            # the same work the other parser does up front: every line split into tokens
            doc = ours.parse(data)
            for chunk in doc.root.walk():
                for line in chunk.lines():
                    line.tokens  # noqa: B018
            return doc.to_bytes()

        def run_theirs(text: str = text) -> str:
            return pypi_rpp.dumps(pypi_rpp.loads(text))

        t_ours = median_time(run_ours, args.repeat)
        t_full = median_time(run_ours_tokenised, args.repeat)
        try:
            theirs_out = run_theirs()
            t_theirs = median_time(run_theirs, args.repeat)
            theirs_same = theirs_out.encode("utf-8", "surrogateescape") == data
        except Exception as exc:  # the other parser may reject real files
            print(f"{path.name[:44]:44} {len(data) / 1024:6.0f} {t_ours * 1e3:8.2f}"
                  f"  rpp failed: {type(exc).__name__}")
            continue
        ours_same = run_ours() == data
        counted += 1
        same_ours += ours_same
        same_theirs += theirs_same
        total_ours += t_ours
        total_theirs += t_theirs
        total_full += t_full
        print(f"{path.name[:44]:44} {len(data) / 1024:6.0f} {t_ours * 1e3:8.2f} "
              f"{t_full * 1e3:8.2f} {t_theirs * 1e3:8.2f} {t_theirs / t_full:6.1f}  "
              f"{ours_same}/{theirs_same}")
    print(f"\n{counted} files both parsed: total ours {total_ours * 1e3:.1f} ms, rpp "
          f"{total_theirs * 1e3:.1f} ms, ours with every line tokenised {total_full * 1e3:.1f} ms;"
          f" rpp/ours = {total_theirs / total_ours:.1f}x "
          f"(vs tokenised: {total_theirs / total_full:.1f}x); "
          f"byte-identical: ours {same_ours}/{counted}, rpp {same_theirs}/{counted}")


if __name__ == "__main__":
    main()
