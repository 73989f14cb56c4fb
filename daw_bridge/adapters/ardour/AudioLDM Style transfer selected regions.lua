ardour { ["type"] = "EditorAction", name = "AudioLDM: Style transfer selected regions",
         description = "AudioLDM Bridge (audioldm-bridge serve must run): docs/daw/ardour.md" }
function action_params ()
  return {
    ["prompt"] = { title = "Prompt (the new sound)", default = "a warm soft pad chord" },
    ["strength"] = { title = "Strength (0-1)", default = "0.5" },
  }
end
function factory (params) return function ()
  local p = params or {}
  -- Paths written by audioldm-bridge daw install ardour (action scripts have loadfile, not dofile).
  local AudioLDM = loadfile("@AUDIOLDM_LIB@")().load_config("@AUDIOLDM_CONFIG@")
  AudioLDM.send("style_transfer", { prompt = p["prompt"], strength = tonumber(p["strength"]) or 0.5 })
end end
