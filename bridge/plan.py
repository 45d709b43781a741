"""The Plan: the one thing that crosses from deciding to doing.

Assistants (label, mix, eq, restore, ...) return a :class:`Plan`; DAW adapters and the project
file writer apply it. A Plan is an ordered list of typed edits, each addressed to a track by its
GUID and carrying a plain-language ``reason`` plus the ``figures`` behind it. It prints as a
table for a dry run and round-trips through JSON::

    >>> plan = Plan([SetVolume(track="{A1}", track_name="Audio 1", volume_db=-6.0,
    ...                        reason="kick sits 6 dB over its target")])
    >>> Plan.from_json(plan.to_json()) == plan
    True

JSON form (the contract every assistant prints)::

    {"edits": [{"op": "set_volume", "track": "{GUID}", "track_name": "Audio 1",
                "reason": "...", "figures": {...}, "volume_db": -6.0}, ...]}

Reading JSON guesses nothing: every field of an op is required except ``track_name``,
``reason``, ``figures`` and those in :data:`OPTIONAL_FIELDS`; numbers must be finite and in
range (fader -150..+24 dB or ``-inf``, pan -1..1, EQ 10..24000 Hz, gain -30..+30 dB,
0 < Q <= 100). One bad edit refuses the whole Plan, named by its number (1-based, as
:meth:`Plan.describe` counts), op and field: ``edit 2 (set_volume): volume_db is missing``.
"""

from __future__ import annotations

import functools
import json
import math
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

BAND_TYPES = ("high_pass", "low_shelf", "band", "notch", "high_shelf", "low_pass")
"""EQ band shapes, in ReaEQ's own numbering order (0 = high-pass ... 5 = low-pass)."""


class PlanError(ValueError):
    """A Plan or one of its edits is malformed (unknown op, missing field, bad value)."""


@dataclass(frozen=True)
class Edit:
    """One change to one track. Subclasses add the fields of their ``op``."""

    track: str
    """The track's GUID, e.g. ``{0F3C...}`` (REAPER) or the route id (Ardour)."""
    track_name: str = ""
    """The track's name when the Plan was made, for people reading the Plan."""
    reason: str = ""
    """Why this edit: plain language, the figures behind it included."""
    figures: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Measurements behind the decision (``loudness_lufs``, ``confidence``, ...)."""

    op: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op}
        data.update(asdict(self))
        return data

    def describe(self) -> str:
        """One line for a person: what changes, not why."""
        return self.op

    def __str__(self) -> str:
        who = self.track_name or self.track
        text = f"{who}: {self.describe()}"
        return f"{text}  ({self.reason})" if self.reason else text


@dataclass(frozen=True)
class RenameTrack(Edit):
    name: str = ""
    op: ClassVar[str] = "rename_track"

    def describe(self) -> str:
        return f"rename to {self.name!r}"


@dataclass(frozen=True)
class SetColor(Edit):
    color: str = "#000000"
    """``#RRGGBB``."""
    op: ClassVar[str] = "set_color"

    def describe(self) -> str:
        return f"colour {self.color}"

    @property
    def rgb(self) -> tuple[int, int, int]:
        return parse_color(self.color)


@dataclass(frozen=True)
class SetVolume(Edit):
    volume_db: float = 0.0
    """The fader value after the move, in dB (not the size of the move)."""
    op: ClassVar[str] = "set_volume"

    def describe(self) -> str:
        return f"fader to {self.volume_db:+.1f} dB"


@dataclass(frozen=True)
class SetPan(Edit):
    pan: float = 0.0
    """-1 = hard left, 0 = centre, +1 = hard right."""
    op: ClassVar[str] = "set_pan"

    def describe(self) -> str:
        return f"pan {self.pan:+.2f}"


@dataclass(frozen=True)
class SetMute(Edit):
    mute: bool = False
    op: ClassVar[str] = "set_mute"

    def describe(self) -> str:
        return "mute" if self.mute else "unmute"


@dataclass(frozen=True)
class SetEqBand(Edit):
    """One band of the track's EQ (ReaEQ in REAPER, ACE EQ in Ardour), inserted if missing."""

    band: int = 0
    """Band index, 0-based."""
    band_type: str = "band"
    """One of :data:`BAND_TYPES`."""
    freq_hz: float = 1000.0
    gain_db: float = 0.0
    q: float = 0.707
    op: ClassVar[str] = "set_eq_band"

    def describe(self) -> str:
        return (
            f"EQ band {self.band + 1}: {self.band_type} {self.freq_hz:.0f} Hz "
            f"{self.gain_db:+.1f} dB Q {self.q:.2f}"
        )


@dataclass(frozen=True)
class AddTake(Edit):
    """Add a new take to an item pointing at a new audio file; the old take is kept."""

    item: int = 0
    """Index of the item on the track, 0-based, in project order."""
    file: str = ""
    """Path of the new audio file (absolute, or relative to the project folder)."""
    take_name: str = ""
    source_offset_s: float | None = None
    """Where the item starts in the new file; None = the same as the take it replaces
    (the new file covers the whole original source), 0.0 when it holds only the item's audio."""
    op: ClassVar[str] = "add_take"

    def describe(self) -> str:
        return f"item {self.item + 1}: new take {self.take_name or self.file!r}"


@dataclass(frozen=True)
class InsertMidiItem(Edit):
    """Insert a MIDI item made by an ideation assistant."""

    position_s: float = 0.0
    file: str = ""
    """A standard MIDI file (.mid) the item plays."""
    op: ClassVar[str] = "insert_midi_item"

    def describe(self) -> str:
        return f"insert MIDI {self.file!r} at {self.position_s:.2f} s"


@dataclass(frozen=True)
class MoveToFolder(Edit):
    """Put the track inside a folder track named ``folder``.

    All ``move_to_folder`` edits of a Plan with the same ``folder`` make one folder: a new
    folder track is inserted just above the first of its tracks (in project order) and the
    others are moved under it, keeping their order. Tracks that are folders themselves or
    already sit inside one stay where they are (the applier says so).
    """

    folder: str = ""
    color: str = ""
    """The new folder track's colour, ``#RRGGBB``, or empty for none."""
    op: ClassVar[str] = "move_to_folder"

    def describe(self) -> str:
        return f"into folder {self.folder!r}"


EDIT_TYPES: dict[str, type[Edit]] = {
    cls.op: cls
    for cls in (RenameTrack, SetColor, SetVolume, SetPan, SetMute, SetEqBand, AddTake,
                InsertMidiItem, MoveToFolder)
}


def parse_color(color: str) -> tuple[int, int, int]:
    """``"#RRGGBB"`` -> ``(r, g, b)``; raises :class:`PlanError` on anything else."""
    text = color.strip()
    if len(text) != 7 or not text.startswith("#"):
        raise PlanError(f"colour {color!r} is not #RRGGBB")
    try:
        value = int(text[1:], 16)
    except ValueError:
        raise PlanError(f"colour {color!r} is not #RRGGBB") from None
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


VOLUME_MAX_DB = 24.0
"""The loudest fader value a Plan may ask for (REAPER's fader tops out at +24 dB at most)."""
VOLUME_MIN_DB = -150.0
"""The quietest finite fader value (REAPER's fader floor); ``-inf`` means silence."""
STRICT_JSON_SILENCE_DB = -1000.0
"""How strict JSON (no infinities) writes a ``-inf`` fader; accepted as silence too."""
EQ_FREQ_MIN_HZ = 10.0
EQ_FREQ_MAX_HZ = 24000.0
"""EQ band frequencies: 10 Hz up to the Nyquist frequency of a 48 kHz session."""
EQ_GAIN_MAX_DB = 30.0
"""EQ band gain limit, either way."""
EQ_Q_MAX = 100.0

OPTIONAL_FIELDS: dict[str, frozenset[str]] = {
    "add_take": frozenset({"take_name", "source_offset_s"}),
    "move_to_folder": frozenset({"color"}),
}
"""Per op, the fields a JSON edit may leave out (besides ``track_name``, ``reason`` and
``figures``): every other field must be there, so a missing value is never guessed."""


def required_fields(op: str) -> list[str]:
    """The fields an edit of ``op`` must carry in JSON, in declaration order.

    >>> required_fields("set_volume")
    ['track', 'volume_db']
    """
    cls = EDIT_TYPES[op]
    common = {"track_name", "reason", "figures"}
    skip = common | OPTIONAL_FIELDS.get(op, frozenset())
    return [f.name for f in fields(cls) if f.name not in skip]


def _in(value: float, lo: float, hi: float) -> bool:
    return math.isfinite(value) and lo <= value <= hi


def _problem(edit: Edit) -> str | None:
    """What is wrong with ``edit`` (field first, in plain words), or None."""
    if not edit.track:
        return "no track GUID"
    if isinstance(edit, SetColor):
        return _color_problem("color", edit.color)
    if isinstance(edit, SetVolume):
        v = edit.volume_db
        if math.isnan(v):
            return "volume_db nan is not a finite number"
        if v not in (-math.inf, STRICT_JSON_SILENCE_DB) and not _in(v, VOLUME_MIN_DB,
                                                                    VOLUME_MAX_DB):
            return (f"volume_db {v:g} is outside {VOLUME_MIN_DB:g}..+{VOLUME_MAX_DB:g} dB "
                    "(-inf for silence)")
    elif isinstance(edit, SetPan):
        if not _in(edit.pan, -1.0, 1.0):
            return f"pan {edit.pan:g} outside -1..1"
    elif isinstance(edit, SetEqBand):
        if edit.band_type not in BAND_TYPES:
            return f"band_type {edit.band_type!r} not in {BAND_TYPES}"
        if edit.band < 0:
            return f"band {edit.band} < 0"
        if not _in(edit.freq_hz, EQ_FREQ_MIN_HZ, EQ_FREQ_MAX_HZ):
            return (f"freq_hz {edit.freq_hz:g} is outside {EQ_FREQ_MIN_HZ:g}.."
                    f"{EQ_FREQ_MAX_HZ:g} Hz")
        if not _in(edit.gain_db, -EQ_GAIN_MAX_DB, EQ_GAIN_MAX_DB):
            return (f"gain_db {edit.gain_db:g} is outside -{EQ_GAIN_MAX_DB:g}.."
                    f"+{EQ_GAIN_MAX_DB:g} dB")
        if not (_in(edit.q, 0.0, EQ_Q_MAX) and edit.q > 0):
            return f"q {edit.q:g} must be above 0 and at most {EQ_Q_MAX:g}"
    elif isinstance(edit, RenameTrack):
        if not edit.name.strip():
            return "name is empty: a rename needs the new name"
        if "\n" in edit.name or "\r" in edit.name:
            return "a name cannot hold a line break"
        if any(ord(c) < 32 or ord(c) == 127 for c in edit.name):
            return "a name cannot hold control characters"
    elif isinstance(edit, AddTake):
        if edit.item < 0:
            return f"item {edit.item} < 0"
        if not edit.file.strip():
            return "file is empty: a take needs an audio file"
        offset = edit.source_offset_s
        if offset is not None and not _in(offset, 0.0, math.inf):
            return f"source_offset_s {offset:g} must be a finite number of seconds >= 0"
    elif isinstance(edit, InsertMidiItem):
        if not _in(edit.position_s, 0.0, math.inf):
            return f"position_s {edit.position_s:g} must be a finite number of seconds >= 0"
        if not edit.file.strip():
            return "file is empty: a MIDI item needs a .mid file"
    elif isinstance(edit, MoveToFolder):
        if not edit.folder.strip() or any(ord(c) < 32 or ord(c) == 127 for c in edit.folder):
            return "the folder needs a one-line name without control characters"
        if edit.color:
            return _color_problem("color", edit.color)
    return None


def _color_problem(name: str, color: str) -> str | None:
    try:
        parse_color(color)
    except PlanError:
        return f"{name} {color!r} is not #RRGGBB"
    return None


def _validate(edit: Edit) -> None:
    problem = _problem(edit)
    if problem is not None:
        raise PlanError(f"{edit.op}: {problem}")


class _EditError(PlanError):
    """What is wrong with one JSON edit, before the edit's number and op are put in front."""

    def __init__(self, op: str | None, problem: str):
        super().__init__(f"{op}: {problem}" if op else problem)
        self.op = op
        self.problem = problem


def edit_from_dict(data: dict[str, Any]) -> Edit:
    """Build one edit from its JSON object, checking the op, its fields and their values.

    Every field of the op is required except ``track_name``, ``reason``, ``figures`` and the
    ones :data:`OPTIONAL_FIELDS` names; numbers must be finite and in range (a fader of
    ``-inf`` dB, written ``-Infinity``, or ``-1000`` in strict JSON, is silence).
    """
    if not isinstance(data, dict):
        raise _EditError(None, f"an edit must be a JSON object, got {type(data).__name__}")
    op = data.get("op")
    cls = EDIT_TYPES.get(op) if isinstance(op, str) else None
    if cls is None:
        raise _EditError(None, f"unknown op {op!r}; known: {', '.join(EDIT_TYPES)}")
    if not data.get("track"):
        raise _EditError(op, "no track GUID")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names - {"op"}
    if unknown:
        raise _EditError(op, f"unknown field(s) {', '.join(sorted(unknown))}")
    for name, value in data.items():
        if name != "op" and not _has_type(value, _field_types(cls)[name]):
            raise _EditError(
                op, f"{name} is {value!r}, not {_type_name(_field_types(cls)[name])}")
    missing = [name for name in required_fields(op) if name not in data]
    if missing:
        raise _EditError(op, f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                             "missing (required: no value is assumed)")
    values = {k: v for k, v in data.items() if k != "op"}
    try:
        edit = cls(**values)
    except TypeError as exc:
        raise _EditError(op, str(exc)) from None
    problem = _problem(edit)
    if problem is not None:
        raise _EditError(op, problem)
    return edit


@functools.cache
def _field_types(cls: type[Edit]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _has_type(value: Any, expected: Any) -> bool:
    """JSON value against a field annotation (``float`` takes integers, never booleans)."""
    if isinstance(expected, types.UnionType):
        return any(_has_type(value, t) for t in typing.get_args(expected))
    if expected is type(None):
        return value is None
    origin = typing.get_origin(expected) or expected
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (str, bool, dict, list):
        return isinstance(value, origin)
    return True


def _type_name(expected: Any) -> str:
    if isinstance(expected, types.UnionType):
        return " or ".join(_type_name(t) for t in typing.get_args(expected))
    if expected is type(None):
        return "null"
    origin = typing.get_origin(expected) or expected
    return {float: "a number", int: "an integer", str: "a string", bool: "true or false",
            dict: "an object", list: "a list"}.get(origin, str(expected))


@dataclass
class Plan:
    """An ordered list of edits, applied in order, undone as one step."""

    edits: list[Edit] = field(default_factory=list)

    def __post_init__(self) -> None:
        for edit in self.edits:
            _validate(edit)

    def __iter__(self) -> Iterator[Edit]:
        return iter(self.edits)

    def __len__(self) -> int:
        return len(self.edits)

    def __bool__(self) -> bool:
        return bool(self.edits)

    def __repr__(self) -> str:
        ops: dict[str, int] = {}
        for edit in self.edits:
            ops[edit.op] = ops.get(edit.op, 0) + 1
        summary = ", ".join(f"{n} {op}" for op, n in ops.items()) or "empty"
        return f"<Plan {summary}>"

    def add(self, edit: Edit) -> None:
        _validate(edit)
        self.edits.append(edit)

    def extend(self, edits: Sequence[Edit] | Plan) -> None:
        for edit in edits:
            self.add(edit)

    def for_track(self, guid: str) -> list[Edit]:
        return [e for e in self.edits if e.track == guid]

    def to_dict(self) -> dict[str, Any]:
        return {"edits": [e.to_dict() for e in self.edits]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if not isinstance(data, dict) or not isinstance(data.get("edits"), list):
            raise PlanError('a Plan is a JSON object {"edits": [...]}')
        edits = []
        for i, item in enumerate(data["edits"], start=1):  # numbered as describe() shows them
            try:
                edits.append(edit_from_dict(item))
            except _EditError as exc:
                where = f"edit {i} ({exc.op})" if exc.op else f"edit {i}"
                raise PlanError(f"{where}: {exc.problem}") from None
        return cls(edits)

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"not JSON: {exc}") from None
        return cls.from_dict(data)

    def describe(self) -> str:
        """The Plan as lines a person reads in a dry run."""
        if not self.edits:
            return "Nothing to change."
        return "\n".join(f"{i + 1:3d}. {edit}" for i, edit in enumerate(self.edits))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars in figures
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


@dataclass
class ApplyResult:
    """What applying a Plan to a project file did: edits written, edits skipped (with why),
    and the backup of the file as it was (None when nothing was written)."""

    applied: list[Edit] = field(default_factory=list)
    skipped: list[tuple[Edit, str]] = field(default_factory=list)
    backup: Path | None = None

    def __repr__(self) -> str:
        return f"<ApplyResult {len(self.applied)} applied, {len(self.skipped)} skipped>"
