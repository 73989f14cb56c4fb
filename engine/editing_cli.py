"""The edit subcommands: ``style-transfer``, ``inpaint`` and ``upsample``.

Declared as ``audioldm_bridge.commands`` entry points (see :mod:`engine.commands`). Each command only builds a :class:`~engine.request.RenderRequest` (sharing ``--model --steps
--guidance --seed --candidates ...`` with ``generate``) and runs it through the same
:func:`engine.cli.run_render`. The source region is read and checked before the model is loaded, so a
bad file, region or gap fails at once, not after a model load.
"""

from __future__ import annotations

import argparse

from .cli import add_render_options, common_request_fields, request_from_args, run_render
from .request import RenderRequest

_FORMAT_NOTE = "The clip comes back with the region's exact length, the source's rate, channels and sample format."


def _add_region_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="source audio file: WAV, AIFF or FLAC, 8-192 kHz, mono or stereo")
    p.add_argument("--start", type=float, default=None,
                   help="region start in seconds of the source file (default: its start)")
    p.add_argument("--end", type=float, default=None,
                   help="region end in seconds of the source file (default: its end)")
    p.add_argument("--timeline-position", type=float, default=None, metavar="S",
                   help="where the region sits on the DAW timeline (seconds); written as the BWF "
                        "time reference so the DAW can place the clip back")
    p.add_argument("--variations", type=int, default=1, help="number of output clips (default 1)")


def _request(args: argparse.Namespace, mode: str, **fields) -> RenderRequest:
    return request_from_args(args, dict(
        mode=mode, source_path=args.input, region_start_s=args.start, region_end_s=args.end,
        timeline_position_s=args.timeline_position, variations=args.variations,
        **fields, **common_request_fields(args),
    ))


def _run(request: RenderRequest, args: argparse.Namespace) -> int:
    from .editing import gap_frames
    from .regions import read_region

    # Fail on a bad file, region or gap before the model loads.
    region = read_region(request.source_path, request.region_start_s, request.region_end_s)
    if request.mode == "inpaint":
        gap_frames(region, request.gap_start_s, request.gap_end_s)
    del region
    return run_render(request, args)


def cmd_style_transfer(args: argparse.Namespace) -> int:
    return _run(_request(args, "style_transfer", prompt=args.prompt, strength=args.strength), args)


def cmd_inpaint(args: argparse.Namespace) -> int:
    start, end = args.gap
    return _run(_request(args, "inpaint", prompt=args.prompt, gap_start_s=start, gap_end_s=end), args)


def cmd_upsample(args: argparse.Namespace) -> int:
    return _run(_request(args, "upsample", prompt=args.prompt, cutoff_hz=args.cutoff,
                         sample_rate=args.sample_rate), args)


def register_style_transfer(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser(
        "style-transfer", help="restyle a region with a new prompt (AudioLDM style transfer)",
        description="Encode the region, noise it to --strength of the schedule and denoise it with "
                    "the new prompt. " + _FORMAT_NOTE)
    _add_region_options(st)
    st.add_argument("--prompt", default="", help='the new sound, e.g. "children singing" (or from --preset)')
    st.add_argument("--strength", type=float, default=0.5,
                    help="0 returns the source, 1 is a fresh render guided by the prompt (default 0.5)")
    add_render_options(st)
    st.set_defaults(func=cmd_style_transfer)


def register_inpaint(sub: argparse._SubParsersAction) -> None:
    ip = sub.add_parser(
        "inpaint", help="regenerate a gap inside a region (AudioLDM inpainting)",
        description="Regenerate the gap so it continues the surrounding sound; outside the gap the "
                    "clip is the source, bit for bit (crossfades of at most 20 ms lie inside the gap). "
                    + _FORMAT_NOTE)
    _add_region_options(ip)
    ip.add_argument("--gap", type=float, nargs=2, required=True, metavar=("START", "END"),
                    help="the gap in seconds of the source file, inside the region")
    ip.add_argument("--prompt", default="", help='what the gap should hold, e.g. "room tone" (optional)')
    add_render_options(ip)
    ip.set_defaults(func=cmd_inpaint)


def register_upsample(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser(
        "upsample", help="restore the band above a recording's cutoff (AudioLDM super-resolution)",
        description="Regenerate the band between the cutoff and the model's 8 kHz ceiling; below the "
                    "cutoff (and above 8 kHz) the source is kept. " + _FORMAT_NOTE +
                    " Sources sampled below 16 kHz are regenerated from their Nyquist frequency to 8 kHz"
                    " and come back at 16 kHz, or at --sample-rate.")
    _add_region_options(up)
    up.add_argument("--cutoff", type=float, default=None, metavar="HZ",
                    help="where the source's content ends, 500-7900 Hz and below the file's Nyquist frequency "
                         "(default: detected and reported)")
    up.add_argument("--prompt", default="", help="a description of the sound (optional)")
    up.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                    help="output rate, e.g. the DAW session's 48000 (default: the source's, at least 16000); "
                         "the region's length in seconds is kept exactly")
    add_render_options(up)
    up.set_defaults(func=cmd_upsample)
