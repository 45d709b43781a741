"""The full measurement set for one stem, in one streaming pass.

:func:`measure_file` reads a file block by block (a reader thread decodes the next block while
this one is measured) and feeds each block to every meter: loudness (BS.1770 / R128), true and
sample peak, levels (RMS, crest, DC, clipping), stereo image, spectrum, and, from the loudness
meter's 20 ms level envelope, activity regions and onsets. Memory stays flat in the file's
length apart from one float per 100 ms and one per 20 ms (under 2 MB per hour).

:func:`measure` does the same for an array already in memory.

Example::

    >>> m = measure_file("vocal.wav")            # doctest: +SKIP
    >>> m.integrated_lufs, m.true_peak_dbtp      # doctest: +SKIP
    (-18.2, -1.1)
    >>> m.to_dict()["short_term_max_lufs"]       # doctest: +SKIP
    -14.9
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bridge.analysis.activity import activity_from_frames
from bridge.analysis.features import PLAYING_GAP_S, onsets_from_frames
from bridge.analysis.levels import LevelMeter
from bridge.analysis.loudness import LoudnessMeter, channel_weights
from bridge.analysis.peak import TruePeakMeter
from bridge.analysis.spectrum import DEFAULT_MAX_FRAMES, SpectrumAccumulator
from bridge.analysis.stereo import from_channel_sums

if TYPE_CHECKING:
    from bridge.analysis.cache import AnalysisCache

ANALYSIS_VERSION = "3"
"""Bump when any figure would come out different; cached results of other versions are ignored."""


@dataclass
class StemMeasurements:
    """Everything measured about one stem. Levels in dB (``-inf`` = silence), times in s."""

    duration_s: float
    sample_rate: int
    channels: int
    integrated_lufs: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    lra_lu: float | None
    true_peak_dbtp: float
    sample_peak_dbfs: float
    rms_dbfs: float
    crest_db: float | None
    dc_offset: float
    clipped_samples: int
    clipped_runs: int
    correlation: float | None
    stereo_width: float | None
    balance_db: float | None
    active_fraction: float
    active_regions_s: list[tuple[float, float]]
    onset_density_per_s: float | None
    spectral_centroid_hz: float | None
    spectral_flatness: float | None
    spectral_rolloff_hz: float | None
    third_octave_centres_hz: list[float]
    third_octave_levels_db: list[float]
    lra_low_lufs: float | None = None
    lra_high_lufs: float | None = None
    file: str | None = None
    notes: list[str] = field(default_factory=list)
    analysis_version: str = ANALYSIS_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``-inf``/``inf``/NaN become None (the notes say why)."""
        return _json_safe(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StemMeasurements:
        """Inverse of :meth:`to_dict` (None levels that mean silence come back as ``-inf``)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("integrated_lufs", "momentary_max_lufs", "short_term_max_lufs",
                    "true_peak_dbtp", "sample_peak_dbfs", "rms_dbfs"):
            if values.get(key) is None:
                values[key] = -math.inf
        values["third_octave_levels_db"] = [
            -math.inf if v is None else v for v in values.get("third_octave_levels_db", [])]
        values["active_regions_s"] = [tuple(r) for r in values.get("active_regions_s", [])]
        return cls(**values)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class _Lane:
    """A thread that feeds blocks, in order, to one meter (numpy releases the GIL in the heavy
    parts, so two lanes use two cores). Errors come back from :meth:`close`."""

    def __init__(self, meter: LoudnessMeter) -> None:
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=2)
        self._meter = meter
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True, name="loudness-lane")
        self._thread.start()

    def _work(self) -> None:
        while (block := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._meter.add(block)
                except BaseException as exc:  # handed back to the caller in close()
                    self._error = exc

    def put(self, block: np.ndarray) -> None:
        self._queue.put(block)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class StemMeter:
    """Feed channel-major float32 blocks with :meth:`add`; :meth:`result` gives the set.

    With ``threads=2`` the loudness meter (the largest single cost) runs in its own thread,
    alongside the peak, level and spectrum meters.
    """

    def __init__(self, rate: int, channels: int, total_frames: int | None = None,
                 spectrum_frames: int | None = DEFAULT_MAX_FRAMES, threads: int = 1,
                 channel_mask: int | None = None) -> None:
        self.rate = rate
        self.channels = channels
        self.loudness = LoudnessMeter(rate, channels, channel_weights(channels, channel_mask))
        self.peak = TruePeakMeter(channels)
        self.levels = LevelMeter(channels)
        self.spectrum = SpectrumAccumulator(rate, channels, total_frames, spectrum_frames)
        self._lane = _Lane(self.loudness) if threads > 1 else None

    def add(self, block: np.ndarray) -> None:
        """``block``: (channels, n) float32, C-contiguous; not modified, and must not be
        modified by the caller afterwards (another thread may still be reading it)."""
        if block.shape[1] == 0:
            return
        if self._lane is not None:
            self._lane.put(block)
        else:
            self.loudness.add(block)
        peaks = np.maximum(block.max(axis=1), -block.min(axis=1))
        self.peak.add(block, peaks)
        self.levels.add(block, peaks)
        self.spectrum.add(block)

    def close(self) -> None:
        """Stop the loudness thread (if any); raises what it raised."""
        if self._lane is not None:
            lane, self._lane = self._lane, None
            lane.close()

    def result(self) -> StemMeasurements:
        self.close()
        loud = self.loudness.result()
        self.peak.finish()
        energy, frame_s = self.loudness.frame_energy()
        duration = self.loudness.frames / self.rate
        lev = self.levels.result()
        image = from_channel_sums(lev.sum_squares, lev.sum_lr)
        act = activity_from_frames(energy, frame_s, self.rate, duration)
        playing = activity_from_frames(energy, frame_s, self.rate, duration,
                                       bridge_gap_s=PLAYING_GAP_S)
        ons = onsets_from_frames(energy, frame_s, self.rate, playing.active_s)
        spec = self.spectrum.result()
        notes = list(loud.notes)
        if lev.clipped_samples:
            notes.append(f"{lev.clipped_samples} clipped samples in {lev.clipped_runs} runs "
                         f"(longest {lev.longest_clip_run})")
        if abs(lev.dc_offset) > 0.001:
            level = 20 * math.log10(abs(lev.dc_offset))
            notes.append(f"DC offset {lev.dc_offset:+.4f} ({level:.1f} dBFS)")
        notes += [n for n in spec.notes if not n.startswith("silent")]
        return StemMeasurements(
            duration_s=duration,
            sample_rate=self.rate,
            channels=self.channels,
            integrated_lufs=loud.integrated_lufs,
            momentary_max_lufs=loud.momentary_max_lufs,
            short_term_max_lufs=loud.short_term_max_lufs,
            lra_lu=loud.lra_lu,
            lra_low_lufs=loud.lra_low_lufs,
            lra_high_lufs=loud.lra_high_lufs,
            true_peak_dbtp=self.peak.true_peak_dbtp,
            sample_peak_dbfs=self.peak.sample_peak_dbfs,
            rms_dbfs=lev.rms_dbfs,
            crest_db=lev.crest_db,
            dc_offset=lev.dc_offset,
            clipped_samples=lev.clipped_samples,
            clipped_runs=lev.clipped_runs,
            correlation=image.correlation,
            stereo_width=image.width,
            balance_db=image.balance_db if image.balance_db is None
            or math.isfinite(image.balance_db) else None,
            active_fraction=act.active_fraction,
            active_regions_s=act.regions_s,
            onset_density_per_s=ons.onset_density_per_s,
            spectral_centroid_hz=spec.centroid_hz,
            spectral_flatness=spec.flatness,
            spectral_rolloff_hz=spec.rolloff_hz,
            third_octave_centres_hz=spec.centres_hz,
            third_octave_levels_db=spec.levels_db,
            notes=notes,
        )


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Run BLAS single-threaded: the products here are small and many, and a second BLAS
    thread spinning against the decoder thread (or other work on a busy machine) made a
    10-minute file take 28 s instead of 3 s on a loaded two-core machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default thread count
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def measure_blocks(blocks: Iterable[np.ndarray], rate: int, channels: int,
                   total_frames: int | None = None) -> StemMeasurements:
    """Measure a stream of ``(frames, channels)`` blocks (any length each, e.g. a generator)."""
    meter = StemMeter(rate, channels, total_frames)
    with _one_blas_thread():
        for block in blocks:
            meter.add(np.ascontiguousarray(block.T, dtype=np.float32))
        return meter.result()


def measure(samples: np.ndarray, rate: int) -> StemMeasurements:
    """The full set for an in-memory signal ((frames,) or (frames, channels), full scale 1.0)."""
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"samples must be non-empty (frames,) or (frames, channels), "
                         f"not {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("samples contain NaN or Inf")
    step = 1 << 16
    return measure_blocks((x[i:i + step] for i in range(0, len(x), step)), rate, x.shape[1],
                          total_frames=len(x))


def _prefetch(blocks: Iterator[np.ndarray], depth: int = 2) -> Iterator[np.ndarray]:
    """Decode ahead in a thread (the decoder releases the GIL); errors surface in order."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for b in blocks:
                if stop.is_set():
                    return
                q.put(("block", b))
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(("error", exc))

    thread = threading.Thread(target=work, daemon=True, name="audio-prefetch")
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "block":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def _free_cores() -> int:
    try:
        return max(1, round((os.cpu_count() or 1) - os.getloadavg()[0]))
    except (AttributeError, OSError):  # no load average on this platform
        return os.cpu_count() or 1


def measure_file(path: str | Path, *, cache: AnalysisCache | None = None,
                 block_frames: int = 1 << 18, threads: int | None = None) -> StemMeasurements:
    """Measure an audio file in one streaming pass; with ``cache``, reuse a stored result.

    ``threads=2`` runs the loudness meter beside the other meters (the decoder always reads
    ahead in its own thread). The default, None, uses 2 when at least two cores are idle by
    the load average: on a busy machine the extra thread only adds switching.

    Raises :class:`bridge.audio.reader.AudioError` for a file that is not usable audio.
    """
    from bridge.audio.reader import open_audio

    path = Path(path)
    key = None
    if cache is not None:
        key = cache.key_for(path)
        hit = cache.get(key)
        if hit is not None:
            hit.file = str(path)
            return hit
    if threads is None:
        threads = 2 if _free_cores() >= 2 else 1
    with open_audio(path) as stream, _one_blas_thread():
        info = stream.info
        meter = StemMeter(info.sample_rate, info.channels, info.frames, threads=threads,
                          channel_mask=info.channel_mask)
        try:
            for block in _prefetch(stream.blocks(block_frames)):
                meter.add(np.ascontiguousarray(block.T))
        finally:
            meter.close()
        result = meter.result()
    result.file = str(path)
    if cache is not None and key is not None:
        cache.put(key, result)
    return result
