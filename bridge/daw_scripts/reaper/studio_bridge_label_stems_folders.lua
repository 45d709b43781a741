-- @noindex
-- @description Studio Bridge: Label stems into folders
-- @about Like "Label stems", and each family of two or more labelled tracks goes into a folder track (DRUMS, VOCALS, ...).
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

SB.run("label", "Label stems", function(_, payload)
  payload.options.folders = true
end)
