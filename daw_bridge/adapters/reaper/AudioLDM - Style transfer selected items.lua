-- @description AudioLDM: Style transfer selected items
-- Writes a render request for AudioLDM Bridge (audioldm-bridge serve); the clip comes back through
-- "AudioLDM - Insert finished renders" (run it once: it keeps running in the background).
local dir = debug.getinfo(1, "S").source:match("^@?(.*[/\\])") or ""
local AudioLDM = dofile(dir .. "audioldm_bridge.lua")
AudioLDM.send_selected("style_transfer")
