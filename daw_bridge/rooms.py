"""What the bridge's rooms attached to this service can reach of each other, without importing
each other at start: the OSC surface asks here for the MIDI controller (learn, audition events)."""

from __future__ import annotations

from typing import Any

_midi: Any = None
#: Called with (client job id, state) when a MIDI audition starts, previews, plays its final clip or stops.
audition_listeners: list = []


def set_midi(controller: Any) -> None:
    global _midi
    _midi = controller


def midi() -> Any:
    return _midi
