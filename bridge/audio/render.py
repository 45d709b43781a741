"""Offline stem render: each track's audio items mixed as REAPER plays them, without plug-ins.

The rules (docs/render.md says the same in prose):

- An item plays its active take from ``source_offset_s`` for ``length_s`` at ``position_s``;
  past the end of its source it is silent, or wraps when the item loops. Overlapping items on
  one track add up. Muted items are silent.
- Item and take volume multiply; fades use REAPER's seven fade shapes (approximations of the
  curves, documented in :func:`fade_curve`); take pan and track pan are REAPER's default
  "stereo balance" pan with the project's pan law (0 dB unless the project sets ``PANLAW``).
- Mono sources play on both channels; channel modes 1-4 (reverse, mono downmix, left, right)
  are honoured; sources with more than two channels play their first two.
- Stems are stereo 32-bit float WAV at the render rate; sources at another rate are resampled
  once (soxr, high quality) into a cache beside the stems. Sources libsndfile cannot read
  (AAC/M4A, the sound of video items, WMA, ...) are decoded once by ffmpeg, when it is
  installed, into the same cache; a video item without sound plays nothing.
- The mix is the sum of the audible stems (mute, solo and folder parents' mute and volume
  respected) times the master volume.

What it cannot do, and reports instead of rendering wrong: plug-in effects (a stem is dry, the
report notes every track whose FX are left out), MIDI items (they need an instrument), items
played at another rate (``PLAYRATE`` != 1), and missing or unreadable media. A track with any
of the last three gets no stem and a problem entry; every other track still renders.

Bad media is caught before a sample is written: a float source holding a NaN or infinite
sample in the part an item plays gets a problem ("NaN/Inf sample in <file> at <time>"), no
stem, and stays out of the mix (one such sample would turn the whole mix into noise or
silence). A truncated source (the header promises more frames than the file holds) plays its
readable part, as REAPER does, and the track gets a note saying so. Tracks whose media is
missing, unreadable or bad are listed in :attr:`RenderReport.bad_media`; the other problems
(no audio items, MIDI, other play rates) are limits of an offline render, not faults.

Memory stays flat: the timeline is rendered in blocks of ``block_frames`` frames.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.session.model import Item, Session, Track, db_to_gain

DEFAULT_RATE = 48000
BLOCK_FRAMES = 65536


@dataclass
class RenderReport:
    """What a render produced: one stem per rendered track, the mix, and what went wrong."""

    sample_rate: int
    stems: dict[str, Path] = field(default_factory=dict)
    """Track GUID -> stem file."""
    mix: Path | None = None
    problems: dict[str, str] = field(default_factory=dict)
    """Track GUID -> why it has no stem."""
    notes: dict[str, list[str]] = field(default_factory=dict)
    """Track GUID -> caveats about a stem that did render (e.g. plug-ins left out)."""
    bad_media: set[str] = field(default_factory=set)
    """GUIDs of tracks in :attr:`problems` because a media file is missing, unreadable or holds
    NaN/Inf samples (the others have no audio items, MIDI, or another play rate)."""
    length_s: float = 0.0

    def __repr__(self) -> str:
        return (f"<RenderReport {len(self.stems)} stems, {len(self.problems)} problems, "
                f"{self.length_s:.1f} s at {self.sample_rate} Hz>")


def fade_curve(x: np.ndarray, shape: int) -> np.ndarray:
    """Fade-in gain for normalised time ``x`` in 0..1 (a fade-out uses ``1 - x``).

    Shapes follow REAPER's menu order: 0 linear, 1 fast start, 2 fast end, 3 fast start
    (steep), 4 fast end (steep), 5 slow start/end (S-curve), 6 slow start/end (steep).

    >>> fade_curve(np.array([0.0, 0.5, 1.0]), 0)
    array([0. , 0.5, 1. ])
    """
    x = np.clip(x, 0.0, 1.0)
    if shape == 1:
        return 1.0 - (1.0 - x) ** 2
    if shape == 2:
        return x**2
    if shape == 3:
        return 1.0 - (1.0 - x) ** 4
    if shape == 4:
        return x**4
    if shape == 5:
        return 0.5 - 0.5 * np.cos(np.pi * x)
    if shape == 6:
        s = 0.5 - 0.5 * np.cos(np.pi * x)
        return 0.5 - 0.5 * np.cos(np.pi * s)
    return x


def balance_gains(pan: float, pan_law_gain: float = 1.0) -> tuple[float, float]:
    """Left/right gains of REAPER's stereo-balance pan.

    ``pan`` -1..1; ``pan_law_gain`` is the gain at centre (1.0 = 0 dB law). The louder side
    rises from the law gain at centre to unity at the hard side; the other side falls to 0.

    >>> balance_gains(0.5)
    (0.5, 1.0)
    """
    p = max(-1.0, min(1.0, pan))
    loud = pan_law_gain + (1.0 - pan_law_gain) * abs(p)
    quiet = loud * (1.0 - abs(p))
    return (quiet, loud) if p > 0 else (loud, quiet)


def stem_file_name(track: Track) -> str:
    name = track.name.strip() or f"Track {track.index + 1}"
    safe = re.sub(r"[^\w\-. ]+", "_", name).strip(" .") or f"Track {track.index + 1}"
    return f"{track.index + 1:02d} - {safe}.wav"


@dataclass
class _Placed:
    """An item resolved to frames at the render rate."""

    item: Item
    path: Path
    start: int
    length: int
    offset: int
    source_frames: int
    fade_in: int
    fade_out: int
    gains: tuple[float, float]


class _SourcePool:
    """Open sound files, shared by all items that play them, closed at the end."""

    def __init__(self) -> None:
        self._files: dict[Path, sf.SoundFile] = {}
        self.short: dict[Path, int] = {}
        """Files that held fewer frames than their header said: path -> first missing frame."""

    def read(self, path: Path, start: int, frames: int) -> np.ndarray:
        fh = self._files.get(path)
        if fh is None:
            fh = self._files[path] = sf.SoundFile(str(path))
        fh.seek(start)
        data = fh.read(frames, dtype="float64", always_2d=True)
        if len(data) < frames and start + frames <= fh.frames:
            # a compressed file cut short: libsndfile only finds out while decoding
            self.short.setdefault(path, start + len(data))
        return data

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()


def _to_stereo(block: np.ndarray, channel_mode: int) -> np.ndarray:
    if block.shape[1] == 1:
        return np.repeat(block, 2, axis=1)
    left, right = block[:, 0], block[:, 1]
    if channel_mode == 1:
        left, right = right, left
    elif channel_mode == 2:
        left = right = 0.5 * (left + right)
    elif channel_mode == 3:
        right = left
    elif channel_mode == 4:
        left = right
    return np.stack([left, right], axis=1)


def _resampled(path: Path, rate: int, cache: Path) -> Path:
    """A copy of ``path`` at ``rate`` (made once, streamed, kept in ``cache``)."""
    import soxr

    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{rate}".encode())
    target = cache / f"{path.stem}.{key.hexdigest()[:12]}.{rate}.wav"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with sf.SoundFile(str(path)) as src:
        stream = soxr.ResampleStream(src.samplerate, rate, src.channels, dtype="float32",
                                     quality="HQ")
        with sf.SoundFile(str(partial), "w", rate, src.channels, "FLOAT", format="WAV") as dst:
            while True:
                block = src.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                last = len(block) < BLOCK_FRAMES
                dst.write(stream.resample_chunk(block, last=last))
                if last:
                    break
    partial.replace(target)
    return target


class _NoSound(Exception):
    """A video source without an audio stream: it plays nothing."""


def _decoded(path: Path, cache: Path) -> Path:
    from bridge.audio import decode
    from bridge.audio.reader import AudioError

    if not decode.ffmpeg_available():
        raise AudioError(path, "libsndfile cannot read it and ffmpeg is not installed")
    try:
        return decode.decoded_wav(path, cache)
    except decode.NoAudioStream:
        raise _NoSound(str(path)) from None


def _non_finite_frames(path: Path) -> np.ndarray:
    """Frames holding a NaN/Inf sample anywhere in the file (usually none), read once.

    Only float files can hold one; integer PCM is skipped without reading.
    """
    found: list[np.ndarray] = []
    with sf.SoundFile(str(path)) as fh:
        if fh.subtype not in ("FLOAT", "DOUBLE"):
            return np.zeros(0, np.int64)
        done = 0
        while True:
            block = fh.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            if len(block) == 0:
                break
            if not np.isfinite(block.sum()):
                found.append(done + np.flatnonzero(~np.isfinite(block).all(axis=1)))
            done += len(block)
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _first_non_finite(bad: np.ndarray, start: int, frames: int | None) -> int | None:
    """The first of the sorted ``bad`` frames in ``frames`` frames from ``start`` (None: all
    finite)."""
    i = int(np.searchsorted(bad, start))
    if i < len(bad) and (frames is None or bad[i] < start + frames):
        return int(bad[i])
    return None


def _truncation(path: Path) -> str | None:
    """The reader's truncation message for a file whose header promises missing frames."""
    from bridge.audio.reader import AudioError, open_audio

    try:
        open_audio(path)
    except AudioError as exc:
        if exc.reason.startswith("truncated"):
            return exc.reason
    except Exception:  # anything else was already judged by libsndfile; not this check's job
        return None
    return None


def _place(
    track: Track, rate: int, pan_law: float, cache: Path, notes: list[str],
    scanned: dict[Path, np.ndarray],
) -> tuple[list[_Placed], str | None, bool]:
    """Items of ``track`` resolved to frames; or ``([], problem, bad_media)``."""
    placed: list[_Placed] = []
    for number, item in enumerate(track.items, start=1):
        if item.mute or item.source is None or item.length_s <= 0:
            continue
        src = item.source
        where = f"item {number} ({item.name or src.file or src.kind})"
        if src.kind == "MIDI":
            return [], f"{where} is MIDI: it needs an instrument, not rendered offline", False
        if not src.is_audio and src.kind != "VIDEO":
            if src.kind in ("EMPTY", "CLICK", "VIDEOEFFECT"):
                continue
            return [], f"{where}: source kind {src.kind} is not supported offline", False
        if not src.exists:
            if src.kind == "VIDEO":  # a picture-only clip the session lost: nothing to hear
                continue
            return [], f"{where}: media file missing: {src.file}", True
        if abs(item.playrate - 1.0) > 1e-9:
            return [], f"{where} plays at rate {item.playrate:g}: not rendered offline", False
        path = src.path
        assert path is not None
        try:
            info = sf.info(str(path))
            if info.frames <= 0:
                raise RuntimeError("no audio frames")
        except Exception as exc:  # soundfile raises several types for unreadable files
            # AAC/M4A, a video's sound, WMA...: ffmpeg (when installed) decodes a copy once
            try:
                path = _decoded(path, cache)
            except _NoSound:
                continue
            except Exception as decode_exc:
                return [], f"{where}: cannot read {src.file}: {exc}; {decode_exc}", True
            info = sf.info(str(path))
        truncated = _truncation(path)
        if truncated:
            note = f"{where}: {src.file}: {truncated}; the readable part is used"
            if note not in notes:
                notes.append(note)
        # checked at the source's own rate, so the time named is the file's own; each file is
        # read once per render however many items play it
        if path not in scanned:
            scanned[path] = _non_finite_frames(path)
        if item.loop:
            bad = _first_non_finite(scanned[path], 0, None)
        else:
            bad = _first_non_finite(scanned[path], round(item.source_offset_s * info.samplerate),
                                    round(item.length_s * info.samplerate) + 1)
        if bad is not None:
            return [], (f"{where}: NaN/Inf sample in {src.file} at "
                        f"{bad / info.samplerate:.3f} s (frame {bad})"), True
        if info.samplerate != rate:
            try:
                path = _resampled(path, rate, cache)
            except Exception as exc:
                return [], f"{where}: cannot resample {src.file}: {exc}", True
            frames = sf.info(str(path)).frames
        else:
            frames = info.frames
        start = round(item.position_s * rate)
        length = round(item.length_s * rate)
        gain = db_to_gain(item.gain_db)
        left, right = balance_gains(item.take_pan, pan_law)
        placed.append(_Placed(
            item=item, path=path, start=start, length=length,
            offset=round(item.source_offset_s * rate), source_frames=frames,
            fade_in=min(length, round(item.fade_in_s * rate)),
            fade_out=min(length, round(item.fade_out_s * rate)),
            gains=(gain * left, gain * right),
        ))
    return placed, None, False


def _render_item_block(p: _Placed, pool: _SourcePool, lo: int, hi: int) -> np.ndarray:
    """Frames ``lo..hi`` (timeline) of one item, stereo, with gain and fades."""
    n = hi - lo
    out = np.zeros((n, 2))
    rel = np.arange(lo - p.start, hi - p.start)  # frames since the item start
    src_pos = rel + p.offset
    if p.item.loop:
        src_pos = np.mod(src_pos, p.source_frames)
    # read contiguous runs of source frames (a loop wrap splits the run)
    valid = (src_pos >= 0) & (src_pos < p.source_frames)
    if valid.any():
        idx = np.flatnonzero(valid)
        breaks = np.flatnonzero(np.diff(src_pos[idx]) != 1) + 1
        for run in np.split(idx, breaks):
            first = int(src_pos[run[0]])
            data = pool.read(p.path, first, len(run))
            out[run[: len(data)]] = _to_stereo(data, p.item.channel_mode)[: len(run)]
    gain = np.ones(n)
    if p.fade_in > 0:
        gain *= np.where(rel < p.fade_in, fade_curve(rel / p.fade_in, p.item.fade_in_shape), 1.0)
    if p.fade_out > 0:
        left = p.length - rel  # frames left until the item ends
        gain *= np.where(left <= p.fade_out,
                         fade_curve(left / p.fade_out, p.item.fade_out_shape), 1.0)
    out[:, 0] *= gain * p.gains[0]
    out[:, 1] *= gain * p.gains[1]
    return out


def _render_rate(session: Session) -> int:
    if session.sample_rate:
        return session.sample_rate
    for track in session.tracks:
        for item in track.items:
            if item.source is not None and item.source.is_audio and item.source.exists:
                try:
                    return sf.info(str(item.source.path)).samplerate
                except Exception:
                    continue
    return DEFAULT_RATE


def _folder_chain(session: Session) -> dict[str, list[Track]]:
    """Track GUID -> its folder parents, outermost first."""
    parents: dict[str, list[Track]] = {}
    stack: list[Track] = []
    for track in session.tracks:
        parents[track.guid] = list(stack)
        if track.folder_depth > 0:
            stack.append(track)
        elif track.folder_depth < 0:
            del stack[max(0, len(stack) + track.folder_depth):]
    return parents


def render_stems(
    session: Session,
    out_dir: str | Path,
    *,
    sample_rate: int | None = None,
    tracks: list[str] | None = None,
    pre_fader: bool = False,
    mix: bool = True,
    block_frames: int = BLOCK_FRAMES,
) -> RenderReport:
    """Render one dry stem per track (GUIDs in ``tracks``, default all) into ``out_dir``.

    ``pre_fader=True`` leaves out the track's own volume and pan (for analysis that wants the
    source as recorded). Returns a :class:`RenderReport`; never raises for a bad track.

    >>> report = render_stems(load_session("song.RPP"), "stems/")  # doctest: +SKIP
    >>> report.stems  # doctest: +SKIP
    {'{0A1B...}': PosixPath('stems/01 - Audio 1.wav'), ...}
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rate = sample_rate or _render_rate(session)
    report = RenderReport(sample_rate=rate)
    wanted = set(tracks) if tracks is not None else None
    cache = out / ".resampled"
    chain = _folder_chain(session)

    scanned: dict[Path, np.ndarray] = {}  # file -> its NaN/Inf frames
    jobs: list[tuple[Track, list[_Placed], np.ndarray, np.ndarray]] = []
    for track in session.tracks:
        if wanted is not None and track.guid not in wanted:
            continue
        notes: list[str] = []
        placed, problem, bad_media = _place(track, rate, session.pan_law_gain, cache, notes,
                                            scanned)
        if problem:
            report.problems[track.guid] = problem
            if bad_media:
                report.bad_media.add(track.guid)
            continue
        if notes:
            report.notes.setdefault(track.guid, []).extend(notes)
        if not placed:
            report.problems[track.guid] = "no audio items"
            continue
        if track.fx_names:
            report.notes.setdefault(track.guid, []).append(
                "dry stem: plug-ins not applied: " + ", ".join(track.fx_names))
        left, right = balance_gains(track.pan, session.pan_law_gain)
        vol = db_to_gain(track.volume_db) * (-1.0 if track.phase_invert else 1.0)
        post_fader = np.array([vol * left, vol * right])
        stem_gains = np.ones(2) if pre_fader else post_fader
        # the track's weight in the mix: audible, through its folder parents, times master
        parents = chain.get(track.guid, [])
        in_mix = mix and session.audible(track) and not any(p.mute for p in parents)
        weight = db_to_gain(session.master_volume_db) if in_mix else 0.0
        for parent in parents:
            weight *= db_to_gain(parent.volume_db)
        jobs.append((track, placed, stem_gains, post_fader * weight))

    if not jobs:
        return report
    total = max(p.start + p.length for _, placed, _, _ in jobs for p in placed)
    report.length_s = total / rate
    pool = _SourcePool()
    writers: list[sf.SoundFile] = []
    try:
        for track, _, _, _ in jobs:
            path = out / stem_file_name(track)
            writers.append(sf.SoundFile(str(path), "w", rate, 2, "FLOAT", format="WAV"))
            report.stems[track.guid] = path
        mix_writer = None
        if mix and any(g.any() for *_, g in jobs):
            report.mix = out / "mix.wav"
            mix_writer = sf.SoundFile(str(report.mix), "w", rate, 2, "FLOAT", format="WAV")
            writers.append(mix_writer)
        for lo in range(0, total, block_frames):
            hi = min(total, lo + block_frames)
            mix_block = np.zeros((hi - lo, 2))
            for (_track, placed, stem_gains, mix_gains), writer in zip(jobs, writers,
                                                                         strict=False):
                block = np.zeros((hi - lo, 2))
                for p in placed:
                    a, b = max(lo, p.start), min(hi, p.start + p.length)
                    if a < b:
                        block[a - lo:b - lo] += _render_item_block(p, pool, a, b)
                writer.write((block * stem_gains).astype(np.float32))
                if mix_gains.any():
                    mix_block += block * mix_gains
            if mix_writer is not None:
                mix_writer.write(mix_block.astype(np.float32))
    finally:
        pool.close()
        for writer in writers:
            writer.close()
    for track, placed, _, _ in jobs:
        for path in dict.fromkeys(p.path for p in placed if p.path in pool.short):
            report.notes.setdefault(track.guid, []).append(
                f"{path.name}: truncated: decoding stopped at frame {pool.short[path]}, before "
                "the length its header promises; the rest plays as silence")
    return report

