"""``studio-bridge demo PROJECT``: the main job on one session, start to finish, as a tour.

Loads the session, renders its stems, measures them, and prints what each step found. It
never modifies the project: anything it would change goes into a copy under ``--out``.
"""

from __future__ import annotations

from pathlib import Path

import click

from bridge.commands._common import fmt_db, load_project_or_exit, table


def _levels(path: Path) -> tuple[float, float]:
    """Sample peak and RMS of a stem, dBFS."""
    import numpy as np
    import soundfile as sf

    from bridge.session.model import gain_to_db

    data, _ = sf.read(str(path), always_2d=True)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    rms = float(np.sqrt(np.mean(data**2))) if data.size else 0.0
    return gain_to_db(peak), gain_to_db(rms)


@click.command("demo")
@click.argument("project", type=click.Path(exists=True))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/demo",
              show_default=True, help="Where stems, the report and the mixed copy go.")
def command(project: str, out_dir: str) -> None:
    """Run the main job on PROJECT and show every step."""
    from bridge.audio.render import render_stems

    out = Path(out_dir)
    session = load_project_or_exit(project)
    click.secho(f"1. Session: {session.path.name} ({session.daw}, {len(session.tracks)} tracks)",
                bold=True)
    rows = [[t.index + 1, t.name or "(unnamed)", fmt_db(t.volume_db), f"{t.pan:+.2f}",
             len(t.items)] for t in session.tracks]
    click.echo(table(rows, ["#", "track", "fader dB", "pan", "items"]))

    click.secho(f"\n2. Stems rendered offline into {out / 'stems'}", bold=True)
    report = render_stems(session, out / "stems")
    rows = []
    for t in session.tracks:
        if t.guid in report.stems:
            peak, rms = _levels(report.stems[t.guid])
            rows.append([t.index + 1, t.name, fmt_db(peak), fmt_db(rms),
                         report.stems[t.guid].name])
        else:
            rows.append([t.index + 1, t.name, "-", "-", report.problems.get(t.guid, "")])
    click.echo(table(rows, ["#", "track", "peak dBFS", "RMS dBFS", "stem"]))
    if report.mix:
        peak, rms = _levels(report.mix)
        click.echo(f"mix: peak {fmt_db(peak)} dBFS, RMS {fmt_db(rms)} dBFS")
