"""A small, fast STFT pair for the spectral processes (denoise, diagnose).

Square-root Hann windows at 50 % or 75 % overlap, computed in float32: analysis times
synthesis sums to a constant, so
``istft(stft(x))`` gives ``x`` back to rounding error. Arrays are (frames,) mono; the callers
loop over channels.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def frame_size_for(rate: int, seconds: float = 0.032) -> int:
    """The power of two nearest to ``seconds`` at ``rate`` (512 at 16 kHz, 2048 at 48 kHz)."""
    return int(2 ** round(np.log2(max(rate * seconds, 64))))


def window(size: int) -> np.ndarray:
    """Periodic square-root Hann window."""
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size))


def stft(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Complex spectra, shape (n_frames, size // 2 + 1). ``x`` is padded by ``size`` at each
    end, so every input sample is covered by a full set of overlapping frames."""
    padded = np.concatenate(
        [np.zeros(size, np.float32), np.asarray(x, dtype=np.float32), np.zeros(size, np.float32)]
    )
    n_frames = 1 + (len(padded) - size) // hop
    tail = (n_frames - 1) * hop + size - len(padded)
    if tail < 0:
        n_frames += 1
        padded = np.concatenate(
            [padded, np.zeros((n_frames - 1) * hop + size - len(padded), np.float32)]
        )
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, size), strides=(padded.strides[0] * hop, padded.strides[0])
    )
    return sfft.rfft(frames * window(size).astype(np.float32), axis=1)


def istft(spectra: np.ndarray, size: int, hop: int, length: int) -> np.ndarray:
    """Inverse of :func:`stft` for a signal of ``length`` samples."""
    frames = sfft.irfft(spectra, n=size, axis=1) * window(size).astype(np.float32)
    n_frames = frames.shape[0]
    out = np.zeros((n_frames - 1) * hop + size, np.float32)
    for i in range(size // hop):
        # Frames i, i + k, i + 2k ... never overlap each other, so they add in one reshape.
        block = frames[i :: size // hop]
        start = i * hop
        seg = out[start : start + block.shape[0] * size]
        seg[: block.size] += block.ravel()[: seg.size]
    # sqrt-Hann squared at hop = size / k sums to k / 2.
    out *= 2.0 * hop / size
    return out[size : size + length].astype(np.float64)
