-- @noindex
-- @description Studio Bridge: Label stems
-- @about Names and colours the selected tracks (all tracks when none is selected) from what their audio sounds like.
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

SB.run("label", "Label stems")
