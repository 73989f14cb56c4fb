"""MIDI audition latency with the built-in model on this machine.

    python benchmarks/bench_midi.py [--runs 8] [--preview-every 3]

For 1 s and 2.5 s clips: note-on -> the first audible sample (the player's callback writing the
preview, on the JACK dummy device or the default output) and note-on -> finished clip (JobDone),
median and p95, with the time split: submit, engine start of the job, first preview decode.
Reference in the same run: the same render called in-process (``pipeline.render``, no service,
no preview). Targets (issue 17): first sound < 0.5 s, finished 2.5 s clip < 1.2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def q(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--preview-every", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="alb-midi-bench-"))
    os.environ.setdefault("AUDIOLDM_BRIDGE_RUNTIME", str(root / "rt"))
    import mido

    from daw_bridge.audition import AudioUnavailable, Player
    from daw_bridge.midi import controller as C
    from daw_bridge.midi import mapping as M
    from engine.service import RenderService

    C.PREVIEW_EVERY = args.preview_every
    svc = RenderService(library=root / "lib", journal=root / "jobs.sqlite3", device="cpu",
                        preload_model="builtin:default", listen=False).start()
    results = {}
    try:
        svc.wait_ready(180)
        while svc.status().model != "builtin:default":
            time.sleep(0.1)
        player = Player()
        try:
            player.play([0.0] * 480, 48000)  # open the device once, as a running instrument has
            time.sleep(0.2)
        except AudioUnavailable as exc:
            print(f"no audio device ({exc}): first-sound figures are missing", file=sys.stderr)
            player = None
        for seconds in (1.0, 2.5):
            text = f'[[note]]\nnote = 60\nprompt = "a warm soft pad chord"\nduration_s = {seconds}\n'
            path = root / f"map-{seconds}.toml"
            path.write_text(text)
            ctrl = C.MidiController(svc, M.load(path), player=player, audition=player is not None)
            first, done = [], []
            for i in range(args.runs + 1):
                ctrl.handle(mido.Message("note_on", note=60, velocity=120))
                voice = ctrl.voice
                deadline = time.monotonic() + 60
                while voice.t_done is None and time.monotonic() < deadline:
                    time.sleep(0.002)
                while player is not None and "final" not in voice.events and time.monotonic() < deadline:
                    time.sleep(0.002)
                if i == 0:
                    continue  # warm-up
                done.append(voice.t_done - voice.t_note_on)
                fs = ctrl.first_sound_s(voice)
                if fs is not None:
                    first.append(fs)
                time.sleep(0.3)
            ctrl.close()
            results[seconds] = (first, done)
        # Reference: the same render in-process, no service, no previews.
        from engine.loader import ModelCache
        from engine.pipeline import render
        from engine.request import RenderRequest

        models = ModelCache(device="cpu")
        models.get(None)
        ref = {}
        for seconds in (1.0, 2.5):
            xs = []
            for i in range(args.runs):
                t0 = time.perf_counter()
                render(RenderRequest(prompt="a warm soft pad chord", duration_s=seconds, seed=i), models,
                       output=root / "ref")
                xs.append(time.perf_counter() - t0)
            ref[seconds] = xs
    finally:
        if player is not None:
            player.stop()
        svc.stop()
    print(f"built-in model, preview every {args.preview_every} steps, {args.runs} notes each, "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    for seconds, (first, done) in results.items():
        fs = (f"median {statistics.median(first):.3f} s, p95 {q(first, 0.95):.3f} s" if first else "n/a")
        print(f"{seconds:>4} s clip: note-on -> first sound {fs}; note-on -> finished clip median "
              f"{statistics.median(done):.3f} s, p95 {q(done, 0.95):.3f} s; in-process render (reference) "
              f"median {statistics.median(ref[seconds]):.3f} s")
    print("targets: first sound < 0.5 s, finished 2.5 s clip < 1.2 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
