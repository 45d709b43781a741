"""End to end: a session with generic track names is saved the way REAPER saves, the bridge
watching its folder labels the stems and the renames arrive at a REAPER-like OSC peer on
loopback. Also the helpers the other watch tests share: writing projects and audio, saving like
REAPER, and the OSC peer."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _support import missing
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

RATE = 48000


# -- audio -----------------------------------------------------------------------------------
def _env(n: int, decay_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay_s * RATE))


def kick_hit(rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * RATE)
    t = np.arange(n) / RATE
    freq = 50 + 110 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / RATE) * _env(n, 0.12)
    click = rng.normal(0, 1, n) * _env(n, 0.002) * 0.3
    return 0.9 * (body + click)


def snare_hit(rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * RATE)
    t = np.arange(n) / RATE
    tone = np.sin(2 * np.pi * 185 * t) * _env(n, 0.05)
    noise = rng.normal(0, 1, n) * _env(n, 0.07)
    return 0.5 * tone + 0.4 * noise


def hat_hit(rng: np.random.Generator) -> np.ndarray:
    n = int(0.08 * RATE)
    noise = np.diff(rng.normal(0, 1, n + 1)) * _env(n, 0.015)
    return 0.3 * noise


def bass_line(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    notes = np.array([41.2, 41.2, 55.0, 49.0])
    f = notes[(t * 2).astype(int) % len(notes)]
    phase = 2 * np.pi * np.cumsum(f) / RATE
    return 0.5 * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))


def pattern(hit: np.ndarray, seconds: float, every_s: float, offset_s: float = 0.0) -> np.ndarray:
    out = np.zeros(int(seconds * RATE))
    pos = offset_s
    while pos < seconds:
        i = int(pos * RATE)
        seg = hit[: len(out) - i]
        out[i : i + len(seg)] += seg
        pos += every_s
    return out


def drum_stems(seconds: float = 8.0, seed: int = 1) -> dict[str, np.ndarray]:
    """Synthetic kick / snare / hi-hat / bass stems at :data:`RATE`, mono float."""
    rng = np.random.default_rng(seed)
    return {
        "kick": pattern(kick_hit(rng), seconds, 0.5),
        "snare": pattern(snare_hit(rng), seconds, 1.0, 0.5),
        "hihat": pattern(hat_hit(rng), seconds, 0.25),
        "bass": bass_line(seconds),
    }


HYDROGEN_KIT = Path("/usr/share/hydrogen/data/drumkits/GMRockKit")
SONIC_PI = Path("/usr/share/sonic-pi/samples")


def _recording(path: Path) -> np.ndarray:
    from _support import require_path

    data, rate = sf.read(require_path(path), always_2d=True)
    mono_ = data.mean(axis=1)
    if rate != RATE:
        mono_ = np.interp(np.arange(0, len(mono_), rate / RATE), np.arange(len(mono_)), mono_)
    return mono_


def recorded_stems(seconds: float = 8.0, variant: str = "Hard") -> dict[str, np.ndarray]:
    """Stems played from real recordings in Debian packages (hydrogen-data's GMRockKit,
    sonic-pi-samples' bass): kick, snare, hi-hat, bass, mono at :data:`RATE`."""
    bass = _recording(SONIC_PI / "bass_thick_c.flac")
    n = int(seconds * RATE)
    return {
        "kick": pattern(_recording(HYDROGEN_KIT / f"Kick-{variant}.wav"), seconds, 0.5),
        "snare": pattern(_recording(HYDROGEN_KIT / f"Snare-{variant}.wav"), seconds, 1.0, 0.5),
        "hihat": pattern(_recording(HYDROGEN_KIT / f"HatClosed-{variant}.wav"), seconds, 0.25),
        "bass": np.tile(bass, n // len(bass) + 1)[:n] * 0.7,
    }


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples.astype(np.float32), rate, subtype="FLOAT")
    return path


# -- projects ----------------------------------------------------------------------------------
@dataclass
class TrackSpec:
    name: str
    media: str
    """Path as written in FILE, relative to the project folder."""
    length_s: float
    guid: str = field(default_factory=lambda: "{" + str(uuid.uuid4()).upper() + "}")


def rpp_text(tracks: list[TrackSpec], *, rate: int = RATE, eol: str = "\n") -> str:
    """A REAPER 7 project as REAPER writes it (the parts our reader and REAPER need)."""
    lines = [
        '<REAPER_PROJECT 0.1 "7.27/linux-x86_64" 1732540000',
        "  RIPPLE 0",
        "  AUTOXFADE 129",
        f"  SAMPLERATE {rate} 1 0",
        "  TEMPO 120 4 4",
        "  <MASTERPLAYSPEEDENV",
        "    EGUID {00000000-0000-0000-0000-00000000A001}",
        "  >",
    ]
    for spec in tracks:
        item_guid = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, spec.guid)).upper() + "}"
        lines += [
            f"  <TRACK {spec.guid}",
            f'    NAME "{spec.name}"',
            "    PEAKCOL 16576",
            "    VOLPAN 1 0 -1 -1 1",
            "    MUTESOLO 0 0 0",
            "    NCHAN 2",
            "    <ITEM",
            "      POSITION 0",
            f"      LENGTH {spec.length_s}",
            "      LOOP 0",
            "      FADEIN 1 0 0 1 0 0 0",
            "      FADEOUT 1 0 0 1 0 0 0",
            "      MUTE 0 0",
            f"      IGUID {item_guid}",
            f'      NAME "{Path(spec.media).name}"',
            "      VOLPAN 1 0 1 -1",
            "      SOFFS 0",
            "      PLAYRATE 1 1 0 -1 0 0.0025",
            "      CHANMODE 0",
            "      <SOURCE WAVE",
            f'        FILE "{spec.media}"',
            "      >",
            "    >",
            "  >",
        ]
    lines.append(">")
    return eol.join(lines) + eol


def make_session(folder: Path, stems: dict[str, np.ndarray], *,
                 generic: str = "Audio {n:02d}") -> tuple[Path, list[TrackSpec]]:
    """Write each stem as ``Media/<generic name>.wav`` and a project that plays them; returns
    (project path, track specs) with the project not saved yet."""
    specs = []
    for n, (_, samples) in enumerate(stems.items(), start=1):
        name = generic.format(n=n)
        media = f"Media/{name}.wav"
        write_wav(folder / media, samples)
        specs.append(TrackSpec(name, media, round(len(samples) / RATE, 6)))
    return folder / "Song.RPP", specs


def save_like_reaper(project: Path, text: str | bytes, *, temp_style: str = "suffix") -> None:
    """Save the way REAPER does: previous version kept as ``.rpp-bak``, new content written to
    a temporary file in the same folder and renamed over the project."""
    data = text.encode() if isinstance(text, str) else text
    if project.exists():
        bak = project.with_name(project.stem + ".rpp-bak")
        bak.write_bytes(project.read_bytes())
    if temp_style == "suffix":
        tmp = project.with_name(project.name + ".tmp" + str(os.getpid()))
    else:  # a temporary name that also ends in .RPP must not count as a save either
        tmp = project.with_name(f"{project.stem}-save{os.getpid()}.RPP")
    with open(tmp, "wb") as fh:
        half = len(data) // 2
        fh.write(data[:half])
        fh.flush()
        fh.write(data[half:])
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, project)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a REAPER-like OSC peer ------------------------------------------------------------------
class ReaperPeer:
    """Answers OSC the way REAPER's OSC surface with ``Default.ReaperOSC`` does.

    Listens on 127.0.0.1 (``port``) and sends feedback to ``feedback_port``: selecting a bank
    sends ``/track/<slot>/number/str`` and ``/track/<slot>/name`` for every slot of the bank;
    ``/track/<slot>/name s`` renames the track and echoes the new name, as REAPER does.
    Everything received is recorded with its arrival time (``time.perf_counter()``).
    """

    def __init__(self, names: list[str], feedback_port: int, bank_size: int = 8) -> None:
        self.names = list(names)
        self.feedback = ("127.0.0.1", feedback_port)
        self.bank_size = bank_size
        self.offset = 0
        self.received: list[tuple[float, str, tuple]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> ReaperPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, address: str, *args: object) -> None:
        builder = OscMessageBuilder(address=address)
        for a in args:
            builder.add_arg(a)
        self._sock.sendto(builder.build().dgram, self.feedback)

    def _send_bank(self) -> None:
        for slot in range(1, self.bank_size + 1):
            index = self.offset + slot - 1
            if index < len(self.names):
                self._send(f"/track/{slot}/number/str", str(index + 1))
                self._send(f"/track/{slot}/name", self.names[index])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            msg = OscMessage(data)
            params = tuple(msg.params)
            with self._lock:
                self.received.append((time.perf_counter(), msg.address, params))
            parts = msg.address.strip("/").split("/")
            if msg.address == "/device/track/count" and params:
                self.bank_size = int(params[0])
            elif msg.address == "/device/track/bank/select" and params:
                self.offset = (int(params[0]) - 1) * self.bank_size
                self._send_bank()
            elif len(parts) == 3 and parts[0] == "track" and parts[2] == "name" and params:
                index = self.offset + int(parts[1]) - 1
                if 0 <= index < len(self.names):
                    self.names[index] = str(params[0])
                    self._send(msg.address, str(params[0]))
            elif len(parts) >= 3 and parts[0] == "track" and params:
                self._send(msg.address, *params)  # REAPER echoes what it set

    def messages(self, prefix: str = "") -> list[tuple[float, str, tuple]]:
        with self._lock:
            return [m for m in self.received if m[1].startswith(prefix)]

    def renames(self) -> dict[int, str]:
        """1-based track number -> the name REAPER now shows, for tracks renamed over OSC."""
        out = {}
        for _, address, params in self.messages("/track/"):
            parts = address.strip("/").split("/")
            if len(parts) == 3 and parts[2] == "name":
                out[int(parts[1])] = str(params[0])
        return out


def wait_until(check, timeout: float, step: float = 0.02) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(step)
    return check()


def _require_labeller() -> None:
    try:
        from bridge.assist.label import plan_labels  # noqa: F401
        from bridge.assist.labeller.model import load_model

        load_model()
    except Exception as exc:  # not importable, or the shipped model is not there
        missing(f"the label assistant and its shipped model: {exc}")


# -- the end-to-end tests ----------------------------------------------------------------------
@pytest.fixture
def bridge_config(tmp_path: Path):  # noqa: ANN201
    from bridge.config import Config

    feedback = free_udp_port()
    cfg = Config(watch_folders=[tmp_path / "projects"], debounce_ms=150,
                 data_dir=tmp_path / "data", reaper_feedback_port=feedback,
                 answer_timeout_ms=500)
    cfg.watch_folders[0].mkdir()
    return cfg


def _renamed_text(specs: list[TrackSpec], names: list[str]) -> str:
    """The project as REAPER saves it after the renames (REAPER writes what it shows)."""
    return rpp_text([TrackSpec(n, s.media, s.length_s, s.guid) for s, n in zip(specs, names,
                                                                               strict=True)])


def test_save_in_reaper_renames_arrive_over_osc(bridge_config, caplog) -> None:  # noqa: ANN001
    _require_labeller()
    from bridge.service import BridgeService

    caplog.set_level(logging.INFO, logger="bridge")
    folder = bridge_config.watch_folders[0] / "song"
    stems = recorded_stems(8.0)
    project, specs = make_session(folder, stems)
    with ReaperPeer([s.name for s in specs], bridge_config.reaper_feedback_port) as peer:
        bridge_config.reaper_port = peer.port
        with BridgeService(bridge_config, spool=False) as service:
            save_like_reaper(project, rpp_text(specs))
            assert service.wait_delivery(1, 60), list(service.errors)
            assert service.deliveries[-1].how == "live", service.deliveries[-1]
            assert wait_until(lambda: len(peer.renames()) >= 3, 5.0), peer.received
            renames = peer.renames()
            assert renames == {1: "Kick", 2: "Snare", 3: "Hi-Hat", 4: "Bass"}, renames

            # REAPER saves again with the new names: nothing is proposed twice
            sent = len(peer.messages("/track/"))
            save_like_reaper(project, _renamed_text(specs, list(peer.names)))
            assert service.settle(30)
            assert len(service.deliveries) == 1
            assert len(peer.messages("/track/")) == sent

            # a malformed save is logged and skipped; the bridge keeps watching
            save_like_reaper(project, _renamed_text(specs, list(peer.names))[:300])
            assert wait_until(lambda: service.errors, 10)
            assert "malformed project (line" in service.errors[-1][1]

            # one new stem dragged in and saved: only it is analysed, its rename arrives
            write_wav(folder / "Media/Audio 05.wav", recorded_stems(8.0, "Soft")["kick"])
            new = TrackSpec("Audio 05", "Media/Audio 05.wav", 8.0)
            peer.names.append(new.name)
            save_like_reaper(project, _renamed_text([*specs, new], [*peer.names]))
            assert service.wait_delivery(2, 60), list(service.errors)
            assert wait_until(lambda: 5 in peer.renames(), 5.0)
            assert peer.renames()[5] == "Kick 2"
            assert service.deliveries[-1].edits == 2  # its rename and its colour
    assert "applied live" in caplog.text
    assert "1 new/changed analysed" in caplog.text


def test_parallel_labelling_decides_exactly_like_plan_labels(tmp_path: Path) -> None:
    _require_labeller()
    from bridge.assist.label import plan_labels
    from bridge.session.rpp_session import load_session
    from bridge.watch.jobs import ParallelPlanner

    stems = recorded_stems(6.0)
    stems["kick2"] = recorded_stems(6.0, "Med")["kick"]
    project, specs = make_session(tmp_path / "song", stems)
    project.write_text(rpp_text(specs))
    session = load_session(project)
    files = {s.guid: (project.parent / s.media) for s in specs}
    planner = ParallelPlanner(workers=2, min_parallel=2)
    try:
        parallel = planner(session, files)
    finally:
        planner.close()
    serial = plan_labels(session, files)
    assert parallel == serial
    assert any(e.op == "rename_track" and e.name == "Kick 2" for e in parallel)


def test_labelling_falls_back_in_process_when_the_workers_are_gone(tmp_path: Path,
                                                                    caplog) -> None:  # noqa: ANN001
    _require_labeller()
    from concurrent.futures import ProcessPoolExecutor

    from bridge.assist.label import plan_labels
    from bridge.session.rpp_session import load_session
    from bridge.watch.jobs import ParallelPlanner

    project, specs = make_session(tmp_path / "song", recorded_stems(4.0))
    project.write_text(rpp_text(specs))
    session = load_session(project)
    files = {s.guid: (project.parent / s.media) for s in specs}
    planner = ParallelPlanner(workers=2, min_parallel=2)
    dead = ProcessPoolExecutor(1)
    dead.shutdown()
    planner._pool = dead  # as if the workers had been killed
    try:
        with caplog.at_level(logging.WARNING, logger="bridge.watch"):
            plan = planner(session, files)
    finally:
        planner.close()
    assert "labelling in the bridge process" in caplog.text
    assert plan == plan_labels(session, files)
