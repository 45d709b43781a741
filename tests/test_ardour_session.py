"""Reading and writing .ardour session files, checked against sessions real Ardour wrote."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _support import require_program
from ardour_fixtures import make_ardour_session  # noqa: F401
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.plan import Plan, RenameTrack, SetColor, SetEqBand, SetMute, SetPan, SetVolume
from bridge.session.ardour import (
    ArdourSessionError,
    _Clock,
    apply_plan_to_file,
    is_ardour_project,
    load_session,
    parse_xml,
    to_bytes,
)
from bridge.session.project_file import ProjectChangedError


@pytest.fixture(scope="module")
def session_file(make_ardour_session):  # noqa: F811
    return make_ardour_session("filed")


def test_time_values_of_every_ardour_version():
    clock = _Clock(48000, 120.0)
    assert clock.seconds("a282240000") == 1.0
    assert clock.seconds("a282240000@a564480000") == 1.0
    assert clock.seconds("b1920") == pytest.approx(0.5)  # one quarter at 120 bpm
    assert clock.seconds("96000") == 2.0  # Ardour 6 and older: samples
    region = ET.fromstring('<Region length="a141120000@a564480000" start="a0"/>')
    assert clock.position(region) == 2.0
    with pytest.raises(ArdourSessionError, match="unreadable time value"):
        clock.seconds("a12x")


def test_reads_tracks_regions_and_plugins(session_file):
    s = load_session(session_file.parent)  # the folder works as well as the file
    assert s.daw == "ardour" and s.sample_rate == 48000
    assert [t.name for t in s.tracks] == ["Audio 1", "Audio 2", "Audio 3"]
    assert [round(t.volume_db, 3) for t in s.tracks] == [6.0, -14.0, 0.0]
    assert s.tracks[0].fx_names == ["ACE EQ"] and s.tracks[1].fx_names == []
    assert all(t.guid.isdigit() for t in s.tracks)
    for t in s.tracks:
        (item,) = t.items
        assert item.position_s == 0.0 and item.length_s == pytest.approx(3.0)
        assert item.source.exists and item.source.path.parent.name == "audiofiles"
        assert item.fade_in_s == pytest.approx(64 / 48000)
        assert t.channels == 1 and t.pan == 0.0 and not t.mute


def test_recognises_ardour_projects(session_file, tmp_path):
    assert is_ardour_project(session_file) and is_ardour_project(session_file.parent)
    fake = tmp_path / "x.ardour"
    fake.write_text("<REAPER_PROJECT>")
    assert not is_ardour_project(fake)
    assert not is_ardour_project(tmp_path / "missing.ardour")
    assert not is_ardour_project(tmp_path)


def test_bad_files_name_file_and_line(tmp_path):
    broken = tmp_path / "broken.ardour"
    broken.write_text('<?xml version="1.0"?>\n<Session name="x">\n  <Routes>\n</Session>\n')
    with pytest.raises(ArdourSessionError, match=r"broken\.ardour:4:"):
        load_session(broken)
    other = tmp_path / "other.ardour"
    other.write_text("<Project/>")
    with pytest.raises(ArdourSessionError, match="not <Session>"):
        load_session(other)


def test_untouched_ardour_file_serialises_byte_for_byte(make_ardour_session):  # noqa: F811
    # a session Ardour itself saved (the host loads and re-saves in Ardour's own form)
    from bridge.daw.ardour import ArdourOsc
    from bridge.daw.ardour_runtime import ArdourHost

    f = make_ardour_session("resaved")
    with ArdourHost(f) as host, ArdourOsc(port=host.osc_port) as daw:
        before = f.stat().st_mtime_ns
        daw.save()
        import time

        deadline = time.monotonic() + 10
        while f.stat().st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    data = f.read_bytes()
    assert to_bytes(parse_xml(data)) == data


def test_plan_written_to_file_with_backup_and_conflict_check(make_ardour_session):  # noqa: F811
    f = make_ardour_session("written")
    s = load_session(f)
    a, b, c = s.tracks
    plan = Plan([
        RenameTrack(track=a.guid, name="Kick Mic"),
        SetVolume(track=b.guid, volume_db=-6.5),
        SetPan(track=c.guid, pan=0.25),
        SetMute(track=c.guid, mute=True),
        SetColor(track=a.guid, color="#12AB34"),
        SetEqBand(track=a.guid, band=2, band_type="band", freq_hz=3150.0, gain_db=-4.0, q=1.4),
        SetEqBand(track=b.guid, band=0, band_type="band", freq_hz=500.0, gain_db=3.0),
        SetEqBand(track=c.guid, band=0, band_type="high_pass", freq_hz=80.0),
        RenameTrack(track=b.guid, name="Kick Mic"),  # duplicate name: refused
        SetVolume(track="424242", volume_db=0.0),
    ])
    original = f.read_bytes()
    result = apply_plan_to_file(f, plan)
    assert len(result.applied) == 6
    reasons = [r for _, r in result.skipped]
    assert "no ACE EQ" in reasons[0] and "apply it live" in reasons[1]
    assert "already called" in reasons[2] and "424242" in reasons[3]
    assert result.backup is not None and result.backup.read_bytes() == original

    after = load_session(f)
    ta, tb, tc = after.tracks
    assert ta.name == "Kick Mic" and ta.color == "#12AB34"
    assert tb.volume_db == pytest.approx(-6.5, abs=1e-9)
    assert tc.pan == pytest.approx(0.25) and tc.mute
    text = f.read_text()
    assert 'Connection other="Kick Mic/audio_out 1"' in text
    assert "Audio 1/" not in text
    assert 'symbol="freq3" value="3150"' in text and 'symbol="g3" value="-4"' in text

    # the file changed behind our back: nothing is written
    data = f.read_bytes()
    f.write_bytes(data.replace(b"Kick Mic", b"Kick Mic 2"))
    import bridge.session.ardour as mod

    real_read = mod.read_with_fingerprint

    def read_then_edit(path):
        out = real_read(path)
        Path(path).write_bytes(Path(path).read_bytes() + b"\n")
        return out

    mod.read_with_fingerprint = read_then_edit
    try:
        with pytest.raises(ProjectChangedError):
            apply_plan_to_file(f, Plan([SetVolume(track=a.guid, volume_db=-1.0)]))
    finally:
        mod.read_with_fingerprint = real_read

    # a copy elsewhere leaves the original alone
    out = f.with_name("copy.ardour")
    before = f.read_bytes()
    apply_plan_to_file(f, Plan([SetVolume(track=a.guid, volume_db=-2.0)]), out=out)
    assert f.read_bytes() == before
    assert load_session(out).tracks[0].volume_db == pytest.approx(-2.0)


def test_file_written_plan_loads_in_ardour(make_ardour_session):  # noqa: F811
    from bridge.daw.ardour import ArdourOsc
    from bridge.daw.ardour_runtime import ArdourHost

    f = make_ardour_session("reopened")
    s = load_session(f)
    apply_plan_to_file(f, Plan([RenameTrack(track=s.tracks[1].guid, name="Pad (wide)"),
                                SetVolume(track=s.tracks[1].guid, volume_db=-9.0),
                                SetMute(track=s.tracks[2].guid, mute=True)]))
    with ArdourHost(f) as host, ArdourOsc(port=host.osc_port) as daw:
        strips = daw.strips()
        assert [x.name for x in strips] == ["Audio 1", "Pad (wide)", "Audio 3"]
        assert [x.mute for x in strips] == [False, False, True]
        assert daw.gain_db(2) == pytest.approx(-9.0, abs=0.1)


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=40))
def test_lua_string_literals_survive_real_lua(text):
    from bridge.daw.ardour_runtime import lua_string

    lua = require_program("lua5.4")
    out = subprocess.run([lua, "-e", f"io.write({lua_string(text)})"], capture_output=True,
                         check=True)
    assert out.stdout == text.encode("utf-8")
