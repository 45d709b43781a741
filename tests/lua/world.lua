-- A small REAPER project model behind the generated fake `reaper` table: tracks, items, takes,
-- ReaEQ bands, the undo history, the console and the deferred queue. Only what the Studio
-- Bridge scripts read or change is modelled; every other API call still goes through the
-- generated fake (argument counts checked, call recorded, neutral value returned).

local W = {}

local function mutate(name)
  if W.undo_depth == 0 then W.outside_block[#W.outside_block + 1] = name end
end

function W.setup(spec)
  W.proj = { kind = "ReaProject", name = "project" }
  W.project_path = spec.project or ""
  W.tracks, W.undo, W.console, W.dialogs, W.deferred, W.commands = {}, {}, {}, {}, {}, {}
  W.outside_block, W.projinfo, W.projinfo_str = {}, {}, {}
  W.undo_depth, W.clock, W.cursor, W.dirty = 0, 1000.0, 0.0, 0
  for i, t in ipairs(spec.tracks or {}) do
    local tr = { kind = "MediaTrack", guid = t.guid, name = t.name or "", selected = t.selected,
                 values = { D_VOL = 1.0, D_PAN = 0.0, B_MUTE = 0, I_CUSTOMCOLOR = 0,
                            I_FOLDERDEPTH = t.folder_depth or 0 },
                 items = {}, eq = t.eq and { bands = {} } or nil }
    for j, it in ipairs(t.items or {}) do
      local item = { kind = "MediaItem", guid = it.guid or string.format("{ITEM-%d-%d}", i, j),
                     position = it.position_s or 0.0, length = it.length_s or 1.0,
                     selected = it.selected, track = tr, takes = {} }
      local take = { kind = "MediaItem_Take", name = it.take or "", item = item,
                     source = { kind = "PCM_source", file = it.source or "" },
                     startoffs = it.source_offset_s or 0.0 }
      item.takes[1], item.active = take, take
      tr.items[j] = item
    end
    W.tracks[i] = tr
  end
end

local function index_of(tr)
  for i, t in ipairs(W.tracks) do if t == tr then return i end end
  error("track object not in the project")
end

local function selected_tracks()
  local out = {}
  for _, t in ipairs(W.tracks) do if t.selected then out[#out + 1] = t end end
  return out
end

local function selected_items()
  local out = {}
  for _, t in ipairs(W.tracks) do
    for _, it in ipairs(t.items) do if it.selected then out[#out + 1] = it end end
  end
  return out
end

local impl = {}
W.impl = impl

impl["reaper.EnumProjects"] = function(idx)
  if idx == -1 or idx == 0 then return W.proj, W.project_path end
  return nil, ""
end
impl["reaper.IsProjectDirty"] = function() return W.dirty end
impl["reaper.GetOS"] = function() return "Linux-x86_64" end
impl["reaper.GetAppVersion"] = function() return "7.40/linux-x86_64" end
impl["reaper.time_precise"] = function() return W.clock end
impl["reaper.defer"] = function(fn) W.deferred[#W.deferred + 1] = fn end
impl["reaper.RecursiveCreateDirectory"] = function(path)
  os.execute('mkdir -p "' .. path .. '"')
  return 1
end
impl["reaper.file_exists"] = function(path)
  local fh = io.open(path, "rb")
  if fh then fh:close() return true end
  return false
end
impl["reaper.ShowConsoleMsg"] = function(msg) W.console[#W.console + 1] = msg end
impl["reaper.MB"] = function(msg) W.dialogs[#W.dialogs + 1] = msg return 1 end
impl["reaper.ColorToNative"] = function(r, g, b) return r | (g << 8) | (b << 16) end

impl["reaper.CountTracks"] = function() return #W.tracks end
impl["reaper.GetTrack"] = function(_, i) return W.tracks[i + 1] end
impl["reaper.GetTrackGUID"] = function(tr) return tr.guid end
impl["reaper.CountSelectedTracks"] = function() return #selected_tracks() end
impl["reaper.GetSelectedTrack"] = function(_, i) return selected_tracks()[i + 1] end
impl["reaper.SetOnlyTrackSelected"] = function(tr)
  for _, t in ipairs(W.tracks) do t.selected = (t == tr) end
end
impl["reaper.SetTrackSelected"] = function(tr, on) tr.selected = on end
impl["reaper.IsTrackSelected"] = function(tr) return tr.selected == true end
impl["reaper.InsertTrackAtIndex"] = function(idx)
  mutate("InsertTrackAtIndex")
  W.new_tracks = (W.new_tracks or 0) + 1
  local tr = { kind = "MediaTrack", guid = string.format("{NEW-TRACK-%d}", W.new_tracks),
               name = "", values = { D_VOL = 1.0, D_PAN = 0.0, B_MUTE = 0, I_CUSTOMCOLOR = 0,
                                     I_FOLDERDEPTH = 0 }, items = {} }
  table.insert(W.tracks, math.min(idx, #W.tracks) + 1, tr)
end
--- REAPER's rule as documented: the selected tracks move, in their order, to just above the
--- track at beforeTrackIdx (the next unselected one when that track is itself selected).
impl["reaper.ReorderSelectedTracks"] = function(before, mode)
  mutate("ReorderSelectedTracks")
  local moving = selected_tracks()
  if #moving == 0 then return false end
  local anchor
  for i = before + 1, #W.tracks do
    if not W.tracks[i].selected then anchor = W.tracks[i] break end
  end
  local rest = {}
  for _, t in ipairs(W.tracks) do if not t.selected then rest[#rest + 1] = t end end
  local at = #rest + 1
  for i, t in ipairs(rest) do if t == anchor then at = i break end end
  for k, t in ipairs(moving) do table.insert(rest, at + k - 1, t) end
  W.tracks = rest
  W.reorder_modes = W.reorder_modes or {}
  W.reorder_modes[#W.reorder_modes + 1] = mode
  return true
end
impl["reaper.GetParentTrack"] = function(tr)
  local stack = {}
  for _, t in ipairs(W.tracks) do
    if t == tr then return stack[#stack] end
    local change = math.tointeger(t.values.I_FOLDERDEPTH) or 0
    if change > 0 then stack[#stack + 1] = t end
    for _ = 1, -change do table.remove(stack) end
  end
  return nil
end
impl["reaper.GetSetMediaTrackInfo_String"] = function(tr, parm, value, set)
  if parm ~= "P_NAME" then return false, "" end
  if set then mutate("P_NAME") tr.name = value end
  return true, tr.name
end
impl["reaper.GetMediaTrackInfo_Value"] = function(tr, parm)
  if parm == "IP_TRACKNUMBER" then return index_of(tr) + 0.0 end
  return tr.values[parm] or 0.0
end
impl["reaper.SetMediaTrackInfo_Value"] = function(tr, parm, value)
  mutate(parm)
  tr.values[parm] = value
  return true
end

impl["reaper.CountTrackMediaItems"] = function(tr) return #tr.items end
impl["reaper.GetTrackMediaItem"] = function(tr, i) return tr.items[i + 1] end
impl["reaper.CountSelectedMediaItems"] = function() return #selected_items() end
impl["reaper.GetSelectedMediaItem"] = function(_, i) return selected_items()[i + 1] end
impl["reaper.GetMediaItem_Track"] = function(item) return item.track end
impl["reaper.GetMediaItemInfo_Value"] = function(item, parm)
  if parm == "D_POSITION" then return item.position end
  if parm == "D_LENGTH" then return item.length end
  return 0.0
end
impl["reaper.GetSetMediaItemInfo_String"] = function(item, parm)
  if parm == "GUID" then return true, item.guid end
  return false, ""
end
impl["reaper.GetActiveTake"] = function(item) return item.active end
impl["reaper.GetTakeName"] = function(take) return take.name end
impl["reaper.GetMediaItemTake_Source"] = function(take) return take.source end
impl["reaper.GetMediaSourceFileName"] = function(src) return src.file end
impl["reaper.GetMediaItemTakeInfo_Value"] = function(take, parm)
  if parm == "D_STARTOFFS" then return take.startoffs end
  return 0.0
end
impl["reaper.SetMediaItemTakeInfo_Value"] = function(take, parm, value)
  mutate(parm)
  if parm == "D_STARTOFFS" then take.startoffs = value end
  return true
end
impl["reaper.AddTakeToMediaItem"] = function(item)
  mutate("AddTakeToMediaItem")
  local take = { kind = "MediaItem_Take", name = "", item = item, startoffs = 0.0 }
  item.takes[#item.takes + 1] = take
  return take
end
impl["reaper.PCM_Source_CreateFromFile"] = function(fn) return { kind = "PCM_source", file = fn } end
impl["reaper.SetMediaItemTake_Source"] = function(take, src)
  mutate("SetMediaItemTake_Source")
  take.source = src
  return true
end
impl["reaper.GetSetMediaItemTakeInfo_String"] = function(take, parm, value, set)
  if parm ~= "P_NAME" then return false, "" end
  if set then mutate("take P_NAME") take.name = value end
  return true, take.name
end
impl["reaper.SetActiveTake"] = function(take)
  mutate("SetActiveTake")
  take.item.active = take
end
impl["reaper.GetCursorPositionEx"] = function() return W.cursor end
impl["reaper.SetEditCurPos2"] = function(_, t) W.cursor = t end
impl["reaper.InsertMedia"] = function(file)
  mutate("InsertMedia")
  local tr = selected_tracks()[1]
  local item = { kind = "MediaItem", guid = "{MIDI-ITEM}", position = W.cursor, length = 1.0,
                 track = tr, takes = {} }
  local take = { kind = "MediaItem_Take", name = file:match("([^/]+)$"), item = item,
                 source = { kind = "PCM_source", file = file }, startoffs = 0.0 }
  item.takes[1], item.active = take, take
  tr.items[#tr.items + 1] = item
  return 0
end

impl["reaper.TrackFX_GetEQ"] = function(tr, instantiate)
  if not tr.eq and instantiate then
    mutate("insert ReaEQ")
    tr.eq = { bands = {} }
  end
  return tr.eq and 0 or -1
end
impl["reaper.TrackFX_SetEQBandEnabled"] = function(tr, fx, bt, idx, on)
  mutate("TrackFX_SetEQBandEnabled")
  local key = bt .. ":" .. idx
  tr.eq.bands[key] = tr.eq.bands[key] or {}
  tr.eq.bands[key].enabled = on
  return fx == 0
end
impl["reaper.TrackFX_SetEQParam"] = function(tr, fx, bt, idx, ptype, value)
  mutate("TrackFX_SetEQParam")
  local key = bt .. ":" .. idx
  tr.eq.bands[key] = tr.eq.bands[key] or {}
  tr.eq.bands[key][ptype] = value
  return fx == 0 and not (W.missing_bands or {})[key]
end

impl["reaper.Undo_BeginBlock2"] = function() W.undo_depth = W.undo_depth + 1 end
impl["reaper.Undo_EndBlock2"] = function(_, desc)
  W.undo_depth = W.undo_depth - 1
  W.undo[#W.undo + 1] = desc
end
impl["reaper.Undo_CanUndo2"] = function() return W.undo[#W.undo] end
impl["reaper.Undo_DoUndo2"] = function()
  table.remove(W.undo)
  return 1
end
impl["reaper.GetSetProjectInfo"] = function(_, desc, value, set)
  if set then W.projinfo[desc] = value end
  return W.projinfo[desc] or 0.0
end
impl["reaper.GetSetProjectInfo_String"] = function(_, desc, value, set)
  if set then W.projinfo_str[desc] = value end
  return true, W.projinfo_str[desc] or ""
end
impl["reaper.Main_OnCommand"] = function(cmd) W.commands[#W.commands + 1] = cmd end

--- Everything the test asserts on, as plain tables.
function W.snapshot()
  local tracks = {}
  for i, t in ipairs(W.tracks) do
    local items = {}
    for j, it in ipairs(t.items) do
      local takes = {}
      for k, tk in ipairs(it.takes) do
        takes[k] = { name = tk.name, file = tk.source and tk.source.file or "",
                     startoffs = tk.startoffs, active = (it.active == tk) }
      end
      items[j] = { guid = it.guid, position = it.position, takes = takes }
    end
    local eq = nil
    if t.eq then
      eq = {}
      for key, band in pairs(t.eq.bands) do
        eq[key] = { enabled = band.enabled, freq = band[0], gain = band[1], bw = band[2] }
      end
    end
    tracks[i] = { guid = t.guid, name = t.name, values = t.values, items = items, eq = eq,
                  selected = t.selected == true }
  end
  return tracks
end

return W
