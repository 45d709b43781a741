-- @noindex
-- @description Studio Bridge: Suggest EQ
-- @about Inserts ReaEQ bands on the selected tracks (all when none is selected) where the bridge hears masking or resonances.
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

SB.run("suggest_eq", "Suggest EQ")
