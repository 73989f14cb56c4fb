"""``audioldm-bridge serve`` options for MIDI audition, and its attachment to the running service.

The ``midi`` entry point of ``audioldm_bridge.serve_hooks``. MIDI is on when ``--midi-virtual`` or
``--midi-in NAME`` is given; python-rtmidi and sounddevice (the ``bridge`` extra) are imported then.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any


class _Attached:
    def __init__(self, port: Any, controller: Any) -> None:
        self.port, self.controller = port, controller

    def close(self) -> None:
        from . import rooms

        self.port.close()
        self.controller.close()
        if rooms.midi() is self.controller:
            rooms.set_midi(None)

    def __repr__(self) -> str:
        return repr(self.port)


class MidiHook:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("MIDI audition (docs/MIDI.md)")
        g.add_argument("--midi-virtual", action="store_true",
                       help='open the virtual MIDI input "AudioLDM Bridge" (Linux JACK/ALSA, macOS)')
        g.add_argument("--midi-in", default=None, metavar="NAME",
                       help="connect to this MIDI source port (part of its name; audioldm-bridge midi ports)")
        g.add_argument("--midi-map", default=None, metavar="FILE",
                       help="mapping file (default: midi.toml in the user config folder)")
        g.add_argument("--audio-device", default=None, metavar="DEVICE",
                       help="output device for audition (index or part of the name; audioldm-bridge audio devices)")
        g.add_argument("--no-audition", action="store_true", help="render notes without playing them")

    def attach(self, service: Any, args: argparse.Namespace) -> Any:
        if not (args.midi_virtual or args.midi_in):
            return None
        from . import rooms
        from .audition import AudioUnavailable, Player, find_device
        from .midi import mapping as M
        from .midi.controller import MidiController
        from .midi.ports import MidiInput

        logging.getLogger("daw_bridge.midi").setLevel(logging.INFO)
        path = Path(args.midi_map).expanduser() if args.midi_map else None
        mapping = M.load(path)
        player = None
        if not args.no_audition:
            try:
                player = Player(device=find_device(args.audio_device))
            except AudioUnavailable as exc:
                print(f"warning: audition is off: {exc}", file=sys.stderr)
        controller = MidiController(service, mapping, player=player, audition=player is not None)
        port = MidiInput(controller.handle, source=args.midi_in, virtual=args.midi_virtual).start()
        rooms.set_midi(controller)
        print(f"MIDI: listening on {port.name}" + (f" <- {args.midi_in}" if args.midi_in else "") +
              f"; {len(mapping.notes)} notes, {len(mapping.ccs)} knobs mapped ({mapping.path})", file=sys.stderr)
        return _Attached(port, controller)


HOOK = MidiHook()
