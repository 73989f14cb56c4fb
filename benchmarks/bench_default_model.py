"""Render time of the built-in default model: a 2.5 s clip with the default sampler settings.

Our engine against diffusers' deprecated ``AudioLDMPipeline`` on the same weights (the bundled
UNet, VAE, CLAP text encoder and the Griffin-Lim vocoder, DPM-Solver++ at the model's own default
steps and guidance, from its ``audioldm_bridge.json``; the reference guides plainly, with the same
UNet calls), interleaved in the same process and run. Prints the median of ``--repeats`` renders,
the ratio ours/reference, the per-stage split, and the issue's target (under 0.3 s on a 2-core CPU, issue 21).

    python benchmarks/bench_default_model.py [--duration 2.5] [--steps N] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=2.5)
    ap.add_argument("--steps", type=int, default=None, help="default: the model's own")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    import torch
    from diffusers import DPMSolverMultistepScheduler
    from diffusers.pipelines.deprecated.audioldm import AudioLDMPipeline

    from engine import loader
    from engine.pipeline import generate_waveforms
    from engine.request import RenderRequest

    if args.threads:
        torch.set_num_threads(args.threads)
    from engine.nets import upsample

    model = loader.load("builtin:default", device="cpu")
    request = RenderRequest(prompt="a low kick drum", duration_s=args.duration, steps=args.steps, seed=1,
                            raw=True, model="builtin:default").resolved(model.sampler_defaults)
    scheduler = DPMSolverMultistepScheduler.from_config(model.scheduler_config, algorithm_type="dpmsolver++",
                                                        solver_order=2)
    reference = AudioLDMPipeline(vae=model.vae, text_encoder=model.text_encoder, tokenizer=model.tokenizer,
                                 unet=model.unet, scheduler=scheduler, vocoder=model.vocoder)
    reference.set_progress_bar_config(disable=True)

    def ours() -> dict:
        return vars(generate_waveforms(model, request).times)

    def ref() -> dict:
        with torch.inference_mode():
            reference(request.prompt, audio_length_in_s=args.duration, num_inference_steps=request.steps,
                      guidance_scale=request.guidance_scale, generator=torch.Generator().manual_seed(1))
        return {}

    def blocks(ours_too: bool) -> None:
        """Our polyphase upsampling for our runs, diffusers' own blocks for the reference's."""
        for module in (model.unet, model.vae):
            upsample.uninstall(module)
            if ours_too:
                upsample.install(module)

    # Interleaved (ours, reference, ours, ...) so load on a shared machine hits both alike.
    runs = {"ours": ours, "reference": ref}
    walls: dict[str, list[float]] = {name: [] for name in runs}
    stages: list[dict] = []
    for name, fn in runs.items():
        blocks(name == "ours")
        fn()  # warm-up
    for _ in range(args.repeats):
        for name, fn in runs.items():
            blocks(name == "ours")
            t0 = time.perf_counter()
            out = fn()
            walls[name].append(time.perf_counter() - t0)
            if name == "ours":
                stages.append(out)
    median = {name: statistics.median(w) for name, w in walls.items()}

    low = "" if request.guidance_low is None else f" (spectral tilt {request.guidance_low:g}; the reference: plain)"
    print(f"default model, {args.duration:g} s clip, DPM-Solver++ {request.steps} steps, guidance "
          f"{request.guidance_scale:g}{low}, {torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'':12}{'wall (s)':>10}")
    for name, wall in median.items():
        print(f"{name:12}{wall:10.3f}")
    print(f"ratio ours/reference {median['ours'] / median['reference']:.3f}; "
          f"real-time factor {median['ours'] / args.duration:.3f}; target < 0.3 s "
          f"(issue 21): {'met' if median['ours'] < 0.3 else 'NOT met'}")
    split = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
    print("ours per stage (s): " + ", ".join(f"{k} {v:.3f}" for k, v in split.items()))


if __name__ == "__main__":
    main()
