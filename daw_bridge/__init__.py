"""The DAW bridge: the doors by which a DAW, a controller or a script asks the render service for
renders. No Qt here, and nothing here is imported by ``engine`` (tests/test_commands.py).

* ``daw_bridge.osc``: the OSC control surface (docs/OSC.md), attached to ``audioldm-bridge serve``
  by the serve hook in ``daw_bridge.osc_hook``.
* ``daw_bridge.paths``: which source files a remote request may read.
"""
