"""``studio-bridge demo PROJECT``: the main job on one session, start to finish, as a tour.

Copies the session into ``--out``, then: renders its stems, measures them, labels every track,
decides starter levels and EQ, writes the HTML report, and applies the whole Plan to the copy
(atomic replace, with a backup). The original project is never touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from bridge.commands._common import fmt_db, load_project_or_exit, table


def _step(number: int, text: str) -> None:
    click.secho(f"\n{number}. {text}", bold=True)


@click.command("demo")
@click.argument("project", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/demo",
              show_default=True, help="Where the session copy, stems, Plan and report go.")
def command(project: str, out_dir: str) -> None:
    """Run the main job on (a copy of) PROJECT and show every step."""
    from bridge.analysis.measure import measure_file
    from bridge.assist.label import label_tracks, plan_from_labels, wants_rename
    from bridge.assist.pipeline import mix_session
    from bridge.audio.reader import AudioError
    from bridge.audio.render import render_stems
    from bridge.daw.rpp_file import apply_plan_to_file
    from bridge.plan import Plan
    from bridge.report.html import mix_report

    out = Path(out_dir)
    source = Path(project).resolve()
    copy_dir = out / "session"
    if copy_dir.exists():
        shutil.rmtree(copy_dir)
    shutil.copytree(source.parent, copy_dir, ignore=shutil.ignore_patterns(".studio-bridge"))
    copy = copy_dir / source.name
    session = load_project_or_exit(copy)

    _step(1, f"Session {source.name} ({session.daw}, {len(session.tracks)} tracks), "
             f"copied to {copy_dir}")
    rows = [[t.index + 1, t.name or "(unnamed)", fmt_db(t.volume_db), f"{t.pan:+.2f}",
             len(t.items)] for t in session.tracks]
    click.echo(table(rows, ["#", "track", "fader dB", "pan", "items"]))

    _step(2, f"Stems rendered offline (dry, post-fader) into {out / 'stems'}")
    report = render_stems(session, out / "stems")
    rows = []
    for t in session.tracks:
        if t.guid not in report.stems:
            rows.append([t.index + 1, t.name, "-", "-", "-", report.problems.get(t.guid, "")])
            continue
        try:
            m = measure_file(report.stems[t.guid])
        except AudioError as exc:  # a stem that cannot be measured is listed, the tour goes on
            rows.append([t.index + 1, t.name, "-", "-", "-", f"cannot measure: {exc.reason}"])
            continue
        rows.append([t.index + 1, t.name, fmt_db(m.integrated_lufs), fmt_db(m.short_term_max_lufs),
                     fmt_db(m.true_peak_dbtp), report.stems[t.guid].name])
    click.echo(table(rows, ["#", "track", "LUFS", "ST max", "dBTP", "stem"]))
    for t in session.tracks:
        for note in report.notes.get(t.guid, []):
            click.echo(f"note: {t.name}: {note}")
    if report.bad_media:
        click.echo(f"{len(report.bad_media)} track(s) left out because of bad or missing media: "
                   + ", ".join(t.name or f"#{t.index + 1}" for t in session.tracks
                               if t.guid in report.bad_media))
    if report.mix:
        try:
            m = measure_file(report.mix)
        except AudioError as exc:
            click.echo(f"mix: cannot measure: {exc.reason}")
        else:
            click.echo(f"mix: {fmt_db(m.integrated_lufs)} LUFS integrated, true peak "
                       f"{fmt_db(m.true_peak_dbtp)} dBTP, LRA {m.lra_lu or 0:.1f} LU")

    _step(3, "Labels: what each stem sounds like (name hints count, never alone)")
    pre = render_stems(session, out / "stems-pre-fader", pre_fader=True, mix=False)
    labels = label_tracks(session, pre.stems, rename_all=True)  # the mix needs every class
    click.echo(table([[lb.track.index + 1, lb.track.name, lb.label,
                       f"{lb.result.confidence:.2f}" if lb.result else "-",
                       lb.result.evidence if lb.result else lb.error] for lb in labels],
                     ["#", "track", "label", "conf", "evidence"]))
    plan = Plan()
    # only generic names ("Audio 1", "Track 3") are renamed: names a person chose stay
    plan.extend(plan_from_labels([lb for lb in labels if wants_rename(lb.track)], session))

    _step(4, "Starter mix and EQ suggestions")
    outcome = mix_session(session, out / "stems", rendered=report,
                          labels={lb.track.guid: lb.label for lb in labels})
    plan.extend(outcome.plan)
    click.echo(outcome.plan.describe())
    for note in outcome.notes:
        click.echo(f"note: {note}")
    for track_eq in outcome.eq.values():
        for note in track_eq.notes:
            click.echo(f"note: {track_eq.name}: {note}")
    for t in session.tracks:
        if t.guid in outcome.problems and t.guid not in report.problems:
            click.echo(f"skipped {t.name}: {outcome.problems[t.guid]}")

    _step(5, "The Plan, the report, and the Plan applied to the copy")
    (out / "plan.json").write_text(plan.to_json() + "\n", encoding="utf-8")
    (out / "report.html").write_text(mix_report(session, outcome), encoding="utf-8")
    result = apply_plan_to_file(copy, plan)
    click.echo(f"{len(plan)} edits in {out / 'plan.json'}; report: {out / 'report.html'}")
    click.echo(f"{len(result.applied)} edits written into {copy} (backup: {result.backup})")
    if result.skipped:
        click.echo(f"{len(result.skipped)} EQ edits wait for a live DAW (REAPER: 'Studio Bridge: "
                   "Apply pending plan'; they cannot be written into ReaEQ's binary state)")
    after = load_project_or_exit(copy)
    rows = [[t.index + 1, b.name, t.name, fmt_db(b.volume_db), fmt_db(t.volume_db), t.color or ""]
            for b, t in zip(session.tracks, after.tracks, strict=True)]
    click.echo(table(rows, ["#", "before", "after", "fader before", "fader after", "colour"]))
