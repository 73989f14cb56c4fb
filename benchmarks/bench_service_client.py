"""The service across processes: what a second front end (the GUI next to ``serve``) pays.

    python benchmarks/bench_service_client.py [--calls 200] [--jobs 60] [--json]

A child process runs a :class:`RenderService` (the stand-in engine, so the figures are the
service's and the socket's, not torch's); this process measures, in the same run:

* call round trip: ``status()``, ``job(id)`` and ``submit()`` through :class:`ServiceClient`,
  against the same calls on an in-process :class:`RenderService` (the reference);
* event latency: the time from an event's creation in the serving process (its ``t``) to its
  arrival in this process's subscription, for JobQueued / JobStarted / JobProgress / JobDone,
  against the same figure for an in-process subscription;
* preview delivery: a 10 s preview (160,000 float32 samples) as a file path, not as JSON.

Figures are median and p95 in milliseconds; ratios are client / in-process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.request import RenderRequest  # noqa: E402


def stats(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"n": len(xs), "median_ms": 1000 * statistics.median(xs),
            "p95_ms": 1000 * xs[min(len(xs) - 1, int(0.95 * len(xs)))]}


def serve(root: str, ready, stop) -> None:
    from engine.service import RenderService

    svc = RenderService(library=Path(root) / "lib", journal=Path(root) / "jobs.sqlite3",
                        faults={"fake_engine": True, "fake_step_s": 0.005, "fake_load_s": 0.0}).start()
    svc.wait_ready(30)
    ready.set()
    stop.wait()
    svc.stop()


def measure(api, n_calls: int, n_jobs: int) -> dict:
    from engine.service import JobDone, JobPreview

    out: dict = {}
    job0 = api.submit(RenderRequest(prompt="warm up", duration_s=0.5, steps=2, seed=0))
    api.wait(job0, 30)
    for name, call in (("status", lambda: api.status()), ("job", lambda: api.job(job0))):
        times = []
        for _ in range(n_calls):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        out[f"{name}_call"] = stats(times)
    stream = api.events(max_pending=100_000)
    lat: dict[str, list[float]] = {"JobQueued": [], "JobStarted": [], "JobProgress": [], "JobDone": [],
                                   "JobPreview": []}
    arrivals: list = []
    finished = threading.Event()

    def reader() -> None:  # stamps each event the moment it arrives
        while not finished.is_set():
            e = stream.get(timeout=0.2)
            if e is not None:
                arrivals.append((time.time(), e))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    submit_times, ids = [], []
    for i in range(n_jobs):
        t0 = time.perf_counter()
        ids.append(api.submit(RenderRequest(prompt=f"job {i}", duration_s=10.0, steps=4, seed=i),
                              preview_every=2 if i % 10 == 0 else 0))
        submit_times.append(time.perf_counter() - t0)
        time.sleep(0.02)
    out["submit_call"] = stats(submit_times)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum(isinstance(e, JobDone) and e.job_id in ids for _, e in arrivals) < n_jobs:
        time.sleep(0.05)
    finished.set()
    thread.join(5)
    stream.close()
    preview_frames = []
    for now, e in arrivals:
        kind = type(e).__name__
        if kind in lat and getattr(e, "job_id", None) in ids:
            lat[kind].append(now - e.t)
        if isinstance(e, JobPreview):
            preview_frames.append(len(e.audio))
    for kind, xs in lat.items():
        if xs:
            out[f"event_{kind}"] = stats(xs)
    out["preview_frames"] = sorted(set(preview_frames))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("AUDIOLDM_BRIDGE_RUNTIME", tempfile.mkdtemp(prefix="alb-bench-"))
    from engine.service import RenderService, ServiceClient

    results: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}}
    # Reference: the same calls and events in one process.
    with tempfile.TemporaryDirectory() as root:
        svc = RenderService(library=Path(root) / "lib", journal=Path(root) / "jobs.sqlite3", listen=False,
                            faults={"fake_engine": True, "fake_step_s": 0.005, "fake_load_s": 0.0}).start()
        try:
            svc.wait_ready(30)
            results["in_process"] = measure(svc, args.calls, args.jobs)
        finally:
            svc.stop()
    # The client: the service runs in a child process.
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as root:
        ready, stop = ctx.Event(), ctx.Event()
        child = ctx.Process(target=serve, args=(root, ready, stop))
        child.start()
        try:
            if not ready.wait(60):
                raise SystemExit("the serving process did not start")
            client = ServiceClient(Path(root) / "jobs.sqlite3")
            try:
                results["client"] = measure(client, args.calls, args.jobs)
            finally:
                client.close()
        finally:
            stop.set()
            child.join(30)
    results["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    ref, cli = results["in_process"], results["client"]
    print(f"{'figure':<22} {'in-process median/p95 ms':>26} {'client median/p95 ms':>22} {'ratio (median)':>15}")
    for key in cli:
        if not isinstance(cli[key], dict):
            continue
        a, b = ref.get(key), cli[key]
        ratio = b["median_ms"] / a["median_ms"] if a and a["median_ms"] > 0 else float("nan")
        ref_text = f"{a['median_ms']:.2f} / {a['p95_ms']:.2f}" if a else "-"
        print(f"{key:<22} {ref_text:>26} {b['median_ms']:>10.2f} / {b['p95_ms']:<9.2f} {ratio:>14.1f}x")
    print(f"previews received as files, frames: {cli['preview_frames']} (in-process: {ref['preview_frames']})")
    print(f"machine: {os.cpu_count()} cpus, load {results['machine']['load_avg_1m']:.1f} -> "
          f"{results['machine']['load_avg_1m_at_end']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
