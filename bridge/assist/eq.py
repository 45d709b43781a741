"""EQ suggestions per track, each band with its reason, at most 8 bands a track.

What is suggested (docs/mixing.md says the same in prose), from each track's long-term spectrum
(:func:`bridge.assist.match.long_term_spectrum`, frames that play only) compared with its class
target spectrum (``class_spectra.json``, made from real recordings in Debian packages by
``tools/make_class_spectra.py``):

* **High-pass** where the source has no useful low end: the lowest 1/3-octave band within 30 dB
  of the track's loudest band sets the edge; the filter goes an octave-third under it, never
  above the class's ``highpass_max_hz`` (``mix_targets.toml``) and never under 25 Hz.
* **Resonance notches** on drums and percussion: narrow peaks standing 12 dB or more over the
  1/3-octave median around them, in both halves of the track (a ring, not a passing note);
  at most two, cut by half the excess (at most 9 dB) with a Q from the peak's width. Pitched
  sources get none: a peak that lasts the whole take is as likely a note as a ring.
* **Comparison with the class target**: the targets are broad averages of sample libraries,
  so stem and target are both smoothed over one octave, and the straight-line fit (over
  log-frequency) of their difference is removed: the level always, the tilt up to
  ``TILT_ALLOWED_DB_PER_OCT`` (3 dB/octave; more is reported as a note).
* **Mud** (150-500 Hz), **boxiness** (500-1200 Hz) and **harshness** (2-6 kHz) bells where the
  track exceeds the target by more than 3 dB once level and tilt are removed *and* stands
  1.5 dB or more over its own 3-octave trend there (a bump, not the stem's shape): a cut of half
  the excess, at most the bump and at most 6 dB, Q 1.2-1.4. No harshness cut on a stem darker
  than the allowed tilt, no mud cut on one brighter.
* **Shelves**: low (below 120 Hz) and high (above 8 kHz) when the track is more than 4 dB off
  the (level- and allowed-tilt-aligned) target there; cuts up to 6 dB and only where that end
  comes within 20 dB of the loudest band (quieter, the high-pass is the tool), boosts up to
  3 dB and only where the track has content.
* **Not EQ problems**: a difference over ``BROAD_LIMIT_DB`` (12 dB, after smoothing) is a
  different source, register or arrangement than the class reference: it becomes a note in
  :attr:`TrackEq.notes` ("differs from the class reference"), never a band.
* **Masking** between kick and bass (40-150 Hz) and between a lead vocal and guitars, keys,
  strings, brass, woodwind (1-5 kHz): in the 1/3-octave bands where the more important track is
  strong (within 10 dB of its best band there) and the other comes within 6 dB of it, the *less
  important* track (``importance`` in ``mix_targets.toml``) gets a
  modest cut (2-4 dB, about an octave wide) at the more important track's strongest band there.

Bands are written in ReaEQ order of shapes (high-pass first), indices 0..n-1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bridge.assist.match import (
    Spectrum,
    band_levels_db,
    long_term_spectrum,
)
from bridge.assist.mix import MixTargets, load_targets, mix_class
from bridge.audio.biquad import EqBand
from bridge.plan import BAND_TYPES, Plan, SetEqBand
from bridge.session.model import Session

CLASS_SPECTRA_PATH = Path(__file__).with_name("class_spectra.json")
MAX_BANDS = 8
DRUM_CLASSES = frozenset({"kick", "snare", "tom", "drums", "percussion", "hihat", "cymbal"})
ACCOMPANIMENT_CLASSES = frozenset({"guitar", "keys", "strings", "brass", "woodwind",
                                   "backing_vocal"})


@dataclass(frozen=True)
class ClassSpectra:
    centres_hz: np.ndarray
    levels_db: dict[str, np.ndarray]
    """Per class: 1/3-octave levels, 0 dB total; NaN where the recordings say nothing."""

    def target(self, cls: str) -> np.ndarray | None:
        return self.levels_db.get("vocal" if cls == "backing_vocal" else cls)


def load_class_spectra(path: str | Path = CLASS_SPECTRA_PATH) -> ClassSpectra:
    data = json.loads(Path(path).read_text())
    centres = np.asarray(data["centres_hz"], dtype=np.float64)
    levels = {name: np.array([np.nan if v is None else v for v in entry["level_db"]], float)
              for name, entry in data["classes"].items()}
    return ClassSpectra(centres, levels)


@dataclass
class Suggestion:
    band: EqBand
    reason: str
    priority: float
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrackEq:
    """What the EQ assistant decided for one track (also what the report draws)."""

    guid: str
    name: str
    mix_class: str
    centres_hz: np.ndarray
    levels_db: np.ndarray
    """The track's 1/3-octave levels, 0 dB total."""
    target_db: np.ndarray | None
    """The class target aligned to the track (None when the class has none)."""
    sample_rate: int
    total_db: float = 0.0
    """The stem's overall level (dB, same unit as the band levels before normalising)."""
    suggestions: list[Suggestion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Differences from the class reference that no corrective EQ band should chase."""

    @property
    def bands(self) -> list[EqBand]:
        return [s.band for s in self.suggestions]


def track_levels(spectrum: Spectrum, centres_hz: np.ndarray) -> np.ndarray:
    """1/3-octave levels normalised to 0 dB total; NaN above 0.45 x the sample rate."""
    levels = band_levels_db(spectrum, centres_hz)
    levels[centres_hz > 0.45 * spectrum.sample_rate] = np.nan
    return levels - 10.0 * np.log10(np.nansum(10.0 ** (levels / 10.0)))


TILT_ALLOWED_DB_PER_OCT = 3.0
"""How far a stem's overall tilt may differ from its class target before the rest is EQ work:
players, instruments and microphones differ this much in brightness without anything being
wrong (dB per octave, fitted 60 Hz-12 kHz where the stem has content)."""
BROAD_LIMIT_DB = 12.0
"""A broad difference larger than this is not a corrective-EQ problem: a different source,
arrangement or register than the class reference. It is reported as a note, without a band."""
BUMP_MIN_DB = 1.5
"""Mud/boxiness/harshness need a local bump: the stem's band over its own 3-octave trend."""


def smooth_octave(levels_db: np.ndarray, width_bands: int = 3) -> np.ndarray:
    """Power mean of 1/3-octave levels over ``width_bands`` neighbours (3 = one octave), NaN-aware.

    >>> smooth_octave(np.array([0.0, -20.0, 0.0]))[1].round(1)
    -1.8
    """
    power = 10.0 ** (np.asarray(levels_db, dtype=np.float64) / 10.0)
    half = width_bands // 2
    out = np.full(power.shape, np.nan)
    for i in range(power.size):
        if not np.isfinite(power[i]):
            continue
        window = power[max(0, i - half): i + half + 1]
        window = window[np.isfinite(window)]
        out[i] = 10.0 * np.log10(max(float(np.mean(window)), 1e-30))
    return out


@dataclass(frozen=True)
class TargetComparison:
    """A stem against its class target, both smoothed to one octave (all arrays per band, dB)."""

    smoothed_db: np.ndarray
    """The stem's 1/3-octave levels smoothed over one octave."""
    target_db: np.ndarray
    """The class target smoothed over one octave, moved by the offset and allowed tilt."""
    residual_db: np.ndarray
    """``smoothed_db - target_db``: what is left after the level and the tilt the class allows."""
    content: np.ndarray
    """Bands where the stem has content (within 40 dB of its loudest band, from 40 Hz)."""
    shape_db: np.ndarray
    """The difference with its whole straight-line fit removed: local shape only (the bells)."""
    tilt_db_per_oct: float
    """The stem's tilt against the target (fitted 40 Hz-12 kHz), before the allowance."""
    allowed_tilt_db_per_oct: float


def compare_to_target(levels: np.ndarray, target: np.ndarray, centres: np.ndarray
                      ) -> TargetComparison:
    """Fit level and tilt of the stem against the class target; keep what is left.

    The targets are averages of sample-library recordings (often one pitch per file), and real
    stems differ from them in level and brightness without anything being wrong: both are
    smoothed over an octave (single notes' harmonics fall between bands otherwise), then the
    difference's straight-line fit over log-frequency is removed, its slope only up to
    ``TILT_ALLOWED_DB_PER_OCT``.
    """
    smoothed = smooth_octave(levels)
    ref = smooth_octave(target)
    x = np.log2(centres / 1000.0)
    both = np.isfinite(smoothed) & np.isfinite(ref)
    peak = float(np.nanmax(smoothed)) if np.isfinite(smoothed).any() else 0.0
    content = both & (smoothed >= peak - 40.0) & (centres >= 40.0)
    diff = smoothed - ref
    # the fit stays under 12 kHz: above, recordings differ most and say least (sample rates)
    fit_on = content & (centres <= 12000.0)
    slope = 0.0
    if fit_on.sum() >= 4:
        slope = float(np.polyfit(x[fit_on], diff[fit_on], 1)[0])
    allowed = float(np.clip(slope, -TILT_ALLOWED_DB_PER_OCT, TILT_ALLOWED_DB_PER_OCT))
    fit_on = fit_on if fit_on.any() else both
    offset = float(np.median((diff - allowed * x)[fit_on])) if fit_on.any() else 0.0
    aligned = ref + offset + allowed * x
    full = float(np.median((diff - slope * x)[fit_on])) if fit_on.any() else 0.0
    return TargetComparison(smoothed, aligned, smoothed - aligned, content,
                            diff - full - slope * x, slope, allowed)


def _aligned_target(levels: np.ndarray, target: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return compare_to_target(levels, target, centres).target_db


def _highpass(levels: np.ndarray, centres: np.ndarray, limit_hz: float) -> Suggestion | None:
    if limit_hz <= 0:
        return None
    peak = np.nanmax(levels)
    useful = np.where(np.isfinite(levels) & (levels >= peak - 30.0))[0]
    if useful.size == 0:
        return None
    edge = float(centres[useful[0]])
    freq = min(limit_hz, edge / 2 ** (1 / 3))
    if freq < 25.0:
        return None
    below = levels[(centres < freq) & np.isfinite(levels)]
    under = float(peak - np.max(below)) if below.size else 60.0
    return Suggestion(EqBand("high_pass", round(freq, 1), 0.0, 0.707),
                      f"high-pass {freq:.0f} Hz: nothing useful below {edge:.0f} Hz "
                      f"(the lowest band within 30 dB of the loudest; below it "
                      f">= {under:.0f} dB down)", 5.0, {"edge_hz": edge})


def _resonances(spectrum: Spectrum, halves: tuple[Spectrum, Spectrum]) -> list[Suggestion]:
    freqs = spectrum.freq_hz
    level = 10.0 * np.log10(np.maximum(spectrum.power, 1e-30))
    found: list[Suggestion] = []
    sel = np.where((freqs >= 150.0) & (freqs <= 8000.0))[0]
    if sel.size < 8:
        return found
    background = np.empty_like(level)
    # 1/3-octave running median: the spectrum around a bin, without the bin's own peak
    for i in sel:
        lo = np.searchsorted(freqs, freqs[i] / 2 ** (1 / 6))
        hi = np.searchsorted(freqs, freqs[i] * 2 ** (1 / 6))
        background[i] = np.median(level[lo:max(hi, lo + 3)])
    prominence = np.full_like(level, -np.inf)
    prominence[sel] = level[sel] - background[sel]
    half_levels = [10.0 * np.log10(np.maximum(h.power, 1e-30)) for h in halves]
    order = np.argsort(prominence[sel])[::-1]
    taken: list[float] = []
    for j in order[:40]:
        i = sel[j]
        prom = float(prominence[i])
        if prom < 12.0:
            break
        if i == 0 or level[i] < level[i - 1] or level[i] < level[i + 1]:
            continue
        f = float(freqs[i])
        if any(abs(math.log2(f / t)) < 1 / 3 for t in taken):
            continue
        if not all(h[i] - background[i] >= 9.0 for h in half_levels):
            continue  # not in both halves: a passing event, not a ring
        # -3 dB width of the peak
        lo = i
        while lo > 0 and level[lo] > level[i] - 3.0:
            lo -= 1
        hi = i
        while hi < level.size - 1 and level[hi] > level[i] - 3.0:
            hi += 1
        width = max(float(freqs[hi] - freqs[lo]), freqs[1] - freqs[0])
        q = float(np.clip(f / width, 3.0, 12.0))
        gain = -min(9.0, prom / 2.0)
        taken.append(f)
        found.append(Suggestion(EqBand("band", round(f, 1), round(gain, 1), round(q, 2)),
                                f"resonance at {f:.0f} Hz stands {prom:.1f} dB over its "
                                f"surroundings all through the take: notch {gain:.1f} dB",
                                6.5 + prom / 10.0, {"prominence_db": round(prom, 1)}))
        if len(found) == 2:
            break
    return found


def _against_target(levels: np.ndarray, target: np.ndarray, centres: np.ndarray,
                    cls: str) -> tuple[list[Suggestion], list[str]]:
    """Mud/boxiness/harshness bells and low/high shelves against the class target, and notes.

    A bell needs the stem to exceed the target by more than 3 dB once level and the whole tilt
    are removed (tilt is the shelves' business) *and* to bump over its own 3-octave trend
    there: a broad difference in shape is the source, not something a bell would fix. Shelves
    look at what is left after the tilt the class allows. Differences over ``BROAD_LIMIT_DB``
    become notes, not bands.
    """
    out: list[Suggestion] = []
    notes: list[str] = []
    cmp = compare_to_target(levels, target, centres)
    excess = cmp.shape_db
    trend = smooth_octave(levels, 9)
    bump = cmp.smoothed_db - trend
    if abs(cmp.tilt_db_per_oct - cmp.allowed_tilt_db_per_oct) > 0.0:
        word = "brighter" if cmp.tilt_db_per_oct > 0 else "darker"
        notes.append(f"{abs(cmp.tilt_db_per_oct):.1f} dB/octave {word} than the {cls} class "
                     f"reference (up to {TILT_ALLOWED_DB_PER_OCT:.0f} dB/octave is left alone)")
    regions = [("mud", 150.0, 500.0, 1.2), ("boxiness", 500.0, 1200.0, 1.4),
               ("harshness", 2000.0, 6000.0, 1.4)]
    for name, lo, hi, q in regions:
        sel = np.where((centres >= lo) & (centres <= hi) & cmp.content)[0]
        if sel.size == 0:
            continue
        top = sel[int(np.argmax(excess[sel]))]
        if excess[top] > BROAD_LIMIT_DB:
            notes.append(f"differs from the {cls} class reference around {centres[top]:.0f} Hz "
                         f"({excess[top]:.1f} dB more, broad): a different source, not an EQ "
                         f"problem")
            continue
        # more than the target *and* a bump in the stem itself; else it is the stem's shape
        cand = sel[(excess[sel] > 3.0) & (bump[sel] >= BUMP_MIN_DB)]
        if cand.size == 0:
            continue
        if (name == "harshness" and cmp.tilt_db_per_oct < -TILT_ALLOWED_DB_PER_OCT) or (
                name == "mud" and cmp.tilt_db_per_oct > TILT_ALLOWED_DB_PER_OCT):
            continue  # a darker stem has no top to spare, a thinner one no low-mids
        k = cand[int(np.argmax(excess[cand]))]
        over, local = float(excess[k]), float(bump[k])
        gain = -min(6.0, over / 2.0, local)
        out.append(Suggestion(
            EqBand("band", round(float(centres[k]), 1), round(gain, 1), q),
            f"{name}: {over:.1f} dB over the {cls} target around {centres[k]:.0f} Hz "
            f"(level and tilt removed) and {local:.1f} dB over the track's own trend; "
            f"cut {gain:.1f} dB", 3.0 + over / 3.0,
            {"excess_db": round(over, 1), "bump_db": round(local, 1)}))
    for kind, sel, freq in (("low_shelf", centres < 120.0, 120.0),
                            ("high_shelf", centres > 8000.0, 8000.0)):
        ok = sel & cmp.content
        if ok.sum() < 2:
            continue
        diff = float(np.mean(cmp.residual_db[ok]))
        where = "low end" if kind == "low_shelf" else "top end"
        word = "more" if diff > 0 else "less"
        if abs(diff) > BROAD_LIMIT_DB:
            notes.append(f"{where} differs from the {cls} class reference ({abs(diff):.1f} dB "
                         f"{word}, broad): a different source, not an EQ problem")
            continue
        strong = float(np.nanmax(cmp.smoothed_db[ok])) >= np.nanmax(cmp.smoothed_db) - 20.0
        if diff > 4.0 and strong:  # quieter than that, the high-pass is the tool, not a shelf
            gain = -min(6.0, diff / 2.0)
        elif diff < -4.0:
            gain = min(3.0, -diff / 2.0)
        else:
            continue
        out.append(Suggestion(EqBand(kind, freq, round(gain, 1), 0.707),
                              f"{where} {abs(diff):.1f} dB {word} than the {cls} target "
                              f"(level and tilt aligned): shelf {gain:+.1f} dB",
                              2.0 + abs(diff) / 4.0, {"difference_db": round(diff, 1)}))
    return out, notes


def _masking(tracks: dict[str, TrackEq], gains_db: Mapping[str, float], targets: MixTargets
             ) -> dict[str, list[Suggestion]]:
    """Cuts on the less important track of each masking pair."""
    out: dict[str, list[Suggestion]] = {}
    pairs_rules = [({"kick"}, {"bass"}, 40.0, 150.0),
                   ({"vocal", "speech"}, ACCOMPANIMENT_CLASSES, 1000.0, 5000.0)]
    for first, second, lo, hi in pairs_rules:
        a_side = [t for t in tracks.values() if t.mix_class in first]
        b_side = [t for t in tracks.values() if t.mix_class in second]
        for a in a_side:
            for b in b_side:
                ia = targets.for_class(a.mix_class).importance
                ib = targets.for_class(b.mix_class).importance
                keep, cut = (a, b) if ia >= ib else (b, a)
                sel = np.where((keep.centres_hz >= lo) & (keep.centres_hz <= hi))[0]
                lk = keep.levels_db[sel] + keep.total_db + gains_db.get(keep.guid, 0.0)
                lc = cut.levels_db[sel] + cut.total_db + gains_db.get(cut.guid, 0.0)
                ok = np.isfinite(lk) & np.isfinite(lc)
                if not ok.any():
                    continue
                # bands where the important track is strong (within 10 dB of its best there)
                # and the other comes within 6 dB of it
                strong = ok & (lk >= np.max(np.where(ok, lk, -np.inf)) - 10.0) & (lc >= lk - 6.0)
                if not strong.any():
                    continue
                k = int(np.argmax(np.where(strong, lk, -np.inf)))
                gap = float(lk[k] - lc[k])
                freq = float(keep.centres_hz[sel][k])
                depth = float(np.clip(2.0 + (6.0 - gap) / 4.0, 2.0, 4.0))
                out.setdefault(cut.guid, []).append(Suggestion(
                    EqBand("band", round(freq, 1), round(-depth, 1), 1.4),
                    f"masks {keep.name or keep.mix_class} ({keep.mix_class}) at {freq:.0f} Hz "
                    f"(within {max(gap, 0.0):.1f} dB of it there); the cut goes on the less "
                    f"important {cut.mix_class}: {-depth:.1f} dB",
                    3.5, {"masked_track": keep.guid, "gap_db": round(gap, 1)}))
    return out


def analyse_track(guid: str, name: str, cls: str, samples: np.ndarray, rate: int,
                  spectra: ClassSpectra, targets: MixTargets) -> TrackEq:
    """Per-track suggestions (all but masking, which needs the other tracks)."""
    data = np.asarray(samples, dtype=np.float64)
    spectrum = long_term_spectrum(data, rate)
    n = data.shape[0]
    halves = (long_term_spectrum(data[: n // 2], rate), long_term_spectrum(data[n // 2:], rate))
    levels = track_levels(spectrum, spectra.centres_hz)
    raw = band_levels_db(spectrum, spectra.centres_hz)
    target = spectra.target(cls)
    aligned = _aligned_target(levels, target, spectra.centres_hz) if target is not None else None
    total = float(10 * np.log10(np.nansum(10 ** (raw / 10))))
    result = TrackEq(guid, name, cls, spectra.centres_hz, levels, aligned, rate, total)
    limit = targets.for_class(cls).highpass_max_hz
    hp = _highpass(levels, spectra.centres_hz, limit)
    if hp is not None:
        result.suggestions.append(hp)
    if cls in DRUM_CLASSES:
        result.suggestions.extend(_resonances(spectrum, halves))
    if aligned is not None:
        bands, notes = _against_target(levels, target, spectra.centres_hz, cls)
        result.suggestions.extend(bands)
        result.notes.extend(notes)
    return result


def _finalise(suggestions: list[Suggestion]) -> list[Suggestion]:
    """At most 8 bands; bells closer than 1/3 octave merge into the stronger; ReaEQ order."""
    chosen: list[Suggestion] = []
    for s in sorted(suggestions, key=lambda s: -s.priority):
        clash = any(
            c.band.band_type == s.band.band_type
            and (s.band.band_type != "band"
                 or abs(math.log2(c.band.freq_hz / s.band.freq_hz)) < 1 / 3)
            for c in chosen)
        if clash or len(chosen) >= MAX_BANDS:
            continue
        chosen.append(s)
    return sorted(chosen, key=lambda s: (BAND_TYPES.index(s.band.band_type)
                                         if s.band.band_type != "band" else 2, s.band.freq_hz))


def suggest_eq(
    session: Session,
    labels: Mapping[str, str],
    stems: Mapping[str, np.ndarray],
    rate: int,
    *,
    gains_db: Mapping[str, float] | None = None,
    targets: MixTargets | None = None,
    spectra: ClassSpectra | None = None,
) -> tuple[Plan, dict[str, TrackEq]]:
    """EQ bands for every audible, labelled track that has a stem (arrays at ``rate``).

    ``gains_db`` are level changes still to come (the starter mix's moves), so masking is
    judged at the balance the engineer will hear.
    """
    targets = targets or load_targets()
    spectra = spectra or load_class_spectra()
    from bridge.assist.mix import audible_tracks

    heard = audible_tracks(session)
    results: dict[str, TrackEq] = {}
    for track in session.tracks:
        if track.guid not in stems or not heard.get(track.guid, False) or track.is_folder:
            continue
        cls = mix_class(labels.get(track.guid, "unknown"), track.name)
        if targets.for_class(cls).keep:
            continue
        results[track.guid] = analyse_track(track.guid, track.name, cls, stems[track.guid],
                                            rate, spectra, targets)
    for guid, extra in _masking(results, gains_db or {}, targets).items():
        results[guid].suggestions.extend(extra)
    plan = Plan()
    for track in session.tracks:
        if track.guid not in results:
            continue
        eq = results[track.guid]
        eq.suggestions = _finalise(eq.suggestions)
        for i, s in enumerate(eq.suggestions):
            plan.add(SetEqBand(track=track.guid, track_name=track.name, reason=s.reason,
                               figures={"mix_class": eq.mix_class, **s.figures}, band=i,
                               band_type=s.band.band_type, freq_hz=float(s.band.freq_hz),
                               gain_db=float(s.band.gain_db), q=float(s.band.q)))
    return plan, results
