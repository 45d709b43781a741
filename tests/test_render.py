"""The offline stem render against an independent whole-array numpy mixdown."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.audio.render import balance_gains, fade_curve, render_stems
from bridge.session.rpp_session import load_session

RATE = 8000


def item(file: str, position: float, length: float, *, offset: float = 0.0,
         vol: float = 1.0, take_vol: float = 1.0, fade_in=(0, 0.0), fade_out=(0, 0.0),
         mute: int = 0, loop: int = 0, kind: str = "WAVE", chanmode: int = 0) -> str:
    return f"""    <ITEM
      POSITION {position}
      LENGTH {length}
      LOOP {loop}
      FADEIN {fade_in[0]} {fade_in[1]} 0 1 0 0 0
      FADEOUT {fade_out[0]} {fade_out[1]} 0 1 0 0 0
      MUTE {mute} 0
      NAME {file}
      VOLPAN {vol} 0 {take_vol} -1
      SOFFS {offset}
      PLAYRATE 1 1 0 -1 0 0.0025
      CHANMODE {chanmode}
      <SOURCE {kind}
        FILE "{file}"
      >
    >
"""


def track(guid: str, name: str, items: str, vol: float = 1.0, pan: float = 0.0,
          mute: int = 0, solo: int = 0, isbus: str = "0 0") -> str:
    return f"""  <TRACK {{{guid}}}
    NAME "{name}"
    VOLPAN {vol} {pan} -1 -1 1
    MUTESOLO {mute} {solo} 0
    ISBUS {isbus}
{items}  >
"""


def project(tracks: str) -> str:
    return f'<REAPER_PROJECT 0.1 "7.0" 1\n  SAMPLERATE {RATE} 1 0\n{tracks}>\n'


@pytest.fixture
def media(tmp_path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    sources = {
        "mono.wav": rng.uniform(-0.5, 0.5, (RATE * 2, 1)),
        "stereo.wav": rng.uniform(-0.5, 0.5, (int(RATE * 1.5), 2)),
        "short.wav": rng.uniform(-0.5, 0.5, (RATE // 4, 1)),
    }
    for name, data in sources.items():
        sf.write(tmp_path / name, data, RATE, subtype="FLOAT")
    return sources


def reference_item(src: np.ndarray, total: int, position: float, length: float,
                   offset: float = 0.0, gain: float = 1.0, fade_in=(0, 0.0), fade_out=(0, 0.0),
                   loop: bool = False, chanmode: int = 0) -> np.ndarray:
    """Independent, whole-array version of the render rules."""
    out = np.zeros((total, 2))
    stereo = np.repeat(src, 2, axis=1) if src.shape[1] == 1 else src[:, :2].copy()
    if chanmode == 1:
        stereo = stereo[:, ::-1]
    elif chanmode == 2:
        stereo = np.repeat(stereo.mean(axis=1, keepdims=True), 2, axis=1)
    start, n = round(position * RATE), round(length * RATE)
    k = np.arange(n)
    pos = k + round(offset * RATE)
    if loop:
        pos = pos % len(stereo)
    ok = (pos >= 0) & (pos < len(stereo))
    seg = np.zeros((n, 2))
    seg[ok] = stereo[pos[ok]]
    g = np.full(n, gain)
    fi, fo = round(fade_in[1] * RATE), round(fade_out[1] * RATE)
    if fi:
        g *= np.where(k < fi, fade_curve(k / fi, fade_in[0]), 1.0)
    if fo:
        left = n - k
        g *= np.where(left <= fo, fade_curve(left / fo, fade_out[0]), 1.0)
    out[start:start + n] = seg * g[:, None]
    return out


def test_stems_and_mix_match_an_independent_mixdown(tmp_path: Path, media):
    rpp_text = project(
        track("A", "Audio 1",
              item("mono.wav", 0.25, 1.5, offset=0.1, vol=0.5, take_vol=0.8,
                   fade_in=(0, 0.2), fade_out=(5, 0.3))
              + item("stereo.wav", 1.0, 1.2, fade_in=(1, 0.1), chanmode=1)  # overlaps the first
              + item("mono.wav", 2.5, 0.5, mute=1),
              vol=1.5, pan=0.4)
        + track("B", "Track 2", item("short.wav", 0.5, 1.1, loop=1) +
                item("stereo.wav", 1.9, 1.0, offset=1.0, chanmode=2), pan=-0.6)
        + track("C", "Muted", item("mono.wav", 0.0, 1.0), mute=1)
    )
    path = tmp_path / "song.RPP"
    path.write_text(rpp_text)
    session = load_session(path)
    report = render_stems(session, tmp_path / "stems", block_frames=777)  # odd block edges
    assert report.problems == {} and report.sample_rate == RATE
    total = round(3.0 * RATE)
    m, s = media["mono.wav"], media["stereo.wav"]
    a = (reference_item(m, total, 0.25, 1.5, 0.1, 0.4, (0, 0.2), (5, 0.3))
         + reference_item(s, total, 1.0, 1.2, fade_in=(1, 0.1), chanmode=1))
    a *= 1.5 * np.array(balance_gains(0.4))
    b = (reference_item(media["short.wav"], total, 0.5, 1.1, loop=True)
         + reference_item(s, total, 1.9, 1.0, offset=1.0, chanmode=2))
    b *= np.array(balance_gains(-0.6))
    for guid, expected in (("{A}", a), ("{B}", b)):
        got, rate = sf.read(report.stems[guid], always_2d=True)
        assert rate == RATE and got.shape[1] == 2
        n = max(len(got), len(expected))
        diff = np.abs(np.pad(got, ((0, n - len(got)), (0, 0)))
                      - np.pad(expected, ((0, n - len(expected)), (0, 0))))
        assert diff.max() <= 1e-6, (guid, diff.max())
    mix, _ = sf.read(report.mix, always_2d=True)
    assert np.abs(mix - (a + b)[: len(mix)]).max() <= 1e-6  # the muted track is not in the mix
    assert "{C}" in report.stems  # a muted track still gets its stem


def test_folder_parent_volume_and_mute_reach_the_mix(tmp_path: Path, media):
    text = project(
        track("P", "Bus", "", vol=0.5, isbus="1 1")
        + track("K", "Child", item("mono.wav", 0, 1.0), isbus="2 -1")
        + track("Q", "Muted bus", "", mute=1, isbus="1 1")
        + track("L", "Child 2", item("mono.wav", 0, 1.0), isbus="2 -1")
    )
    (tmp_path / "f.RPP").write_text(text)
    report = render_stems(load_session(tmp_path / "f.RPP"), tmp_path / "out")
    stem, _ = sf.read(report.stems["{K}"], always_2d=True)
    mix, _ = sf.read(report.mix, always_2d=True)
    assert np.allclose(mix, 0.5 * stem, atol=1e-6)
    assert set(report.problems) == {"{P}", "{Q}"}  # folders without items: no stem


def test_missing_and_corrupt_media_are_reported_per_track(tmp_path: Path, media):
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    text = project(
        track("A", "Good", item("mono.wav", 0, 1.0))
        + track("B", "Missing", item("gone.wav", 0, 1.0))
        + track("C", "Corrupt", item("broken.wav", 0, 1.0))
        + track("D", "Synth", item("x.mid", 0, 1.0, kind="MIDI"))
    )
    (tmp_path / "m.RPP").write_text(text)
    report = render_stems(load_session(tmp_path / "m.RPP"), tmp_path / "out")
    assert list(report.stems) == ["{A}"]
    assert "missing" in report.problems["{B}"] and "gone.wav" in report.problems["{B}"]
    assert "cannot read broken.wav" in report.problems["{C}"]
    assert "MIDI" in report.problems["{D}"]
    assert sf.info(str(report.stems["{A}"])).frames == RATE


def test_sources_at_another_rate_are_resampled(tmp_path: Path):
    t = np.arange(RATE) / RATE
    sf.write(tmp_path / "lo.wav", np.sin(2 * np.pi * 440 * t[::2]), RATE // 2, subtype="FLOAT")
    (tmp_path / "r.RPP").write_text(project(track("A", "A", item("lo.wav", 0, 1.0))))
    report = render_stems(load_session(tmp_path / "r.RPP"), tmp_path / "out")
    got, rate = sf.read(report.stems["{A}"], always_2d=True)
    assert rate == RATE and len(got) == RATE
    expected = np.sin(2 * np.pi * 440 * t)
    inner = slice(200, RATE - 200)  # away from the edges of the resampler's window
    assert np.abs(got[inner, 0] - expected[inner]).max() < 0.01


def _peak_alloc_mb(tmp_path: Path, seconds: int) -> float:
    text = project(track("A", "Loop", item("mono.wav", 0, seconds, loop=1)))
    (tmp_path / f"long{seconds}.RPP").write_text(text)
    session = load_session(tmp_path / f"long{seconds}.RPP")
    tracemalloc.start()
    render_stems(session, tmp_path / f"out{seconds}")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def test_memory_does_not_grow_with_session_length(tmp_path: Path, media):
    short = _peak_alloc_mb(tmp_path, 60)
    long = _peak_alloc_mb(tmp_path, 600)
    assert long < short * 1.5 + 1.0, (short, long)
    assert long < 40  # a whole 10-minute stem in memory would be ~77 MB at this rate
