"""``studio-bridge label FILE... [--json]``: what instrument is on each stem.

Audio files get a label, a confidence and per-class scores. A project (``.RPP`` or
``.ardour``) gets its tracks rendered to stems, labelled, and the rename/colour Plan printed
(a dry run: nothing is written). A file that cannot be read is reported and the batch goes on;
the exit status is 1 when any file failed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click

PROJECT_SUFFIXES = (".rpp", ".ardour")


def _is_project(path: Path) -> bool:
    return path.suffix.lower() in PROJECT_SUFFIXES


def _label_project(path: Path, rename_all: bool, min_confidence: float | None,
                   stems_dir: str | None, folders: bool = False) -> dict[str, Any]:
    from bridge.assist.label import label_tracks, plan_from_labels
    from bridge.commands._common import load_project_or_exit

    try:
        from bridge.audio.render import render_stems
    except ImportError as exc:  # the renderer is a separate module; say so plainly
        raise click.ClickException(f"{path}: stem rendering is not available ({exc})") from None
    session = load_project_or_exit(path)
    with tempfile.TemporaryDirectory(prefix="studio-bridge-label-") as tmp:
        out = Path(stems_dir) if stems_dir else Path(tmp)
        report = render_stems(session, out, pre_fader=True, mix=False)
        labels = label_tracks(session, report.stems, rename_all=rename_all,
                              min_confidence=min_confidence)
    plan = plan_from_labels(labels, session, folders=folders)
    tracks = []
    for t in labels:
        entry: dict[str, Any] = {"track": t.track.guid, "name": t.track.name}
        if t.result is not None:
            entry.update(t.result.to_dict())
        else:
            entry["error"] = report.problems.get(t.track.guid) or t.error
        tracks.append(entry)
    return {"file": str(path), "tracks": tracks, "plan": plan.to_dict(), "_plan": plan}


@click.command("label")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file.")
@click.option("--rename-all", is_flag=True,
              help="Projects: rename every track, not only generic names ('Audio 01').")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=None,
              help="Below this the label is 'unknown' (default: the model's threshold).")
@click.option("--stems", "stems_dir", type=click.Path(file_okay=False), default=None,
              help="Projects: keep the rendered stems in this folder.")
@click.option("--folders", is_flag=True,
              help="Projects: also put each family of two or more tracks into a folder "
                   "(DRUMS, VOCALS, ...).")
def command(files: tuple[str, ...], as_json: bool, rename_all: bool,
            min_confidence: float | None, stems_dir: str | None, folders: bool) -> None:
    """Label stems (kick, snare, ..., vocal, speech or unknown); for a project, print the
    rename Plan."""
    from bridge.assist.labeller import LabelError, ModelError, label_file

    results: list[dict[str, Any]] = []
    failed = 0
    for name in files:
        path = Path(name)
        try:
            if _is_project(path):
                entry = _label_project(path, rename_all, min_confidence, stems_dir, folders)
            else:
                r = label_file(path, min_confidence=min_confidence)
                entry = {"file": name, **r.to_dict()}
        except ModelError as exc:
            raise click.ClickException(str(exc)) from None
        except (LabelError, click.ClickException, OSError, ValueError) as exc:
            failed += 1
            message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            entry = {"file": name, "error": message}
        results.append(entry)
        if not as_json:
            _print_entry(entry)
    if as_json:
        for entry in results:
            entry.pop("_plan", None)
        click.echo(json.dumps(results, indent=2))
    if failed:
        if not as_json:
            click.echo(f"{failed} of {len(files)} file(s) failed", err=True)
        raise SystemExit(1)


def _print_entry(entry: dict[str, Any]) -> None:
    if "error" in entry and "tracks" not in entry:
        click.echo(f"{entry['file']}: ERROR {entry['error']}", err=True)
        return
    if "tracks" in entry:
        click.echo(f"{entry['file']}:")
        for t in entry["tracks"]:
            if "error" in t:
                click.echo(f"  {t['name'] or '(unnamed)'}: not labelled ({t['error']})")
            else:
                click.echo(f"  {t['name'] or '(unnamed)'}: {t['label']} {t['confidence']:.2f}")
        click.echo(entry["_plan"].describe())
        return
    top = sorted(entry["scores"].items(), key=lambda kv: -kv[1])[:3]
    scores = ", ".join(f"{k} {v:.2f}" for k, v in top)
    click.echo(f"{entry['file']}: {entry['label']} {entry['confidence']:.2f}  [{scores}]")
