"""``studio-bridge match FILE --reference REF``: EQ bands toward a reference's tonal balance."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("match")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--reference", "-r", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The reference recording (a mix, or a stem).")
@click.option("--amount", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="How far to go toward the reference (0 = nothing, 1 = full match).")
@click.option("--smoothing", type=click.FloatRange(min=0.02), default=1 / 3, show_default=True,
              help="Smoothing width in octaves.")
@click.option("--bands", "max_bands", type=click.IntRange(1, 8), default=8, show_default=True)
@click.option("--max-gain-db", type=click.FloatRange(1.0, 30.0), default=12.0, show_default=True,
              help="Largest boost or cut per EQ band (dB; a Plan holds at most 30).")
@click.option("--drums", is_flag=True,
              help="Match drums: use the percussive part (HPSS) of the reference.")
@click.option("--track", default=None,
              help="SOURCE is a project: match this track (name or GUID) and print a Plan.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(source: str, reference: str, amount: float, smoothing: float, max_bands: int,
            max_gain_db: float, drums: bool, track: str | None, as_json: bool) -> None:
    """Suggest at most 8 EQ bands that bring SOURCE toward REFERENCE's tonal balance, and
    compare their loudness and stereo width.

    SOURCE is an audio file, or a project with --track (the track's stem is rendered and the
    result is a Plan of set_eq_band edits for that track).
    """
    import numpy as np

    from bridge.assist.match import check_matchable, drum_part, match_eq
    from bridge.audio.reader import AudioError, read_audio
    from bridge.plan import Plan, SetEqBand

    def read(path: str) -> tuple[np.ndarray, int]:
        try:
            data, rate = read_audio(path)
        except AudioError as exc:
            raise click.ClickException(str(exc)) from None
        return data.astype(np.float64), rate

    if Path(reference).suffix.lower() in (".rpp", ".ardour"):
        raise click.ClickException(f"{reference}: the reference must be an audio file")
    ref, ref_rate = read(reference)
    guid = name = None
    if track is not None:
        samples, rate, guid, name = _project_stem(source, track)
    elif Path(source).suffix.lower() in (".rpp", ".ardour"):
        raise click.ClickException(f"{source}: a project needs --track NAME (the track to match)")
    else:
        samples, rate = read(source)
    try:
        check_matchable(samples, rate, f"{Path(source).name}")
        check_matchable(ref, ref_rate, f"{Path(reference).name} (the reference)")
        if drums:
            ref = drum_part(ref, ref_rate)
        result = match_eq(samples, ref, rate, ref_rate=ref_rate, amount=amount,
                          smoothing_oct=smoothing, max_bands=max_bands,
                          max_gain_db=max_gain_db, compare=True)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    what = "the drum part of " if drums else ""
    used = result.amount_used if result.amount_used is not None else amount
    amount_text = f"amount {amount:.2f}" if abs(used - amount) < 1e-9 else \
        f"amount {amount:.2f}, scaled to {used:.2f}: references too dissimilar"
    plan = Plan()
    for i, band in enumerate(result.bands):
        plan.add(SetEqBand(
            track=guid or "file", track_name=name or Path(source).name,
            reason=f"match {what}{Path(reference).name} ({amount_text}): "
                   f"1/3-octave distance {result.distance_before_db:.1f} -> "
                   f"{result.distance_after_db:.1f} dB",
            figures={"reference": str(reference)}, band=i, band_type=band.band_type,
            freq_hz=round(band.freq_hz, 1), gain_db=round(band.gain_db, 2),
            q=round(band.q, 3)))
    if as_json:
        data = result.to_dict()
        if guid is not None:
            data["plan"] = plan.to_dict()
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(plan.describe())
    click.echo(f"1/3-octave LTAS distance: {result.distance_before_db:.2f} dB before, "
               f"{result.distance_after_db:.2f} dB after")
    if result.content_distance_before_db is not None and \
            result.content_distance_after_db is not None and \
            abs(result.content_distance_before_db - result.distance_before_db) > 0.005:
        click.echo(f"  where the source has content: {result.content_distance_before_db:.2f} dB "
                   f"before, {result.content_distance_after_db:.2f} dB after")
    comp = result.comparison
    if comp is not None:
        if comp.loudness_difference_lu is not None:
            click.echo(f"loudness: source {comp.source_lufs:.1f} LUFS, reference "
                       f"{comp.reference_lufs:.1f} LUFS ({comp.loudness_difference_lu:+.1f} LU)")
        if comp.source_width_db is not None and comp.reference_width_db is not None:
            click.echo(f"width (side/mid): source {comp.source_width_db:.1f} dB, reference "
                       f"{comp.reference_width_db:.1f} dB")
    for note in result.notes:
        click.echo(f"note: {note}")


def _project_stem(project: str, track: str):
    import tempfile

    import soundfile as sf

    from bridge.audio.render import render_stems
    from bridge.commands._common import load_project_or_exit

    session = load_project_or_exit(project)
    found = [t for t in session.tracks if track in (t.guid, t.name)]
    if not found:
        raise click.ClickException(f"{project}: no track named {track!r}")
    chosen = found[0]
    with tempfile.TemporaryDirectory(prefix="studio-bridge-match-") as tmp:
        report = render_stems(session, tmp, tracks=[chosen.guid], mix=False)
        if chosen.guid not in report.stems:
            raise click.ClickException(
                f"{chosen.name}: {report.problems.get(chosen.guid, 'no stem')}")
        samples, rate = sf.read(str(report.stems[chosen.guid]), dtype="float64", always_2d=True)
    return samples, rate, chosen.guid, chosen.name
