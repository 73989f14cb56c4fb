"""The OSC control surface (docs/OSC.md): ``addresses`` (the address space, pure), ``server``
(sockets and threads, python-osc for the wire format)."""
