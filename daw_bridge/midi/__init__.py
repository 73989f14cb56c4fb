"""MIDI audition (docs/MIDI.md): ``mapping`` (the TOML mapping, pure), ``controller`` (notes,
knobs, banks, clock, learn, audition), ``ports`` (the "AudioLDM Bridge" port, kept connected)."""
