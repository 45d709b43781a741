"""``studio-bridge apply PLAN.json PROJECT``: write a saved Plan into a closed project file."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("apply")
@click.argument("plan_file", type=click.File("r"))
@click.argument("project", type=click.Path(exists=True, dir_okay=False))  # .RPP or .ardour
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Write the result to this new file and leave PROJECT untouched.")
@click.option("--dry-run", is_flag=True, help="Only print what would change.")
def command(plan_file, project: str, out_file: str | None, dry_run: bool) -> None:
    """Apply PLAN_FILE (Plan JSON, '-' for stdin) to PROJECT while the DAW has it closed.

    PROJECT is replaced atomically with a timestamped backup, and left alone if it changed on
    disk while we worked. Edits a project file cannot hold (EQ bands) are listed as skipped.
    """
    from bridge.plan import Plan, PlanError
    from bridge.session import project_daw
    from bridge.session.project_file import ProjectChangedError
    from bridge.session.rpp import RppParseError

    try:
        plan = Plan.from_json(plan_file.read())
    except PlanError as exc:
        raise click.ClickException(f"{plan_file.name}: {exc}") from None
    click.echo(plan.describe())
    if dry_run:
        return
    if project_daw(project) == "reaper":
        from bridge.daw.rpp_file import apply_plan_to_file
    else:  # close the session in Ardour first: Ardour overwrites the file when it saves
        from bridge.session.ardour import apply_plan_to_file

    try:
        result = apply_plan_to_file(project, plan, out=out_file)
    except (RppParseError, ProjectChangedError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    target = Path(out_file) if out_file else Path(project)
    click.echo(f"\n{len(result.applied)} edit(s) written to {target}")
    if result.backup:
        click.echo(f"backup of the previous file: {result.backup}")
    for edit, reason in result.skipped:
        click.echo(f"skipped: {edit}: {reason}", err=True)
    if result.skipped:
        sys.exit(3)
