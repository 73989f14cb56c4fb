"""What tuning to the prompt's pitch (``finish.tune_to = "prompt"``) adds to a render.

The built-in model renders prompts that name a pitch (48 kHz, the app's default), then the finishing
chain runs with and without tuning on the same audio, interleaved; prints the median time of each
per clip, the tuning's share of the render time measured in the same run, and how far each clip was
from its note before and after (YIN, the tuner's own reading).

    python benchmarks/bench_tune.py [--duration 2.5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = ("a square wave tone tuned to A3, held for a long time", "a sine tone at 440 Hz",
           "a metallic bell tuned to C6", "test tone: sine, 1000 Hz", "a steady sine tone at 110 Hz held for a long time")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=2.5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import numpy as np

    from engine import dsp, finishing, loader, pitch
    from engine.pipeline import generate_waveforms
    from engine.request import Finish, RenderRequest

    model = loader.load("builtin:default", device="cpu")
    rate, plain, tuned = 48_000, Finish(), Finish(tune_to="prompt")
    render_s, plain_s, tuned_s = [], [], []
    print(f"{'prompt':52s} {'before':>8s} {'after':>8s}  shift range (semitones)")
    for seed, prompt in enumerate(PROMPTS):
        request = RenderRequest(prompt=prompt, duration_s=args.duration, seed=1000 + seed)
        t0 = time.perf_counter()
        wav = generate_waveforms(model, request).audio[0]
        audio = dsp.finalise_clip(wav, sample_rate=rate, channels=1, n_frames=int(round(args.duration * rate)),
                                  peak_dbfs=-1.0)
        render_s.append(time.perf_counter() - t0)
        for _ in range(args.repeats):
            for finish, times in ((plain, plain_s), (tuned, tuned_s)):
                t0 = time.perf_counter()
                out, report = finishing.apply(audio, rate, finish, prompt=prompt)
                times.append(time.perf_counter() - t0)
        target, _ = pitch.prompt_pitch(prompt)
        t = report.tuning

        def off(hz):
            return "   -    " if hz is None else f"{12 * np.log2(hz / target):+7.2f} "

        print(f"{prompt[:52]:52s} {off(t['measured_hz'])} {off(t['result_hz'])}  "
              f"{t['shift_range'] if t['shift_range'] else t['skipped']}")
    render, base, tune = (statistics.median(v) for v in (render_s, plain_s, tuned_s))
    print(f"\n{args.duration:g} s clips at {rate} Hz, median of {len(PROMPTS)} prompts x {args.repeats} repeats:")
    print(f"  render (model + resampling to {rate} Hz)  {render:.3f} s")
    print(f"  finishing without tuning             {base:.3f} s")
    print(f"  finishing with tune_to = prompt      {tune:.3f} s  (+{tune - base:.3f} s, "
          f"{(tune - base) / render:.2f} of the render time)")


if __name__ == "__main__":
    main()
