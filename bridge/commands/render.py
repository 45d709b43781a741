"""``studio-bridge render PROJECT --out DIR``: dry stems of every track, plus the mix.

Exit status 1 when a track could not be rendered because of bad media (missing, unreadable,
NaN/Inf samples); tracks without audio items, folder buses and MIDI tracks are notes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bridge.commands._common import load_project_or_exit


@click.command("render")
@click.argument("project", type=click.Path(exists=True))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for the stems (created if needed).")
@click.option("--sample-rate", type=int, default=None, help="Render rate (default: project's).")
@click.option("--pre-fader", is_flag=True, help="Leave out each track's volume and pan.")
def command(project: str, out_dir: str, sample_rate: int | None, pre_fader: bool) -> None:
    """Render each track's audio items to a stereo float WAV, as REAPER plays them dry.

    Exit status 1 if any track could not be rendered because its media is missing or bad.
    """
    from bridge.audio.render import render_stems

    session = load_project_or_exit(project)
    report = render_stems(session, Path(out_dir), sample_rate=sample_rate, pre_fader=pre_fader)
    for track in session.tracks:
        if track.guid in report.stems:
            click.echo(f"  {track.index + 1:3d} {track.name!r:24} -> {report.stems[track.guid]}")
            for note in report.notes.get(track.guid, []):
                click.echo(f"      note: {note}")
        elif track.guid in report.problems:
            word = "FAILED" if track.guid in report.bad_media else "not rendered"
            click.echo(f"  {track.index + 1:3d} {track.name!r:24} {word}: "
                       f"{report.problems[track.guid]}")
    if report.mix:
        click.echo(f"  mix -> {report.mix}")
    click.echo(f"{len(report.stems)} stem(s), {report.length_s:.1f} s at {report.sample_rate} Hz")
    if report.bad_media:
        click.echo(f"error: {len(report.bad_media)} track(s) not rendered because of bad or "
                   "missing media", err=True)
        sys.exit(1)
