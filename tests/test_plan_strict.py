"""Plan JSON means exactly what it says: every op's fields are required, numbers are finite and
in the ranges a DAW can hold, and a bad edit is named by its number, op and field."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.plan import (
    BAND_TYPES,
    EDIT_TYPES,
    STRICT_JSON_SILENCE_DB,
    AddTake,
    InsertMidiItem,
    MoveToFolder,
    Plan,
    PlanError,
    RenameTrack,
    SetColor,
    SetEqBand,
    SetMute,
    SetPan,
    SetVolume,
)
from bridge.session.model import db_to_gain

FULL: dict[str, dict[str, Any]] = {
    "rename_track": {"name": "Kick"},
    "set_color": {"color": "#C8453A"},
    "set_volume": {"volume_db": -6.0},
    "set_pan": {"pan": -0.25},
    "set_mute": {"mute": True},
    "set_eq_band": {"band": 0, "band_type": "band", "freq_hz": 250.0, "gain_db": -3.0,
                    "q": 1.4},
    "add_take": {"item": 0, "file": "Audio/kick-clean.wav"},
    "insert_midi_item": {"position_s": 4.0, "file": "ideas/bass.mid"},
    "move_to_folder": {"folder": "DRUMS"},
}
"""One complete edit of each op (the fields a reader needs to know what happens)."""

REQUIRED = [(op, name) for op, values in FULL.items() for name in values]


def edit(op: str, **changes: Any) -> dict[str, Any]:
    data = {"op": op, "track": "{A1}", **FULL[op], **changes}
    return {k: v for k, v in data.items() if v is not _DROP}


_DROP = object()


def test_the_table_covers_every_op() -> None:
    assert set(FULL) == set(EDIT_TYPES)
    for op in FULL:
        assert Plan.from_dict({"edits": [edit(op)]}).edits[0].op == op


@pytest.mark.parametrize("op, name", REQUIRED)
def test_a_missing_field_is_refused_not_filled_in(op: str, name: str) -> None:
    data = edit(op)
    del data[name]
    with pytest.raises(PlanError) as info:
        Plan.from_dict({"edits": [edit("set_mute"), data]})
    message = str(info.value)
    assert f"edit 2 ({op})" in message and name in message and "missing" in message


def test_optional_fields_may_be_left_out() -> None:
    plan = Plan.from_dict({"edits": [
        {"op": "set_volume", "track": "{A}", "volume_db": -3},
        {"op": "add_take", "track": "{A}", "item": 1, "file": "x.wav"},
        {"op": "move_to_folder", "track": "{A}", "folder": "VOX"},
    ]})
    assert plan.edits[1] == AddTake(track="{A}", item=1, file="x.wav")
    assert plan.edits[1].source_offset_s is None and plan.edits[2].color == ""


@pytest.mark.parametrize("op, name, value, words", [
    ("set_volume", "volume_db", 1e9, "-150..+24"),
    ("set_volume", "volume_db", 24.5, "-150..+24"),
    ("set_volume", "volume_db", -150.5, "-150..+24"),
    ("set_volume", "volume_db", math.inf, "-150..+24"),
    ("set_volume", "volume_db", math.nan, "not a finite number"),
    ("set_pan", "pan", math.nan, "-1..1"),
    ("set_pan", "pan", 1.01, "-1..1"),
    ("set_eq_band", "freq_hz", 5.0, "10..24000"),
    ("set_eq_band", "freq_hz", 30000.0, "10..24000"),
    ("set_eq_band", "freq_hz", math.nan, "10..24000"),
    ("set_eq_band", "gain_db", 30.5, "-30..+30"),
    ("set_eq_band", "gain_db", -31.0, "-30..+30"),
    ("set_eq_band", "gain_db", math.nan, "-30..+30"),
    ("set_eq_band", "q", 0.0, "q"),
    ("set_eq_band", "q", -1.0, "q"),
    ("set_eq_band", "q", math.inf, "q"),
    ("set_eq_band", "band", -1, "band"),
    ("add_take", "item", -1, "item"),
    ("add_take", "source_offset_s", -0.5, "source_offset_s"),
    ("add_take", "source_offset_s", math.nan, "source_offset_s"),
    ("insert_midi_item", "position_s", -1.0, "position_s"),
    ("insert_midi_item", "position_s", math.inf, "position_s"),
    ("rename_track", "name", "", "name"),
    ("rename_track", "name", "   ", "name"),
    ("add_take", "file", "", "file"),
    ("insert_midi_item", "file", "", "file"),
])
def test_values_outside_what_a_daw_holds_are_refused(op: str, name: str, value: Any,
                                                       words: str) -> None:
    # through JSON text, the way a saved plan arrives (Python's json reads NaN and Infinity)
    text = json.dumps({"edits": [edit(op, **{name: value})]})
    with pytest.raises(PlanError) as info:
        Plan.from_json(text)
    message = str(info.value)
    assert f"edit 1 ({op})" in message and name in message and words in message


def test_the_edges_of_each_range_are_accepted() -> None:
    plan = Plan.from_json(json.dumps({"edits": [
        edit("set_volume", volume_db=24), edit("set_volume", volume_db=-150),
        edit("set_volume", volume_db=-math.inf), edit("set_pan", pan=-1), edit("set_pan", pan=1),
        edit("set_eq_band", freq_hz=10, gain_db=-30, q=0.01),
        edit("set_eq_band", freq_hz=24000, gain_db=30, q=100),
        edit("add_take", source_offset_s=0.0), edit("insert_midi_item", position_s=0),
    ]}))
    assert plan.edits[2].volume_db == -math.inf


def test_silence_in_strict_json_is_accepted_as_silence() -> None:
    from bridge.daw.spool import plan_to_wire

    plan = Plan([SetVolume(track="{A}", volume_db=-math.inf, reason="muted part")])
    wire = plan_to_wire(plan)
    json.dumps(wire, allow_nan=False)  # strict JSON, what the DAW scripts read
    back = Plan.from_dict(wire).edits[0]
    assert isinstance(back, SetVolume) and back.volume_db == STRICT_JSON_SILENCE_DB
    assert db_to_gain(back.volume_db) < 1e-30  # silence on any fader


def test_edits_made_in_python_are_held_to_the_same_ranges() -> None:
    with pytest.raises(PlanError, match="volume_db"):
        Plan([SetVolume(track="{A}", volume_db=1e9)])
    plan = Plan()
    with pytest.raises(PlanError, match="gain_db"):
        plan.add(SetEqBand(track="{A}", band=0, band_type="band", freq_hz=100.0, gain_db=90.0,
                           q=1.0))
    assert len(plan) == 0


def test_the_bad_edit_is_named_by_its_number_and_op() -> None:
    text = json.dumps({"edits": [edit("rename_track"), edit("set_pan"),
                                 edit("set_color", color="#12345")]})
    with pytest.raises(PlanError, match=r"^edit 3 \(set_color\): color '#12345' is not #RRGGBB"):
        Plan.from_json(text)
    with pytest.raises(PlanError, match=r"^edit 1: unknown op 'explode'"):
        Plan.from_dict({"edits": [{"op": "explode", "track": "{A}"}]})


# ------------------------------------------------------------------------- round trip, any plan

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_line = _text.filter(
    lambda s: s.strip() != "" and not any(ord(c) < 32 or ord(c) == 127 for c in s))
_guid = st.uuids().map(lambda u: "{" + str(u).upper() + "}")
_color = st.integers(0, 0xFFFFFF).map(lambda v: f"#{v:06X}")


def _num(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _edit(cls: type, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, track=_guid, track_name=_text, reason=_text, **fields)


EDITS = st.one_of(
    _edit(RenameTrack, name=_line),
    _edit(SetColor, color=_color),
    _edit(SetVolume, volume_db=_num(-150.0, 24.0) | st.just(-math.inf)),
    _edit(SetPan, pan=_num(-1.0, 1.0)),
    _edit(SetMute, mute=st.booleans()),
    _edit(SetEqBand, band=st.integers(0, 31), band_type=st.sampled_from(BAND_TYPES),
          freq_hz=_num(10.0, 24000.0), gain_db=_num(-30.0, 30.0), q=_num(0.01, 100.0)),
    _edit(AddTake, item=st.integers(0, 500), file=_line, take_name=_text,
          source_offset_s=st.none() | _num(0.0, 1e6)),
    _edit(InsertMidiItem, position_s=_num(0.0, 1e6), file=_line),
    _edit(MoveToFolder, folder=_line, color=st.just("") | _color),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(EDITS, max_size=8))
def test_every_valid_plan_survives_json_and_the_strict_wire(edits: list[Any]) -> None:
    from bridge.daw.spool import plan_to_wire

    plan = Plan(edits)
    assert Plan.from_json(plan.to_json()) == plan
    assert Plan.from_json(plan.to_json(indent=None)).to_dict() == plan.to_dict()
    assert plan_to_wire(Plan.from_dict(plan_to_wire(plan))) == plan_to_wire(plan)
