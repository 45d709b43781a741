-- @noindex
-- @description Studio Bridge: Starter mix
-- @about Sets faders (in dB) and pans of the selected tracks (all when none is selected) to a balanced starting point.
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

SB.run("starter_mix", "Starter mix")
