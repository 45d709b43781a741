"""Running Ardour without a screen: make a session from WAV files, open it, export stems, stop.

Debian's Ardour 7 ships the Lua session tool ``ardour7-lua``. It loads a session on Ardour's
"None (Dummy)" audio backend (no JACK, no sound card), and the session's OSC surface answers
while the tool idles in ``daw_scripts/ardour/bridge_host.lua``. That is the real Ardour engine,
mixer and plug-ins, started in about 2 s, and it is what the test suite drives.

Three things live here:

* :func:`create_session` writes a new session: ``ardour7-lua`` makes the tracks (and ACE EQ
  when asked), then regions for the WAV files are added to the XML, because Ardour 7.3's Lua
  cannot import audio. Files are copied into ``interchange/<name>/audiofiles``; sources are
  never moved or changed.
* :class:`ArdourHost` opens a session with its own ``HOME`` (Ardour writes its config there) and
  a free OSC port, waits until OSC really answers, and always stops its process group (context
  manager, ``atexit``, and the host also stops by itself when its parent process is gone).
* :func:`export_stems` renders one WAV per track through Ardour's own export, one process per
  stem (several exports in one process are unreliable in 7.3), checking files, not exit codes.

Example::

    spec = [TrackSpec("Audio 1", Path("kick.wav"), gain_db=-6.0)]
    session_file = create_session(Path("/tmp/demo"), "demo", spec)
    with ArdourHost(session_file) as host:
        print(host.osc_port)
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUPERCLOCK_RATE = 282_240_000
"""Ardour 7 keeps audio time in superclock ticks: this many per second."""

ARDOUR_LIB = Path(os.environ.get("STUDIO_BRIDGE_ARDOUR_LIB", "/usr/lib/ardour7"))
LUA_TOOL = os.environ.get("STUDIO_BRIDGE_ARDOUR_LUA", "ardour7-lua")
WAV_PRESET = "75969a1c-3133-4694-864b-a1fa50e43348"
"""Ardour's export preset "WAV @ session rate" (32-bit float in 7.3)."""

ACE_EQ_URI = "urn:ardour:a-eq"
HPLP_NAME = "ACE High/Low Pass Filter"

_SCRIPTS = Path(__file__).resolve().parents[1] / "daw_scripts" / "ardour"
HOST_SCRIPT = Path(os.environ.get("STUDIO_BRIDGE_ARDOUR_HOST", _SCRIPTS / "bridge_host.lua"))


class ArdourError(RuntimeError):
    """Ardour could not be found, started, or did not do what was asked."""


# --------------------------------------------------------------------------------------------
# environment


def lua_tool() -> str:
    """The path of ``ardour7-lua``, or :class:`ArdourError` naming what to install."""
    found = shutil.which(LUA_TOOL)
    if found is None:
        raise ArdourError(f"{LUA_TOOL} not found: install Ardour (Debian: apt-get install ardour)")
    return found


def ardour_env(home: Path) -> dict[str, str]:
    """Environment for an Ardour process whose config and caches stay under ``home``."""
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        LD_LIBRARY_PATH=str(ARDOUR_LIB),
        ARDOUR_DATA_PATH="/usr/share/ardour7",
        ARDOUR_CONFIG_PATH="/etc/ardour7",
        ARDOUR_DLL_PATH=str(ARDOUR_LIB),
        VAMP_PATH=str(ARDOUR_LIB / "vamp"),
        LC_ALL="C.UTF-8",
    )
    # a private JACK server must never be auto-started by a stray JACK client
    env["JACK_NO_START_SERVER"] = "1"
    return env


def write_config(home: Path, osc_port: int) -> Path:
    """Ardour's per-user config with only the OSC port set (the rest stays at defaults)."""
    folder = home / ".config" / "ardour7"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Ardour>\n  <Config>\n'
        f'    <Option name="osc-port" value="{int(osc_port)}"/>\n'
        "  </Config>\n</Ardour>\n",
        encoding="utf-8",
    )
    return path


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 nobody uses right now (Ardour moves up by itself if taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_ports_of(pid: int) -> list[int]:
    """UDP ports the process ``pid`` has bound (Linux ``/proc``), lowest first."""
    inodes: set[str] = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return []
    ports: set[int] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def lua_string(text: str) -> str:
    """A Lua string literal for any text (bytes escaped, so names in any language survive)."""
    out = ['"']
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def run_lua(script: str, *, home: Path, timeout_s: float = 60.0, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run a Lua script in ``ardour7-lua`` in its own process group; returns the finished run."""
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=home, delete=False,
                                     encoding="utf-8") as fh:
        fh.write(script)
        path = fh.name
    try:
        proc = subprocess.Popen(
            [lua_tool(), path], env=ardour_env(home), cwd=str(cwd or home),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace", start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            raise ArdourError(f"ardour7-lua timed out after {timeout_s:.0f} s:\n{_tail(out)}"
                              ) from None
        finally:
            _kill_group(proc)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")
    finally:
        Path(path).unlink(missing_ok=True)


def _kill_group(proc: subprocess.Popen[str], grace_s: float = 3.0) -> None:
    """Stop a process and everything it started (its own process group)."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if proc.poll() is None and pgid is not None:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    if pgid is not None:
        # children may outlive the leader (Ardour's helper processes); take them down too
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=grace_s)


def _tail(text: str | None, lines: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# making a session


@dataclass
class TrackSpec:
    """One track of a generated session.

    ``audio`` is a WAV/FLAC file placed at ``position_s`` as one whole-file region (None = an
    empty track). Fader ``gain_db``, ``pan`` (-1..1) and ``mute`` are set in the session;
    ``eq=True`` inserts ACE EQ before the fader.
    """

    name: str
    audio: Path | None = None
    position_s: float = 0.0
    gain_db: float = 0.0
    pan: float = 0.0
    mute: bool = False
    eq: bool = False
    channels: int | None = None
    """Track input channels; default: the file's channel count (1 without a file)."""


@dataclass
class _Media:
    file: Path
    frames: int
    channels: int
    sample_rate: int


def _probe(path: Path) -> _Media:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises its own error types
        raise ArdourError(f"{path}: not a readable audio file ({exc})") from None
    return _Media(path, int(info.frames), int(info.channels), int(info.samplerate))


def create_session(folder: Path, name: str, tracks: Sequence[TrackSpec], *,
                   sample_rate: int = 48000, osc: bool = True, home: Path | None = None,
                   timeout_s: float = 60.0) -> Path:
    """Create the Ardour session ``folder/name.ardour`` with ``tracks``; returns the file.

    ``folder`` must not exist yet. Audio files must already be at ``sample_rate`` (Ardour would
    play them at the wrong speed otherwise); they are copied, never moved. With ``osc`` the
    session's OSC surface is switched on, replying to the sender (``address-only=0``) with
    feedback bit 14 so list replies use ``/reply``.
    """
    folder = Path(folder)
    if folder.exists():
        raise ArdourError(f"{folder}: exists already; a new session needs a new folder")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ArdourError(f"session name {name!r}: use letters, digits, '_', '-' or '.'")
    media: list[_Media | None] = []
    for spec in tracks:
        if spec.audio is None:
            media.append(None)
            continue
        m = _probe(Path(spec.audio))
        if m.sample_rate != sample_rate:
            raise ArdourError(f"{spec.audio}: {m.sample_rate} Hz, the session runs at "
                              f"{sample_rate} Hz; resample the file first")
        media.append(m)

    lines = [
        f"local ok = create_session({lua_string(str(folder))}, {lua_string(name)}, "
        f"{int(sample_rate)})",
        "if not ok then print('FAILED create_session') os.exit(3) end",
        "local ng = PBD.GroupControlDisposition.NoGroup",
    ]
    for spec, m in zip(tracks, media, strict=True):
        chans = spec.channels or (m.channels if m else 1)
        lines += [
            "do",
            f"  local tl = Session:new_audio_track({chans}, 2, nil, 1, {lua_string(spec.name)}, "
            "ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)",
            "  if tl:size() ~= 1 then print('FAILED new_audio_track') os.exit(3) end",
            "  local r = tl:front()",
            f"  r:gain_control():set_value({10 ** (spec.gain_db / 20):.12g}, ng)",
            f"  r:mute_control():set_value({1 if spec.mute else 0}, ng)",
        ]
        if spec.pan:
            lines.append("  if not r:pan_azimuth_control():isnil() then "
                         f"r:pan_azimuth_control():set_value({(spec.pan + 1) / 2:.9g}, ng) end")
        if spec.eq:
            lines += [
                f"  local p = ARDOUR.LuaAPI.new_plugin(Session, {lua_string(ACE_EQ_URI)}, "
                "ARDOUR.PluginType.LV2, '')",
                "  if p:isnil() then print('FAILED ACE EQ missing') os.exit(3) end",
                "  r:add_processor_by_index(p, 0, nil, true)",
            ]
        lines += ["  print('ROUTE\\t' .. r:to_stateful():id():to_s() .. '\\t')",
                  "end"]
    # new tracks are connected to the master by Ardour's auto-connect thread: wait for it
    # before saving, or the last tracks are saved unconnected (and export silence)
    lines += [
        "local function unconnected(r)",
        "  return not r:is_master() and not r:is_monitor()",
        "    and not r:output():audio(0):connected()",
        "end",
        "for _ = 1, 100 do",
        "  local pending = false",
        "  for r in Session:get_routes():iter() do",
        "    if unconnected(r) then pending = true end",
        "  end",
        "  if not pending then break end",
        "  ARDOUR.LuaAPI.usleep(20000)",
        "end",
        "for r in Session:get_routes():iter() do",
        "  if unconnected(r) then",
        "    print('FAILED output of ' .. r:name() .. ' not connected')",
        "    os.exit(3)",
        "  end",
        "end",
        "Session:save_state('', false, false, false, false, false)",
        "close_session()",
        "print('CREATED')",
        "os.exit(0)",
    ]
    own_home = home is None
    home = Path(tempfile.mkdtemp(prefix="sb-ardour-home-")) if own_home else Path(home)
    try:
        run = run_lua("\n".join(lines) + "\n", home=home, timeout_s=timeout_s)
    finally:
        if own_home:
            shutil.rmtree(home, ignore_errors=True)
    session_file = folder / f"{name}.ardour"
    if "CREATED" not in run.stdout or not session_file.is_file():
        raise ArdourError(f"ardour7-lua could not create {session_file}:\n{_tail(run.stdout)}")
    route_ids = re.findall(r"^ROUTE\t(\d+)\t", run.stdout, flags=re.M)
    if len(route_ids) != len(tracks):
        raise ArdourError(f"expected {len(tracks)} tracks, Ardour reported {len(route_ids)}")
    _add_regions(session_file, name, list(zip(route_ids, tracks, media, strict=True)),
                 sample_rate, osc)
    return session_file


def _superclock(seconds_or_frames: float, sample_rate: int | None = None) -> int:
    if sample_rate is None:
        return round(seconds_or_frames * SUPERCLOCK_RATE)
    return int(seconds_or_frames) * SUPERCLOCK_RATE // sample_rate


def _add_regions(session_file: Path, name: str,
                 tracks: list[tuple[str, TrackSpec, _Media | None]], sample_rate: int,
                 osc: bool) -> None:
    tree = ET.parse(session_file)
    root = tree.getroot()
    next_id = max(int(root.get("id-counter", "0")),
                  max((int(e.get("id", "0")) for e in root.iter() if
                       (e.get("id") or "").isdigit()), default=0)) + 1

    def new_id() -> str:
        nonlocal next_id
        next_id += 1
        return str(next_id - 1)

    audio_dir = session_file.parent / "interchange" / name / "audiofiles"
    audio_dir.mkdir(parents=True, exist_ok=True)
    sources = _child(root, "Sources", before="Regions")
    regions = _child(root, "Regions", before="Selection")
    playlists = {p.get("orig-track-id"): p for p in root.iter("Playlist")}
    session_end = 0
    for route_id, spec, m in tracks:
        if m is None:
            continue
        target = audio_dir / m.file.name
        n = 1
        while target.exists():
            n += 1
            target = audio_dir / f"{m.file.stem}-{n}{m.file.suffix}"
        shutil.copy2(m.file, target)
        src_ids = []
        for ch in range(m.channels):
            sid = new_id()
            src_ids.append(sid)
            ET.SubElement(sources, "Source", {
                "name": target.name, "type": "audio", "flags": "", "id": sid,
                "captured-for": "", "take-id": "", "channel": str(ch), "origin": "",
                "gain": "1"})
        pos = _superclock(spec.position_s)
        length = _superclock(m.frames, m.sample_rate)
        session_end = max(session_end, pos + length)
        region_name = target.stem
        for whole, parent in ((True, regions), (False, playlists.get(route_id))):
            if parent is None:
                raise ArdourError(f"{session_file}: no playlist for route {route_id}")
            attrs = _region_attrs(region_name, new_id(), src_ids, length,
                                  0 if whole else pos, whole)
            ET.SubElement(parent, "Region", attrs)
    if session_end:
        locations = _child(root, "Locations", before="Bundles")
        for loc in list(locations):
            if "IsSessionRange" in (loc.get("flags") or ""):
                locations.remove(loc)
        ET.SubElement(locations, "Location", {
            "id": new_id(), "name": "session", "start": "a0", "end": f"a{session_end}",
            "flags": "IsSessionRange", "locked": "0", "timestamp": "0", "cue": "0"})
    if osc:
        enable_osc(root)
    root.set("id-counter", str(next_id))
    _indent(root)
    _write_xml(tree, session_file)


def _region_attrs(name: str, rid: str, src_ids: list[str], length_sc: int, pos_sc: int,
                  whole: bool) -> dict[str, str]:
    attrs = {
        "name": name, "muted": "0", "opaque": "1", "locked": "0", "video-locked": "0",
        "automatic": "0", "whole-file": "1" if whole else "0", "import": "0",
        "external": "0", "sync-marked": "0", "left-of-split": "0", "right-of-split": "0",
        "hidden": "0", "position-locked": "0", "valid-transients": "0", "start": "a0",
        # Ardour 7 keeps a region's position inside its length: "a<length>@a<position>"
        "length": f"a{length_sc}@a{pos_sc}", "sync-position": "a0", "stretch": "1",
        "shift": "1", "layering-index": "0", "tags": "", "contents": "0",
        "envelope-active": "0", "default-fade-in": "1", "default-fade-out": "1",
        "fade-in-active": "1", "fade-out-active": "1", "scale-amplitude": "1", "id": rid,
        "type": "audio", "first-edit": "nothing",
    }
    for i, sid in enumerate(src_ids):
        attrs[f"source-{i}"] = sid
    for i, sid in enumerate(src_ids):
        attrs[f"master-source-{i}"] = sid
    attrs["channels"] = str(len(src_ids))
    return attrs


def enable_osc(root: ET.Element, *, feedback: int = 16384, strip_types: int = 31) -> None:
    """Switch the session's OSC surface on (replies to the sender, ``/reply`` lists)."""
    protocols = _child(root, "ControlProtocols")
    for proto in protocols.iter("Protocol"):
        if proto.get("name") == "Open Sound Control (OSC)":
            break
    else:
        proto = ET.SubElement(protocols, "Protocol", {"name": "Open Sound Control (OSC)"})
    proto.set("active", "1")
    proto.set("address-only", "0")
    proto.set("remote-port", proto.get("remote-port", "8000"))
    proto.set("striptypes", str(strip_types))
    proto.set("feedback", str(feedback))
    proto.set("gainmode", "0")
    proto.set("debugmode", "0")


def _child(root: ET.Element, tag: str, before: str | None = None) -> ET.Element:
    found = root.find(tag)
    if found is not None:
        return found
    element = ET.Element(tag)
    index = len(root)
    if before is not None:
        for i, child in enumerate(root):
            if child.tag == before:
                index = i
                break
    root.insert(index, element)
    return element


def _indent(root: ET.Element) -> None:
    ET.indent(root, space="  ")


def _write_xml(tree: ET.ElementTree, path: Path) -> None:
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        tree.getroot(), encoding="utf-8") + b"\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# a running Ardour

_LIVE: set[ArdourHost] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all_hosts() -> None:
    with _LIVE_LOCK:
        hosts = list(_LIVE)
    for host in hosts:
        host.stop()


atexit.register(_stop_all_hosts)


@dataclass
class ArdourHost:
    """A headless Ardour holding one session open with OSC on; use it as a context manager.

    ``home`` (default: a fresh temporary folder, removed on stop) keeps Ardour's config away
    from the user's. ``osc_port`` (default: a free one) is where OSC listens once started;
    Ardour silently moves up when the port was taken meanwhile, so the port actually bound is
    read back from the process.
    """

    session_file: Path
    osc_port: int | None = None
    home: Path | None = None
    startup_timeout_s: float = 30.0
    settle_s: float = 0.5
    log_path: Path | None = field(default=None, init=False)
    spool: Path | None = field(default=None, init=False)
    proc: subprocess.Popen[str] | None = field(default=None, init=False, repr=False)
    startup_s: float = field(default=0.0, init=False)
    attempts: int = field(default=0, init=False)
    _own_home: bool = field(default=False, init=False, repr=False)
    _log: object | None = field(default=None, init=False, repr=False)
    _seq: int = field(default=0, init=False, repr=False)

    def __hash__(self) -> int:
        return id(self)

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> ArdourHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> ArdourHost:
        """Start Ardour and wait until OSC answers with the strip list (one retry on failure)."""
        if self.alive:
            return self
        session_file = Path(self.session_file).resolve()
        if not session_file.is_file():
            raise ArdourError(f"{session_file}: no such session file")
        if not HOST_SCRIPT.is_file():
            raise ArdourError(f"{HOST_SCRIPT}: the Ardour host script is missing")
        t0 = time.monotonic()
        last_error: Exception | None = None
        for attempt in (1, 2):
            self.attempts = attempt
            try:
                self._launch(session_file)
                self._wait_ready()
                self.startup_s = time.monotonic() - t0
                return self
            except ArdourError as exc:
                last_error = exc
                self._teardown()
        raise ArdourError(f"Ardour did not start on {session_file} (2 tries): {last_error}")

    def _launch(self, session_file: Path) -> None:
        if self.home is None or self._own_home:
            self.home = Path(tempfile.mkdtemp(prefix="sb-ardour-"))
            self._own_home = True
        self.home.mkdir(parents=True, exist_ok=True)
        port = self.osc_port if (self.osc_port and self.attempts == 1) else free_udp_port()
        self.osc_port = port
        write_config(self.home, port)
        self.spool = self.home / f"spool-{secrets.token_hex(4)}"
        self.spool.mkdir()
        self.log_path = self.home / "ardour.log"
        env = ardour_env(self.home)
        env.update(SB_SESSION_DIR=str(session_file.parent), SB_SESSION_NAME=session_file.stem,
                   SB_SPOOL=str(self.spool), SB_PARENT_PID=str(os.getpid()))
        log = open(self.log_path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._log = log
        self.proc = subprocess.Popen(
            [lua_tool(), "-X", str(HOST_SCRIPT)], env=env, cwd=str(self.home),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with _LIVE_LOCK:
            _LIVE.add(self)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def _wait_ready(self) -> None:
        from bridge.daw.ardour import OscClient  # the OSC helper lives with the transport

        deadline = time.monotonic() + self.startup_timeout_s
        while "READY\t" not in self.log_text():
            self._check_alive("while loading the session")
            if time.monotonic() > deadline:
                raise ArdourError(f"session not loaded after {self.startup_timeout_s:.0f} s")
            time.sleep(0.05)
        bound: list[int] = []
        while not bound:
            self._check_alive("before OSC was up")
            bound = udp_ports_of(self.proc.pid)  # type: ignore[union-attr]
            if not bound:
                if time.monotonic() > deadline:
                    raise ArdourError("OSC never opened a port")
                time.sleep(0.05)
        # the configured port, or the one Ardour moved to (it scans upwards when taken)
        wanted = self.osc_port or 0
        candidates = [p for p in bound if wanted <= p <= wanted + 20] or bound
        self.osc_port = candidates[0]
        with OscClient(port=self.osc_port) as osc:
            while True:
                self._check_alive("before OSC answered")
                try:
                    # the saved surface settings may not be applied yet: set them each try
                    osc.send("/set_surface", 0, 31, 16384, 0, 0, 0, 0)
                    osc.strip_list(timeout_s=0.5)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise ArdourError("OSC did not answer /strip/list") from None
        time.sleep(self.settle_s)
        self._check_alive("right after start-up")

    def _check_alive(self, when: str) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise ArdourError(f"Ardour exited (code {code}) {when}:\n{_tail(self.log_text())}")

    def request(self, *lines: Sequence[str], timeout_s: float = 20.0) -> list[str]:
        """Send requests to the host script (see bridge_host.lua); returns one answer each.

        Each request is a sequence of words; an ``error`` answer raises :class:`ArdourError`.
        """
        if not self.alive or self.spool is None:
            raise ArdourError("Ardour is not running")
        for words in lines:
            for w in words:
                if "\t" in w or "\n" in w:
                    raise ArdourError(f"request word {w!r} holds a tab or line break")
        self._seq += 1
        rid = f"r{self._seq:06d}"
        part = self.spool / f"{rid}.part"
        part.write_text("".join("\t".join(words) + "\n" for words in lines), encoding="utf-8")
        os.replace(part, self.spool / f"{rid}.req")
        with open(self.spool / "queue", "a", encoding="utf-8") as fh:
            fh.write(rid + "\n")
        answer = self.spool / f"{rid}.res"
        deadline = time.monotonic() + timeout_s
        while not answer.exists():
            self._check_alive(f"while answering {rid}")
            if time.monotonic() > deadline:
                raise ArdourError(f"no answer to {rid} after {timeout_s:.0f} s")
            time.sleep(0.02)
        replies = answer.read_text(encoding="utf-8").splitlines()
        answer.unlink(missing_ok=True)
        results = []
        for words, reply in zip(lines, replies, strict=False):
            status, _, detail = reply.partition("\t")
            if status != "ok":
                raise ArdourError(f"Ardour refused {' '.join(words)!r}: {detail}")
            results.append(detail)
        if len(results) != len(lines):
            raise ArdourError(f"{rid}: {len(lines)} requests, {len(results)} answers")
        return results

    def stop(self, timeout_s: float = 8.0) -> None:
        """Ask the session to close, then make sure the whole process group is gone."""
        if self.proc is not None and self.proc.poll() is None and self.spool is not None:
            try:
                (self.spool / "stop").touch()
                self.proc.wait(timeout=timeout_s)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._teardown()
        if self._own_home and self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def _teardown(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)
            self.proc = None
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None
        with _LIVE_LOCK:
            _LIVE.discard(self)


# --------------------------------------------------------------------------------------------
# export


@dataclass
class StemExport:
    stems: dict[str, Path] = field(default_factory=dict)
    """route id -> WAV file."""
    problems: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def export_stems(session_file: Path, out_dir: Path, route_ids: Sequence[str] | None = None,
                 *, timeout_s: float = 60.0) -> StemExport:
    """Render each track alone (soloed) through Ardour's export: one WAV per route id.

    Works on a private copy of the session file (audio linked, not copied), so a live Ardour
    on the same session is not disturbed. One ``ardour7-lua`` process per stem; each result is
    checked on disk (a crash at shutdown after a good file is not a failure, an empty file is).
    """
    import soundfile as sf

    t0 = time.monotonic()
    session_file = Path(session_file).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if route_ids is None:
        from bridge.session.ardour import load_session

        route_ids = [t.guid for t in load_session(session_file).tracks]
    result = StemExport()
    work = Path(tempfile.mkdtemp(prefix="sb-ardour-export-"))
    try:
        copy = work / "session"
        copy.mkdir()
        shutil.copy2(session_file, copy / session_file.name)
        for sub in ("interchange", "externals"):
            if (session_file.parent / sub).exists():
                (copy / sub).symlink_to(session_file.parent / sub)
        for rid in route_ids:
            if not str(rid).isdigit():
                result.problems[rid] = "not an Ardour route id"
                continue
            stem_dir = work / f"out-{rid}"
            stem_dir.mkdir()
            script = _EXPORT_LUA.format(dir=lua_string(str(copy)),
                                        name=lua_string(session_file.stem), rid=rid,
                                        out=lua_string(str(stem_dir)),
                                        stem=lua_string(f"stem-{rid}"), preset=WAV_PRESET)
            try:
                run = run_lua(script, home=work / "home", timeout_s=timeout_s)
                log = run.stdout
            except ArdourError as exc:
                log = str(exc)
            wavs = sorted(stem_dir.glob("*.wav"))
            good = None
            for wav in wavs:
                try:
                    if sf.info(str(wav)).frames > 0:
                        good = wav
                        break
                except Exception:  # noqa: BLE001 - a broken file is reported below
                    continue
            if good is None:
                result.problems[rid] = f"no audio written:\n{_tail(log, 8)}"
                continue
            target = out_dir / f"{rid}.wav"
            shutil.move(str(good), target)
            result.stems[rid] = target
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.seconds = time.monotonic() - t0
    return result


_EXPORT_LUA = """
local ok = load_session({dir}, {name})
if not ok then print("FAILED load") os.exit(3) end
local ng = PBD.GroupControlDisposition.NoGroup
local target = Session:route_by_id(PBD.ID("{rid}"))
if target:isnil() then print("FAILED no route") os.exit(4) end
for r in Session:get_routes():iter() do
  if not r:is_master() and not r:is_monitor() then
    local on = r:to_stateful():id():to_s() == "{rid}"
    r:solo_control():set_value(on and 1 or 0, ng)
  end
end
-- let the process thread apply the solo before the export starts
ARDOUR.LuaAPI.usleep(200000)
local e = Session:simple_export()
e:set_folder({out})
e:set_name({stem})
if not e:set_preset("{preset}") then print("FAILED preset") os.exit(5) end
local done = e:run_export()
print("EXPORTED", done)
io.stdout:flush()
-- leave at once: tearing the session down after an export sometimes crashes in 7.3
os.exit(done and 0 or 6)
"""
