"""A self-contained HTML report of a starter mix: one file, pictures as inline SVG.

Per track: loudness before/after against the target (bar chart), the track's 1/3-octave
spectrum against its class target, and the suggested EQ curve with its bands marked. Nothing is
fetched from the network; the file opens anywhere.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bridge.audio.biquad import magnitude_db

WIDTH, HEIGHT = 560, 220
PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 14, 30
CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-top:1px solid #ddd;padding-top:12px}
table{border-collapse:collapse;font-size:13px} td,th{padding:3px 8px;border-bottom:1px solid #eee}
th{text-align:left} .r{text-align:right} .note{color:#8a5a00} svg{background:#fafafa}
.pics{display:flex;flex-wrap:wrap;gap:12px} ul{font-size:13px}
"""


def _x_log(f: float, lo: float, hi: float) -> float:
    return PAD_L + (math.log10(f / lo) / math.log10(hi / lo)) * (WIDTH - PAD_L - PAD_R)


def _y(v: float, lo: float, hi: float) -> float:
    v = min(max(v, lo), hi)
    return PAD_T + (hi - v) / (hi - lo) * (HEIGHT - PAD_T - PAD_B)


def _frame(title: str, y_lo: float, y_hi: float, y_step: float, f_lo: float = 20.0,
           f_hi: float = 20000.0, log_x: bool = True) -> list[str]:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img"><title>{html.escape(title)}</title>']
    v = math.ceil(y_lo / y_step) * y_step
    while v <= y_hi + 1e-9:
        y = _y(v, y_lo, y_hi)
        parts.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{PAD_L - 4}" y="{y + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{v:g}</text>')
        v += y_step
    if log_x:
        for f in (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000):
            if f_lo <= f <= f_hi:
                x = _x_log(f, f_lo, f_hi)
                label = f"{f // 1000}k" if f >= 1000 else str(f)
                parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" '
                             f'y2="{HEIGHT - PAD_B}" stroke="#eee"/><text x="{x:.1f}" '
                             f'y="{HEIGHT - PAD_B + 14}" font-size="10" '
                             f'text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{PAD_L}" y="{HEIGHT - 4}" font-size="11">{html.escape(title)}</text>')
    return parts


def _polyline(freqs: np.ndarray, values: np.ndarray, y_lo: float, y_hi: float, colour: str,
              f_lo: float = 20.0, f_hi: float = 20000.0, dash: str = "") -> str:
    pts = [f"{_x_log(float(f), f_lo, f_hi):.1f},{_y(float(v), y_lo, y_hi):.1f}"
           for f, v in zip(freqs, values, strict=True)
           if np.isfinite(v) and f_lo <= f <= f_hi]
    if len(pts) < 2:
        return ""
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<polyline fill="none" stroke="{colour}" stroke-width="1.8"{extra} '
            f'points="{" ".join(pts)}"/>')


def spectrum_svg(centres_hz: np.ndarray, levels_db: np.ndarray, target_db: np.ndarray | None,
                 title: str) -> str:
    """The track's 1/3-octave spectrum (blue) against its class target (grey, dashed)."""
    finite = levels_db[np.isfinite(levels_db)]
    hi = math.ceil((float(finite.max()) if finite.size else 0.0) / 10) * 10 + 5
    lo = hi - 60
    parts = _frame(title, lo, hi, 10)
    if target_db is not None:
        parts.append(_polyline(centres_hz, target_db, lo, hi, "#888", dash="5,3"))
    parts.append(_polyline(centres_hz, levels_db, lo, hi, "#1f5fbf"))
    top = PAD_T + 10
    parts.append(f'<text x="{WIDTH - 120}" y="{top}" font-size="10" fill="#1f5fbf">track</text>'
                 f'<text x="{WIDTH - 80}" y="{top}" font-size="10" fill="#888">class target'
                 '</text>')
    return "".join(parts) + "</svg>"


def eq_svg(bands: Sequence[Any], rate: int, title: str) -> str:
    """The EQ chain's magnitude response with each band's centre marked and numbered."""
    freqs = np.geomspace(20.0, min(20000.0, 0.49 * rate), 300)
    response = magnitude_db(list(bands), freqs, rate) if bands else np.zeros_like(freqs)
    span = max(6.0, math.ceil(float(np.max(np.abs(response))) / 3) * 3 + 3)
    span = min(span, 24.0)
    parts = _frame(title, -span, span, 3 if span <= 12 else 6)
    parts.append(_polyline(freqs, response, -span, span, "#c0392b"))
    for i, band in enumerate(bands):
        f = float(band.freq_hz)
        if not 20.0 <= f <= 20000.0:
            continue
        g = float(magnitude_db([band], np.array([f]), rate)[0])
        x, y = _x_log(f, 20.0, 20000.0), _y(g, -span, span)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#c0392b"/>'
                     f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" font-size="10">{i + 1}</text>')
    return "".join(parts) + "</svg>"


def loudness_svg(rows: Sequence[Any]) -> str:
    """Per-track active loudness before (grey) and after (blue), target as a black tick."""
    values = [v for r in rows for v in (r.loudness_before_lufs, r.loudness_after_lufs,
                                        r.target_lufs or -math.inf) if math.isfinite(v)]
    if not values:
        return ""
    hi = math.ceil(max(values) / 5) * 5 + 5
    lo = min(math.floor(min(values) / 5) * 5, hi - 20)
    width = max(WIDTH, PAD_L + 70 * len(rows))
    plot_w = width - PAD_L - PAD_R
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT + 20}" '
             f'role="img"><title>loudness before and after</title>']
    v = lo
    while v <= hi:
        y = _y(v, lo, hi)
        parts.append(f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{PAD_L - 4}" y="{y + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{v:g}</text>')
        v += 5
    slot = plot_w / max(1, len(rows))
    base = _y(lo, lo, hi)
    for i, r in enumerate(rows):
        x0 = PAD_L + i * slot + slot * 0.15
        bar = slot * 0.33
        for j, (value, colour) in enumerate(((r.loudness_before_lufs, "#aaa"),
                                             (r.loudness_after_lufs, "#1f5fbf"))):
            if math.isfinite(value):
                y = _y(value, lo, hi)
                parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" '
                             f'height="{max(0.0, base - y):.1f}" fill="{colour}"/>')
        if r.target_lufs is not None and math.isfinite(r.target_lufs):
            y = _y(r.target_lufs, lo, hi)
            parts.append(f'<line x1="{x0 - 3:.1f}" x2="{x0 + 2 * bar + 1:.1f}" y1="{y:.1f}" '
                         f'y2="{y:.1f}" stroke="#000" stroke-width="2"/>')
        parts.append(f'<text x="{x0 + bar:.1f}" y="{HEIGHT + 6}" font-size="10" '
                     f'text-anchor="middle">{html.escape(r.name[:12])}</text>')
    parts.append(f'<text x="{PAD_L}" y="{HEIGHT + 18}" font-size="11">active short-term '
                 'loudness, LUFS: grey before, blue after, black = target</text>')
    return "".join(parts) + "</svg>"


def mix_report(session: Any, outcome: Any) -> str:
    """The report for one mix run (a :class:`bridge.assist.pipeline.MixOutcome`)."""
    esc = html.escape
    out = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
           f"<title>Starter mix: {esc(session.path.name)}</title><style>{CSS}</style></head>",
           f"<body><h1>Starter mix: {esc(session.path.name)}</h1>"]
    levels = outcome.levels
    if levels is not None:
        out.append("<h2>Levels</h2>")
        out.append(loudness_svg([r for r in levels.tracks if math.isfinite(r.pre_fader_lufs)]))
        out.append("<table><tr><th>track</th><th>class</th><th class=r>fader before</th>"
                   "<th class=r>after</th><th class=r>move</th><th class=r>loudness before</th>"
                   "<th class=r>after</th><th class=r>target</th><th>note</th></tr>")
        for r in levels.tracks:
            def num(v: float | None) -> str:
                return "-" if v is None or not math.isfinite(v) else f"{v:+.1f}"
            note = r.skipped or ("capped" if r.capped else "")
            out.append(f"<tr><td>{esc(r.name)}</td><td>{esc(r.mix_class)}</td>"
                       f"<td class=r>{num(r.fader_db)}</td><td class=r>{num(r.new_fader_db)}</td>"
                       f"<td class=r>{num(r.move_db)}</td>"
                       f"<td class=r>{num(r.loudness_before_lufs)}</td>"
                       f"<td class=r>{num(r.loudness_after_lufs)}</td>"
                       f"<td class=r>{num(r.target_lufs)}</td><td>{esc(note)}</td></tr>")
        out.append("</table>")
        peak = "" if levels.peak_after_dbfs is None else (
            f"<p>Mix-bus peak: {levels.peak_before_dbfs:.1f} dBFS before, "
            f"{levels.peak_after_dbfs:.1f} dBFS after.</p>")
        out.append(peak)
    for note in outcome.notes:
        out.append(f"<p class=note>{esc(note)}</p>")
    if outcome.eq:
        out.append("<h2>EQ</h2>")
        for guid, eq in outcome.eq.items():
            out.append(f"<h3>{esc(eq.name)} <small>({esc(eq.mix_class)})</small></h3>"
                       "<div class=pics>")
            out.append(spectrum_svg(eq.centres_hz, eq.levels_db, eq.target_db,
                                    "1/3-octave spectrum, dB (0 dB = total)"))
            out.append(eq_svg(eq.bands, eq.sample_rate, "suggested EQ, dB"))
            out.append("</div><ul>")
            for i, s in enumerate(eq.suggestions):
                b = s.band
                out.append(f"<li>{i + 1}. {esc(b.band_type)} {b.freq_hz:.0f} Hz "
                           f"{b.gain_db:+.1f} dB Q {b.q:.2f}: {esc(s.reason)}</li>")
            if not eq.suggestions:
                out.append("<li>nothing to change</li>")
            out.append("</ul>")
            for note in eq.notes:  # differences no EQ band should chase
                out.append(f"<p class=note>{esc(note)}</p>")
            del guid
    if outcome.problems:
        out.append("<h2>Not analysed</h2><ul>")
        for guid, problem in outcome.problems.items():
            name = next((t.name for t in session.tracks if t.guid == guid), guid)
            out.append(f"<li>{esc(name)}: {esc(problem)}</li>")
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)
