"""``studio-bridge restore PROCESS IN --out OUT``: clean up one audio file into a new file."""

from __future__ import annotations

import json
import sys

import click

PROCESSES = ("denoise", "dehum", "declick", "debreath", "declip", "auto")


@click.command("restore")
@click.argument("process", type=click.Choice(PROCESSES))
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="New file to write (never the input).")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists (never IN).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def command(process: str, src: str, out: str, overwrite: bool, as_json: bool) -> None:
    """Denoise, de-hum, de-click, de-breath or de-clip IN into OUT; `auto` diagnoses first
    and runs only what is needed (declip, declick, dehum, denoise, debreath, in that order)."""
    from bridge.restore.stream import RestoreError, process_file

    try:
        reports, diagnosis = process_file(src, out, process, overwrite=overwrite)
    except (RestoreError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        data = {
            "input": src,
            "output": out,
            "process": process,
            "diagnosis": diagnosis.to_dict() if diagnosis else None,
            "reports": [r.to_dict() for r in reports],
        }
        click.echo(json.dumps(data, indent=2))
        return
    if diagnosis is not None:
        needed = ", ".join(diagnosis.needed) or "nothing"
        click.echo(f"diagnosis: {needed}")
        for name, text in diagnosis.findings.items():
            click.echo(f"  {name}: {text}")
    for report in reports:
        click.echo(str(report))
    click.echo(f"wrote {out}")
