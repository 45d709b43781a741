"""File-level driver: read a file in chunks, run one process (or ``auto``), write a new file.

Memory stays bounded: the file is read in ``CHUNK_S`` pieces with ``OVERLAP_S`` of context on
each side; each piece is processed on its own and the pieces are joined with linear
cross-fades over the overlap. What must be the same for the whole file is learnt once, before
the processing pass: the noise profile (the median-level profile of the pieces), the hum
fundamental (from the first minute; when there is none there, each piece looks for its own)
and the clipping rails (the whole file's extremes). ``auto`` diagnoses the first minute and,
in a longer file, a few excerpts spread over the rest (:func:`diagnose_file`).

The result's container follows the output name (:func:`output_format`); formats that cannot
hold peaks over full scale get the whole file lowered by one gain, never clipped. Reports of
the chunks are merged into one per process, with times in file seconds (:func:`_merge`).

    >>> # process_file("take.wav", "take.denoised.wav", "denoise")
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bridge.restore.debreath import debreath
from bridge.restore.declick import declick
from bridge.restore.declip import declip
from bridge.restore.dehum import dehum, detect_hum
from bridge.restore.denoise import denoise, learn_noise_profile
from bridge.restore.diagnose import ORDER, Diagnosis, diagnose
from bridge.restore.report import OutputReport, RestoreReport

CHUNK_S = 30.0
OVERLAP_S = 1.0
PROCESS_NAMES = ("denoise", "dehum", "declick", "debreath", "declip", "auto")


class RestoreError(Exception):
    """A file could not be processed (unreadable, same as the output, ...)."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


def _decoded_or_error(src: Path, scratch: Path, libsndfile_says: str) -> Path:
    from bridge.audio import decode
    from bridge.audio.reader import AudioError

    if not decode.ffmpeg_available():
        raise RestoreError(f"{src}: cannot read audio: {libsndfile_says} (installing ffmpeg "
                           "would let AAC/M4A/MP4 be read)")
    try:
        return decode.decoded_wav(src, scratch)
    except AudioError as exc:
        raise RestoreError(f"{src}: cannot read audio: {exc.reason}") from None
    except OSError as exc:
        raise RestoreError(f"{src}: cannot read audio: {exc}") from None


def _refuse_non_finite(src: Path, subtype: str, shown: Path) -> None:
    """Raise :class:`RestoreError` naming the first NaN/Inf frame of a float file: every
    process would smear it over its neighbours (or crash a fixed-point writer)."""
    from bridge.audio.reader import AudioError, open_audio

    if subtype not in ("FLOAT", "DOUBLE"):
        return  # integer samples are always finite
    try:
        with open_audio(src) as stream:
            for _ in stream.blocks():
                pass
    except AudioError as exc:
        # A truncated file is restored as far as it goes, as before; only bad samples stop it.
        if exc.reason.startswith("NaN/Inf"):
            raise RestoreError(f"{shown}: {exc.reason}; nothing written") from None


def _blocks(path: Path, size: int) -> Any:
    with sf.SoundFile(str(path)) as f:
        while True:
            data = f.read(size, dtype="float64", always_2d=True)
            if len(data) == 0:
                break
            yield data


DIAGNOSE_FIRST_S = 60.0
"""``auto`` diagnoses the first minute of a file in full ..."""

LATER_LOOKS = 4
LATER_LOOK_S = 20.0
"""... and, in a longer file, up to this many excerpts of this length spread over the rest,
for the defects that may start later (an amp switched on, a cable that starts crackling,
a louder song that clips): their findings join the first minute's."""

LOCAL_DEFECTS = ("declip", "declick", "dehum")
"""What a later excerpt may add. The noise floor and breaths are judged on the first minute
only: more looks at level statistics would mostly add false alarms."""


def _excerpt(path: Path, start: int, frames: int) -> np.ndarray:
    with sf.SoundFile(str(path)) as f:
        f.seek(start)
        return f.read(frames, dtype="float64", always_2d=True)


def diagnose_file(path: str | Path) -> Diagnosis:
    """:func:`~bridge.restore.diagnose.diagnose` for a whole file in bounded memory: the first
    minute, then up to :data:`LATER_LOOKS` excerpts spread over the rest for
    :data:`LOCAL_DEFECTS` (each finding says where it was heard)."""
    path = Path(path)
    info = sf.info(str(path))
    rate, total = int(info.samplerate), int(info.frames)
    first = _excerpt(path, 0, int(DIAGNOSE_FIRST_S * rate))
    if len(first) == 0:
        raise RestoreError(f"{path}: no audio")
    diagnosis = diagnose(first, rate)
    look = int(LATER_LOOK_S * rate)
    rest = total - len(first) - look
    if rest < 0:
        return diagnosis
    count = min(LATER_LOOKS, 1 + rest // look)
    starts = [len(first) + (rest * (i + 1)) // (count + 1) for i in range(count)]
    for start in starts:
        later = diagnose(_excerpt(path, start, look), rate, breaths=False)
        for name in LOCAL_DEFECTS:
            if name in later.needed and name not in diagnosis.needed:
                diagnosis.needed.append(name)
                where = f"{start / rate:.0f}-{(start + look) / rate:.0f} s"
                diagnosis.findings[name] = f"{later.findings.get(name, name)} (at {where})"
    diagnosis.needed.sort(key=ORDER.index)
    return diagnosis


def _learn(path: Path, rate: int, names: list[str]) -> dict[str, Any]:
    """Whole-file settings for the chunked pass."""
    learnt: dict[str, Any] = {}
    chunk = int(CHUNK_S * rate)
    if "denoise" in names:
        profiles = [learn_noise_profile(b, rate) for b in _blocks(path, chunk) if len(b) > rate]
        if profiles:
            profiles.sort(key=lambda p: p.level_dbfs)
            learnt["denoise"] = {"profile": profiles[len(profiles) // 2]}
    if "dehum" in names:
        first = next(_blocks(path, int(60 * rate)), None)
        if first is not None:
            profile = detect_hum(first, rate)
            # A hum that starts after the first minute is looked for in each chunk.
            if profile.found:
                learnt["dehum"] = {"profile": profile}
    return learnt


OUTPUT_FORMATS: dict[str, str] = {
    ".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".aiff": "AIFF", ".aif": "AIFF",
    ".aifc": "AIFF", ".w64": "W64", ".rf64": "RF64", ".caf": "CAF", ".ogg": "OGG",
    ".oga": "OGG", ".mp3": "MP3",
}
"""The --out extensions a result may be written as (when this libsndfile writes the format)."""

FLOAT_CONTAINERS = ("WAV", "W64", "RF64", "AIFF", "CAF")
"""Containers that store float samples, so repaired peaks over full scale survive as they are."""

LOSSY_SUBTYPES = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}

WIDE_SOURCES = ("DOUBLE", "PCM_32", "ALAC_32")
"""Source sample formats with more than float32's 24-bit mantissa: written as 64-bit float."""

RIFF_LIMIT_BYTES = 0xFFFFFFFF - (1 << 20)
"""A plain RIFF WAV cannot pass 4 GiB; a larger .wav result is written as RF64."""


def writable_extensions() -> list[str]:
    """The --out extensions this machine's libsndfile can write, e.g. ``['.wav', '.flac']``."""
    available = sf.available_formats()
    found = []
    for ext, fmt in OUTPUT_FORMATS.items():
        if fmt not in available:
            continue
        if fmt in LOSSY_SUBTYPES and LOSSY_SUBTYPES[fmt] not in sf.available_subtypes(fmt):
            continue
        found.append(ext)
    return found


@dataclass
class OutputFormat:
    """Container and sample format of a result, and whether it keeps peaks over 0 dBFS."""

    format: str
    subtype: str
    holds_over_full_scale: bool
    note: str = ""


def output_format(dst: Path, source_subtype: str, frames: int, channels: int) -> OutputFormat:
    """Pick the container from ``dst``'s extension and the sample format from the source's:
    float where the container stores float (64-bit for a 64-bit float or 32-bit integer
    source), 24-bit FLAC, Vorbis in .ogg, MPEG layer III in .mp3. Never fewer bits than the
    source, except where the container has no more (FLAC stops at 24 bits).

    Raises :class:`RestoreError` naming ``dst`` and the extensions that can be written.

        >>> output_format(Path("take.aiff"), "PCM_16", 48000, 2).subtype
        'FLOAT'
    """
    ext = dst.suffix.lower()
    writable = writable_extensions()
    if ext not in writable:
        what = f"a {ext} file" if ext else "a file with no extension"
        raise RestoreError(f"{dst}: cannot write {what}; give --out one of "
                           f"{', '.join(writable)}")
    fmt = OUTPUT_FORMATS[ext]
    if fmt in LOSSY_SUBTYPES:
        return OutputFormat(fmt, LOSSY_SUBTYPES[fmt], False)
    if fmt == "FLAC":
        return OutputFormat(fmt, "PCM_24", False)
    subtype = "DOUBLE" if source_subtype in WIDE_SOURCES else "FLOAT"
    note = ""
    size = frames * channels * (8 if subtype == "DOUBLE" else 4)
    if fmt == "WAV" and size > RIFF_LIMIT_BYTES:
        fmt, note = "RF64", "written as RF64: a RIFF WAV stops at 4 GiB"
    return OutputFormat(fmt, subtype, True, note)


@dataclass
class FileResult:
    """What :func:`process_file` did: one report per process, the diagnosis (``auto``
    only) and how the file was written. Unpacks as ``reports, diagnosis``."""

    reports: list[RestoreReport]
    diagnosis: Diagnosis | None
    output: OutputReport

    def __iter__(self) -> Iterator[Any]:
        return iter((self.reports, self.diagnosis))


@dataclass
class _Step:
    """One process on one chunk, with what it changed inside the chunk's own frames (the
    overlaps belong to the neighbours)."""

    report: RestoreReport
    diff_energy: float
    input_energy: float
    moved_frames: int


@dataclass
class _Chunk:
    start: int
    stop: int
    lo: int
    steps: list[_Step]


def _process(
    audio: np.ndarray, rate: int, names: list[str], learnt: dict[str, Any], own: slice
) -> tuple[np.ndarray, list[_Step]]:
    steps = []
    for name in ORDER:
        if name not in names:
            continue
        fn = {"declip": declip, "declick": declick, "dehum": dehum, "denoise": denoise,
              "debreath": debreath}[name]
        before = audio
        audio, report = fn(audio, rate, **learnt.get(name, {}))
        diff = audio[own] - before[own]
        kept = before[own]
        moved = np.any(np.abs(diff) > 1e-4, axis=1) if diff.size else np.zeros(0, bool)
        steps.append(_Step(report, float(np.vdot(diff, diff)), float(np.vdot(kept, kept)),
                           int(np.count_nonzero(moved))))
    return audio, steps


def _open_writer(path: Path, dst: Path, rate: int, channels: int, fmt: str,
                 subtype: str) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(path), "w", rate, channels, subtype=subtype, format=fmt)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:
        # libsndfile names the .partial path; the reason alone is what helps
        says = re.sub(r"^Error opening .*?: (Error : )?", "", str(exc)).strip()
        raise RestoreError(f"{dst}: cannot write {fmt} {subtype} at {rate} Hz, {channels} "
                           f"channels there ({says})") from None


COPY_BLOCK = 1 << 16


def process_file(
    src: str | Path,
    dst: str | Path,
    process: str,
    *,
    overwrite: bool = False,
    shown: Path | None = None,
) -> FileResult:
    """Run ``process`` (one of :data:`PROCESS_NAMES`) on ``src`` and write ``dst``.

    ``dst`` may never be ``src``; an existing ``dst`` is refused unless ``overwrite``. The
    container follows ``dst``'s extension (:func:`output_format`; an extension that cannot be
    written is refused before any work). Float containers keep repaired peaks over full scale;
    in the others (FLAC, Ogg Vorbis, MP3) a peak over 0 dBFS lowers the whole file by one gain,
    reported in :attr:`FileResult.output`: nothing is ever clipped. A file holding a NaN or
    infinite sample is refused before anything is written (``shown``: the name to give in
    errors, when ``src`` is a decoded copy). The result is written to ``OUT.partial`` and
    renamed; on any error or interruption nothing is left behind.

        >>> # reports, diagnosis = process_file("take.wav", "take.fixed.flac", "declip")
    """
    src, dst = Path(src), Path(dst)
    if process not in PROCESS_NAMES:
        raise RestoreError(f"unknown process {process!r}; one of {', '.join(PROCESS_NAMES)}")
    if _same_file(src, dst):
        raise RestoreError(f"{dst}: output is the input file; the source is never overwritten")
    if dst.exists() and not overwrite:
        raise RestoreError(f"{dst}: exists (choose another --out, or --overwrite to replace it)")
    try:
        info = sf.info(str(src))
    except (RuntimeError, sf.LibsndfileError) as exc:
        # AAC/M4A, a video's sound...: restore a decoded copy, never touching the source
        if dst.suffix.lower() not in writable_extensions():
            raise RestoreError(f"{dst}: write the result of a {src.suffix} file as "
                               f"{', '.join(writable_extensions())}") from None
        with tempfile.TemporaryDirectory(prefix="studio-bridge-restore-") as scratch:
            decoded = _decoded_or_error(src, Path(scratch), str(exc))
            return process_file(decoded, dst, process, overwrite=overwrite, shown=src)
    rate, channels = int(info.samplerate), int(info.channels)
    chosen = output_format(dst, info.subtype, int(info.frames), channels)
    _refuse_non_finite(src, info.subtype, shown or src)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestoreError(f"{dst}: cannot create its folder ({exc.strerror or exc})") from None
    tmp = dst.with_name(dst.name + ".partial")
    # A format that cannot hold peaks over full scale gets the processed audio in a float
    # scratch file first: the gain that fits the whole file is known only at its end.
    wide = None if chosen.holds_over_full_scale else dst.with_name(dst.name + ".partial.w64")
    try:
        # Opened before any work, so a rate or channel count the format refuses costs nothing.
        with _open_writer(tmp, dst, rate, channels, chosen.format, chosen.subtype) as final:
            gain = 1.0
            if wide is None:
                reports, diagnosis, peak = _restore_into(final, src, rate, process)
            else:
                with _open_writer(wide, dst, rate, channels, "W64", "FLOAT") as scratch:
                    reports, diagnosis, peak = _restore_into(scratch, src, rate, process)
                if peak > 1.0:
                    gain = 1.0 / peak
                with sf.SoundFile(str(wide)) as fin:
                    for block in fin.blocks(COPY_BLOCK, dtype="float64", always_2d=True):
                        # The float scratch rounds to float32: the clip only catches the
                        # last ulp above the rails, far under one 24-bit step.
                        final.write(np.clip(block * gain, -1.0, 1.0))
        tmp.replace(dst)
    finally:
        for leftover in (tmp, wide):
            if leftover is not None and leftover.exists():
                leftover.unlink()
    peak_dbfs = 20 * math.log10(peak) if peak > 0 else -math.inf
    output = OutputReport(str(dst), chosen.format, chosen.subtype, round(peak_dbfs, 2),
                          round(20 * math.log10(gain), 2), chosen.note)
    return FileResult(reports, diagnosis, output)


def _restore_into(
    fout: sf.SoundFile, src: Path, rate: int, process: str
) -> tuple[list[RestoreReport], Diagnosis | None, float]:
    """The chunked pass: returns the merged reports, the diagnosis and the written peak."""
    diagnosis = None
    if process == "auto":
        diagnosis = diagnose_file(src)
        names = list(diagnosis.needed)
    else:
        names = [process]
    learnt = _learn(src, rate, names)
    if "declip" in names:
        # Clipping is judged on the whole file, not on each chunk.
        learnt["declip"] = {"force": True}
    chunk = int(CHUNK_S * rate)
    overlap = int(OVERLAP_S * rate)
    chunks: list[_Chunk] = []
    peak = 0.0
    with sf.SoundFile(str(src)) as fin:
        total = fin.frames
        carry: np.ndarray | None = None
        start = 0
        while start < total:
            lo = max(start - overlap, 0)
            hi = min(start + chunk + overlap, total)
            stop = min(start + chunk, total)
            fin.seek(lo)
            piece = fin.read(hi - lo, dtype="float64", always_2d=True)
            done, steps = _process(piece, rate, names, learnt, slice(start - lo, stop - lo))
            chunks.append(_Chunk(start, stop, lo, steps))
            body = done[start - lo :]
            if carry is not None:
                n = min(len(carry), len(body))
                fade = np.linspace(0.0, 1.0, n)[:, None]
                body = body.copy()
                body[:n] = carry[:n] * (1 - fade) + body[:n] * fade
            keep = stop - start
            out = body[:keep]
            carry = body[keep:] if stop < total else None
            if len(out):
                peak = max(peak, float(np.max(np.abs(out))))
            fout.write(out)
            start = stop
    return _merge(chunks, rate, fout.channels), diagnosis, peak


COUNTS = ("clicks", "samples_repaired", "clipped_runs", "clipped_samples")
"""Report figures that add up over chunks (an event in an overlap may be counted twice)."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _spans_text(spans: list[list[float]], most: int = 4) -> str:
    shown = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans[:most])
    return shown + (f" and {len(spans) - most} more" if len(spans) > most else "")


def _merge(chunks: list[_Chunk], rate: int, channels: int) -> list[RestoreReport]:
    """One report per process for the whole file. Events with times are moved to file
    seconds and kept by the chunk that wrote them (their middle in its own frames), regions
    are cut to each chunk's frames and joined; counts are summed; ``changed_db`` and
    ``changed_fraction`` are measured on the frames each chunk wrote; ``figures["chunks"]``
    says what each chunk found."""
    if not chunks:
        return []
    if len(chunks) == 1:
        return [step.report for step in chunks[0].steps]
    total = chunks[-1].stop
    merged = []
    for i in range(len(chunks[0].steps)):
        parts = [(c, c.steps[i]) for c in chunks if i < len(c.steps)]
        reports = [s.report for _, s in parts]
        applied_parts = [(c, s) for c, s in parts if s.report.applied and s.diff_energy > 0]
        base = (applied_parts[0][1] if applied_parts else parts[0][1]).report
        process_name = base.process
        figures: dict[str, Any] = dict(base.figures)
        per_chunk: list[dict[str, Any]] = []
        events: dict[str, list[Any]] = {}
        for c, s in parts:
            shift = c.lo / rate
            a_s, b_s = c.start / rate, c.stop / rate
            row: dict[str, Any] = {
                "start_s": round(a_s, 3), "end_s": round(b_s, 3),
                "applied": s.report.applied, "found": _in_file_seconds(s.report.found, shift),
                "changed_db": _db(s.diff_energy, s.input_energy),
            }
            for key, value in s.report.figures.items():
                if key in COUNTS or key == "breaths":
                    row[key] = value
                if not (key.endswith("_s") and _pairs(value)):
                    continue
                moved = [[round(a + shift, 3), round(b + shift, 3)] for a, b in value]
                if key.endswith("regions_s"):
                    cut = [[max(a, a_s), min(b, b_s)] for a, b in moved]
                    events.setdefault(key, []).extend(p for p in cut if p[1] > p[0])
                    continue
                own = [j for j, (a, b) in enumerate(moved) if a_s <= (a + b) / 2 < b_s]
                events.setdefault(key, []).extend(moved[j] for j in own)
                # Lists that run alongside the events (one level per breath...) follow them.
                for other, along in s.report.figures.items():
                    if (other != key and isinstance(along, list) and len(along) == len(value)
                            and not _pairs(along)):
                        events.setdefault(other, []).extend(along[j] for j in own)
                if key == "times_s" and "breaths" in s.report.figures:
                    row["breaths"] = len(own)
            per_chunk.append(row)
        if "hum_regions_s" in events:
            # A chunk that hummed throughout gave no regions: all of its own frames hum.
            events["hum_regions_s"].extend(
                [c.start / rate, c.stop / rate] for c, s in applied_parts
                if "hum_regions_s" not in s.report.figures)
        for key, value in events.items():
            figures[key] = _joined(value) if key.endswith("regions_s") else value
        for key in COUNTS:
            if key in figures:
                figures[key] = sum(s.report.figures.get(key, 0) for _, s in parts)
        if "times_s" in figures and "breaths" in figures:
            figures["breaths"] = len(figures["times_s"])
        if "clicks_per_minute" in figures:
            figures["clicks_per_minute"] = round(figures["clicks"] / (total / rate / 60), 1)
        if "clipped_fraction" in figures:
            figures["clipped_fraction"] = round(
                figures["clipped_samples"] / max(total * channels, 1), 5)
        if process_name == "dehum" and applied_parts:
            steps = [s.report.figures for _, s in applied_parts]
            figures["harmonics_removed"] = max(int(f.get("harmonics_removed", 0)) for f in steps)
            # the least reduction of any chunk: what the whole file can count on
            figures["hum_reduction_db"] = max(float(f.get("hum_reduction_db", 0.0))
                                              for f in steps)
        if "peak_after" in figures:
            figures["peak_after"] = max(r.figures.get("peak_after", 0.0) for r in reports)
        figures["chunks"] = per_chunk
        diff = sum(s.diff_energy for _, s in parts)
        energy = sum(s.input_energy for _, s in parts)
        moved_frames = sum(s.moved_frames for _, s in parts)
        applied = bool(applied_parts)
        merged.append(RestoreReport(
            base.process, applied,
            _summary(base.process, figures, applied_parts, parts, rate),
            _db(diff, energy) if diff > 0 else -math.inf,
            moved_frames / max(total, 1), figures,
        ))
    return merged


_SPAN = re.compile(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?) s\b")


def _in_file_seconds(text: str, shift_s: float) -> str:
    """A chunk's words with its ``a-b s`` spans moved from chunk to file seconds."""
    if shift_s == 0:
        return text
    return _SPAN.sub(lambda m: f"{float(m[1]) + shift_s:.1f}-{float(m[2]) + shift_s:.1f} s",
                     text)


def _db(diff: float, energy: float) -> float | None:
    if diff <= 0:
        return None
    return round(10 * math.log10(diff / max(energy, 1e-30)), 2)


def _pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, (list, tuple)) and len(v) == 2 for v in value) and bool(value)


def _joined(spans: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1e-3:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def _summary(process: str, figures: dict[str, Any], applied: list[tuple[_Chunk, _Step]],
             parts: list[tuple[_Chunk, _Step]], rate: int) -> str:
    """The whole file's ``found``, from the merged figures (never one chunk's words)."""
    if process == "debreath":
        n = len(figures.get("times_s", []))
        return _plural(n, "breath") if n else "no breaths found"
    if process == "declick":
        n = int(figures.get("clicks", 0))
        return _plural(n, "click") if n else "no clicks found"
    if process == "declip":
        runs = int(figures.get("clipped_runs", 0))
        if not runs:
            return "no clipping found"
        share = 100 * float(figures.get("clipped_fraction", 0.0))
        return f"{_plural(runs, 'clipped run')}, {share:.2f} % of samples"
    if not applied:
        texts = list(dict.fromkeys(s.report.found for _, s in parts))
        return "; ".join(texts)
    spans = [[c.start / rate, c.stop / rate] for c, _ in applied]
    where = "" if len(applied) == len(parts) else f" in {_spans_text(_joined(spans))}"
    if process == "dehum" and "fundamental_hz" in figures:
        regions = figures.get("hum_regions_s") or []
        if regions:
            where = f" in {_spans_text(regions)}"
        steps = [s.report.figures for _, s in applied]
        harmonics = max(int(f.get("harmonics_removed", 0)) for f in steps)
        least = min(float(f.get("hum_reduction_db", 0.0)) for f in steps)
        most = max(float(f.get("hum_reduction_db", 0.0)) for f in steps)
        less = f"{-most:.1f}" if abs(most - least) < 0.05 else f"{-most:.1f}-{-least:.1f}"
        return (f"{figures['fundamental_hz']:.2f} Hz hum{where}, {harmonics} harmonics, "
                f"{less} dB less at its detected harmonics")
    texts = list(dict.fromkeys(s.report.found for _, s in applied))
    if len(texts) == 1:
        return texts[0] + where
    return f"{texts[0]}{where} (and {len(texts) - 1} other findings: see chunks)"
