ardour { ["type"] = "EditorAction", name = "AudioLDM: Import finished renders",
         description = "AudioLDM Bridge (audioldm-bridge serve must run): docs/daw/ardour.md" }
function factory () return function ()
  -- Paths written by audioldm-bridge daw install ardour (action scripts have loadfile, not dofile).
  local AudioLDM = loadfile("@AUDIOLDM_LIB@")().load_config("@AUDIOLDM_CONFIG@")
  AudioLDM.import_results()
end end
