"""Render every shipped preset with the built-in model: time, loudness and peak per preset, and a
sheet of spectrograms to look at before a preset ships.

    python benchmarks/bench_presets.py [--duration S] [--seed N] [--sheet presets.png] [--source FILE]

Prints, per preset: render time (model + finishing chain, separately), integrated loudness against
its target, true peak against its ceiling, length. Edit presets run on ``--source`` (default: the
alsa-utils voice recording). ``--sheet`` needs matplotlib.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=None, help="render this long instead of each preset's")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sheet", default=None, help="write a PNG of all spectrograms here")
    ap.add_argument("--source", default="/usr/share/sounds/alsa/Front_Center.wav")
    args = ap.parse_args()

    import soundfile as sf

    from engine import finishing, presets
    from engine.loader import ModelCache
    from engine.pipeline import render

    models = ModelCache(device="cpu")
    models.get(None)
    lib = presets.load()
    out = Path(tempfile.mkdtemp(prefix="alb-presets-"))
    rows = []
    for p in sorted(lib.presets.values(), key=lambda p: (p.category, p.name)):
        over = {"seed": args.seed}
        if p.mode == "generate" and args.duration:
            over["duration_s"] = min(args.duration, p.fields.get("duration_s", 5.0))
        if p.mode != "generate":
            over.update(source_path=args.source, region_start_s=0.0, region_end_s=None)
            if p.mode == "inpaint":
                over.update(gap_start_s=0.5, gap_end_s=0.8)
        request = p.request(**over)
        t0 = time.perf_counter()
        result = render(request, models, output=out / f"{p.name}.wav")
        seconds = time.perf_counter() - t0
        clip = result.clips[0]
        audio, sr = sf.read(str(clip.path), always_2d=True)
        lufs = finishing.integrated_loudness(audio, sr)
        peak = finishing.true_peak_db(audio, sr)
        target = request.finish.loudness_lufs if request.finish else None
        rows.append((p, audio, sr))
        print(f"{p.name:<18} {p.mode:<14} {seconds:5.2f} s  {len(audio) / sr:5.2f} s long  "
              f"{lufs:6.1f} LUFS" + (f" (target {target:g})" if target is not None else "") +
              f"  peak {peak:5.1f} dBTP")
    if args.sheet:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from scipy.signal import spectrogram

        cols = 5
        n = len(rows)
        fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(cols * 3.2, ((n + cols - 1) // cols) * 2.2))
        for ax, (p, audio, sr) in zip(axes.flat, rows):
            f, t, s = spectrogram(audio.mean(axis=1), sr, nperseg=1024, noverlap=768)
            ax.pcolormesh(t, f / 1000, 10 * np.log10(s + 1e-12), vmin=-120, vmax=-20, shading="auto", cmap="magma")
            ax.set_ylim(0, 12)
            ax.set_title(p.name, fontsize=8)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(args.sheet, dpi=80)
        print(f"spectrograms: {args.sheet} (kHz up, seconds across)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
