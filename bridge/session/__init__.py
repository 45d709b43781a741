"""Sessions: the DAW-neutral model and the project file formats it is read from.

``load_session(path)`` picks the reader from the file: a REAPER ``.RPP`` or an Ardour
``.ardour`` session (or the folder holding one).
"""

from __future__ import annotations

from pathlib import Path

from bridge.session.model import Item, Session, Source, Track


class UnknownProjectError(ValueError):
    """The path is not a project any supported DAW writes."""


def project_daw(path: str | Path) -> str:
    """``"reaper"`` or ``"ardour"``: which DAW owns the project at ``path``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".rpp":
        return "reaper"
    if suffix == ".ardour" or (p.is_dir() and any(p.glob("*.ardour"))):
        return "ardour"
    raise UnknownProjectError(f"{p}: not a REAPER (.RPP) or Ardour (.ardour) project")


def load_session(path: str | Path, *, recover: bool = False) -> Session:
    """Read any supported project into a Session."""
    if project_daw(path) == "reaper":
        from bridge.session.rpp_session import load_session as load_rpp

        return load_rpp(path, recover=recover)
    from bridge.session.ardour import load_session as load_ardour

    return load_ardour(path)


__all__ = ["Item", "Session", "Source", "Track", "UnknownProjectError", "load_session",
           "project_daw"]
