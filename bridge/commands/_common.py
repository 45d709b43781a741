"""Small pieces the sub-commands share: loading a project with a clear error, table printing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import click


def load_project_or_exit(path: str | Path, *, recover: bool = False):  # -> Session
    """Load a project; on failure print the file, line and reason and exit with status 2."""
    from bridge.session import UnknownProjectError, load_session
    from bridge.session.rpp import RppParseError

    try:
        return load_session(path, recover=recover)
    except (RppParseError, UnknownProjectError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


def fmt_db(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if value == -math.inf:
        return "-inf"
    return f"{value:+.{digits}f}"


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """A plain fixed-width text table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
