-- @noindex
-- Studio Bridge: the DAW-neutral core of the REAPER and Ardour libraries (JSON, the spool
-- files, checking a Plan). It calls no DAW function, so plain Lua 5.4 can run it.
--
-- It is not an action: studio_bridge.lua (REAPER) and studio_bridge_ardour.lua (Ardour) load
-- it from the folder they were loaded from, so it must be copied next to them.

local core = {}
core.PROTOCOL = 1
core.TITLE = "Studio Bridge"
core.UNDO_PREFIX = "Studio Bridge: "

---------------------------------------------------------------------------------------------
-- JSON
---------------------------------------------------------------------------------------------

local json = {}
core.json = json

json.null = setmetatable({}, { __tostring = function() return "null" end })
local array_mt = { __name = "json.array" }

--- Mark a table as a JSON array (so an empty one encodes as [] rather than {}).
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n > 0 and n == #t
end

local encode_value

local function encode_table(t, seen)
  if seen[t] then error("json: cannot encode a table that contains itself", 0) end
  seen[t] = true
  local out = {}
  if is_array(t) then
    for i = 1, #t do out[i] = encode_value(t[i], seen) end
    seen[t] = nil
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("json: object keys must be strings", 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do
    out[i] = encode_string(k) .. ":" .. encode_value(t[k], seen)
  end
  seen[t] = nil
  return "{" .. table.concat(out, ",") .. "}"
end

encode_value = function(v, seen)
  local kind = type(v)
  if v == nil or v == json.null then return "null" end
  if kind == "boolean" then return tostring(v) end
  if kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("json: cannot encode " .. tostring(v), 0)
    end
    if math.type(v) == "integer" then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if kind == "string" then return encode_string(v) end
  if kind == "table" then return encode_table(v, seen) end
  error("json: cannot encode a " .. kind, 0)
end

--- Text for a value; object keys are sorted, so equal tables give equal text.
function json.encode(v)
  return encode_value(v, {})
end

--- The value in `text`; raises "json: <what> at byte <n>" on malformed text.
function json.decode(text)
  if type(text) ~= "string" then error("json: expected text, got " .. type(text), 0) end
  local pos = 1
  local function fail(msg)
    error(string.format("json: %s at byte %d", msg, pos), 0)
  end
  local function skip()
    pos = text:find("[^ \t\r\n]", pos) or (#text + 1)
  end
  local function str()
    pos = pos + 1
    local parts = {}
    while true do
      local i = text:find('["\\%c]', pos)
      if not i then fail("unterminated string") end
      parts[#parts + 1] = text:sub(pos, i - 1)
      local c = text:sub(i, i)
      if c == '"' then
        pos = i + 1
        return table.concat(parts)
      elseif c == "\\" then
        local e = text:sub(i + 1, i + 1)
        local simple = ({ b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
                          ['"'] = '"', ["\\"] = "\\", ["/"] = "/" })[e]
        if simple then
          parts[#parts + 1] = simple
          pos = i + 2
        elseif e == "u" then
          local hex = text:sub(i + 2, i + 5)
          if not hex:match("^%x%x%x%x$") then pos = i; fail("bad \\u escape") end
          local cp = tonumber(hex, 16)
          pos = i + 6
          if cp >= 0xD800 and cp <= 0xDBFF then
            local low = text:match("^\\u(%x%x%x%x)", pos)
            local lo = low and tonumber(low, 16)
            if lo and lo >= 0xDC00 and lo <= 0xDFFF then
              cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
              pos = pos + 6
            end
          end
          parts[#parts + 1] = utf8.char(cp)
        else
          pos = i
          fail("bad escape")
        end
      else
        pos = i
        fail("control character in string")
      end
    end
  end
  -- the members of an object or array: read_member() each, separated by ",", up to `close`
  local function members(close, read_member)
    pos = pos + 1
    skip()
    if text:sub(pos, pos) == close then pos = pos + 1; return end
    while true do
      read_member()
      skip()
      local d = text:sub(pos, pos)
      pos = pos + 1
      if d == close then return end
      if d ~= "," then pos = pos - 1; fail("expected ',' or '" .. close .. "'") end
    end
  end
  local value
  value = function()
    skip()
    local c = text:sub(pos, pos)
    if c == "{" then
      local obj = {}
      members("}", function()
        skip()
        if text:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str()
        skip()
        if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value()
      end)
      return obj
    elseif c == "[" then
      local arr = json.array({})
      members("]", function() arr[#arr + 1] = value() end)
      return arr
    elseif c == '"' then
      return str()
    elseif text:find("^true", pos) then
      pos = pos + 4; return true
    elseif text:find("^false", pos) then
      pos = pos + 5; return false
    elseif text:find("^null", pos) then
      pos = pos + 4; return json.null
    else
      local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" or num == "-" then fail("unexpected character") end
      local n = tonumber(num)
      if n == nil then fail("bad number") end
      pos = pos + #num
      return n
    end
  end
  local result = value()
  skip()
  if pos <= #text then fail("trailing text") end
  return result
end

---------------------------------------------------------------------------------------------
-- files and folders
---------------------------------------------------------------------------------------------

function core.read_file(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local data = fh:read("a")
  fh:close()
  return data
end

function core.file_exists(path)
  local fh = io.open(path, "rb")
  if fh then fh:close() return true end
  return false
end

--- Write a file so a reader never sees half of it: a temporary name, then rename. The bridge
--- only reads "*.json", so the ".json.tmp" name is never taken for a request.
function core.write_file_atomic(path, data)
  local tmp = path .. ".tmp"
  local fh, err = io.open(tmp, "wb")
  if not fh then return false, err end
  fh:write(data)
  fh:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    -- Windows does not rename over an existing file: make room and try once more
    os.remove(path)
    ok, rerr = os.rename(tmp, path)
  end
  if not ok then os.remove(tmp) return false, rerr end
  return true
end

--- The decoded file; nil when it is missing, nil and the reason when it is not JSON.
function core.read_json(path)
  local text = core.read_file(path)
  if not text then return nil end
  local ok, value = pcall(json.decode, text)
  if not ok then return nil, value end
  return value
end

--- The bridge's data folder, by the same rule as bridge/daw/spool.py default_data_dir().
--- `platform`: "windows", "macos", or anything else for the XDG rule.
function core.default_data_dir(platform)
  local env = os.getenv("STUDIO_BRIDGE_DATA")
  if env and env ~= "" then return env end
  local home = os.getenv("HOME") or ""
  if platform == "windows" then
    return (os.getenv("APPDATA") or (os.getenv("USERPROFILE") or "") .. "/AppData/Roaming")
      .. "/studio-bridge"
  elseif platform == "macos" then
    return home .. "/Library/Application Support/studio-bridge"
  end
  local xdg = os.getenv("XDG_DATA_HOME")
  if xdg and xdg ~= "" then return xdg .. "/studio-bridge" end
  return home .. "/.local/share/studio-bridge"
end

--- A path whose meaning does not depend on a current folder (POSIX, drive or UNC).
function core.is_absolute(file)
  return file:match("^/") or file:match("^%a:[/\\]") or file:match("^\\\\")
end

--- A Plan's media file: relative names are taken from the project folder.
function core.resolve_media(project_dir, file)
  if core.is_absolute(file) or project_dir == "" then return file end
  return project_dir .. "/" .. file
end

---------------------------------------------------------------------------------------------
-- the spool folder (docs/reaper-protocol.md)
---------------------------------------------------------------------------------------------

function core.spool_paths(root)
  return {
    root = root,
    requests = root .. "/requests",
    responses = root .. "/responses",
    status = root .. "/status",
    heartbeat = root .. "/bridge.json",
  }
end

--- The file of request `id` in one of the spool's folders.
function core.spool_file(folder, id)
  return folder .. "/" .. id .. ".json"
end

--- Is the bridge answering? It rewrites bridge.json every second while it runs.
function core.heartbeat_fresh(path, max_age_s)
  local beat = core.read_json(path)
  if type(beat) ~= "table" or type(beat.time) ~= "number" then return false end
  return os.time() - beat.time <= max_age_s
end

local counter = 0
--- A request id that sorts by time: UTC second, `micros` (0..999999, the caller's clock),
--- a counter and a random tail so two DAWs never pick the same name.
function core.new_request_id(micros)
  counter = counter + 1
  return string.format("%s_%06d_%d_%d", os.date("!%Y%m%dT%H%M%S"), micros, counter,
    math.random(1000, 9999))
end

--- Stamp `request` (a table) with the protocol fields and write it into the requests folder.
function core.post_request(paths, id, action, request)
  request.protocol = core.PROTOCOL
  request.id = id
  request.action = action
  request.created = os.time()
  local ok, err = core.write_file_atomic(core.spool_file(paths.requests, id),
    json.encode(request))
  if not ok then return false, "cannot write the request: " .. tostring(err) end
  return true
end

--- The bridge's progress message for a request when it differs from `last` (else nil).
function core.new_status(path, last)
  local status = core.read_json(path)
  if type(status) == "table" and status.message and status.message ~= last then
    return status.message
  end
  return nil
end

--- The bridge's answer at `path`, taken (the file is removed); nil while there is none, an
--- error response when it cannot be read.
function core.take_response(path)
  local text = core.read_file(path)
  if not text then return nil end
  os.remove(path)
  local ok, response = pcall(json.decode, text)
  if not ok or type(response) ~= "table" then
    return { status = "error", error = "unreadable answer from the bridge: " .. tostring(response) }
  end
  return response
end

---------------------------------------------------------------------------------------------
-- checking a Plan (bridge/plan.py)
---------------------------------------------------------------------------------------------

core.BAND_TYPES = { "high_pass", "low_shelf", "band", "notch", "high_shelf", "low_pass" }
core.BAND_INDEX = {}
for i, name in ipairs(core.BAND_TYPES) do core.BAND_INDEX[name] = i - 1 end

function core.is_number(v) return type(v) == "number" and v == v end
function core.is_string(v) return type(v) == "string" end
local is_number, is_string = core.is_number, core.is_string

local function non_empty(v) return is_string(v) and v ~= "" end

--- op -> field -> check; a DAW library may shadow an op's checks with a stricter table.
--- The same ranges as bridge/plan.py checks before a Plan is sent: a pending plan written by
--- hand or by another tool gets no further here than through the Python side.
core.VOLUME_MIN_DB, core.VOLUME_MAX_DB, core.SILENCE_DB = -150, 24, -1000
core.EQ_FREQ_MIN_HZ, core.EQ_FREQ_MAX_HZ, core.EQ_GAIN_MAX_DB, core.EQ_Q_MAX = 10, 24000, 30, 100

--- A track name: something visible, and no control character (a line break would split the
--- project file's NAME line).
local function track_name(v) return is_string(v) and v:find("%S") ~= nil and not v:find("%c") end

local function in_range(lo, hi)
  return function(v) return is_number(v) and v >= lo and v <= hi end
end

core.PLAN_FIELDS = {
  rename_track = { name = track_name },
  set_color = { color = function(v) return is_string(v) and v:match("^#%x%x%x%x%x%x$") end },
  set_volume = { volume_db = function(v)
    return v == -math.huge or v == core.SILENCE_DB
      or in_range(core.VOLUME_MIN_DB, core.VOLUME_MAX_DB)(v)
  end },
  set_pan = { pan = in_range(-1, 1) },
  set_mute = { mute = function(v) return type(v) == "boolean" end },
  set_eq_band = {
    band = function(v) return math.type(v) == "integer" and v >= 0 end,
    band_type = function(v) return core.BAND_INDEX[v] ~= nil end,
    freq_hz = in_range(core.EQ_FREQ_MIN_HZ, core.EQ_FREQ_MAX_HZ),
    gain_db = in_range(-core.EQ_GAIN_MAX_DB, core.EQ_GAIN_MAX_DB),
    q = function(v) return is_number(v) and v > 0 and v <= core.EQ_Q_MAX end,
  },
  add_take = { item = function(v) return math.type(v) == "integer" and v >= 0 end,
               file = non_empty },
  insert_midi_item = { position_s = is_number, file = non_empty },
  move_to_folder = {
    folder = track_name,
    color = function(v) return v == nil or v == "" or (is_string(v) and v:match("^#%x%x%x%x%x%x$")) end,
  },
}

--- Check every edit before touching anything: a bad plan changes nothing.
--- rules.track(e) and rules.extra(i, e) return what is wrong (or nil); rules.fields replaces
--- PLAN_FIELDS. Returns true, or false and "edit <n> (<op>): <what>".
function core.validate_plan(plan, rules)
  if type(plan) ~= "table" or type(plan.edits) ~= "table" then
    return false, "the answer holds no plan"
  end
  local fields_of = rules.fields or core.PLAN_FIELDS
  for i, e in ipairs(plan.edits) do
    local fields = type(e) == "table" and fields_of[e.op]
    if not fields then
      return false, string.format("edit %d: unknown op %s", i,
        tostring(type(e) == "table" and e.op))
    end
    local problem = rules.track(e)
    if problem then return false, string.format("edit %d (%s): %s", i, e.op, problem) end
    for name, ok in pairs(fields) do
      if not ok(e[name]) then
        return false, string.format("edit %d (%s): bad %s", i, e.op, name)
      end
    end
    problem = rules.extra and rules.extra(i, e)
    if problem then return false, string.format("edit %d (%s): %s", i, e.op, problem) end
  end
  return true
end

--- A DAW library's table, filled with what every library exposes the same way.
function core.library(version)
  return {
    core = core, VERSION = version, PROTOCOL = core.PROTOCOL, TITLE = core.TITLE,
    UNDO_PREFIX = core.UNDO_PREFIX, json = json, BAND_TYPES = core.BAND_TYPES,
    read_file = core.read_file, write_file_atomic = core.write_file_atomic,
    read_json = core.read_json,
  }
end

return core
