"""``audioldm-bridge midi ports | learn TARGET`` and ``audioldm-bridge audio devices``."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path


def cmd_midi(args: argparse.Namespace) -> int:
    from .midi import ports

    if args.midi_cmd == "ports":
        print(f"back end: {ports.backend()}")
        names = ports.source_names()
        for n in names:
            print(f"source  {n}")
        if not names:
            print("no MIDI sources (a controller, a DAW's MIDI output)")
        return 0
    if args.midi_cmd == "learn":
        from .midi import mapping as M

        path = Path(args.midi_map).expanduser() if args.midi_map else M.default_path()
        M.load(path)  # a broken file is reported before we wait for a key
        done = threading.Event()
        said: list[str] = []

        def on(message) -> None:
            if done.is_set() or message.type not in ("note_on", "control_change"):
                return
            if message.type == "note_on" and message.velocity == 0:
                return
            try:
                said.append(M.assign(path, args.target, message))
            except Exception as exc:
                said.append(f"error: {exc}")
            done.set()

        port = ports.MidiInput(on, source=args.midi_in, virtual=args.midi_in is None).start()
        print(f"learn {args.target}: play a key or turn a knob on {port.name} ...", file=sys.stderr)
        try:
            if not done.wait(args.timeout):
                print(f"error: nothing received within {args.timeout:g} s", file=sys.stderr)
                return 1
        finally:
            port.close()
        print(said[0])
        return 1 if said[0].startswith("error:") else 0
    return 2


def cmd_audio(args: argparse.Namespace) -> int:
    from .audition import output_devices

    devices = output_devices()
    for d in devices:
        print(f"{d.index:>3}  {d.name}  ({d.default_rate} Hz)")
    if not devices:
        print("no audio output devices (on Linux without a sound card, start jackd; see docs/MIDI.md)")
    return 0


def register_midi(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("midi", help="MIDI ports and learn (play prompts from a keyboard: serve --midi-virtual)")
    msub = p.add_subparsers(dest="midi_cmd", required=True)
    msub.add_parser("ports", help="MIDI sources you can connect (serve --midi-in NAME)")
    learn = msub.add_parser("learn", help="assign the next key or knob to TARGET in the mapping file")
    learn.add_argument("target", help='a knob target (guidance, guidance_low, strength, steps, duration, seed), '
                                      'or "preset:NAME" / "prompt:TEXT" for a key')
    learn.add_argument("--midi-in", default=None, metavar="NAME", help="listen to this source (default: the virtual port)")
    learn.add_argument("--midi-map", default=None, metavar="FILE")
    learn.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=cmd_midi)


def register_audio(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio", help="audio output devices for audition")
    asub = p.add_subparsers(dest="audio_cmd", required=True)
    asub.add_parser("devices", help="list output devices (serve --audio-device)")
    p.set_defaults(func=cmd_audio)
