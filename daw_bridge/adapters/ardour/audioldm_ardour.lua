-- AudioLDM Bridge for Ardour 7: send the selected regions to the bridge over OSC, and import the
-- finished renders at the original positions on new tracks (the originals are untouched).
--
-- Ardour's Lua can send OSC (ARDOUR.LuaOSC.Address) but not receive it, so requests ask the
-- bridge to answer in its spool folder ("answer spool"), where the import action finds them.
-- Loaded by the "AudioLDM ..." action scripts; the config beside it says where the bridge is.

local M = {}

-- Ardour's action scripts have loadfile but not dofile or debug: the action scripts pass the
-- config file's path (written by `audioldm-bridge daw install ardour`).
local settings = nil

function M.load_config(path)
  local chunk = loadfile(path)
  if chunk then settings = chunk() end
  return M
end

function M.config()
  if type(settings) == "table" then return settings end
  return { port = 9137, spool = (os.getenv("HOME") or ".") .. "/.local/share/audioldm-bridge/spool" }
end

local function pending_file() return M.config().spool .. "/ardour-pending.txt" end

-- One request per selected region: its source file, where the region starts in it, its length,
-- and its position on the timeline (all in seconds at the session rate).
function M.send(mode, opts)
  opts = opts or {}
  local cfg = M.config()
  local osc = ARDOUR.LuaOSC.Address("osc.udp://127.0.0.1:" .. tostring(cfg.port))
  local sr = Session:nominal_sample_rate()
  local sent, n = 0, 0
  local pending = io.open(pending_file(), "a")
  for r in Editor:get_selection().regions:regionlist():iter() do
    n = n + 1
    local path = r:source(0):to_filesource():path()
    local start_s = r:start():samples() / sr
    local end_s = start_s + r:length():samples() / sr
    local pos_s = r:position():samples() / sr
    local id = string.format("ardour-%d-%d", os.time(), n)
    local types, args = "ssdd", { id, path, start_s, end_s }
    local function push(t, v) types = types .. t; args[#args + 1] = v end
    if mode == "style_transfer" then
      push("s", opts.prompt or "a new sound"); push("d", opts.strength or 0.5)
    end
    local function named(key, t, v) push("s", key); push(t, v) end
    named("answer", "s", "spool")
    named("timeline_position_s", "d", pos_s)
    if opts.cutoff then named("cutoff", "d", opts.cutoff) end
    if opts.steps then named("steps", "i", opts.steps) end
    osc:send("/audioldm/" .. mode, types, table.unpack(args))
    if pending then pending:write(id .. "\n") end
    sent = sent + 1
  end
  if pending then pending:close() end
  if sent == 0 then print("AudioLDM: select one or more regions first") end
  return sent
end

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a"); f:close()
  return text
end

-- Import every finished render (answered in the spool folder) as a new track at its position.
function M.import_results()
  local cfg = M.config()
  local ids = {}
  local text = read(pending_file()) or ""
  for id in text:gmatch("[^\n]+") do ids[#ids + 1] = id end
  local left, imported = {}, 0
  local sr = Session:nominal_sample_rate()
  for _, id in ipairs(ids) do
    local answer_path = cfg.spool .. "/outbox/" .. id .. ".json"
    local answer = read(answer_path)
    if not answer then
      left[#left + 1] = id
    else
      local state = answer:match('"state"%s*:%s*"(%a+)"')
      local clip = answer:match('"outputs"%s*:%s*%[%s*"(.-)"')
      local pos = tonumber(answer:match('"position_s"%s*:%s*([-%d%.eE]+)') or "0") or 0
      if state == "done" and clip then
        local files = C.StringVector()
        files:push_back(clip)
        Editor:do_import(files, Editing.ImportDistinctFiles, Editing.ImportAsTrack, ARDOUR.SrcQuality.SrcBest,
                         ARDOUR.MidiTrackNameSource.SMFTrackName, ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore,
                         Temporal.timepos_t(math.floor(pos * sr + 0.5)), ARDOUR.PluginInfo(), ARDOUR.Track(), false)
        imported = imported + 1
      else
        print("AudioLDM: " .. id .. " " .. tostring(state) .. ": " .. tostring(answer:match('"error"%s*:%s*"(.-)"')))
      end
      os.remove(answer_path)
    end
  end
  local f = io.open(pending_file(), "w")
  if f then f:write(table.concat(left, "\n") .. (#left > 0 and "\n" or "")); f:close() end
  if imported > 0 then Session:save_state("", false, false, false, false, false) end
  return imported
end

return M
