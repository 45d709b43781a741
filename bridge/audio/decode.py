"""Audio that libsndfile cannot read (AAC/M4A, MP4 and other video files, WMA, ...) through
the ``ffmpeg`` program, when it is installed.

Sessions collect such files: a reference bounced to .m4a, a phone voice memo, the audio of a
video clip (REAPER keeps those as ``<SOURCE VIDEO``). ffmpeg is run as a separate program (never
linked), with the file name passed as one argument, never through a shell.

* :func:`probe` says what the first audio stream is (rate, channels, duration), or None when
  the file has no audio stream.
* :func:`decode_blocks` streams it as ``float32`` blocks shaped ``(frames, channels)``.
* :func:`decoded_wav` writes a float WAV copy once into a cache folder, for readers that need
  to seek (the renderer).

Every failure is an :class:`~bridge.audio.reader.AudioError` naming the file and ffmpeg's own
last words.

Example::

    >>> info = probe("memo.m4a")                      # doctest: +SKIP
    >>> info.sample_rate, info.channels, round(info.duration_s, 1)  # doctest: +SKIP
    (48000, 1, 1.4)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.audio.reader import AudioError


class NoAudioStream(AudioError):
    """The file opens, but holds no audio stream (a picture-only video)."""


PROBE_TIMEOUT_S = 30.0
"""ffprobe only reads headers; a file that keeps it busy longer is treated as unreadable."""


@dataclass(frozen=True)
class ProbeInfo:
    """The first audio stream of a file, as ffprobe reports it."""

    sample_rate: int
    channels: int
    duration_s: float
    """From the container; an estimate for some formats."""
    codec: str

    @property
    def frames(self) -> int:
        return max(0, round(self.duration_s * self.sample_rate))


def ffmpeg_available() -> bool:
    """True when both ``ffmpeg`` and ``ffprobe`` are on the PATH."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _last_words(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def probe(path: str | Path) -> ProbeInfo | None:
    """Rate, channels and duration of the first audio stream; None if there is none.

    Raises AudioError when ffprobe cannot read the file at all.
    """
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
           "-show_format", "-select_streams", "a:0", "--", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioError(path, f"ffprobe failed ({exc})") from None
    if done.returncode != 0:
        raise AudioError(path, f"not an audio file that can be read "
                                f"(ffprobe: {_last_words(done.stderr)})")
    try:
        report = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        raise AudioError(path, "ffprobe gave no readable answer") from None
    streams = report.get("streams") or []
    if not streams:
        return None
    stream = streams[0]
    try:
        rate = int(stream["sample_rate"])
        channels = int(stream["channels"])
    except (KeyError, TypeError, ValueError):
        raise AudioError(path, "ffprobe names no sample rate or channel count") from None
    duration = stream.get("duration") or (report.get("format") or {}).get("duration") or 0
    try:
        duration_s = float(duration)
    except (TypeError, ValueError):
        duration_s = 0.0
    return ProbeInfo(rate, channels, duration_s, str(stream.get("codec_name", "?")))


def decode_blocks(path: str | Path, info: ProbeInfo,
                  block_frames: int = 65536) -> Iterator[np.ndarray]:
    """Stream the first audio stream as ``float32`` blocks shaped ``(frames, channels)``,
    at the stream's own rate and channel count."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn",
           "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(info.channels),
           "-ar", str(info.sample_rate), "-"]
    frame_bytes = 4 * info.channels
    want = block_frames * frame_bytes
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise AudioError(path, f"ffmpeg failed to start ({exc})") from None
    assert proc.stdout is not None and proc.stderr is not None
    try:
        pending = b""
        while True:
            chunk = proc.stdout.read(want - len(pending))
            if not chunk:
                break
            pending += chunk
            if len(pending) >= want:
                yield np.frombuffer(pending, "<f4").reshape(-1, info.channels).copy()
                pending = b""
        usable = len(pending) - len(pending) % frame_bytes
        if usable:
            yield np.frombuffer(pending[:usable], "<f4").reshape(-1, info.channels).copy()
        stderr = proc.stderr.read()
        if proc.wait() != 0:
            raise AudioError(path, f"decoding failed (ffmpeg: {_last_words(stderr)})")
    finally:
        if proc.poll() is None:  # the reader stopped early
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def decoded_wav(path: str | Path, cache: str | Path) -> Path:
    """A float WAV copy of ``path`` in ``cache`` (made once per file version, written to a
    ``.partial`` name and renamed, so a crash never leaves a half file under the real name).

    Raises AudioError when the file has no audio stream or cannot be decoded.
    """
    import soundfile as sf

    source = Path(path)
    st = source.stat()
    key = hashlib.sha1(f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    target = Path(cache) / f"{source.stem}.{key.hexdigest()[:12]}.decoded.wav"
    if target.exists():
        return target
    info = probe(source)
    if info is None:
        raise NoAudioStream(source, "holds no audio stream")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    try:
        with sf.SoundFile(str(partial), "w", info.sample_rate, info.channels, "FLOAT",
                          format="WAV") as dst:
            for block in decode_blocks(source, info):
                dst.write(block)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
