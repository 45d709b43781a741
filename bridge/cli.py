"""The ``studio-bridge`` command line.

This module only builds the click group. Each sub-command lives in its own module under
``bridge/commands/`` and exposes a click command (or group) named ``command``; they are found
here at start-up so that adding a command never means editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from bridge import __version__
from bridge import commands as _commands_pkg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="studio-bridge")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Studio Bridge: label, clean, level and EQ stems, and write it into the session."""
    import logging

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(_commands_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_commands_pkg.__name__}.{info.name}")
        command = getattr(module, "command", None)
        if not isinstance(command, click.Command):
            raise RuntimeError(f"bridge/commands/{info.name}.py defines no click `command`")
        main.add_command(command)


_register_commands()

if __name__ == "__main__":
    main()
