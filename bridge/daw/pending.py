"""Pending plans: a Plan the bridge has ready for a project that is open in the DAW.

The bridge stores it here (one JSON file per project, keyed by the project's resolved path);
the "Studio Bridge: Apply pending plan" action asks for it through the spool exchange and
applies it inside one undo block. A Plan that was handed out moves to ``applied/`` so it is
never applied twice::

    store = PendingPlans(tmp_path)
    store.put("/music/song/song.RPP", plan, title="Starter mix")
    store.take("/music/song/song.RPP")   # -> (plan, {"title": "Starter mix", ...})
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from bridge.daw.spool import default_data_dir, plan_to_wire, write_json_atomic
from bridge.plan import Plan, PlanError


def project_key(project: str | Path) -> str:
    """A stable file-name-safe key for a project path (case-folded where the OS is)."""
    resolved = os.path.normcase(str(Path(project).expanduser().resolve()))
    return hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:20]


class PendingPlans:
    """Plans waiting for "Apply pending plan", one per project."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else default_data_dir() / "pending"

    def path_for(self, project: str | Path) -> Path:
        return self.folder / f"{project_key(project)}.json"

    def put(self, project: str | Path, plan: Plan, *, title: str = "Studio Bridge plan") -> Path:
        """Store ``plan`` for ``project``, replacing any plan still waiting there."""
        path = self.path_for(project)
        data = {
            "protocol": 1,
            "project": str(Path(project).expanduser().resolve()),
            "title": title,
            "created": time.time(),
            "plan": plan_to_wire(plan),
        }
        write_json_atomic(path, data)
        return path

    def get(self, project: str | Path) -> tuple[Plan, dict[str, Any]] | None:
        path = self.path_for(project)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise PlanError(f"{path}: unreadable pending plan: {exc}") from None
        try:
            plan = Plan.from_dict(data["plan"])
        except (KeyError, TypeError, PlanError) as exc:
            raise PlanError(f"{path}: bad pending plan: {exc}") from None
        meta = {k: v for k, v in data.items() if k != "plan"}
        return plan, meta

    def take(self, project: str | Path) -> tuple[Plan, dict[str, Any]] | None:
        """Hand the waiting plan out once: it moves to ``applied/`` (kept for the record)."""
        found = self.get(project)
        if found is None:
            return None
        path = self.path_for(project)
        done = self.folder / "applied"
        done.mkdir(parents=True, exist_ok=True)
        os.replace(path, done / f"{path.stem}-{int(time.time() * 1000)}.json")
        return found

    def discard(self, project: str | Path) -> bool:
        try:
            self.path_for(project).unlink()
        except FileNotFoundError:
            return False
        return True
