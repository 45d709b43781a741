-- Studio Bridge: the shared library of the Ardour actions (not an action itself: it has no
-- ardour{} header, so Ardour's script manager does not list it).
--
-- The actions stay thin: gather what Ardour knows, hand it to the bridge through the same
-- spool folder as REAPER's actions (docs/reaper-protocol.md, with "daw": "ardour"), apply the
-- Plan that comes back. Decisions are made by the bridge, never here.
--
-- Waiting: Ardour's Lua has no defer and no timer an action can own, so an action waits for
-- the bridge with a bounded blocking poll (ARDOUR.LuaAPI.usleep, 100 ms steps). Ardour's
-- window does not redraw while it waits. The wait is cut short after `wait_s` (default 30 s);
-- the request stays with the bridge, and "Studio Bridge: Apply pending plan" picks its answer
-- up later, so nothing is lost.
--
-- Undo: Ardour's undo history holds region and playlist changes only. Region changes (the
-- clean-up's new region and the muted original) go into one undo step named
-- "Studio Bridge: <title>". Mixer changes (track names, faders, pan, mute, colour, plug-ins
-- and their parameters) are not on Ardour's undo stack at all: the action prints every old
-- value it replaced, so a change can be set back by hand.

--- Where the scripts live: $STUDIO_BRIDGE_ARDOUR_SCRIPTS, else <Ardour config>/scripts.
local function scripts_folder()
  local env = os.getenv("STUDIO_BRIDGE_ARDOUR_SCRIPTS")
  if env and env ~= "" then return env end
  return ARDOUR.user_config_directory(-1) .. "/scripts"
end

local function load_core()
  -- the DAW-neutral core (JSON, spool files, Plan checks) belongs beside this library in the
  -- scripts folder; the actions load the library from there as "@<path>"
  local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or scripts_folder() .. "/"
  local path = here .. "studio_bridge_core.lua"
  local fh = io.open(path, "rb")
  if not fh then
    error("Studio Bridge: " .. path .. " is missing; copy it next to the action scripts.", 0)
  end
  local chunk, err = load(fh:read("a"), "@" .. path)
  fh:close()
  if not chunk then error("Studio Bridge: " .. tostring(err), 0) end
  return chunk()
end

local core = load_core()
local SB = core.library("0.1.0")
SB.SILENCE_DB = -150
local json = core.json

---------------------------------------------------------------------------------------------
-- files and folders
---------------------------------------------------------------------------------------------

local function is_windows()
  return package ~= nil and package.config ~= nil and package.config:sub(1, 1) == "\\"
end

--- The bridge's data folder, by the same rule as bridge/daw/spool.py default_data_dir().
function SB.default_data_dir()
  if is_windows() then return core.default_data_dir("windows") end
  local config = ARDOUR and ARDOUR.user_config_directory and ARDOUR.user_config_directory(-1)
    or ""
  if config:find("/Library/Preferences/", 1, true) then return core.default_data_dir("macos") end
  return core.default_data_dir()
end

SB.script_dir = scripts_folder

--- Settings: studio_bridge_settings.json beside the scripts (the same keys as REAPER's),
--- defaults otherwise.
function SB.settings()
  if SB._settings then return SB._settings end
  local s = SB.read_json(SB.script_dir() .. "/studio_bridge_settings.json") or {}
  if type(s) ~= "table" then s = {} end
  s.spool_dir = s.spool_dir or (SB.default_data_dir() .. "/reaper-spool")
  s.wait_s = tonumber(s.wait_s) or 30
  s.poll_ms = tonumber(s.poll_ms) or 100
  s.heartbeat_max_age_s = tonumber(s.heartbeat_max_age_s) or 10
  if s.save_before == nil then s.save_before = true end
  SB._settings = s
  return s
end

---------------------------------------------------------------------------------------------
-- messages
---------------------------------------------------------------------------------------------

SB.lines = {}

--- Print to Ardour's Lua window (Window > Scripting) and keep the text for the summary.
function SB.log(msg)
  SB.lines[#SB.lines + 1] = msg
  print(SB.TITLE .. ": " .. msg)
end

--- Show a message: a dialog in Ardour's GUI, the log elsewhere.
function SB.show(title, msg, is_error)
  print(SB.TITLE .. (is_error and " error: " or ": ") .. msg)
  SB.lines[#SB.lines + 1] = msg
  if LuaDialog and LuaDialog.Message then
    local kind = is_error and LuaDialog.MessageType.Error or LuaDialog.MessageType.Info
    LuaDialog.Message(title, msg, kind, LuaDialog.ButtonType.Close):run()
  end
end

---------------------------------------------------------------------------------------------
-- what Ardour knows
---------------------------------------------------------------------------------------------

function SB.route_id(route)
  return route:to_stateful():id():to_s()
end

--- The session's file: <session folder>/<snapshot>.ardour.
function SB.project_path()
  local folder = Session:path()
  if folder:sub(-1) ~= "/" and folder:sub(-1) ~= "\\" then folder = folder .. "/" end
  return folder .. Session:snap_name() .. ".ardour"
end

local function seconds(samples)
  return samples / Session:nominal_sample_rate()
end

local function is_track(route)
  return not route:is_master() and not route:is_monitor() and not route:to_track():isnil()
end

--- The regions of a track's playlist in timeline order (the order Plan "item" counts in).
function SB.regions_of(track)
  local list = {}
  for region in track:playlist():region_list():iter() do list[#list + 1] = region end
  table.sort(list, function(a, b)
    local pa, pb = a:position():samples(), b:position():samples()
    if pa ~= pb then return pa < pb end
    return a:layer() < b:layer()
  end)
  return list
end

local function region_info(region, index)
  local info = {
    guid = region:to_stateful():id():to_s(),
    index = index,
    position_s = seconds(region:position():samples()),
    length_s = seconds(region:length():samples()),
    source_offset_s = seconds(region:start():samples()),
    take = region:name(),
    source = "",
    muted = region:muted(),
  }
  local src = region:source(0)
  if not src:isnil() then
    local fs = src:to_filesource()
    if not fs:isnil() then info.source = fs:path() end
  end
  return info
end

--- One track as the request describes it; `only` (a set of region ids) limits the items.
function SB.track_info(route, order, only)
  local info = { guid = SB.route_id(route), name = route:name(), index = order,
                 items = json.array({}) }
  for i, region in ipairs(SB.regions_of(route:to_track())) do
    if only == nil or only[region:to_stateful():id():to_s()] then
      info.items[#info.items + 1] = region_info(region, i - 1)
    end
  end
  return info
end

--- Every track in mixer order, as {route, order} pairs.
function SB.all_tracks()
  local out = {}
  for route in Session:get_routes():iter() do
    if is_track(route) then out[#out + 1] = route end
  end
  table.sort(out, function(a, b)
    return a:presentation_info_ptr():order() < b:presentation_info_ptr():order()
  end)
  return out
end

local function order_of(route, tracks)
  for i, r in ipairs(tracks) do
    if SB.route_id(r) == SB.route_id(route) then return i - 1 end
  end
  return 0
end

--- The selected tracks (all tracks when none is selected, or outside the GUI).
function SB.gather_tracks()
  local tracks = SB.all_tracks()
  local chosen = {}
  if Editor then
    for route in Editor:get_selection().tracks:routelist():iter() do
      if is_track(route) then chosen[SB.route_id(route)] = true end
    end
  end
  local out = json.array({})
  local any = next(chosen) ~= nil
  for i, route in ipairs(tracks) do
    if not any or chosen[SB.route_id(route)] then
      out[#out + 1] = SB.track_info(route, i - 1)
    end
  end
  return out
end

--- The selected regions grouped under their tracks; `ids` (a list of region id strings)
--- replaces the GUI selection (used where there is no editor window).
function SB.gather_selected_regions(ids)
  local wanted = {}
  local count = 0
  if ids then
    for _, id in ipairs(ids) do wanted[id] = true; count = count + 1 end
  elseif Editor then
    for region in Editor:get_selection().regions:regionlist():iter() do
      wanted[region:to_stateful():id():to_s()] = true
      count = count + 1
    end
  end
  local out = json.array({})
  if count == 0 then return out end
  local tracks = SB.all_tracks()
  for _, route in ipairs(tracks) do
    local info = SB.track_info(route, order_of(route, tracks), wanted)
    if #info.items > 0 then out[#out + 1] = info end
  end
  return out
end

---------------------------------------------------------------------------------------------
-- the spool exchange
---------------------------------------------------------------------------------------------

function SB.spool_paths()
  local paths = core.spool_paths(SB.settings().spool_dir)
  paths.late = paths.root .. "/ardour-late.json"
  return paths
end

--- Is the bridge answering? It rewrites bridge.json every second while it runs.
function SB.bridge_alive()
  return core.heartbeat_fresh(SB.spool_paths().heartbeat, SB.settings().heartbeat_max_age_s)
end

local function new_id()
  return core.new_request_id(math.floor(ARDOUR.LuaAPI.monotonic_time() % 1000000))
end

local function sleep_ms(ms)
  ARDOUR.LuaAPI.usleep(math.floor(ms * 1000))
end

--- Requests whose answer came after the action stopped waiting: {id=..., project=..., title=...}.
function SB.late_requests()
  local list = SB.read_json(SB.spool_paths().late)
  if type(list) ~= "table" then return json.array({}) end
  return json.array(list)
end

local function remember_late(entry)
  local list = SB.late_requests()
  list[#list + 1] = entry
  SB.write_file_atomic(SB.spool_paths().late, json.encode(list))
end

local function forget_late(id)
  local keep = json.array({})
  for _, entry in ipairs(SB.late_requests()) do
    if entry.id ~= id then keep[#keep + 1] = entry end
  end
  SB.write_file_atomic(SB.spool_paths().late, json.encode(keep))
end

local take_response = core.take_response

--- Send a request and wait for the answer (a bounded blocking poll, see the top of this file).
--- Returns the response table; {status="error", error=...} when the bridge is not running,
--- stops, or does not answer within wait_s ({status="late"} then: the answer is kept for
--- "Apply pending plan").
function SB.request(action, payload, title)
  local paths = SB.spool_paths()
  local settings = SB.settings()
  if not SB.bridge_alive() then
    return { status = "error",
             error = "The Studio Bridge is not running (no heartbeat in " .. paths.root ..
               ").\nStart it with: studio-bridge watch (or studio-bridge reaper serve)" }
  end
  local id = new_id()
  local request = payload or {}
  request.daw = "ardour"
  request.title = request.title or title
  request.ardour_lua = SB.VERSION
  local ok, err = core.post_request(paths, id, action, request)
  if not ok then
    return { status = "error", error = err }
  end
  local response_path = core.spool_file(paths.responses, id)
  local status_path = core.spool_file(paths.status, id)
  local started = ARDOUR.LuaAPI.monotonic_time() / 1e6
  local last_beat_check, last_status = started, nil
  while true do
    local response = take_response(response_path)
    if response then return response end
    local now = ARDOUR.LuaAPI.monotonic_time() / 1e6
    local message = core.new_status(status_path, last_status)
    if message then
      last_status = message
      SB.log(message)
    end
    if now - last_beat_check >= 1 then
      last_beat_check = now
      if not SB.bridge_alive() then
        os.remove(core.spool_file(paths.requests, id))
        return { status = "error", error = "the Studio Bridge stopped while working" }
      end
    end
    if now - started > settings.wait_s then
      remember_late({ id = id, project = request.project or "", title = title or action })
      return { status = "late", id = id, error = string.format(
        "The bridge is still working after %d s. Its answer is kept: run " ..
        "\"Studio Bridge: Apply pending plan\" in a moment to apply it.",
        math.floor(settings.wait_s)) }
    end
    sleep_ms(settings.poll_ms)
  end
end

--- An answer that arrived after its action stopped waiting, for this project (or nil).
function SB.take_late_response(project)
  local paths = SB.spool_paths()
  for _, entry in ipairs(SB.late_requests()) do
    if entry.project == project then
      local response = take_response(core.spool_file(paths.responses, entry.id))
      if response then
        forget_late(entry.id)
        return response, entry.title
      end
    end
  end
  return nil
end

---------------------------------------------------------------------------------------------
-- checking a Plan
---------------------------------------------------------------------------------------------

local is_string = core.is_string

-- Ardour refuses an empty route name; the shared checks already ask a rename for a visible one
local FIELDS = core.PLAN_FIELDS

local function route_id_problem(e)
  if not is_string(e.track) or not e.track:match("^%d+$") then
    return tostring(e.track) .. " is not an Ardour route id"
  end
end

--- Check every edit before touching anything: a bad plan changes nothing. An EQ edit needs
--- its Ardour plug-in mapping in `eq_targets` (the response's "ardour_eq", by edit).
function SB.validate_plan(plan, eq_targets)
  return core.validate_plan(plan, {
    fields = FIELDS,
    track = route_id_problem,
    extra = function(i, e)
      if e.op ~= "set_eq_band" then return nil end
      local t = type(eq_targets) == "table" and eq_targets[i]
      if type(t) ~= "table" or not is_string(t.plugin) or type(t.values) ~= "table" then
        return "the bridge sent no Ardour EQ mapping (update the bridge)"
      end
    end,
  })
end

---------------------------------------------------------------------------------------------
-- applying a Plan
---------------------------------------------------------------------------------------------

local NO_GROUP = PBD and PBD.GroupControlDisposition.NoGroup

local function db_of(coef)
  if coef <= 0 then return -math.huge end
  return 20 * math.log(coef, 10)
end

local resolve_media, file_exists = core.resolve_media, core.file_exists

--- The plug-in `name` on a route: its processor and its control inputs by label.
function SB.find_plugin(route, name)
  local i = 0
  while true do
    local proc = route:nth_plugin(i)
    if proc:isnil() then return nil end
    if proc:display_name() == name or proc:name() == name then return proc end
    i = i + 1
  end
end

--- Label -> control index (the index ARDOUR.LuaAPI.set_processor_param takes).
function SB.plugin_controls(proc)
  local plug = proc:to_insert():plugin(0)
  local controls, ctl = {}, 0
  for j = 0, plug:parameter_count() - 1 do
    if plug:parameter_is_control(j) then
      if plug:parameter_is_input(j) then controls[plug:parameter_label(j)] = ctl end
      ctl = ctl + 1
    end
  end
  return controls
end

local apply = {}

-- each returns (note, undo_hint): note = why it was skipped; undo_hint = the old value
function apply.rename_track(ctx, route, e)
  local old = route:name()
  route:set_name(e.name)
  -- Track::set_name can report false after renaming (a port rename on some backends):
  -- trust what the route says now
  if route:name() ~= e.name then return "Ardour refused the name " .. e.name end
  return nil, "name was " .. old
end

function apply.set_volume(ctx, route, e)
  local gc = route:gain_control()
  local old = gc:get_value()
  local coef = e.volume_db <= SB.SILENCE_DB and 0 or 10 ^ (e.volume_db / 20)
  if coef > gc:upper() then
    return string.format("%+.1f dB is above Ardour's fader maximum (%+.1f dB)", e.volume_db,
      db_of(gc:upper()))
  end
  gc:set_value(coef, NO_GROUP)
  return nil, string.format("fader was %+.2f dB", db_of(old))
end

function apply.set_pan(ctx, route, e)
  local pc = route:pan_azimuth_control()
  if pc:isnil() then return "the track has no panner" end
  local old = pc:get_value()
  -- Ardour's azimuth: 0 = left, 1 = right
  pc:set_value((e.pan + 1) / 2, NO_GROUP)
  return nil, string.format("pan was %+.2f", old * 2 - 1)
end

function apply.set_mute(ctx, route, e)
  local mc = route:mute_control()
  local old = mc:get_value()
  mc:set_value(e.mute and 1 or 0, NO_GROUP)
  return nil, old ~= 0 and "was muted" or "was not muted"
end

function apply.set_color(ctx, route, e)
  local info = route:presentation_info_ptr()
  local old = info:color()
  -- Ardour keeps colours as 0xRRGGBBAA
  info:set_color(tonumber(e.color:sub(2), 16) * 256 + 255)
  return nil, string.format("colour was #%06X", old // 256)
end

function apply.set_eq_band(ctx, route, e, target)
  local proc = SB.find_plugin(route, target.plugin)
  local hint = ""
  if proc == nil then
    local ptype = target.kind == "lua" and ARDOUR.PluginType.Lua or ARDOUR.PluginType.LV2
    local plugin = ARDOUR.LuaAPI.new_plugin(Session, target.uri, ptype, "")
    if plugin:isnil() then return "plug-in not found: " .. target.plugin end
    -- first in the chain: before the fader, like an EQ an engineer inserts
    if route:add_processor_by_index(plugin, 0, nil, true) ~= 0 then
      return "Ardour refused to insert " .. target.plugin
    end
    proc = SB.find_plugin(route, target.plugin)
    if proc == nil then return target.plugin .. " was inserted but is not in the chain" end
    hint = "inserted " .. target.plugin .. "; "
  end
  local controls = SB.plugin_controls(proc)
  local old = {}
  local names = {}
  for name in pairs(target.values) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    if controls[name] == nil then return target.plugin .. " has no parameter " .. name end
  end
  for _, name in ipairs(names) do
    local ctl = controls[name]
    old[#old + 1] = string.format("%s %g", name, ARDOUR.LuaAPI.get_processor_param(proc, ctl))
    if not ARDOUR.LuaAPI.set_processor_param(proc, ctl, target.values[name]) then
      return "could not set " .. name
    end
  end
  return nil, hint .. "was " .. table.concat(old, ", ")
end

--- Clean-up: the new file becomes a new region on top of the old one, at the same position
--- and length, and the old region is muted underneath (unmute it, or mute the new one, to go
--- back). Ardour 7's Lua can only bring a file into a session through the editor's import
--- (Editor:do_import), so this needs Ardour's GUI. The file is imported "as region" (into the
--- region list only): an import to a track opens its own undo step, and Ardour 7.3 aborts
--- both when one opens inside another. The region is then placed by this script, so the
--- placement and the muted original are one undo step.
function apply.add_take(ctx, route, e)
  if not Editor then
    return "a new region from a file needs Ardour's editor window (Ardour 7's Lua can only " ..
      "import audio through the editor)"
  end
  local track = route:to_track()
  local old = SB.regions_of(track)[e.item + 1]
  if old == nil then return string.format("no region %d on the track", e.item + 1) end
  local path = resolve_media(ctx.project_dir, e.file)
  if not file_exists(path) then return "file not found: " .. path end
  local known = {}
  for id in pairs(SB.region_ids()) do known[id] = true end
  local files = C.StringVector()
  files:push_back(path)
  local pos = old:position()
  Editor:do_import(files, Editing.ImportSerializeFiles, Editing.ImportAsRegion,
    ARDOUR.SrcQuality.SrcBest, ARDOUR.MidiTrackNameSource.SMFTrackName,
    ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore, pos, ARDOUR.PluginInfo(), track, false)
  local imported
  for id, region in pairs(SB.region_ids()) do
    if not known[id] and (imported == nil or region:whole_file()) then imported = region end
  end
  if imported == nil then return "Ardour did not import " .. path end
  local new = ARDOUR.RegionFactory.clone_region(imported, true, false)
  -- the file covers the whole original source unless the edit says where the region starts
  local offset = e.source_offset_s
  if type(offset) ~= "number" then
    new:set_start(old:start())
  elseif offset > 0 then
    new:set_start(Temporal.timepos_t(math.floor(offset * Session:nominal_sample_rate() + 0.5)))
  end
  new:set_length(old:length())
  if is_string(e.take_name) and e.take_name ~= "" then new:set_name(e.take_name) end
  local playlist = track:playlist()
  playlist:to_stateful():clear_changes()
  old:to_stateful():clear_changes()
  playlist:add_region(new, old:position(), 1, false, 0, 0, false)
  old:set_muted(true)
  Session:add_stateful_diff_command(playlist:to_statefuldestructible())
  Session:add_stateful_diff_command(old:to_statefuldestructible())
  return nil, "original region " .. old:name() .. " muted underneath"
end

--- Every region Ardour knows (region list and playlists), by id.
function SB.region_ids()
  local out = {}
  for _, region in ARDOUR.RegionFactory.regions():iter() do
    out[region:to_stateful():id():to_s()] = region
  end
  return out
end

function apply.insert_midi_item()
  return "MIDI items are not supported in Ardour yet"
end

function apply.move_to_folder()
  return "Ardour has no folder tracks: the track stays where it is"
end

--- Apply a Plan. Region changes go into one undo step "Studio Bridge: <title>"; mixer changes
--- are not undoable in Ardour (the returned notes say what each one replaced). Tracks are
--- found by route id, so a renamed or moved track is still the right one.
--- Returns applied count, skipped notes, old-value notes; or nil and an error.
function SB.apply_plan(plan, title, eq_targets, project_dir)
  local ok, err = SB.validate_plan(plan, eq_targets)
  if not ok then return nil, err end
  local skipped, previous = {}, {}
  if #plan.edits == 0 then return 0, skipped, previous end
  local ctx = { project_dir = project_dir or Session:path():gsub("[/\\]$", "") }
  local applied = 0
  Session:begin_reversible_command(SB.UNDO_PREFIX .. (title or "plan"))
  local done, failure = pcall(function()
    for i, e in ipairs(plan.edits) do
      local route = Session:route_by_id(PBD.ID(e.track))
      local who = (is_string(e.track_name) and e.track_name ~= "") and e.track_name or e.track
      if route:isnil() then
        skipped[#skipped + 1] = who .. ": track not found (deleted?)"
      else
        local note, hint = apply[e.op](ctx, route, e, eq_targets and eq_targets[i])
        if note then
          skipped[#skipped + 1] = who .. ": " .. note
        else
          applied = applied + 1
          if hint then previous[#previous + 1] = who .. ": " .. hint end
        end
      end
    end
  end)
  if not Session:abort_empty_reversible_command() then
    Session:commit_reversible_command(nil)
  end
  if not done then
    return nil, "stopped part-way after " .. applied .. " change(s): " .. tostring(failure)
  end
  return applied, skipped, previous
end

--- Print what a Plan did, each edit's reason, and the old values (mixer changes cannot be
--- undone in Ardour, so this is how to set them back).
function SB.report(plan, title, applied, skipped, previous, message)
  local lines = { string.format("%s: %d of %d change(s) applied", title, applied, #plan.edits) }
  if message and message ~= "" then lines[#lines + 1] = message end
  for _, e in ipairs(plan.edits) do
    if is_string(e.reason) and e.reason ~= "" then
      local who = (is_string(e.track_name) and e.track_name ~= "") and e.track_name or e.track
      lines[#lines + 1] = string.format("  %s: %s", who, e.reason)
    end
  end
  for _, note in ipairs(skipped) do lines[#lines + 1] = "  skipped: " .. note end
  if #previous > 0 then
    lines[#lines + 1] = "Before (mixer changes are not on Ardour's undo list):"
    for _, note in ipairs(previous) do lines[#lines + 1] = "  " .. note end
  end
  return table.concat(lines, "\n")
end

--- Apply one response from the bridge and report it.
function SB.handle_response(response, title)
  if response.status ~= "ok" then
    SB.show(title, title .. ": " .. tostring(response.error or "the bridge gave no reason"),
      response.status ~= "late")
    return nil
  end
  local title2 = response.title or title
  local applied, skipped, previous = SB.apply_plan(response.plan, title2, response.ardour_eq)
  if not applied then
    SB.show(title2, title2 .. ": " .. tostring(skipped), true)
    return nil
  end
  local text = SB.report(response.plan, title2, applied, skipped, previous, response.message)
  SB.show(title2, text, false)
  return applied, skipped
end

--- The whole flow of an action: save, send the request, wait, apply the answer.
--- `gather(payload)` may fill payload.tracks or return an error text.
function SB.run(action, title, gather)
  local settings = SB.settings()
  if settings.save_before then
    -- the bridge reads the saved session: names and regions must match what is on screen
    local rv = Session:save_state("", false, false, false, false, false)
    if rv ~= 0 then
      SB.show(title, title .. ": could not save the session (" .. tostring(rv) .. ")", true)
      return nil
    end
  end
  local payload = { project = SB.project_path(), options = {} }
  if gather then
    local problem = gather(payload)
    if problem then SB.show(title, title .. ": " .. problem, true) return nil end
  end
  payload.tracks = payload.tracks or SB.gather_tracks()
  SB.log(title .. ": asking the bridge...")
  local response = SB.request(action, payload, title)
  return SB.handle_response(response, title)
end

--- "Apply pending plan": an answer that came late first, else the bridge's pending plan.
function SB.run_pending(title)
  local late, late_title = SB.take_late_response(SB.project_path())
  if late then return SB.handle_response(late, late_title or title) end
  return SB.run("apply_pending", title)
end

return SB
