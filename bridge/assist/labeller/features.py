"""A fixed-length feature vector describing what a stem sounds like.

Everything here is pure: samples in, a ``float32`` vector out. A stem is mixed to mono, its
silent stretches are dropped, at most :data:`MAX_ANALYSIS_S` seconds of active audio (blocks
spread evenly over the whole stem) are resampled to :data:`ANALYSIS_RATE_HZ` and analysed, so
a 4-minute stem costs about the same as a 30-second one.

The vector holds level-independent descriptors only (gain must not change the label):

- log-mel spectrum shape (mean and spread per band, relative to the loudest band),
- MFCC statistics and their frame-to-frame movement,
- spectral centroid / bandwidth / roll-off / flatness / zero-crossing rate percentiles,
- spectral contrast, band-energy fractions,
- onset density, attack time, envelope decay after onsets (30 ms to 1.5 s), crest factor,
  loudness spread, activity ratio,
- periodicity (autocorrelation) and pitch behaviour: how much is voiced, how steady the pitch
  is, how long voiced runs last (sung notes hold, speech glides),
- the harmonic profile: levels of harmonics 2-10 relative to the fundamental, odd/even balance
  (a clarinet, a trumpet, a violin and a voice on the same note differ here),
- high-band decay after onsets (a crash rings on, a closed hat stops),
- syllable-rate (2-8 Hz) amplitude modulation, harmonic/percussive balance, spectral flux.

The spectral work is done in ``float32`` with one STFT; every per-frame descriptor reads the
same magnitude spectrogram.

Example::

    >>> import numpy as np
    >>> t = np.arange(44100) / 44100
    >>> vec = extract_features(np.sin(2 * np.pi * 220 * t), 44100)
    >>> vec.shape == (len(FEATURE_NAMES),)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

ANALYSIS_RATE_HZ = 22050
"""Everything is analysed at this rate (Hz)."""
MAX_ANALYSIS_S = 15.0
"""At most this much active audio (seconds) is analysed per stem."""
BLOCK_S = 3.0
"""Active audio is picked in blocks of this length (seconds)."""
SILENCE_DBFS = -65.0
"""A stem whose loudest 50 ms frame is quieter than this (dBFS RMS) is empty."""
ACTIVE_BELOW_PEAK_DB = 45.0
"""Frames more than this far below the stem's loudest frame are treated as silence. Only this
relative floor decides what is active, so a fader or clip-gain change never changes the
label (an absolute floor used to cut the tails of quiet stems: a brass section read brass at
one fader setting and woodwind 6 dB lower)."""
MAX_REST_S = 1.0
"""Silent stretches inside the analysed audio are shortened to this (seconds), so a part that
rests for bars does not look sparser than what the model learnt from; validated against 2 s
and no shortening with sparse training copies (docs/labeller.md)."""
REST_FRAMES_PER_S = 20
"""The activity frames are 50 ms long."""
FINE_ACTIVITY_BELOW_S = 0.3
"""Stems active for less than this (seconds, 50 ms frames) are measured again in 5 ms frames
(:attr:`StemActivity.sounding_s`): a 10 ms click fills a whole 50 ms frame."""

FEATURES_VERSION = 5
"""Bumped whenever the numbers a stem gives change (a trained model must match)."""
HIGH_PASS_HZ = 25.0
"""DC offset and subsonic rumble are removed before measuring: they say nothing about the
instrument, and sample libraries and old recorders are full of them."""

N_FFT = 2048
HOP = 512
N_MELS = 40
N_MFCC = 20
N_HARMONICS = 10
_BANDS_HZ = (0, 60, 150, 400, 1000, 3000, 6000, 11025)
_DECAY_MS = (30, 80, 150, 300, 600, 1000, 1500)
_HF_DECAY_MS = (80, 300, 1000)
_ENV_HOP = 64
"""Hop (samples, 2.9 ms) of the fine loudness curve used for attack times."""


@dataclass(frozen=True)
class StemActivity:
    """Where a stem is active, measured before the features are taken."""

    duration_s: float
    active_s: float
    peak_dbfs: float
    rms_active_dbfs: float
    sounding_s: float | None = None
    """Seconds of 5 ms frames above the silence floor, measured only when the stem is barely
    active (``active_s`` <= :data:`FINE_ACTIVITY_BELOW_S`); otherwise ``active_s``."""

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
    names += [f"hf_decay_{ms}ms" for ms in _HF_DECAY_MS]
    names += ["attack_ms_log", "attack_ms_p90_log"]
    names += ["crest_db", "rms_p10_rel", "rms_p50_rel", "rms_p90_rel", "active_ratio",
              "frame_active_ratio"]
    names += ["periodicity_mean", "voiced_ratio", "f0_median_log2", "f0_iqr_semitones",
              "pitch_step_semitones", "pitch_steady_ratio", "voiced_run_s", "f0_range_semitones"]
    names += [f"harmonic_{k}_rel" for k in range(2, N_HARMONICS + 1)]
    names += ["odd_even_db", "harmonic_spread", "vibrato_cents"]
    names += ["mod_2_8hz", "mod_0_2hz", "mod_8_20hz", "harmonic_ratio", "flux_mean", "flux_cv"]
    return tuple(names)



FEATURE_NAMES: tuple[str, ...] = _feature_names()


def mono(samples: np.ndarray) -> np.ndarray:
    """Mix (frames,) or (frames, channels) samples to mono: ``float32`` for ``float32`` (or
    narrower) input, ``float64`` otherwise."""
    x = np.asarray(samples)
    dtype = np.float32 if x.dtype.kind == "f" and x.dtype.itemsize <= 4 else np.float64
    if x.ndim == 2:
        # soundfile gives (frames, channels); a (channels, frames) array is flipped here
        if x.shape[0] < x.shape[1] and x.shape[0] <= 16:
            x = x.T
        # column by column: a mean over a short strided axis is several times slower
        out = np.array(x[:, 0], dtype=dtype)
        for c in range(1, x.shape[1]):
            out += x[:, c]
        if x.shape[1] > 1:
            out *= dtype(1.0 / x.shape[1])
        x = out
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 1:
        raise ValueError(f"samples must be 1-D or 2-D, got shape {x.shape}")
    if not np.isfinite(x).all():
        x = np.where(np.isfinite(x), x, dtype(0.0))
    return x


def _frame_rms_db(y: np.ndarray, frame: int) -> np.ndarray:
    n = len(y) // frame
    if len(y) == 0:
        return np.array([-200.0])
    if n == 0:
        return np.array([10 * np.log10(np.mean(np.square(y, dtype=np.float64)) + 1e-20)])
    r = y[: n * frame].reshape(n, frame)
    power = np.einsum("ij,ij->i", r, r, dtype=np.float64) / frame
    return 10 * np.log10(power + 1e-20)


def select_active(y: np.ndarray, rate: int) -> tuple[np.ndarray, StemActivity]:
    """Keep the active part of a mono stem, at most :data:`MAX_ANALYSIS_S` seconds.

    The stem is cut in :data:`BLOCK_S` blocks; blocks holding any active 50 ms frame are kept
    whole (so decays and gaps between hits stay), evenly chosen across the stem when there are
    more than fit; silences longer than :data:`MAX_REST_S` inside them are shortened to it.
    """
    frame = max(1, int(0.05 * rate))
    db = _frame_rms_db(y, frame)
    peak_db = float(db.max()) if len(db) else -200.0
    floor = peak_db - ACTIVE_BELOW_PEAK_DB
    active = db > floor
    duration = len(y) / rate
    if peak_db <= SILENCE_DBFS or not active.any():
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
    sounding = active_s
    if active_s <= FINE_ACTIVITY_BELOW_S:
        fine = max(1, int(0.005 * rate))
        fdb = _frame_rms_db(y, fine)
        ffloor = float(fdb.max()) - ACTIVE_BELOW_PEAK_DB
        sounding = min(active_s, float((fdb > ffloor).sum() * fine / rate))
    activity = StemActivity(duration, active_s, peak_db, rms_active, sounding)
    return _shorten_rests(sel, frame, floor), activity


def _shorten_rests(sel: np.ndarray, frame: int, floor_db: float) -> np.ndarray:
    """Cut every silent stretch inside the selection down to :data:`MAX_REST_S`.

    A part that rests between notes (a bass line with bars of silence) would otherwise look
    sparser, and decay longer, than the continuously played clips the model learnt from; gaps
    between drum hits and the tails of one-shots are shorter than this and stay.
    """
    quiet = _frame_rms_db(sel, frame) <= floor_db
    limit = max(1, int(round(MAX_REST_S * REST_FRAMES_PER_S)))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    keep = np.ones(len(sel), bool)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a > limit:
            keep[(a + limit) * frame:b * frame] = False
    return sel if keep.all() else sel[keep]


def _pct(x: np.ndarray) -> list[float]:
    if x.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    p10, p50, p90 = np.percentile(x, [10, 50, 90])
    return [float(p10), float(p50), float(p90), float(np.std(x))]


@lru_cache(maxsize=4)
def _tables(rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mel filter bank, DCT matrix, bin frequencies and window, computed once per rate."""
    import librosa
    from scipy.fft import dct

    mel_fb = librosa.filters.mel(sr=rate, n_fft=N_FFT, n_mels=N_MELS, fmax=rate / 2)
    dct_m = dct(np.eye(N_MELS), type=2, norm="ortho", axis=0)[:N_MFCC]
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / rate)
    window = np.hanning(N_FFT + 1)[:-1]
    return (mel_fb.astype(np.float32), dct_m.astype(np.float32), freqs.astype(np.float32),
            window.astype(np.float32))


def _stft_mag(y: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Magnitude STFT, (bins, frames) ``float32``, centred frames (reflect padding)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.fft import rfft

    pad = N_FFT // 2
    yp = np.pad(y, (pad, pad), mode="reflect" if len(y) > pad else "constant")
    frames = sliding_window_view(yp, N_FFT)[::HOP]
    spec = rfft(frames * window, axis=1, workers=1)
    return np.abs(spec).T.astype(np.float32, copy=False)


def _pitch(power: np.ndarray, active: np.ndarray, rate: int
           ) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Periodicity and pitch behaviour from the autocorrelation of each active frame.

    Returns the features, the per-frame fundamental (Hz) and the voiced mask.
    """
    from scipy.fft import irfft

    n = power.shape[1]
    lo, hi = int(rate / 1000.0), int(rate / 55.0)
    strength = np.zeros(n, dtype=np.float32)
    lag = np.full(n, hi, dtype=np.int64)
    cols = np.flatnonzero(active)
    if cols.size:
        ac = irfft(power[:, cols], axis=0, workers=1)[: hi]
        seg = ac[lo:hi] / (ac[0] + 1e-12)
        lag[cols] = np.argmax(seg, axis=0) + lo
        strength[cols] = seg.max(axis=0)
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
    feats = [periodicity, voiced_ratio, f0_med, iqr, min(step, 12.0), steady, min(run_s, 5.0),
             rng]
    return feats, f0, voiced


def _harmonic_profile(mag: np.ndarray, f0: np.ndarray, voiced: np.ndarray,
                      freqs: np.ndarray) -> list[float]:
    """Median level (dB / 20) of harmonics 2..N relative to the fundamental over voiced frames,
    the odd/even balance, how spread the harmonic energy is, and the vibrato depth."""
    cols = np.flatnonzero(voiced)
    if cols.size < 3:
        return [-1.5] * (N_HARMONICS - 1) + [0.0, 0.0, 0.0]
    bin_hz = float(freqs[1])
    k = np.arange(1, N_HARMONICS + 1)
    centre = np.rint(f0[cols][None, :] * k[:, None] / bin_hz).astype(np.int64)
    top = mag.shape[0] - 1
    # the strongest of three bins around each harmonic: the f0 estimate is quantised by the lag
    lv = np.max(np.stack([mag[np.clip(centre + d, 0, top), cols[None, :]] for d in (-1, 0, 1)]),
                axis=0)
    lv[centre >= top] = 0.0
    db = 20 * np.log10(lv + 1e-9)
    rel = np.clip(db - db[0:1], -60.0, 30.0)
    prof = np.median(rel, axis=1)
    lin = np.median(lv / (lv.sum(axis=0, keepdims=True) + 1e-9), axis=1)
    odd = lin[2::2].sum() + 1e-6  # harmonics 3, 5, 7, 9
    even = lin[1::2].sum() + 1e-6  # harmonics 2, 4, 6, 8, 10
    spread = float(np.sum(lin * k) / (lin.sum() + 1e-9))
    # pitch wobble inside voiced runs: median absolute deviation from a 5-frame running median
    lf = np.log2(f0[cols])
    if lf.size >= 5:
        from scipy.ndimage import median_filter

        wobble = float(np.median(np.abs(lf - median_filter(lf, size=5, mode="nearest"))) * 1200)
    else:
        wobble = 0.0
    return ([float(v) / 20.0 for v in prof[1:]]
            + [float(10 * np.log10(odd / even)) / 10.0, spread / 5.0, min(wobble, 100.0) / 50.0])


def _high_pass(y: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(2, HIGH_PASS_HZ, btype="highpass", fs=rate, output="sos")
    return sosfilt(sos, y).astype(np.float32)


def _resample(y: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(int(rate), ANALYSIS_RATE_HZ)
    return resample_poly(y, ANALYSIS_RATE_HZ // g, int(rate) // g).astype(np.float32)


def extract_features(samples: np.ndarray, rate: int) -> np.ndarray:
    """The feature vector of a stem (see :data:`FEATURE_NAMES`), ``float32``.

    ``samples`` is (frames,) or (frames, channels) at ``rate`` Hz. A silent stem gives an
    all-zero vector apart from its silence markers; use :func:`analyse` to also learn whether
    the stem was silent.
    """
    return analyse(samples, rate)[0]


def analyse(samples: np.ndarray, rate: int) -> tuple[np.ndarray, StemActivity]:
    """:func:`extract_features` plus the stem's :class:`StemActivity`."""
    if rate <= 0:
        raise ValueError(f"sample rate must be > 0, got {rate}")
    y = mono(samples)
    # choose the active blocks at the stem's own rate, so only what is analysed is resampled
    sel, activity = select_active(y, rate)
    return _features_of_selection(sel, rate, activity), activity


def _features_of_selection(sel: np.ndarray, rate: int, activity: StemActivity) -> np.ndarray:
    """Features of the already chosen active audio ``sel`` (mono, at ``rate`` Hz)."""
    import librosa

    vec = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    if rate != ANALYSIS_RATE_HZ and len(sel):
        sel = _resample(sel, rate)
    sr = ANALYSIS_RATE_HZ
    if activity.active_s <= 0 or len(sel) < HOP * 2:
        return vec
    sel = _high_pass(sel - np.mean(sel), sr)
    peak = float(np.max(np.abs(sel)))
    sel = (sel / (peak + 1e-12)).astype(np.float32)
    if len(sel) < N_FFT:
        sel = np.pad(sel, (0, N_FFT - len(sel)))
    mel_fb, dct_m, freqs, window = _tables(sr)

    stft = _stft_mag(sel, window)
    power = stft * stft
    frame_db = 10 * np.log10(power.sum(axis=0, dtype=np.float64) / N_FFT + 1e-20)
    fmax = frame_db.max()
    active = frame_db > max(fmax - ACTIVE_BELOW_PEAK_DB, -120)
    if active.sum() < 2:
        active = frame_db >= np.sort(frame_db)[-min(2, len(frame_db))]
    mag_a = stft[:, active]
    pow_a = power[:, active]

    feats: list[float] = []
    mel = mel_fb @ power
    logmel = 10 * np.log10(mel + 1e-10)
    act_mel = logmel[:, active]
    mel_mean = act_mel.mean(axis=1)
    feats += list((mel_mean - mel_mean.max()) / 10.0)
    feats += list(act_mel.std(axis=1) / 10.0)

    mfcc = dct_m @ logmel
    act_mfcc = mfcc[:, active]
    feats += list(act_mfcc.mean(axis=1)[1:] / 50.0)
    feats += list(act_mfcc.std(axis=1) / 50.0)
    if mfcc.shape[1] >= 3:
        delta = np.diff(mfcc, axis=1)[:, active[1:]]
        feats += list((delta.std(axis=1) if delta.size else np.zeros(N_MFCC)) / 20.0)
    else:
        feats += [0.0] * N_MFCC

    # spectral shape of the active frames, from moments of the magnitude spectrum
    total = mag_a.sum(axis=0) + 1e-9
    cent = (freqs @ mag_a) / total
    m2 = ((freqs * freqs) @ mag_a) / total
    bw = np.sqrt(np.maximum(m2 - cent * cent, 0.0))
    cum = np.cumsum(mag_a, axis=0)
    roll = freqs[np.minimum((cum < 0.85 * cum[-1:]).sum(axis=0), len(freqs) - 1)]
    p_floor = np.maximum(pow_a, 1e-10)
    flat = np.exp(np.log(p_floor).mean(axis=0)) / p_floor.mean(axis=0)
    signs = np.signbit(sel)
    crossings = np.concatenate([[0], np.cumsum(signs[1:] != signs[:-1])])
    centres = np.arange(stft.shape[1]) * HOP
    a = np.clip(centres - N_FFT // 2, 0, len(sel) - 1)
    b = np.clip(centres + N_FFT // 2, 0, len(sel) - 1)
    zcr = ((crossings[b] - crossings[a]) / N_FFT)[active]
    feats += _pct(np.log2(cent + 20) - 10)
    feats += _pct(np.log2(bw + 20) - 10)
    feats += _pct(np.log2(roll + 20) - 10)
    feats += _pct(np.log10(flat + 1e-8))
    feats += _pct(np.sqrt(zcr))

    contrast = librosa.feature.spectral_contrast(S=mag_a, sr=sr, n_fft=N_FFT, n_bands=6)
    feats += list(contrast.mean(axis=1) / 20.0)

    spec_total = pow_a.sum(axis=1, dtype=np.float64)
    tot = spec_total.sum() + 1e-20
    for lo, hi in zip(_BANDS_HZ[:-1], _BANDS_HZ[1:], strict=True):
        band = spec_total[(freqs >= lo) & (freqs < hi)].sum()
        feats.append(float(np.log10(band / tot + 1e-6)))

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
    peaks = onsets if len(onsets) else np.array([int(np.argmax(frame_db))])
    feats += _decays(frame_db, peaks, _DECAY_MS, sr)
    hf = freqs >= 5000
    hf_db = 10 * np.log10(power[hf].sum(axis=0, dtype=np.float64) / N_FFT + 1e-20)
    feats += _decays(hf_db, peaks, _HF_DECAY_MS, sr)
    feats += _attack(sel, peaks, sr)

    rms_lin = np.sqrt(np.mean(np.square(sel, dtype=np.float64))) + 1e-12
    feats.append(float(20 * np.log10(1.0 / rms_lin)) / 20.0)
    act_db = frame_db[active]
    p10, p50, p90 = np.percentile(act_db - fmax, [10, 50, 90])
    feats += [p10 / 20.0, p50 / 20.0, p90 / 20.0]
    feats.append(float(activity.active_ratio))
    feats.append(float(active.mean()))

    pitch_feats, f0, voiced = _pitch(power, active, sr)
    feats += pitch_feats
    feats += _harmonic_profile(stft, f0, voiced, freqs)

    # amplitude modulation of the loudness curve: syllables sit around 2-8 Hz
    env = 10 ** (frame_db / 20)
    env = env - env.mean()
    if len(env) >= 16:
        spec = np.abs(np.fft.rfft(env * np.hanning(len(env)))) ** 2
        mf = np.fft.rfftfreq(len(env), d=HOP / sr)
        tot_m = spec[mf > 0.25].sum() + 1e-12
        feats.append(float(spec[(mf >= 2) & (mf < 8)].sum() / tot_m))
        feats.append(float(spec[(mf > 0.25) & (mf < 2)].sum() / tot_m))
        feats.append(float(spec[(mf >= 8) & (mf < 20)].sum() / tot_m))
    else:
        feats += [0.0, 0.0, 0.0]

    # on the mel spectrum rather than the full STFT: the balance is what matters, 40 bands do
    from scipy.ndimage import median_filter

    harm = median_filter(mel, size=(1, 17), mode="reflect")
    perc = median_filter(mel, size=(5, 1), mode="reflect")
    h2, p2 = harm * harm, perc * perc
    mask_h = h2 / (h2 + p2 + 1e-20)
    he = float(np.sum((mel * mask_h) ** 2, dtype=np.float64))
    pe = float(np.sum((mel * (1 - mask_h)) ** 2, dtype=np.float64))
    feats.append(float(np.log10((he + 1e-12) / (pe + 1e-12))) / 2.0)
    flux = np.sqrt(np.mean(np.diff(stft, axis=1).clip(min=0) ** 2, axis=0))
    flux = flux[active[1:]] if flux.size else np.zeros(1)
    fm = float(np.mean(flux)) + 1e-12 if flux.size else 1e-12
    feats.append(float(np.log10(fm + 1e-9)))
    feats.append(float(np.std(flux) / fm) if flux.size else 0.0)

    out = np.asarray(feats, dtype=np.float64)
    if out.shape[0] != len(FEATURE_NAMES):
        raise AssertionError(f"feature count {out.shape[0]} != {len(FEATURE_NAMES)}")
    vec[:] = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return vec


def _decays(curve_db: np.ndarray, peaks: np.ndarray, times_ms: tuple[int, ...],
            rate: int) -> list[float]:
    """Median level (dB / 20) ``times_ms`` after each onset's peak, relative to the peak."""
    decays = []
    n = len(curve_db)
    for o in peaks[:200]:
        win = curve_db[o:o + 4]
        if not len(win):
            continue
        p = o + int(np.argmax(win))
        ref = curve_db[p]
        row = []
        for ms in times_ms:
            k = p + max(1, int(round(ms / 1000 * rate / HOP)))
            row.append(curve_db[k] - ref if k < n else -60.0)
        decays.append(row)
    dec = np.median(np.array(decays), axis=0) if decays else np.full(len(times_ms), -60.0)
    return list(np.clip(dec, -60, 10) / 20.0)


def _attack(y: np.ndarray, peaks: np.ndarray, rate: int) -> list[float]:
    """How long notes take to reach their peak (10 % -> 90 % of the peak level), log10(ms)/2:
    the median and the 90th percentile over onsets. Plucks and hits take a few ms, bows and
    breaths tens to hundreds."""
    n = len(y) // _ENV_HOP
    if n < 4:
        return [0.0, 0.0]
    seg = y[: n * _ENV_HOP].reshape(n, _ENV_HOP)
    env = np.sqrt(np.einsum("ij,ij->i", seg, seg) / _ENV_HOP)
    ratio = HOP // _ENV_HOP
    times = []
    prev = -(10**9)
    for o in peaks[:200]:
        # from the previous onset (at most 10 frames back: a slow swell starts well before
        # the onset detector fires) to 6 frames after this one
        lo = max(0, max(int(o) - 10, prev + 1) * ratio)
        hi = min(n, (int(o) + 6) * ratio)
        prev = int(o)
        if hi - lo < 3:
            continue
        w = env[lo:hi]
        p = int(np.argmax(w))
        # measured from the valley before the peak: the last note's tail may still ring
        valley = int(np.argmin(w[: p + 1]))
        base, top = w[valley], w[p]
        if top <= base:
            continue
        rise = w[valley:p + 1]
        below10 = np.flatnonzero(rise < base + 0.1 * (top - base))
        start = valley + (below10[-1] if below10.size else 0)
        reach90 = start + int(np.argmax(w[start:p + 1] >= base + 0.9 * (top - base)))
        times.append(max(reach90 - start, 1) * _ENV_HOP / rate * 1000)
    if not times:
        return [0.0, 0.0]
    t = np.log10(np.array(times)) / 2.0
    return [float(np.median(t)), float(np.percentile(t, 90))]
