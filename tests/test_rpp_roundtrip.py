"""The RPP document gives back the exact bytes of every real project; bad ones fail loudly."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from _support import shared_dir, shared_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.session import rpp

TRUNCATED = "40_"


def _listed() -> list[Path]:
    folder = shared_path() / "rpp_corpus"
    if not folder.is_dir():
        return []  # test_corpus_is_present fails in CI (skips locally)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".rpp")


def corpus_files() -> list[Path]:
    files = sorted(p for p in (shared_dir() / "rpp_corpus").iterdir()
                   if p.suffix.lower() == ".rpp")
    assert len(files) >= 10, "expected the RPP corpus in shared/rpp_corpus"
    return files


def test_corpus_is_present():
    assert any(p.name.startswith(TRUNCATED) for p in corpus_files())


@pytest.mark.parametrize("path", _listed(), ids=lambda p: p.name[:24])
def test_round_trip_is_byte_identical(path: Path):
    data = path.read_bytes()
    if path.name.startswith(TRUNCATED):
        with pytest.raises(rpp.RppParseError):
            rpp.parse(data)
        return
    doc = rpp.parse(data)
    assert doc.to_bytes() == data
    assert doc.root.tag == "REAPER_PROJECT"


def test_truncated_project_names_line_and_chunk():
    path = next(p for p in corpus_files() if p.name.startswith(TRUNCATED))
    with pytest.raises(rpp.RppParseError) as info:
        rpp.read(path)
    err = info.value
    total_lines = path.read_bytes().count(b"\n") + 1
    assert err.chunk == "SOURCE"
    assert err.line is not None and 1 < err.line <= total_lines
    assert path.name in str(err) and f"line {err.line}" in str(err)
    assert "<TRACK>" in str(err) and "truncated" in str(err)


def test_truncated_project_loads_only_when_asked_and_warns():
    path = next(p for p in corpus_files() if p.name.startswith(TRUNCATED))
    data = path.read_bytes()
    with pytest.warns(UserWarning, match="still open"):
        doc = rpp.parse(data, recover=True)
    assert doc.warnings and "truncated" in doc.warnings[0]
    assert doc.to_bytes() == data  # nothing invented, nothing lost
    assert len(doc.tracks) > 0


@pytest.mark.parametrize("data", [
    b"<REAPER_PROJECT 0.1\r\n  <TRACK\r\n    NAME x\r\n  >\r\n>",          # CRLF, no final EOL
    b"garbage before\n<REAPER_PROJECT 0.1\n>\n",                         # text before header
    b'<REAPER_PROJECT 0.1\n  NAME `it\'s "x"`   \n>\n\n',                # backticks, trailing
    "<REAPER_PROJECT 0.1\n  NAME \"Gitarre Über\"\n>\n".encode(),        # non-ASCII
    b"<REAPER_PROJECT 0.1\n  NAME \"\xff\xfe bad utf8\"\n>\n",           # undecodable bytes
    b"<REAPER_PROJECT 0.1\n  <NOTES 0 2\n    |line <one>\n    |>\n  >\n>\n",  # notes
    b"<REAPER_PROJECT 0.1\r\n>\n",                                       # mixed endings
])
def test_unusual_but_valid_inputs_round_trip(data: bytes):
    assert rpp.parse(data).to_bytes() == data


@pytest.mark.parametrize("data, line", [
    (b"", None),
    (b"not a project\n", None),
    (b"<REAPER_PROJECT 0.1\n  <TRACK\n>\n", 1),       # the project chunk never closes
    (b"<REAPER_PROJECT 0.1\n>\n>\n", 3),
])
def test_malformed_inputs_raise_parse_error(data: bytes, line: int | None):
    with pytest.raises(rpp.RppParseError) as info:
        rpp.parse(data, source="x.rpp")
    assert info.value.line == line
    assert "x.rpp" in str(info.value)


SMALL = b'<REAPER_PROJECT 0.1 "7.0"\n  <TRACK {A}\n    NAME "Audio 1"\n    VOLPAN 1 0 -1\n  >\n>\n'


def _mutations() -> st.SearchStrategy[bytes]:
    pieces = st.sampled_from([b"<", b">", b"\n", b"\r\n", b" ", b'"', b"'", b"`", b"|", b"\xff",
                              b"<TRACK", b"<ITEM\n", b"  >\n", b"NAME x\n", b"\r"])

    @st.composite
    def mutate(draw) -> bytes:
        data = bytearray(SMALL)
        for _ in range(draw(st.integers(1, 6))):
            pos = draw(st.integers(0, len(data)))
            action = draw(st.sampled_from(["insert", "delete", "replace"]))
            piece = draw(pieces)
            if action == "insert":
                data[pos:pos] = piece
            elif action == "delete":
                del data[pos:pos + draw(st.integers(1, 8))]
            else:
                data[pos:pos + len(piece)] = piece
        return bytes(data)

    return mutate()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), _mutations()))
def test_any_input_round_trips_or_raises_parse_error(data: bytes):
    try:
        doc = rpp.parse(data)
    except rpp.RppParseError:
        return
    assert doc.to_bytes() == data


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_recover_never_loses_bytes(data: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            doc = rpp.parse(b"<REAPER_PROJECT 0.1\n" + data, recover=True)
        except rpp.RppParseError:
            return
    assert doc.to_bytes() == b"<REAPER_PROJECT 0.1\n" + data
