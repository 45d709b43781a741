"""What the restore file driver writes: the container the --out name asks for, enough bits,
never added clipping (one gain for the whole file instead, reported), a merged report that
agrees with the audio, and no OUT.partial left behind on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import bridge.restore.stream as stream
from bridge.cli import main
from bridge.restore.corrupt import add_breaths, add_noise, clip
from tests._material import melody
from tests._support import require_path

LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
SPEECH = f"{LIBRIVOX}/sense_and_sensibility_01_austen_64kb-0870.wav"
FULL_SCALE_24 = 1.0 - 2.0**-23  # the largest positive 24-bit sample, read back as float


def _speech() -> tuple[np.ndarray, int]:
    x, rate = sf.read(str(require_path(SPEECH)))
    return x, rate


def _at_rails(y: np.ndarray) -> int:
    return int(np.sum(np.abs(y) >= FULL_SCALE_24))


def _run(*args: str) -> object:
    return CliRunner().invoke(main, ["restore", *args])


# --- 1. never add clipping ---------------------------------------------------------------


def test_declipped_flac_is_lowered_as_a_whole_not_clipped(tmp_path):
    x, rate = _speech()
    clipped, level = clip(x, 0.04)
    clipped = clipped / level  # rails at full scale, as a clipped recording has them
    src = tmp_path / "clipped.wav"
    sf.write(str(src), clipped, rate, subtype="PCM_24")
    source, _ = sf.read(str(src))
    result = _run("declip", str(src), "--out", str(tmp_path / "fixed.flac"))
    assert result.exit_code == 0, result.output
    flac, _ = sf.read(str(tmp_path / "fixed.flac"))
    assert _at_rails(flac) < _at_rails(source) // 20  # the repaired peaks are not cut off
    # The same repair in float: the FLAC is exactly that, one gain lower.
    result_wav = _run("declip", str(src), "--out", str(tmp_path / "fixed.wav"), "--json")
    assert result_wav.exit_code == 0, result_wav.output
    wide, _ = sf.read(str(tmp_path / "fixed.wav"))
    peak = float(np.max(np.abs(wide)))
    assert peak > 1.05
    gain = float(np.dot(flac, wide) / np.dot(wide, wide))
    assert gain == pytest.approx(1.0 / peak, rel=1e-3)
    assert np.max(np.abs(flac - gain * wide)) < 2e-6
    lowered_db = 20 * np.log10(peak)
    assert f"lowered {lowered_db:.1f} dB" in result.output
    assert json.loads(result_wav.stdout)["written"]["gain_db"] == 0.0


def test_hot_float_mix_into_flac_keeps_its_shape(tmp_path):
    rate = 8000
    x = melody(12, rate)
    x *= 10 ** (6.6 / 20) / np.max(np.abs(x))  # a float mix peaking at +6.6 dBFS
    src = tmp_path / "hot.wav"
    sf.write(str(src), x, rate, subtype="FLOAT")
    x, _ = sf.read(str(src))
    result = _run("auto", str(src), "--out", str(tmp_path / "hot.flac"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["diagnosis"]["needed"] == []
    assert data["written"]["gain_db"] == pytest.approx(-6.6, abs=0.01)
    assert data["written"]["format"] == "FLAC" and data["written"]["subtype"] == "PCM_24"
    y, _ = sf.read(str(tmp_path / "hot.flac"))
    assert _at_rails(y) <= 1
    assert np.max(np.abs(y - x * 10 ** (-6.6 / 20))) < 1e-4


def test_float_wav_keeps_peaks_over_full_scale(tmp_path):
    rate = 8000
    x = 4.0 * melody(4, rate)  # peaks at +1.6 dBFS
    src = tmp_path / "hot.wav"
    sf.write(str(src), x, rate, subtype="FLOAT")
    x, _ = sf.read(str(src))
    result = stream.process_file(src, tmp_path / "copy.wav", "declick")
    y, _ = sf.read(str(tmp_path / "copy.wav"))
    assert np.max(np.abs(y)) > 1.0 and np.allclose(y, x, atol=1e-6)
    assert result.output.gain_db == 0.0
    assert result.output.peak_dbfs == pytest.approx(20 * np.log10(np.max(np.abs(x))), abs=0.01)


# --- 2. the container follows --out, with enough bits -----------------------------------

FORMATS = [
    (".wav", "WAV", "FLOAT"),
    (".aiff", "AIFF", "FLOAT"),
    (".aif", "AIFF", "FLOAT"),
    (".w64", "W64", "FLOAT"),
    (".caf", "CAF", "FLOAT"),
    (".flac", "FLAC", "PCM_24"),
    (".ogg", "OGG", "VORBIS"),
]
if "MP3" in sf.available_formats():
    FORMATS.append((".mp3", "MP3", "MPEG_LAYER_III"))


@pytest.mark.parametrize(("ext", "fmt", "subtype"), FORMATS)
def test_the_container_follows_the_out_name(tmp_path, ext, fmt, subtype):
    rate = 16000
    src = tmp_path / "take.wav"
    sf.write(str(src), melody(2, rate), rate, subtype="PCM_24")
    out = tmp_path / f"take.fixed{ext}"
    result = _run("declick", str(src), "--out", str(out))
    assert result.exit_code == 0, result.output
    info = sf.info(str(out))
    assert (info.format, info.subtype) == (fmt, subtype)
    assert info.samplerate == rate and info.channels == 1
    y, _ = sf.read(str(out))
    # Lossy codecs pad and delay a little; the length is close and the level the same.
    assert abs(len(y) - 2 * rate) < 0.2 * rate
    assert 20 * np.log10(np.std(y) / np.std(melody(2, rate))) == pytest.approx(0.0, abs=0.5)


@pytest.mark.parametrize(
    ("source_subtype", "ext", "expected"),
    [
        ("DOUBLE", ".wav", "DOUBLE"),
        ("DOUBLE", ".aiff", "DOUBLE"),
        ("PCM_32", ".w64", "DOUBLE"),
        ("FLOAT", ".caf", "FLOAT"),
        ("PCM_16", ".aiff", "FLOAT"),
        ("FLOAT", ".flac", "PCM_24"),
    ],
)
def test_never_fewer_bits_than_the_source(tmp_path, source_subtype, ext, expected):
    rate = 8000
    x = 0.5 * melody(1, rate)
    src = tmp_path / "take.wav"
    sf.write(str(src), x, rate, subtype=source_subtype)
    x, _ = sf.read(str(src))
    stream.process_file(src, tmp_path / f"out{ext}", "declick")
    assert sf.info(str(tmp_path / f"out{ext}")).subtype == expected
    y, _ = sf.read(str(tmp_path / f"out{ext}"))
    tolerance = 2e-7 if expected == "PCM_24" else 1e-12 if expected == "DOUBLE" else 1e-7
    assert np.max(np.abs(y - x)) < tolerance


def test_a_24_bit_flac_source_into_aiff_keeps_its_bits(tmp_path):
    rate = 16000
    src = tmp_path / "take.flac"
    sf.write(str(src), 0.5 * melody(1, rate), rate, subtype="PCM_24")
    x, _ = sf.read(str(src))
    stream.process_file(src, tmp_path / "out.aiff", "declick")
    info = sf.info(str(tmp_path / "out.aiff"))
    assert info.format == "AIFF" and info.subtype == "FLOAT"
    y, _ = sf.read(str(tmp_path / "out.aiff"))
    assert np.max(np.abs(y - x)) < 1e-7  # 16-bit would be off by up to 1.5e-5


@pytest.mark.parametrize("name", ["noext", "take.xyz", "take.txt"])
def test_an_unwritable_out_name_is_refused_before_any_work(tmp_path, monkeypatch, name):
    rate = 8000
    src = tmp_path / "take.wav"
    sf.write(str(src), melody(1, rate), rate, subtype="PCM_24")

    def no_work(*_args, **_kwargs):
        raise AssertionError("processing started")

    monkeypatch.setattr(stream, "diagnose_file", no_work)
    monkeypatch.setattr(stream, "_learn", no_work)
    out = tmp_path / name
    result = _run("auto", str(src), "--out", str(out))
    assert result.exit_code == 2
    assert str(out) in result.output and ".wav" in result.output and ".flac" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.wav"]


def test_a_format_that_cannot_take_the_stream_is_named(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile writes no MP3")
    rate = 96000  # MPEG audio stops at 48 kHz
    src = tmp_path / "take.wav"
    sf.write(str(src), melody(1, rate), rate, subtype="PCM_24")
    out = tmp_path / "take.mp3"
    result = _run("declick", str(src), "--out", str(out))
    assert result.exit_code == 2
    assert str(out) in result.output and "96000 Hz" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.wav"]


# --- 3. the merged report agrees with the audio -------------------------------------------


def test_merged_breath_report_lists_every_chunk_in_file_seconds(tmp_path, monkeypatch):
    parts = [sf.read(str(require_path(f"{LIBRIVOX}/sense_and_sensibility_01_austen_64kb-"
                                      f"{n}.wav")))[0] for n in ("0870", "0890", "0920")]
    rate = 16000
    breathy, _, spans = add_breaths(np.concatenate(parts), rate, count=6, level_db=-18.0,
                                    seed=3)
    src = tmp_path / "vox.wav"
    sf.write(str(src), breathy, rate, subtype="FLOAT")
    breathy, _ = sf.read(str(src))
    monkeypatch.setattr(stream, "CHUNK_S", 5.0)
    monkeypatch.setattr(stream, "OVERLAP_S", 0.5)
    out = tmp_path / "vox.out.wav"
    reports, _ = stream.process_file(src, out, "debreath")
    y, _ = sf.read(str(out))
    report = reports[0]
    times = report.figures["times_s"]
    assert report.figures["breaths"] == len(times) >= 3
    assert report.found.startswith(f"{len(times)} breath") and "chunk" not in report.found
    assert report.applied
    # Every sample that moved lies in a reported breath (file seconds).
    covered = np.zeros(len(y), bool)
    for a, b in times:
        covered[int(a * rate) - 2 : int(b * rate) + 2] = True
    moved = np.abs(y - breathy) > 1e-6
    assert moved.any() and not np.any(moved & ~covered)
    # ... and every reported breath was lowered in the file, some past the first chunk.
    for a, b in times:
        inside = slice(int(a * rate), int(b * rate))
        assert np.sum(y[inside] ** 2) < 0.5 * np.sum(breathy[inside] ** 2)
    assert max(a for a, _ in times) > 5.0
    assert any(a <= (s + e) / 2 / rate <= b for a, b in times for s, e in spans)
    chunks = report.figures["chunks"]
    assert chunks[0]["start_s"] == 0.0
    assert chunks[-1]["end_s"] == pytest.approx(len(y) / rate, abs=1e-3)
    assert sum(c["breaths"] for c in chunks) == len(times)
    # The level of change matches the audio written.
    written_db = 10 * np.log10(np.sum((y - breathy) ** 2) / np.sum(breathy**2))
    assert report.changed_db == pytest.approx(written_db, abs=0.5)


def test_merged_report_of_a_process_that_found_nothing_anywhere(tmp_path, monkeypatch):
    rate = 8000
    src = tmp_path / "tune.wav"
    sf.write(str(src), melody(12, rate), rate, subtype="FLOAT")
    monkeypatch.setattr(stream, "CHUNK_S", 4.0)
    reports, _ = stream.process_file(src, tmp_path / "out.wav", "debreath")
    assert not reports[0].applied and reports[0].found == "no breaths found"
    assert reports[0].figures["times_s"] == [] and len(reports[0].figures["chunks"]) == 3


# --- 4. SIGTERM cleans up -----------------------------------------------------------------


def test_sigterm_leaves_no_partial_file(tmp_path):
    rate = 44100
    x, _ = _speech()
    take = np.tile(x, 12)[: 80 * 16000]
    take = np.repeat(take, 3)[: 80 * rate]  # 80 s at 44.1 kHz: seconds of work
    take = add_noise(np.stack([take, take[::-1]], axis=1), 10.0, seed=2)
    src = tmp_path / "long.wav"
    sf.write(str(src), take, rate, subtype="FLOAT")
    out = tmp_path / "long.out.wav"
    partial = tmp_path / "long.out.wav.partial"
    exe = Path(sys.executable).with_name("studio-bridge")
    proc = subprocess.Popen([str(exe), "restore", "denoise", str(src), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert partial.exists(), "the run ended before it could be stopped"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not partial.exists() and not out.exists()
    assert b"Traceback" not in err


# --- 5. errors: --overwrite named, JSON on stdout with --json -----------------------------


def test_existing_out_names_overwrite_and_json_errors(tmp_path):
    rate = 8000
    src = tmp_path / "take.wav"
    sf.write(str(src), melody(1, rate), rate)
    out = tmp_path / "taken.wav"
    out.write_bytes(b"keep me")
    result = _run("declick", str(src), "--out", str(out))
    assert result.exit_code == 2 and "--overwrite" in result.output
    result = _run("declick", str(src), "--out", str(out), "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["file"] == str(src) and "exists" in data["error"] and str(out) in data["error"]
    assert out.read_bytes() == b"keep me"
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    result = _run("dehum", str(bad), "--out", str(tmp_path / "o.wav"), "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["file"] == str(bad) and "bad.wav" in data["error"]
    result = _run("declick", str(src), "--out", str(out), "--overwrite", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["written"]["path"] == str(out)


def test_merged_hum_report_gives_file_seconds(tmp_path, monkeypatch):
    import re

    from bridge.restore.corrupt import add_hum

    rate = 8000
    x = 0.05 * np.random.default_rng(5).standard_normal(40 * rate)
    x[22 * rate:] = add_hum(x[22 * rate:], rate, 50.0, hum_db=-6.0, drift_hz=0.02, seed=2)
    src = tmp_path / "late_hum.wav"
    sf.write(str(src), x, rate, subtype="FLOAT")
    x, _ = sf.read(str(src))
    monkeypatch.setattr(stream, "CHUNK_S", 10.0)
    reports, _ = stream.process_file(src, tmp_path / "out.wav", "dehum")
    y, _ = sf.read(str(tmp_path / "out.wav"))
    report = reports[0]
    assert report.applied and [c["applied"] for c in report.figures["chunks"]][:2] == [0, 0]
    # Where the hum is: its regions when a chunk found some, else the chunks that hummed.
    where = [tuple(map(float, m)) for m in re.findall(r"([\d.]+)-([\d.]+) s", report.found)]
    assert where and 19.0 <= where[0][0] < 24.0 and where[-1][1] == pytest.approx(40.0)
    for a, b in report.figures.get("hum_regions_s", []):
        assert 19.0 <= a < b <= 40.0
    texts = [c["found"] for c in report.figures["chunks"]]
    spans = [tuple(map(float, m)) for t in texts for m in re.findall(r"([\d.]+)-([\d.]+) s", t)]
    assert all(19.0 <= a < b <= 40.0 for a, b in spans)
    assert np.array_equal(y[: 19 * rate], x[: 19 * rate])
    assert report.figures["harmonics_removed"] == max(
        int(re.search(r"(\d+) harmonics", c["found"])[1])
        for c in report.figures["chunks"] if c["applied"])


def test_a_wav_past_4_gib_is_written_as_rf64():
    big = stream.output_format(Path("long.wav"), "PCM_24", 600_000_000, 2)  # 4.8 GB of float
    assert (big.format, big.subtype) == ("RF64", "FLOAT") and "4 GiB" in big.note
    small = stream.output_format(Path("long.wav"), "PCM_24", 60_000_000, 2)
    assert (small.format, small.note) == ("WAV", "")


BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 24,
        "DOUBLE": 53, "ALAC_16": 16, "ALAC_24": 24, "ALAC_32": 32, "ULAW": 14, "ALAW": 13}


@settings(max_examples=60, deadline=None)
@given(source=st.sampled_from(sorted(BITS)), ext=st.sampled_from(stream.writable_extensions()))
def test_output_never_has_fewer_bits_than_the_source(source, ext):
    chosen = stream.output_format(Path(f"out{ext}"), source, 48000, 2)
    assert sf.check_format(chosen.format, chosen.subtype)
    if chosen.format in ("OGG", "MP3"):
        return  # lossy: no bit depth to keep
    kept = BITS[chosen.subtype]
    assert kept >= BITS[source] or (chosen.format == "FLAC" and kept == 24)
    assert chosen.holds_over_full_scale == (chosen.subtype in ("FLOAT", "DOUBLE"))
