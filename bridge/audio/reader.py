"""Open an audio file and stream it as float blocks, with clear errors for bad files.

Two calls cover almost every use:

* :func:`open_audio` returns an :class:`AudioStream`; iterate its :meth:`~AudioStream.blocks`
  to get ``float32`` arrays shaped ``(frames, channels)`` of at most ``block_frames`` frames.
  Memory stays flat however long the file is.
* :func:`read_audio` reads a whole file: ``(samples, rate)`` with ``samples`` shaped
  ``(frames, channels)`` (always 2-D, ``float32``, full scale = 1.0).

Every failure is an :class:`AudioError` whose message starts with the file name and says why:
not an audio file, zero length, truncated (the header promises more audio than the file holds),
or a NaN/Inf sample (found while streaming, with the frame where it sits).

Plain PCM and float WAV files (16/24/32-bit integer, 32-bit float; the usual case for stems)
are decoded here with numpy straight into channel-major buffers, which is about twice as fast
as going through libsndfile; every other format (FLAC, AIFF, Ogg, RF64, 8-bit, 64-bit float, ...)
is read with ``soundfile``. Both paths give identical samples. What libsndfile cannot read
(AAC/M4A, MP4, WMA, ...) is decoded by the ``ffmpeg`` program when it is installed
(:mod:`bridge.audio.decode`).

Example::

    >>> with open_audio("take.wav") as stream:  # doctest: +SKIP
    ...     for block in stream.blocks():
    ...         print(block.shape)              # (65536, 2) ... then the remainder
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bridge.audio.decode import ProbeInfo

BLOCK_FRAMES = 65536
"""Default block length: about 1.4 s at 48 kHz; 512 KB per stereo float32 block."""

_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class AudioError(Exception):
    """A file that cannot be read as audio; ``str()`` names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class AudioInfo:
    """What the file header says."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    """Container, e.g. ``WAV``, ``FLAC``."""
    subtype: str
    """Sample encoding, e.g. ``PCM_24``, ``FLOAT``."""
    channel_mask: int | None = None
    """Speaker bits of a WAVE_FORMAT_EXTENSIBLE header (``0x3F`` = 5.1); None when absent."""

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class _WavLayout:
    data_offset: int
    frames: int
    sample_width: int
    is_float: bool


def _parse_wav(path: Path, file_size: int) -> _WavLayout | None:
    """Locate the sample data of a plain RIFF/WAVE file; None when it is anything else.

    Raises AudioError for a WAV whose data chunk claims more bytes than the file holds.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        fmt: tuple[int, int, int, int] | None = None
        while offset + 8 <= file_size:
            f.seek(offset)
            chunk_id, size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"fmt ":
                body = f.read(min(size, 40))
                if len(body) < 16:
                    return None
                tag, channels, _rate, _bps, align, bits = struct.unpack("<HHIIHH", body[:16])
                if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]
                fmt = (tag, channels, align, bits)
            elif chunk_id == b"data":
                if fmt is None:
                    return None
                tag, channels, align, bits = fmt
                available = file_size - (offset + 8)
                if size in (0, 0xFFFFFFFF):  # streaming writers leave the size unset
                    size = available
                if size > available:
                    frames_claimed = size // align if align else 0
                    frames_there = available // align if align else 0
                    raise AudioError(path, (
                        f"truncated: the header promises {frames_claimed} frames "
                        f"({size} bytes) but the file holds {frames_there} "
                        f"({available} bytes)"))
                width = bits // 8
                plain = (
                    channels > 0
                    and align == channels * width
                    and ((tag == _WAVE_FORMAT_PCM and bits in (16, 24, 32))
                         or (tag == _WAVE_FORMAT_FLOAT and bits == 32))
                )
                if not plain:
                    return None
                return _WavLayout(offset + 8, size // align, width, tag == _WAVE_FORMAT_FLOAT)
            offset += 8 + size + (size & 1)
        return None


def wav_channel_mask(path: str | Path) -> int | None:
    """The speaker mask of a RIFF/RF64 WAVE_FORMAT_EXTENSIBLE file, else None.

    Bits as Microsoft defines them: 0x1 front left, 0x2 front right, 0x4 centre, 0x8 LFE,
    0x10/0x20 back left/right, 0x100 back centre, 0x200/0x400 side left/right, ...; the
    channels are stored in bit order. A mask of 0 (no positions) is returned as None.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                chunk_id, size = struct.unpack("<4sI", chunk)
                if chunk_id == b"fmt ":
                    body = f.read(min(size, 40))
                    tag = struct.unpack("<H", body[:2])[0] if len(body) >= 24 else None
                    if tag != _WAVE_FORMAT_EXTENSIBLE:
                        return None
                    mask = struct.unpack("<I", body[20:24])[0]
                    return mask or None
                if chunk_id == b"data":
                    return None
                f.seek(size + (size & 1), 1)
    except OSError:
        return None


class AudioStream:
    """An open audio file; use as a context manager and iterate :meth:`blocks`."""

    def __init__(self, path: str | Path) -> None:
        import soundfile as sf

        self.path = Path(path)
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise AudioError(path, f"cannot open: {exc.strerror or exc}") from None
        if size == 0:
            raise AudioError(path, "zero-length file (no bytes at all)")
        self._wav = _parse_wav(self.path, size)
        self._ffmpeg: ProbeInfo | None = None
        try:
            sfinfo = sf.info(str(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            self.info = self._ffmpeg_info(f"not an audio file that can be read ({exc})")
        else:
            frames = self._wav.frames if self._wav is not None else int(sfinfo.frames)
            self.info = AudioInfo(self.path, int(sfinfo.samplerate), int(sfinfo.channels),
                                  frames, str(sfinfo.format), str(sfinfo.subtype),
                                  wav_channel_mask(self.path))
        frames = self.info.frames
        if self.info.channels < 1 or self.info.sample_rate < 1:
            raise AudioError(path, "header names no channels or no sample rate")
        if frames == 0 and self._ffmpeg is None:  # ffmpeg may not know the length up front
            raise AudioError(path, "zero length: the file holds no audio frames")
        self._check_finite = self.info.subtype in ("FLOAT", "DOUBLE") or (
            self._wav is not None and self._wav.is_float)

    def _ffmpeg_info(self, libsndfile_says: str) -> AudioInfo:
        """What ffmpeg makes of a file libsndfile refused (AAC, MP4, WMA, ...)."""
        from bridge.audio import decode

        if not decode.ffmpeg_available():
            raise AudioError(self.path, f"{libsndfile_says}; installing ffmpeg would let "
                                        "AAC/M4A/MP4 and other formats be read")
        probed = decode.probe(self.path)
        if probed is None:
            raise AudioError(self.path, f"{libsndfile_says}; ffmpeg finds no audio stream")
        self._ffmpeg = probed
        return AudioInfo(self.path, probed.sample_rate, probed.channels, probed.frames,
                         f"FFMPEG:{probed.codec}", "FLOAT")

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between blocks; kept for symmetry with file objects."""

    def blocks(self, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """Yield ``float32`` blocks shaped ``(frames, channels)``.

        Blocks from plain WAV files are views of channel-major buffers (``block.T`` is
        C-contiguous); each yielded array is fresh, so holding on to it is safe.
        Raises :class:`AudioError` on a truncated file or a NaN/Inf sample.
        """
        if block_frames < 1:
            raise ValueError("block_frames must be positive")
        if self._wav is not None:
            source = self._wav_blocks
        elif self._ffmpeg is not None:
            source = self._ffmpeg_blocks
        else:
            source = self._soundfile_blocks
        done = 0
        for block in source(block_frames):
            if self._check_finite and not np.isfinite(block.sum()):
                bad = np.flatnonzero(~np.isfinite(block).all(axis=1))[0]
                raise AudioError(self.path, f"NaN/Inf sample at frame {done + int(bad)} "
                                            f"({(done + int(bad)) / self.info.sample_rate:.3f} s)")
            done += len(block)
            yield block
        # compressed streams (MP3, Ogg, anything ffmpeg decodes) only estimate their length
        exact_length = self._wav is not None or (
            self._ffmpeg is None and self.info.format not in ("MPEG", "OGG"))
        if done < self.info.frames and exact_length:
            raise AudioError(self.path, f"truncated: the header promises {self.info.frames} "
                                        f"frames but only {done} could be read")

    def _wav_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        layout = self._wav
        assert layout is not None
        channels = self.info.channels
        width = layout.sample_width
        align = width * channels
        # one spare leading byte lets 24-bit samples be read as overlapping int32 words
        raw = bytearray(block_frames * align + 1)
        view = memoryview(raw)
        scratch = np.empty((channels, block_frames), np.int32) if width == 3 else None
        remaining = layout.frames
        with open(self.path, "rb", buffering=0) as f:
            f.seek(layout.data_offset)
            while remaining > 0:
                want = min(block_frames, remaining) * align
                got = 0
                while got < want:
                    n = f.readinto(view[1 + got:1 + want])
                    if not n:
                        break
                    got += n
                frames = got // align
                if frames == 0:
                    return
                out = np.empty((channels, frames), np.float32)
                if layout.is_float:
                    src = np.ndarray((frames, channels), "<f4", raw, 1, (align, 4))
                    out[...] = src.T
                elif width == 2:
                    src = np.ndarray((frames, channels), "<i2", raw, 1, (align, 2))
                    np.multiply(src.T, np.float32(1.0 / 32768.0), out=out, dtype=np.float32,
                                casting="unsafe")
                elif width == 3:
                    # int32 word ending at each sample's top byte; >> 8 drops the stray low byte
                    src = np.ndarray((frames, channels), "<i4", raw, 0, (align, 3))
                    assert scratch is not None
                    shifted = scratch[:, :frames]
                    np.right_shift(src.T, 8, out=shifted)
                    # dtype=float32: without it int32 * float32 is computed in float64
                    # (a third slower); both are exact, 24-bit integers fit a float32
                    np.multiply(shifted, np.float32(1.0 / 8388608.0), out=out,
                                dtype=np.float32, casting="unsafe")
                else:
                    src = np.ndarray((frames, channels), "<i4", raw, 1, (align, 4))
                    # one rounding either way: int32 -> float32, then an exact power of two
                    np.multiply(src.T, np.float32(1.0 / 2147483648.0), out=out,
                                dtype=np.float32, casting="unsafe")
                remaining -= frames
                yield out.T
                if got < want:
                    return

    def _ffmpeg_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        from bridge.audio.decode import decode_blocks

        assert self._ffmpeg is not None
        yield from decode_blocks(self.path, self._ffmpeg, block_frames)

    def _soundfile_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        import soundfile as sf

        try:
            with sf.SoundFile(str(self.path)) as f:
                while True:
                    block = f.read(block_frames, dtype="float32", always_2d=True)
                    if len(block) == 0:
                        return
                    yield block
        except sf.LibsndfileError as exc:
            raise AudioError(self.path, f"decoding failed ({exc})") from None


def open_audio(path: str | Path) -> AudioStream:
    """Open ``path`` for streaming; raises :class:`AudioError` if it is not usable audio."""
    return AudioStream(path)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a whole file: ``(samples, rate)``, samples ``float32`` shaped (frames, channels).

    >>> samples, rate = read_audio("kick.wav")  # doctest: +SKIP
    """
    with open_audio(path) as stream:
        parts = list(stream.blocks())
        rate = stream.info.sample_rate
    if not parts:
        raise AudioError(path, "zero length: the file holds no audio frames")
    return np.ascontiguousarray(np.concatenate(parts, axis=0)), rate
