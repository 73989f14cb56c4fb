ardour { ["type"] = "EditorAction", name = "AudioLDM: Upsample selected regions",
         description = "AudioLDM Bridge (audioldm-bridge serve must run): docs/daw/ardour.md" }
function factory () return function ()
  -- Paths written by audioldm-bridge daw install ardour (action scripts have loadfile, not dofile).
  local AudioLDM = loadfile("@AUDIOLDM_LIB@")().load_config("@AUDIOLDM_CONFIG@")
  AudioLDM.send("upsample")
end end
