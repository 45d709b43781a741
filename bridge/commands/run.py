"""``studio-bridge run``: the full bridge service, configured by the settings file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("run")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Settings file (default $STUDIO_BRIDGE_CONFIG or "
                   "~/.config/studio-bridge/config.toml).")
@click.option("--print-config", is_flag=True,
              help="Print the settings in effect (as TOML) and exit.")
def command(config_path: Path | None, print_config: bool) -> None:
    """Run the bridge: watch the configured folders, label stems on save, deliver the Plans
    live (OSC) or keep them pending, and serve the DAW-side actions. Stops on Ctrl-C/SIGTERM.
    """
    from bridge.commands.watch import _log_at_info, _settings
    from bridge.service import BridgeService
    from bridge.watch.observer import WatchError

    config = _settings(config_path)
    if print_config:
        click.echo(config.to_toml(), nl=False)
        return
    _log_at_info()
    if not config.watch_folders:
        raise click.ClickException(
            f"no folders to watch: set [watch] folders in {config.source or 'the settings file'}"
            " (see studio-bridge run --print-config), or use studio-bridge watch DIR")
    try:
        service = BridgeService(config)
    except WatchError as exc:
        raise click.ClickException(str(exc)) from None
    service.run_forever()
