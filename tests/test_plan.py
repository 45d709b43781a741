"""The Plan's JSON form is the contract between assistants and DAW adapters."""

from __future__ import annotations

import json

import pytest

from bridge.plan import (
    AddTake,
    Plan,
    PlanError,
    RenameTrack,
    SetColor,
    SetEqBand,
    SetPan,
    SetVolume,
)


def sample_plan() -> Plan:
    return Plan([
        RenameTrack(track="{A}", track_name="Audio 1", name="Kick",
                    reason="kick, confidence 0.97", figures={"confidence": 0.97}),
        SetColor(track="{A}", color="#C0392B", reason="drums family"),
        SetVolume(track="{B}", track_name="Audio 2", volume_db=-4.5, reason="to target"),
        SetPan(track="{B}", pan=-0.3),
        SetEqBand(track="{B}", band=0, band_type="high_pass", freq_hz=80.0, gain_db=0.0, q=0.71,
                  reason="no useful low end"),
        AddTake(track="{C}", item=2, file="Audio/x-clean.wav", take_name="x (denoised)"),
    ])


def test_json_round_trip_and_field_names():
    plan = sample_plan()
    data = json.loads(plan.to_json())
    assert list(data) == ["edits"]
    first = data["edits"][0]
    assert first == {"op": "rename_track", "track": "{A}", "track_name": "Audio 1",
                     "reason": "kick, confidence 0.97", "figures": {"confidence": 0.97},
                     "name": "Kick"}
    vol = data["edits"][2]
    assert vol["op"] == "set_volume" and vol["volume_db"] == -4.5
    eq = data["edits"][4]
    assert {k: eq[k] for k in ("band", "band_type", "freq_hz", "gain_db", "q")} == {
        "band": 0, "band_type": "high_pass", "freq_hz": 80.0, "gain_db": 0.0, "q": 0.71}
    assert Plan.from_json(plan.to_json()) == plan


def test_describe_reads_like_a_dry_run():
    text = sample_plan().describe()
    assert "Audio 1: rename to 'Kick'  (kick, confidence 0.97)" in text
    assert "fader to -4.5 dB" in text and "high_pass 80 Hz" in text
    assert Plan().describe() == "Nothing to change."
    assert repr(sample_plan()).startswith("<Plan 1 rename_track, 1 set_color")


@pytest.mark.parametrize("payload, message", [
    ("[]", "JSON object"),
    ('{"edits": [{"op": "explode", "track": "{A}"}]}', "unknown op 'explode'"),
    ('{"edits": [{"op": "set_pan", "track": "{A}", "pan": 3}]}', "outside -1..1"),
    ('{"edits": [{"op": "set_color", "track": "{A}", "color": "red"}]}', "#RRGGBB"),
    ('{"edits": [{"op": "set_volume", "track": "{A}", "volume": 1}]}', "unknown field"),
    ('{"edits": [{"op": "set_eq_band", "track": "{A}", "band": 0, "band_type": "tilt", '
     '"freq_hz": 100, "gain_db": 0, "q": 1}]}', "band_type"),
    ('{"edits": [{"op": "rename_track", "name": "x"}]}', "no track"),
    ("{nope", "not JSON"),
])
def test_malformed_plans_are_refused_with_the_reason(payload: str, message: str):
    with pytest.raises(PlanError, match=message):
        Plan.from_json(payload)


def test_wrongly_typed_values_are_refused_with_the_field_named():
    import pytest

    from bridge.plan import Plan, PlanError

    cases = [
        ({"op": "set_volume", "track": "{A}", "volume_db": "loud"},
         "volume_db is 'loud', not a number"),
        ({"op": "set_mute", "track": "{A}", "mute": 1}, "mute is 1, not true or false"),
        ({"op": "set_eq_band", "track": "{A}", "band": 1.5}, "band is 1.5, not an integer"),
        ({"op": "rename_track", "track": "{A}", "name": 7}, "name is 7, not a string"),
        ({"op": "set_pan", "track": "{A}", "pan": True}, "pan is True, not a number"),
    ]
    for edit, message in cases:
        with pytest.raises(PlanError, match=message):
            Plan.from_dict({"edits": [edit]})
    ok = Plan.from_dict({"edits": [{"op": "add_take", "track": "{A}", "item": 0, "file": "x.wav",
                                    "source_offset_s": None},
                                   {"op": "set_volume", "track": "{A}", "volume_db": -6}]})
    assert len(ok) == 2
