-- Studio Bridge: keep an Ardour session open without a GUI, for ardour7-lua (luasession).
--
-- Usage (the bridge starts this for you, see bridge/daw/ardour_runtime.py):
--   SB_SESSION_DIR=/path/to/session SB_SESSION_NAME=name SB_SPOOL=/path/to/spool \
--   ardour7-lua -X bridge_host.lua
--
-- The session loads on Ardour's "None (Dummy)" backend, so its OSC surface answers while this
-- script idles. Things OSC cannot do (insert a plug-in, set a track colour) arrive as request
-- files in SB_SPOOL: "<id>.req" holds one request per line, words separated by tabs:
--   ping
--   insert_plugin <route id> <plug-in name or URI> <lv2|lua> <position>
--   set_color <route id> <RRGGBB>
--   save
--   quit
-- The answer goes to "<id>.res" (written to "<id>.tmp" first, then renamed): one line per
-- request, "ok<TAB>detail" or "error<TAB>message". The host stops on "quit", when the file
-- SB_SPOOL/stop appears, or when the process SB_PARENT_PID (if set) is gone.

local session_dir = assert(os.getenv("SB_SESSION_DIR"), "SB_SESSION_DIR is not set")
local session_name = assert(os.getenv("SB_SESSION_NAME"), "SB_SESSION_NAME is not set")
local spool = assert(os.getenv("SB_SPOOL"), "SB_SPOOL is not set")
local parent_pid = os.getenv("SB_PARENT_PID")
local poll_us = tonumber(os.getenv("SB_POLL_US") or "50000")

local function say(...)
  print(...)
  io.stdout:flush()
end

local function split_tabs(line)
  local out = {}
  for word in string.gmatch(line, "[^\t]+") do out[#out + 1] = word end
  return out
end

local function route_of(id)
  local route = Session:route_by_id(PBD.ID(id))
  if route:isnil() then error("no route with id " .. id, 0) end
  return route
end

local function insert_plugin(id, name, kind, position)
  local route = route_of(id)
  local ptype = ARDOUR.PluginType.LV2
  if kind == "lua" then ptype = ARDOUR.PluginType.Lua end
  local plugin = ARDOUR.LuaAPI.new_plugin(Session, name, ptype, "")
  if plugin:isnil() then error("plug-in not found: " .. name, 0) end
  local rv = route:add_processor_by_index(plugin, tonumber(position) or 0, nil, true)
  if rv ~= 0 then error("Ardour refused to insert " .. name .. " (code " .. rv .. ")", 0) end
  local n = 0
  while not route:nth_plugin(n):isnil() do n = n + 1 end
  return tostring(n)
end

local function set_color(id, hex)
  local route = route_of(id)
  local rgb = tonumber(hex, 16)
  if rgb == nil or #hex ~= 6 then error("bad colour " .. hex, 0) end
  -- Ardour keeps colours as 0xRRGGBBAA
  route:presentation_info_ptr():set_color(rgb * 256 + 255)
  return string.format("%08x", route:presentation_info_ptr():color())
end

local running = true

local function handle(words)
  local verb = words[1]
  if verb == "ping" then return "pong" end
  if verb == "insert_plugin" then return insert_plugin(words[2], words[3], words[4], words[5]) end
  if verb == "set_color" then return set_color(words[2], words[3]) end
  if verb == "save" then
    local rv = Session:save_state("", false, false, false, false, false)
    if rv ~= 0 then error("save_state failed (" .. rv .. ")", 0) end
    return "saved"
  end
  if verb == "quit" then running = false; return "bye" end
  error("unknown request " .. tostring(verb), 0)
end

local function serve(id)
  local path = spool .. "/" .. id .. ".req"
  local fh = io.open(path, "r")
  if not fh then return end
  local text = fh:read("a")
  fh:close()
  os.remove(path)
  local answer = {}
  for line in string.gmatch(text, "[^\n]+") do
    local ok, result = pcall(handle, split_tabs(line))
    if ok then
      answer[#answer + 1] = "ok\t" .. tostring(result)
    else
      answer[#answer + 1] = "error\t" .. tostring(result):gsub("[\t\n]", " ")
    end
  end
  local tmp = spool .. "/" .. id .. ".tmp"
  local out = assert(io.open(tmp, "w"))
  out:write(table.concat(answer, "\n"), "\n")
  out:close()
  os.rename(tmp, spool .. "/" .. id .. ".res")
end

local function pending()
  -- the bridge also writes an index file so no directory listing is needed
  local fh = io.open(spool .. "/queue", "r")
  if not fh then return {} end
  local ids = {}
  for line in fh:lines() do ids[#ids + 1] = line end
  fh:close()
  return ids
end

local function exists(path)
  local fh = io.open(path, "r")
  if fh then fh:close(); return true end
  return false
end

local loaded = load_session(session_dir, session_name)
if not loaded then
  say("FAILED\tcould not load " .. session_dir .. "/" .. session_name .. ".ardour")
  os.exit(3)
end
say("READY\t" .. AudioEngine:current_backend_name() .. "\t" .. Session:nominal_sample_rate())

local served = {}
while running do
  ARDOUR.LuaAPI.usleep(poll_us)
  for _, id in ipairs(pending()) do
    if not served[id] and exists(spool .. "/" .. id .. ".req") then
      served[id] = true
      serve(id)
    end
  end
  if exists(spool .. "/stop") then running = false end
  if parent_pid and not exists("/proc/" .. parent_pid .. "/stat") then running = false end
end

say("STOPPING")
close_session()
say("STOPPED")
os.exit(0)
