"""``studio-bridge analyze FILE... [--json] [--no-cache]``: loudness and stem measurements.

Audio files are measured directly; a REAPER project (``.rpp``) is rendered to dry stems first
(one per track, plus the mix) and each stem is measured. A bad file gets an error entry and the
batch goes on; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

SUMMARY_KEYS = (
    "file", "integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "lra_lu",
    "true_peak_dbtp", "sample_peak_dbfs", "rms_dbfs", "crest_db", "dc_offset",
    "clipped_samples", "correlation", "duration_s", "sample_rate",
)


def _entry(name: str, result: Any) -> dict[str, Any]:
    data = result.to_dict()
    data["file"] = name
    ordered = {k: data.get(k) for k in SUMMARY_KEYS}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    return ordered


def _error(name: str, message: str) -> dict[str, Any]:
    return {"file": name, "error": message}


def _note(name: str, message: str) -> dict[str, Any]:
    return {"file": name, "skipped": True, "notes": [message]}


def _project_jobs(path: Path, workdir: Path
                  ) -> tuple[list[tuple[str, Path]], list[dict], dict[str, list[str]]]:
    """(label, stem file) pairs for a project's tracks and mix, plus error and note entries,
    and the render's notes per label.

    Only bad media is an error; a track with nothing to render (a folder bus, an empty or a
    MIDI track) gets a note entry.
    """
    try:
        from bridge.audio.render import render_stems
        from bridge.session import load_session
    except ImportError as exc:
        return [], [_error(str(path), f"cannot render projects in this build ({exc})")], {}
    try:
        session = load_session(path)
    except Exception as exc:  # any parse failure is this file's error, not the batch's
        return [], [_error(str(path), f"cannot load project: {exc}")], {}
    out = workdir / f"{len(list(workdir.iterdir()))}-{path.stem}"
    report = render_stems(session, out)
    jobs: list[tuple[str, Path]] = []
    entries: list[dict] = []
    notes: dict[str, list[str]] = {}
    for track in session.tracks:
        label = f"{path}#{track.index + 1} {track.name}"
        if track.guid in report.stems:
            jobs.append((label, report.stems[track.guid]))
            if report.notes.get(track.guid):
                notes[label] = list(report.notes[track.guid])
        elif track.guid in report.bad_media:
            entries.append(_error(label, f"not rendered: {report.problems[track.guid]}"))
        elif track.guid in report.problems:
            entries.append(_note(label, f"not rendered: {report.problems[track.guid]}"))
    if report.mix is not None:
        jobs.append((f"{path}#mix", report.mix))
    return jobs, entries, notes


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == -math.inf:
            return "-inf"
        return f"{value:.{digits}f}"
    return str(value)


def _table(entries: list[dict[str, Any]]) -> str:
    from bridge.commands._common import table

    rows = []
    for e in entries:
        if "error" in e or e.get("skipped"):
            continue
        rows.append([
            e["file"], _fmt(e["integrated_lufs"]), _fmt(e["momentary_max_lufs"]),
            _fmt(e["short_term_max_lufs"]), _fmt(e["lra_lu"]), _fmt(e["true_peak_dbtp"]),
            _fmt(e["rms_dbfs"]), _fmt(e["correlation"], 2), _fmt(e["duration_s"]),
        ])
    text = table(rows, ["file", "I LUFS", "M max", "S max", "LRA LU", "TP dBTP", "RMS dBFS",
                        "corr", "dur s"])
    notes = [f"  {e['file']}: {n}" for e in entries for n in e.get("notes", [])]
    errors = [f"  {e['file']}: {e['error']}" for e in entries if "error" in e]
    return (text + ("\nnotes:\n" + "\n".join(notes) if notes else "")
            + ("\nerrors:\n" + "\n".join(errors) if errors else ""))


@click.command("analyze")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file.")
@click.option("--no-cache", is_flag=True, help="Measure again even if a cached result exists.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache folder (default: $STUDIO_BRIDGE_CACHE or the user data folder).")
def command(files: tuple[str, ...], as_json: bool, no_cache: bool,
            cache_dir: str | None) -> None:
    """Measure loudness (EBU R128), peaks, levels, stereo image and spectrum of audio files.

    A REAPER project (.rpp) is rendered to one dry stem per track plus the mix, and each
    stem is measured. Exit status 1 if any file could not be measured.
    """
    from bridge.analysis.measure import measure_file
    from bridge.audio.reader import AudioError

    _keep_freed_memory()
    cache = None
    if not no_cache:
        from bridge.analysis.cache import AnalysisCache

        try:
            cache = AnalysisCache(cache_dir)
        except Exception as exc:  # an unusable cache (read-only home, bad file) must not stop it
            click.echo(f"warning: cache unavailable ({exc}); measuring without it", err=True)
    entries: list[dict[str, Any]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="sb-analyze-") as tmp:
        jobs: list[tuple[str, Path]] = []
        render_notes: dict[str, list[str]] = {}
        for name in files:
            path = Path(name)
            if path.suffix.lower() == ".rpp":
                more, listed, more_notes = _project_jobs(path, Path(tmp))
                jobs += more
                entries += listed
                render_notes.update(more_notes)
                failed = failed or any("error" in e for e in listed)
            else:
                jobs.append((name, path))
        show_bar = len(jobs) > 3
        with click.progressbar(jobs, label="analysing", file=sys.stderr,
                               show_pos=True, item_show_func=lambda j: j[0] if j else None
                               ) if show_bar else _plain(jobs) as items:
            for label, path in items:
                try:
                    result = measure_file(path, cache=cache)
                except AudioError as exc:
                    entries.append(_error(label, exc.reason))
                    failed = True
                    continue
                except OSError as exc:
                    entries.append(_error(label, f"cannot open: {exc.strerror or exc}"))
                    failed = True
                    continue
                except Exception as exc:  # one broken file never ends the batch
                    entries.append(_error(label, f"{type(exc).__name__}: {exc}"))
                    failed = True
                    continue
                entry = _entry(label, result)
                if label in render_notes:
                    entry["notes"] = render_notes[label] + list(entry.get("notes") or [])
                entries.append(entry)
    if cache is not None:
        cache.close()
    if as_json:
        click.echo(json.dumps(entries, indent=2))
    else:
        click.echo(_table(entries))
    if failed:
        sys.exit(1)


def _keep_freed_memory() -> None:
    """On glibc, keep freed audio blocks in this process's heap for the next block.

    By default glibc hands each freed block of a megabyte or more back to the kernel and the
    next block faults its pages in again: 26 000 page faults, about a sixth of the CPU time
    of a 10-minute file. Peak memory is unchanged (the same blocks are simply reused). This
    is a process-wide setting, so only the command-line process makes it, never the library.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 64 << 20)
    mallopt(m_trim_threshold, 256 << 20)


class _plain:
    """Stand-in for click.progressbar when no bar is wanted."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __enter__(self) -> list:
        return self.items

    def __exit__(self, *exc: object) -> None:
        return None
