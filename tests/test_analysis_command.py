"""``studio-bridge analyze``: table and JSON output, bad files, cache bypass, projects."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import soundfile as sf
from click.testing import CliRunner

from bridge.cli import main

KEYS = {"file", "integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "lra_lu",
        "true_peak_dbtp", "sample_peak_dbfs", "rms_dbfs", "crest_db", "dc_offset",
        "clipped_samples", "correlation", "duration_s", "sample_rate"}


def _tone(path: Path, level_dbfs: float = -23.0, seconds: float = 4.0, rate: int = 48000) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    x = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * 1000 * t)
    sf.write(path, np.stack([x, x], axis=1), rate, subtype="PCM_24")
    return path


def _run(args: list[str], tmp_path: Path):
    runner = CliRunner()
    return runner.invoke(main, ["analyze", *args],
                         env={"STUDIO_BRIDGE_CACHE": str(tmp_path / "cache")})


def test_json_keys_and_values(tmp_path: Path) -> None:
    tone = _tone(tmp_path / "tone.wav")
    result = _run(["--json", str(tone)], tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data) == 1
    entry = data[0]
    assert KEYS <= set(entry)
    assert entry["file"] == str(tone)
    assert abs(entry["integrated_lufs"] - -23.0) < 0.1
    assert abs(entry["true_peak_dbtp"] - -23.0) < 0.05
    assert entry["sample_rate"] == 48000 and abs(entry["duration_s"] - 4.0) < 1e-9
    assert abs(entry["correlation"] - 1.0) < 1e-6


def test_bad_files_are_reported_and_the_batch_goes_on(tmp_path: Path) -> None:
    good = _tone(tmp_path / "good.wav")
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    full = _tone(tmp_path / "full.wav")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:100_000])
    nan = tmp_path / "nan.wav"
    x = np.zeros((48000, 2), np.float32)
    x[100, 0] = np.nan
    sf.write(nan, x, 48000, subtype="FLOAT")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((48000 * 4, 2)), 48000)
    files = [text, good, empty, cut, nan, silent, tmp_path / "missing.wav"]
    result = _run(["--json", *map(str, files)], tmp_path)
    assert result.exit_code == 1
    data = {Path(e["file"]).name: e for e in json.loads(result.stdout)}
    assert "not an audio file" in data["text.wav"]["error"]
    assert "zero-length" in data["empty.wav"]["error"]
    assert "truncated" in data["cut.wav"]["error"]
    assert "NaN/Inf" in data["nan.wav"]["error"]
    assert "cannot open" in data["missing.wav"]["error"]
    assert "error" not in data["good.wav"]
    assert data["silent.wav"]["integrated_lufs"] is None
    assert any("silent" in n for n in data["silent.wav"]["notes"])
    # the progress bar went to stderr, not into the JSON
    assert "analysing" in result.stderr


def test_table_output_and_cache_bypass(tmp_path: Path) -> None:
    tone = _tone(tmp_path / "tone.wav", -18.0)
    first = _run([str(tone)], tmp_path)
    assert first.exit_code == 0, first.output
    assert "I LUFS" in first.stdout and "-18.0" in first.stdout
    cache_file = tmp_path / "cache" / "analysis-cache.sqlite3"
    assert cache_file.exists()
    size_before = cache_file.stat().st_size
    again = _run(["--no-cache", str(tone)], tmp_path)
    assert again.exit_code == 0
    assert again.stdout == first.stdout
    assert cache_file.stat().st_size == size_before


def test_project_stems_and_mix(tmp_path: Path) -> None:
    rate = 48000
    _tone(tmp_path / "a.wav", -20.0, 4.0, rate)
    _tone(tmp_path / "b.wav", -30.0, 4.0, rate)
    rpp = tmp_path / "song.RPP"
    tracks = ""
    for guid, name, file in [("11111111-1111-1111-1111-111111111111", "Lead", "a.wav"),
                             ("22222222-2222-2222-2222-222222222222", "Pad", "b.wav"),
                             ("33333333-3333-3333-3333-333333333333", "Ghost", "gone.wav")]:
        tracks += f"""  <TRACK {{{guid}}}
    NAME "{name}"
    VOLPAN 1 0 -1 -1 1
    MUTESOLO 0 0 0
    <ITEM
      POSITION 0
      LENGTH 4
      VOLPAN 1 0 1 -1
      <SOURCE WAVE
        FILE "{file}"
      >
    >
  >
"""
    rpp.write_text(f'<REAPER_PROJECT 0.1 "7.0" 1\n  SAMPLERATE {rate} 1 0\n{tracks}>\n')
    result = _run(["--json", "--no-cache", str(rpp)], tmp_path)
    data = json.loads(result.stdout)
    by_name = {e["file"].split("#", 1)[1]: e for e in data}
    assert set(by_name) == {"1 Lead", "2 Pad", "3 Ghost", "mix"}
    assert "error" in by_name["3 Ghost"]
    assert result.exit_code == 1  # a track could not be rendered
    assert abs(by_name["1 Lead"]["integrated_lufs"] - -20.0) < 0.2
    assert abs(by_name["2 Pad"]["integrated_lufs"] - -30.0) < 0.2
    mix = by_name["mix"]["integrated_lufs"]
    expected = 20 * math.log10(10 ** (-20 / 20) + 10 ** (-30 / 20))  # in-phase tones add
    assert abs(mix - expected) < 0.2


def test_project_without_the_renderer_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    import sys

    rpp = tmp_path / "song.RPP"
    rpp.write_text('<REAPER_PROJECT 0.1 "7.0" 1\n>\n')
    good = _tone(tmp_path / "good.wav")
    monkeypatch.setitem(sys.modules, "bridge.audio.render", None)  # import now fails
    result = _run(["--json", str(rpp), str(good)], tmp_path)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert "cannot render projects" in data[0]["error"]
    assert "error" not in data[1]
