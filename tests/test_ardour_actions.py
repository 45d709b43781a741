"""Ardour's Studio Bridge actions, run for real: the action scripts and their shared library run
inside Ardour's own Lua (``ardour7-lua`` with a session loaded), talk to the real spool server
through files, and the saved ``.ardour`` file and undo history are checked afterwards.

What is not Ardour here: ``ardour7-lua`` has no editor window, so the test stands in for the two
things only the GUI has: ``Editor:get_selection()`` (which tracks/regions are selected) and
``Editor:do_import()`` (the only way Ardour 7's Lua can turn a file into a region). The stand-in
import adds a copy of the region the session already holds for that file, the way Ardour's own
import adds its region inside the action's undo step. Everything else (routes, faders, pan,
mute, colour, plug-in insertion and parameters, playlists, region edits, the undo step, saving)
is Ardour's.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _support import REPO, require_path, require_program

from bridge.daw.ardour import ace_eq_target
from bridge.daw.pending import PendingPlans
from bridge.daw.spool import (
    HandlerRegistry,
    RequestError,
    SpoolServer,
    ardour_eq_targets,
    request_session,
    validate_request,
)
from bridge.plan import (
    AddTake,
    Plan,
    RenameTrack,
    SetColor,
    SetEqBand,
    SetMute,
    SetPan,
    SetVolume,
)

pytestmark = pytest.mark.ardour

SCRIPTS = REPO / "bridge" / "daw_scripts" / "ardour"
LIBRARY = SCRIPTS / "studio_bridge_ardour.lua"
CORE = REPO / "bridge" / "daw_scripts" / "common" / "studio_bridge_core.lua"
SR = 48000
NAMES = {"bass_tone": "Bass", "noise_bed": "Noise Bed", "lead_tone": "Lead Synth"}


def require_ardour() -> None:
    require_program("ardour7-lua")
    require_path("/usr/lib/ardour7/luasession")
    require_path("/usr/lib/lv2/a-eq.lv2")


def install_scripts(folder: Path) -> Path:
    """Copy what docs/ardour.md says to copy into an Ardour scripts folder: the actions, their
    library and the shared core, side by side (nothing from the checkout is reachable there)."""
    folder.mkdir(parents=True, exist_ok=True)
    for lua in [*SCRIPTS.glob("studio_bridge_*.lua"), CORE]:
        shutil.copy2(lua, folder / lua.name)
    return folder


def _signals(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    t = np.arange(SR * 2) / SR
    signals = {
        "bass_tone.wav": 0.1 * np.sin(2 * np.pi * 80 * t),
        "noise_bed.wav": 0.05 * rng.standard_normal(t.size),
        "lead_tone.wav": 0.1 * np.sin(2 * np.pi * 660 * t),
        # what a clean-up would have written: the bed, quieter
        "noise_bed_clean.wav": 0.01 * rng.standard_normal(t.size),
    }
    out = {}
    for name, x in signals.items():
        sf.write(folder / name, x.astype(np.float32), SR, subtype="FLOAT")
        out[name] = folder / name
    return out


@pytest.fixture(scope="module")
def make_session(tmp_path_factory):
    """``make_session(name)`` -> a fresh session: three generic tracks (ACE EQ on the first)
    and a spare track holding the cleaned file (the stand-in import copies its region)."""
    from bridge.daw.ardour_runtime import TrackSpec, create_session

    require_ardour()
    base = tmp_path_factory.mktemp("ardour-actions")
    audio = _signals(base / "media")

    def make(name: str) -> Path:
        specs = [TrackSpec("Audio 1", audio["bass_tone.wav"], gain_db=6.0, eq=True),
                 TrackSpec("Audio 2", audio["noise_bed.wav"], gain_db=-14.0),
                 TrackSpec("Audio 3", audio["lead_tone.wav"]),
                 TrackSpec("Spare", audio["noise_bed_clean.wav"], mute=True)]
        return create_session(base / name, name, specs, sample_rate=SR, osc=False)

    return make


class Rig:
    """A real spool server on a thread, a private registry, and an installed scripts folder."""

    def __init__(self, root: Path, *, beat: bool = True, settings: dict | None = None):
        self.root = root
        self.spool = root / "data" / "reaper-spool"
        self.registry = HandlerRegistry(modules={})
        self.pending = PendingPlans(root / "data" / "pending")
        self.server = SpoolServer(self.spool, self.registry, pending=self.pending)
        self.requests: list[dict] = []
        self.scripts = install_scripts(root / "scripts")
        (self.scripts / "studio_bridge_settings.json").write_text(json.dumps(
            {"spool_dir": str(self.spool), "poll_ms": 20, **(settings or {})}))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.server.serve, args=(self.stop, 0.02),
                                       daemon=True) if beat else None

    def __enter__(self) -> Rig:
        if self.thread is not None:
            self.thread.start()
            deadline = time.monotonic() + 5
            while not self.server.paths.heartbeat.exists():
                assert time.monotonic() < deadline, "the spool server wrote no heartbeat"
                time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)

    def handler(self, name: str):
        def add(fn):
            def recording(request: dict):
                self.requests.append(request)
                return fn(request)

            self.registry.register(name, recording)
            return fn

        return add


def lua_list(values) -> str:
    from bridge.daw.ardour_runtime import lua_string

    return "{" + ", ".join(lua_string(str(v)) for v in values) + "}"


DRIVER = r"""
local ok = load_session({dir}, {name})
if not ok then print("FAILED load") os.exit(3) end

-- EditorAction scripts open with ardour{{...}}: keep the descriptors
DESCRIPTORS = {{}}
function ardour(t) DESCRIPTORS[#DESCRIPTORS + 1] = t end

-- stand-in for the GUI editor (see the test module's docstring)
local function list_of(items)
  return {{ iter = function()
    local i = 0
    return function() i = i + 1; return items[i] end
  end }}
end
SELECTED_TRACKS, SELECTED_REGIONS = {{}}, {{}}
Editing = {{ ImportSerializeFiles = "ImportSerializeFiles", ImportAsRegion = "ImportAsRegion" }}
Editor = {{}}
function Editor:get_selection()
  local tracks, regions = {{}}, {{}}
  for _, id in ipairs(SELECTED_TRACKS) do tracks[#tracks + 1] = Session:route_by_id(PBD.ID(id)) end
  for _, id in ipairs(SELECTED_REGIONS) do
    regions[#regions + 1] = ARDOUR.RegionFactory.region_by_id(PBD.ID(id))
  end
  return {{ tracks = {{ routelist = function() return list_of(tracks) end }},
           regions = {{ regionlist = function() return list_of(regions) end }} }}
end
function Editor:do_import(files, disposition, mode, quality, names, tempo, pos, instr, track,
                          markers)
  -- Ardour's import "as region" makes a new whole-file region in the region list; here it is
  -- a copy of the one the session already holds for that file
  assert(disposition == Editing.ImportSerializeFiles and mode == Editing.ImportAsRegion)
  local path
  for f in files:iter() do path = f end
  local base = path:match("[^/]+$")
  local found
  for _, r in ARDOUR.RegionFactory.regions():iter() do
    local fs = r:source(0):to_filesource()
    if r:whole_file() and not fs:isnil() and fs:path():match("[^/]+$") == base then found = r end
  end
  assert(found, "no region for " .. base)
  print("IMPORT\t" .. base)
  ARDOUR.RegionFactory.clone_region(found, true, false)
end

local function run_action(file)
  local chunk = assert(loadfile({scripts} .. "/" .. file))
  chunk()
  print("ACTION\t" .. DESCRIPTORS[#DESCRIPTORS].name .. "\t" .. DESCRIPTORS[#DESCRIPTORS]["type"])
  factory()()
  print("DONE\t" .. file)
  io.stdout:flush()
end

{steps}

Session:save_state("", false, false, false, false, false)
print("SAVED")
io.stdout:flush()
close_session()
os.exit(0)
"""


def run_actions(session_file: Path, rig: Rig, steps: list[str], *, timeout_s: float = 40.0
                ) -> str:
    """Run Lua ``steps`` (calls of run_action and selection changes) in ardour7-lua on the
    session; returns its output."""
    from bridge.daw.ardour_runtime import ardour_env, lua_string, lua_tool

    script = DRIVER.format(dir=lua_string(str(session_file.parent)),
                           name=lua_string(session_file.stem),
                           scripts=lua_string(str(rig.scripts)), steps="\n".join(steps))
    home = rig.root / "home"
    home.mkdir(exist_ok=True)
    path = rig.root / "driver.lua"
    path.write_text(script, encoding="utf-8")
    env = ardour_env(home)
    env["STUDIO_BRIDGE_ARDOUR_SCRIPTS"] = str(rig.scripts)
    env.pop("STUDIO_BRIDGE_DATA", None)
    proc = subprocess.run([lua_tool(), str(path)], env=env, cwd=str(home), text=True,
                          errors="replace", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, timeout=timeout_s, start_new_session=True)
    assert "SAVED" in proc.stdout, proc.stdout[-3000:]
    return proc.stdout


def _routes(session_file: Path) -> dict[str, ET.Element]:
    root = ET.parse(session_file).getroot()
    return {r.get("name"): r for r in root.iter("Route")}


def _param(route: ET.Element, plugin: str, name: str) -> float:
    for proc in route.findall("Processor"):
        if proc.get("name") == plugin:
            for c in proc.iter("Controllable"):
                if c.get("name") == name:
                    return float(c.get("value"))
    raise AssertionError(f"{plugin} {name} not in {route.get('name')}")


# ------------------------------------------------------------------------------------------
# the whole flow in Ardour


@pytest.fixture(scope="module")
def full_run(make_session, tmp_path_factory):
    from bridge.session.ardour import load_session

    session_file = make_session("actions")
    before = load_session(session_file)
    bass, noise, lead, spare = before.tracks
    root = tmp_path_factory.mktemp("rig")
    with Rig(root) as rig:
        seen_sessions = []

        def names_from_sources(request):
            session = request_session(request)  # the bridge reads the .ardour file itself
            seen_sessions.append(session)
            plan = Plan()
            by_id = {t.guid: t for t in session.tracks}
            for t in request["tracks"]:
                stem = Path(by_id[t["guid"]].items[0].source.file).stem
                plan.add(RenameTrack(track=t["guid"], track_name=t["name"], name=NAMES[stem],
                                     reason=f"sounds like {NAMES[stem].lower()}"))
            plan.add(SetColor(track=bass.guid, color="#FF8000"))
            return plan

        rig.handler("label")(names_from_sources)
        rig.handler("starter_mix")(lambda r: Plan([
            SetVolume(track=bass.guid, volume_db=-3.0, reason="bass sat 6 dB hot"),
            SetVolume(track=noise.guid, volume_db=-8.0),
            SetVolume(track=lead.guid, volume_db=-1.5),
            SetPan(track=lead.guid, pan=-0.6),
            SetMute(track=noise.guid, mute=True),
            SetVolume(track=spare.guid, volume_db=12.0),  # above Ardour's +6 dB: skipped
        ]))
        eq_plan = Plan([
            SetEqBand(track=bass.guid, band=0, band_type="low_shelf", freq_hz=300.0,
                      gain_db=-9.0),
            SetEqBand(track=noise.guid, band=1, band_type="band", freq_hz=2000.0,
                      gain_db=12.0, q=2.0),
            SetEqBand(track=lead.guid, band=0, band_type="high_pass", freq_hz=1000.0,
                      q=0.707),
        ])
        rig.handler("suggest_eq")(lambda r: eq_plan)
        clean_file = session_file.parent / "interchange" / "actions" / "audiofiles" / \
            "noise_bed_clean.wav"
        rig.handler("cleanup")(lambda r: Plan([
            AddTake(track=t["guid"], item=i["index"], file=str(clean_file),
                    take_name="noise_bed (clean)", reason="noise floor down 14 dB")
            for t in r["tracks"] for i in t["items"]]))
        rig.pending.put(session_file, Plan([SetVolume(track=lead.guid, volume_db=-4.5)]),
                        title="Mix from the watcher")
        t0 = time.monotonic()
        out = run_actions(session_file, rig, [
            f"SELECTED_TRACKS = {lua_list([bass.guid, noise.guid, lead.guid])}",
            'run_action("studio_bridge_label_stems.lua")',
            "SELECTED_TRACKS = {}",
            'run_action("studio_bridge_starter_mix.lua")',
            f"SELECTED_TRACKS = {lua_list([bass.guid, noise.guid, lead.guid])}",
            'run_action("studio_bridge_suggest_eq.lua")',
            f"SELECTED_REGIONS = {lua_list([noise.items[0].guid])}",
            'run_action("studio_bridge_clean_up_regions.lua")',
            'run_action("studio_bridge_apply_pending.lua")',
        ])
        seconds = time.monotonic() - t0
    return session_file, before, rig, out, seen_sessions, eq_plan, seconds


def test_every_action_is_an_editor_action_and_runs(full_run):
    _, _, _, out, _, _, seconds = full_run
    for title in ("Label stems", "Starter mix", "Suggest EQ", "Clean up selected regions",
                  "Apply pending plan"):
        assert f"ACTION\tStudio Bridge: {title}\tEditorAction" in out, out[-2000:]
    assert out.count("DONE\t") == 5
    assert seconds < 30


def test_requests_speak_ardour(full_run):
    session_file, before, rig, _, seen, _, _ = full_run
    # apply_pending is answered by the server itself (its effect is checked below)
    label, mix, eq, cleanup = rig.requests
    assert [r["action"] for r in rig.requests] == ["label", "starter_mix", "suggest_eq",
                                                   "cleanup"]
    assert not rig.pending.path_for(session_file).exists()
    for r in rig.requests:
        assert r["daw"] == "ardour"
        assert r["project"] == str(session_file.resolve())
    ids = [t.guid for t in before.tracks]
    assert [t["guid"] for t in label["tracks"]] == ids[:3]  # the selection
    assert [t["guid"] for t in mix["tracks"]] == ids  # nothing selected: every track
    assert [t["index"] for t in mix["tracks"]] == [0, 1, 2, 3]
    assert mix["tracks"][0]["items"][0]["source"].endswith("bass_tone.wav")
    assert mix["tracks"][0]["items"][0]["length_s"] == pytest.approx(2.0, abs=1e-6)
    # clean-up: only the selected region, under its track
    assert len(cleanup["tracks"]) == 1 and cleanup["tracks"][0]["guid"] == ids[1]
    (item,) = cleanup["tracks"][0]["items"]
    assert item["guid"] == before.tracks[1].items[0].guid and item["index"] == 0
    # the handler read the same session through bridge.session.load_session
    assert seen[0].daw == "ardour" and [t.guid for t in seen[0].tracks] == ids


def test_saved_session_holds_the_plan(full_run):
    from bridge.session.ardour import load_session

    session_file, before, _, out, _, eq_plan, _ = full_run
    after = {t.guid: t for t in load_session(session_file).tracks}
    bass, noise, lead, spare = (after[t.guid] for t in before.tracks)
    assert (bass.name, noise.name, lead.name) == ("Bass", "Noise Bed", "Lead Synth")
    assert spare.name == "Spare"
    assert bass.volume_db == pytest.approx(-3.0, abs=0.01)
    assert noise.volume_db == pytest.approx(-8.0, abs=0.01)
    assert lead.volume_db == pytest.approx(-4.5, abs=0.01)  # the pending plan, applied last
    assert spare.volume_db == pytest.approx(0.0, abs=0.01)
    assert "above Ardour's fader maximum" in out
    assert lead.pan == pytest.approx(-0.6, abs=0.01)
    assert noise.mute and not bass.mute
    assert bass.color == "#FF8000"
    assert "ACE EQ" in bass.fx_names and "ACE EQ" in noise.fx_names
    assert "ACE High/Low Pass Filter" in lead.fx_names
    # parameters by the one mapping (bridge.daw.ardour.ace_eq_target)
    routes = _routes(session_file)
    for edit, name in zip(eq_plan, ("Bass", "Noise Bed", "Lead Synth"), strict=True):
        target = ace_eq_target(edit)
        for pname, value in target.values.items():
            assert _param(routes[name], target.plugin, pname) == pytest.approx(value, rel=1e-4)
    # old values are reported, since mixer changes cannot be undone in Ardour
    assert "fader was +6.00 dB" in out and "name was Audio 1" in out


def test_cleanup_adds_a_region_on_top_and_mutes_the_original_in_one_undo_step(full_run):
    session_file, before, _, out, _, _, _ = full_run
    routes = _routes(session_file)
    root = ET.parse(session_file).getroot()
    playlist_id = routes["Noise Bed"].get("audio-playlist")
    playlist = next(p for p in root.iter("Playlist") if p.get("id") == playlist_id)
    regions = {r.get("name"): r for r in playlist.findall("Region")}
    assert set(regions) == {"noise_bed", "noise_bed (clean)"}, list(regions)
    old, new = regions["noise_bed"], regions["noise_bed (clean)"]
    assert old.get("muted") == "1" and new.get("muted") == "0"
    assert new.get("length") == old.get("length") and new.get("start") == old.get("start")
    assert int(new.get("layering-index")) > int(old.get("layering-index"))  # on top
    assert "IMPORT\tnoise_bed_clean.wav" in out
    history = ET.parse(session_file.with_suffix(".history")).getroot()
    ours = [t for t in history.iter("UndoTransaction")
            if t.get("name", "").startswith("Studio Bridge")]
    assert [t.get("name") for t in ours] == ["Studio Bridge: Clean up selected regions"]
    diffs = {c.get("obj-id"): c for c in ours[0].iter("StatefulDiffCommand")}
    assert set(diffs) == {playlist_id, old.get("id")}
    added = [a.get("id") for a in diffs[playlist_id].iter("Add")]
    assert added == [new.get("id")]
    assert diffs[old.get("id")].find("Changes/muted").get("to") == "1"


# ------------------------------------------------------------------------------------------
# when the bridge is away or slow


def test_no_bridge_changes_nothing_and_says_so(make_session, tmp_path):
    from bridge.session.ardour import load_session

    session_file = make_session("nobridge")
    rig = Rig(tmp_path, beat=False)
    out = run_actions(session_file, rig, ['run_action("studio_bridge_label_stems.lua")'])
    assert "The Studio Bridge is not running" in out
    assert [t.name for t in load_session(session_file).tracks] == [
        "Audio 1", "Audio 2", "Audio 3", "Spare"]
    assert not list(rig.server.paths.requests.iterdir())


def test_a_late_answer_is_kept_for_apply_pending(make_session, tmp_path):
    from bridge.session.ardour import load_session

    session_file = make_session("late")
    first = load_session(session_file).tracks[0]
    with Rig(tmp_path, settings={"wait_s": 1}) as rig:
        def slow(request):
            time.sleep(2.0)
            return Plan([RenameTrack(track=first.guid, name="Kick")])

        rig.handler("label")(slow)
        out = run_actions(session_file, rig, [
            'run_action("studio_bridge_label_stems.lua")',
            "ARDOUR.LuaAPI.usleep(2500000)",
            'run_action("studio_bridge_apply_pending.lua")',
        ])
    assert "still working" in out
    assert [r["action"] for r in rig.requests] == ["label"]  # answered late, not asked again
    assert load_session(session_file).tracks[0].name == "Kick"
    assert json.loads((rig.spool / "ardour-late.json").read_text()) == []


def test_bad_plan_changes_nothing(make_session, tmp_path):
    from bridge.session.ardour import load_session

    session_file = make_session("badplan")
    first = load_session(session_file).tracks[0]
    with Rig(tmp_path) as rig:
        # the second edit names a REAPER GUID: the Lua side refuses the whole plan
        rig.handler("label")(lambda r: Plan([
            RenameTrack(track=first.guid, name="Kick"),
            RenameTrack(track="{0F3C0000-0000-4000-8000-000000000001}", name="Snare")]))
        out = run_actions(session_file, rig, ['run_action("studio_bridge_label_stems.lua")'])
    assert "is not an Ardour route id" in out
    assert load_session(session_file).tracks[0].name == "Audio 1"


# ------------------------------------------------------------------------------------------
# the bridge side of Ardour requests (no Ardour needed)


def _request(project: Path, **extra) -> dict:
    return {"protocol": 1, "id": "r1", "action": "label", "daw": "ardour",
            "project": str(project), "tracks": [{"guid": "121", "name": "Audio 1",
                                                  "index": 0, "items": []}], **extra}


def test_ardour_requests_are_validated(tmp_path):
    project = tmp_path / "song" / "song.ardour"
    project.parent.mkdir()
    project.write_text("<Session/>")
    ok = validate_request(_request(project), "r1")
    assert ok["daw"] == "ardour" and ok["project_dir"] == str(project.parent.resolve())
    rpp = tmp_path / "song" / "song.RPP"
    rpp.write_text("<REAPER_PROJECT\n>\n")
    for data, message in [
        (_request(rpp), "not an Ardour session"),
        (_request(project, daw="cubase"), "is not one of"),
        (_request(project, tracks=[{"guid": "{0F3C0000-0000-4000-8000-000000000001}"}]),
         "not a route id"),
        (_request(project, tracks=[{"guid": "12a"}]), "not a route id"),
    ]:
        with pytest.raises(RequestError, match=message):
            validate_request(data, "r1")
    # a REAPER request without "daw" still needs a GUID and an .rpp
    reaper = _request(rpp)
    del reaper["daw"]
    with pytest.raises(RequestError, match="not a GUID"):
        validate_request(reaper, "r1")


def test_ardour_answers_carry_the_eq_mapping(tmp_path):
    project = tmp_path / "song.ardour"
    project.write_text("<Session/>")
    server = SpoolServer(tmp_path / "spool", HandlerRegistry(modules={}),
                         pending=PendingPlans(tmp_path / "pending"))
    plan = Plan([SetVolume(track="121", volume_db=-3.0),
                 SetEqBand(track="121", band=5, band_type="notch", freq_hz=60.0, q=8.0),
                 SetEqBand(track="121", band=0, band_type="low_pass", freq_hz=9000.0)])
    server.registry.register("label", lambda r: plan)
    for daw in ("ardour", "reaper"):
        data = _request(project)
        if daw == "reaper":
            data.update(project=str(tmp_path / "song.rpp"), daw="reaper",
                        tracks=[{"guid": "{0F3C0000-0000-4000-8000-000000000001}"}])
            (tmp_path / "song.rpp").write_text("<REAPER_PROJECT\n>\n")
        (server.paths.requests / "r1.json").write_text(json.dumps(data))
        server.poll_once()
        resp = json.loads((server.paths.responses / "r1.json").read_text())
        assert resp["status"] == "ok", resp
        if daw == "reaper":
            assert "ardour_eq" not in resp
            continue
        none, notch, lowpass = resp["ardour_eq"]
        assert none is None
        assert notch == {"plugin": "ACE EQ", "kind": "lv2", "uri": "urn:ardour:a-eq",
                         "values": ace_eq_target(plan.edits[1]).values}
        assert notch["values"]["Gain 2"] == -20.0
        assert lowpass["kind"] == "lua" and lowpass["uri"] == "ACE High/Low Pass Filter"
    assert ardour_eq_targets(Plan()) == []


# ------------------------------------------------------------------------------------------
# the library's pure parts in plain Lua 5.4


LUA_CHECKS = r"""
package.path = ""
local SB = dofile(arg[1])
local json = SB.json
local text = [[{"a":[1,2.5,-3e2,"\u00e9\ud83c\udfb5",true,false,null],"b":{}}]]
local v = json.decode(text)
assert(v.a[1] == 1 and math.type(v.a[1]) == "integer" and v.a[2] == 2.5 and v.a[3] == -300)
assert(v.a[4] == "\u{e9}\u{1f3b5}" and v.a[5] == true and v.a[6] == false and v.a[7] == json.null)
assert(json.encode(json.decode(json.encode(v))) == json.encode(v))
for _, bad in ipairs({"{", "[1,]", '"\\x"', "01x", "{}{}"}) do
  assert(not pcall(json.decode, bad), bad)
end
local good = {edits = {{op = "rename_track", track = "121", name = "Bass"}}}
assert(SB.validate_plan(good))
local ok, err = SB.validate_plan({edits = {{op = "set_eq_band", track = "121", band = 0,
  band_type = "band", freq_hz = 100, gain_db = 3, q = 1}}}, {})
assert(not ok and err:find("no Ardour EQ mapping"), err)
ok, err = SB.validate_plan({edits = {{op = "set_volume", track = "{ABC}", volume_db = 0}}})
assert(not ok and err:find("not an Ardour route id"), err)
ok, err = SB.validate_plan({edits = {{op = "explode", track = "1"}}})
assert(not ok and err:find("unknown op"), err)
ok, err = SB.validate_plan({edits = {{op = "rename_track", track = "121", name = ""}}})
assert(not ok and err == "edit 1 (rename_track): bad name", err)
assert(SB.core.validate_plan({edits = {{op = "rename_track", track = "x", name = "Bass"}}},
  {track = function() end}))
assert(not SB.core.validate_plan({edits = {{op = "rename_track", track = "x", name = "a\nb"}}},
  {track = function() end}))
print("CORE\t" .. debug.getinfo(SB.core.read_file, "S").source)
print("LUA OK")
"""


def test_library_json_and_validation_in_plain_lua(tmp_path):
    lua = require_program("lua5.4")
    scripts = install_scripts(tmp_path / "scripts")
    script = tmp_path / "checks.lua"
    script.write_text(LUA_CHECKS, encoding="utf-8")
    run = subprocess.run([lua, str(script), str(scripts / LIBRARY.name)], capture_output=True,
                         text=True, timeout=20)
    assert run.returncode == 0 and "LUA OK" in run.stdout, run.stdout + run.stderr
    assert f"CORE\t@{scripts}/{CORE.name}" in run.stdout  # loaded from the scripts folder


def test_missing_core_is_named(tmp_path):
    lua = require_program("lua5.4")
    scripts = install_scripts(tmp_path / "scripts")
    (scripts / CORE.name).unlink()
    run = subprocess.run([lua, "-e", f"dofile({json.dumps(str(scripts / LIBRARY.name))})"],
                         capture_output=True, text=True, timeout=20)
    assert run.returncode != 0
    assert f"{scripts}/{CORE.name} is missing" in run.stderr, run.stderr


def test_action_headers_name_every_action():
    names = {}
    for path in SCRIPTS.glob("studio_bridge_*.lua"):
        text = path.read_text(encoding="utf-8")
        m = re.search(r'ardour \{ \["type"\] = "EditorAction", name = "([^"]+)"', text)
        if path == LIBRARY:
            assert m is None  # the library must not show up as an action
            assert CORE.name in text
            continue
        assert m, path
        names[m.group(1)] = path.name
        assert "studio_bridge_ardour.lua" in text
    assert set(names) == {f"Studio Bridge: {t}" for t in (
        "Label stems", "Starter mix", "Suggest EQ", "Clean up selected regions",
        "Apply pending plan")}
    # the shared core is no action either (nor an Ardour script of any kind)
    assert not re.search(r"^\s*ardour\s*\{", CORE.read_text(encoding="utf-8"), re.M)
