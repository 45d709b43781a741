-- @description Studio Bridge: REAPER actions
-- @version 0.1.0
-- @author Studio Bridge
-- @about
--   Actions that hand the session to the Studio Bridge (a program running beside REAPER) and
--   apply the plan it answers with as one undo step: label stems, starter mix, EQ suggestions,
--   clean-up of selected items, stem render, pending plans and undo.
--   Needs the bridge running (`studio-bridge reaper serve`).
-- @provides
--   [nomain] .
--   [nomain] ../common/studio_bridge_core.lua > studio_bridge_core.lua
--   [main] studio_bridge_label_stems.lua
--   [main] studio_bridge_label_stems_folders.lua
--   [main] studio_bridge_starter_mix.lua
--   [main] studio_bridge_suggest_eq.lua
--   [main] studio_bridge_clean_up_items.lua
--   [main] studio_bridge_render_stems.lua
--   [main] studio_bridge_apply_pending.lua
--   [main] studio_bridge_undo_last.lua

-- The shared library of the Studio Bridge actions. The actions stay thin: gather what REAPER
-- knows, hand it to the bridge through the spool folder, apply the Plan that comes back.
-- Decisions are made by the bridge, never here.

-- The DAW-neutral core (JSON, spool files, Plan checks) lies beside this file: the installer
-- and ReaPack put it there, as for the Ardour actions.
local CORE_PATH = (debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./") ..
  "studio_bridge_core.lua"
local core_chunk, core_err = loadfile(CORE_PATH)
if not core_chunk then
  local fh = io.open(CORE_PATH, "rb")
  if fh then fh:close() else
    core_err = CORE_PATH .. " is missing; copy it next to the Studio Bridge scripts " ..
      "(or install them again)"
  end
  error("Studio Bridge: " .. tostring(core_err), 0)
end
local core = core_chunk()
local SB = core.library("0.1.0")
local json = core.json

---------------------------------------------------------------------------------------------
-- files and folders
---------------------------------------------------------------------------------------------

SB.SEP = package.config:sub(1, 1)

function SB.join(...)
  return table.concat({ ... }, "/")
end

function SB.script_dir()
  local source = debug.getinfo(1, "S").source
  return (source:match("^@?(.*[/\\])") or "./"):gsub("[/\\]$", "")
end

local function default_data_dir()
  local os_name = reaper.GetOS()
  if os_name:match("^Win") then return core.default_data_dir("windows") end
  if os_name:match("^OSX") or os_name:match("^macOS") then
    return core.default_data_dir("macos")
  end
  return core.default_data_dir()
end

--- Settings the installer writes next to the scripts; defaults when it did not.
function SB.settings()
  if SB._settings then return SB._settings end
  local s = SB.read_json(SB.join(SB.script_dir(), "studio_bridge_settings.json")) or {}
  s.spool_dir = s.spool_dir or (default_data_dir() .. "/reaper-spool")
  s.timeout_s = tonumber(s.timeout_s) or 600
  s.heartbeat_max_age_s = tonumber(s.heartbeat_max_age_s) or 10
  SB._settings = s
  return s
end

---------------------------------------------------------------------------------------------
-- messages
---------------------------------------------------------------------------------------------

function SB.log(msg)
  reaper.ShowConsoleMsg(SB.TITLE .. ": " .. msg .. "\n")
end

function SB.error(msg)
  reaper.ShowConsoleMsg(SB.TITLE .. " error: " .. msg .. "\n")
  reaper.MB(msg, SB.TITLE, 0)
end

---------------------------------------------------------------------------------------------
-- gathering what REAPER knows
---------------------------------------------------------------------------------------------

function SB.project()
  local proj, path = reaper.EnumProjects(-1)
  return proj, path or ""
end

local function track_name(tr)
  local _, name = reaper.GetSetMediaTrackInfo_String(tr, "P_NAME", "", false)
  return name or ""
end

local function item_info(item)
  local info = {
    position_s = reaper.GetMediaItemInfo_Value(item, "D_POSITION"),
    length_s = reaper.GetMediaItemInfo_Value(item, "D_LENGTH"),
  }
  local _, guid = reaper.GetSetMediaItemInfo_String(item, "GUID", "", false)
  info.guid = guid or ""
  local take = reaper.GetActiveTake(item)
  if take then
    info.take = reaper.GetTakeName(take) or ""
    local src = reaper.GetMediaItemTake_Source(take)
    info.source = src and reaper.GetMediaSourceFileName(src) or ""
    info.source_offset_s = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  else
    info.take, info.source = "", ""
  end
  return info
end

function SB.track_info(tr, items)
  local info = {
    guid = reaper.GetTrackGUID(tr),
    name = track_name(tr),
    index = math.floor(reaper.GetMediaTrackInfo_Value(tr, "IP_TRACKNUMBER") - 1),
    items = json.array({}),
  }
  if items == nil then
    for i = 0, reaper.CountTrackMediaItems(tr) - 1 do
      info.items[#info.items + 1] = item_info(reaper.GetTrackMediaItem(tr, i))
    end
  else
    for _, item in ipairs(items) do info.items[#info.items + 1] = item_info(item) end
  end
  return info
end

--- The selected tracks, or every track when none is selected.
function SB.gather_tracks(proj, all_when_none)
  local out = json.array({})
  local n = reaper.CountSelectedTracks(proj)
  if n > 0 then
    for i = 0, n - 1 do out[#out + 1] = SB.track_info(reaper.GetSelectedTrack(proj, i)) end
  elseif all_when_none ~= false then
    for i = 0, reaper.CountTracks(proj) - 1 do
      out[#out + 1] = SB.track_info(reaper.GetTrack(proj, i))
    end
  end
  return out
end

--- The selected items, grouped under their tracks.
function SB.gather_selected_items(proj)
  local by_track, order = {}, {}
  for i = 0, reaper.CountSelectedMediaItems(proj) - 1 do
    local item = reaper.GetSelectedMediaItem(proj, i)
    local tr = reaper.GetMediaItem_Track(item)
    if not by_track[tr] then
      by_track[tr] = {}
      order[#order + 1] = tr
    end
    table.insert(by_track[tr], item)
  end
  local out = json.array({})
  for _, tr in ipairs(order) do out[#out + 1] = SB.track_info(tr, by_track[tr]) end
  return out
end

---------------------------------------------------------------------------------------------
-- the spool exchange
---------------------------------------------------------------------------------------------

local function spool_paths()
  return core.spool_paths(SB.settings().spool_dir)
end
SB.spool_paths = spool_paths

--- Is the bridge answering? It rewrites bridge.json every second while it runs.
function SB.bridge_alive()
  return core.heartbeat_fresh(spool_paths().heartbeat, SB.settings().heartbeat_max_age_s)
end

local function new_id()
  return core.new_request_id(math.floor((reaper.time_precise() % 1) * 1e6))
end

--- Send a request and call on_done(response) once the bridge answers, without blocking
--- REAPER: the wait runs as deferred steps. on_done gets {status="error", error=...} on a
--- time-out or when the bridge is not running.
function SB.request(action, payload, on_done)
  local paths = spool_paths()
  if not SB.bridge_alive() then
    on_done({ status = "error",
              error = "The Studio Bridge is not running (no heartbeat in " .. paths.root ..
                ").\nStart it with: studio-bridge reaper serve" })
    return nil
  end
  reaper.RecursiveCreateDirectory(paths.requests, 0)
  local id = new_id()
  local request = payload or {}
  request.reaper_version = reaper.GetAppVersion()
  local ok, err = core.post_request(paths, id, action, request)
  if not ok then
    on_done({ status = "error", error = err })
    return nil
  end
  local started = reaper.time_precise()
  local last_check, last_status = 0, nil
  local request_path = core.spool_file(paths.requests, id)
  local response_path = core.spool_file(paths.responses, id)
  local status_path = core.spool_file(paths.status, id)
  local timeout = SB.settings().timeout_s
  local function step()
    local now = reaper.time_precise()
    if now - last_check >= 0.1 then
      last_check = now
      local response = core.take_response(response_path)
      if response then
        on_done(response)
        return
      end
      local message = core.new_status(status_path, last_status)
      if message then
        last_status = message
        SB.log(message)
      end
      if now - started > timeout then
        os.remove(request_path)
        on_done({ status = "error", error = string.format(
          "no answer from the bridge after %d s", math.floor(timeout)) })
        return
      end
      if now - started > 5 and not SB.bridge_alive() then
        os.remove(request_path)
        on_done({ status = "error", error = "the Studio Bridge stopped while working" })
        return
      end
    end
    reaper.defer(step)
  end
  reaper.defer(step)
  return id
end

---------------------------------------------------------------------------------------------
-- applying a Plan
---------------------------------------------------------------------------------------------

local BAND_INDEX = core.BAND_INDEX
local BAND_HAS_GAIN = { low_shelf = true, band = true, notch = true, high_shelf = true }

local PLAN_RULES = {
  track = function(e)
    if not core.is_string(e.track) or e.track == "" then return "no track GUID" end
  end,
}

--- Check every edit before touching anything: a bad plan changes nothing.
function SB.validate_plan(plan)
  return core.validate_plan(plan, PLAN_RULES)
end

--- Q factor -> bandwidth in octaves (ReaEQ's unit).
function SB.q_to_octaves(q)
  local x = 1 / (2 * q)
  return 2 / math.log(2) * math.log(x + math.sqrt(x * x + 1))
end

function SB.track_map(proj)
  local map = {}
  for i = 0, reaper.CountTracks(proj) - 1 do
    local tr = reaper.GetTrack(proj, i)
    map[reaper.GetTrackGUID(tr):upper()] = tr
  end
  return map
end

--- The folder of a project file path ("" for an unsaved project).
function SB.folder_of(path)
  return (path or ""):match("^(.*)[/\\][^/\\]*$") or ""
end

local resolve_media = core.resolve_media

local apply = {}

function apply.rename_track(_, tr, e)
  reaper.GetSetMediaTrackInfo_String(tr, "P_NAME", e.name, true)
end

function apply.set_color(_, tr, e)
  local r, g, b = tonumber(e.color:sub(2, 3), 16), tonumber(e.color:sub(4, 5), 16),
    tonumber(e.color:sub(6, 7), 16)
  reaper.SetMediaTrackInfo_Value(tr, "I_CUSTOMCOLOR", reaper.ColorToNative(r, g, b) | 0x1000000)
end

function apply.set_volume(_, tr, e)
  local gain = e.volume_db <= -150 and 0 or 10 ^ (e.volume_db / 20)
  reaper.SetMediaTrackInfo_Value(tr, "D_VOL", gain)
end

function apply.set_pan(_, tr, e)
  reaper.SetMediaTrackInfo_Value(tr, "D_PAN", e.pan)
end

function apply.set_mute(_, tr, e)
  reaper.SetMediaTrackInfo_Value(tr, "B_MUTE", e.mute and 1 or 0)
end

function apply.set_eq_band(_, tr, e)
  local fx = reaper.TrackFX_GetEQ(tr, true)
  if fx < 0 then return "could not insert ReaEQ" end
  local bt = BAND_INDEX[e.band_type]
  reaper.TrackFX_SetEQBandEnabled(tr, fx, bt, e.band, true)
  local ok = reaper.TrackFX_SetEQParam(tr, fx, bt, e.band, 0, e.freq_hz, false)
  if BAND_HAS_GAIN[e.band_type] then
    ok = reaper.TrackFX_SetEQParam(tr, fx, bt, e.band, 1, e.gain_db, false) and ok
  end
  ok = reaper.TrackFX_SetEQParam(tr, fx, bt, e.band, 2, SB.q_to_octaves(e.q), false) and ok
  if not ok then
    return string.format("ReaEQ has no %s band %d", e.band_type, e.band + 1)
  end
end

function apply.add_take(proj, tr, e)
  local item = reaper.GetTrackMediaItem(tr, e.item)
  if not item then return string.format("no item %d on the track", e.item + 1) end
  local path = resolve_media(SB._project_dir, e.file)
  if not reaper.file_exists(path) then return "file not found: " .. path end
  local old = reaper.GetActiveTake(item)
  local offset = old and reaper.GetMediaItemTakeInfo_Value(old, "D_STARTOFFS") or 0
  local take = reaper.AddTakeToMediaItem(item)
  reaper.SetMediaItemTake_Source(take, reaper.PCM_Source_CreateFromFile(path))
  reaper.SetMediaItemTakeInfo_Value(take, "D_STARTOFFS", offset)
  local name = (e.take_name ~= nil and e.take_name ~= "") and e.take_name
    or path:match("([^/\\]+)$")
  reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", name, true)
  reaper.SetActiveTake(take)
  reaper.UpdateItemInProject(item)
end

function apply.insert_midi_item(proj, tr, e)
  local path = resolve_media(SB._project_dir, e.file)
  if not reaper.file_exists(path) then return "file not found: " .. path end
  local cursor = reaper.GetCursorPositionEx(proj)
  reaper.SetOnlyTrackSelected(tr)
  reaper.SetEditCurPos2(proj, e.position_s, false, false)
  reaper.InsertMedia(path, 0)
  reaper.SetEditCurPos2(proj, cursor, false, false)
end

--- move_to_folder edits are gathered while the others apply; each folder is made once all of
--- its tracks are known, above the first of them (bridge/plan.py MoveToFolder).
function apply.move_to_folder(_, tr, e)
  if reaper.GetMediaTrackInfo_Value(tr, "I_FOLDERDEPTH") ~= 0 then
    return "the track opens or closes a folder already: left in place"
  end
  if reaper.GetParentTrack(tr) then
    return "the track sits inside a folder already: left in place"
  end
  local group = SB._folders[e.folder]
  if not group then
    group = { name = e.folder, color = e.color, tracks = {}, edits = {} }
    SB._folders[e.folder] = group
    SB._folders[#SB._folders + 1] = group
  end
  group.tracks[#group.tracks + 1] = tr
  group.edits[#group.edits + 1] = e
  if (group.color == nil or group.color == "") and e.color then group.color = e.color end
  return nil, true
end

local function track_number(tr)
  return reaper.GetMediaTrackInfo_Value(tr, "IP_TRACKNUMBER")
end

local function folder_named(proj, name)
  for i = 0, reaper.CountTracks(proj) - 1 do
    local tr = reaper.GetTrack(proj, i)
    local _, title = reaper.GetSetMediaTrackInfo_String(tr, "P_NAME", "", false)
    if reaper.GetMediaTrackInfo_Value(tr, "I_FOLDERDEPTH") > 0 and title:lower() == name:lower() then
      return true
    end
  end
  return false
end

--- Make the gathered folders; returns how many edits that applied, notes for the rest.
function SB.make_folders(proj, notes)
  local made = 0
  for _, g in ipairs(SB._folders) do
    local problem
    if #g.tracks < 2 then
      problem = string.format("only one track for folder '%s'", g.name)
    elseif folder_named(proj, g.name) then
      problem = string.format("a folder named '%s' exists already: left alone", g.name)
    end
    if problem then
      for _, e in ipairs(g.edits) do
        notes[#notes + 1] = ((e.track_name ~= nil and e.track_name ~= "") and e.track_name
          or e.track) .. ": " .. problem
      end
    else
      table.sort(g.tracks, function(a, b) return track_number(a) < track_number(b) end)
      local at = math.floor(track_number(g.tracks[1]) - 1)
      reaper.InsertTrackAtIndex(at, true)
      local folder = reaper.GetTrack(proj, at)
      reaper.GetSetMediaTrackInfo_String(folder, "P_NAME", g.name, true)
      if g.color and g.color ~= "" then
        apply.set_color(proj, folder, { color = g.color })
      end
      reaper.SetMediaTrackInfo_Value(folder, "I_FOLDERDEPTH", 1)
      -- move exactly the folder's tracks; the engineer's selection comes back afterwards
      local selection = {}
      for i = 0, reaper.CountTracks(proj) - 1 do
        local tr = reaper.GetTrack(proj, i)
        if reaper.IsTrackSelected(tr) then selection[#selection + 1] = tr end
        reaper.SetTrackSelected(tr, false)
      end
      for _, tr in ipairs(g.tracks) do reaper.SetTrackSelected(tr, true) end
      reaper.ReorderSelectedTracks(at + 1, 0)
      for k, tr in ipairs(g.tracks) do
        reaper.SetMediaTrackInfo_Value(tr, "I_FOLDERDEPTH", k == #g.tracks and -1 or 0)
        reaper.SetTrackSelected(tr, false)
      end
      for _, tr in ipairs(selection) do reaper.SetTrackSelected(tr, true) end
      made = made + #g.edits
    end
  end
  return made
end

--- Apply a Plan inside one undo block named "Studio Bridge: <title>". Tracks are found by
--- GUID, so a moved track is still the right track. Returns applied count and a list of
--- notes for edits that were skipped.
function SB.apply_plan(plan, title, proj, project_dir)
  proj = proj or 0
  if project_dir == nil then
    local _, path = reaper.EnumProjects(-1)
    project_dir = SB.folder_of(path)
  end
  SB._project_dir = project_dir
  local ok, err = SB.validate_plan(plan)
  if not ok then return nil, err end
  local notes = {}
  if #plan.edits == 0 then return 0, notes end
  local map = SB.track_map(proj)
  local applied = 0
  SB._folders = {}
  reaper.Undo_BeginBlock2(proj)
  reaper.PreventUIRefresh(1)
  local done, failure = pcall(function()
    for _, e in ipairs(plan.edits) do
      local tr = map[e.track:upper()]
      local who = (e.track_name and e.track_name ~= "") and e.track_name or e.track
      if not tr then
        notes[#notes + 1] = who .. ": track not found (deleted?)"
      else
        local note, later = apply[e.op](proj, tr, e)
        if note then
          notes[#notes + 1] = who .. ": " .. note
        elseif not later then
          applied = applied + 1
        end
      end
    end
    applied = applied + SB.make_folders(proj, notes)
  end)
  reaper.PreventUIRefresh(-1)
  reaper.TrackList_AdjustWindows(false)
  reaper.UpdateArrange()
  reaper.Undo_EndBlock2(proj, SB.UNDO_PREFIX .. (title or "plan"), -1)
  if not done then
    return nil, "stopped part-way (undo it with Studio Bridge: Undo last change): " ..
      tostring(failure)
  end
  return applied, notes
end

--- Print what a Plan did, with each edit's reason.
function SB.report(plan, title, applied, notes, message)
  local lines = { string.format("%s: %d of %d change(s) applied", title, applied, #plan.edits) }
  if message and message ~= "" then lines[#lines + 1] = message end
  for _, e in ipairs(plan.edits) do
    if e.reason and e.reason ~= "" then
      lines[#lines + 1] = string.format("  %s: %s", e.track_name or e.track, e.reason)
    end
  end
  for _, note in ipairs(notes) do lines[#lines + 1] = "  skipped: " .. note end
  SB.log(table.concat(lines, "\n"))
end

--- The whole flow of an action: check the project, send the request, apply the answer.
function SB.run(action, title, gather)
  local proj, path = SB.project()
  if path == "" then
    SB.error("Save the project first: the bridge works from the project file.")
    return
  end
  if not SB.bridge_alive() then
    SB.error(title .. ": the Studio Bridge is not running.\nStart it with: studio-bridge reaper serve")
    return
  end
  local payload = { project = path, project_dirty = reaper.IsProjectDirty(proj) ~= 0,
                    options = {} }
  if gather then
    local extra, problem = gather(proj, payload)
    if problem then SB.error(problem) return end
    if extra then for k, v in pairs(extra) do payload[k] = v end end
  end
  payload.tracks = payload.tracks or SB.gather_tracks(proj)
  SB.log(title .. ": asking the bridge...")
  SB.request(action, payload, function(response)
    if response.status ~= "ok" then
      SB.error(title .. ": " .. tostring(response.error or "the bridge gave no reason"))
      return
    end
    local plan = response.plan
    local applied, notes = SB.apply_plan(plan, response.title or title, proj, SB.folder_of(path))
    if not applied then
      SB.error(title .. ": " .. tostring(notes))
      return
    end
    SB.report(plan, response.title or title, applied, notes, response.message)
  end)
end

return SB
