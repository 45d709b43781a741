"""The restore command line, the file driver and the session clean-up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from click.testing import CliRunner

import bridge.restore.stream as stream
from bridge.assist.cleanup import clean_up_items
from bridge.cli import main
from bridge.plan import AddTake
from bridge.restore.corrupt import add_hum, add_noise, si_sdr_db
from bridge.session.model import Item, Session, Source, Track
from tests._material import melody
from tests._support import require_path

SPEECH = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"


def _noisy(tmp_path: Path) -> tuple[Path, np.ndarray, int]:
    x, rate = sf.read(str(require_path(SPEECH)))
    path = tmp_path / "take.wav"
    sf.write(str(path), add_noise(x, 5.0, seed=1), rate, subtype="FLOAT")
    return path, x, rate


def test_cli_denoise_writes_new_file(tmp_path):
    src, clean, rate = _noisy(tmp_path)
    before = src.read_bytes()
    out = tmp_path / "take.clean.wav"
    args = ["restore", "denoise", str(src), "--out", str(out), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["reports"][0]["process"] == "denoise"
    y, r = sf.read(str(out))
    assert r == rate and len(y) == len(clean)
    assert si_sdr_db(clean, y) > 10
    assert src.read_bytes() == before


def test_cli_refuses_in_place_and_existing(tmp_path):
    src, _, _ = _noisy(tmp_path)
    before = src.read_bytes()
    result = CliRunner().invoke(main, ["restore", "auto", str(src), "--out", str(src)])
    assert result.exit_code == 2 and "never overwritten" in result.output
    other = tmp_path / "exists.wav"
    other.write_bytes(b"x")
    result = CliRunner().invoke(main, ["restore", "declick", str(src), "--out", str(other)])
    assert result.exit_code == 2 and "exists" in result.output
    assert src.read_bytes() == before


def test_cli_bad_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    out = str(tmp_path / "o.wav")
    result = CliRunner().invoke(main, ["restore", "dehum", str(bad), "--out", out])
    assert result.exit_code == 2 and "bad.wav" in result.output


def test_cli_makes_the_output_folder_and_names_an_unwritable_one(tmp_path):
    src = tmp_path / "hiss.wav"
    sf.write(str(src), 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
    out = tmp_path / "cleaned" / "day 2" / "hiss.wav"
    result = CliRunner().invoke(main, ["restore", "denoise", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sf.info(str(out)).frames == 16000
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["restore", "denoise", str(src),
                                       "--out", str(blocker / "x.wav")])
    assert result.exit_code == 2 and "x.wav" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("**/*.partial"))


def test_chunked_file_matches_whole(tmp_path, monkeypatch):
    x, rate = sf.read(str(require_path(SPEECH)))
    src = tmp_path / "hum.wav"
    sf.write(str(src), add_hum(x, rate, 50.0, hum_db=-10.0), rate, subtype="FLOAT")
    monkeypatch.setattr(stream, "CHUNK_S", 1.0)
    monkeypatch.setattr(stream, "OVERLAP_S", 0.5)
    out = tmp_path / "chunked.wav"
    reports, _ = stream.process_file(src, out, "dehum")
    y, _ = sf.read(str(out))
    assert len(y) == len(x)
    assert reports[0].applied
    # 1 s chunks are far shorter than the real 30 s ones; the hum still comes down.
    assert si_sdr_db(x, y) > 11


def test_cleanup_plans_new_takes(tmp_path):
    src, clean, rate = _noisy(tmp_path)
    media = tmp_path / "Media"
    media.mkdir()
    item_path = media / "vox.wav"
    item_path.write_bytes(src.read_bytes())
    before = item_path.read_bytes()
    session = Session(
        path=tmp_path / "song.rpp",
        daw="reaper",
        tracks=[
            Track(
                guid="{A}",
                name="Vox",
                index=0,
                items=[
                    Item(0.0, 3.0, source=Source("WAVE", "Media/vox.wav", item_path)),
                    Item(4.0, 1.0, source=Source("WAVE", "Media/gone.wav", media / "gone.wav")),
                ],
            )
        ],
    )
    result = clean_up_items(session, {"{A}": None, "{NOPE}": [0]}, process="denoise")
    assert len(result.plan) == 1
    edit = result.plan.edits[0]
    assert isinstance(edit, AddTake) and edit.item == 0 and edit.track == "{A}"
    assert edit.file.startswith("Media/vox.cleaned-denoise") and "denoise" in edit.reason
    assert (tmp_path / edit.file).is_file()
    assert item_path.read_bytes() == before
    assert any("gone.wav" in p for p in result.problems)
    assert any("{NOPE}" in p for p in result.problems)
    # A second run never overwrites the first new file.
    again = clean_up_items(session, {"{A}": [0]}, process="denoise")
    assert again.plan.edits[0].file != edit.file


def test_auto_looks_past_the_first_minute_of_a_long_file(tmp_path):
    from bridge.restore.corrupt import add_clicks
    from bridge.restore.stream import diagnose_file

    rate = 8000
    clean = melody(130, rate)
    crackly = clean.copy()
    crackly[90 * rate:], _ = add_clicks(clean[90 * rate:], rate, count=60, seed=3)
    sf.write(str(tmp_path / "clean.wav"), clean, rate, subtype="FLOAT")
    sf.write(str(tmp_path / "late.wav"), crackly, rate, subtype="FLOAT")
    assert diagnose_file(tmp_path / "clean.wav").needed == []  # more looks, no false alarm
    late = diagnose_file(tmp_path / "late.wav")
    assert late.needed == ["declick"] and " s)" in late.findings["declick"]
    out = tmp_path / "late.fixed.wav"
    reports, diagnosis = stream.process_file(tmp_path / "late.wav", out, "auto")
    assert diagnosis is not None and diagnosis.needed == ["declick"]
    fixed, _ = sf.read(str(out))
    tail = slice(90 * rate, None)
    assert si_sdr_db(clean[tail], fixed[tail]) > si_sdr_db(clean[tail], crackly[tail]) + 10
