"""The spool exchange: how REAPER's (and Ardour's) Lua actions ask the bridge for a Plan.

REAPER's Lua has no sockets, so an action writes a request file into a spool folder, polls
for the response with ``reaper.defer`` and applies the Plan it gets back. Ardour's actions
(``bridge/daw_scripts/ardour``) use the same folder with ``"daw": "ardour"``: the project is the
``.ardour`` file, tracks are route ids, and answers carry ``ardour_eq`` (where each EQ band
lands on Ardour's plug-ins, from :func:`bridge.daw.ardour.ace_eq_target`). This module is the
bridge side: it validates each request, calls the handler registered for its action, and
writes the response. The protocol is described in ``docs/reaper-protocol.md``.

Handlers are plain functions ``handler(request: dict) -> Plan`` (or ``(Plan, message)``).
Assistants register theirs where they live::

    from bridge.daw.spool import handler

    @handler("label")
    def label_request(request: dict) -> Plan:
        ...

The modules in :data:`HANDLER_MODULES` are imported on first use of their action, so an
assistant only needs the decorator. A request never makes the bridge run code it names or
write anywhere but the spool folder: the action must be registered, the ID must be a plain
file name, and paths a handler writes to must pass :func:`inside`.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.plan import STRICT_JSON_SILENCE_DB, Plan
from bridge.session.project_file import temp_file_beside

log = logging.getLogger(__name__)

PROTOCOL = 1
MAX_REQUEST_BYTES = 8 * 1024 * 1024
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
GUID_RE = re.compile(
    r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$"
)
ROUTE_ID_RE = re.compile(r"^[0-9]{1,20}$")
"""Ardour names a track by its route id (a PBD::ID, a decimal number), not by a GUID."""
DAWS = {"reaper": (".rpp", "a REAPER project (.rpp)", GUID_RE, "GUID"),
        "ardour": (".ardour", "an Ardour session (.ardour)", ROUTE_ID_RE, "route id")}
"""``daw`` in a request -> project suffix, its description, track id pattern, id name."""
HEARTBEAT_FILE = "bridge.json"

HANDLER_MODULES: dict[str, str] = {
    "label": "bridge.assist.actions",
    "starter_mix": "bridge.assist.actions",
    "suggest_eq": "bridge.assist.actions",
    "cleanup": "bridge.assist.actions",
}
"""Action -> the module that registers its handler (imported when the action is first used)."""

HandlerResult = Plan | tuple[Plan, str]
Handler = Callable[[dict[str, Any]], HandlerResult]


class RequestError(ValueError):
    """A request is malformed or asks for something the bridge will not do."""


# ------------------------------------------------------------------------------------------
# folders and files
# ------------------------------------------------------------------------------------------


def default_data_dir() -> Path:
    """Where the bridge keeps its own files: ``$STUDIO_BRIDGE_DATA``, else the platform's
    per-user data folder (``~/.local/share/studio-bridge``, ``~/Library/Application
    Support/studio-bridge``, ``%APPDATA%/studio-bridge``)."""
    env = os.environ.get("STUDIO_BRIDGE_DATA")
    if env:
        return Path(env).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / "studio-bridge"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "studio-bridge"
    return Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share")) / "studio-bridge"


def default_spool_dir() -> Path:
    return default_data_dir() / "reaper-spool"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


WIRE_SILENCE_DB = STRICT_JSON_SILENCE_DB
"""-inf dB on the wire (strict JSON has no infinities); REAPER treats anything below its
-150 dB fader floor as silence."""


def plan_to_wire(plan: Plan) -> dict[str, Any]:
    """The Plan as strict JSON data: -inf/inf become -/+1000, NaN becomes null."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None if math.isnan(value) else math.copysign(-WIRE_SILENCE_DB, value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean(json.loads(plan.to_json(indent=None)))


def inside(path: str | Path, root: str | Path) -> Path:
    """``path`` resolved, if it lies inside ``root``; else :class:`RequestError`.

    >>> inside("/music/song/stems", "/music/song").as_posix()
    '/music/song/stems'
    """
    resolved = Path(path).expanduser().resolve()
    base = Path(root).expanduser().resolve()
    if resolved != base and base not in resolved.parents:
        raise RequestError(f"{path} is outside {base}")
    return resolved


# ------------------------------------------------------------------------------------------
# handlers
# ------------------------------------------------------------------------------------------


class HandlerRegistry:
    """Action name -> handler; modules named in ``modules`` are imported on first use."""

    def __init__(self, modules: dict[str, str] | None = None):
        self._handlers: dict[str, Handler] = {}
        self._modules = dict(HANDLER_MODULES if modules is None else modules)
        self._lock = threading.Lock()

    def register(self, name: str, fn: Handler | None = None, *, replace: bool = True) -> Any:
        """``register("label", fn)`` or ``@register("label")``."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
            raise ValueError(f"action names are lower_snake_case: {name!r}")

        def add(func: Handler) -> Handler:
            with self._lock:
                if not replace and name in self._handlers:
                    raise ValueError(f"a handler for {name!r} is already registered")
                self._handlers[name] = func
            return func

        return add(fn) if fn is not None else add

    def unregister(self, name: str) -> None:
        with self._lock:
            self._handlers.pop(name, None)

    def get(self, name: str) -> Handler:
        """The handler for ``name``, importing its module if needed; :class:`RequestError`
        naming what is missing otherwise."""
        found = self._handlers.get(name)
        if found is not None:
            return found
        module = self._modules.get(name)
        if module is None:
            known = ", ".join(sorted(set(self._handlers) | set(self._modules))) or "none"
            raise RequestError(f"unknown action {name!r} (known: {known})")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RequestError(f"{name!r} is not available yet: cannot import {module} "
                               f"({exc})") from None
        found = self._handlers.get(name)
        if found is None:
            raise RequestError(f"{name!r} is not available yet: {module} registers no handler")
        return found

    def has(self, name: str) -> bool:
        """True when a handler is registered now (without importing anything)."""
        return name in self._handlers

    def names(self) -> list[str]:
        return sorted(set(self._handlers) | set(self._modules))


registry = HandlerRegistry()
"""The bridge's registry; :func:`handler` adds to it."""


def handler(name: str) -> Callable[[Handler], Handler]:
    """Decorator: make ``fn`` the bridge's handler for the REAPER action ``name``."""
    return registry.register(name)


# ------------------------------------------------------------------------------------------
# requests
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpoolPaths:
    root: Path

    @property
    def requests(self) -> Path:
        return self.root / "requests"

    @property
    def responses(self) -> Path:
        return self.root / "responses"

    @property
    def status(self) -> Path:
        return self.root / "status"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    @property
    def heartbeat(self) -> Path:
        return self.root / HEARTBEAT_FILE

    def make(self) -> None:
        for folder in (self.requests, self.responses, self.status, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)


def _string(value: Any, what: str, *, limit: int = 4096) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > limit:
        raise RequestError(f"{what} must be a text string")
    return value


def validate_request(data: Any, request_id: str) -> dict[str, Any]:
    """Check a decoded request and return it normalised (``project`` resolved, ``project_dir``
    added). Raises :class:`RequestError` naming the first problem."""
    if not isinstance(data, dict):
        raise RequestError("a request is a JSON object")
    if data.get("protocol") != PROTOCOL:
        raise RequestError(f"protocol {data.get('protocol')!r} is not {PROTOCOL}")
    if data.get("id") != request_id:
        raise RequestError(f"id {data.get('id')!r} does not match the file name {request_id!r}")
    action = _string(data.get("action"), "action", limit=64)
    daw = data.get("daw", "reaper")
    if daw not in DAWS:
        raise RequestError(f"daw {daw!r} is not one of {', '.join(sorted(DAWS))}")
    suffix, project_kind, id_re, id_name = DAWS[daw]
    project_text = _string(data.get("project", ""), "project")
    if not project_text:
        raise RequestError("the project has not been saved yet: save it, then run the action")
    project = Path(project_text)
    if not project.is_absolute():
        raise RequestError(f"project path {project_text!r} is not absolute")
    if project.suffix.lower() != suffix:
        raise RequestError(f"{project_text!r} is not {project_kind}")
    project = project.resolve()
    if not project.is_file():
        raise RequestError(f"project {project} does not exist")
    tracks = data.get("tracks", [])
    if not isinstance(tracks, list):
        raise RequestError("tracks must be a list")
    clean_tracks = []
    for i, track in enumerate(tracks):
        if not isinstance(track, dict):
            raise RequestError(f"tracks[{i}] must be an object")
        guid = _string(track.get("guid"), f"tracks[{i}].guid", limit=64)
        if not id_re.match(guid):
            raise RequestError(f"tracks[{i}].guid {guid!r} is not a {id_name}")
        index = track.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise RequestError(f"tracks[{i}].index must be a whole number >= 0")
        items = track.get("items", [])
        if not isinstance(items, list):
            raise RequestError(f"tracks[{i}].items must be a list")
        clean_items = []
        for j, item in enumerate(items):
            if not isinstance(item, dict):
                raise RequestError(f"tracks[{i}].items[{j}] must be an object")
            source = item.get("source", "")
            _string(source, f"tracks[{i}].items[{j}].source")
            clean_items.append(dict(item))
        clean_tracks.append(
            {**track, "guid": guid, "name": _string(track.get("name", ""), "name"),
             "index": index, "items": clean_items}
        )
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise RequestError("options must be an object")
    out = dict(data)
    out.update(action=action, daw=daw, project=str(project), project_dir=str(project.parent),
               tracks=clean_tracks, options=options)
    return out


# ------------------------------------------------------------------------------------------
# the bridge side of the exchange
# ------------------------------------------------------------------------------------------


class SpoolServer:
    """Answers requests found in ``spool/requests``. Run :meth:`poll_once` from a loop, or
    :meth:`serve` on a thread; both survive any malformed request or failing handler."""

    def __init__(
        self,
        spool_dir: str | Path | None = None,
        registry_: HandlerRegistry | None = None,
        *,
        pending: Any | None = None,
    ):
        self.paths = SpoolPaths(Path(spool_dir) if spool_dir is not None else default_spool_dir())
        self.paths.make()
        self.registry = registry_ if registry_ is not None else registry
        if pending is None:
            from bridge.daw.pending import PendingPlans

            pending = PendingPlans(self.paths.root.parent / "pending")
        self.pending = pending
        self.handled = 0
        self.failed = 0
        self._builtins: dict[str, Handler] = {
            "apply_pending": self._apply_pending,
            "render": render_handler,
        }

    # heartbeat: the Lua side checks it before waiting for an answer
    def beat(self) -> None:
        write_json_atomic(self.paths.heartbeat,
                          {"protocol": PROTOCOL, "pid": os.getpid(), "time": time.time()})

    def poll_once(self) -> int:
        """Answer every waiting request; returns how many were answered."""
        count = 0
        for path in sorted(self.paths.requests.glob("*.json")):
            self.handle_file(path)
            count += 1
        return count

    def serve(self, stop: threading.Event, interval_s: float = 0.1) -> None:
        last_beat = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now - last_beat >= 1.0:
                self.beat()
                last_beat = now
            try:
                self.poll_once()
            except Exception:  # never let one bad cycle stop the exchange
                log.exception("spool poll failed")
            stop.wait(interval_s)

    def handle_file(self, path: Path) -> dict[str, Any] | None:
        request_id = path.stem
        if not ID_RE.match(request_id):
            self._reject(path, f"bad request file name {path.name!r}")
            return None
        try:
            size = path.stat().st_size
            if size > MAX_REQUEST_BYTES:
                raise RequestError(f"request is {size} bytes (limit {MAX_REQUEST_BYTES})")
            try:
                data = json.loads(path.read_bytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RequestError(f"{path.name}: not JSON: {exc}") from None
            request = validate_request(data, request_id)
        except FileNotFoundError:
            return None
        except (RequestError, OSError) as exc:
            response = self._error(request_id, str(exc))
            self._reject(path, str(exc))
            return response
        self._status(request_id, "working", f"{request['action']}: working")
        response = self._run(request)
        write_json_atomic(self.paths.responses / f"{request_id}.json", response)
        self._finish(path, request_id)
        return response

    def _run(self, request: dict[str, Any]) -> dict[str, Any]:
        action = request["action"]
        base = {"protocol": PROTOCOL, "id": request["id"], "action": action}
        try:
            fn = None if self.registry.has(action) else self._builtins.get(action)
            fn = fn or self.registry.get(action)
            result = fn(request)
            message = ""
            if isinstance(result, tuple):
                result, message = result
            if not isinstance(result, Plan):
                raise TypeError(f"handler returned {type(result).__name__}, not a Plan")
            self.handled += 1
            response = {**base, "status": "ok", "plan": plan_to_wire(result),
                        "message": message or result.describe(),
                        "title": request.get("title") or _TITLES.get(action, action)}
            if request.get("daw") == "ardour":
                response["ardour_eq"] = ardour_eq_targets(result)
            return response
        except RequestError as exc:
            self.failed += 1
            return {**base, "status": "error", "error": str(exc)}
        except Exception as exc:
            self.failed += 1
            log.exception("handler for %s failed", action)
            return {**base, "status": "error", "error": f"{action} failed: {exc}"}

    def _apply_pending(self, request: dict[str, Any]) -> HandlerResult:
        found = self.pending.take(request["project"])
        if found is None:
            raise RequestError("no pending plan for this project")
        plan, meta = found
        return plan, f"{meta.get('title', 'pending plan')}: {len(plan)} change(s)"

    def _error(self, request_id: str, message: str) -> dict[str, Any]:
        self.failed += 1
        response = {"protocol": PROTOCOL, "id": request_id, "status": "error", "error": message}
        if ID_RE.match(request_id):
            write_json_atomic(self.paths.responses / f"{request_id}.json", response)
        return response

    def _status(self, request_id: str, state: str, message: str) -> None:
        write_json_atomic(self.paths.status / f"{request_id}.json",
                          {"id": request_id, "state": state, "message": message})

    def _finish(self, path: Path, request_id: str) -> None:
        for leftover in (path, self.paths.status / f"{request_id}.json"):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass

    def _reject(self, path: Path, why: str) -> None:
        log.warning("rejected %s: %s", path.name, why)
        target = self.paths.rejected / path.name
        try:
            os.replace(path, target)
        except OSError:
            try:
                path.unlink()
            except OSError:
                pass


_TITLES = {
    "label": "Label stems",
    "starter_mix": "Starter mix",
    "suggest_eq": "Suggest EQ",
    "cleanup": "Clean up selected items",
    "render": "Render stems",
    "apply_pending": "Apply pending plan",
}


def request_session(request: dict[str, Any]) -> Any:
    """The request's project read into a :class:`bridge.session.Session` (REAPER or Ardour:
    :func:`bridge.session.load_session` picks the reader from the file)."""
    from bridge.session import load_session

    return load_session(request["project"])


def ardour_eq_targets(plan: Plan) -> list[dict[str, Any] | None]:
    """For each edit, where an EQ band lands on Ardour's plug-ins (None for other edits).

    The mapping lives once, in :func:`bridge.daw.ardour.ace_eq_target`; Ardour's Lua actions
    set these parameters by name instead of repeating it.
    """
    from bridge.daw.ardour import ACE_EQ, ace_eq_target
    from bridge.plan import SetEqBand

    out: list[dict[str, Any] | None] = []
    for edit in plan:
        if not isinstance(edit, SetEqBand):
            out.append(None)
            continue
        target = ace_eq_target(edit)
        lv2 = target.plugin == ACE_EQ
        out.append({"plugin": target.plugin, "kind": "lv2" if lv2 else "lua",
                    "uri": "urn:ardour:a-eq" if lv2 else target.plugin,
                    "values": dict(target.values)})
    return out


def render_handler(request: dict[str, Any]) -> HandlerResult:
    """After "Render stems": check the stems landed inside the project folder, list them.

    Analysis of the stems belongs to the assistants; this answers with an empty Plan."""
    stems_text = request["options"].get("stems_dir", "")
    _string(stems_text, "options.stems_dir")
    if not stems_text:
        raise RequestError("options.stems_dir is missing")
    stems = inside(stems_text, request["project_dir"])
    if not stems.is_dir():
        raise RequestError(f"no stems folder at {stems}")
    files = sorted(p.name for p in stems.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    return Plan(), f"{len(files)} stem(s) in {stems}"
