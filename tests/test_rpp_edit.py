"""Edits through the document change only the lines they must, with REAPER's quoting."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from _support import shared_dir

from bridge.daw.rpp_file import apply_plan
from bridge.plan import AddTake, Plan, RenameTrack, SetColor, SetEqBand, SetMute, SetPan, SetVolume
from bridge.session import rpp
from bridge.session.rpp_session import session_from_document


def changed_lines(before: bytes, after: bytes) -> list[str]:
    a = before.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    b = after.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    return [line for line in difflib.ndiff(a, b) if line[:1] in "+-"]


@pytest.mark.parametrize("value, written", [
    ("Kick", "Kick"),
    ("Lead Vox", '"Lead Vox"'),
    ("", '""'),
    ('say "hi"', "'say \"hi\"'"),
    ("it's \"x\"", "`it's \"x\"`"),
    ("a`b'c\"d e", "`a'b'c\"d e`"),
    ("'quoted", "\"'quoted\""),
    ("Gitarre Über", '"Gitarre Über"'),
])
def test_quote_follows_reaper_rules(value: str, written: str):
    assert rpp.quote(value) == written
    if "`" not in value or "'" not in value or '"' not in value:
        assert rpp.tokenize(f"NAME {written}") == ["NAME", value]


@pytest.mark.parametrize("value, text", [(1.0, "1"), (0.5, "0.5"), (-0.25, "-0.25"),
                                         (0.70794578438414, "0.70794578438414"), (3, "3"),
                                         (-0.0, "0"), (True, "1")])
def test_numbers_are_written_like_reaper(value, text):
    assert rpp.format_number(value) == text


def corpus_with_tracks() -> list[Path]:
    folder = shared_dir() / "rpp_corpus"
    return [p for p in sorted(folder.iterdir())
            if p.suffix.lower() == ".rpp" and not p.name.startswith("40_")]


def test_rename_changes_exactly_one_line_in_every_corpus_project():
    for path in corpus_with_tracks():
        data = path.read_bytes()
        doc = rpp.parse(data)
        tracks = doc.tracks
        if not tracks:
            continue
        session = session_from_document(doc, path)
        guid = session.tracks[0].guid
        result = apply_plan(doc, Plan([RenameTrack(track=guid, name="Lead Vox")]), path.parent)
        assert len(result.applied) == 1, path.name
        diff = changed_lines(data, doc.to_bytes())
        old_name = session.tracks[0].name
        assert len([d for d in diff if d.startswith("+ ")]) == 1, (path.name, diff)
        added = next(d for d in diff if d.startswith("+ "))
        assert added.strip("+ \r\n").endswith('NAME "Lead Vox"'), added
        if tracks[0].get("NAME") is not None:
            removed = [d for d in diff if d.startswith("- ")]
            assert len(removed) == 1 and old_name in removed[0]
        # line endings of the file are kept: CRLF stays CRLF
        if b"\r\n" in data:
            assert b'NAME "Lead Vox"\r\n' in doc.to_bytes()


SIMPLE = (
    b'<REAPER_PROJECT 0.1 "7.27/linux-x86_64" 1\r\n'
    b"  <TRACK {AAA}\r\n"
    b'    NAME "Audio 1"\r\n'
    b"    PEAKCOL 16576\r\n"
    b"    VOLPAN 1 0 -1 -1 1\r\n"
    b"    MUTESOLO 0 0 0\r\n"
    b"    <ITEM\r\n"
    b"      POSITION 0\r\n"
    b"      LENGTH 2\r\n"
    b"      NAME a.wav\r\n"
    b"      VOLPAN 1 0 1 -1\r\n"
    b"      SOFFS 0.5\r\n"
    b"      <SOURCE WAVE\r\n"
    b'        FILE "a.wav"\r\n'
    b"      >\r\n"
    b"    >\r\n"
    b"  >\r\n"
    b"  <TRACK {BBB}\r\n"
    b"    NAME Bass\r\n"
    b"  >\r\n"
    b">\r\n"
)


def test_volume_pan_colour_mute_touch_only_their_lines():
    doc = rpp.parse(SIMPLE)
    plan = Plan([
        SetVolume(track="{AAA}", volume_db=-6.0),
        SetPan(track="{AAA}", pan=-0.5),
        SetColor(track="{AAA}", color="#FF8000"),
        SetMute(track="{AAA}", mute=True),
    ])
    result = apply_plan(doc, plan, Path("."))
    assert len(result.applied) == 4 and not result.skipped
    out = doc.to_bytes()
    diff = changed_lines(SIMPLE, out)
    assert sorted(" ".join(d.split()) for d in diff) == sorted([
        "- PEAKCOL 16576", "+ PEAKCOL 16810239",
        "- VOLPAN 1 0 -1 -1 1", "+ VOLPAN 0.50118723362727 -0.5 -1 -1 1",
        "- MUTESOLO 0 0 0", "+ MUTESOLO 1 0 0",
    ])
    session = session_from_document(rpp.parse(out), Path("x.rpp"))
    track = session.track("{AAA}")
    assert track.volume_db == pytest.approx(-6.0, abs=1e-9)
    assert track.pan == -0.5 and track.mute and track.color == "#FF8000"
    assert session.track("{BBB}").name == "Bass"  # other tracks untouched


def test_missing_lines_are_added_with_sibling_indent_and_file_line_endings():
    doc = rpp.parse(SIMPLE)
    apply_plan(doc, Plan([SetVolume(track="{BBB}", volume_db=0.0),
                          SetColor(track="{BBB}", color="#0000FF")]), Path("."))
    out = doc.to_bytes()
    assert b"    NAME Bass\r\n    PEAKCOL 33488896\r\n    VOLPAN 1 0 -1 -1 1\r\n" in out


def test_add_take_keeps_original_and_selects_new_take():
    doc = rpp.parse(SIMPLE)
    edit = AddTake(track="{AAA}", item=0, file="a-clean.wav", take_name="a (cleaned)")
    result = apply_plan(doc, Plan([edit]), Path("."))
    assert result.applied == [edit]
    out = doc.to_bytes()
    assert out.startswith(SIMPLE[: SIMPLE.index(b"      <SOURCE")])  # old take untouched
    session = session_from_document(rpp.parse(out), Path("/p/x.rpp"))
    item = session.track("{AAA}").items[0]
    assert item.take_count == 2
    assert item.source is not None and item.source.file == "a-clean.wav"
    assert item.source_offset_s == 0.5  # the new file covers the whole source
    assert item.name == "a (cleaned)"


def test_unsupported_and_unknown_edits_are_reported_not_dropped():
    doc = rpp.parse(SIMPLE)
    plan = Plan([SetEqBand(track="{AAA}", band=0, band_type="high_pass", freq_hz=80, q=0.7),
                 RenameTrack(track="{ZZZ}", name="x")])
    result = apply_plan(doc, plan, Path("."))
    assert not result.applied
    reasons = [r for _, r in result.skipped]
    assert "Apply pending plan" in reasons[0] and "no track {ZZZ}" in reasons[1]
    assert doc.to_bytes() == SIMPLE
