"""``studio-bridge reaper ...``: install the actions, answer them, push Plans into REAPER."""

from __future__ import annotations

from pathlib import Path

import click


def _ports(resource: str | None, port: int | None, feedback: int | None) -> tuple[int, int]:
    from bridge.daw.reaper import FEEDBACK_PORT, REAPER_OSC_PORT
    from bridge.daw.reaper_install import read_settings

    settings = read_settings(resource)
    return (
        port or int(settings.get("reaper_osc_port", REAPER_OSC_PORT)),
        feedback or int(settings.get("feedback_port", FEEDBACK_PORT)),
    )


@click.group("reaper")
def command() -> None:
    """REAPER: install the actions, answer them, push plans live over OSC."""


@command.command("install")
@click.option("--resource-path", type=click.Path(file_okay=False), default=None,
              help="REAPER's resource folder (default: found for this platform).")
@click.option("--uninstall", is_flag=True, help="Remove everything a previous install added.")
@click.option("--spool", type=click.Path(file_okay=False), default=None,
              help="Spool folder for the request/response exchange.")
@click.option("--osc-port", type=int, default=None, help="Port REAPER listens on for OSC.")
@click.option("--feedback-port", type=int, default=None, help="Port the bridge listens on.")
def install_cmd(resource_path: str | None, uninstall: bool, spool: str | None,
                osc_port: int | None, feedback_port: int | None) -> None:
    """Copy the scripts, register the actions and add the OSC surface (close REAPER first)."""
    from bridge.daw import reaper_install as ri

    try:
        if uninstall:
            report = ri.uninstall(resource_path)
        else:
            ports = (osc_port, feedback_port) if osc_port and feedback_port else None
            report = ri.install(resource_path, spool_dir=spool, ports=ports)
    except ri.InstallError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"REAPER resource folder: {report.resource_path}")
    for path in report.changed:
        click.echo(f"  changed {path}")
    for path in report.backups:
        click.echo(f"  backup  {path}")
    if not uninstall:
        for action in report.actions:
            click.echo(f"  action  _{action.command_id}  {action.description}")
        if report.osc_ports:
            click.echo(f"  OSC: REAPER listens on 127.0.0.1:{report.osc_ports[0]}, "
                       f"feedback to 127.0.0.1:{report.osc_ports[1]}")
        if not report.changed:
            click.echo("  already installed; nothing changed")
        click.echo("Start REAPER, then run: studio-bridge reaper serve")
    for note in report.notes:
        click.echo(f"  note: {note}")


@command.command("serve")
@click.option("--spool", type=click.Path(file_okay=False), default=None,
              help="Spool folder (default: the one the installer wrote).")
@click.option("--resource-path", type=click.Path(file_okay=False), default=None)
def serve_cmd(spool: str | None, resource_path: str | None) -> None:
    """Answer the REAPER actions (runs until Ctrl-C)."""
    import threading

    from bridge.daw.reaper_install import read_settings
    from bridge.daw.spool import SpoolServer

    folder = spool or read_settings(resource_path).get("spool_dir")
    server = SpoolServer(folder)
    click.echo(f"Answering REAPER actions from {server.paths.root} (Ctrl-C stops)")
    stop = threading.Event()
    try:
        server.serve(stop)
    except KeyboardInterrupt:
        stop.set()
    click.echo(f"answered {server.handled}, failed {server.failed}")


def _load(plan_path: str, project: str):
    from bridge.plan import Plan, PlanError

    try:
        plan = Plan.from_json(Path(plan_path).read_bytes())
    except (OSError, PlanError) as exc:
        raise click.ClickException(f"{plan_path}: {exc}") from None
    try:
        from bridge.session.rpp_session import load_session
    except ImportError:
        raise click.ClickException("reading .RPP projects is not available in this build") from None
    try:
        session = load_session(Path(project))
    except Exception as exc:
        raise click.ClickException(f"{project}: {exc}") from None
    return plan, session


@command.command("apply")
@click.argument("plan_path", metavar="PLAN.json", type=click.Path(exists=True, dir_okay=False))
@click.option("--project", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The .RPP open in REAPER (maps track GUIDs to positions).")
@click.option("--one-undo/--osc-first", default=True, show_default=True,
              help="Whole plan through the Apply pending plan action (one undo step), or "
                   "simple edits over OSC first.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--osc-port", type=int, default=None)
@click.option("--feedback-port", type=int, default=None)
@click.option("--bank-size", type=int, default=8, show_default=True)
@click.option("--timeout", type=float, default=1.0, show_default=True)
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing.")
def apply_cmd(plan_path: str, project: str, one_undo: bool, host: str, osc_port: int | None,
              feedback_port: int | None, bank_size: int, timeout: float, dry_run: bool) -> None:
    """Push PLAN.json into the REAPER project that is open."""
    from bridge.daw.pending import PendingPlans
    from bridge.daw.reaper import ReaperNotReachable, ReaperOsc, edit_messages, route_plan

    plan, session = _load(plan_path, project)
    if dry_run:
        routing = route_plan(plan, session, one_undo=one_undo)
        for edit, track in routing.osc:
            for address, args in edit_messages(edit, track.index % bank_size + 1):
                shown = " ".join(repr(a.value) for a in args)
                click.echo(f"OSC   track {track.index + 1}: {address} {shown}")
        for edit in routing.script:
            click.echo(f"plan  {edit}  [{routing.why.get(id(edit), '')}]")
        return
    port, feedback = _ports(None, osc_port, feedback_port)
    try:
        with ReaperOsc(host, port, feedback, bank_size=bank_size, timeout_s=timeout) as reaper:
            report = reaper.apply(plan, session, one_undo=one_undo, pending=PendingPlans(),
                                  project=Path(project))
    except ReaperNotReachable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
    for problem in report.problems:
        click.echo(f"  {problem}")


@command.command("ping")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--osc-port", type=int, default=None)
@click.option("--feedback-port", type=int, default=None)
@click.option("--timeout", type=float, default=1.0, show_default=True)
def ping_cmd(host: str, osc_port: int | None, feedback_port: int | None, timeout: float) -> None:
    """Is REAPER answering on its OSC port?"""
    from bridge.daw.reaper import ReaperOsc

    port, feedback = _ports(None, osc_port, feedback_port)
    with ReaperOsc(host, port, feedback, timeout_s=timeout) as reaper:
        if reaper.is_there():
            click.echo(f"REAPER answers at {host}:{port}")
            return
    raise click.ClickException(f"no answer from REAPER at {host}:{port} within {timeout} s")
