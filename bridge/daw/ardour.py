"""Apply a Plan to a running Ardour over its OSC surface, checking every change.

Ardour's OSC setters send no acknowledgement, so every edit is read back: names and mute from
``/strip/list``, fader dB from ``/strip/gain``, EQ parameters from the plug-in descriptor. An
edit that does not read back as asked is reported as failed, never assumed done.

Example::

    with ArdourOsc(port=3819) as daw:
        report = daw.apply(plan)
        daw.save()
    print(report)

Ardour facts behind the code (7.3): gain must be sent as an OSC float (an int is ignored);
list replies come as ``/reply`` when feedback bit 14 (16384) is set, which python-osc parses
(``#reply`` it cannot); strips are numbered 1.. in ``/strip/list`` order. ACE EQ ("a-EQ") has a
low shelf, four peaking bands and a high shelf; high- and low-pass moves go to "ACE High/Low
Pass Filter". OSC cannot insert plug-ins or colour tracks: that goes through the host script's
request spool (:class:`bridge.daw.ardour_runtime.ArdourHost`) when Ardour was started by us.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.plan import Edit, Plan, RenameTrack, SetColor, SetEqBand, SetMute, SetPan, SetVolume

GAIN_TOLERANCE_DB = 0.1
"""OSC reports gain through Ardour's fader curve, so it reads back within about 0.1 dB (the
saved session holds the exact value)."""

ACE_EQ = "ACE EQ"
HPLP = "ACE High/Low Pass Filter"


class OscError(RuntimeError):
    """Ardour did not answer, or answered something unexpected."""


# --------------------------------------------------------------------------------------------
# the wire


class OscClient:
    """One UDP socket on 127.0.0.1 that sends OSC to Ardour and reads its replies.

    Ardour (``address-only=0``) answers to the port a message came from, so sending and
    receiving share this socket.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 3819) -> None:
        self.address = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def __enter__(self) -> OscClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, address: str, *args: Any) -> None:
        builder = OscMessageBuilder(address=address)
        for arg in args:
            if isinstance(arg, bool):
                builder.add_arg(int(arg), OscMessageBuilder.ARG_TYPE_INT)
            elif isinstance(arg, int):
                builder.add_arg(arg, OscMessageBuilder.ARG_TYPE_INT)
            elif isinstance(arg, float):
                builder.add_arg(arg, OscMessageBuilder.ARG_TYPE_FLOAT)
            else:
                builder.add_arg(str(arg), OscMessageBuilder.ARG_TYPE_STRING)
        self.sock.sendto(builder.build().dgram, self.address)

    def drain(self) -> None:
        """Drop replies nobody waited for."""
        self.sock.settimeout(0.0)
        try:
            while True:
                self.sock.recvfrom(65536)
        except (BlockingIOError, OSError):
            pass

    def receive(self, timeout_s: float) -> OscMessage | None:
        """The next message (bundles unpacked in order), or None after ``timeout_s``."""
        self.sock.settimeout(max(timeout_s, 0.001))
        try:
            data, _ = self.sock.recvfrom(65536)
        except TimeoutError:
            return None
        if OscBundle.dgram_is_bundle(data):
            bundle = OscBundle(data)
            for part in bundle:
                if isinstance(part, OscMessage):
                    return part
            return None
        try:
            return OscMessage(data)
        except Exception:  # noqa: BLE001 - an unparsable reply is skipped, not fatal
            return None

    def collect(self, until: str, timeout_s: float = 2.0) -> list[OscMessage]:
        """Messages up to and including the first whose address (or first arg) is ``until``."""
        out: list[OscMessage] = []
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {until!r} from Ardour within {timeout_s:.1f} s")
            msg = self.receive(left)
            if msg is None:
                continue
            out.append(msg)
            if msg.address == until or (msg.params and msg.params[0] == until):
                return out

    def query(self, address: str, *args: Any, reply: str | None = None,
              timeout_s: float = 1.0) -> OscMessage:
        """Send and wait for the first reply at ``reply`` (default: the same address)."""
        self.drain()
        self.send(address, *args)
        want = reply or address
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {want} reply to {address} {list(args)}")
            msg = self.receive(left)
            if msg is not None and msg.address == want:
                return msg

    def strip_list(self, timeout_s: float = 2.0) -> list[Strip]:
        """Every strip Ardour shows over OSC, in its order (ssid 1..)."""
        self.drain()
        self.send("/strip/list")
        strips = []
        for msg in self.collect("end_route_list", timeout_s):
            p = msg.params
            if msg.address == "/reply" and len(p) >= 7 and p[0] != "end_route_list":
                strips.append(Strip(kind=str(p[0]), name=str(p[1]), inputs=int(p[2]),
                                    outputs=int(p[3]), mute=bool(p[4]), solo=bool(p[5]),
                                    ssid=int(p[6])))
        return strips


@dataclass(frozen=True)
class Strip:
    kind: str
    """``AT`` audio track, ``MT`` MIDI track, ``B`` bus, ``MB`` MIDI bus, ``V`` VCA, ..."""
    name: str
    inputs: int
    outputs: int
    mute: bool
    solo: bool
    ssid: int


@dataclass(frozen=True)
class PluginParam:
    index: int
    """1-based, as ``/strip/plugin/parameter`` numbers them."""
    name: str
    value: float
    minimum: float
    maximum: float


# --------------------------------------------------------------------------------------------
# EQ mapping


@dataclass(frozen=True)
class EqTarget:
    """Where one Plan EQ band lands: a plug-in and its parameters by name."""

    plugin: str
    values: dict[str, float]


def ace_eq_target(edit: SetEqBand) -> EqTarget:
    """Map a Plan EQ band onto ACE EQ (or the ACE high/low-pass filter) parameter values.

    ``band`` 0..3 picks peaking section 1..4; shelves go to ACE EQ's low/high shelf whatever
    the band number; a notch is a peaking band at ACE EQ's deepest cut (-20 dB); Q becomes
    bandwidth in octaves. Values are clamped to the plug-in's ranges.
    """
    freq = min(max(edit.freq_hz, 20.0), 20000.0)
    gain = min(max(edit.gain_db, -20.0), 20.0)
    if edit.band_type == "low_shelf":
        return EqTarget(ACE_EQ, {"Frequency L": freq, "Gain L": gain, "Filter L": 1.0})
    if edit.band_type == "high_shelf":
        return EqTarget(ACE_EQ, {"Frequency H": freq, "Gain H": gain, "Filter H": 1.0})
    if edit.band_type in ("band", "notch"):
        section = edit.band % 4 + 1
        bw = min(max(q_to_octaves(edit.q), 0.1), 4.0)
        if edit.band_type == "notch":
            gain = -20.0
        return EqTarget(ACE_EQ, {f"Frequency {section}": freq, f"Gain {section}": gain,
                                 f"Bandwidth {section}": bw, f"Filter {section}": 1.0})
    if edit.band_type == "high_pass":
        return EqTarget(HPLP, {"High Pass Steepness": 2.0,
                               "High Pass Cut off frequency": min(max(edit.freq_hz, 5.0), 20000),
                               "High Pass Resonance": min(max(edit.q, 0.1), 6.0)})
    if edit.band_type == "low_pass":
        return EqTarget(HPLP, {"Low Pass Steepness": 2.0,
                               "Low Pass Cut off frequency": freq,
                               "Low Pass Resonance": min(max(edit.q, 0.1), 6.0)})
    raise ValueError(f"unknown band type {edit.band_type!r}")


def q_to_octaves(q: float) -> float:
    """Peaking-filter Q to bandwidth in octaves (Q 1.41 ~ 1 octave)."""
    x = 1.0 / (2.0 * q)
    return 2.0 / math.log(2.0) * math.asinh(x)


# --------------------------------------------------------------------------------------------
# the transport


@dataclass
class EditResult:
    edit: Edit
    ok: bool
    detail: str = ""


@dataclass
class ApplyReport:
    results: list[EditResult] = field(default_factory=list)
    saved: bool = False
    seconds: float = 0.0

    @property
    def applied(self) -> list[Edit]:
        return [r.edit for r in self.results if r.ok]

    @property
    def failed(self) -> list[EditResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [f"{'ok ' if r.ok else 'FAILED '} {r.edit}" + (f": {r.detail}" if r.detail else "")
                 for r in self.results]
        lines.append(f"{len(self.applied)} applied, {len(self.failed)} failed"
                     f"{', session saved' if self.saved else ''} in {self.seconds:.2f} s")
        return "\n".join(lines)


class ArdourOsc:
    """A Plan transport for a running Ardour.

    ``routes`` maps route ids (the Plan's track GUIDs) to track names; normally it is read from
    the session file (:func:`bridge.session.ardour.load_session`) and matched with the live
    strip list by name, then by order. ``host`` (an :class:`ArdourHost`) adds what OSC cannot
    do: inserting EQ plug-ins and setting colours.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 3819, *,
                 routes: Sequence[tuple[str, str]] = (), lua_host: Any = None,
                 timeout_s: float = 1.0) -> None:
        self.client = OscClient(host, port)
        self.routes = list(routes)
        self.lua_host = lua_host
        self.timeout_s = timeout_s
        self._ssid: dict[str, int] = {}
        self._names: dict[str, str] = dict(self.routes)
        self.client.send("/set_surface", 0, 31, 16384, 0, 0, 0, 0)

    def __enter__(self) -> ArdourOsc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    # -- discovery -----------------------------------------------------------------------------

    def strips(self) -> list[Strip]:
        for attempt in range(3):
            try:
                return self.client.strip_list(timeout_s=2.0)
            except TimeoutError:
                if attempt == 2:
                    raise OscError("Ardour did not answer /strip/list") from None
                self.client.send("/set_surface", 0, 31, 16384, 0, 0, 0, 0)
        return []

    def map_strips(self) -> dict[str, int]:
        """Route id -> ssid: by unique name first, then by order among tracks and busses."""
        strips = [s for s in self.strips() if s.kind != "V"]
        mapping: dict[str, int] = {}
        used: set[int] = set()
        by_name: dict[str, list[Strip]] = {}
        for s in strips:
            by_name.setdefault(s.name, []).append(s)
        for rid, name in self.routes:
            same = by_name.get(name, [])
            if len(same) == 1:
                mapping[rid] = same[0].ssid
                used.add(same[0].ssid)
        if len(self.routes) == len(strips):
            for (rid, _), s in zip(self.routes, strips, strict=True):
                if rid not in mapping and s.ssid not in used:
                    mapping[rid] = s.ssid
                    used.add(s.ssid)
        self._ssid = mapping
        return mapping

    def ssid(self, route_id: str) -> int:
        if route_id not in self._ssid:
            self.map_strips()
        if route_id not in self._ssid:
            raise OscError(f"track {route_id} is not among Ardour's strips (renamed, hidden or "
                           "removed since the session was saved?)")
        return self._ssid[route_id]

    # -- reading back --------------------------------------------------------------------------

    def strip(self, ssid: int) -> Strip:
        for s in self.strips():
            if s.ssid == ssid:
                return s
        raise OscError(f"no strip {ssid}")

    def gain_db(self, ssid: int) -> float:
        msg = self.client.query("/strip/gain", ssid, timeout_s=self.timeout_s)
        return float(msg.params[-1])

    def pan(self, ssid: int) -> float:
        msg = self.client.query("/strip/pan_stereo_position", ssid, timeout_s=self.timeout_s)
        # OSC shows Ardour's panner the way its knob does: 1 = left, 0 = right
        return 1.0 - 2.0 * float(msg.params[-1])

    def plugins(self, ssid: int) -> list[tuple[int, str]]:
        """(plug-in id, name) on a strip, in chain order."""
        msg = self.client.query("/strip/plugin/list", ssid, timeout_s=self.timeout_s)
        p = list(msg.params)
        out = []
        # reply: ssid, then (piid, name, active) triples
        i = 1
        while i + 1 < len(p):
            out.append((int(p[i]), str(p[i + 1])))
            i += 3
        return out

    def plugin_params(self, ssid: int, piid: int) -> dict[str, PluginParam]:
        self.client.drain()
        self.client.send("/strip/plugin/descriptor", ssid, piid)
        params: dict[str, PluginParam] = {}
        for msg in self.client.collect("/strip/plugin/descriptor_end", 2.0):
            if msg.address != "/strip/plugin/descriptor":
                continue
            p = list(msg.params)
            # ssid, piid, param id, name, flags, type, min, max, print, ...(scale points), value
            if len(p) < 9:
                continue
            params[str(p[3])] = PluginParam(index=int(p[2]), name=str(p[3]),
                                            value=float(p[-1]), minimum=float(p[6]),
                                            maximum=float(p[7]))
        return params

    # -- applying ------------------------------------------------------------------------------

    def apply(self, plan: Plan | Sequence[Edit], *, save: bool = False) -> ApplyReport:
        """Apply each edit, read it back, and optionally save the session; never raises for
        one bad edit (it is reported and the rest continue)."""
        t0 = time.monotonic()
        report = ApplyReport()
        self.map_strips()
        for edit in plan:
            try:
                detail = self.apply_edit(edit)
                report.results.append(EditResult(edit, True, detail))
            except (OscError, TimeoutError, ValueError) as exc:
                report.results.append(EditResult(edit, False, str(exc)))
        if save:
            self.save()
            report.saved = True
        report.seconds = time.monotonic() - t0
        return report

    def apply_edit(self, edit: Edit) -> str:
        ssid = self.ssid(edit.track)
        if isinstance(edit, RenameTrack):
            self.client.send("/strip/name", ssid, edit.name)
            return self._wait_for(lambda: self.strip(ssid).name == edit.name,
                                  f"name still not {edit.name!r}")
        if isinstance(edit, SetVolume):
            target = max(edit.volume_db, -193.0)
            self.client.send("/strip/gain", ssid, float(target))
            got = 0.0

            def check() -> bool:
                nonlocal got
                got = self.gain_db(ssid)
                return abs(got - target) <= GAIN_TOLERANCE_DB or (target < -150 and got < -150)

            self._wait_for(check, f"gain reads {got:+.2f} dB, asked {target:+.2f}")
            return f"reads {got:+.2f} dB"
        if isinstance(edit, SetMute):
            self.client.send("/strip/mute", ssid, 1 if edit.mute else 0)
            return self._wait_for(lambda: self.strip(ssid).mute == edit.mute,
                                  "mute did not change")
        if isinstance(edit, SetPan):
            position = (1.0 - edit.pan) / 2.0
            self.client.send("/strip/pan_stereo_position", ssid, float(position))
            return self._wait_for(lambda: abs(self.pan(ssid) - edit.pan) < 0.01,
                                  "pan did not change (mono-to-mono strips have no panner)")
        if isinstance(edit, SetEqBand):
            return self._set_eq(ssid, edit)
        if isinstance(edit, SetColor):
            if self.lua_host is None:
                raise OscError("Ardour's OSC cannot set colours; write it to the session file "
                               "(bridge.session.ardour) or run it through the bridge's host")
            answer = self.lua_host.request(["set_color", edit.track, edit.color.lstrip("#")])
            if not answer[0].lower().startswith(edit.color.lstrip("#").lower()):
                raise OscError(f"colour reads {answer[0]}")
            return f"colour {answer[0]}"
        raise OscError(f"{edit.op} is not something Ardour can do live")

    def _wait_for(self, check: Any, failure: str, timeout_s: float | None = None) -> str:
        # setters are queued to Ardour's process thread: poll briefly until they land
        deadline = time.monotonic() + (timeout_s or max(self.timeout_s, 1.5))
        while True:
            if check():
                return "verified"
            if time.monotonic() > deadline:
                raise OscError(failure)
            time.sleep(0.03)

    def _find_plugin(self, ssid: int, name: str) -> int | None:
        for piid, pname in self.plugins(ssid):
            if pname == name:
                return piid
        return None

    def _set_eq(self, ssid: int, edit: SetEqBand) -> str:
        target = ace_eq_target(edit)
        piid = self._find_plugin(ssid, target.plugin)
        inserted = ""
        if piid is None:
            if self.lua_host is None:
                raise OscError(f"strip has no {target.plugin} and Ardour's OSC cannot insert "
                               "plug-ins; add it in Ardour or run through the bridge's host")
            kind = "lv2" if target.plugin == ACE_EQ else "lua"
            uri = "urn:ardour:a-eq" if target.plugin == ACE_EQ else target.plugin
            self.lua_host.request(["insert_plugin", edit.track, uri, kind, "0"])
            piid = self._wait_plugin(ssid, target.plugin)
            inserted = f"inserted {target.plugin}; "
        params = self.plugin_params(ssid, piid)
        for name, value in target.values.items():
            if name not in params:
                raise OscError(f"{target.plugin} has no parameter {name!r}")
            self.client.send("/strip/plugin/parameter", ssid, piid, params[name].index,
                             float(value))
        wanted = target.values

        def check() -> bool:
            now = self.plugin_params(ssid, piid)
            return all(_close(now[n].value, v) for n, v in wanted.items())

        self._wait_for(check, f"{target.plugin} parameters did not read back as set")
        return inserted + ", ".join(f"{n} {v:g}" for n, v in wanted.items())

    def _wait_plugin(self, ssid: int, name: str, timeout_s: float = 3.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            piid = self._find_plugin(ssid, name)
            if piid is not None:
                return piid
            time.sleep(0.05)
        raise OscError(f"{name} was inserted but OSC does not list it")

    def save(self) -> None:
        """Ask Ardour to save the session (``/save_state``); Ardour sends no answer."""
        self.client.send("/save_state")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(1e-3, 1e-3 * abs(b))
