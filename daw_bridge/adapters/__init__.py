"""DAW-side scripts shipped in the package (installed by ``audioldm-bridge daw install NAME``)."""
