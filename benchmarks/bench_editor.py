"""The region editor on a long file: time to show it, and frame times while dragging a selection.

    python benchmarks/bench_editor.py [--minutes 10] [--rate 48000]

Writes a stereo test file (tones and noise, 16-bit), then in the real window (offscreen unless
DISPLAY is set): open -> waveform and spectrogram on screen (decoding runs off the GUI thread;
the figure is wall time to the loaded signal plus one paint), and 200 steps of dragging the region
edge across the view, each followed by a repaint: worst and p99 frame time. Reference: the same
frame loop with no file loaded. Targets (issue 19): under 1.5 s to show, under 16 ms per frame.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=48_000)
    args = ap.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import soundfile as sf

    root = Path(tempfile.mkdtemp(prefix="alb-editor-bench-"))
    path = root / "long.wav"
    n = int(args.minutes * 60 * args.rate)
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", args.rate, 2, "PCM_16") as f:
        for start in range(0, n, args.rate * 10):
            m = min(args.rate * 10, n - start)
            t = (start + np.arange(m)) / args.rate
            x = 0.3 * np.sin(2 * np.pi * (220 + 20 * np.sin(t / 7)) * t) + 0.05 * rng.standard_normal(m)
            f.write(np.stack([x, x[::-1]], axis=1).astype(np.float32))
    from PyQt6.QtWidgets import QApplication

    from daw_bridge.audition import Player
    from gui import theme
    from gui.region_editor import RegionEditor

    app = QApplication([])
    theme.apply(app)

    class NoService:
        def submit(self, *a, **k):
            raise RuntimeError("not in this benchmark")

    editor = RegionEditor(NoService(), Player())
    editor.resize(1600, 900)
    editor.show()
    app.processEvents()

    def frames(steps: int = 200) -> list[float]:
        out = []
        duration = editor.source.frames / editor.source.sample_rate if editor.source else 10.0
        for i in range(steps):
            t0 = time.perf_counter()
            editor.set_region(0.1 * duration, (0.2 + 0.6 * i / steps) * duration)
            editor.repaint()
            app.processEvents()
            out.append(time.perf_counter() - t0)
        return sorted(out)

    empty = frames()
    t0 = time.perf_counter()
    editor.open(path)
    while editor.source is None and time.perf_counter() - t0 < 120:
        app.processEvents()
        time.sleep(0.001)
    editor.repaint()
    app.processEvents()
    shown = time.perf_counter() - t0
    loaded = frames()
    mb = path.stat().st_size / 2**20
    print(f"{args.minutes:g} min, {args.rate} Hz stereo, 16-bit ({mb:.0f} MB): shown in {shown:.2f} s "
          f"(decode + spectrogram off the GUI thread {editor.source.seconds_to_load:.2f} s) (target < 1.5 s)")
    print(f"dragging the region: frame median {1000 * statistics.median(loaded):.1f} ms, p99 "
          f"{1000 * loaded[int(0.99 * len(loaded))]:.1f} ms, worst {1000 * loaded[-1]:.1f} ms (target < 16 ms); "
          f"empty editor worst {1000 * empty[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
