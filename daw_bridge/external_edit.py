"""External-editor mode: ``audioldm-bridge edit FILE`` for DAWs that open a region in an external
editor (REAPER, Logic, Pro Tools, Cubase, Studio One) and expect the edited file back in place.

The edit renders the whole file (or ``--start/--end``) with the chosen mode, then replaces FILE
atomically in its own format (rate, channels, sample format, container). Every version it replaces
is kept, byte for byte, in the user data folder (``edit-history/``); ``edit FILE --undo`` puts the
previous one back. The rendered clip also stays in the output library with its provenance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from engine import paths
from engine.errors import BridgeError


def history_dir(file: Path) -> Path:
    key = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:16]
    return paths.data_dir() / "edit-history" / key


def _versions(folder: Path) -> list[Path]:
    return sorted(folder.glob("v[0-9]*"))


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=str(dst.parent))
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def keep_version(file: Path) -> Path:
    """Copy the current FILE into its history; returns the copy."""
    folder = history_dir(file)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "file.json").write_text(json.dumps({"path": str(file.resolve())}))
    n = len(_versions(folder)) + 1
    kept = folder / f"v{n:04d}-{time.strftime('%Y%m%d-%H%M%S')}{file.suffix}"
    _atomic_copy(file, kept)
    return kept


def undo(file: Path) -> Path:
    """Put the version before the last edit back (bit for bit); returns the version used."""
    versions = _versions(history_dir(file))
    if not versions:
        raise BridgeError(f"nothing to undo for {file}: audioldm-bridge edit has not replaced it")
    last = versions[-1]
    _atomic_copy(last, file)
    last.unlink()
    return last


def write_in_place(result: Path, file: Path) -> None:
    """Replace FILE by the rendered result, in FILE's own container and sample format."""
    import soundfile as sf

    src, out = sf.info(str(file)), sf.info(str(result))
    if (src.samplerate, src.channels, src.frames) != (out.samplerate, out.channels, out.frames):
        raise BridgeError(f"internal error: the edit of {file.name} came back as {out.samplerate} Hz, "
                          f"{out.channels} ch, {out.frames} frames (the file has {src.samplerate}, "
                          f"{src.channels}, {src.frames}); the file was left as it was")
    if (src.format, src.subtype) == (out.format, out.subtype):
        _atomic_copy(result, file)
        return
    audio, _ = sf.read(str(result), dtype="float64", always_2d=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".part", dir=str(file.parent))
    os.close(fd)
    try:
        sf.write(tmp, audio, src.samplerate, subtype=src.subtype, format=src.format)
        os.replace(tmp, file)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cmd_edit(args: argparse.Namespace) -> int:
    from engine import cli as _cli
    from engine.request import RenderRequest

    file = Path(args.file).expanduser()
    if args.undo:
        used = undo(file)
        print(f"{file}: restored the version kept at {used.name}")
        return 0
    if not file.is_file():
        raise BridgeError(f"{file} does not exist")
    mode = {"style": "style_transfer", "inpaint": "inpaint", "upsample": "upsample"}[args.mode]
    fields = dict(mode=mode, source_path=str(file), region_start_s=args.start, region_end_s=args.end,
                  prompt=args.prompt, **_cli.common_request_fields(args))
    if mode == "style_transfer":
        if not args.prompt.strip():
            raise BridgeError('style transfer needs --prompt "the new sound"')
        fields["strength"] = args.strength
    elif mode == "inpaint":
        if args.gap is None:
            raise BridgeError("inpaint needs --gap START END (seconds of the file)")
        fields.update(gap_start_s=args.gap[0], gap_end_s=args.gap[1])
    elif args.cutoff is not None:
        fields["cutoff_hz"] = args.cutoff
    if args.start is not None or args.end is not None:
        raise BridgeError("the DAW expects the whole file back: edit the part it sent (no --start/--end)")
    request = RenderRequest(**fields)
    from engine.regions import read_region

    read_region(request.source_path)  # a bad file fails before the model loads
    args.output = None
    from engine.loader import ModelCache
    from engine.pipeline import render
    from engine.quiet import quiet_libraries

    quiet_libraries(loaded=True)
    models = ModelCache(device=args.device, dtype=args.dtype)
    print(f"editing {file} ({args.mode}) ...", file=sys.stderr)
    result = render(request, models)
    clip = result.clips[0].path
    keep_version(file)
    write_in_place(clip, file)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"{file}: edited in place (previous version kept: undo with audioldm-bridge edit "
          f"\"{file}\" --undo); the render is also in {clip}")
    return 0


def register_edit(sub: argparse._SubParsersAction) -> None:
    from engine import cli as _cli

    e = sub.add_parser("edit", help="external-editor mode: edit FILE in place for the DAW (undo with --undo)",
                       description="For a DAW's 'open in external editor': renders the edit over the whole "
                                   "file and writes it back in place, in the file's own format; every "
                                   "replaced version is kept (--undo restores the last one).")
    e.add_argument("file")
    e.add_argument("--mode", choices=("style", "inpaint", "upsample"), default="upsample")
    e.add_argument("--prompt", default="")
    e.add_argument("--strength", type=float, default=0.5)
    e.add_argument("--gap", type=float, nargs=2, metavar=("START", "END"), default=None)
    e.add_argument("--cutoff", type=float, default=None, metavar="HZ")
    e.add_argument("--start", type=float, default=None, help=argparse.SUPPRESS)
    e.add_argument("--end", type=float, default=None, help=argparse.SUPPRESS)
    e.add_argument("--undo", action="store_true", help="put back the version before the last edit")
    _cli.add_render_options(e)
    e.set_defaults(func=cmd_edit)
