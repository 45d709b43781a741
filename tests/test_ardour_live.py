"""End to end against a real headless Ardour: a Plan applied live over OSC, read back, saved
through OSC, checked in the saved XML, and heard in stems Ardour exports itself."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from ardour_fixtures import SR, band_db, make_ardour_session, rms_db  # noqa: F401

from bridge.plan import Plan, RenameTrack, SetColor, SetEqBand, SetMute, SetPan, SetVolume

pytestmark = pytest.mark.ardour


@pytest.fixture(scope="module")
def live(make_ardour_session):  # noqa: F811
    from bridge.daw.ardour import ArdourOsc
    from bridge.daw.ardour_runtime import ArdourHost
    from bridge.session.ardour import load_session

    session_file = make_ardour_session("live")
    before = load_session(session_file)
    host = ArdourHost(session_file).start()
    try:
        routes = [(t.guid, t.name) for t in before.tracks]
        with ArdourOsc(port=host.osc_port, routes=routes, lua_host=host) as daw:
            yield session_file, before, host, daw
    finally:
        host.stop()
    assert not host.alive


def _plan(before) -> Plan:
    bass, noise, lead = before.tracks
    return Plan([
        RenameTrack(track=bass.guid, track_name=bass.name, name="Bass"),
        RenameTrack(track=noise.guid, track_name=noise.name, name="Noise Bed"),
        RenameTrack(track=lead.guid, track_name=lead.name, name="Lead Synth"),
        SetVolume(track=bass.guid, volume_db=-3.0, reason="bass sat 6 dB hot"),
        SetVolume(track=noise.guid, volume_db=-8.0, reason="bed was buried"),
        SetVolume(track=lead.guid, volume_db=-1.5),
        SetPan(track=lead.guid, pan=-0.6),
        SetColor(track=bass.guid, color="#FF8000"),
        SetMute(track=noise.guid, mute=True),
        SetMute(track=noise.guid, mute=False),
        # ACE EQ already on the bass: shelve the lows down
        SetEqBand(track=bass.guid, band=0, band_type="low_shelf", freq_hz=300.0, gain_db=-9.0),
        # no EQ on the noise bed: the bridge inserts ACE EQ, then boosts 2 kHz
        SetEqBand(track=noise.guid, band=1, band_type="band", freq_hz=2000.0, gain_db=12.0,
                  q=2.0),
        # a high-pass goes to ACE High/Low Pass Filter (inserted too)
        SetEqBand(track=lead.guid, band=0, band_type="high_pass", freq_hz=1000.0, q=0.707),
    ])


@pytest.fixture(scope="module")
def applied(live):
    session_file, before, host, daw = live
    t0 = time.monotonic()
    report = daw.apply(_plan(before))
    assert report.ok, str(report)
    mtime = session_file.stat().st_mtime_ns
    daw.save()
    deadline = time.monotonic() + 10
    while session_file.stat().st_mtime_ns == mtime:
        assert time.monotonic() < deadline, "/save_state did not write the session file"
        time.sleep(0.05)
    time.sleep(0.3)  # let Ardour finish its rename-over
    return report, time.monotonic() - t0


def test_plan_reads_back_live(live, applied):
    _, before, host, daw = live
    report, _ = applied
    assert len(report.applied) == 13
    strips = {s.name: s for s in daw.strips()}
    assert {"Bass", "Noise Bed", "Lead Synth"} <= set(strips)
    assert not strips["Noise Bed"].mute
    assert abs(daw.gain_db(strips["Bass"].ssid) - (-3.0)) < 0.1
    assert abs(daw.gain_db(strips["Noise Bed"].ssid) - (-8.0)) < 0.1
    assert abs(daw.pan(strips["Lead Synth"].ssid) - (-0.6)) < 0.01
    names = [n for _, n in daw.plugins(strips["Noise Bed"].ssid)]
    assert "ACE EQ" in names
    assert "ACE High/Low Pass Filter" in [n for _, n in daw.plugins(strips["Lead Synth"].ssid)]
    params = daw.plugin_params(strips["Noise Bed"].ssid, 1)
    assert params["Frequency 2"].value == pytest.approx(2000.0)
    assert params["Gain 2"].value == pytest.approx(12.0)


def test_saved_session_holds_the_plan(live, applied):
    from bridge.session.ardour import load_session

    session_file, before, _, _ = live
    after = load_session(session_file)
    by_id = {t.guid: t for t in after.tracks}
    bass, noise, lead = (by_id[t.guid] for t in before.tracks)
    assert (bass.name, noise.name, lead.name) == ("Bass", "Noise Bed", "Lead Synth")
    # the file holds the exact fader value
    assert bass.volume_db == pytest.approx(-3.0, abs=0.01)
    assert noise.volume_db == pytest.approx(-8.0, abs=0.01)
    assert lead.volume_db == pytest.approx(-1.5, abs=0.01)
    assert lead.pan == pytest.approx(-0.6, abs=0.01)
    assert bass.color == "#FF8000"
    assert not noise.mute
    assert noise.fx_names == ["ACE EQ"]
    assert "ACE High/Low Pass Filter" in lead.fx_names
    # regions survive the save and still point at the files
    for t in (bass, noise, lead):
        assert len(t.items) == 1 and t.items[0].source.exists
        assert t.items[0].length_s == pytest.approx(3.0, abs=1e-6)
    text = session_file.read_text()
    assert 'symbol="freq2" value="2000"' in text and 'symbol="g2" value="12"' in text


def test_exported_stems_sound_like_the_plan(live, applied, tmp_path):
    from bridge.daw.ardour_runtime import export_stems

    session_file, before, _, _ = live
    ids = [t.guid for t in before.tracks]
    result = export_stems(session_file, tmp_path / "stems", ids)
    assert not result.problems, result.problems
    stems = {rid: sf.read(result.stems[rid], always_2d=True) for rid in ids}
    for rid, (x, sr) in stems.items():
        assert sr == SR and x.shape[1] == 2
        assert x.shape[0] >= int(2.9 * SR), f"{rid}: short stem"
    src = {name: sf.read(Path(p))[0] for name, p in _sources(before).items()}
    bass_x = stems[ids[0]][0].mean(axis=1)
    noise_x = stems[ids[1]][0]
    lead_x = stems[ids[2]][0]

    # levels: a centred mono track reaches each side 3 dB down (Ardour's default pan law)
    noise_ref = src["noise_bed.wav"]
    noise_l = noise_x[: len(noise_ref), 0]
    band_gain = band_db(noise_l, SR, 1800, 2200) - band_db(noise_ref, SR, 1800, 2200)
    flat_gain = band_db(noise_l, SR, 150, 400) - band_db(noise_ref, SR, 150, 400)
    # fader -8 dB, pan law -3 dB: the untouched region of the spectrum shows just that
    assert flat_gain == pytest.approx(-11.0, abs=0.7)
    # the +12 dB peak at 2 kHz is heard
    assert band_gain - flat_gain == pytest.approx(12.0, abs=1.5)

    # bass: ACE EQ low shelf -9 dB under 300 Hz on an 80 Hz tone, fader -3 dB, pan law -3 dB
    bass_level = rms_db(bass_x[SR // 2: -SR // 2])
    assert bass_level == pytest.approx(-20.0 - 3.0 - 3.0 - 9.0, abs=1.0)

    # lead: panned left, and the 1 kHz high-pass takes the 660 Hz partial well down
    left, right = rms_db(lead_x[:, 0]), rms_db(lead_x[:, 1])
    assert left - right > 6.0
    ref = src["lead_tone.wav"]
    low = band_db(lead_x[: len(ref), 0], SR, 600, 720) - band_db(ref, SR, 600, 720)
    high = band_db(lead_x[: len(ref), 0], SR, 1250, 1400) - band_db(ref, SR, 1250, 1400)
    assert high - low > 8.0


def _sources(session) -> dict[str, Path]:
    return {t.items[0].source.path.name: t.items[0].source.path for t in session.tracks}


def test_unknown_track_is_reported_not_fatal(live, applied):
    _, before, _, daw = live
    plan = Plan([SetVolume(track="999999", volume_db=-3.0),
                 SetVolume(track=before.tracks[2].guid, volume_db=-1.5)])
    report = daw.apply(plan)
    assert [r.ok for r in report.results] == [False, True]
    assert "999999" in report.results[0].detail


def test_host_stops_without_leftovers(live):
    import os

    _, _, host, _ = live
    assert host.alive and host.startup_s < 20
    pid = host.pid
    assert os.path.exists(f"/proc/{pid}")
    np.testing.assert_equal(host.request(["ping"]), ["pong"])
