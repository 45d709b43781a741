"""A small OSC transport over UDP: send typed messages, receive them on a background thread.

Transport only: this module knows datagrams, addresses and type tags, never what a message
means to a DAW (that lives in :mod:`bridge.daw.reaper`). Everything binds to the loopback
interface unless told otherwise, and a malformed datagram is counted and dropped, never fatal::

    >>> with OscEndpoint(listen_port=0) as a, OscEndpoint(listen_port=0) as b:
    ...     a.send(("127.0.0.1", b.port), "/track/1/volume/db", [OscArg("f", -6.0)])
    ...     b.wait_for(lambda m: m.address == "/track/1/volume/db", timeout_s=1.0).args
    (-6.0,)
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_message_builder import BuildError, OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError
from pythonosc.parsing import osc_types

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_DATAGRAM = 65507
"""Largest UDP payload; REAPER itself keeps packets near its ``maxpacket`` setting (1024)."""

Address = tuple[str, int]


class OscError(RuntimeError):
    """A message could not be built or sent."""


@dataclass(frozen=True)
class OscArg:
    """One typed OSC argument: ``type`` is an OSC type tag (``f`` float32, ``i`` int32, ``s``
    string, ``T``/``F`` booleans, ...)."""

    type: str
    value: Any = None


@dataclass(frozen=True)
class OscMessage:
    """A received (or about to be sent) message: its address, values and type-tag string."""

    address: str
    args: tuple[Any, ...] = ()
    types: str = ""
    """Type tags without the leading comma, e.g. ``"f"`` or ``"s"``."""
    sender: Address | None = field(default=None, compare=False)
    received_at: float = field(default=0.0, compare=False)
    """``time.monotonic()`` when it arrived."""


def encode(address: str, args: Sequence[OscArg | Any] = ()) -> bytes:
    """One OSC message as a datagram. Plain Python values get python-osc's inferred type;
    wrap a value in :class:`OscArg` to force the tag (``OscArg("f", 1)`` sends float 1.0)."""
    if not address.startswith("/"):
        raise OscError(f"OSC address must start with '/': {address!r}")
    builder = OscMessageBuilder(address=address)
    for arg in args:
        if isinstance(arg, OscArg):
            value = float(arg.value) if arg.type in ("f", "d") else arg.value
            if arg.type == "i":
                value = int(arg.value)
            builder.add_arg(value, arg.type)
        else:
            builder.add_arg(arg)
    try:
        return builder.build().dgram
    except BuildError as exc:
        raise OscError(f"cannot build {address}: {exc}") from None


def decode(dgram: bytes, sender: Address | None = None) -> list[OscMessage]:
    """Every message in a datagram (bundles flattened, in time order); raises
    :class:`ParseError` when the datagram is not OSC."""
    packet = OscPacket(dgram)
    now = time.monotonic()
    out = []
    for timed in packet.messages:
        msg = timed.message
        out.append(OscMessage(msg.address, tuple(msg.params), _type_tags(msg.dgram), sender, now))
    return out


def _type_tags(dgram: bytes) -> str:
    try:
        _, index = osc_types.get_string(dgram, 0)
        if index >= len(dgram):
            return ""
        tags, _ = osc_types.get_string(dgram, index)
    except osc_types.ParseError:
        return ""
    return tags[1:] if tags.startswith(",") else ""


class OscEndpoint:
    """A UDP socket that sends OSC messages and receives them on a daemon thread.

    Received messages go to every subscriber callback and into a bounded history that
    :meth:`wait_for` searches. ``listen_port=0`` picks a free port (see :attr:`port`).
    Binding beyond loopback needs ``host`` set explicitly.
    """

    def __init__(self, listen_port: int = 0, host: str = LOOPBACK, *, history: int = 4096):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, listen_port))
        except OSError as exc:
            self._sock.close()
            raise OscError(f"cannot listen on {host}:{listen_port}: {exc}") from None
        self._sock.settimeout(0.1)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.malformed = 0
        """Datagrams dropped because they were not OSC."""
        self.received = 0
        self._history_max = history
        self._seen: list[OscMessage] = []
        self._cond = threading.Condition()
        self._subscribers: list[Callable[[OscMessage], None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"osc:{self.port}", daemon=True)
        self._thread.start()

    # sending -------------------------------------------------------------------------------
    def send(self, to: Address, address: str, args: Sequence[OscArg | Any] = ()) -> None:
        self.send_raw(to, encode(address, args))

    def send_raw(self, to: Address, dgram: bytes) -> None:
        try:
            self._sock.sendto(dgram, to)
        except OSError as exc:
            raise OscError(f"cannot send to {to[0]}:{to[1]}: {exc}") from None

    # receiving -----------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[OscMessage], None]) -> None:
        """Call ``callback(message)`` on the receive thread for every message that arrives."""
        self._subscribers.append(callback)

    def wait_for(
        self,
        match: Callable[[OscMessage], bool],
        timeout_s: float,
        *,
        since: float | None = None,
    ) -> OscMessage | None:
        """The first message (arrived after ``since``, a ``time.monotonic()`` stamp) for which
        ``match`` is true, waiting up to ``timeout_s``; None on time-out."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for msg in self._seen:
                    if (since is None or msg.received_at >= since) and match(msg):
                        return msg
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def messages(self, since: float | None = None) -> list[OscMessage]:
        with self._cond:
            return [m for m in self._seen if since is None or m.received_at >= since]

    def clear(self) -> None:
        with self._cond:
            self._seen.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                dgram, sender = self._sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            try:
                messages = decode(dgram, sender)
            except (ParseError, ValueError, IndexError, TypeError) as exc:
                self.malformed += 1
                log.debug("dropped malformed datagram from %s: %s", sender, exc)
                continue
            for msg in messages:
                self._deliver(msg)

    def _deliver(self, msg: OscMessage) -> None:
        self.received += 1
        with self._cond:
            self._seen.append(msg)
            if len(self._seen) > self._history_max:
                del self._seen[: len(self._seen) - self._history_max]
            self._cond.notify_all()
        for callback in list(self._subscribers):
            try:
                callback(msg)
            except Exception:  # a bad subscriber must not stop the listener
                log.exception("OSC subscriber failed on %s", msg.address)

    # lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self._sock.close()

    def __enter__(self) -> OscEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_many(
    endpoint: OscEndpoint, to: Address, messages: Iterable[tuple[str, Sequence[OscArg | Any]]],
    *, pause_s: float = 0.0,
) -> int:
    """Send messages in order; an optional pause between them keeps a slow receiver's socket
    buffer from overflowing. Returns how many were sent."""
    count = 0
    for address, args in messages:
        endpoint.send(to, address, args)
        count += 1
        if pause_s:
            time.sleep(pause_s)
    return count
