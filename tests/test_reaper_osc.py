"""REAPER OSC transport over real UDP on loopback, against a peer that speaks REAPER's dialect.

The peer reads ``Default.ReaperOSC`` (REAPER's own pattern file), accepts only messages whose
address matches one of its patterns with the argument types that pattern's flag letter allows,
keeps a small mixer state (banked by DEVICE_TRACK_COUNT) and answers with feedback for the
current bank only, like REAPER does.
"""

from __future__ import annotations

import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _support import shared_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.daw.osc import OscArg, OscEndpoint, decode, encode
from bridge.daw.pending import PendingPlans
from bridge.daw.reaper import (
    APPLY_PENDING_ACTION,
    ReaperNotReachable,
    ReaperOsc,
    bank_of,
    edit_messages,
    octaves_to_q,
    q_to_octaves,
    route_plan,
)
from bridge.plan import (
    AddTake,
    Plan,
    RenameTrack,
    SetColor,
    SetEqBand,
    SetMute,
    SetPan,
    SetVolume,
)
from bridge.session.model import Session, Track

# ------------------------------------------------------------------------------------------
# the peer
# ------------------------------------------------------------------------------------------

FLAG_TYPES = {
    "n": {"f"},  # normalised float
    "f": {"f"},  # raw float
    "b": {"f", "i"},  # binary 0/1
    "t": {"f", "i"},  # trigger: no argument or 1
    "s": {"s"},
    "i": {"i"},
    "r": {"f"},  # rotary
}


@dataclass
class Pattern:
    action: str
    flag: str
    text: str
    regex: re.Pattern[str]


def load_patterns(path: Path) -> tuple[list[Pattern], dict[str, str]]:
    patterns, settings_ = [], {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if len(words) == 2 and not re.match(r"^[a-z]/", words[1]):
            settings_[words[0]] = words[1]
            continue
        for word in words[1:]:
            flag, _, text = word.partition("/")
            if len(flag) != 1 or not text:
                continue
            # '@' is a 1-based number, or a named command ID in /action/@ (REAPER's _RS... style)
            parts = [r"(\d+|_[A-Za-z0-9_]+)" if p == "@" else re.escape(p)
                     for p in ("/" + text).split("/")[1:]]
            regex = re.compile("^/" + "/".join(parts) + "$")
            patterns.append(Pattern(words[0], flag, "/" + text, regex))
    return patterns, settings_


@dataclass
class FakeTrack:
    name: str
    volume_db: float = 0.0
    pan: float = 0.5
    mute: float = 0.0
    eq: dict[str, float] = field(default_factory=dict)


class ReaperPeer:
    """Listens like REAPER (port A), sends feedback like REAPER (to port B)."""

    def __init__(self, pattern_file: Path, track_names: list[str], feedback_port: int,
                 *, bank_base: int = 1):
        self.patterns, self.settings = load_patterns(pattern_file)
        self.bank_size = int(self.settings["DEVICE_TRACK_COUNT"])
        self.tracks = [FakeTrack(n) for n in track_names]
        self.bank = 0  # 0-based bank shown
        self.bank_base = bank_base
        self.rejected: list[str] = []
        self.accepted: list[tuple[str, tuple]] = []
        self.actions: list[str] = []
        self.endpoint = OscEndpoint(0)
        self.port = self.endpoint.port
        self.feedback_to = ("127.0.0.1", feedback_port)
        self.endpoint.subscribe(self._on_message)
        self.lock = threading.Lock()

    def close(self) -> None:
        self.endpoint.close()

    def match(self, address: str, types: str) -> tuple[Pattern, tuple[str, ...]] | None:
        for pat in self.patterns:
            m = pat.regex.match(address)
            if not m:
                continue
            allowed = FLAG_TYPES[pat.flag]
            if pat.flag == "t":
                ok = types == "" or (len(types) == 1 and types in allowed)
            else:
                ok = len(types) >= 1 and all(t in allowed for t in types)
            if ok:
                return pat, m.groups()
        return None

    def _on_message(self, msg) -> None:
        found = self.match(msg.address, msg.types)
        if found is None:
            self.rejected.append(f"{msg.address} ,{msg.types}")
            return
        pat, groups = found
        with self.lock:
            self.accepted.append((msg.address, msg.args))
            self._apply(pat, groups, msg.args)

    def _track(self, slot: str) -> tuple[int, FakeTrack] | None:
        index = self.bank * self.bank_size + int(slot) - 1
        if 1 <= int(slot) <= self.bank_size and 0 <= index < len(self.tracks):
            return index, self.tracks[index]
        return None

    def _apply(self, pat: Pattern, groups: tuple[str, ...], args: tuple) -> None:
        a = pat.action
        if a == "DEVICE_TRACK_COUNT" and pat.flag == "i":
            self.bank_size = int(args[0])
            self.send_bank()
        elif a == "DEVICE_TRACK_BANK_SELECT" and pat.flag == "i":
            self.bank = max(0, int(args[0]) - self.bank_base)
            self.send_bank()
        elif a == "ACTION" and pat.flag == "t":
            self.actions.append(groups[0])
        elif a.startswith("TRACK_") or a.startswith("FX_EQ_"):
            found = self._track(groups[0])
            if found is None:
                return
            index, track = found
            if a == "TRACK_NAME":
                track.name = str(args[0])
            elif a == "TRACK_VOLUME" and pat.text.endswith("/db"):
                track.volume_db = float(args[0])
            elif a == "TRACK_PAN":
                track.pan = float(args[0])
            elif a == "TRACK_MUTE":
                track.mute = float(args[0])
            elif a.startswith("FX_EQ_"):
                track.eq[pat.text.replace("/track/@", "").replace("@", groups[-1])] = float(args[0])
            self.send_track(int(groups[0]), track, index)

    def send_bank(self) -> None:
        for slot in range(1, self.bank_size + 1):
            found = self._track(str(slot))
            if found:
                self.send_track(slot, found[1], found[0])

    def send_track(self, slot: int, track: FakeTrack, index: int) -> None:
        to = self.feedback_to
        base = f"/track/{slot}"
        self.endpoint.send(to, f"{base}/number/str", [OscArg("s", str(index + 1))])
        self.endpoint.send(to, f"{base}/name", [OscArg("s", track.name)])
        self.endpoint.send(to, f"{base}/volume/db", [OscArg("f", track.volume_db)])
        self.endpoint.send(to, f"{base}/pan", [OscArg("f", track.pan)])
        self.endpoint.send(to, f"{base}/mute", [OscArg("f", track.mute)])
        for key, value in track.eq.items():
            if key.endswith("/freq/hz"):
                self.endpoint.send(to, f"{base}{key}", [OscArg("f", value)])


def guid(n: int) -> str:
    return f"{{{n:08X}-0000-4000-8000-{n:012X}}}"


def session_of(names: list[str]) -> Session:
    return Session(Path("/tmp/song.RPP"), "reaper",
                   [Track(guid(i), n, i) for i, n in enumerate(names)])


@pytest.fixture
def pattern_file() -> Path:
    path = shared_dir() / "reaper" / "Default.ReaperOSC"
    assert path.is_file()
    return path


@pytest.fixture
def rig(pattern_file):
    """A live peer with 60 tracks and a ReaperOsc pointed at it."""
    names = [f"Track {i + 1}" if i % 3 else f"Inst {i + 1}" for i in range(60)]
    free = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    free.bind(("127.0.0.1", 0))
    feedback_port = free.getsockname()[1]
    free.close()
    reaper = ReaperOsc("127.0.0.1", 1, feedback_port, timeout_s=1.0)
    peer = ReaperPeer(pattern_file, names, reaper.endpoint.port)
    reaper.reaper = ("127.0.0.1", peer.port)
    yield reaper, peer, session_of(names)
    reaper.close()
    peer.close()


# ------------------------------------------------------------------------------------------
# the peer itself is strict
# ------------------------------------------------------------------------------------------


def test_peer_reads_the_pattern_file(pattern_file):
    patterns, settings_ = load_patterns(pattern_file)
    assert settings_["DEVICE_TRACK_COUNT"] == "8"
    texts = {(p.flag, p.text) for p in patterns}
    for needed in [("s", "/track/@/name"), ("f", "/track/@/volume/db"), ("n", "/track/@/pan"),
                   ("b", "/track/@/mute"), ("f", "/track/@/fxeq/band/@/freq/hz"),
                   ("t", "/action/@"), ("i", "/device/track/bank/select")]:
        assert needed in texts


def test_peer_rejects_wrong_types_and_unknown_addresses(rig):
    reaper, peer, _ = rig
    reaper.send("/track/1/volume/db", [OscArg("s", "-6")])  # string where f expected
    reaper.send("/track/1/name", [OscArg("f", 1.0)])  # float where s expected
    reaper.send("/track/1/volum/db", [OscArg("f", -6.0)])
    reaper.send("/track/1/volume/db", [OscArg("f", -6.0)])
    time.sleep(0.2)
    assert len(peer.rejected) == 3
    assert peer.accepted == [("/track/1/volume/db", (-6.0,))]


# ------------------------------------------------------------------------------------------
# the transport
# ------------------------------------------------------------------------------------------


def test_every_message_we_build_matches_a_pattern(pattern_file):
    peer_patterns = ReaperPeer.__new__(ReaperPeer)
    peer_patterns.patterns, _ = load_patterns(pattern_file)
    edits = [
        RenameTrack(track="g", name="Kick"),
        SetVolume(track="g", volume_db=-6.0),
        SetVolume(track="g", volume_db=-math.inf),
        SetPan(track="g", pan=-0.25),
        SetMute(track="g", mute=True),
    ] + [
        SetEqBand(track="g", band=b, band_type=t, freq_hz=200.0, gain_db=-2.0, q=1.0)
        for t in ("high_pass", "low_shelf", "band", "notch", "high_shelf", "low_pass")
        for b in ((0, 3) if t == "band" else (0,))
    ]
    for edit in edits:
        for address, args in edit_messages(edit, 8):
            dgram = encode(address, args)
            (msg,) = decode(dgram)
            assert ReaperPeer.match(peer_patterns, msg.address, msg.types), (address, msg.types)


def test_volume_is_sent_in_db_and_pan_normalised():
    (vol,) = edit_messages(SetVolume(track="g", volume_db=-7.25), 2)
    assert vol[0] == "/track/2/volume/db" and vol[1][0].type == "f"
    assert vol[1][0].value == -7.25
    (pan,) = edit_messages(SetPan(track="g", pan=-1.0), 2)
    assert pan == ("/track/2/pan", [OscArg("f", 0.0)])
    (pan,) = edit_messages(SetPan(track="g", pan=0.5), 2)
    assert pan[1][0].value == 0.75


@given(st.floats(min_value=0.05, max_value=40.0))
@settings(max_examples=50, deadline=None)
def test_q_and_octaves_round_trip(q):
    assert octaves_to_q(q_to_octaves(q)) == pytest.approx(q, rel=1e-9)


@pytest.mark.parametrize("index,bank,slot", [(0, 1, 1), (7, 1, 8), (8, 2, 1), (39, 5, 8),
                                             (59, 8, 4)])
def test_bank_arithmetic(index, bank, slot):
    assert bank_of(index, 8) == (bank, slot)


def test_track_40_of_60_is_addressed_in_its_bank(rig):
    reaper, peer, session = rig
    target = session.tracks[39]
    plan = Plan([
        RenameTrack(track=target.guid, track_name=target.name, name="Lead Vox"),
        SetVolume(track=target.guid, track_name=target.name, volume_db=-4.5),
        SetPan(track=target.guid, track_name=target.name, pan=0.3),
        SetMute(track=session.tracks[2].guid, mute=True),
    ])
    report = reaper.apply(plan, session)
    time.sleep(0.05)
    assert not peer.rejected
    assert peer.tracks[39].name == "Lead Vox"
    assert peer.tracks[39].volume_db == pytest.approx(-4.5)
    assert peer.tracks[39].pan == pytest.approx(0.65)
    assert peer.tracks[2].mute == 1.0
    # nothing else moved
    assert all(t.volume_db == 0.0 for i, t in enumerate(peer.tracks) if i != 39)
    assert [t.name for i, t in enumerate(peer.tracks) if i not in (39,)] == \
        [t.name for i, t in enumerate(session.tracks) if i != 39]
    assert len(report.sent) == 4
    assert set(map(id, report.verified)) == set(map(id, plan.edits))


def test_zero_based_bank_numbering_is_corrected_from_feedback(pattern_file):
    names = [f"T{i}" for i in range(30)]
    reaper = ReaperOsc("127.0.0.1", 1, 0, timeout_s=1.0)
    peer = ReaperPeer(pattern_file, names, reaper.endpoint.port, bank_base=0)
    reaper.reaper = ("127.0.0.1", peer.port)
    try:
        session = session_of(names)
        reaper.apply(Plan([SetVolume(track=session.tracks[20].guid, volume_db=-3.0)]), session)
        time.sleep(0.05)
        assert peer.tracks[20].volume_db == -3.0
        assert [t.volume_db for i, t in enumerate(peer.tracks) if i != 20] == [0.0] * 29
    finally:
        reaper.close()
        peer.close()


def test_feedback_covers_the_current_bank_only(rig):
    reaper, peer, session = rig
    reaper.select_bank(1)
    time.sleep(0.05)
    since = time.monotonic()
    assert reaper.select_bank(3) == 16
    time.sleep(0.05)
    seen = reaper.endpoint.messages(since)
    slots = {m.address.split("/")[2] for m in seen if m.address.startswith("/track/")}
    assert slots == {str(i) for i in range(1, 9)}
    numbers = {int(m.args[0]) for m in seen if m.address.endswith("/number/str")}
    assert numbers == set(range(17, 25))  # bank 3 shows tracks 17..24, nothing else


def test_eq_bands_go_through_fx_eq_patterns(rig):
    reaper, peer, session = rig
    t = session.tracks[10]
    plan = Plan([
        SetEqBand(track=t.guid, band=1, band_type="band", freq_hz=320.0, gain_db=-3.5, q=2.0),
        SetEqBand(track=t.guid, band=0, band_type="high_pass", freq_hz=80.0, q=0.707),
    ])
    report = reaper.apply(plan, session)
    time.sleep(0.05)
    assert not peer.rejected
    eq = peer.tracks[10].eq
    assert eq["/fxeq/band/2/freq/hz"] == pytest.approx(320.0)
    assert eq["/fxeq/band/2/gain/db"] == pytest.approx(-3.5)
    assert eq["/fxeq/band/2/q/oct"] == pytest.approx(q_to_octaves(2.0), rel=1e-6)
    assert eq["/fxeq/hipass/freq/hz"] == pytest.approx(80.0)
    assert "/fxeq/hipass/gain/db" not in eq  # a filter has no gain address
    assert len(report.verified) == 2


def test_edits_without_osc_address_go_to_the_pending_plan(rig, tmp_path):
    reaper, peer, session = rig
    t = session.tracks[0]
    plan = Plan([
        SetVolume(track=t.guid, volume_db=-2.0),
        SetColor(track=t.guid, color="#FF0000"),
        AddTake(track=t.guid, item=0, file="clean.wav"),
        SetEqBand(track=t.guid, band=1, band_type="notch", freq_hz=60.0, gain_db=-20, q=8),
    ])
    store = PendingPlans(tmp_path)
    report = reaper.apply(plan, session, pending=store, project=tmp_path / "song.RPP")
    time.sleep(0.05)
    assert [e.op for e in report.sent] == ["set_volume"]
    assert [e.op for e in report.via_script] == ["set_color", "add_take", "set_eq_band"]
    stored, _ = store.get(tmp_path / "song.RPP")
    assert [e.op for e in stored] == ["set_color", "add_take", "set_eq_band"]
    assert peer.actions == [APPLY_PENDING_ACTION]


def test_one_undo_sends_everything_through_the_action(rig, tmp_path):
    reaper, peer, session = rig
    t = session.tracks[5]
    plan = Plan([RenameTrack(track=t.guid, name="Bass"), SetVolume(track=t.guid, volume_db=-1)])
    store = PendingPlans(tmp_path)
    report = reaper.apply(plan, session, one_undo=True, pending=store, project=tmp_path / "s.RPP")
    time.sleep(0.05)
    assert report.sent == [] and len(report.via_script) == 2
    assert peer.tracks[5].name == session.tracks[5].name  # untouched over OSC
    assert peer.actions == [APPLY_PENDING_ACTION] and not peer.rejected
    assert len(store.get(tmp_path / "s.RPP")[0]) == 2


def test_a_moved_track_is_not_written_by_index(rig, tmp_path):
    reaper, peer, session = rig
    peer.tracks[4].name = "Someone else"  # the project changed since it was saved
    t = session.tracks[4]
    store = PendingPlans(tmp_path)
    report = reaper.apply(Plan([SetVolume(track=t.guid, volume_db=-9.0)]), session,
                          pending=store, project=tmp_path / "s.RPP")
    time.sleep(0.05)
    assert peer.tracks[4].volume_db == 0.0
    assert report.sent == [] and len(report.via_script) == 1
    assert "changed since it was saved" in report.problems[0]


def test_route_plan_keeps_unknown_tracks_for_the_script():
    session = session_of(["A", "B"])
    plan = Plan([SetVolume(track=guid(99), volume_db=-1.0),
                 SetVolume(track=guid(1).lower(), volume_db=-2.0)])
    routing = route_plan(plan, session)
    assert [e.volume_db for e in routing.script] == [-1.0]
    assert [(e.volume_db, t.name) for e, t in routing.osc] == [(-2.0, "B")]


def test_reaper_absent_times_out_cleanly():
    with ReaperOsc("127.0.0.1", 9, 0, timeout_s=0.2) as reaper:  # nobody listens on port 9
        started = time.monotonic()
        assert reaper.is_there() is False
        assert time.monotonic() - started < 1.0
        with pytest.raises(ReaperNotReachable):
            reaper.apply(Plan([SetVolume(track=guid(0), volume_db=-1)]), session_of(["A"]))
        assert reaper.sent_count <= 4  # only presence probes, no edit


def test_listener_survives_malformed_packets():
    with OscEndpoint(0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for junk in (b"", b"\x00\x01garbage", b"/no/typetag", b"#bundle\x00\x00", b"\xff" * 64):
            tx.sendto(junk, ("127.0.0.1", rx.port))
        tx.sendto(encode("/track/1/name", [OscArg("s", "ok")]), ("127.0.0.1", rx.port))
        got = rx.wait_for(lambda m: m.address == "/track/1/name", 1.0)
        assert got is not None and got.args == ("ok",) and got.types == "s"
        assert rx.malformed >= 3


def test_endpoint_binds_loopback_by_default():
    with OscEndpoint(0) as ep:
        assert ep.host == "127.0.0.1"
        assert ep._sock.getsockname()[0] == "127.0.0.1"
