-- @noindex
-- @description Studio Bridge: Apply pending plan
-- @about Fetches the plan the bridge has waiting for this project and applies it as one undo step (the bridge can trigger this over OSC).
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path
local SB = require("studio_bridge")

SB.run("apply_pending", "Apply pending plan", function()
  return { tracks = SB.json.array({}) }
end)
