"""Install the Studio Bridge actions and OSC surface into a REAPER resource folder.

What :func:`install` does, each step idempotent (running it twice changes nothing more):

1. copies ``daw_scripts/reaper/*.lua`` and the DAW-neutral ``daw_scripts/common/*.lua``
   (``studio_bridge_core.lua``, which ``studio_bridge.lua`` loads from its own folder) to
   ``<resource>/Scripts/StudioBridge/`` and writes ``studio_bridge_settings.json`` there
   (spool folder, OSC ports) for the Lua side;
2. registers each action in ``reaper-kb.ini`` with a fixed custom command ID::

       SCR 4 0 STUDIO_BRIDGE_LABEL_STEMS "Custom: Studio Bridge: Label stems" "StudioBridge/..."

   so it runs as ``_STUDIO_BRIDGE_LABEL_STEMS`` (from the Action List, a toolbar, or OSC
   ``/action/_STUDIO_BRIDGE_LABEL_STEMS``);
3. adds an OSC control surface to ``reaper.ini`` (``csurf_cnt`` / ``csurf_<n>``) that listens
   on loopback ports not used by other surfaces, with REAPER's own ``Default.ReaperOSC``.

Each ini file touched is first copied to ``<file>.studio-bridge-backup`` (once: the copy is
the state before the first install). :func:`uninstall` removes exactly the lines it added and
renumbers the remaining surfaces, so untouched files come back byte for byte.
REAPER rewrites ``reaper.ini`` when it quits: install while REAPER is closed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bridge.daw.reaper import FEEDBACK_PORT, REAPER_OSC_PORT
from bridge.daw.spool import default_spool_dir, write_json_atomic

SCRIPTS_SOURCE = Path(__file__).resolve().parents[1] / "daw_scripts" / "reaper"
COMMON_SOURCE = SCRIPTS_SOURCE.parent / "common"
"""DAW-neutral Lua shared with the Ardour actions; installed beside the REAPER scripts."""
INSTALL_FOLDER = "StudioBridge"
"""Folder under ``<resource>/Scripts``."""
SURFACE_NAME = "Studio Bridge"
PATTERN_CONFIG = "Default"
"""The surface's pattern config, named like REAPER's OSC-folder files without ``.ReaperOSC``
(public reaper.ini lines read ``... 1024 10 "Default"`` or ``"MyLayout"``)."""
BACKUP_SUFFIX = ".studio-bridge-backup"
MANIFEST = "install.json"
SETTINGS = "studio_bridge_settings.json"
OSC_FLAGS = 3
"""&1 receive from the device, &2 send feedback to it."""
MAX_PACKET = 1024
SEND_SLEEP_MS = 10


class InstallError(RuntimeError):
    """The resource folder or one of its files is not what the installer expects."""


@dataclass(frozen=True)
class ActionScript:
    file: str
    command_id: str
    description: str

    @property
    def kb_line(self) -> str:
        return (f'SCR 4 0 {self.command_id} "Custom: {self.description}" '
                f'"{INSTALL_FOLDER}/{self.file}"')


@dataclass
class InstallReport:
    resource_path: Path
    scripts: list[Path] = field(default_factory=list)
    actions: list[ActionScript] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    osc_ports: tuple[int, int] | None = None
    """(REAPER listens, bridge listens)."""
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# where things are
# ------------------------------------------------------------------------------------------


def candidate_resource_paths() -> list[Path]:
    """Where REAPER keeps its resource folder on this platform (portable installs aside)."""
    env = os.environ.get("REAPER_RESOURCE_PATH")
    out = [Path(env).expanduser()] if env else []
    home = Path.home()
    if sys.platform == "win32":
        out.append(Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / "REAPER")
    elif sys.platform == "darwin":
        out.append(home / "Library" / "Application Support" / "REAPER")
    else:
        out.append(Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "REAPER")
    return out


def find_resource_path(explicit: str | Path | None = None) -> Path:
    """The resource folder (the one holding ``reaper.ini``)."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not (path / "reaper.ini").is_file():
            raise InstallError(f"{path} has no reaper.ini: is it REAPER's resource folder? "
                               "(REAPER: Options > Show REAPER resource path)")
        return path
    tried = candidate_resource_paths()
    for path in tried:
        if (path / "reaper.ini").is_file():
            return path
    raise InstallError("REAPER's resource folder was not found (tried "
                       + ", ".join(str(p) for p in tried)
                       + "); run REAPER once, or pass --resource-path")


def action_scripts(source: Path = SCRIPTS_SOURCE) -> list[ActionScript]:
    """The actions in ``source``: every ``studio_bridge_*.lua`` with an ``@description``."""
    out = []
    for path in sorted(source.glob("studio_bridge_*.lua")):
        desc = read_header(path).get("description")
        if not desc:
            continue
        out.append(ActionScript(path.name, path.stem.upper(), desc))
    if not out:
        raise InstallError(f"no action scripts in {source}")
    return out


def script_files(source: Path = SCRIPTS_SOURCE, common: Path = COMMON_SOURCE) -> list[Path]:
    """The Lua files an install puts side by side in ``Scripts/StudioBridge``, by name."""
    files: dict[str, Path] = {}
    for lua in [*sorted(common.glob("*.lua")), *sorted(source.glob("*.lua"))]:
        if lua.name in files:
            raise InstallError(f"{lua.name} is in both {common} and {source}")
        files[lua.name] = lua
    return [files[name] for name in sorted(files)]


def read_header(path: Path) -> dict[str, str]:
    """ReaPack-style ``-- @tag value`` header fields (multi-line values joined by newlines)."""
    fields: dict[str, str] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        m = re.match(r"^--\s*@(\w+)\s*(.*)$", line)
        if m:
            current = m.group(1)
            fields[current] = m.group(2).strip()
        elif current and re.match(r"^--\s{2,}\S", line):
            fields[current] = (fields[current] + "\n" + line[2:].strip()).strip()
        else:
            current = None
    return fields


# ------------------------------------------------------------------------------------------
# text files that keep their line endings
# ------------------------------------------------------------------------------------------


@dataclass
class TextLines:
    lines: list[str]
    newline: str
    final_newline: bool

    @classmethod
    def read(cls, path: Path) -> TextLines:
        data = path.read_bytes().decode("utf-8", errors="surrogateescape")
        newline = "\r\n" if "\r\n" in data else "\n"
        final = data.endswith(("\n", "\r"))
        body = data[: -len(newline)] if data.endswith(newline) else data
        return cls(body.split(newline) if body else [], newline, final or not data)

    def write(self, path: Path) -> None:
        text = self.newline.join(self.lines)
        if self.lines and self.final_newline:
            text += self.newline
        tmp = path.with_name(path.name + ".studio-bridge-tmp")
        tmp.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        os.replace(tmp, path)


def _backup(path: Path, report: InstallReport) -> None:
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if path.exists() and not backup.exists():
        shutil.copy2(path, backup)
        report.backups.append(backup)


# ------------------------------------------------------------------------------------------
# reaper-kb.ini
# ------------------------------------------------------------------------------------------


def _is_our_kb_line(line: str, ids: set[str]) -> bool:
    parts = line.split(None, 4)
    return len(parts) >= 4 and parts[0] == "SCR" and parts[3] in ids


def _kb_install(path: Path, actions: list[ActionScript], manifest: dict,
                report: InstallReport) -> None:
    ids = {a.command_id for a in actions} | set(manifest.get("kb_ids", []))
    if path.exists():
        doc = TextLines.read(path)
        manifest.setdefault("kb_final_newline", doc.final_newline)
    else:
        doc = TextLines([], "\n", True)
        manifest.setdefault("kb_created", True)
    kept = [line for line in doc.lines if not _is_our_kb_line(line, ids)]
    new = kept + [a.kb_line for a in actions]
    if new != doc.lines or not path.exists():
        _backup(path, report)
        doc.lines = new
        doc.final_newline = True
        doc.write(path)
        report.changed.append(path)
    manifest["kb_ids"] = sorted(a.command_id for a in actions)


def _kb_uninstall(path: Path, manifest: dict, report: InstallReport) -> None:
    if not path.exists():
        return
    ids = set(manifest.get("kb_ids", []))
    doc = TextLines.read(path)
    kept = [line for line in doc.lines if not _is_our_kb_line(line, ids)]
    if kept == doc.lines:
        return
    if manifest.get("kb_created") and not kept:
        path.unlink()
    else:
        doc.lines = kept
        doc.final_newline = manifest.get("kb_final_newline", True)
        doc.write(path)
    report.changed.append(path)


# ------------------------------------------------------------------------------------------
# reaper.ini control surfaces
# ------------------------------------------------------------------------------------------

_CSURF = re.compile(r"^csurf_(\d+)=(.*)$")
_CSURF_CNT = re.compile(r"^csurf_cnt=(\d+)\s*$")


def _section(lines: list[str], name: str) -> tuple[int, int] | None:
    start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if start is not None:
                return start, i
            if stripped[1:-1].lower() == name.lower():
                start = i
    return (start, len(lines)) if start is not None else None


def surface_line(reaper_port: int, feedback_port: int) -> str:
    return (f'OSC "{SURFACE_NAME}" {OSC_FLAGS} {reaper_port} "127.0.0.1" {feedback_port} '
            f'{MAX_PACKET} {SEND_SLEEP_MS} "{PATTERN_CONFIG}"')


def _used_ports(values: list[str]) -> set[int]:
    used: set[int] = set()
    for value in values:
        parts = re.findall(r'"[^"]*"|\S+', value)
        if len(parts) >= 6 and parts[0] == "OSC":
            for token in (parts[3], parts[5]):
                if token.isdigit():
                    used.add(int(token))
    return used


def _pick_ports(used: set[int]) -> tuple[int, int]:
    recv, send = REAPER_OSC_PORT, FEEDBACK_PORT
    while recv in used or send in used or recv == send:
        recv += 1
        send += 1
    return recv, send


def _is_ours(value: str) -> bool:
    return value.startswith(f'OSC "{SURFACE_NAME}" ')


def _ini_install(path: Path, manifest: dict, report: InstallReport,
                 ports: tuple[int, int] | None) -> tuple[int, int]:
    doc = TextLines.read(path)
    lines = list(doc.lines)
    span = _section(lines, "REAPER")
    if span is None:
        lines.append("[REAPER]")
        span = (len(lines) - 1, len(lines))
        manifest.setdefault("ini_added_section", True)
    start, end = span
    surfaces = {}
    cnt_at = None
    for i in range(start + 1, end):
        if m := _CSURF.match(lines[i]):
            surfaces[int(m.group(1))] = (i, m.group(2))
        elif _CSURF_CNT.match(lines[i]):
            cnt_at = i
    ours = [(n, i) for n, (i, v) in surfaces.items() if _is_ours(v)]
    others = [v for _, v in surfaces.values() if not _is_ours(v)]
    if ports is None:
        ports = _pick_ports(_used_ports(others))
    new_value = surface_line(*ports)
    if ours:
        number, at = ours[0]
        lines[at] = f"csurf_{number}={new_value}"
    else:
        count = int(_CSURF_CNT.match(lines[cnt_at]).group(1)) if cnt_at is not None else 0
        count = max(count, max(surfaces, default=-1) + 1)
        manifest.setdefault("ini_had_cnt", cnt_at is not None)
        if surfaces:
            at = max(i for i, _ in surfaces.values()) + 1
        elif cnt_at is not None:
            at = cnt_at + 1
        else:
            at = end
            while at > start + 1 and not lines[at - 1].strip():
                at -= 1
        lines.insert(at, f"csurf_{count}={new_value}")
        if cnt_at is not None:
            lines[cnt_at] = f"csurf_cnt={count + 1}"
        else:
            lines.insert(at, f"csurf_cnt={count + 1}")
    if lines != doc.lines:
        _backup(path, report)
        doc.lines = lines
        doc.write(path)
        report.changed.append(path)
    return ports


def _ini_uninstall(path: Path, manifest: dict, report: InstallReport) -> None:
    if not path.exists():
        return
    doc = TextLines.read(path)
    lines = list(doc.lines)
    span = _section(lines, "REAPER")
    if span is None:
        return
    start, end = span
    ours = None
    for i in range(start + 1, end):
        m = _CSURF.match(lines[i])
        if m and _is_ours(m.group(2)):
            ours = (i, int(m.group(1)))
            break
    if ours is None:
        return
    at, number = ours
    del lines[at]
    end -= 1
    cnt_at = None
    for i in range(start + 1, end):
        m = _CSURF.match(lines[i])
        if m and int(m.group(1)) > number:
            lines[i] = f"csurf_{int(m.group(1)) - 1}={m.group(2)}"
        elif _CSURF_CNT.match(lines[i]):
            cnt_at = i
    if cnt_at is not None:
        count = int(_CSURF_CNT.match(lines[cnt_at]).group(1)) - 1
        if count <= 0 and not manifest.get("ini_had_cnt", True):
            del lines[cnt_at]
        else:
            lines[cnt_at] = f"csurf_cnt={max(count, 0)}"
    if manifest.get("ini_added_section"):
        span = _section(lines, "REAPER")
        if span and span[1] - span[0] == 1:
            del lines[span[0]]
    doc.lines = lines
    doc.write(path)
    report.changed.append(path)


# ------------------------------------------------------------------------------------------
# install / uninstall
# ------------------------------------------------------------------------------------------


def install(
    resource_path: str | Path | None = None,
    *,
    spool_dir: str | Path | None = None,
    ports: tuple[int, int] | None = None,
    source: Path = SCRIPTS_SOURCE,
    common: Path = COMMON_SOURCE,
) -> InstallReport:
    """Install into REAPER's resource folder (found when not given). Running it again without
    ``spool_dir`` keeps the spool folder an earlier install chose."""
    resource = find_resource_path(resource_path).resolve()
    report = InstallReport(resource)
    target = resource / "Scripts" / INSTALL_FOLDER
    manifest_path = target / MANIFEST
    manifest = _read_manifest(manifest_path)
    actions = action_scripts(source)
    target.mkdir(parents=True, exist_ok=True)
    for lua in script_files(source, common):
        dest = target / lua.name
        if not dest.exists() or dest.read_bytes() != lua.read_bytes():
            shutil.copyfile(lua, dest)
            report.changed.append(dest)
        report.scripts.append(dest)
    manifest["scripts"] = sorted(p.name for p in report.scripts)
    _kb_install(resource / "reaper-kb.ini", actions, manifest, report)
    report.osc_ports = _ini_install(resource / "reaper.ini", manifest, report, ports)
    report.actions = actions
    try:
        earlier = json.loads((target / SETTINGS).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        earlier = {}
    if spool_dir:
        spool = Path(spool_dir).expanduser().resolve()
    elif isinstance(earlier.get("spool_dir"), str) and earlier["spool_dir"]:
        spool = Path(earlier["spool_dir"])
    else:
        spool = default_spool_dir()
    settings = {
        "spool_dir": str(spool),
        "reaper_osc_port": report.osc_ports[0],
        "feedback_port": report.osc_ports[1],
        "resource_path": str(resource),
    }
    _write_if_changed(target / SETTINGS, settings, report)
    manifest["version"] = 1
    _write_if_changed(manifest_path, manifest, report)
    return report


def uninstall(resource_path: str | Path | None = None) -> InstallReport:
    """Remove what :func:`install` added; files nobody else changed come back byte for byte."""
    resource = find_resource_path(resource_path)
    report = InstallReport(resource)
    target = resource / "Scripts" / INSTALL_FOLDER
    manifest = _read_manifest(target / MANIFEST)
    if not manifest:
        report.notes.append(f"nothing installed in {resource}")
        return report
    _kb_uninstall(resource / "reaper-kb.ini", manifest, report)
    _ini_uninstall(resource / "reaper.ini", manifest, report)
    for name in [*manifest.get("scripts", []), SETTINGS, MANIFEST]:
        try:
            (target / name).unlink()
            report.changed.append(target / name)
        except FileNotFoundError:
            pass
    try:
        target.rmdir()
    except OSError:
        report.notes.append(f"left {target}: it holds files the installer did not put there")
    for ini in ("reaper.ini", "reaper-kb.ini"):
        backup = resource / (ini + BACKUP_SUFFIX)
        current = resource / ini
        if backup.exists() and current.exists() and backup.read_bytes() == current.read_bytes():
            backup.unlink()  # identical to the restored file: nothing left to keep it for
        elif backup.exists():
            report.notes.append(f"kept {backup.name}: {ini} changed since the install")
    return report


def read_settings(resource_path: str | Path | None = None) -> dict:
    """The settings the installer wrote (ports, spool folder), or {} when not installed."""
    try:
        resource = find_resource_path(resource_path)
    except InstallError:
        return {}
    path = resource / "Scripts" / INSTALL_FOLDER / SETTINGS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _read_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise InstallError(f"{path}: unreadable install record: {exc}") from None
    return data if isinstance(data, dict) else {}


def _write_if_changed(path: Path, data: dict, report: InstallReport) -> None:
    try:
        if json.loads(path.read_text(encoding="utf-8")) == data:
            return
    except (OSError, json.JSONDecodeError):
        pass
    write_json_atomic(path, data)
    report.changed.append(path)
