"""``audioldm-bridge serve`` options for the spool folder (DAW scripts without sockets: REAPER)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


class SpoolHook:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("DAW spool folder (REAPER scripts; docs/daw/reaper.md)")
        g.add_argument("--spool", default=None, metavar="DIR",
                       help="the spool folder DAW scripts write requests to (default: spool/ in the user data folder)")
        g.add_argument("--no-spool", action="store_true", help="do not watch a spool folder")

    def attach(self, service: Any, args: argparse.Namespace) -> Any:
        if getattr(args, "no_spool", False):
            return None
        from .spool import SpoolBridge

        bridge = SpoolBridge(service, Path(args.spool).expanduser() if args.spool else None).start()
        print(f"spool: watching {bridge.inbox}", file=sys.stderr)
        return bridge


HOOK = SpoolHook()
