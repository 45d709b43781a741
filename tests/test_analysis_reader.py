"""The audio reader: fast WAV path equals libsndfile, and bad files get clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.audio.reader import AudioError, open_audio, read_audio


def _signal(frames: int = 10000, channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = 0.5 * rng.standard_normal((frames, channels))
    x[:5] = [[1.0] * channels, [-1.0] * channels, [0.0] * channels,
             [0.999] * channels, [-0.999] * channels]
    return np.clip(x, -1.0, 1.0)


@pytest.mark.parametrize(("fmt", "subtype"), [
    ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
    ("WAVEX", "PCM_24"), ("FLAC", "PCM_24"), ("AIFF", "PCM_16"), ("WAV", "DOUBLE"),
    ("WAV", "PCM_U8"), ("RF64", "PCM_24"),
])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_samples_equal_libsndfile(tmp_path: Path, fmt: str, subtype: str,
                                  channels: int) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, _signal(channels=channels), 44100, format=fmt, subtype=subtype)
    ours, rate = read_audio(path)
    ref, ref_rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == ref_rate == 44100
    assert ours.shape == ref.shape
    assert ours.dtype == np.float32
    assert np.array_equal(ours, ref)


def test_blocks_are_bounded_and_cover_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, _signal(frames=100_001), 48000, subtype="PCM_24")
    with open_audio(path) as stream:
        assert stream.info.frames == 100_001
        sizes = [len(b) for b in stream.blocks(4096)]
    assert max(sizes) == 4096
    assert sum(sizes) == 100_001


def test_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not a recording\n" * 10)
    with pytest.raises(AudioError) as err:
        open_audio(path)
    assert "notes.wav" in str(err.value)
    assert "not an audio file" in str(err.value)


def test_zero_length_file_and_zero_frames(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav: zero-length"):
        open_audio(empty)
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros((0, 2)), 48000)
    with pytest.raises(AudioError, match="header.wav: zero length"):
        open_audio(header_only)


@pytest.mark.parametrize("subtype", ["PCM_24", "FLOAT"])
def test_truncated_wav(tmp_path: Path, subtype: str) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, _signal(frames=48000), 48000, subtype=subtype)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:-50_000])
    with pytest.raises(AudioError, match=r"cut.wav: truncated: the header promises 48000"):
        with open_audio(cut) as stream:
            for _ in stream.blocks():
                pass


def test_truncated_flac(tmp_path: Path) -> None:
    full = tmp_path / "full.flac"
    sf.write(full, _signal(frames=96000), 48000, subtype="PCM_24")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(AudioError, match=r"cut.flac: .*(truncated|decoding failed)"):
        with open_audio(cut) as stream:
            for _ in stream.blocks():
                pass


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_found_while_streaming(tmp_path: Path, bad: float) -> None:
    x = _signal(frames=200_000).astype(np.float32)
    x[150_000, 1] = bad
    path = tmp_path / "float.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    seen = 0
    with pytest.raises(AudioError, match=r"float.wav: NaN/Inf sample at frame 150000"):
        with open_audio(path) as stream:
            for block in stream.blocks(65536):
                seen += len(block)
    assert seen == 131072  # the good blocks before it were delivered


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="nowhere.wav: cannot open"):
        open_audio(tmp_path / "nowhere.wav")
