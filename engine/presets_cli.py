"""``audioldm-bridge presets list | show NAME | save NAME --from CLIP | check [FILE]...``.

The ``--preset NAME`` option of every render command lives with the render options
(:func:`engine.cli.request_from_args`): explicit options override the preset's values.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import BridgeError


def cmd_presets(args: argparse.Namespace) -> int:
    from . import presets

    action = args.presets_cmd
    if action == "check" and args.files:
        bad = 0
        for f in args.files:
            try:
                p = presets.parse(Path(f))
                print(f"ok: {f} ({p.name}, {p.mode})")
            except presets.PresetError as exc:
                print(f"error: {exc}", file=sys.stderr)
                bad += 1
        return 1 if bad else 0
    lib = presets.load()
    if action == "list":
        for problem in lib.problems:
            print(f"warning: {problem}", file=sys.stderr)
        rows = sorted(lib.presets.values(), key=lambda p: (p.category, p.name))
        if args.category:
            rows = [p for p in rows if p.category == args.category]
        width = max((len(p.name) for p in rows), default=4)
        for p in rows:
            note = f"  [{p.source}]" if p.user else ""
            midi = f"  note {p.midi_note}" if p.midi_note is not None else ""
            print(f"{p.name:<{width}}  {p.category:<11}  {p.mode:<14}  {p.description}{midi}{note}")
        return 0
    if action == "show":
        p = lib.get(args.name)
        print(f"# {p.path} ({p.source})")
        print(p.path.read_text(encoding="utf-8"), end="")
        return 0
    if action == "save":
        target = presets.save_from_clip(args.name, args.clip, category=args.category, description=args.description)
        print(f"saved preset {args.name} -> {target}")
        if args.name in lib.presets and not lib.presets[args.name].user:
            print(f"note: it overrides the shipped preset {args.name}; remove {target} to get it back",
                  file=sys.stderr)
        return 0
    if action == "check":
        for problem in lib.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(lib.presets)} presets usable, {len(lib.problems)} with problems")
        return 1 if lib.problems else 0
    raise BridgeError("use: audioldm-bridge presets list | show NAME | save NAME --from CLIP | check [FILE]...")


def register_presets(sub: argparse._SubParsersAction) -> None:
    from .presets import CATEGORIES

    p = sub.add_parser("presets", help="curated and saved starting points (prompt, settings, FX chain)")
    psub = p.add_subparsers(dest="presets_cmd", required=True)
    ls = psub.add_parser("list", help="one preset a line, its name first")
    ls.add_argument("--category", choices=CATEGORIES)
    show = psub.add_parser("show", help="a preset's TOML")
    show.add_argument("name")
    save = psub.add_parser("save", help="a user preset from a clip you liked (its provenance)")
    save.add_argument("name")
    save.add_argument("--from", dest="clip", required=True, metavar="CLIP.wav")
    save.add_argument("--category", choices=CATEGORIES, default=None)
    save.add_argument("--description", default=None)
    check = psub.add_parser("check", help="validate presets (all, or the files given)")
    check.add_argument("files", nargs="*")
    p.set_defaults(func=cmd_presets)
