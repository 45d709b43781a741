"""``studio-bridge restore PROCESS IN --out OUT``: clean up one audio file into a new file."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

PROCESSES = ("denoise", "dehum", "declick", "debreath", "declip", "auto")
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


class Stopped(BaseException):
    """A stop signal arrived: unwinds like Ctrl-C, so the half-written output is removed
    (a BaseException, so no ``except Exception`` on the way can swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    def stop(signum: int, _frame: Any) -> None:
        raise Stopped(signum)

    previous = {}
    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            previous[number] = signal.signal(number, stop)
        except ValueError:  # not the main thread: the caller handles its own signals
            pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _fail(message: str, src: str, out: str, as_json: bool, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"file": src, "output": out, "error": message}, indent=2))
    sys.exit(code)


@click.command("restore")
@click.argument("process", type=click.Choice(PROCESSES))
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="New file to write (never the input); its extension picks the format.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists (never IN).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports (or the error) as JSON.")
def command(process: str, src: str, out: str, overwrite: bool, as_json: bool) -> None:
    """Denoise, de-hum, de-click, de-breath or de-clip IN into OUT; `auto` diagnoses first
    and runs only what is needed (declip, declick, dehum, denoise, debreath, in that order).
    OUT's extension picks the container (.wav, .flac, .aiff, .w64, .caf, .ogg, .mp3...); a
    format that cannot hold the repaired peaks gets the whole file lowered by one gain."""
    from bridge.restore.stream import RestoreError, process_file

    try:
        with _stop_on_signals():
            result = process_file(src, out, process, overwrite=overwrite)
    except (RestoreError, OSError) as exc:
        _fail(str(exc), src, out, as_json, 2)
        return
    except Stopped as stop:
        _fail(f"{out}: stopped by {stop}; nothing written", src, out, as_json,
              128 + stop.signum)
        return
    reports, diagnosis, output = result.reports, result.diagnosis, result.output
    if as_json:
        data = {
            "input": src,
            "output": out,
            "process": process,
            "written": output.to_dict(),
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
    if output.gain_db < 0.0 or output.note:
        click.echo(str(output))
    click.echo(f"wrote {out} ({output.format} {output.subtype})")
