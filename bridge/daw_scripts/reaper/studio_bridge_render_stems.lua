-- @noindex
-- @description Studio Bridge: Render stems
-- @about Renders the selected tracks as stems into StudioBridge/stems in the project folder and tells the bridge; the render settings are put back afterwards.
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

local RENDER_MOST_RECENT = 41824 -- File: Render project, using the most recent render settings
local STEMS_ONLY = 2 -- RENDER_SETTINGS: stems (selected tracks) only
local ENTIRE_PROJECT = 1 -- RENDER_BOUNDSFLAG

SB.run("render", "Render stems", function(proj, payload)
  if reaper.CountSelectedTracks(proj) == 0 then
    return nil, "Select the tracks to render as stems first."
  end
  local stems = SB.folder_of(payload.project) .. "/StudioBridge/stems"
  reaper.RecursiveCreateDirectory(stems, 0)
  local saved_settings = reaper.GetSetProjectInfo(proj, "RENDER_SETTINGS", 0, false)
  local saved_bounds = reaper.GetSetProjectInfo(proj, "RENDER_BOUNDSFLAG", 0, false)
  local _, saved_file = reaper.GetSetProjectInfo_String(proj, "RENDER_FILE", "", false)
  local _, saved_pattern = reaper.GetSetProjectInfo_String(proj, "RENDER_PATTERN", "", false)
  reaper.GetSetProjectInfo(proj, "RENDER_SETTINGS", STEMS_ONLY, true)
  reaper.GetSetProjectInfo(proj, "RENDER_BOUNDSFLAG", ENTIRE_PROJECT, true)
  reaper.GetSetProjectInfo_String(proj, "RENDER_FILE", stems, true)
  reaper.GetSetProjectInfo_String(proj, "RENDER_PATTERN", "$tracknumber - $track", true)
  reaper.Main_OnCommand(RENDER_MOST_RECENT, 0)
  reaper.GetSetProjectInfo(proj, "RENDER_SETTINGS", saved_settings, true)
  reaper.GetSetProjectInfo(proj, "RENDER_BOUNDSFLAG", saved_bounds, true)
  reaper.GetSetProjectInfo_String(proj, "RENDER_FILE", saved_file, true)
  reaper.GetSetProjectInfo_String(proj, "RENDER_PATTERN", saved_pattern, true)
  payload.options.stems_dir = stems
  return { tracks = SB.gather_tracks(proj, false) }
end)
