"""Bad source audio inside projects: NaN/Inf samples, truncated files, exit statuses, memory."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from bridge.cli import main as cli
from bridge.session.model import Item, Session, Source, Track

RATE = 44100


def _track(index: int, name: str, items: list[Item], **kw: object) -> Track:
    return Track(guid=f"{{T{index}}}", name=name, index=index, items=items, **kw)


def _item(path: Path, length_s: float, *, position_s: float = 0.0, loop: bool = False) -> Item:
    return Item(position_s=position_s, length_s=length_s, loop=loop,
                source=Source(kind="WAVE", file=path.name, path=path))


def _tone(seconds: float, freq: float = 220.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_rpp(folder: Path, tracks: list[tuple[str, list[tuple[str, float, bool]]]],
              *, folder_first: bool = False) -> Path:
    """A small REAPER project: ``tracks`` = [(name, [(file, length_s, loop), ...]), ...]."""
    lines = ['<REAPER_PROJECT 0.1 "7.27/linux-x86_64" 1732550000', f"  SAMPLERATE {RATE} 1 0",
             "  MASTER_VOLUME 1 0 -1 -1 1"]
    for n, (name, items) in enumerate(tracks):
        depth = "1 1" if folder_first and n == 0 else (
            "0 -1" if folder_first and n == len(tracks) - 1 else "0 0")
        lines += [f"  <TRACK {{{str(uuid.uuid4()).upper()}}}",
                  f'    NAME "{name}"', "    VOLPAN 1.0 0.0 -1 -1 1", "    MUTESOLO 0 0 0",
                  f"    ISBUS {depth}"]
        for file, length, loop in items:
            lines += ["    <ITEM", "      POSITION 0", f"      LENGTH {length}",
                      f"      LOOP {int(loop)}", "      VOLPAN 1.0 0 1 -1", "      SOFFS 0.0",
                      "      PLAYRATE 1 1 0 -1 0 0.0025", f"      GUID {{{uuid.uuid4()}}}",
                      "      <SOURCE WAVE", f'        FILE "{file}"', "      >", "    >"]
        lines.append("  >")
    lines.append(">")
    path = folder / "song.RPP"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _nan_file(path: Path, at_s: float) -> None:
    x = np.stack([_tone(3.0), _tone(3.0, 330.0)], axis=1)
    x[int(at_s * RATE), 1] = np.nan
    sf.write(str(path), x, RATE, subtype="FLOAT")


def _truncated_file(path: Path, keep_frames: int, frames: int = 4 * RATE) -> None:
    sf.write(str(path), _tone(frames / RATE), RATE, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 2 * keep_frames])  # the header still promises every frame


# -- NaN / Inf ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_sample_is_a_problem_and_stays_out_of_the_mix(tmp_path: Path,
                                                                 bad: float) -> None:
    from bridge.audio.render import render_stems

    good, broken = tmp_path / "good.wav", tmp_path / "broken.wav"
    sf.write(str(good), _tone(3.0), RATE, subtype="PCM_16")
    x = _tone(3.0, 330.0)
    x[int(1.25 * RATE)] = bad
    sf.write(str(broken), x, RATE, subtype="FLOAT")
    session = Session(path=tmp_path / "s.RPP", daw="reaper", sample_rate=RATE, tracks=[
        _track(0, "Good", [_item(good, 3.0)]), _track(1, "Broken", [_item(broken, 3.0)])])
    report = render_stems(session, tmp_path / "out")
    assert set(report.stems) == {"{T0}"}
    assert report.bad_media == {"{T1}"}
    problem = report.problems["{T1}"]
    assert "NaN/Inf sample in broken.wav at 1.250 s" in problem
    assert not (tmp_path / "out" / "02 - Broken.wav").exists()
    mix, _ = sf.read(str(report.mix))
    stem, _ = sf.read(str(report.stems["{T0}"]))
    assert np.isfinite(mix).all()
    np.testing.assert_allclose(mix, stem, atol=1e-6)  # the mix holds only the good track


def test_non_finite_sample_outside_the_played_part_does_not_matter(tmp_path: Path) -> None:
    from bridge.audio.render import render_stems

    src = tmp_path / "tail.wav"
    _nan_file(src, 2.5)
    session = Session(path=tmp_path / "s.RPP", daw="reaper", sample_rate=RATE,
                      tracks=[_track(0, "Head", [_item(src, 2.0)])])
    report = render_stems(session, tmp_path / "out")
    assert set(report.stems) == {"{T0}"} and not report.problems
    looped = Session(path=tmp_path / "s.RPP", daw="reaper", sample_rate=RATE,
                     tracks=[_track(0, "Loop", [_item(src, 2.0, loop=True)])])
    # a looped item may play any part of its source: the whole file counts
    assert "NaN/Inf" in render_stems(looped, tmp_path / "out2").problems["{T0}"]


# -- truncated sources -------------------------------------------------------------------------


def test_truncated_source_plays_its_readable_part_with_a_note(tmp_path: Path) -> None:
    from bridge.audio.render import render_stems

    src = tmp_path / "cut.wav"
    _truncated_file(src, keep_frames=RATE)
    session = Session(path=tmp_path / "s.RPP", daw="reaper", sample_rate=RATE,
                      tracks=[_track(0, "Cut", [_item(src, 4.0)])])
    report = render_stems(session, tmp_path / "out")
    assert "{T0}" in report.stems and not report.bad_media
    notes = " ".join(report.notes["{T0}"])
    assert "cut.wav" in notes and "truncated" in notes and f"holds {RATE}" in notes
    stem, _ = sf.read(str(report.stems["{T0}"]))
    assert np.abs(stem[: RATE - 10]).max() > 0.2  # the readable second plays
    assert np.abs(stem[RATE + 10:]).max() == 0.0  # then silence


def test_whole_source_has_no_truncation_note(tmp_path: Path) -> None:
    from bridge.audio.render import render_stems

    src = tmp_path / "whole.wav"
    sf.write(str(src), _tone(2.0), RATE, subtype="PCM_16")
    session = Session(path=tmp_path / "s.RPP", daw="reaper", sample_rate=RATE,
                      tracks=[_track(0, "Whole", [_item(src, 2.0)])])
    assert render_stems(session, tmp_path / "out").notes == {}


# -- command line: exit statuses and listings --------------------------------------------------


def _project(tmp_path: Path, *, bad: str | None) -> Path:
    sf.write(str(tmp_path / "bass.wav"), _tone(4.0, 55.0), RATE, subtype="PCM_16")
    sf.write(str(tmp_path / "keys.wav"), _tone(4.0, 440.0), RATE, subtype="PCM_16")
    tracks: list[tuple[str, list[tuple[str, float, bool]]]] = [
        ("BUS", []), ("Bass", [("bass.wav", 4.0, False)]), ("Keys", [("keys.wav", 4.0, False)])]
    if bad == "nan":
        _nan_file(tmp_path / "nan.wav", 1.0)
        tracks.append(("Broken", [("nan.wav", 3.0, False)]))
    elif bad == "missing":
        tracks.append(("Gone", [("gone.wav", 3.0, False)]))
    elif bad == "truncated":
        _truncated_file(tmp_path / "cut.wav", keep_frames=2 * RATE)
        tracks.append(("Cut", [("cut.wav", 4.0, False)]))
    tracks.append(("Empty", []))
    return write_rpp(tmp_path, tracks, folder_first=True)


def test_render_exit_status(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "a").mkdir()
    clean = _project(tmp_path / "a", bad=None)
    result = runner.invoke(cli, ["render", str(clean), "--out", str(tmp_path / "o1")])
    assert result.exit_code == 0, result.output  # folder bus and empty track are notes
    assert "no audio items" in result.output
    for bad in ("nan", "missing"):
        (tmp_path / bad).mkdir()
        project = _project(tmp_path / bad, bad=bad)
        result = runner.invoke(cli, ["render", str(project), "--out", str(tmp_path / f"o{bad}")])
        assert result.exit_code == 1, result.output
        assert "FAILED" in result.output
    (tmp_path / "t").mkdir()
    result = runner.invoke(cli, ["render", str(_project(tmp_path / "t", bad="truncated")),
                                 "--out", str(tmp_path / "ot")])
    assert result.exit_code == 0 and "truncated" in result.output


def test_analyze_project_with_folder_and_empty_track_succeeds(tmp_path: Path) -> None:
    import json

    runner = CliRunner()
    (tmp_path / "a").mkdir()
    project = _project(tmp_path / "a", bad=None)
    result = runner.invoke(cli, ["analyze", str(project), "--json", "--no-cache"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert not [e for e in entries if "error" in e]
    assert sum(1 for e in entries if e.get("skipped")) == 2
    (tmp_path / "b").mkdir()
    result = runner.invoke(cli, ["analyze", str(_project(tmp_path / "b", bad="nan")),
                                 "--no-cache"])
    assert result.exit_code == 1 and "NaN/Inf sample in nan.wav" in result.output
    (tmp_path / "c").mkdir()
    result = runner.invoke(cli, ["analyze", str(_project(tmp_path / "c", bad="truncated")),
                                 "--json", "--no-cache"])
    assert result.exit_code == 0, result.output
    cut = [e for e in json.loads(result.stdout) if e["file"].endswith("Cut")]
    assert any("truncated" in n for n in cut[0]["notes"])


def test_mix_and_demo_carry_on_past_a_nan_track(tmp_path: Path) -> None:
    import warnings

    runner = CliRunner()
    project = _project(tmp_path, bad="nan")
    labels = tmp_path / "labels.json"
    labels.write_text('{"Bass": "bass", "Keys": "keys", "Broken": "keys"}', encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = runner.invoke(cli, ["mix", str(project), "--dry-run", "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    assert "skipped Broken" in result.output and "NaN/Inf" in result.output
    result = runner.invoke(cli, ["demo", str(project), "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "NaN/Inf sample in nan.wav" in result.output
    assert "left out because of bad or missing media: Broken" in result.output


# -- memory: streamed measurement and bounded EQ excerpts ---------------------------------------


def test_streamed_short_term_matches_whole_file(tmp_path: Path) -> None:
    from bridge.assist.mix import measure_stems, short_term_series

    rng = np.random.default_rng(3)
    for seconds in (1.0, 7.3):  # under one 3 s window, and several blocks long
        x = (0.1 * rng.standard_normal((int(seconds * RATE), 2))).astype(np.float32)
        path = tmp_path / f"n{seconds}.wav"
        sf.write(str(path), x, RATE, subtype="FLOAT")
        session = Session(path=tmp_path / "s.RPP", daw="reaper", tracks=[_track(0, "N", [])])
        measures, problems = measure_stems({"{T0}": path}, session)
        assert not problems
        whole = short_term_series(x, RATE)
        np.testing.assert_allclose(measures["{T0}"].short_term_lufs, whole, atol=1e-3)


def test_measure_stems_reports_a_nan_stem(tmp_path: Path) -> None:
    from bridge.assist.mix import measure_stems

    path = tmp_path / "bad.wav"
    _nan_file(path, 1.0)
    session = Session(path=tmp_path / "s.RPP", daw="reaper", tracks=[_track(0, "N", [])])
    measures, problems = measure_stems({"{T0}": path}, session)
    assert measures == {} and "NaN/Inf" in problems["{T0}"] and "bad.wav" in problems["{T0}"]


def test_eq_excerpt_is_bounded_and_keeps_the_spectrum(tmp_path: Path) -> None:
    from bridge.assist.match import long_term_spectrum
    from bridge.assist.pipeline import stem_excerpt

    rate = 8000
    t = np.arange(120 * rate) / rate
    # a drone plus a tone that is only in the second half: both must survive the excerpt
    x = 0.2 * np.sin(2 * np.pi * 200 * t) + np.where(t > 60, 0.2, 0.0) * np.sin(
        2 * np.pi * 1500 * t)
    path = tmp_path / "long.wav"
    sf.write(str(path), np.stack([x, x], axis=1), rate, subtype="FLOAT")
    short = stem_excerpt(path, max_s=40.0, pieces=4)
    assert short.shape == (40 * rate, 2) and short.dtype == np.float32
    whole = long_term_spectrum(x, rate)
    part = long_term_spectrum(short, rate)
    for f in (200, 1500):
        i = int(np.argmin(np.abs(whole.freq_hz - f)))
        assert abs(10 * np.log10(part.power[i] / whole.power[i])) < 1.5
    assert stem_excerpt(path, max_s=200.0).shape == (120 * rate, 2)  # short stems read whole
