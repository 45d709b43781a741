-- @noindex
-- @description Studio Bridge: Undo last Studio Bridge change
-- @about Undoes the last change if, and only if, it was made by a Studio Bridge action; otherwise says what the last change was and leaves it alone.
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

local proj = 0
local last = reaper.Undo_CanUndo2(proj)
if last and last:sub(1, #SB.UNDO_PREFIX) == SB.UNDO_PREFIX then
  reaper.Undo_DoUndo2(proj)
  SB.log("undone: " .. last)
elseif last and last ~= "" then
  SB.error("The last change is not a Studio Bridge change (\"" .. last .. "\"); nothing undone.")
else
  SB.error("There is nothing to undo.")
end
