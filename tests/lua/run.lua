-- Runs Studio Bridge Lua inside the generated fake REAPER and prints what happened as JSON.
-- usage: lua5.4 run.lua <fake_reaper.lua> <scenario.json>
-- scripts_dir: an installed Scripts/StudioBridge (REAPER's scripts beside studio_bridge_core.lua)
-- scenario: { scripts_dir, world = {...}, mode = "apply" | "script", plan, title,
--             project_dir, script, max_steps, missing_bands }

local fake_path, scenario_path = arg[1], arg[2]
dofile(fake_path)
local here = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or "./"

local fh = assert(io.open(scenario_path, "rb"))
local scenario_text = fh:read("a")
fh:close()

-- The library is loaded before the scenario is decoded, so its JSON reads the scenario.
local probe = scenario_text:match('"scripts_dir"%s*:%s*"([^"]+)"')
package.path = probe .. "/?.lua;" .. package.path
local SB = require("studio_bridge")
local scenario = SB.json.decode(scenario_text)

local W = dofile(here .. "world.lua")
W.setup(scenario.world or {})
if scenario.missing_bands then
  W.missing_bands = {}
  for _, key in ipairs(scenario.missing_bands) do W.missing_bands[key] = true end
end
for name, fn in pairs(W.impl) do FAKE.impl[name] = fn end

local function show(v)
  if v == nil then return SB.json.null end
  local t = type(v)
  if t == "table" and v.kind then
    return "<" .. v.kind .. ":" .. tostring(v.guid or v.file or v.name or "") .. ">"
  elseif t == "table" then
    return "<table>"
  elseif t == "function" then
    return "<function>"
  end
  return v
end

local result = {}
local ok, err = pcall(function()
  if scenario.mode == "apply" then
    FAKE.calls = {}
    local applied, notes = SB.apply_plan(scenario.plan, scenario.title, 0, scenario.project_dir)
    result.applied = applied or SB.json.null
    result.notes = type(notes) == "table" and SB.json.array(notes) or notes
  else
    dofile(scenario.scripts_dir .. "/" .. scenario.script)
    local steps = 0
    while #W.deferred > 0 and steps < (scenario.max_steps or 2000) do
      local batch = W.deferred
      W.deferred = {}
      for _, fn in ipairs(batch) do fn() end
      steps = steps + 1
      os.execute("sleep 0.02")
      W.clock = W.clock + 0.02
    end
    result.steps = steps
    result.pending_defers = #W.deferred
  end
end)

local calls = SB.json.array({})
for i, c in ipairs(FAKE.calls) do
  local args = SB.json.array({})
  for j = 1, c.args.n do args[j] = show(c.args[j]) end
  calls[i] = { name = c.name, args = args }
end

io.write(SB.json.encode({
  ok = ok,
  error = ok and SB.json.null or tostring(err),
  result = result,
  calls = calls,
  console = SB.json.array(W.console),
  dialogs = SB.json.array(W.dialogs),
  undo = SB.json.array(W.undo),
  undo_depth = W.undo_depth,
  outside_block = SB.json.array(W.outside_block),
  commands = SB.json.array(W.commands),
  projinfo = W.projinfo,
  projinfo_str = W.projinfo_str,
  tracks = W.snapshot(),
}))
