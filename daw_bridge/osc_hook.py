"""``audioldm-bridge serve`` options for the OSC bridge, and its attachment to the running service.

Declared as the ``osc`` entry point of ``audioldm_bridge.serve_hooks`` (engine/commands.py). This
module imports only the standard library at import time; python-osc (the ``bridge`` extra) is
imported when the bridge starts, so ``serve`` runs without it and says how to get OSC.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

DEFAULT_PORT = 9137  # daw_bridge.osc.server.DEFAULT_PORT, without importing python-osc here


class OscHook:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("OSC control surface (docs/OSC.md)")
        g.add_argument("--osc-port", type=int, default=DEFAULT_PORT,
                       help=f"UDP port for OSC requests (default {DEFAULT_PORT}; 0: any free port)")
        g.add_argument("--no-osc", action="store_true", help="do not listen for OSC")
        g.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; any other needs --allow-sender)")
        g.add_argument("--allow-sender", action="append", default=[], metavar="ADDR",
                       help="a computer allowed to send OSC when --host is not loopback (repeatable)")
        g.add_argument("--reply-port", type=int, default=None,
                       help="send replies to this port on the sender's host (default: the sender's port)")
        g.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                       help="a folder OSC requests may read source audio from (repeatable; default: "
                            "your music folder and the output library)")
        g.add_argument("--verbose", action="store_true", help="log every OSC packet (first 256 bytes)")

    def attach(self, service: Any, args: argparse.Namespace) -> Any:
        if args.no_osc:
            return None
        try:
            from .osc.server import OscBridge, OscConfig
        except ModuleNotFoundError as exc:
            print(f"warning: OSC is off: it needs {exc.name} (pip install \"audioldm-bridge[bridge]\")",
                  file=sys.stderr)
            return None
        from .paths import resolve_dirs

        logging.getLogger("daw_bridge.osc").setLevel(logging.DEBUG if args.verbose else logging.INFO)
        config = OscConfig(port=args.osc_port, host=args.host, allow_senders=tuple(args.allow_sender),
                           reply_port=args.reply_port,
                           allow_dirs=resolve_dirs(args.allow_dir) if args.allow_dir else None,
                           verbose=args.verbose)
        bridge = OscBridge(service, config).start()
        print(f"OSC: listening on {config.host}:{bridge.port} (docs/OSC.md)", file=sys.stderr)
        return bridge


HOOK = OscHook()
