"""File-level driver: read a file in chunks, run one process (or ``auto``), write a new file.

Memory stays bounded: the file is read in ``CHUNK_S`` pieces with ``OVERLAP_S`` of context on
each side; each piece is processed on its own and the pieces are joined with linear
cross-fades over the overlap. What must be the same for the whole file is learnt once, before
the processing pass: the noise profile (the median-level profile of the pieces), the hum
fundamental (from the first minute; when there is none there, each piece looks for its own)
and the clipping rails (the whole file's extremes). ``auto`` diagnoses the first minute and,
in a longer file, a few excerpts spread over the rest (:func:`diagnose_file`).

    >>> # process_file("take.wav", "take.denoised.wav", "denoise")
"""

from __future__ import annotations

import math
import tempfile
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
from bridge.restore.report import RestoreReport

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


def _process(audio: np.ndarray, rate: int, names: list[str], learnt: dict[str, Any]):
    reports = []
    for name in ORDER:
        if name not in names:
            continue
        fn = {"declip": declip, "declick": declick, "dehum": dehum, "denoise": denoise,
              "debreath": debreath}[name]
        audio, report = fn(audio, rate, **learnt.get(name, {}))
        reports.append(report)
    return audio, reports


def process_file(
    src: str | Path,
    dst: str | Path,
    process: str,
    *,
    overwrite: bool = False,
    shown: Path | None = None,
) -> tuple[list[RestoreReport], Diagnosis | None]:
    """Run ``process`` (one of :data:`PROCESS_NAMES`) on ``src`` and write ``dst``.

    ``dst`` may never be ``src``; an existing ``dst`` is refused unless ``overwrite``.
    WAV output is 32-bit float (repaired peaks may exceed full scale); other formats keep
    their subtype and are scaled down if a repaired peak would clip. A file holding a NaN or
    infinite sample is refused before anything is written (``shown``: the name to give in
    errors, when ``src`` is a decoded copy).
    """
    src, dst = Path(src), Path(dst)
    if process not in PROCESS_NAMES:
        raise RestoreError(f"unknown process {process!r}; one of {', '.join(PROCESS_NAMES)}")
    if _same_file(src, dst):
        raise RestoreError(f"{dst}: output is the input file; the source is never overwritten")
    if dst.exists() and not overwrite:
        raise RestoreError(f"{dst}: exists (choose another --out)")
    try:
        sf.info(str(src))
    except (RuntimeError, sf.LibsndfileError) as exc:
        # AAC/M4A, a video's sound...: restore a decoded copy, never touching the source
        if dst.suffix.lower() not in (".wav", ".wave", ".flac"):
            raise RestoreError(f"{dst}: write the result of a {src.suffix} file as .wav "
                               "or .flac") from None
        with tempfile.TemporaryDirectory(prefix="studio-bridge-restore-") as scratch:
            decoded = _decoded_or_error(src, Path(scratch), str(exc))
            return process_file(decoded, dst, process, overwrite=overwrite, shown=src)
    info = sf.info(str(src))
    rate = int(info.samplerate)
    _refuse_non_finite(src, info.subtype, shown or src)
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
    fmt = sf.info(str(src)).format
    ext = dst.suffix.lower()
    subtype = "FLOAT" if ext in (".wav", ".wave", "") else None
    if ext in (".wav", ".wave"):
        fmt = "WAV"
    elif ext == ".flac":
        fmt, subtype = "FLAC", "PCM_24"
    all_reports: list[list[RestoreReport]] = []
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestoreError(f"{dst}: cannot create its folder ({exc.strerror or exc})") from None
    tmp = dst.with_name(dst.name + ".partial")
    try:
        try:
            fout_file = sf.SoundFile(str(tmp), "w", rate, info.channels, subtype=subtype,
                                     format=fmt)
        except (RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:
            raise RestoreError(f"{dst}: cannot write {fmt} audio there ({exc})") from None
        with fout_file as fout, sf.SoundFile(str(src)) as fin:  # output closed on any error
            total = fin.frames
            carry: np.ndarray | None = None
            start = 0
            while start < total:
                lo = max(start - overlap, 0)
                hi = min(start + chunk + overlap, total)
                fin.seek(lo)
                piece = fin.read(hi - lo, dtype="float64", always_2d=True)
                done, reports = _process(piece, rate, names, learnt)
                all_reports.append(reports)
                body = done[start - lo :]
                if carry is not None:
                    n = min(len(carry), len(body))
                    fade = np.linspace(0.0, 1.0, n)[:, None]
                    body = body.copy()
                    body[:n] = carry[:n] * (1 - fade) + body[:n] * fade
                stop = min(start + chunk, total)
                keep = stop - start
                out = body[:keep]
                carry = body[keep:] if stop < total else None
                if subtype != "FLOAT":
                    out = np.clip(out, -1.0, 1.0)
                fout.write(out)
                start = stop
        tmp.replace(dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return _merge(all_reports), diagnosis


def _merge(chunks: list[list[RestoreReport]]) -> list[RestoreReport]:
    """One report per process for the whole file (counts summed, the first finding kept)."""
    if not chunks:
        return []
    merged = []
    for i, first in enumerate(chunks[0]):
        parts = [c[i] for c in chunks if i < len(c)]
        figures = dict(first.figures)
        for key in ("clicks", "samples_repaired", "breaths", "clipped_runs", "clipped_samples"):
            if key in figures:
                figures[key] = sum(p.figures.get(key, 0) for p in parts)
        powers = [10 ** (p.changed_db / 10) for p in parts if math.isfinite(p.changed_db)]
        changed = 10 * math.log10(sum(powers) / len(parts)) if powers else -math.inf
        found = first.found if len(parts) == 1 else f"{first.found} (first chunk)"
        merged.append(
            RestoreReport(
                first.process, any(p.applied for p in parts), found, changed,
                float(np.mean([p.changed_fraction for p in parts])), figures,
            )
        )
    return merged
