-- @noindex
-- @description Studio Bridge: Clean up selected items
-- @about Denoises, dehums and declicks the selected items into new takes; the original take is kept.
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

SB.run("cleanup", "Clean up selected items", function(proj)
  local tracks = SB.gather_selected_items(proj)
  if #tracks == 0 then return nil, "Select the items to clean up first." end
  return { tracks = tracks }
end)
