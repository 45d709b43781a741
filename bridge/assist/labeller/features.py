"""A fixed-length feature vector describing what a stem sounds like.

Everything here is pure: samples in, a ``float32`` vector out. A stem is mixed to mono,
resampled to :data:`ANALYSIS_RATE_HZ`, its silent stretches are dropped, and at most
:data:`MAX_ANALYSIS_S` seconds of active audio (blocks spread evenly over the whole stem) are
analysed, so a 4-minute stem costs about the same as a 30-second one.

The vector holds level-independent descriptors only (gain must not change the label):

- log-mel spectrum shape (mean and spread per band, relative to the loudest band),
- MFCC statistics and their frame-to-frame movement,
- spectral centroid / bandwidth / roll-off / flatness / zero-crossing rate percentiles,
- spectral contrast, band-energy fractions,
- onset density, envelope decay after onsets, crest factor, loudness spread, activity ratio,
- periodicity (autocorrelation) and pitch behaviour: how much is voiced, how steady the pitch
  is, how long voiced runs last (sung notes hold, speech glides),
- syllable-rate (2-8 Hz) amplitude modulation, harmonic/percussive balance.

Example::

    >>> import numpy as np
    >>> t = np.arange(44100) / 44100
    >>> vec = extract_features(np.sin(2 * np.pi * 220 * t), 44100)
    >>> vec.shape == (len(FEATURE_NAMES),)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANALYSIS_RATE_HZ = 22050
"""Everything is analysed at this rate (Hz)."""
MAX_ANALYSIS_S = 24.0
"""At most this much active audio (seconds) is analysed per stem."""
BLOCK_S = 3.0
"""Active audio is picked in blocks of this length (seconds)."""
SILENCE_DBFS = -65.0
"""Frames quieter than this (dBFS RMS) never count as active."""
ACTIVE_BELOW_PEAK_DB = 45.0
"""Frames more than this far below the stem's loudest frame are treated as silence."""

FEATURES_VERSION = 2
"""Bumped whenever the numbers a stem gives change (a trained model must match)."""
HIGH_PASS_HZ = 25.0
"""DC offset and subsonic rumble are removed before measuring: they say nothing about the
instrument, and sample libraries and old recorders are full of them."""

N_FFT = 2048
HOP = 512
N_MELS = 40
N_MFCC = 20
_BANDS_HZ = (0, 60, 150, 400, 1000, 3000, 6000, 11025)
_DECAY_MS = (30, 80, 150, 300, 600)


@dataclass(frozen=True)
class StemActivity:
    """Where a stem is active, measured before the features are taken."""

    duration_s: float
    active_s: float
    peak_dbfs: float
    rms_active_dbfs: float

    @property
    def active_ratio(self) -> float:
        return 0.0 if self.duration_s <= 0 else self.active_s / self.duration_s


def _feature_names() -> tuple[str, ...]:
    names: list[str] = []
    names += [f"mel_mean_{i}" for i in range(N_MELS)]
    names += [f"mel_std_{i}" for i in range(N_MELS)]
    names += [f"mfcc_mean_{i}" for i in range(1, N_MFCC)]
    names += [f"mfcc_std_{i}" for i in range(N_MFCC)]
    names += [f"mfcc_delta_std_{i}" for i in range(N_MFCC)]
    for what in ("centroid", "bandwidth", "rolloff", "flatness", "zcr"):
        names += [f"{what}_p10", f"{what}_p50", f"{what}_p90", f"{what}_std"]
    names += [f"contrast_{i}" for i in range(7)]
    names += [f"band_{lo}_{hi}" for lo, hi in zip(_BANDS_HZ[:-1], _BANDS_HZ[1:], strict=True)]
    names += ["onsets_per_s", "onset_strength_cv", "onset_interval_cv"]
    names += [f"decay_{ms}ms" for ms in _DECAY_MS]
    names += ["crest_db", "rms_p10_rel", "rms_p50_rel", "rms_p90_rel", "active_ratio",
              "frame_active_ratio"]
    names += ["periodicity_mean", "voiced_ratio", "f0_median_log2", "f0_iqr_semitones",
              "pitch_step_semitones", "pitch_steady_ratio", "voiced_run_s", "f0_range_semitones"]
    names += ["mod_2_8hz", "mod_0_2hz", "mod_8_20hz", "harmonic_ratio", "flux_mean", "flux_cv"]
    return tuple(names)


FEATURE_NAMES: tuple[str, ...] = _feature_names()


def mono(samples: np.ndarray) -> np.ndarray:
    """Mix (frames,) or (frames, channels) samples to mono ``float64``."""
    x = np.asarray(samples)
    if x.ndim == 2:
        # soundfile gives (frames, channels); a (channels, frames) array is flipped here
        if x.shape[0] < x.shape[1] and x.shape[0] <= 16:
            x = x.T
        x = x.mean(axis=1, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be 1-D or 2-D, got shape {x.shape}")
    if not np.isfinite(x).all():
        x = np.where(np.isfinite(x), x, 0.0)
    return x


def _frame_rms_db(y: np.ndarray, frame: int) -> np.ndarray:
    n = len(y) // frame
    if len(y) == 0:
        return np.array([-200.0])
    if n == 0:
        return np.array([10 * np.log10(np.mean(y**2) + 1e-20)])
    power = (y[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    return 10 * np.log10(power + 1e-20)


def select_active(y: np.ndarray, rate: int) -> tuple[np.ndarray, StemActivity]:
    """Keep the active part of a mono stem, at most :data:`MAX_ANALYSIS_S` seconds.

    The stem is cut in :data:`BLOCK_S` blocks; blocks holding any active 50 ms frame are kept
    whole (so decays and gaps between hits stay), evenly chosen across the stem when there are
    more than fit.
    """
    frame = max(1, int(0.05 * rate))
    db = _frame_rms_db(y, frame)
    peak_db = float(db.max()) if len(db) else -200.0
    floor = max(SILENCE_DBFS, peak_db - ACTIVE_BELOW_PEAK_DB)
    active = db > floor
    duration = len(y) / rate
    if not active.any():
        return y[:0], StemActivity(duration, 0.0, peak_db, -200.0)
    active_s = min(float(active.sum() * frame / rate), duration)
    rms_active = float(10 * np.log10(np.mean(10 ** (db[active] / 10))))
    block = int(BLOCK_S * rate)
    n_blocks = max(1, int(np.ceil(len(y) / block)))
    frames_per_block = max(1, block // frame)
    keep = []
    for b in range(n_blocks):
        seg = active[b * frames_per_block:(b + 1) * frames_per_block]
        if seg.any():
            keep.append(b)
    limit = max(1, int(MAX_ANALYSIS_S / BLOCK_S))
    if len(keep) > limit:
        idx = np.linspace(0, len(keep) - 1, limit).round().astype(int)
        keep = [keep[i] for i in idx]
    parts = [y[b * block:(b + 1) * block] for b in keep]
    # trim leading/trailing silence of the selection so short one-shots are not padded
    sel = np.concatenate(parts)
    sdb = _frame_rms_db(sel, frame)
    on = np.flatnonzero(sdb > floor)
    if len(on):
        start = on[0] * frame
        stop = min(len(sel), (on[-1] + 1) * frame + int(0.2 * rate))
        sel = sel[start:stop]
    return sel, StemActivity(duration, active_s, peak_db, rms_active)


def _pct(x: np.ndarray) -> list[float]:
    if x.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    p10, p50, p90 = np.percentile(x, [10, 50, 90])
    return [float(p10), float(p50), float(p90), float(np.std(x))]


def _pitch(power: np.ndarray, active: np.ndarray, rate: int) -> list[float]:
    """Periodicity and pitch behaviour from the autocorrelation of each frame."""
    ac = np.fft.irfft(power, axis=0)  # (n_fft, frames)
    ac = ac[: N_FFT // 2]
    norm = ac[0] + 1e-12
    lo, hi = int(rate / 1000.0), int(rate / 55.0)
    seg = ac[lo:hi] / norm
    lag = np.argmax(seg, axis=0) + lo
    strength = seg.max(axis=0)
    strength = np.where(active, strength, 0.0)
    f0 = rate / lag
    voiced = active & (strength > 0.55)
    n_active = max(1, int(active.sum()))
    periodicity = float(strength[active].mean()) if active.any() else 0.0
    voiced_ratio = float(voiced.sum() / n_active)
    if voiced.sum() >= 3:
        lf = np.log2(f0[voiced])
        f0_med = float(np.median(lf))
        q75, q25 = np.percentile(lf, [75, 25])
        iqr = float((q75 - q25) * 12)
        rng = float((np.percentile(lf, 95) - np.percentile(lf, 5)) * 12)
        both = voiced[1:] & voiced[:-1]
        steps = np.abs(np.diff(np.log2(f0)))[both] * 12
        step = float(np.median(steps)) if steps.size else 0.0
        steady = float(np.mean(steps < 0.35)) if steps.size else 0.0
        runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(int), [0]]))))
        run_s = float(np.mean(runs[::2]) * HOP / rate) if runs.size else 0.0
    else:
        f0_med, iqr, rng, step, steady, run_s = 7.0, 0.0, 0.0, 0.0, 0.0, 0.0
    return [periodicity, voiced_ratio, f0_med, iqr, min(step, 12.0), steady, min(run_s, 5.0),
            rng]


def _high_pass(y: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(2, HIGH_PASS_HZ, btype="highpass", fs=rate, output="sos")
    return sosfilt(sos, y)


def extract_features(samples: np.ndarray, rate: int) -> np.ndarray:
    """The feature vector of a stem (see :data:`FEATURE_NAMES`), ``float32``.

    ``samples`` is (frames,) or (frames, channels) at ``rate`` Hz. A silent stem gives an
    all-zero vector apart from its silence markers; use :func:`analyse` to also learn whether
    the stem was silent.
    """
    return analyse(samples, rate)[0]


def analyse(samples: np.ndarray, rate: int) -> tuple[np.ndarray, StemActivity]:
    """:func:`extract_features` plus the stem's :class:`StemActivity`."""
    import librosa

    if rate <= 0:
        raise ValueError(f"sample rate must be > 0, got {rate}")
    y = mono(samples)
    # choose the active blocks at the stem's own rate, so only what is analysed is resampled
    sel, activity = select_active(y, rate)
    if rate != ANALYSIS_RATE_HZ and len(sel):
        sel = librosa.resample(sel, orig_sr=rate, target_sr=ANALYSIS_RATE_HZ, res_type="soxr_mq")
    sr = ANALYSIS_RATE_HZ
    vec = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    if activity.active_s <= 0 or len(sel) < HOP * 2:
        return vec, activity
    sel = _high_pass(sel - np.mean(sel), sr)
    peak = np.max(np.abs(sel))
    sel = sel / (peak + 1e-12)
    if len(sel) < N_FFT:
        sel = np.pad(sel, (0, N_FFT - len(sel)))

    stft = np.abs(librosa.stft(sel, n_fft=N_FFT, hop_length=HOP, center=True))
    power = stft**2
    frame_db = 10 * np.log10(power.sum(axis=0) / N_FFT + 1e-20)
    fmax = frame_db.max()
    active = frame_db > max(fmax - ACTIVE_BELOW_PEAK_DB, -120)
    if active.sum() < 2:
        active = frame_db >= np.sort(frame_db)[-min(2, len(frame_db))]

    feats: list[float] = []
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=N_MELS, fmax=sr / 2)
    logmel = 10 * np.log10(mel + 1e-10)
    act_mel = logmel[:, active]
    mel_mean = act_mel.mean(axis=1)
    feats += list((mel_mean - mel_mean.max()) / 10.0)
    feats += list(act_mel.std(axis=1) / 10.0)

    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=N_MFCC)
    act_mfcc = mfcc[:, active]
    feats += list(act_mfcc.mean(axis=1)[1:] / 50.0)
    feats += list(act_mfcc.std(axis=1) / 50.0)
    if mfcc.shape[1] >= 3:
        delta = np.diff(mfcc, axis=1)[:, active[1:]]
        feats += list((delta.std(axis=1) if delta.size else np.zeros(N_MFCC)) / 20.0)
    else:
        feats += [0.0] * N_MFCC

    cent = librosa.feature.spectral_centroid(S=stft, sr=sr)[0][active]
    bw = librosa.feature.spectral_bandwidth(S=stft, sr=sr)[0][active]
    roll = librosa.feature.spectral_rolloff(S=stft, sr=sr, roll_percent=0.85)[0][active]
    flat = librosa.feature.spectral_flatness(S=stft)[0][active]
    zcr = librosa.feature.zero_crossing_rate(sel, frame_length=N_FFT, hop_length=HOP)[0]
    zcr = zcr[: len(active)][active[: len(zcr)]]
    feats += _pct(np.log2(cent + 20) - 10)
    feats += _pct(np.log2(bw + 20) - 10)
    feats += _pct(np.log2(roll + 20) - 10)
    feats += _pct(np.log10(flat + 1e-8))
    feats += _pct(np.sqrt(zcr))

    contrast = librosa.feature.spectral_contrast(S=stft, sr=sr, n_bands=6)[:, active]
    feats += list(contrast.mean(axis=1) / 20.0)

    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    spec_total = power[:, active].sum(axis=1)
    total = spec_total.sum() + 1e-20
    for lo, hi in zip(_BANDS_HZ[:-1], _BANDS_HZ[1:], strict=True):
        band = spec_total[(freqs >= lo) & (freqs < hi)].sum()
        feats.append(float(np.log10(band / total + 1e-6)))

    # onsets and envelope
    onset_env = librosa.onset.onset_strength(S=logmel, sr=sr)
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr, hop_length=HOP,
                                        units="frames")
    active_s = max(active.sum() * HOP / sr, 0.05)
    feats.append(float(np.log1p(len(onsets) / active_s)))
    oe = onset_env[active[: len(onset_env)]] if len(onset_env) else np.zeros(1)
    feats.append(float(np.std(oe) / (np.mean(oe) + 1e-9)) if oe.size else 0.0)
    if len(onsets) >= 3:
        iv = np.diff(onsets).astype(float)
        feats.append(float(min(np.std(iv) / (np.mean(iv) + 1e-9), 3.0)))
    else:
        feats.append(0.0)
    rms_db = frame_db
    decays = []
    peaks = onsets if len(onsets) else np.array([int(np.argmax(rms_db))])
    for o in peaks[:200]:
        win = rms_db[o:o + 4]
        if not len(win):
            continue
        p = o + int(np.argmax(win))
        ref = rms_db[p]
        row = []
        for ms in _DECAY_MS:
            k = p + max(1, int(round(ms / 1000 * sr / HOP)))
            row.append(rms_db[min(k, len(rms_db) - 1)] - ref if k < len(rms_db) else -60.0)
        decays.append(row)
    dec = np.median(np.array(decays), axis=0) if decays else np.full(len(_DECAY_MS), -60.0)
    feats += list(np.clip(dec, -60, 10) / 20.0)

    rms_lin = np.sqrt(np.mean(sel**2)) + 1e-12
    feats.append(float(20 * np.log10(1.0 / rms_lin)) / 20.0)
    act_db = rms_db[active]
    p10, p50, p90 = np.percentile(act_db - fmax, [10, 50, 90])
    feats += [p10 / 20.0, p50 / 20.0, p90 / 20.0]
    feats.append(float(activity.active_ratio))
    feats.append(float(active.mean()))

    feats += _pitch(power, active, sr)

    # amplitude modulation of the loudness curve: syllables sit around 2-8 Hz
    env = 10 ** (frame_db / 20)
    env = env - env.mean()
    if len(env) >= 16:
        spec = np.abs(np.fft.rfft(env * np.hanning(len(env)))) ** 2
        mf = np.fft.rfftfreq(len(env), d=HOP / sr)
        tot = spec[mf > 0.25].sum() + 1e-12
        feats.append(float(spec[(mf >= 2) & (mf < 8)].sum() / tot))
        feats.append(float(spec[(mf > 0.25) & (mf < 2)].sum() / tot))
        feats.append(float(spec[(mf >= 8) & (mf < 20)].sum() / tot))
    else:
        feats += [0.0, 0.0, 0.0]

    # on the mel spectrum rather than the full STFT: the balance is what matters, 40 bands do
    harm, perc = librosa.decompose.hpss(mel, kernel_size=(17, 5), power=2.0)
    he, pe = float((harm**2).sum()), float((perc**2).sum())
    feats.append(float(np.log10((he + 1e-12) / (pe + 1e-12))) / 2.0)
    flux = np.sqrt(np.mean(np.diff(np.sqrt(power), axis=1).clip(min=0) ** 2, axis=0))
    flux = flux[active[1:]] if flux.size else np.zeros(1)
    fm = float(np.mean(flux)) + 1e-12
    feats.append(float(np.log10(fm + 1e-9)))
    feats.append(float(np.std(flux) / fm))

    out = np.asarray(feats, dtype=np.float64)
    if out.shape[0] != len(FEATURE_NAMES):
        raise AssertionError(f"feature count {out.shape[0]} != {len(FEATURE_NAMES)}")
    vec[:] = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return vec, activity
