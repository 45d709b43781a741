"""The SQLite measurement cache: content-keyed, versioned, and safe under two processes."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.analysis import measure as measure_module
from bridge.analysis.cache import (
    CACHE_FILE,
    AnalysisCache,
    CacheKey,
    content_hash,
    default_cache_dir,
)
from bridge.analysis.measure import measure, measure_file


def _write(path: Path, seed: int, seconds: float = 2.0) -> Path:
    x = np.random.default_rng(seed).standard_normal((int(48000 * seconds), 2)) * 0.1
    sf.write(path, x, 48000, subtype="PCM_24")
    return path


def test_second_measurement_comes_from_the_cache(tmp_path: Path, monkeypatch) -> None:
    audio = _write(tmp_path / "a.wav", 1)
    calls = []
    original = measure_module.StemMeter.result

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(measure_module.StemMeter, "result", counting)
    with AnalysisCache(tmp_path / "cache") as cache:
        first = measure_file(audio, cache=cache)
        second = measure_file(audio, cache=cache)
        assert len(calls) == 1
        assert cache.hits == 1
        assert second.integrated_lufs == pytest.approx(first.integrated_lufs)
        assert second.third_octave_levels_db == pytest.approx(first.third_octave_levels_db)
        # a copy under another name has the same content: still a hit
        copy = tmp_path / "copy.wav"
        copy.write_bytes(audio.read_bytes())
        third = measure_file(copy, cache=cache)
        assert len(calls) == 1 and third.file == str(copy)
        # changed content: measured again
        _write(audio, 2)
        measure_file(audio, cache=cache)
        assert len(calls) == 2


def test_silent_result_round_trips(tmp_path: Path) -> None:
    silent = measure(np.zeros((48000, 2)), 48000)
    with AnalysisCache(tmp_path) as cache:
        cache.put(CacheKey("abc"), silent)
        back = cache.get(CacheKey("abc"))
    assert back is not None
    assert back.integrated_lufs == float("-inf")
    assert back.to_dict() == {**silent.to_dict(), "file": None}


def test_other_analysis_version_is_a_miss(tmp_path: Path) -> None:
    audio = _write(tmp_path / "a.wav", 3)
    with AnalysisCache(tmp_path / "c") as cache:
        measure_file(audio, cache=cache)
        assert len(cache) == 1
    with AnalysisCache(tmp_path / "c", version="999") as newer:
        assert newer.get(newer.key_for(audio)) is None


def test_file_is_not_rehashed_when_untouched(tmp_path: Path, monkeypatch) -> None:
    audio = _write(tmp_path / "a.wav", 4)
    hashed = []
    from bridge.analysis import cache as cache_module

    original = cache_module.content_hash
    monkeypatch.setattr(cache_module, "content_hash", lambda p: hashed.append(p) or original(p))
    with AnalysisCache(tmp_path / "c") as cache:
        k1 = cache.key_for(audio)
        k2 = cache.key_for(audio)
        assert k1 == k2 and len(hashed) == 1
        os.utime(audio, ns=(1, 1))
        assert cache.key_for(audio) == k1 and len(hashed) == 2


def test_content_changed_with_mtime_put_back_is_rehashed(tmp_path: Path) -> None:
    """Same size, mtime restored (as rsync -t or cp -p leave it): the change time still moves."""
    audio = _write(tmp_path / "a.wav", 4)
    with AnalysisCache(tmp_path / "c") as cache:
        before = cache.key_for(audio)
        st = audio.stat()
        data = bytearray(audio.read_bytes())
        data[-1] ^= 0xFF
        time.sleep(0.01)
        audio.write_bytes(bytes(data))
        os.utime(audio, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert audio.stat().st_size == st.st_size and audio.stat().st_mtime_ns == st.st_mtime_ns
        after = cache.key_for(audio)
        assert after != before and after.content_hash == content_hash(audio)


def test_cache_made_before_ctime_was_kept_is_upgraded(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    old = sqlite3.connect(folder / CACHE_FILE)
    old.executescript(
        "CREATE TABLE file_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
        "mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, content_hash TEXT NOT NULL);")
    audio = _write(tmp_path / "a.wav", 2)
    st = audio.stat()
    old.execute("INSERT INTO file_hashes VALUES (?, ?, ?, ?, 'stale')",
                (str(audio.resolve()), st.st_size, st.st_mtime_ns, st.st_ino))
    old.commit()
    old.close()
    with AnalysisCache(folder) as cache:
        assert cache.key_for(audio).content_hash == content_hash(audio)


def test_corrupt_row_is_a_miss(tmp_path: Path) -> None:
    with AnalysisCache(tmp_path) as cache:
        cache._db.execute("INSERT INTO measurements VALUES ('x', ?, 0, '{not json')",
                          (cache.version,))
        assert cache.get(CacheKey("x")) is None


def test_cache_folder_from_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_BRIDGE_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("STUDIO_BRIDGE_CACHE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "studio-bridge"


def _worker(folder: str, audio: list[str], rounds: int, queue) -> None:
    try:
        with AnalysisCache(folder) as cache:
            for r in range(rounds):
                for i, path in enumerate(audio):
                    key = CacheKey(f"k{(i + r) % 7}")
                    got = cache.get(key)
                    if got is None or r % 3 == 0:
                        cache.put(key, measure_file(path))
                    cache.key_for(path)
        queue.put("ok")
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(repr(exc))


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    audio = [str(_write(tmp_path / f"s{i}.wav", i, seconds=0.5)) for i in range(4)]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "shared"), audio, 6, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert results == ["ok", "ok"]
    db = sqlite3.connect(tmp_path / "shared" / "analysis-cache.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 7
    assert db.execute("SELECT COUNT(*) FROM file_hashes").fetchone()[0] == 4
