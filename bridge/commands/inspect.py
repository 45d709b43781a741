"""``studio-bridge inspect PROJECT``: the session as a table or JSON."""

from __future__ import annotations

import json
import math

import click

from bridge.commands._common import fmt_db, load_project_or_exit, table


def session_to_dict(session) -> dict:
    def num(x: float) -> float | None:
        return None if math.isinf(x) else round(x, 6)

    return {
        "project": str(session.path),
        "daw": session.daw,
        "sample_rate": session.sample_rate,
        "tempo_bpm": session.tempo_bpm,
        "tracks": [
            {
                "guid": t.guid, "index": t.index + 1, "name": t.name,
                "volume_db": num(t.volume_db), "pan": t.pan, "mute": t.mute, "solo": t.solo,
                "color": t.color, "folder_depth": t.folder_depth, "folder_level": t.folder_level,
                "fx": t.fx_names,
                "items": [
                    {
                        "name": i.name, "position_s": i.position_s, "length_s": i.length_s,
                        "source_offset_s": i.source_offset_s, "gain_db": num(i.gain_db),
                        "fade_in_s": i.fade_in_s, "fade_out_s": i.fade_out_s, "mute": i.mute,
                        "takes": i.take_count,
                        "source": None if i.source is None else {
                            "kind": i.source.kind, "file": i.source.file,
                            "path": str(i.source.path) if i.source.path else None,
                            "missing": i.source.is_audio and not i.source.exists,
                        },
                    }
                    for i in t.items
                ],
            }
            for t in session.tracks
        ],
    }


@click.command("inspect")
@click.argument("project", type=click.Path(dir_okay=True, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--recover", is_flag=True, help="Load a truncated project (with a warning).")
def command(project: str, as_json: bool, recover: bool) -> None:
    """Show a project's tracks, items and sources; missing media is flagged."""
    session = load_project_or_exit(project, recover=recover)
    if as_json:
        click.echo(json.dumps(session_to_dict(session), indent=2, ensure_ascii=False))
        return
    click.echo(f"{session.path}  ({session.daw}, {len(session.tracks)} tracks"
               f"{f', {session.sample_rate} Hz' if session.sample_rate else ''})")
    rows = []
    for t in session.tracks:
        flags = " ".join(f for f, on in (("M", t.mute), ("S", t.solo), ("folder", t.is_folder))
                         if on)
        rows.append([t.index + 1, "  " * t.folder_level + (t.name or "(unnamed)"),
                     fmt_db(t.volume_db), f"{t.pan:+.2f}", flags, len(t.items),
                     ", ".join(t.fx_names)])
    click.echo(table(rows, ["#", "track", "vol dB", "pan", "flags", "items", "fx"]))
    missing = session.missing_media()
    if missing:
        click.echo(f"\n{len(missing)} item(s) with missing media:")
        for track, item in missing:
            click.echo(f"  track {track.index + 1} {track.name!r}: {item.source.file}")
