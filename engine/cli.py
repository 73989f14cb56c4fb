"""``audioldm-bridge``: the command line. It only builds a :class:`RenderRequest` and calls
:func:`engine.pipeline.render`; every user error is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__, commands
from .errors import BridgeError
from .catalog import cached_hub_models
from .quiet import quiet_libraries
from .request import SAMPLE_FORMATS, SCHEDULERS, RenderRequest, random_seed

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130


# --------------------------------------------------------------------------- options

def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="model folder, hub id (e.g. cvssp/audioldm-s-full-v2) or builtin:NAME "
                        "(default: builtin:default)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    p.add_argument("--dtype", default="auto", help="auto (float16 on CUDA, else float32), float32, float16")


def add_output_format_options(p: argparse.ArgumentParser) -> None:
    """Output format of a generated clip (edits keep their source's format)."""
    p.add_argument("--sample-rate", type=int, default=48_000, help="output rate in Hz (default 48000)")
    p.add_argument("--channels", type=int, default=1, choices=(1, 2), help="1 (default) or 2 (dual mono)")
    p.add_argument("--sample-format", choices=SAMPLE_FORMATS, default="pcm24",
                   help="pcm24 (default), pcm16 or float32")


def add_render_options(p: argparse.ArgumentParser) -> None:
    """Options every render command shares (generate and the three edit modes)."""
    add_model_options(p)
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="start from a preset (audioldm-bridge presets list); options given here override it")
    p.add_argument("-o", "--output", default=None,
                   help="output .wav file (default: a new file in the output library)")
    p.add_argument("--steps", type=int, default=None,
                   help="sampling steps (default: the model's own; 10 for the built-in model, else 20)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale (default: the model's own; 3.5 for the built-in "
                        "model, else 2.5)")
    p.add_argument("--guidance-low", type=float, default=None,
                   help="guidance scale for the spectral tilt (frequency-decoupled guidance; default: the "
                        "model's own: 1 for the built-in model, else the same as --guidance)")
    p.add_argument("--guidance-until", type=float, default=None, metavar="FRACTION",
                   help="guide only this fraction of the steps, from the first; the rest cost half as much "
                        "(default: the model's own; 1 guides every step)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, recorded)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="dpmpp",
                   help="dpmpp (DPM-Solver++, default) or ddim")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta (default 0)")
    p.add_argument("--candidates", type=int, default=1,
                   help="render K candidates per output and keep the best by CLAP score (default 1)")
    p.add_argument("--negative", default="", help="negative prompt")


#: Command-line option (argparse dest) -> the request fields it sets. With --preset, only the
#: options the user typed override the preset (defaults do not).
OPTION_FIELDS: dict[str, tuple[str, ...]] = {
    "prompt": ("prompt",), "negative": ("negative_prompt",), "duration": ("duration_s",), "steps": ("steps",),
    "guidance": ("guidance_scale",), "guidance_low": ("guidance_low",),
    "guidance_until": ("guidance_until",), "seed": ("seed",),
    "scheduler": ("scheduler",), "eta": ("eta",), "candidates": ("candidates",), "variations": ("variations",),
    "model": ("model",), "sample_rate": ("sample_rate",), "channels": ("channels",),
    "sample_format": ("sample_format",), "peak_dbfs": ("peak_dbfs",), "no_normalize": ("peak_dbfs",),
    "raw": ("raw",), "strength": ("strength",), "cutoff": ("cutoff_hz",), "gap": ("gap_start_s", "gap_end_s"),
}
#: Fields a preset never holds: they come from the command line every time.
SOURCE_FIELDS = ("source_path", "region_start_s", "region_end_s", "timeline_position_s")


def request_from_args(args: argparse.Namespace, fields: dict) -> RenderRequest:
    """The command's request: its fields, or with ``--preset`` the preset's request with the options
    the user typed (``args._given``) on top."""
    name = getattr(args, "preset", None)
    if not name:
        return RenderRequest(**fields)
    from . import presets

    preset = presets.load().get(name)
    if preset.mode != fields["mode"]:
        command = preset.mode.replace("_", "-")
        raise BridgeError(f"preset {name} is a {preset.mode} preset; use it with: audioldm-bridge {command} "
                          f"--preset {name} ...")
    given = getattr(args, "_given", set())
    overrides = {f: fields[f] for dest in given for f in OPTION_FIELDS.get(dest, ()) if f in fields}
    overrides.update({f: fields[f] for f in SOURCE_FIELDS if fields.get(f) is not None})
    overrides.pop("mode", None)
    return preset.request(**overrides)


def common_request_fields(args: argparse.Namespace) -> dict:
    return dict(
        steps=args.steps, guidance_scale=args.guidance, guidance_low=args.guidance_low,
        guidance_until=args.guidance_until,
        seed=args.seed if args.seed is not None else random_seed(),
        scheduler=args.scheduler, eta=args.eta, candidates=args.candidates,
        negative_prompt=args.negative, model=args.model,
    )


# --------------------------------------------------------------------------- running a render

def run_render(request: RenderRequest, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .loader import ModelCache
    from .pipeline import render

    quiet_libraries(loaded=True)
    models = ModelCache(device=args.device, dtype=args.dtype)
    print(f"loading model {request.model or 'builtin:default'} ...", file=sys.stderr)
    models.get(request.model)
    bar = tqdm(total=None, unit="step", desc=request.mode, file=sys.stderr, dynamic_ncols=True)

    def progress(info) -> None:
        if bar.total != info.total:
            bar.reset(total=info.total)
        bar.n = info.step
        bar.refresh()

    try:
        result = render(request, models, output=args.output, progress=progress)
    finally:
        bar.close()
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for clip in result.clips:
        score = f", CLAP {clip.clap_score:.3f}" if clip.clap_score is not None else ""
        print(f"{clip.path}  ({clip.frames / clip.sample_rate:.3f} s, {clip.sample_rate} Hz, "
              f"{clip.channels} ch, seed {clip.seed}{score})")
    t = result.times
    print(f"device {result.device}: text {t.text_encoder:.2f} s, unet {t.unet:.2f} s, "
          f"vae {t.vae_decode:.2f} s, vocoder {t.vocoder:.2f} s", file=sys.stderr)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    request = request_from_args(args, dict(
        mode="generate", prompt=args.prompt or "", duration_s=args.duration, variations=args.variations,
        sample_rate=args.sample_rate, channels=args.channels, raw=args.raw,
        peak_dbfs=None if args.no_normalize else args.peak_dbfs, sample_format=args.sample_format,
        **common_request_fields(args),
    ))
    if args.tune_to is not None:  # on top of a preset's finishing chain, or a chain of its own
        if request.raw:
            raise BridgeError("--tune-to tunes the finished clip; a --raw render is the model's waveform "
                              "untouched: leave out one of them")
        request = request.with_finish(tune_to=args.tune_to)
    return run_render(request, args)


# --------------------------------------------------------------------------- models

def cmd_models(args: argparse.Namespace) -> int:
    from . import loader

    if args.models_cmd == "list":
        rows = [("builtin:default", "trained default model (shipped in the package)",
                 "ready" if (loader.paths.default_model_dir() / "model_index.json").is_file() else "not bundled"),
                ("builtin:random-tiny", "tiny random weights, for plumbing tests (sound is noise)", "built on use")]
        cached = cached_hub_models()
        for name in loader.KNOWN_HUB_MODELS:
            rows.append((name, "AudioLDM checkpoint (diffusers format)",
                         "on disk" if name in cached else f"not on disk: audioldm-bridge models pull {name}"))
        for name in sorted(set(cached) - set(loader.KNOWN_HUB_MODELS)):
            rows.append((name, "cached diffusers model", "on disk"))
        width = max(len(r[0]) for r in rows)
        for name, what, state in rows:
            print(f"{name:<{width}}  {state:<12}  {what}" if len(state) <= 12 else f"{name:<{width}}  {state}")
        return 0
    if args.models_cmd == "pull":
        folder = loader.pull(args.id)
        print(f"{args.id} is in {folder}")
        return 0
    if args.models_cmd == "info":
        quiet_libraries(loaded=True)
        model = loader.load(args.id, args.device, args.dtype)
        counts = model.parameter_counts()
        info = {
            "name": model.name, "folder": str(model.folder), "family": model.family,
            "device": str(model.device), "dtype": str(model.dtype).replace("torch.", ""),
            "parameters": counts, "parameters_total": sum(v for k, v in counts.items() if k != "clap"),
            "sample_rate": model.sample_rate, "max_duration_s": model.max_duration_s,
            "scheduler": model.scheduler_config.get("_class_name"),
            "prediction_type": model.scheduler_config.get("prediction_type", "epsilon"),
            "clap_reranking": model.clap is not None,
            "tuning": model.extra.get("tuning"),
        }
        print(json.dumps(info, indent=2))
        return 0
    raise BridgeError("use: audioldm-bridge models list | pull ID | info ID")


def cmd_eval_default(args: argparse.Namespace) -> int:
    from .default_model import evaluate

    return evaluate.main(args)


# --------------------------------------------------------------------------- parser

def register_generate(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("generate", help="text-to-audio")
    g.add_argument("prompt", nargs="?", default=None,
                   help='what to hear, e.g. "a low kick drum" (optional with --preset)')
    g.add_argument("--duration", type=float, default=5.0,
                   help="seconds, 0.5 to the model's maximum (10.24 s for AudioLDM); default 5")
    g.add_argument("--variations", type=int, default=1, help="number of output clips (default 1)")
    g.add_argument("--peak-dbfs", type=float, default=-1.0, help="peak normalisation target (default -1)")
    g.add_argument("--no-normalize", action="store_true", help="keep the model's level")
    g.add_argument("--raw", action="store_true",
                   help="the model's waveform untouched: float32, 16 kHz, mono, no gain/fades/normalisation")
    g.add_argument("--tune-to", default=None, metavar="PITCH",
                   help='tune the render\'s pitch: "prompt" (the note or frequency the prompt names), a note '
                        '("A3", "C#4") or Hz ("440"); time-preserving, skipped for sounds with no steady pitch')
    add_render_options(g)
    add_output_format_options(g)
    g.set_defaults(func=cmd_generate)


def register_models(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="list, pull or inspect models")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    msub.add_parser("list", help="built-in models and hub checkpoints, with their state")
    pull = msub.add_parser("pull", help="download a hub model (the only command that downloads)")
    pull.add_argument("id")
    info = msub.add_parser("info", help="load a model and print its facts")
    info.add_argument("id")
    add_model_options(info)
    m.set_defaults(func=cmd_models)


def register_eval_default(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval-default", help="measure prompt adherence on held-out prompts (DSP descriptors)")
    e.add_argument("--model", default=None, help="model to evaluate (default: builtin:default)")
    e.add_argument("--seeds", type=int, default=4,
                   help="renders per prompt (default 4: with 2, the figure moved by 6 points between seed pairs)")
    e.add_argument("--steps", type=int, default=None, help="default: the model's own, as generate")
    e.add_argument("--guidance", type=float, default=None, help="default: the model's own, as generate")
    e.add_argument("--guidance-low", type=float, default=None, help="default: the model's own, as generate")
    e.add_argument("--guidance-until", type=float, default=None, help="default: the model's own, as generate")
    e.add_argument("--scheduler", choices=SCHEDULERS, default="dpmpp")
    e.add_argument("--duration", type=float, default=2.56)
    e.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    e.add_argument("--json", default=None, help="also write the checks to this JSON file")
    e.add_argument("--recordings", nargs="*", default=None, metavar="FILE",
                   help="more real recordings for the super-resolution check (the alsa-utils voices always)")
    e.set_defaults(func=cmd_eval_default)


def build_parser() -> argparse.ArgumentParser:
    """Every command declared under the ``audioldm_bridge.commands`` entry points (engine.commands)."""
    parser = argparse.ArgumentParser(prog="audioldm-bridge",
                                     description="Generative audio for the DAW (AudioLDM).")
    parser.add_argument("--version", action="version", version=f"audioldm-bridge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_commands(sub)
    return parser


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def given_options(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The argparse dests the user typed (not filled in from defaults): parse again with every
    default suppressed."""
    saved = []
    for p in _parsers(parser):
        saved.append((p, dict(p._defaults)))
        p._defaults.clear()
        for a in p._actions:
            saved.append((a, a.default))
            a.default = argparse.SUPPRESS
    try:
        return set(vars(parser.parse_args(argv)))
    except SystemExit:
        return set()
    finally:
        for obj, value in saved:
            if isinstance(obj, argparse.ArgumentParser):
                obj._defaults.update(value)
            else:
                obj.default = value


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        args._given = given_options(parser, argv)
        return int(args.func(args) or 0)
    except BridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
