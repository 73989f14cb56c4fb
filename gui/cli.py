"""``audioldm-bridge gui``: declared as an ``audioldm_bridge.commands`` entry point with the
``gui`` extra. This module imports no Qt: the command does, when it runs."""

from __future__ import annotations

import argparse


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from . import app
    except ModuleNotFoundError as exc:  # PyQt6 / pyqtgraph / sounddevice missing
        from engine.errors import BridgeError

        raise BridgeError(f"the desktop app needs {exc.name}: pip install \"audioldm-bridge[gui]\"") from None
    return app.run(args)


def register_gui(sub: argparse._SubParsersAction) -> None:
    from engine import commands

    g = sub.add_parser("gui", help="the desktop workstation: prompts, queue, audition, drag into the DAW")
    g.add_argument("file", nargs="?", default=None, help="open this audio file in the region editor")
    g.add_argument("--journal", default=None, help="job journal (default: the user data folder's)")
    g.add_argument("--library", default=None, help="output library, when the app starts its own service")
    g.add_argument("--device", default="auto", help="engine device, when the app starts its own service")
    g.add_argument("--dtype", default="auto")
    g.add_argument("--preload", default="builtin:default", metavar="MODEL",
                   help="model to warm when the app starts its own service (default builtin:default)")
    g.add_argument("--screenshots", default=None, metavar="DIR",
                   help="render one clip, write screenshots of the window (1280x800, 1920x1080) to DIR, exit")
    g.add_argument("--prompt", default=None, help="with --screenshots: the prompt to render")
    hooks = commands.load_serve_hooks()
    for h in hooks:  # the OSC bridge (and MIDI) attach when the app runs its own service
        if h.hook is not None:
            h.hook.add_arguments(g)
    g.set_defaults(func=cmd_gui, serve_hooks=hooks)
