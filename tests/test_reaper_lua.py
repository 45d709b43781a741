"""The REAPER Lua actions, run in a real Lua 5.4 against a recording ``reaper`` table generated
from REAPER's published signature lists (tests/lua/fake_reaper.py), plus a static scan of every
``reaper.X`` / ``gfx.X`` call in daw_scripts/."""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _support import REPO, require_program, shared_dir

from bridge.daw import reaper_install as ri
from bridge.daw.pending import PendingPlans
from bridge.daw.reaper import q_to_octaves
from bridge.daw.spool import HandlerRegistry, SpoolServer
from bridge.plan import MoveToFolder, Plan, RenameTrack, SetColor, SetEqBand, SetVolume

SCRIPTS = REPO / "bridge" / "daw_scripts"
LUA_DIR = REPO / "tests" / "lua"


def _fake_module():
    spec = importlib.util.spec_from_file_location("fake_reaper", LUA_DIR / "fake_reaper.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_reaper"] = module
    spec.loader.exec_module(module)
    return module


fake_reaper = _fake_module()


@pytest.fixture(scope="module")
def lua() -> str:
    return require_program("lua5.4")


@pytest.fixture(scope="module")
def signatures():
    return fake_reaper.load_signatures(shared_dir() / "reaper")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Scripts/StudioBridge of a temporary resource folder, laid out as the installer (and
    ReaPack) lay it out: REAPER's scripts and the shared studio_bridge_core.lua side by side,
    away from the checkout, so the library finds the core only where REAPER would."""
    scripts = installed_scripts(tmp_path_factory.mktemp("resource"))
    scripts.mkdir(parents=True)
    for lua in ri.script_files():
        shutil.copyfile(lua, scripts / lua.name)
    return scripts


def installed_scripts(resource: Path) -> Path:
    return resource / "Scripts" / ri.INSTALL_FOLDER


@pytest.fixture(scope="module")
def fake_lua(installed, signatures) -> Path:
    """The generated ``reaper`` table, in the resource folder of ``installed``."""
    out = installed.parents[1] / "fake_reaper.lua"
    out.write_text(fake_reaper.generate_lua(signatures), encoding="utf-8")
    return out


def run_lua(lua: str, fake: Path, scenario: dict, tmp: Path, env: dict | None = None,
            timeout: float = 30) -> dict:
    scenario = {"scripts_dir": str(installed_scripts(fake.parent)), **scenario}
    path = tmp / f"scenario_{random.randrange(1 << 30)}.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    proc = subprocess.run([lua, str(LUA_DIR / "run.lua"), str(fake), str(path)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def guid(n: int) -> str:
    return f"{{{n:08X}-0000-4000-8000-{n:012X}}}"


WORLD = {
    "project": "",
    "tracks": [
        {"guid": guid(1), "name": "Audio 1", "items": [{"source": "/audio/kick.wav"}]},
        {"guid": guid(2), "name": "Audio 2", "selected": True,
         "items": [{"source": "/audio/snare.wav", "position_s": 1.5, "length_s": 2.0,
                    "selected": True}]},
        {"guid": guid(3), "name": "Audio 3"},
    ],
}


def T(n: int) -> str:
    return f"<MediaTrack:{guid(n)}>"


# ------------------------------------------------------------------------------------------
# the generated fake
# ------------------------------------------------------------------------------------------


def test_signature_lists_parse(signatures):
    assert len(signatures) > 650
    assert (signatures["reaper.CountTracks"].min_args, signatures["reaper.CountTracks"].max_args) \
        == (0, 1)  # projOptional in the C API
    assert signatures["reaper.TrackFX_SetEQParam"].max_args == 7
    assert signatures["reaper.defer"].min_args == 1


def test_fake_rejects_unknown_names_and_wrong_counts(lua, fake_lua, tmp_path):
    probe = tmp_path / "probe.lua"
    probe.write_text(
        f'dofile("{fake_lua}")\n'
        'local ok1, e1 = pcall(function() return reaper.NotAFunction(1) end)\n'
        'local ok2, e2 = pcall(reaper.GetTrack, 0)\n'
        'local ok3 = pcall(reaper.CountTracks)\n'
        'print(ok1, ok2, ok3, #FAKE.calls)\n'
        'print(e1)\nprint(e2)\n', encoding="utf-8")
    out = subprocess.run([lua, str(probe)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["false", "false", "true", "1"]
    assert "NotAFunction is not in the REAPER API" in lines[1]
    assert "accepts 2..2" in lines[2]


# ------------------------------------------------------------------------------------------
# applying a Plan
# ------------------------------------------------------------------------------------------


def test_plan_yields_exactly_these_calls_in_one_undo_block(lua, fake_lua, tmp_path):
    plan = Plan([
        RenameTrack(track=guid(1).lower(), track_name="Audio 1", name="Kick",
                    reason="sounds like a kick drum"),
        SetVolume(track=guid(2), volume_db=-6.0),
        SetColor(track=guid(2), color="#FF8000"),
        SetEqBand(track=guid(3), band=1, band_type="band", freq_hz=250.0, gain_db=-3.0, q=1.414),
        SetEqBand(track=guid(3), band=0, band_type="high_pass", freq_hz=80.0, q=0.7),
    ])
    out = run_lua(lua, fake_lua, {"mode": "apply", "world": WORLD, "title": "Starter mix",
                                  "plan": plan.to_dict(), "project_dir": str(tmp_path)}, tmp_path)
    assert out["ok"], out["error"]
    calls = [(c["name"].removeprefix("reaper."), c["args"]) for c in out["calls"]]
    bw = q_to_octaves(1.414)
    expected = [
        ("CountTracks", [0]),
        ("GetTrack", [0, 0]), ("GetTrackGUID", [T(1)]),
        ("GetTrack", [0, 1]), ("GetTrackGUID", [T(2)]),
        ("GetTrack", [0, 2]), ("GetTrackGUID", [T(3)]),
        ("Undo_BeginBlock2", [0]),
        ("PreventUIRefresh", [1]),
        ("GetSetMediaTrackInfo_String", [T(1), "P_NAME", "Kick", True]),
        ("SetMediaTrackInfo_Value", [T(2), "D_VOL", pytest.approx(10 ** (-6 / 20))]),
        ("ColorToNative", [255, 128, 0]),
        ("SetMediaTrackInfo_Value", [T(2), "I_CUSTOMCOLOR", (255 | 128 << 8) | 0x1000000]),
        ("TrackFX_GetEQ", [T(3), True]),
        ("TrackFX_SetEQBandEnabled", [T(3), 0, 2, 1, True]),
        ("TrackFX_SetEQParam", [T(3), 0, 2, 1, 0, 250, False]),
        ("TrackFX_SetEQParam", [T(3), 0, 2, 1, 1, -3, False]),
        ("TrackFX_SetEQParam", [T(3), 0, 2, 1, 2, pytest.approx(bw), False]),
        ("TrackFX_GetEQ", [T(3), True]),
        ("TrackFX_SetEQBandEnabled", [T(3), 0, 0, 0, True]),
        ("TrackFX_SetEQParam", [T(3), 0, 0, 0, 0, 80, False]),
        ("TrackFX_SetEQParam", [T(3), 0, 0, 0, 2, pytest.approx(q_to_octaves(0.7)), False]),
        ("PreventUIRefresh", [-1]),
        ("TrackList_AdjustWindows", [False]),
        ("UpdateArrange", []),
        ("Undo_EndBlock2", [0, "Studio Bridge: Starter mix", -1]),
    ]
    assert calls == expected
    assert out["undo"] == ["Studio Bridge: Starter mix"] and out["undo_depth"] == 0
    assert out["outside_block"] == []
    assert out["result"] == {"applied": 5, "notes": []}
    assert out["tracks"][0]["name"] == "Kick"


def test_bad_plan_changes_nothing(lua, fake_lua, tmp_path):
    plan = {"edits": [{"op": "set_volume", "track": guid(1), "volume_db": -3.0},
                      {"op": "set_pan", "track": guid(2), "pan": 7}]}
    out = run_lua(lua, fake_lua, {"mode": "apply", "world": WORLD, "title": "x", "plan": plan,
                                  "project_dir": str(tmp_path)}, tmp_path)
    assert out["ok"]
    assert out["result"]["applied"] is None and "bad pan" in out["result"]["notes"]
    assert out["calls"] == [] and out["undo"] == []


@pytest.mark.parametrize(("edit", "field"), [
    ({"op": "rename_track", "name": "line1\nline2"}, "name"),
    ({"op": "rename_track", "name": "bell\u0007"}, "name"),
    ({"op": "rename_track", "name": "del\u007f"}, "name"),
    ({"op": "rename_track", "name": "   "}, "name"),
    ({"op": "rename_track", "name": ""}, "name"),
    ({"op": "set_volume", "volume_db": 1e9}, "volume_db"),
    ({"op": "set_volume", "volume_db": 30.0}, "volume_db"),
    ({"op": "set_eq_band", "band": 0, "band_type": "band", "freq_hz": 5.0, "gain_db": 3.0,
      "q": 1.0}, "freq_hz"),
    ({"op": "set_eq_band", "band": 0, "band_type": "band", "freq_hz": 500.0, "gain_db": 45.0,
      "q": 1.0}, "gain_db"),
    ({"op": "set_eq_band", "band": 0, "band_type": "band", "freq_hz": 500.0, "gain_db": 3.0,
      "q": 500.0}, "q"),
])
def test_script_refuses_what_the_python_plan_refuses(lua, fake_lua, tmp_path, edit, field):
    """A pending plan written by hand or another tool meets the same checks as a Plan."""
    from bridge.plan import Plan, PlanError

    with pytest.raises(PlanError):
        Plan.from_dict({"edits": [{**edit, "track": guid(1)}]})
    plan = {"edits": [{"op": "set_volume", "track": guid(2), "volume_db": -3.0},
                      {**edit, "track": guid(1)}]}
    out = run_lua(lua, fake_lua, {"mode": "apply", "world": WORLD, "title": "x", "plan": plan,
                                  "project_dir": str(tmp_path)}, tmp_path)
    assert out["result"]["applied"] is None and f"bad {field}" in out["result"]["notes"]
    assert out["calls"] == [] and out["undo"] == []


def test_script_accepts_silence_and_unusual_but_valid_names(lua, fake_lua, tmp_path):
    plan = {"edits": [{"op": "set_volume", "track": guid(1), "volume_db": -1000.0},
                      {"op": "rename_track", "track": guid(2), "name": 'Gtr "Lead" ]]--[[ é 🎸'},
                      {"op": "set_volume", "track": guid(3), "volume_db": 24.0}]}
    out = run_lua(lua, fake_lua, {"mode": "apply", "world": WORLD, "title": "x", "plan": plan,
                                  "project_dir": str(tmp_path)}, tmp_path)
    assert out["result"]["applied"] == 3, out["result"]


def test_missing_track_and_missing_eq_band_are_reported(lua, fake_lua, tmp_path):
    plan = Plan([
        SetVolume(track=guid(9), track_name="Gone", volume_db=-1.0),
        SetEqBand(track=guid(1), band=0, band_type="notch", freq_hz=60.0, gain_db=-12.0, q=10),
        SetVolume(track=guid(1), volume_db=-2.0),
    ])
    out = run_lua(lua, fake_lua, {"mode": "apply", "world": WORLD, "title": "EQ",
                                  "plan": plan.to_dict(), "project_dir": str(tmp_path),
                                  "missing_bands": ["3:0"]}, tmp_path)
    assert out["result"]["applied"] == 1
    assert out["result"]["notes"] == ["Gone: track not found (deleted?)",
                                      f"{guid(1)}: ReaEQ has no notch band 1"]
    assert out["undo"] == ["Studio Bridge: EQ"]


def test_add_take_keeps_the_old_take_and_resolves_relative_paths(lua, fake_lua, tmp_path):
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "snare_clean.wav").write_bytes(b"RIFF")
    plan = {"edits": [{"op": "add_take", "track": guid(2), "item": 0,
                       "file": "clean/snare_clean.wav", "take_name": "snare (denoised)"},
                      {"op": "add_take", "track": guid(2), "item": 3, "file": "x.wav"}]}
    out = run_lua(lua, fake_lua, {"mode": "apply", "world": WORLD, "title": "Clean up",
                                  "plan": plan, "project_dir": str(tmp_path)}, tmp_path)
    takes = out["tracks"][1]["items"][0]["takes"]
    assert [(t["name"], t["active"]) for t in takes] == [("", False), ("snare (denoised)", True)]
    assert takes[1]["file"] == str(tmp_path / "clean" / "snare_clean.wav")
    assert takes[0]["file"] == "/audio/snare.wav"
    assert out["result"]["notes"] == [f"{guid(2)}: no item 4 on the track"]


def test_lua_json_round_trips_what_python_writes(lua, tmp_path, installed):
    rng = random.Random(7)

    def value(depth=0):
        kind = rng.randrange(7 if depth < 3 else 4)
        if kind == 0:
            return rng.choice([True, False, None])
        if kind == 1:
            return rng.randint(-10**12, 10**12)
        if kind == 2:
            return rng.uniform(-1e6, 1e6)
        if kind == 3:
            return "".join(rng.choice('ab "\\\n\té€😀/\x01') for _ in range(rng.randrange(12)))
        if kind in (4, 5):
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {f"k{i}{rng.choice(['', 'é', ' '])}": value(depth + 1)
                for i in range(rng.randrange(4))}

    values = [value() for _ in range(300)]
    src = tmp_path / "in.json"
    src.write_text("\n".join(json.dumps(v, ensure_ascii=rng.random() < 0.5) for v in values),
                   encoding="utf-8")
    script = tmp_path / "rt.lua"
    script.write_text(
        f'package.path = "{installed}/?.lua;" .. package.path\n'
        'reaper = {}\nlocal SB = require("studio_bridge")\n'
        f'for line in io.lines("{src}") do io.write(SB.json.encode(SB.json.decode(line)), "\\n")'
        ' end\n', encoding="utf-8")
    out = subprocess.run([lua, str(script)], capture_output=True, text=True, check=True)
    back = [json.loads(line) for line in out.stdout.splitlines()]
    for original, again in zip(values, back, strict=True):
        assert again == pytest.approx(original) if isinstance(original, float) else True
        assert _normalise(again) == _normalise(original)


def _normalise(v):
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, list):
        return [_normalise(x) for x in v]
    if isinstance(v, dict):
        return {k: _normalise(x) for k, x in v.items()} or []  # {} and [] are both empty
    return v


def test_lua_json_rejects_malformed_text(lua, tmp_path, installed):
    script = tmp_path / "bad.lua"
    script.write_text(
        f'package.path = "{installed}/?.lua;" .. package.path\n'
        'reaper = {}\nlocal SB = require("studio_bridge")\n'
        'for _, t in ipairs({"{", "[1,]", "{\\"a\\" 1}", "tru", "\\"abc", "1 2", ""}) do\n'
        '  print((pcall(SB.json.decode, t)))\nend\n', encoding="utf-8")
    out = subprocess.run([lua, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["false"] * 7


# ------------------------------------------------------------------------------------------
# whole actions through the spool exchange, with the Python bridge answering
# ------------------------------------------------------------------------------------------


@pytest.fixture
def bridge_rig(tmp_path):
    data = tmp_path / "data"
    project = tmp_path / "song" / "song.RPP"
    project.parent.mkdir()
    project.write_text("<REAPER_PROJECT 0.1 \"7.40\" 0\n>\n", encoding="utf-8")
    registry = HandlerRegistry(modules={})
    server = SpoolServer(data / "reaper-spool", registry,
                         pending=PendingPlans(data / "pending"))
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(stop, 0.02), daemon=True)
    thread.start()
    server.beat()
    env = {"PATH": "/usr/bin:/bin", "STUDIO_BRIDGE_DATA": str(data), "HOME": str(tmp_path)}
    yield registry, server, project, env
    stop.set()
    thread.join(2)


def test_label_action_round_trip(lua, fake_lua, tmp_path, bridge_rig):
    registry, server, project, env = bridge_rig
    seen = []

    def label(request):
        seen.append(request)
        return Plan([RenameTrack(track=t["guid"], track_name=t["name"],
                                 name=t["items"][0]["source"].rsplit("/", 1)[-1][:-4].title(),
                                 reason="named after its file")
                     for t in request["tracks"] if t["items"]]), "2 tracks named"

    registry.register("label", label)
    world = {**WORLD, "project": str(project)}
    world["tracks"] = [dict(t, selected=False) for t in WORLD["tracks"]]
    out = run_lua(lua, fake_lua, {"mode": "script", "world": world,
                                  "script": "studio_bridge_label_stems.lua"}, tmp_path, env)
    assert out["ok"], out["error"]
    assert out["dialogs"] == []
    assert [t["name"] for t in out["tracks"]] == ["Kick", "Snare", "Audio 3"]
    assert out["undo"] == ["Studio Bridge: Label stems"]
    (request,) = seen
    assert request["action"] == "label" and request["project"] == str(project.resolve())
    assert [t["guid"] for t in request["tracks"]] == [guid(1), guid(2), guid(3)]
    assert request["tracks"][1]["items"][0]["position_s"] == 1.5
    assert any("named after its file" in line for line in out["console"])
    assert not list(server.paths.requests.iterdir())
    assert not list(server.paths.responses.iterdir())


def test_failing_handler_shows_its_error(lua, fake_lua, tmp_path, bridge_rig):
    registry, server, project, env = bridge_rig

    def broken(request):
        raise RuntimeError("no stems rendered yet")

    registry.register("starter_mix", broken)
    out = run_lua(lua, fake_lua, {"mode": "script", "world": {**WORLD, "project": str(project)},
                                  "script": "studio_bridge_starter_mix.lua"}, tmp_path, env)
    assert out["ok"], out["error"]
    assert len(out["dialogs"]) == 1 and "no stems rendered yet" in out["dialogs"][0]
    assert out["undo"] == []


def test_unregistered_action_names_its_module(lua, fake_lua, tmp_path, bridge_rig):
    registry, server, project, env = bridge_rig
    registry._modules["suggest_eq"] = "bridge.assist.no_such_module_for_tests"
    out = run_lua(lua, fake_lua, {"mode": "script", "world": {**WORLD, "project": str(project)},
                                  "script": "studio_bridge_suggest_eq.lua"}, tmp_path, env)
    assert "not available yet" in out["dialogs"][0]
    assert "bridge.assist.no_such_module_for_tests" in out["dialogs"][0]


def test_apply_pending_plan_action(lua, fake_lua, tmp_path, bridge_rig):
    registry, server, project, env = bridge_rig
    server.pending.put(project, Plan([SetVolume(track=guid(3), volume_db=-12.0)]),
                       title="Starter mix")
    out = run_lua(lua, fake_lua, {"mode": "script", "world": {**WORLD, "project": str(project)},
                                  "script": "studio_bridge_apply_pending.lua"}, tmp_path, env)
    assert out["dialogs"] == []
    assert out["tracks"][2]["values"]["D_VOL"] == pytest.approx(10 ** (-12 / 20))
    assert out["undo"] == ["Studio Bridge: Apply pending plan"]
    assert server.pending.get(project) is None  # handed out once
    again = run_lua(lua, fake_lua, {"mode": "script", "world": {**WORLD, "project": str(project)},
                                    "script": "studio_bridge_apply_pending.lua"}, tmp_path, env)
    assert "no pending plan" in again["dialogs"][0]


def test_render_stems_restores_render_settings(lua, fake_lua, tmp_path, bridge_rig):
    registry, server, project, env = bridge_rig
    out = run_lua(lua, fake_lua, {"mode": "script", "world": {**WORLD, "project": str(project)},
                                  "script": "studio_bridge_render_stems.lua"}, tmp_path, env)
    assert out["dialogs"] == [], out["dialogs"]
    assert out["commands"] == [41824]
    assert out["projinfo"] == {"RENDER_SETTINGS": 0, "RENDER_BOUNDSFLAG": 0}
    assert out["projinfo_str"] == {"RENDER_FILE": "", "RENDER_PATTERN": ""}
    assert (project.parent / "StudioBridge" / "stems").is_dir()
    assert any("0 stem(s)" in line for line in out["console"])


def test_actions_say_so_when_the_bridge_is_not_running(lua, fake_lua, tmp_path):
    project = tmp_path / "a.RPP"
    project.write_text("<REAPER_PROJECT\n>\n")
    env = {"PATH": "/usr/bin:/bin", "STUDIO_BRIDGE_DATA": str(tmp_path / "none"),
           "HOME": str(tmp_path)}
    for script in ("studio_bridge_label_stems.lua", "studio_bridge_clean_up_items.lua"):
        out = run_lua(lua, fake_lua, {"mode": "script", "world": {**WORLD,
                                                                  "project": str(project)},
                                      "script": script}, tmp_path, env)
        assert out["ok"], out["error"]
        assert len(out["dialogs"]) == 1 and "not running" in out["dialogs"][0]
        assert not (tmp_path / "none").exists()


def test_unsaved_project_is_refused(lua, fake_lua, tmp_path):
    out = run_lua(lua, fake_lua, {"mode": "script", "world": WORLD,
                                  "script": "studio_bridge_starter_mix.lua"}, tmp_path)
    assert "Save the project first" in out["dialogs"][0]


def test_undo_only_undoes_our_own_change(lua, fake_lua, tmp_path, installed):
    script = tmp_path / "undo.lua"
    script.write_text(
        f'dofile("{fake_lua}")\n'
        f'local W = dofile("{LUA_DIR}/world.lua")\nW.setup({{}})\n'
        'for k, f in pairs(W.impl) do FAKE.impl[k] = f end\n'
        'W.undo = {"Move items", "Studio Bridge: Starter mix"}\n'
        f'dofile("{installed}/studio_bridge_undo_last.lua")\n'
        'print(#W.undo, #W.dialogs)\n'
        f'dofile("{installed}/studio_bridge_undo_last.lua")\n'
        'print(#W.undo, #W.dialogs, W.dialogs[1])\n', encoding="utf-8")
    out = subprocess.run([lua, str(script)], capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()[:2]
    assert first == "1\t0"
    assert second.startswith("1\t1\t") and "Move items" in second


def test_library_loads_the_core_from_its_own_folder(lua, installed, tmp_path):
    script = tmp_path / "where.lua"
    script.write_text(
        f'package.path = "{installed}/?.lua;" .. package.path\n'
        'reaper = {}\nlocal SB = require("studio_bridge")\n'
        'print(debug.getinfo(SB.core.read_file, "S").source)\n', encoding="utf-8")
    out = subprocess.run([lua, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"@{installed}/studio_bridge_core.lua"


def test_missing_core_is_named(lua, fake_lua, installed, tmp_path):
    partial = tmp_path / "Scripts" / ri.INSTALL_FOLDER
    shutil.copytree(installed, partial)
    (partial / "studio_bridge_core.lua").unlink()
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"scripts_dir": str(partial), "mode": "script",
                                    "world": WORLD, "script": "studio_bridge_label_stems.lua"}))
    proc = subprocess.run([lua, str(LUA_DIR / "run.lua"), str(fake_lua), str(scenario)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert f"{partial}/studio_bridge_core.lua is missing" in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------------------
# static scan: every reaper.X / gfx.X named anywhere in daw_scripts
# ------------------------------------------------------------------------------------------

_CALL = re.compile(r"\b(reaper|gfx)\.([A-Za-z_]\w*)")


def _split_args(text: str, start: int) -> list[str] | None:
    """Top-level arguments of the call whose '(' is at ``start``; None if not simple."""
    depth, i, quote, args, current = 0, start, None, [], ""
    while i < len(text):
        c = text[i]
        if quote:
            current += c
            if c == "\\":
                current += text[i + 1]
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            current += c
        elif c in "([{":
            depth += 1
            if depth > 1:
                current += c
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                if current.strip():
                    args.append(current.strip())
                return args
            current += c
        elif c == "," and depth == 1:
            args.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    return None


def test_every_api_name_in_daw_scripts_exists(signatures):
    files = sorted(SCRIPTS.rglob("*.lua"))
    # the shared core runs inside REAPER too: whatever it names must exist there
    reaper_files = [f for f in files if "reaper" in f.parts or "common" in f.parts]
    assert len(reaper_files) >= 9
    assert {f.name for f in ri.script_files()} <= {f.name for f in reaper_files}
    problems, checked = [], 0
    for path in reaper_files:
        text = path.read_text(encoding="utf-8")
        code = re.sub(r"--[^\n]*", "", text)
        for m in _CALL.finditer(code):
            name = f"{m.group(1)}.{m.group(2)}"
            line = code.count("\n", 0, m.start()) + 1
            if name not in signatures:
                problems.append(f"{path.name}:{line}: {name} is not in the REAPER API")
                continue
            rest = code[m.end():]
            if not rest.startswith("("):
                continue
            args = _split_args(code, m.end())
            if args is None or any(a == "..." or a.endswith(")") and "(" in a
                                   for a in args[-1:]):
                continue  # a trailing call may expand to several values
            sig = signatures[name]
            checked += 1
            if not sig.min_args <= len(args) <= sig.max_args:
                problems.append(f"{path.name}:{line}: {name} with {len(args)} argument(s), "
                                f"accepts {sig.min_args}..{sig.max_args}")
    assert not problems, "\n".join(problems)
    assert checked > 60


def test_move_to_folder_makes_one_folder_above_the_first_track(lua, fake_lua, tmp_path):
    world = {"project": "", "tracks": [
        {"guid": guid(1), "name": "Kick"},
        {"guid": guid(2), "name": "Bass", "selected": True},
        {"guid": guid(3), "name": "Snare"},
        {"guid": guid(4), "name": "Keys bus", "folder_depth": 1},
        {"guid": guid(5), "name": "Piano", "folder_depth": -1},
        {"guid": guid(6), "name": "Hat"},
    ]}
    plan = Plan([MoveToFolder(track=guid(n), track_name=name, folder="Drums", color="#C8453A")
                 for n, name in ((6, "Hat"), (1, "Kick"), (3, "Snare"), (5, "Piano"))]
                + [MoveToFolder(track=guid(2), track_name="Bass", folder="Bass")])
    out = run_lua(lua, fake_lua, {"mode": "apply", "world": world, "title": "Label stems",
                                  "plan": plan.to_dict(), "project_dir": str(tmp_path)}, tmp_path)
    assert out["ok"], out["error"]
    tracks = out["tracks"]
    assert [t["name"] for t in tracks] == ["Drums", "Kick", "Snare", "Hat", "Bass",
                                           "Keys bus", "Piano"]
    assert [t["values"]["I_FOLDERDEPTH"] for t in tracks] == [1, 0, 0, -1, 0, 1, -1]
    assert tracks[0]["values"]["I_CUSTOMCOLOR"] == (0xC8 | 0x45 << 8 | 0x3A << 16) | 0x1000000
    # the engineer's selection is as it was
    assert [t["name"] for t in tracks if t["selected"]] == ["Bass"]
    assert out["result"]["applied"] == 3
    assert out["result"]["notes"] == ["Piano: the track opens or closes a folder already: left "
                                      "in place", "Bass: only one track for folder 'Bass'"]
    assert out["undo"] == ["Studio Bridge: Label stems"] and out["outside_block"] == []


def test_label_into_folders_action_asks_for_folders(lua, fake_lua, tmp_path, bridge_rig):
    registry, _server, project, env = bridge_rig
    seen = []

    def label(request):
        seen.append(request)
        return Plan([MoveToFolder(track=t["guid"], track_name=t["name"], folder="DRUMS")
                     for t in request["tracks"][:2]]), "one folder"

    registry.register("label", label)
    world = {**WORLD, "project": str(project)}
    world["tracks"] = [dict(t, selected=False) for t in WORLD["tracks"]]
    out = run_lua(lua, fake_lua, {"mode": "script", "world": world,
                                  "script": "studio_bridge_label_stems_folders.lua"}, tmp_path, env)
    assert out["ok"], out["error"]
    (request,) = seen
    assert request["options"] == {"folders": True}
    assert [t["name"] for t in out["tracks"]] == ["DRUMS", "Audio 1", "Audio 2", "Audio 3"]
    assert out["undo"] == ["Studio Bridge: Label stems"]
