"""``studio-bridge mix PROJECT``: starter fader levels and EQ suggestions as one Plan."""

from __future__ import annotations

import json
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
def command(project: str, dry_run: bool, as_json: bool, max_move_db: float | None,
            headroom_db: float | None, targets_file: str | None, labels_file: str | None,
            no_eq: bool, no_levels: bool, report_path: str | None, save_plan: str | None,
            write_copy: str | None) -> None:
    """Balance PROJECT's faders toward class loudness targets and suggest EQ bands.

    Every move says why (class, measured loudness, target, cap). The Plan is printed; with
    --write-copy it goes into a copy of the project, with --save-plan into a JSON file that
    'studio-bridge apply' (or the REAPER actions) can apply as one undo step.
    """
    import tempfile

    from bridge.assist.mix import AnalysisUnavailable
    from bridge.commands._common import load_project_or_exit

    session = load_project_or_exit(project)
    try:
        from bridge.assist.mix import load_targets

        targets = load_targets(targets_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="studio-bridge-mix-") as tmp:
        try:
            outcome = run_mix(session, Path(tmp), targets=targets, max_move_db=max_move_db,
                              headroom_db=headroom_db, labels_file=labels_file,
                              levels=not no_levels, eq=not no_eq)
        except AnalysisUnavailable as exc:
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
        for guid, problem in outcome.problems.items():
            name = next((t.name for t in session.tracks if t.guid == guid), guid)
            click.echo(f"skipped {name}: {problem}", err=True)
    if report_path:
        click.echo(f"report: {report_path}", err=as_json)
    if save_plan:
        Path(save_plan).write_text(plan.to_json() + "\n", encoding="utf-8")
    if dry_run or not write_copy:
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


class MixOutcome:
    """Everything one run decided and measured (the report draws from this)."""

    def __init__(self) -> None:
        from bridge.plan import Plan

        self.plan = Plan()
        self.levels = None  # StarterMix
        self.eq: dict = {}  # guid -> TrackEq
        self.labels: dict[str, str] = {}
        self.label_evidence: dict[str, str] = {}
        self.problems: dict[str, str] = {}
        self.notes: list[str] = []


def read_labels(path: str, session) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: expected a JSON object of track -> class")
    by_name = {t.name: t.guid for t in session.tracks}
    labels = {}
    for key, value in data.items():
        guid = key if key in {t.guid for t in session.tracks} else by_name.get(key)
        if guid is None:
            raise click.ClickException(f"{path}: no track {key!r} in {session.path.name}")
        labels[guid] = str(value)
    return labels


def run_mix(session, stems_dir: Path, *, targets=None, max_move_db=None, headroom_db=None,
            labels_file: str | None = None, levels: bool = True, eq: bool = True
            ) -> MixOutcome:
    """Render, label, measure, decide: the whole ``mix`` pipeline without printing."""
    import numpy as np
    import soundfile as sf

    from bridge.assist.eq import suggest_eq
    from bridge.assist.mix import measure_stems, mix_peak_dbfs, starter_mix
    from bridge.audio.render import render_stems

    outcome = MixOutcome()
    report = render_stems(session, stems_dir, mix=False)
    outcome.problems.update(report.problems)
    stems = dict(report.stems)
    if labels_file:
        outcome.labels = read_labels(labels_file, session)
    else:
        try:
            from bridge.assist.labeller import label_file
        except ImportError:
            raise click.ClickException("no labeller installed: pass --labels FILE.json") from None
        for track in session.tracks:
            if track.guid in stems:
                try:
                    result = label_file(stems[track.guid], track.name)
                except Exception as exc:  # the labeller's own errors name file and reason
                    raise click.ClickException(
                        f"labelling {track.name!r} failed: {exc} (or pass --labels FILE.json)"
                    ) from None
                outcome.labels[track.guid] = result.label
                outcome.label_evidence[track.guid] = f"{result.label} ({result.confidence:.2f})"
    gains: dict[str, float] = {}
    if levels:
        measures, problems = measure_stems(stems, session)
        outcome.problems.update(problems)
        outcome.levels = starter_mix(
            session, outcome.labels, measures, targets=targets, max_move_db=max_move_db,
            headroom_peak_dbfs=headroom_db, mix_peak=lambda g: mix_peak_dbfs(stems, g))
        outcome.plan.extend(outcome.levels.plan)
        outcome.notes.extend(outcome.levels.notes)
        gains = {t.guid: t.move_db for t in outcome.levels.tracks}
    if eq:
        arrays = {}
        for guid, path in stems.items():
            data, _ = sf.read(str(path), dtype="float32", always_2d=True)
            arrays[guid] = np.asarray(data)
        eq_plan, outcome.eq = suggest_eq(session, outcome.labels, arrays, report.sample_rate,
                                         gains_db=gains, targets=targets)
        outcome.plan.extend(eq_plan)
    return outcome
