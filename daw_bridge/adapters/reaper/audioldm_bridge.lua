-- AudioLDM Bridge for REAPER: the shared part of the actions (no extensions needed).
--
-- Transport: a spool folder. An action writes a request file into <spool>/inbox (renamed into
-- place, never read half-written); `audioldm-bridge serve` renders it; the "Insert finished
-- renders" background script finds the answer in <spool>/outbox and puts the clip back: a new take
-- of the original item (edits) or a new track at the cursor (generate). Stock REAPER Lua has no
-- sockets and the web interface needs setting up; files need nothing.

local M = {}

local function script_dir()
  local src = debug.getinfo(1, "S").source
  return src:match("^@?(.*[/\\])") or ""
end

function M.config()
  local ok, cfg = pcall(dofile, script_dir() .. "audioldm_bridge_config.lua")
  if ok and type(cfg) == "table" and cfg.spool then return cfg end
  local home = os.getenv("HOME") or os.getenv("USERPROFILE") or "."
  return { spool = home .. "/.local/share/audioldm-bridge/spool" }
end

-- ------------------------------------------------------------------ JSON (just what we need)
local function escape(s)
  return (s:gsub('[%c"\\]', function(c)
    local map = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
    return map[c] or string.format("\\u%04x", c:byte())
  end))
end

function M.encode(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.10g", v)
  end
  if t == "string" then return '"' .. escape(v) .. '"' end
  if t == "table" then
    if #v > 0 or next(v) == nil then
      local parts = {}
      for i = 1, #v do parts[#parts + 1] = M.encode(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = '"' .. escape(k) .. '":' .. M.encode(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. t)
end

function M.decode(s)
  local pos = 1
  local function ws() pos = s:find("[^ \t\r\n]", pos) or (#s + 1) end
  local value
  local function str()
    local out, i = {}, pos + 1
    while true do
      local c = s:sub(i, i)
      if c == "" then error("unterminated string") end
      if c == '"' then pos = i + 1; return table.concat(out) end
      if c == "\\" then
        local n = s:sub(i + 1, i + 1)
        local map = { n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f" }
        if n == "u" then out[#out + 1] = utf8.char(tonumber(s:sub(i + 2, i + 5), 16)); i = i + 6
        else out[#out + 1] = map[n] or n; i = i + 2 end
      else out[#out + 1] = c; i = i + 1 end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local obj = {}; pos = pos + 1; ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        ws(); local k = str(); ws(); pos = pos + 1 -- the colon
        obj[k] = value(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "}" then return obj end
      end
    elseif c == "[" then
      local arr = {}; pos = pos + 1; ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        arr[#arr + 1] = value(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "]" then return arr end
      end
    elseif c == '"' then return str()
    elseif s:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif s:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif s:sub(pos, pos + 3) == "null" then pos = pos + 4; return nil
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      pos = pos + #num
      return tonumber(num)
    end
  end
  return value()
end

-- ------------------------------------------------------------------ requests
local counter = 0
function M.new_id()
  counter = counter + 1
  return string.format("reaper-%d-%d-%d", os.time(), math.floor(reaper.time_precise() * 1000) % 1000000, counter)
end

function M.write_request(req)
  local dir = M.config().spool .. "/inbox/"
  local path = dir .. req.id .. ".json"
  local f, err = io.open(path .. ".tmp", "w")
  if not f then
    reaper.ShowMessageBox("Cannot write to the AudioLDM spool folder " .. dir .. " (" .. tostring(err) ..
      "). Is audioldm-bridge installed? Run: audioldm-bridge daw install reaper", "AudioLDM", 0)
    return false
  end
  f:write(M.encode(req)); f:close()
  os.rename(path .. ".tmp", path)
  return true
end

local function guid_of_item(item)
  local _, guid = reaper.GetSetMediaItemInfo_String(item, "GUID", "", false)
  return guid
end

-- What REAPER knows about an item: its source file (the parent for section or reversed sources),
-- where the take starts in it, the play rate, and where the item sits on the timeline.
function M.item_facts(item)
  local take = reaper.GetActiveTake(item)
  if not take or reaper.TakeIsMIDI(take) then return nil, "an item without an audio take" end
  local src = reaper.GetMediaItemTake_Source(take)
  local parent = reaper.GetMediaSourceParent(src)
  if parent then src = parent end
  local file = reaper.GetMediaSourceFileName(src)
  if not file or file == "" then return nil, "an item whose source is not a file" end
  return {
    source = file,
    offset_s = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS"),
    playrate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE"),
    position_s = reaper.GetMediaItemInfo_Value(item, "D_POSITION"),
    length_s = reaper.GetMediaItemInfo_Value(item, "D_LENGTH"),
    item = guid_of_item(item),
    track = reaper.GetTrackGUID(reaper.GetMediaItem_Track(item)),
  }
end

local function ask(title, captions, defaults)
  local ok, csv = reaper.GetUserInputs(title, #captions, table.concat(captions, ","), table.concat(defaults, ","))
  if not ok then return nil end
  local out = {}
  for field in (csv .. ","):gmatch("([^,]*),") do out[#out + 1] = field end
  return out
end

-- One request per selected item; "inpaint" sends the time selection over each item as its gap.
function M.send_selected(mode)
  local count = reaper.CountSelectedMediaItems(0)
  if count == 0 then
    reaper.ShowMessageBox("Select one or more audio items first.", "AudioLDM", 0)
    return 0
  end
  local gap_start, gap_end
  if mode == "inpaint" then
    gap_start, gap_end = reaper.GetSet_LoopTimeRange(false, false, 0, 0, false)
    if not gap_end or gap_end <= gap_start then
      reaper.ShowMessageBox("Make a time selection over the part to fill (the gap) first.", "AudioLDM", 0)
      return 0
    end
  end
  local params = {}
  if mode == "style_transfer" then
    local v = ask("AudioLDM: style transfer", { "Prompt", "Strength (0-1)" }, { "", "0.5" })
    if not v then return 0 end
    params.prompt, params.strength = v[1], tonumber(v[2]) or 0.5
  elseif mode == "inpaint" then
    local v = ask("AudioLDM: inpaint", { "Prompt (optional)" }, { "" })
    if not v then return 0 end
    params.prompt = v[1]
  end
  local sent, skipped = 0, {}
  for i = 0, count - 1 do
    local item = reaper.GetSelectedMediaItem(0, i)
    local facts, why = M.item_facts(item)
    if facts then
      if mode == "inpaint" and (gap_end <= facts.position_s or gap_start >= facts.position_s + facts.length_s) then
        facts, why = nil, "an item the time selection does not cross"
      end
    end
    if facts then
      facts.id, facts.mode = M.new_id(), mode
      for k, v in pairs(params) do facts[k] = v end
      if mode == "inpaint" then
        facts.gap = { math.max(gap_start, facts.position_s), math.min(gap_end, facts.position_s + facts.length_s) }
      end
      if M.write_request(facts) then sent = sent + 1 end
    else
      skipped[#skipped + 1] = why
    end
  end
  if #skipped > 0 then
    reaper.ShowConsoleMsg("AudioLDM: skipped " .. #skipped .. " item(s): " .. table.concat(skipped, "; ") .. "\n")
  end
  return sent
end

function M.generate_at_cursor()
  local v = ask("AudioLDM: generate", { "Prompt", "Duration (s)" }, { "", "4" })
  if not v or v[1] == "" then return 0 end
  local req = { id = M.new_id(), mode = "generate", prompt = v[1], duration_s = tonumber(v[2]) or 4,
                position_s = reaper.GetCursorPosition() }
  return M.write_request(req) and 1 or 0
end

-- ------------------------------------------------------------------ results
local function find_item(guid)
  for i = 0, reaper.CountMediaItems(0) - 1 do
    local item = reaper.GetMediaItem(0, i)
    if guid_of_item(item) == guid then return item end
  end
  return nil
end

function M.insert(result)
  local path = result.outputs and result.outputs[1]
  if result.state ~= "done" or not path then
    reaper.ShowConsoleMsg("AudioLDM: " .. tostring(result.mode) .. " " .. tostring(result.id) .. " " ..
      tostring(result.state) .. ": " .. tostring(result.error) .. "\n")
    return false
  end
  reaper.Undo_BeginBlock()
  if result.mode == "generate" then
    local index = reaper.CountTracks(0)
    reaper.InsertTrackAtIndex(index, true)
    local track = reaper.GetTrack(0, index)
    local item = reaper.AddMediaItemToTrack(track)
    local take = reaper.AddTakeToMediaItem(item)
    local src = reaper.PCM_Source_CreateFromFile(path)
    reaper.SetMediaItemTake_Source(take, src)
    local length = reaper.GetMediaSourceLength(src)
    reaper.SetMediaItemInfo_Value(item, "D_POSITION", result.position_s or 0)
    reaper.SetMediaItemInfo_Value(item, "D_LENGTH", length)
    reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", "AudioLDM", true)
    reaper.UpdateItemInProject(item)
  else
    local item = find_item(result.item)
    if not item then
      reaper.Undo_EndBlock("AudioLDM: insert render", -1)
      reaper.ShowConsoleMsg("AudioLDM: the item of " .. result.id .. " is gone; the render is in " .. path .. "\n")
      return false
    end
    -- A new take of the original item: the user's take stays, one click away.
    local take = reaper.AddTakeToMediaItem(item)
    reaper.SetMediaItemTake_Source(take, reaper.PCM_Source_CreateFromFile(path))
    reaper.SetMediaItemTakeInfo_Value(take, "D_STARTOFFS", 0)
    reaper.SetMediaItemTakeInfo_Value(take, "D_PLAYRATE", result.playrate or 1)
    reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", "AudioLDM " .. tostring(result.mode), true)
    reaper.SetActiveTake(take)
    reaper.UpdateItemInProject(item)
  end
  reaper.Undo_EndBlock("AudioLDM: insert render", -1)
  reaper.UpdateArrange()
  return true
end

function M.poll_once()
  local dir = M.config().spool .. "/outbox/"
  local done, i = 0, 0
  while true do
    local name = reaper.EnumerateFiles(dir, i)
    if not name then break end
    if name:match("%.json$") then
      local f = io.open(dir .. name, "r")
      if f then
        local text = f:read("a"); f:close()
        local ok, result = pcall(M.decode, text)
        if ok and type(result) == "table" then M.insert(result) end
        os.remove(dir .. name)
        done = done + 1
      else
        i = i + 1
      end
    else
      i = i + 1
    end
  end
  return done
end

return M
