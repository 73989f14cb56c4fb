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


def ardour_scripts_dir() -> Path:
    """Ardour 7's user scripts folder (``ARDOUR_CONFIG_PATH`` or the XDG config folder)."""
    override = os.environ.get("ARDOUR_CONFIG_PATH")
    if override:
        return Path(override).expanduser() / "scripts"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Preferences" / "Ardour7" / "scripts"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "Ardour7" / "scripts"
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "ardour7" / "scripts"


def install_ardour(target: Path | None = None, osc_port: int = 9137) -> list[str]:
    from .spool import default_folder

    target = target or ardour_scripts_dir()
    target.mkdir(parents=True, exist_ok=True)
    (default_folder() / "outbox").mkdir(parents=True, exist_ok=True, mode=0o700)  # Ardour's Lua cannot mkdir
    lib = target / "audioldm_ardour.lua"
    config = target / "audioldm_ardour_config.lua"
    lines = [f"{copy_with_backup(ADAPTERS / 'ardour' / 'audioldm_ardour.lua', lib)}: {lib}"]
    for src in sorted((ADAPTERS / "ardour").glob("AudioLDM *.lua")):
        text = (src.read_text().replace("@AUDIOLDM_LIB@", str(lib).replace("\\", "/"))
                .replace("@AUDIOLDM_CONFIG@", str(config).replace("\\", "/")))
        staged = target / f".{src.name}.staged"
        staged.write_text(text)
        lines.append(f"{copy_with_backup(staged, target / src.name)}: {target / src.name}")
        staged.unlink()
    config.write_text(f'-- written by audioldm-bridge daw install ardour\nreturn {{ port = {int(osc_port)}, '
                      f'spool = "{str(default_folder()).replace(chr(92), "/")}" }}\n')
    lines.append(f"configured: {config}")
    return lines


def live_scripts_dir() -> Path:
    """Live's User Library / Remote Scripts (``ABLETON_USER_LIBRARY`` overrides the library)."""
    override = os.environ.get("ABLETON_USER_LIBRARY")
    if override:
        library = Path(override).expanduser()
    elif sys.platform == "win32":
        library = Path.home() / "Documents" / "Ableton" / "User Library"
    else:
        library = Path.home() / "Music" / "Ableton" / "User Library"
    return library / "Remote Scripts" / "AudioLDMBridge"


def install_live(target: Path | None = None) -> list[str]:
    target = target or live_scripts_dir()
    return [f"{copy_with_backup(src, target / src.name)}: {target / src.name}"
            for src in sorted((ADAPTERS / "live" / "AudioLDMBridge").glob("*.py"))]


def live_run(mode: str, prompt: str, strength: float, port: int = 11010) -> None:
    """Ask the remote script in Live to edit its selected clip."""
    import socket

    from .adapters.live.AudioLDMBridge import osc

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(osc.encode("/audioldm/live/run", mode, prompt, float(strength)), ("127.0.0.1", port))


def bitwig_insert(path: str, track: int | None = None, slot: int | None = None, host: str = "127.0.0.1",
                  port: int = 8000) -> str:
    """Put a file into Bitwig through DrivenByMoss's OSC (24.7+): the selected clip slot, or slot
    ``slot`` of track ``track`` (1-based, within the current 8-track / 8-scene bank)."""
    from pythonosc.udp_client import SimpleUDPClient

    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise BridgeError(f"{file} does not exist")
    if (track is None) != (slot is None):
        raise BridgeError("give both --track and --slot (1-8 in the current bank), or neither (the selected slot)")
    for name, v in (("track", track), ("slot", slot)):
        if v is not None and not 1 <= v <= 8:
            raise BridgeError(f"--{name} is 1-8 (DrivenByMoss addresses the current bank of 8), got {v}")
    address = "/clip/insertFile" if track is None else f"/track/{track}/clip/{slot}/insertFile"
    SimpleUDPClient(host, port).send_message(address, str(file))
    return address


#: What a user still does by hand in each DAW after ``daw install NAME``.
STEPS_LEFT = {
    "ardour": "\nSteps left in Ardour (docs/daw/ardour.md):\n"
              "  1. Start the bridge: audioldm-bridge serve\n"
              "  2. Edit > Lua Scripts > Script Manager > Action Scripts: add 'AudioLDM: Upsample selected\n"
              "     regions' and 'AudioLDM: Import finished renders' (bind keys if you like).\n"
              "  3. Select regions, run the first; when the bridge says done, run the second.",
    "live": "\nSteps left in Live (docs/daw/live.md):\n"
            "  1. Start the bridge: audioldm-bridge serve\n"
            "  2. Live > Settings > Link, Tempo & MIDI: choose 'AudioLDMBridge' as a Control Surface.\n"
            "  3. Select an unwarped audio clip, then: audioldm-bridge daw live style_transfer --prompt \"...\"",
    "reaper": "\nSteps left in REAPER (docs/daw/reaper.md):\n"
              "  1. Start the bridge: audioldm-bridge serve   (it watches the spool folder)\n"
              "  2. Actions > Show action list > New action > Load ReaScript: load every\n"
              "     'AudioLDM - *.lua' from the folder above (bind keys if you like).\n"
              "  3. Run 'AudioLDM - Insert finished renders' once per session (it stays in the background).\n"
              "  4. Select items (and a time selection for inpaint) and run an AudioLDM action.",
}


def cmd_daw(args: argparse.Namespace) -> int:
    if args.daw_cmd == "bitwig":
        address = bitwig_insert(args.file, args.track, args.slot, port=args.port)
        print(f"sent {address} {Path(args.file).resolve()} to DrivenByMoss on port {args.port}")
        return 0
    if args.daw_cmd == "live":
        live_run(args.mode, args.prompt, args.strength)
        print(f"asked Live to {args.mode} its selected clip (the result appears in Live; see docs/daw/live.md)")
        return 0
    if args.daw_cmd != "install":
        return 2
    installers = {"ardour": install_ardour, "live": install_live, "reaper": install_reaper}
    if args.name in installers:
        for line in installers[args.name](Path(args.to).expanduser() if args.to else None):
            print(line)
        print(STEPS_LEFT[args.name])
        return 0
    raise BridgeError(f"no installer for {args.name!r} yet; available: reaper, live, ardour (docs/daw/)")


def register_daw(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("daw", help="install the DAW-side scripts (REAPER ...)")
    dsub = p.add_subparsers(dest="daw_cmd", required=True)
    inst = dsub.add_parser("install", help="copy a DAW's scripts where it looks and print the steps left")
    inst.add_argument("name", choices=("reaper", "live", "ardour"))
    inst.add_argument("--to", default=None, metavar="DIR", help="install here instead of the DAW's folder")
    bw = dsub.add_parser("bitwig", help="put a clip into Bitwig's clip launcher (DrivenByMoss OSC)")
    bw.add_argument("file")
    bw.add_argument("--track", type=int, default=None, help="1-8 in the current bank (default: the selected slot)")
    bw.add_argument("--slot", type=int, default=None)
    bw.add_argument("--port", type=int, default=8000, help="DrivenByMoss's OSC receive port (default 8000)")
    live = dsub.add_parser("live", help="edit the clip selected in Ableton Live (the remote script must run)")
    live.add_argument("mode", choices=("style_transfer", "upsample"))
    live.add_argument("--prompt", default="")
    live.add_argument("--strength", type=float, default=0.5)
    p.set_defaults(func=cmd_daw)
