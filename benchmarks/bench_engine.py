"""Engine vs diffusers' AudioLDMPipeline on the full AudioLDM-S architecture (random weights).

Renders 10.24 s with 10 DDIM steps (eta 0, guidance 2.5) through our engine and through the
deprecated diffusers pipeline on the same weights, each in its own process (so peak RSS is its own),
and prints wall seconds, the ratio ours/reference, peak RSS and the per-stage split.

    python benchmarks/bench_engine.py [--size s] [--duration 10.24] [--steps 10] [--threads N] [--repeats 5]

Each side runs ``--repeats`` times, the two sides alternating (a shared machine drifts by 5-10 %
between minutes, and alternating spreads that over both); the median run of each side is compared.

The model folder (~1.7 GB) is built once under the cache folder and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "a dog barking in the rain"


def build(size: str) -> Path:
    from engine import paths
    from engine.random_model import build_random_audioldm

    folder = paths.cache_dir() / "models" / f"random-{size}"
    if not (folder / "model_index.json").is_file():
        t0 = time.perf_counter()
        build_random_audioldm(folder, size=size, seed=0)
        print(f"built random AudioLDM-{size.upper()} in {time.perf_counter() - t0:.1f} s -> {folder}")
    return folder


class StageTimer:
    """Wraps a module's forward (or a method), sums its wall time and keeps when it ran, so the
    peak RSS sampled while each stage ran can be reported (:class:`RssSampler`)."""

    def __init__(self):
        self.times: dict[str, float] = {}
        self.windows: list[tuple[str, float, float]] = []

    def wrap(self, name: str, obj, attr: str = "forward"):
        original = getattr(obj, attr)

        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                t1 = time.perf_counter()
                self.times[name] = self.times.get(name, 0.0) + t1 - t0
                self.windows.append((name, t0, t1))

        setattr(obj, attr, timed)


class RssSampler:
    """Samples this process's RSS every 10 ms in a thread."""

    def __init__(self):
        import threading

        import psutil

        self.samples: list[tuple[float, float]] = []
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self._proc.memory_info().rss / 2**20))
            self._stop.wait(0.01)

    def stop(self):
        self._stop.set()
        self._thread.join()

    def peak_per_stage(self, windows) -> dict[str, float]:
        peaks: dict[str, float] = {}
        for name, t0, t1 in windows:
            inside = [mb for t, mb in self.samples if t0 <= t <= t1]
            if inside:
                peaks[name] = max(peaks.get(name, 0.0), max(inside))
        return peaks


def child(which: str, folder: str, duration: float, steps: int, threads: int) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    from engine.quiet import quiet_libraries

    quiet_libraries()
    from engine import loader

    t0 = time.perf_counter()
    model = loader.load(folder, device="cpu")
    load_s = time.perf_counter() - t0
    timer = StageTimer()
    timer.wrap("text_encoder", model.text_encoder)
    timer.wrap("unet_steps", model.unet)
    timer.wrap("vae_decode", model.vae, "decode")
    timer.wrap("vocoder", model.vocoder)
    timer.wrap("vocoder", model, "vocode")  # ours: the vocoder in its measured layout
    sampler = RssSampler()
    if which == "ours":
        from engine.pipeline import generate_waveforms
        from engine.request import RenderRequest

        req = RenderRequest(prompt=PROMPT, duration_s=duration, steps=steps, guidance_scale=2.5, seed=0,
                            scheduler="ddim", raw=True)
        t0 = time.perf_counter()
        out = generate_waveforms(model, req)
        wall = time.perf_counter() - t0
        t = out.times
        stages = {"text_encoder": t.text_encoder, "unet_steps": t.unet, "vae_decode": t.vae_decode,
                  "vocoder": t.vocoder}
        wav = out.audio[0]
    else:
        from diffusers import DDIMScheduler
        from diffusers.pipelines.deprecated.audioldm import AudioLDMPipeline

        from engine.nets import upsample

        model.unet.to(memory_format=torch.contiguous_format)  # diffusers' own layout, not our tuning
        model.vae.to(memory_format=torch.contiguous_format)
        upsample.uninstall(model.unet)  # and diffusers' own upsampling
        upsample.uninstall(model.vae)
        pipe = AudioLDMPipeline(vae=model.vae, text_encoder=model.text_encoder, tokenizer=model.tokenizer,
                                unet=model.unet, scheduler=DDIMScheduler.from_config(model.scheduler_config),
                                vocoder=model.vocoder)
        pipe.set_progress_bar_config(disable=True)
        t0 = time.perf_counter()
        wav = pipe(PROMPT, audio_length_in_s=duration, num_inference_steps=steps, guidance_scale=2.5,
                   generator=torch.Generator("cpu").manual_seed(0)).audios[0]
        wall = time.perf_counter() - t0
        stages = timer.times
    sampler.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"which": which, "wall_s": wall, "load_s": load_s, "peak_rss_mb": peak_mb, "stages": stages,
            "stage_peak_rss_mb": sampler.peak_per_stage(timer.windows),
            "release_weights": bool(getattr(model, "release_weights", False)),
            "samples": int(len(wav)), "peak": float(abs(wav).max()), "threads": torch.get_num_threads(),
            "wav_head": [float(x) for x in wav[:2000:100]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="s", help="random model size: s (AudioLDM-S), tiny, tiny3")
    ap.add_argument("--duration", type=float, default=10.24)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per side, alternating; medians compared")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder, args.duration, args.steps, args.threads)))
        return

    folder = build(args.size)
    runs: dict[str, list[dict]] = {"reference": [], "ours": []}
    for _ in range(max(1, args.repeats)):
        for which in ("reference", "ours"):
            proc = subprocess.run([sys.executable, __file__, "--child", which, "--folder", str(folder),
                                   "--duration", str(args.duration), "--steps", str(args.steps),
                                   "--threads", str(args.threads)],
                                  capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if proc.returncode != 0:
                sys.exit(f"{which} run failed:\n{proc.stderr[-3000:]}")
            runs[which].append(json.loads(proc.stdout.strip().splitlines()[-1]))

    def median_run(side: list[dict]) -> dict:
        return sorted(side, key=lambda r: r["wall_s"])[(len(side) - 1) // 2]

    ref, ours = median_run(runs["reference"]), median_run(runs["ours"])
    for which, side in runs.items():
        print(f"{which} wall per run (s): " + ", ".join(f"{r['wall_s']:.2f}" for r in side))
    same = all(max(abs(a - b) for a, b in zip(r["wav_head"], o["wav_head"])) <= 1e-4 * max(r["peak"], 1e-9)
               for r in runs["reference"] for o in runs["ours"])
    print(f"\nAudioLDM-{args.size.upper()} random weights, {args.duration} s, {args.steps} DDIM steps, "
          f"guidance 2.5, CPU threads {ours['threads']}; the median of {len(runs['ours'])} runs per side")
    print(f"{'':14}{'reference':>12}{'ours':>12}{'ours/ref':>10}")
    print(f"{'wall (s)':14}{ref['wall_s']:12.2f}{ours['wall_s']:12.2f}{ours['wall_s'] / ref['wall_s']:10.3f}")
    peak_ref = max(r["peak_rss_mb"] for r in runs["reference"])
    peak_ours = max(r["peak_rss_mb"] for r in runs["ours"])
    print(f"{'peak RSS (MB)':14}{peak_ref:12.0f}{peak_ours:12.0f}{peak_ours / peak_ref:10.3f}  (the highest of the runs)")
    print(f"{'model load (s)':14}{ref['load_s']:12.2f}{ours['load_s']:12.2f}")
    for stage in ("text_encoder", "unet_steps", "vae_decode", "vocoder"):
        r, o = ref["stages"].get(stage, 0.0), ours["stages"].get(stage, 0.0)
        print(f"{stage:14}{r:12.2f}{o:12.2f}{(o / r if r else float('nan')):10.3f}")
    print("peak RSS while each stage ran (MB; ours releases each stage's memory-mapped weights when it is "
          f"done: {ours['release_weights']}):")
    for stage in ("text_encoder", "unet_steps", "vae_decode", "vocoder"):
        r, o = ref["stage_peak_rss_mb"].get(stage, 0.0), ours["stage_peak_rss_mb"].get(stage, 0.0)
        print(f"  {stage:12}{r:12.0f}{o:12.0f}{(o / r if r else float('nan')):10.3f}")
    target = ours["wall_s"] / ref["wall_s"] <= 0.9 and peak_ours <= 2000
    print(f"issue 21 targets (ours/reference wall <= 0.9, peak RSS <= 2.0 GB): {'met' if target else 'NOT met'}")
    print(f"waveforms agree (first samples, 1e-4 of peak): {same}")


if __name__ == "__main__":
    main()
