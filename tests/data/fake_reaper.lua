-- A stand-in for REAPER's `reaper` table, for running our ReaScripts under plain Lua 5.4.
-- It implements only functions REAPER has (same names, same argument order, same returns), and
-- fails loudly on any other name, so a misspelt or invented API call fails the test.
-- state = { items = {...}, cursor = 0, loop = {0, 0}, inputs = {ok, csv}, files = {[dir] = {...}} }
return function(state)
  local calls = {}
  local function record(name, ...) calls[#calls + 1] = { name = name, args = { ... } } end
  local tracks = state.tracks or {}
  local r = {}
  local function item_guid(item) return item.guid end
  function r.CountSelectedMediaItems(proj) local n = 0; for _, it in ipairs(state.items) do if it.selected then n = n + 1 end end; return n end
  function r.GetSelectedMediaItem(proj, i)
    local n = -1
    for _, it in ipairs(state.items) do if it.selected then n = n + 1; if n == i then return it end end end
    return nil
  end
  function r.CountMediaItems(proj) return #state.items end
  function r.GetMediaItem(proj, i) return state.items[i + 1] end
  function r.GetActiveTake(item) return item.takes[item.active or 1] end
  function r.TakeIsMIDI(take) return take.midi == true end
  function r.GetMediaItemTake_Source(take) return take.source end
  function r.GetMediaSourceParent(src) return src.parent end
  function r.GetMediaSourceFileName(src) return src.file end
  function r.GetMediaSourceLength(src) return src.length or 1.0, false end
  function r.GetMediaItemTakeInfo_Value(take, key) return take[key] end
  function r.GetMediaItemInfo_Value(item, key) return item[key] end
  function r.SetMediaItemInfo_Value(item, key, v) record("SetMediaItemInfo_Value", key, v); item[key] = v; return true end
  function r.SetMediaItemTakeInfo_Value(take, key, v) record("SetMediaItemTakeInfo_Value", key, v); take[key] = v; return true end
  function r.GetSetMediaItemInfo_String(item, key, value, set)
    if key ~= "GUID" then error("fake: unsupported item string " .. key) end
    return true, item_guid(item)
  end
  function r.GetSetMediaItemTakeInfo_String(take, key, value, set) if set then take[key] = value end; return true, take[key] or "" end
  function r.GetMediaItem_Track(item) return item.track end
  function r.GetTrackGUID(track) return track.guid end
  function r.GetSet_LoopTimeRange(isSet, isLoop, s, e, seek) return state.loop[1], state.loop[2] end
  function r.GetUserInputs(title, n, captions, defaults) record("GetUserInputs", title); return state.inputs[1], state.inputs[2] end
  function r.ShowMessageBox(msg, title, kind) record("ShowMessageBox", msg); return 1 end
  function r.ShowConsoleMsg(msg) record("ShowConsoleMsg", msg) end
  function r.GetCursorPosition() return state.cursor end
  function r.time_precise() return os.clock() end
  function r.defer(fn) record("defer") end
  function r.EnumerateFiles(path, i)
    local p = io.popen('ls -1 "' .. path .. '" 2>/dev/null')
    local names = {}
    for line in p:lines() do names[#names + 1] = line end
    p:close()
    return names[i + 1]
  end
  function r.AddTakeToMediaItem(item) local take = { new = true }; item.takes[#item.takes + 1] = take; record("AddTakeToMediaItem", item.guid); return take end
  function r.PCM_Source_CreateFromFile(path) record("PCM_Source_CreateFromFile", path); return { file = path, length = 1.5 } end
  function r.SetMediaItemTake_Source(take, src) take.source = src; return true end
  function r.SetActiveTake(take) record("SetActiveTake"); take.active = true end
  function r.UpdateItemInProject(item) end
  function r.UpdateArrange() end
  function r.CountTracks(proj) return #tracks end
  function r.InsertTrackAtIndex(i, defaults) record("InsertTrackAtIndex", i); table.insert(tracks, i + 1, { guid = "{NEW-TRACK}" }) end
  function r.GetTrack(proj, i) return tracks[i + 1] end
  function r.AddMediaItemToTrack(track) local item = { takes = {}, track = track, guid = "{NEW-ITEM}" }; state.items[#state.items + 1] = item; record("AddMediaItemToTrack", track.guid); return item end
  function r.Undo_BeginBlock() record("Undo_BeginBlock") end
  function r.Undo_EndBlock(desc, flags) record("Undo_EndBlock", desc) end
  setmetatable(r, { __index = function(_, name) error("REAPER has no function reaper." .. tostring(name), 2) end })
  return r, calls
end
