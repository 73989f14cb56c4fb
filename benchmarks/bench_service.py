"""Render service benchmark: cold start, submit-to-start latency, throughput, crash restart.

    python benchmarks/bench_service.py [--model builtin:random-tiny] [--jobs 40] [--latency-runs 15]
                                       [--kills 3] [--threads 1] [--spare] [--json]

Figures (all wall-clock, on whatever machine runs this; note its load):

* cold start: ``start()`` -> engine ready (spawned process has imported torch and diffusers), and
  -> the preloaded model is loaded (the engine is warm);
* submit latency: the ``submit()`` call itself (a durable SQLite WAL commit);
* submit-to-start with a warm, idle engine: ``submit()`` -> ``JobStarted`` and -> first step;
* throughput: N short renders (0.5 s, 2 steps) queued at once, renders per minute through the
  service, next to the same renders called in-process with ``pipeline.render`` (the overhead);
* restart after a crash: SIGKILL of the idle engine -> crash detected -> engine ready -> model
  loaded again; and a kill at step 1 of a job -> that job done.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def wait_for(stream, pred, timeout=300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        e = stream.get(timeout=0.5)
        if e is not None and pred(e):
            return e
    raise TimeoutError("benchmark: event did not arrive")


def summary(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"n": len(xs), "median": statistics.median(xs), "p95": xs[min(len(xs) - 1, int(0.95 * len(xs)))],
            "min": xs[0], "max": xs[-1]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin:random-tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=40, help="short renders for the throughput figure")
    ap.add_argument("--latency-runs", type=int, default=15)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in the engine (0: torch default)")
    ap.add_argument("--spare", action="store_true", help="run with a warm spare engine (spare_engine=True)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from engine.request import RenderRequest
    from engine.service import (EngineCrashed, EngineState, JobDone, JobProgress, JobStarted, ModelLoaded,
                                RenderService)

    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    results: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_1m_at_start": os.getloadavg()[0]},
                     "model": args.model, "device": args.device, "spare_engine": args.spare}

    def req(seed: int, steps: int = 2) -> RenderRequest:
        return RenderRequest(prompt="a low kick drum", duration_s=0.5, steps=steps, seed=seed, model=args.model)

    svc = RenderService(library=tmp / "library", journal=tmp / "jobs.sqlite3", device=args.device,
                        preload_model=args.model, torch_threads=args.threads or None, crash_limit=100,
                        spare_engine=args.spare)
    stream = svc.events(max_pending=10**6)

    # 1. cold start
    t0 = time.time()
    svc.start()
    ready = wait_for(stream, lambda e: isinstance(e, EngineState) and e.state == "ready")
    loaded = wait_for(stream, lambda e: isinstance(e, ModelLoaded))
    results["cold_start_s"] = {"to_ready": ready.t - t0, "to_model_loaded": loaded.t - t0,
                               "model_load": loaded.seconds}
    # warm-up render (first torch call pays one-off initialisation)
    svc.wait(svc.submit(req(0)), 300)

    # 2. submit-to-start latency, warm idle engine
    call, to_start, to_step, total = [], [], [], []
    for i in range(args.latency_runs):
        time.sleep(0.3)  # let the engine go idle
        stream.drain()
        t = time.time()
        job = svc.submit(req(100 + i))
        call.append(time.time() - t)
        started = wait_for(stream, lambda e: isinstance(e, JobStarted) and e.job_id == job)
        step = wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == job)
        done = wait_for(stream, lambda e: isinstance(e, JobDone) and e.job_id == job)
        to_start.append(started.t - t)
        to_step.append(step.t - t)
        total.append(done.t - t)
    results["submit_call_s"] = summary(call)
    results["submit_to_start_s"] = summary(to_start)
    results["submit_to_first_step_s"] = summary(to_step)
    results["submit_to_done_s"] = summary(total)

    # 3. throughput
    stream.drain()
    t = time.time()
    ids = [svc.submit(req(1000 + i)) for i in range(args.jobs)]
    for job in ids:
        svc.wait(job, 600)
    wall = time.time() - t
    time.sleep(0.2)
    evs = stream.drain()
    done_t = {e.job_id: e for e in evs if isinstance(e, JobDone)}
    start_t = {e.job_id: e.t for e in evs if isinstance(e, JobStarted)}
    gaps = [start_t[b] - done_t[a].t for a, b in zip(ids, ids[1:]) if a in done_t and b in start_t]
    results["throughput"] = {"jobs": args.jobs, "seconds": wall, "per_minute": 60 * args.jobs / wall,
                             "engine_seconds_per_job": statistics.mean(d.seconds for d in done_t.values()),
                             "done_to_next_start_s": summary(gaps)}
    results["app_imported_torch"] = "torch" in sys.modules

    # 4. restart after a crash (idle engine), and recovery of a job killed at step 1
    detect, to_ready, to_warm = [], [], []
    for _ in range(args.kills):
        time.sleep(0.5)
        deadline = time.monotonic() + 300
        while args.spare and svc.status().spare_state != "ready" and time.monotonic() < deadline:
            time.sleep(0.1)  # measure the take-over, not a half-started spare
        stream.drain()
        pid = svc.status().pid
        t = time.time()
        os.kill(pid, signal.SIGKILL)
        crash = wait_for(stream, lambda e: isinstance(e, EngineCrashed))
        up = wait_for(stream, lambda e: isinstance(e, EngineState) and e.state == "ready")
        warm = wait_for(stream, lambda e: isinstance(e, ModelLoaded))
        detect.append(crash.t - t)
        to_ready.append(up.t - t)
        to_warm.append(warm.t - t)
    results["restart_after_crash_s"] = {"detect": summary(detect), "to_ready": summary(to_ready),
                                        "to_model_loaded": summary(to_warm),
                                        "per_kill_to_ready": to_ready, "per_kill_to_model_loaded": to_warm,
                                        "backoff_s": list(svc.config.restart_backoff_s)}
    deadline = time.monotonic() + 300
    while args.spare and svc.status().spare_state != "ready" and time.monotonic() < deadline:
        time.sleep(0.1)
    stream.drain()
    job = svc.submit(req(5000, steps=20))
    started = wait_for(stream, lambda e: isinstance(e, JobStarted) and e.job_id == job)
    wait_for(stream, lambda e: isinstance(e, JobProgress) and e.job_id == job)
    t = time.time()
    os.kill(started.pid, signal.SIGKILL)
    rec = svc.wait(job, 600)
    results["job_killed_at_step_1"] = {"kill_to_done_s": time.time() - t, "state": rec.state,
                                       "attempts": rec.attempts}
    st = svc.status()
    results["engine_rss_mib"] = (st.rss_bytes or 0) / 2**20
    if args.spare and st.spare_pid:
        try:
            import psutil

            results["spare_rss_mib"] = psutil.Process(st.spare_pid).memory_info().rss / 2**20
        except Exception:
            pass
    svc.stop()

    # 5. the same short renders in-process, no service (what the service adds per job)
    from engine.loader import ModelCache
    from engine.pipeline import render

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["AUDIOLDM_BRIDGE_OUTPUT"] = str(tmp / "direct")
    models = ModelCache(device=args.device)
    render(req(0), models, existing="replace")
    t = time.time()
    for i in range(args.jobs):
        render(req(1000 + i), models, existing="replace")
    direct = time.time() - t
    results["throughput"]["direct_in_process_per_minute"] = 60 * args.jobs / direct
    results["throughput"]["service_overhead_per_job_s"] = (wall - direct) / args.jobs
    results["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    c, r = results["cold_start_s"], results["restart_after_crash_s"]
    th = results["throughput"]
    print(f"machine: {results['machine']['cpus']} CPUs, load average {results['machine']['load_avg_1m_at_start']:.1f}"
          f" -> {results['machine']['load_avg_1m_at_end']:.1f}; model {args.model} on {args.device}, "
          f"torch threads {args.threads or 'default'}, spare engine {'on' if args.spare else 'off'}")
    print(f"cold start: engine ready {c['to_ready']:.2f} s, model loaded {c['to_model_loaded']:.2f} s "
          f"(load itself {c['model_load']:.2f} s)")
    print(f"submit() call: median {ms(results['submit_call_s']['median'])}, p95 {ms(results['submit_call_s']['p95'])}")
    print(f"submit -> start (warm, idle): median {ms(results['submit_to_start_s']['median'])}, "
          f"p95 {ms(results['submit_to_start_s']['p95'])}; -> first step median "
          f"{ms(results['submit_to_first_step_s']['median'])}; -> done median {ms(results['submit_to_done_s']['median'])}")
    print(f"throughput: {th['jobs']} renders of 0.5 s / 2 steps in {th['seconds']:.1f} s = {th['per_minute']:.0f}/min "
          f"(in-process without the service: {th['direct_in_process_per_minute']:.0f}/min; "
          f"overhead {ms(th['service_overhead_per_job_s'])} per job)")
    print(f"  per job: engine render+write {ms(th['engine_seconds_per_job'])}, done -> next start median "
          f"{ms(th['done_to_next_start_s']['median'])}; app process imported torch: {results['app_imported_torch']}")
    print(f"restart after SIGKILL (idle): detected {ms(r['detect']['median'])} (median); engine ready / model "
          f"loaded per kill: " + ", ".join(f"{a:.2f}/{b:.2f} s" for a, b in zip(r["per_kill_to_ready"],
                                                                         r["per_kill_to_model_loaded"]))
          + f" (restart back-off {r['backoff_s']} s for the 1st, 2nd, 3rd crash within a minute)")
    k = results["job_killed_at_step_1"]
    print(f"job killed at step 1 -> done after restart: {k['kill_to_done_s']:.2f} s ({k['state']}, attempts {k['attempts']})")
    print(f"engine RSS: {results['engine_rss_mib']:.0f} MiB"
          + (f"; idle spare engine RSS {results['spare_rss_mib']:.0f} MiB" if "spare_rss_mib" in results else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
