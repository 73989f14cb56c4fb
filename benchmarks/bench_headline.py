"""The headline ratio (issue 21, item 4): our default settings against the original AudioLDM defaults
on the same model, at the held-out adherence each reaches.

The original AudioLDM command line renders with 200 DDIM steps, eta 1, guidance 2.5 and keeps the
CLAP-best of 3 candidates. Ours is the model's own sampler (for the built-in model: DPM-Solver++,
10 steps, frequency-decoupled guidance 3.5 / 1, guided for the first part of the steps; one
candidate). Both render every prompt of the main held-out set (``corpus.held_out_prompts``) with
the same seeds, interleaved prompt by prompt in one process so machine load hits both alike, and
are judged by the same checks as ``eval-default``. Prints wall seconds per clip, the adherence of
each, and the ratio original/ours.

    python benchmarks/bench_headline.py [--model builtin:default] [--seeds 2] [--duration 2.56]

Cost on the 2-core CPU: the original settings take about 15 s per clip (600 UNet passes of batch
2), so 45 prompts x 2 seeds is about 25 minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ORIGINAL = dict(steps=200, scheduler="ddim", eta=1.0, guidance_scale=2.5, candidates=3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="default: builtin:default")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=2.56)
    ap.add_argument("--limit", type=int, default=0, help="only the first N prompts (a quick look)")
    args = ap.parse_args()

    from engine.default_model import corpus
    from engine.default_model.evaluate import evaluate, format_set
    from engine.loader import ModelCache
    from engine.pipeline import generate_waveforms
    from engine.quiet import quiet_libraries
    from engine.request import RenderRequest

    quiet_libraries()
    model = ModelCache(device="cpu", dtype="float32").get(args.model)
    settings = {
        # Plain classifier-free guidance on every step, as AudioLDM: guidance_low = guidance_scale.
        "original": dict(ORIGINAL, guidance_low=ORIGINAL["guidance_scale"], guidance_until=1.0),
        "ours": {},
    }
    walls: dict[str, float] = {name: 0.0 for name in settings}
    counts: dict[str, int] = {name: 0 for name in settings}
    cache: dict[tuple[str, str, int], object] = {}
    prompts = corpus.held_out_prompts()[: args.limit or None]

    def renderer(name: str):
        def render(prompt: str, seed: int):
            key = (name, prompt, seed)
            if key not in cache:
                req = RenderRequest(prompt=prompt, duration_s=args.duration, seed=1000 + seed, raw=True,
                                    model=args.model, **settings[name])
                t0 = time.perf_counter()
                cache[key] = generate_waveforms(model, req).audio[0]
                walls[name] += time.perf_counter() - t0
                counts[name] += 1
            return cache[key]
        return render

    # Interleave: render every (prompt, seed) with both settings before the checks run.
    for item in prompts:
        for s in range(args.seeds):
            for name in settings:
                renderer(name)(item["prompt"], s)
    reports = {name: evaluate(renderer(name), prompts, seeds=args.seeds) for name in settings}
    per_clip = {name: walls[name] / max(1, counts[name]) for name in settings}
    used = RenderRequest(prompt="x").resolved(model.sampler_defaults)
    until = "every step" if used.guidance_until is None else f"the first {used.guidance_until:g} of the steps"
    print(f"model {model.name}, {args.duration:g} s clips, {len(prompts)} held-out prompts x {args.seeds} seeds")
    print(f"original AudioLDM defaults: DDIM {ORIGINAL['steps']} steps, eta {ORIGINAL['eta']:g}, guidance "
          f"{ORIGINAL['guidance_scale']:g}, best of {ORIGINAL['candidates']} by CLAP")
    print(f"ours: {used.scheduler} {used.steps} steps, guidance {used.guidance_scale:g} (spectral tilt "
          f"{used.guidance_low}), guided on {until}, 1 candidate")
    for name in settings:
        print(format_set(f"{name:9}", reports[name]))
    for name in settings:
        print(f"{name:9} {per_clip[name]:8.3f} s per clip")
    gap = 100 * (reports["ours"].overall - reports["original"].overall)
    print(f"headline: ours is {per_clip['original'] / per_clip['ours']:.1f}x faster than the original AudioLDM "
          f"defaults on the same model, at {gap:+.1f} points of held-out adherence")


if __name__ == "__main__":
    main()
