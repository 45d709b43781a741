"""Known damage, added on purpose: the yardstick for every restoration process.

The tests and the benchmark take a clean recording, add one kind of damage with these
functions, run the matching process and score the result against the clean signal with
:func:`si_sdr_db`. Every function is seeded, so a run is repeatable::

    >>> import numpy as np
    >>> clean = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> noisy = add_noise(clean, snr_db=5.0, colour="white", seed=1)
    >>> round(si_sdr_db(clean, noisy))
    5
"""

from __future__ import annotations

import numpy as np


def si_sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019).

    Both arrays are flattened; a multichannel file counts as one long signal.
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    est = np.asarray(estimate, dtype=np.float64).ravel()
    if ref.shape != est.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {est.shape}")
    ref = ref - ref.mean()
    est = est - est.mean()
    scale = np.dot(est, ref) / max(np.dot(ref, ref), 1e-20)
    target = scale * ref
    error = est - target
    ratio = max(np.dot(target, target), 1e-20) / max(np.dot(error, error), 1e-20)
    return float(10.0 * np.log10(ratio))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def coloured_noise(frames: int, colour: str = "white", seed: int = 0) -> np.ndarray:
    """Unit-RMS Gaussian noise; ``colour`` is ``white`` or ``pink`` (-3 dB/octave)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(frames)
    if colour == "pink":
        spectrum = np.fft.rfft(noise)
        f = np.arange(spectrum.size, dtype=np.float64)
        f[0] = 1.0
        noise = np.fft.irfft(spectrum / np.sqrt(f), n=frames)
    elif colour != "white":
        raise ValueError(f"unknown noise colour {colour!r} (white, pink)")
    return noise / max(_rms(noise), 1e-20)


def add_noise(clean: np.ndarray, snr_db: float, colour: str = "white", seed: int = 0) -> np.ndarray:
    """``clean`` plus stationary noise at ``snr_db`` (signal RMS over noise RMS, whole file)."""
    noise = coloured_noise(clean.shape[0], colour, seed)
    if clean.ndim == 2:
        noise = np.stack(
            [coloured_noise(clean.shape[0], colour, seed + c) for c in range(clean.shape[1])], 1
        )
    return clean + noise * _rms(clean) * 10.0 ** (-snr_db / 20.0)


def add_hum(
    clean: np.ndarray,
    rate: int,
    freq_hz: float = 50.0,
    hum_db: float = -20.0,
    harmonics: int = 8,
    drift_hz: float = 0.2,
    seed: int = 0,
) -> np.ndarray:
    """Mains hum: ``harmonics`` partials (odd ones stronger, like a transformer), level
    ``hum_db`` relative to the clean RMS, its fundamental wandering by up to ``drift_hz``."""
    rng = np.random.default_rng(seed)
    n = clean.shape[0]
    t = np.arange(n) / rate
    wander = drift_hz * np.sin(2 * np.pi * t / max(t[-1], 1.0) + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(freq_hz + wander) / rate
    hum = np.zeros(n)
    for k in range(1, harmonics + 1):
        amp = (1.0 if k % 2 else 0.5) / k**0.7
        hum += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    hum *= _rms(clean) * 10.0 ** (hum_db / 20.0) / max(_rms(hum), 1e-20)
    return clean + (hum[:, None] if clean.ndim == 2 else hum)


def add_clicks(
    clean: np.ndarray, rate: int, count: int = 200, seed: int = 0, max_width_ms: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` clicks (1 sample up to ``max_width_ms`` wide, decaying, random sign, 0.1..1 of
    full scale on top of the music). Returns the damaged signal and the click start frames."""
    rng = np.random.default_rng(seed)
    out = np.array(clean, dtype=np.float64, copy=True)
    n = clean.shape[0]
    max_width = max(1, int(round(max_width_ms * 1e-3 * rate)))
    starts = np.sort(rng.choice(np.arange(16, n - max_width - 16), size=count, replace=False))
    peak = float(np.max(np.abs(clean))) or 1.0
    for start in starts:
        width = int(rng.integers(1, max_width + 1))
        shape = rng.uniform(0.1, 1.0) * peak * rng.choice([-1.0, 1.0])
        pulse = shape * np.exp(-np.arange(width) / max(width / 2.0, 1.0))
        pulse *= 1.0 + 0.3 * rng.standard_normal(width)
        if out.ndim == 2:
            out[start : start + width] += pulse[:, None]
        else:
            out[start : start + width] += pulse
    return out, starts


def clip(clean: np.ndarray, fraction: float = 0.04) -> tuple[np.ndarray, float]:
    """Hard-clip so that ``fraction`` of the samples sit at the rails; returns (signal, level)."""
    level = float(np.quantile(np.abs(clean), 1.0 - fraction))
    return np.clip(clean, -level, level), level


def add_breaths(
    clean: np.ndarray,
    rate: int,
    count: int = 6,
    level_db: float = -24.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Open ``count`` pauses between words of ``clean`` (at its quietest moments) and put a
    synthetic breath in each: band-limited noise with an in/out envelope, 250..500 ms long,
    ``level_db`` below the speech's active RMS, with 150 ms of the recording's own floor on
    either side.

    Returns ``(breathy, reference, spans)``: the signal with breaths, the same signal with
    the pauses but without the breaths (the reference to score against), and the
    (start, stop) frames of each breath.
    """
    rng = np.random.default_rng(seed)
    x = clean if clean.ndim == 1 else clean.mean(axis=1)
    hop = int(0.01 * rate)
    frames = len(x) // hop
    env = np.sqrt(np.mean(x[: frames * hop].reshape(frames, hop) ** 2, axis=1))
    active_rms = float(np.sqrt(np.mean(env[env > np.quantile(env, 0.5)] ** 2))) or 1.0
    floor_rms = float(np.quantile(env, 0.05))
    # Candidate cut points: the quietest frames, at least 1 s apart and off the file ends.
    order = np.argsort(env)
    cuts: list[int] = []
    for i in order:
        if len(cuts) == count:
            break
        if 50 <= i < frames - 50 and all(abs(i - c) > 100 for c in cuts):
            cuts.append(int(i))
    cuts.sort()
    pieces_clean, pieces_breathy, spans = [], [], []
    last = 0
    position = 0
    pad = int(0.15 * rate)
    for cut in cuts:
        at = cut * hop + hop // 2
        pieces_clean.append(clean[last:at])
        pieces_breathy.append(clean[last:at])
        position += at - last
        length = int(rng.uniform(0.25, 0.5) * rate)
        gap = 2 * pad + length
        room = coloured_noise(gap, "white", int(rng.integers(1 << 30))) * floor_rms
        noise = coloured_noise(length, "pink", int(rng.integers(1 << 30)))
        f = np.fft.rfftfreq(length, 1 / rate)
        # A breath is a broad hiss with a soft peak around 1-2 kHz (the vocal tract at rest).
        shape = np.exp(-0.5 * (np.log2(np.maximum(f, 1) / 1500.0) / 1.2) ** 2)
        breath = np.fft.irfft(np.fft.rfft(noise) * shape, n=length)
        t = np.linspace(0, 1, length)
        breath *= np.sin(np.pi * t) ** 1.5 * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
        middle = breath[length // 4 : -length // 4]
        breath *= active_rms * 10 ** (level_db / 20) / max(_rms(middle), 1e-20)
        with_breath = room.copy()
        with_breath[pad : pad + length] += breath
        if clean.ndim == 2:
            room = np.repeat(room[:, None], clean.shape[1], axis=1)
            with_breath = np.repeat(with_breath[:, None], clean.shape[1], axis=1)
        pieces_clean.append(room)
        pieces_breathy.append(with_breath)
        spans.append((position + pad, position + pad + length))
        position += gap
        last = at
    pieces_clean.append(clean[last:])
    pieces_breathy.append(clean[last:])
    return np.concatenate(pieces_breathy), np.concatenate(pieces_clean), spans
