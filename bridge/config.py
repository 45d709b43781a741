"""Settings for the bridge, read from a TOML file, every key with a documented default.

Where the file is: ``$STUDIO_BRIDGE_CONFIG`` when set, else
``$XDG_CONFIG_HOME/studio-bridge/config.toml`` (``~/.config/studio-bridge/config.toml``).
A missing file means "all defaults"; a malformed one is an error that names the file, the key
and what is wrong::

    >>> cfg = config_from_toml('[watch]\\nfolders = ["/tmp/projects"]\\ndebounce_ms = 200\\n')
    >>> cfg.watch_folders, cfg.debounce_ms, cfg.reaper_port
    ([PosixPath('/tmp/projects')], 200, 8000)

The whole file with its defaults (``studio-bridge run --print-config`` prints it)::

    [watch]
    folders = []                 # project folders to watch (recursive); ~ is expanded
    debounce_ms = 300            # quiet time after the last write before a save counts
    recursive = true             # also watch sub-folders (one project per folder is typical)

    [label]
    rename_all = false           # rename every track, not only generic/empty names
    folders = false              # also group each family of 2+ tracks into a folder (DRUMS...)
    # min_confidence = 0.7       # unset: the labeller's own threshold; lower labels = unknown

    [apply]
    write_closed_projects = false  # write the project file when its DAW is not running
    answer_timeout_ms = 500      # how long to wait for the DAW to answer before "not open"

    [reaper]
    host = "127.0.0.1"           # where REAPER's OSC surface listens
    port = 8000                  # REAPER's OSC receive port
    feedback_port = 9000         # the bridge listens here for REAPER's feedback (127.0.0.1)
    one_undo = false             # true: whole Plan via the "Apply pending plan" action, one undo

    [ardour]
    host = "127.0.0.1"
    port = 3819                  # Ardour's OSC port

    [paths]
    data_dir = ""                # "" = $STUDIO_BRIDGE_DATA or ~/.local/share/studio-bridge
    spool_dir = ""               # "" = <data_dir>/reaper-spool (exchange with the Lua actions)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The settings file is unreadable or holds a bad value; the message names file and key."""


def default_config_path() -> Path:
    """``$STUDIO_BRIDGE_CONFIG``, else ``$XDG_CONFIG_HOME/studio-bridge/config.toml``."""
    env = os.environ.get("STUDIO_BRIDGE_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "studio-bridge" / "config.toml"


def default_data_dir() -> Path:
    """``$STUDIO_BRIDGE_DATA``, else the platform's per-user data folder
    (``~/.local/share/studio-bridge`` on Linux), the same folder the DAW-side actions use."""
    from bridge.daw.spool import default_data_dir as spool_data_dir

    return spool_data_dir()


@dataclass
class Config:
    """Every setting of the bridge. Field docs give units and defaults."""

    watch_folders: list[Path] = field(default_factory=list)
    """Folders watched for project saves (``[watch] folders``)."""
    debounce_ms: int = 300
    """Quiet time, in ms, after the last file event before a save is acted on."""
    recursive: bool = True
    rename_all: bool = False
    """Rename every track, not only tracks with generic or empty names."""
    label_folders: bool = False
    """Also put each family of two or more labelled tracks into a folder track."""
    min_confidence: float | None = None
    """Labels below this confidence (0..1) count as unknown and rename nothing; None = the
    labeller's own threshold."""
    write_closed_projects: bool = False
    """When the DAW is not running, write the Plan into the project file (atomic, with backup)."""
    answer_timeout_ms: int = 500
    """How long (ms) to wait for a DAW's OSC answer before treating it as not open."""
    reaper_host: str = "127.0.0.1"
    reaper_port: int = 8000
    """REAPER's OSC receive port (REAPER's default 8000)."""
    reaper_feedback_port: int = 9000
    """Where REAPER sends OSC feedback; the bridge listens there on 127.0.0.1 (default 9000)."""
    reaper_one_undo: bool = False
    """Send the whole Plan through REAPER's "Apply pending plan" action (one undo step) instead
    of OSC messages (one undo point each); needs the action installed in REAPER."""
    ardour_host: str = "127.0.0.1"
    ardour_port: int = 3819
    data_dir: Path = field(default_factory=default_data_dir)
    """Caches, rendered stems, the proposal memory."""
    spool_dir: Path | None = None
    """Exchange folder with the DAW-side Lua actions; None = ``<data_dir>/reaper-spool``."""
    source: Path | None = None
    """The file these settings came from (None = defaults only)."""

    @property
    def debounce_s(self) -> float:
        return self.debounce_ms / 1000.0

    @property
    def answer_timeout_s(self) -> float:
        return self.answer_timeout_ms / 1000.0

    @property
    def spool_path(self) -> Path:
        return self.spool_dir if self.spool_dir is not None else self.data_dir / "reaper-spool"

    @property
    def pending_dir(self) -> Path:
        """Pending plans, beside the spool folder (where "Apply pending plan" asks for them)."""
        return self.spool_path.parent / "pending"

    @property
    def stems_dir(self) -> Path:
        return self.data_dir / "stems"

    @property
    def memory_path(self) -> Path:
        return self.data_dir / "watch.sqlite"

    def to_toml(self) -> str:
        """These settings as a TOML file that :func:`config_from_toml` reads back."""
        folders = ", ".join(_toml_str(str(p)) for p in self.watch_folders)
        return "\n".join([
            "[watch]",
            f"folders = [{folders}]",
            f"debounce_ms = {self.debounce_ms}",
            f"recursive = {_toml_bool(self.recursive)}",
            "",
            "[label]",
            f"rename_all = {_toml_bool(self.rename_all)}",
            f"folders = {_toml_bool(self.label_folders)}",
            (f"min_confidence = {self.min_confidence!r}" if self.min_confidence is not None
             else "# min_confidence unset: the labeller's own threshold"),
            "",
            "[apply]",
            f"write_closed_projects = {_toml_bool(self.write_closed_projects)}",
            f"answer_timeout_ms = {self.answer_timeout_ms}",
            "",
            "[reaper]",
            f"host = {_toml_str(self.reaper_host)}",
            f"port = {self.reaper_port}",
            f"feedback_port = {self.reaper_feedback_port}",
            f"one_undo = {_toml_bool(self.reaper_one_undo)}",
            "",
            "[ardour]",
            f"host = {_toml_str(self.ardour_host)}",
            f"port = {self.ardour_port}",
            "",
            "[paths]",
            f"data_dir = {_toml_str(str(self.data_dir))}",
            f"spool_dir = {_toml_str(str(self.spool_dir) if self.spool_dir else '')}",
            "",
        ])


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"


def _toml_str(value: str) -> str:
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")  # TOML strings cannot hold control characters
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# (section, key) -> (Config field, kind)
_SCHEMA: dict[tuple[str, str], tuple[str, str]] = {
    ("watch", "folders"): ("watch_folders", "paths"),
    ("watch", "debounce_ms"): ("debounce_ms", "ms"),
    ("watch", "recursive"): ("recursive", "bool"),
    ("label", "rename_all"): ("rename_all", "bool"),
    ("label", "folders"): ("label_folders", "bool"),
    ("label", "min_confidence"): ("min_confidence", "unit"),
    ("apply", "write_closed_projects"): ("write_closed_projects", "bool"),
    ("apply", "answer_timeout_ms"): ("answer_timeout_ms", "ms"),
    ("reaper", "host"): ("reaper_host", "host"),
    ("reaper", "one_undo"): ("reaper_one_undo", "bool"),
    ("reaper", "port"): ("reaper_port", "port"),
    ("reaper", "feedback_port"): ("reaper_feedback_port", "port"),
    ("ardour", "host"): ("ardour_host", "host"),
    ("ardour", "port"): ("ardour_port", "port"),
    ("paths", "data_dir"): ("data_dir", "dir"),
    ("paths", "spool_dir"): ("spool_dir", "optdir"),
}


def _convert(kind: str, value: Any, where: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{where}: expected {expected}, got {value!r}")

    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind in ("ms", "port"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        low, high = (0, 60_000) if kind == "ms" else (1, 65_535)
        if not low <= value <= high:
            raise bad(f"an integer in {low}..{high}")
        return value
    if kind == "unit":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number in 0..1")
        if not 0.0 <= float(value) <= 1.0:
            raise bad("a number in 0..1")
        return float(value)
    if kind == "host":
        if not isinstance(value, str) or not value.strip():
            raise bad("a host name or address")
        return value.strip()
    if kind == "paths":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad("a list of folder paths")
        return [Path(v).expanduser() for v in value]
    if kind in ("dir", "optdir"):
        if not isinstance(value, str):
            raise bad("a folder path")
        if not value:
            return None if kind == "optdir" else default_data_dir()
        return Path(value).expanduser()
    raise AssertionError(kind)


def config_from_toml(text: str, source: Path | None = None) -> Config:
    """Settings from TOML text. Unknown sections or keys are errors (a typo must not be ignored)."""
    name = str(source) if source else "config"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    known_sections = {section for section, _ in _SCHEMA}
    for section, table in data.items():
        if section not in known_sections:
            raise ConfigError(
                f"{name}: unknown section [{section}]; known: "
                + ", ".join(f"[{s}]" for s in sorted(known_sections))
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{name}: {section} must be a [section] table")
        for key, value in table.items():
            entry = _SCHEMA.get((section, key))
            if entry is None:
                keys = sorted(k for s, k in _SCHEMA if s == section)
                raise ConfigError(
                    f"{name}: unknown key {key!r} in [{section}]; known: {', '.join(keys)}"
                )
            attr, kind = entry
            values[attr] = _convert(kind, value, f"{name}: [{section}] {key}")
    config = Config(**values)
    config.source = source
    return config


def load_config(path: str | Path | None = None) -> Config:
    """Read the settings file (``path`` or :func:`default_config_path`); defaults if it is absent.

    An explicitly given ``path`` that does not exist is an error; the default location may be
    missing.
    """
    explicit = path is not None or bool(os.environ.get("STUDIO_BRIDGE_CONFIG"))
    p = Path(path).expanduser() if path is not None else default_config_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{p}: settings file not found") from None
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    return config_from_toml(text, p)

