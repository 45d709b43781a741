"""Shared helpers for the test suite: where the reference material is, and what to do when a
program or data set a test needs is missing (skip on a developer's machine, fail in CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip locally, fail in CI: CI installs everything the suite needs (.ci/run)."""
    message = f"{what} is missing (.ci/run installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def shared_path() -> Path:
    """Where the reference folder should be (../shared, or $STUDIO_BRIDGE_SHARED)."""
    return Path(os.environ.get("STUDIO_BRIDGE_SHARED", REPO.parent / "shared"))


def shared_dir() -> Path:
    """The read-only reference folder; skip locally / fail in CI when it is missing."""
    path = shared_path()
    if not path.is_dir():
        missing(f"reference folder {path}")
    return path


def require_program(name: str) -> str:
    """Path of an executable on PATH (or an absolute path), else skip/fail."""
    found = shutil.which(name)
    if found is None:
        missing(f"program {name!r}")
    return found  # type: ignore[return-value]


def require_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        missing(str(p))
    return p
