"""``audioldm-bridge daw install NAME``: copy a DAW's scripts where the DAW looks, never overwriting
a user's file without a backup, and print the steps left to do by hand."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from engine.errors import BridgeError

ADAPTERS = Path(__file__).resolve().parent / "adapters"


def reaper_scripts_dir() -> Path:
    """REAPER's resource path + Scripts/AudioLDM (per platform; REAPER_RESOURCE_PATH overrides)."""
    override = os.environ.get("REAPER_RESOURCE_PATH")
    if override:
        base = Path(override).expanduser()
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "REAPER"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home())) / "REAPER"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "REAPER"
    return base / "Scripts" / "AudioLDM"


def copy_with_backup(src: Path, dst: Path) -> str:
    dst.parent.mkdir(parents=True, exist_ok=True)
    note = ""
    if dst.exists():
        if dst.read_bytes() == src.read_bytes():
            return "unchanged"
        backup = dst.with_name(f"{dst.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(dst, backup)
        note = f" (your previous file kept as {backup.name})"
    shutil.copy2(src, dst)
    return "installed" + note


def install_reaper(target: Path | None = None) -> list[str]:
    from .spool import default_folder

    target = target or reaper_scripts_dir()
    lines = []
    for src in sorted((ADAPTERS / "reaper").glob("*.lua")):
        lines.append(f"{copy_with_backup(src, target / src.name)}: {target / src.name}")
    config = target / "audioldm_bridge_config.lua"
    spool = default_folder()
    text = f"-- written by audioldm-bridge daw install reaper\nreturn {{ spool = {str(spool)!r} }}\n".replace("'", '"')
    tmp = config.with_name(config.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, config)
    lines.append(f"configured: {config} (spool folder {spool})")
    return lines


def cmd_daw(args: argparse.Namespace) -> int:
    if args.daw_cmd != "install":
        return 2
    if args.name == "reaper":
        for line in install_reaper(Path(args.to).expanduser() if args.to else None):
            print(line)
        print("\nSteps left in REAPER (docs/daw/reaper.md):\n"
              "  1. Start the bridge: audioldm-bridge serve   (it watches the spool folder)\n"
              "  2. Actions > Show action list > New action > Load ReaScript: load every\n"
              "     'AudioLDM - *.lua' from the folder above (bind keys if you like).\n"
              "  3. Run 'AudioLDM - Insert finished renders' once per session (it stays in the background).\n"
              "  4. Select items (and a time selection for inpaint) and run an AudioLDM action.")
        return 0
    raise BridgeError(f"no installer for {args.name!r} yet; available: reaper (docs/daw/)")


def register_daw(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("daw", help="install the DAW-side scripts (REAPER ...)")
    dsub = p.add_subparsers(dest="daw_cmd", required=True)
    inst = dsub.add_parser("install", help="copy a DAW's scripts where it looks and print the steps left")
    inst.add_argument("name", choices=("reaper",))
    inst.add_argument("--to", default=None, metavar="DIR", help="install here instead of the DAW's folder")
    p.set_defaults(func=cmd_daw)
