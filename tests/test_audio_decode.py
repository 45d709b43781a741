"""Files libsndfile cannot read (AAC in .m4a, the sound of an .mp4) go through the real ffmpeg:
the reader streams them, the renderer decodes a cached copy, bad files name themselves."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _support import require_program

from bridge.audio import decode
from bridge.audio.reader import AudioError, open_audio, read_audio
from bridge.audio.render import render_stems
from bridge.session.rpp_session import load_session

RATE = 48000


@pytest.fixture(scope="module", autouse=True)
def _ffmpeg() -> None:
    require_program("ffmpeg")
    require_program("ffprobe")


def _ffmpeg_run(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("decode")
    t = np.arange(RATE * 3) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(folder / "tone.wav", np.stack([tone, 0.5 * tone], axis=1), RATE, subtype="FLOAT")
    _ffmpeg_run("-i", str(folder / "tone.wav"), "-c:a", "aac", "-b:a", "192k",
                str(folder / "tone.m4a"))
    _ffmpeg_run("-f", "lavfi", "-i", "testsrc=duration=2:size=64x64:rate=10",
                "-i", str(folder / "tone.wav"), "-shortest", "-c:v", "mpeg4", "-c:a", "aac",
                str(folder / "clip.mp4"))
    _ffmpeg_run("-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=10", "-c:v", "mpeg4",
                str(folder / "picture_only.mp4"))
    (folder / "garbage.m4a").write_bytes(b"not audio at all " * 64)
    return {p.name: p for p in folder.iterdir()}


def test_reader_streams_aac_through_ffmpeg(files):
    with open_audio(files["tone.m4a"]) as stream:
        assert stream.info.sample_rate == RATE and stream.info.channels == 2
        assert stream.info.format == "FFMPEG:aac"
        blocks = list(stream.blocks(block_frames=10000))
    assert all(b.dtype == np.float32 and b.shape[1] == 2 for b in blocks)
    assert all(len(b) == 10000 for b in blocks[:-1])
    samples = np.concatenate(blocks)
    # AAC keeps the length to within a frame of priming and the level to a fraction of a dB
    assert abs(len(samples) - 3 * RATE) <= 2048
    middle = samples[RATE // 2: -RATE // 2]
    rms_db = 20 * np.log10(np.sqrt(np.mean(middle**2, axis=0)))
    expected_db = 20 * np.log10(np.array([0.5, 0.25]) / np.sqrt(2))
    assert np.abs(rms_db - expected_db).max() < 0.3
    spectrum = np.abs(np.fft.rfft(middle[:, 0]))
    assert abs(np.argmax(spectrum) * RATE / len(middle) - 440) < 2


def test_files_without_sound_or_garbage_name_themselves(files):
    with pytest.raises(AudioError, match="picture_only.mp4.*no audio stream"):
        open_audio(files["picture_only.mp4"])
    with pytest.raises(AudioError, match="garbage.m4a.*ffprobe"):
        read_audio(files["garbage.m4a"])


def test_stopping_early_ends_the_decoder(files):
    info = decode.probe(files["tone.m4a"])
    assert info is not None
    blocks = decode.decode_blocks(files["tone.m4a"], info, block_frames=1024)
    first = next(blocks)
    assert first.shape == (1024, 2)
    blocks.close()  # kills and reaps ffmpeg; a leak would show as a ResourceWarning or zombie
    out = subprocess.run(["ps", "-o", "stat=,args=", "--ppid", str(os.getpid())],
                         capture_output=True, text=True).stdout
    assert "ffmpeg" not in out


def test_decoded_copy_is_made_once(files, tmp_path):
    first = decode.decoded_wav(files["tone.m4a"], tmp_path)
    stamp = first.stat().st_mtime_ns
    again = decode.decoded_wav(files["tone.m4a"], tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert sf.info(str(first)).samplerate == RATE
    assert not list(tmp_path.glob("*.partial"))


def test_render_plays_m4a_and_the_sound_of_video_items(files, tmp_path):
    for name in ("tone.m4a", "clip.mp4", "picture_only.mp4"):
        (tmp_path / name).write_bytes(files[name].read_bytes())

    def track(guid: str, kind: str, file: str) -> str:
        return f"""  <TRACK {{{guid}}}
    NAME "{guid}"
    <ITEM
      POSITION 0.5
      LENGTH 1.5
      <SOURCE {kind}
        FILE "{file}"
      >
    >
  >
"""

    text = (f'<REAPER_PROJECT 0.1 "7.0" 1\n  SAMPLERATE {RATE} 1 0\n'
            + track("A", "WAVE", "tone.m4a") + track("B", "VIDEO", "clip.mp4")
            + track("C", "VIDEO", "picture_only.mp4") + ">\n")
    (tmp_path / "s.RPP").write_text(text)
    report = render_stems(load_session(tmp_path / "s.RPP"), tmp_path / "out")
    # the picture-only clip plays nothing: the track is reported like any track without sound
    assert report.problems == {"{C}": "no audio items"}
    for guid in ("{A}", "{B}"):
        stem, rate = sf.read(report.stems[guid], always_2d=True)
        assert rate == RATE
        assert np.abs(stem[: RATE // 2 - 100]).max() == 0.0  # the item starts at 0.5 s
        playing = stem[RATE: RATE * 3 // 2, 0]
        assert abs(np.sqrt(np.mean(playing**2)) - 0.5 / np.sqrt(2)) < 0.02
    assert "{C}" not in report.stems


def test_restore_takes_an_m4a_and_writes_a_new_wav(files, tmp_path):
    from bridge.restore.stream import RestoreError, process_file

    source = tmp_path / "take.m4a"
    source.write_bytes(files["tone.m4a"].read_bytes())
    before = source.read_bytes()
    reports, _ = process_file(source, tmp_path / "take.denoised.wav", "denoise")
    assert reports and reports[0].process == "denoise"
    out, rate = sf.read(tmp_path / "take.denoised.wav", always_2d=True)
    assert rate == RATE and out.shape[1] == 2 and abs(len(out) - 3 * RATE) <= 2048
    assert source.read_bytes() == before
    with pytest.raises(RestoreError, match=r"take.again.m4a: write the result .* as .wav"):
        process_file(source, tmp_path / "take.again.m4a", "denoise")
    with pytest.raises(RestoreError, match="garbage.m4a: cannot read audio"):
        process_file(files["garbage.m4a"], tmp_path / "g.wav", "auto")


def test_the_labeller_reads_an_m4a(files):
    from bridge.assist.labeller import LabelError, label_file

    result = label_file(files["tone.m4a"])
    assert result.figures["duration_s"] == pytest.approx(3.0, abs=0.05)
    with pytest.raises(LabelError, match="garbage.m4a: cannot read audio"):
        label_file(files["garbage.m4a"])
