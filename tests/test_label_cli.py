"""``studio-bridge label``: files, JSON output, bad files in a batch, projects -> Plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from _support import require_path
from click.testing import CliRunner

from bridge.cli import main

SONIC_PI = Path("/usr/share/sonic-pi/samples")
SPEECH = Path("/usr/share/pocketsphinx/test/data/cards/001.wav")


def _kick_pattern(rate: int = 44100, seconds: float = 6.0) -> np.ndarray:
    t = np.arange(int(0.4 * rate)) / rate
    freq = 50 + 120 * np.exp(-t * 30)
    hit = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t * 9)
    out = np.zeros(int(seconds * rate))
    for start in range(0, len(out) - len(hit), rate // 2):
        out[start:start + len(hit)] += hit
    return 0.8 * out


def test_label_files_json_with_a_bad_file_in_the_batch(tmp_path: Path) -> None:
    snare = require_path(SONIC_PI / "drum_snare_hard.flac")
    speech = require_path(SPEECH)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEnope")
    result = CliRunner().invoke(main, ["label", str(snare), str(bad), str(speech), "--json"])
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    assert [r["file"] for r in rows] == [str(snare), str(bad), str(speech)]
    assert rows[0]["label"] == "snare" and rows[2]["label"] == "speech"
    for r in (rows[0], rows[2]):
        assert set(r) >= {"file", "label", "confidence", "scores"}
        assert 0 <= r["confidence"] <= 1 and len(r["scores"]) == 15
    assert "broken.wav" in rows[1]["error"]


def test_label_files_text_output(tmp_path: Path) -> None:
    snare = require_path(SONIC_PI / "drum_snare_hard.flac")
    result = CliRunner().invoke(main, ["label", str(snare)])
    assert result.exit_code == 0, result.output
    assert "snare" in result.output


def _rpp(tracks: list[tuple[str, str, str]]) -> str:
    body = ""
    for guid, name, file in tracks:
        body += f"""  <TRACK {{{guid}}}
    NAME "{name}"
    VOLPAN 1 0 -1 -1 1
    MUTESOLO 0 0 0
    ISBUS 0 0
    <ITEM
      POSITION 0
      LENGTH 6
      NAME {file}
      VOLPAN 1 0 1 -1
      SOFFS 0
      <SOURCE WAVE
        FILE "{file}"
      >
    >
  >
"""
    return f'<REAPER_PROJECT 0.1 "7.0" 1\n  SAMPLERATE 44100 1 0\n{body}>\n'


def test_label_project_prints_the_rename_plan(tmp_path: Path) -> None:
    speech = require_path(SPEECH)
    data, rate = sf.read(speech)
    sf.write(tmp_path / "Audio 01.wav", _kick_pattern(), 44100)
    sf.write(tmp_path / "Audio 02.wav", np.tile(data, 3), rate)
    sf.write(tmp_path / "Keep.wav", _kick_pattern(), 44100)
    text = _rpp([("11111111-1111-1111-1111-111111111111", "Audio 01", "Audio 01.wav"),
                 ("22222222-2222-2222-2222-222222222222", "", "Audio 02.wav"),
                 ("33333333-3333-3333-3333-333333333333", "Kick", "Keep.wav")])
    project = tmp_path / "song.RPP"
    project.write_text(text)
    before = project.read_bytes()
    result = CliRunner().invoke(main, ["label", str(project), "--json"])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    ops = {(e["op"], e["track_name"]): e for e in entry["plan"]["edits"]}
    # a track a person named "Kick" keeps its name, so the new kick is numbered
    assert ops[("rename_track", "Audio 01")]["name"] == "Kick 2"
    assert ops[("rename_track", "")]["name"] == "VO"
    assert all(e["reason"] for e in entry["plan"]["edits"])
    assert not any(e["track_name"] == "Kick" for e in entry["plan"]["edits"])
    assert project.read_bytes() == before  # a dry run writes nothing
    text_run = CliRunner().invoke(main, ["label", str(project)])
    assert text_run.exit_code == 0 and "rename to 'VO'" in text_run.output


def test_label_missing_project_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["label", str(tmp_path / "nope.RPP"), "--json"])
    assert result.exit_code == 1
    [entry] = json.loads(result.stdout)
    assert "nope.RPP" in entry["error"]
