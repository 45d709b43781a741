"""``studio-bridge mix PROJECT``: starter fader levels and EQ suggestions as one Plan."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("mix")
@click.argument("project", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Only print the Plan; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the Plan as JSON.")
@click.option("--max-move-db", type=click.FloatRange(min=0.1), default=None,
              help="Largest fader move in dB (default from the targets table: 12).")
@click.option("--headroom-db", type=float, default=None,
              help="Mix-bus sample peak limit in dBFS (default -6).")
@click.option("--targets", "targets_file", type=click.Path(exists=True, dir_okay=False),
              help="A mix_targets.toml of your own (overrides the defaults key by key).")
@click.option("--labels", "labels_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON object: track GUID or track name -> class (else the labeller decides).")
@click.option("--no-eq", is_flag=True, help="Levels only.")
@click.option("--no-levels", is_flag=True, help="EQ only.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="Write an HTML report with pictures here.")
@click.option("--save-plan", type=click.Path(dir_okay=False),
              help="Also save the Plan JSON here (apply later with 'studio-bridge apply').")
@click.option("--write-copy", type=click.Path(dir_okay=False),
              help="Write the mixed project to this new .rpp (PROJECT is not touched).")
@click.option("--apply", "apply_live", is_flag=True,
              help="Apply the Plan live in the DAW that has PROJECT open (REAPER or Ardour, "
                   "over OSC); fails cleanly when the DAW does not answer.")
def command(project: str, dry_run: bool, as_json: bool, max_move_db: float | None,
            headroom_db: float | None, targets_file: str | None, labels_file: str | None,
            no_eq: bool, no_levels: bool, report_path: str | None, save_plan: str | None,
            write_copy: str | None, apply_live: bool) -> None:
    """Balance PROJECT's faders toward class loudness targets and suggest EQ bands.

    Every move says why (class, measured loudness, target, cap). The Plan is printed; with
    --apply it lands live in the open DAW, with --write-copy in a copy of the project, with
    --save-plan in a JSON file that 'studio-bridge apply' (or the REAPER actions) can apply.
    """
    import tempfile

    from bridge.assist.pipeline import PipelineError, mix_session, read_labels
    from bridge.commands._common import load_project_or_exit

    session = load_project_or_exit(project)
    try:
        from bridge.assist.mix import load_targets

        targets = load_targets(targets_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="studio-bridge-mix-") as tmp:
        try:
            labels = read_labels(labels_file, session) if labels_file else None
            outcome = mix_session(session, Path(tmp), targets=targets, max_move_db=max_move_db,
                                  headroom_db=headroom_db, labels=labels,
                                  levels=not no_levels, eq=not no_eq)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from None
        if report_path:
            from bridge.report.html import mix_report

            Path(report_path).write_text(mix_report(session, outcome), encoding="utf-8")
    plan = outcome.plan
    if as_json:
        click.echo(plan.to_json())
    else:
        click.echo(plan.describe())
        for note in outcome.notes:
            click.echo(f"note: {note}")
        for track_eq in outcome.eq.values():
            for note in track_eq.notes:
                click.echo(f"note: {track_eq.name}: {note}")
        for guid, problem in outcome.problems.items():
            name = next((t.name for t in session.tracks if t.guid == guid), guid)
            click.echo(f"skipped {name}: {problem}", err=True)
    if report_path:
        click.echo(f"report: {report_path}", err=as_json)
    if save_plan:
        Path(save_plan).write_text(plan.to_json() + "\n", encoding="utf-8")
    if dry_run:
        return
    if apply_live:
        from bridge.config import ConfigError
        from bridge.daw.live import apply_live as deliver

        try:
            click.echo(deliver(plan, session), err=as_json)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except (ConnectionError, RuntimeError, OSError) as exc:
            raise click.ClickException(f"live apply failed: {exc}; nothing was changed by "
                                       "this run (use --write-copy or --save-plan)") from None
    if not write_copy:
        return
    from bridge.daw.rpp_file import apply_plan_to_file
    from bridge.session.project_file import ProjectChangedError

    try:
        result = apply_plan_to_file(project, plan, out=write_copy)
    except (ProjectChangedError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(result.applied)} edit(s) written to {write_copy}", err=as_json)
    if result.skipped:
        ops = sorted({edit.op for edit, _ in result.skipped})
        first = result.skipped[0][1]
        click.echo(f"{len(result.skipped)} edit(s) ({', '.join(ops)}) not written to the copy: "
                   f"{first}. --save-plan keeps them for a live apply.", err=True)
