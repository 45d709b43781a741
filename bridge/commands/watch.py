"""``studio-bridge watch [DIR...]``: label stems whenever a project in DIR is saved."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.service import BridgeService


def _settings(config_path: Path | None, **overrides: object) -> Config:
    from bridge.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    return config


LIBRARY_DEBUG_VERBOSITY = 3
"""``-vvv``: also the debug lines of the libraries the bridge runs on (watchdog logs every
inotify event, numba every function it compiles): only to debug those libraries."""
QUIET_LIBRARIES = ("watchdog", "numba")


def _log_at_info() -> None:
    """A service should say what it does: INFO for the bridge's loggers unless -v asked more.

    watchdog logs every inotify event at DEBUG and numba every compile step; ``-vv`` is for
    the bridge's own decisions, so those loggers stay at WARNING unless ``-vvv`` asks for them.
    """
    logger = logging.getLogger("bridge")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if _verbosity() < LIBRARY_DEBUG_VERBOSITY:
        for name in QUIET_LIBRARIES:
            library = logging.getLogger(name)
            if library.level == logging.NOTSET:  # nobody set it on purpose
                library.setLevel(logging.WARNING)


def _verbosity() -> int:
    """How many ``-v`` the command line gave the ``studio-bridge`` group (0 outside it)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return 0
    value = ctx.find_root().params.get("verbose")
    return int(value) if isinstance(value, int) else 0


@click.command("watch")
@click.argument("dirs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Settings file (default $STUDIO_BRIDGE_CONFIG or "
                   "~/.config/studio-bridge/config.toml).")
@click.option("--debounce-ms", type=click.IntRange(0, 60_000), default=None,
              help="Quiet time after the last write before a save counts (default 300).")
@click.option("--rename-all/--generic-only", default=None,
              help="Rename every track, or only generic/empty names (default).")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=None,
              help="Labels below this confidence rename nothing (default: the labeller's "
                   "own threshold).")
@click.option("--write-closed/--no-write-closed", default=None,
              help="Write the project file when its DAW is not running (default off).")
@click.option("--dry-run", is_flag=True, help="Log the Plans; deliver nothing.")
@click.option("--scan", is_flag=True,
              help="Also process the projects already in DIR once at start.")
def command(dirs: tuple[Path, ...], config_path: Path | None, debounce_ms: int | None,
            rename_all: bool | None, min_confidence: float | None, write_closed: bool | None,
            dry_run: bool, scan: bool) -> None:
    """Watch DIR (default: [watch] folders of the settings) and label stems on every save.

    A save is recognised the way REAPER and Ardour write projects (temporary file, rename,
    backups ignored) and debounced. Only new or changed audio is analysed. The Plan goes to the
    DAW live when it answers over OSC, else it is kept pending for the "Apply pending plan"
    action (or written into the closed project with --write-closed). Stop with Ctrl-C.
    """
    from bridge.service import BridgeService
    from bridge.watch.observer import WatchError

    _log_at_info()
    config = _settings(config_path, debounce_ms=debounce_ms, rename_all=rename_all,
                       min_confidence=min_confidence, write_closed_projects=write_closed)
    folders = list(dirs) or config.watch_folders
    try:
        service = BridgeService(config, folders=folders, dry_run=dry_run, spool=False)
    except WatchError as exc:
        raise click.ClickException(str(exc)) from None
    if scan:
        _scan(service, folders)
    service.run_forever()


def _scan(service: BridgeService, folders: list[Path]) -> None:
    from bridge.watch.saves import project_kind

    for folder in folders:
        folder = Path(folder)
        candidates = [folder] if folder.is_file() else (
            folder.rglob("*") if service.config.recursive else folder.iterdir())
        for path in sorted(p for p in candidates if p.is_file() and project_kind(p)):
            service.process_now(path)
