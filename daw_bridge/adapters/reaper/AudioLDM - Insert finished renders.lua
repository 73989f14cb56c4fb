-- @description AudioLDM: Insert finished renders (background)
-- Polls the spool folder twice a second and puts each finished render back: a new take of its
-- item for edits, a new track at the cursor position for generate. Run it once per session
-- (or add it to a startup action); stop it from the Actions list (it asks to terminate).
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or ""
local AudioLDM = dofile(dir .. "audioldm_bridge.lua")
local last = 0
local function loop()
  local now = reaper.time_precise()
  if now - last >= 0.5 then
    last = now
    AudioLDM.poll_once()
  end
  reaper.defer(loop)
end
loop()
