"""``studio-bridge apply PLAN.json PROJECT``: write a saved Plan into a closed project file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bridge.plan import ApplyResult, Plan

EXIT_ALL_WRITTEN = 0
EXIT_ERROR = 1  # click.ClickException's status
EXIT_SOME_SKIPPED = 3
EXIT_NONE_APPLIES = 4


def preview(project: Path, plan: Plan) -> ApplyResult:
    """What applying ``plan`` to ``project`` would do, worked out in memory (nothing written).

    The same code as the real run decides, so the skips listed here are the skips it makes.
    """
    from bridge.session import project_daw

    data = project.read_bytes()
    if project_daw(project) == "reaper":
        from bridge.daw.rpp_file import apply_plan
        from bridge.session import rpp

        return apply_plan(rpp.parse(data, source=str(project)), plan, project.resolve().parent)
    from bridge.session.ardour import apply_plan as apply_ardour
    from bridge.session.ardour import parse_xml

    return apply_ardour(parse_xml(data, str(project)), plan)


def _listing(plan: Plan, result: ApplyResult | None) -> str:
    """The plan, one numbered line per edit; with ``result``, a note under each skipped one."""
    why = {id(edit): reason for edit, reason in result.skipped} if result else {}
    lines = []
    for i, edit in enumerate(plan, start=1):
        lines.append(f"{i:3d}. {edit}")
        if id(edit) in why:
            lines.append(f"       would be skipped: {why[id(edit)]}")
    return "\n".join(lines)


@click.command("apply")
@click.argument("plan_file", type=click.File("r"))
@click.argument("project", type=click.Path(exists=True, dir_okay=False))  # .RPP or .ardour
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Write the result to this new file and leave PROJECT untouched.")
@click.option("--dry-run", is_flag=True,
              help="Only print what would change, and which edits would be skipped and why.")
def command(plan_file, project: str, out_file: str | None, dry_run: bool) -> None:
    """Apply PLAN_FILE (Plan JSON, '-' for stdin) to PROJECT while the DAW has it closed.

    PROJECT is replaced atomically with a timestamped backup, and left alone if it changed on
    disk while we worked. Edits a project file cannot hold (EQ bands in REAPER, folder moves of
    tracks already in a folder, tracks not in the project) are skipped and listed with why.
    A plan with any malformed edit is refused whole, and when no edit applies nothing is
    written.

    \b
    Exit status:
      0 every edit was written (or the plan is empty; --dry-run always exits 0)
      1 error (malformed plan, unreadable project, project changed on disk): nothing written
      2 usage error
      3 some edits were written and some skipped (listed on stderr)
      4 no edit applies to this project: nothing written
    """
    from bridge.plan import Plan, PlanError
    from bridge.session import project_daw
    from bridge.session.project_file import ProjectChangedError
    from bridge.session.rpp import RppParseError

    try:
        plan = Plan.from_json(plan_file.read())
    except PlanError as exc:
        raise click.ClickException(f"{plan_file.name}: {exc}") from None
    source = Path(project)
    target = Path(out_file) if out_file else source
    if out_file and target.exists():
        raise click.ClickException(f"{target}: exists already; refusing to overwrite it")
    if not plan:
        click.echo(plan.describe() + " Nothing written.")
        return
    try:
        planned = preview(source, plan)
    except (RppParseError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if dry_run:
        click.echo(_listing(plan, planned))
        click.echo(f"\nDry run: {len(planned.applied)} edit(s) would be written to {target}, "
                   f"{len(planned.skipped)} would be skipped; nothing written.")
        return
    click.echo(_listing(plan, None))
    if not planned.applied:
        for edit, reason in planned.skipped:
            click.echo(f"skipped: {edit}: {reason}", err=True)
        click.echo(f"No edit applies to {source}: nothing written.", err=True)
        sys.exit(EXIT_NONE_APPLIES)
    if project_daw(source) == "reaper":
        from bridge.daw.rpp_file import apply_plan_to_file
    else:  # close the session in Ardour first: Ardour overwrites the file when it saves
        from bridge.session.ardour import apply_plan_to_file

    try:
        result = apply_plan_to_file(source, plan, out=out_file)
    except (RppParseError, ProjectChangedError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"\n{len(result.applied)} edit(s) written to {target}")
    if result.backup:
        click.echo(f"backup of the previous file: {result.backup}")
    if result.skipped:
        click.echo(f"{len(result.skipped)} edit(s) skipped (not written):", err=True)
        for edit, reason in result.skipped:
            click.echo(f"skipped: {edit}: {reason}", err=True)
        sys.exit(EXIT_SOME_SKIPPED)
