"""OSC bridge latency with a warm engine.

    python benchmarks/bench_osc.py [--jobs 30] [--model builtin:default] [--steps 4] [--json]

Figures (median, p95, in ms), all on this machine in one run:

* request -> ``/audioldm/accepted``: the packet leaves this process -> the reply arrives (parse,
  validate, durable journal commit, reply);
* file written -> ``/audioldm/done``: the clip's modification time (the writer's last write before
  its atomic rename) -> the done message arrives here;
* reference: ``/audioldm/ping`` -> ``/audioldm/pong`` round trip on the same socket (the floor of
  any OSC answer), and the same render submitted in-process (``service.submit`` call time).

Targets (issue 14): accepted < 5 ms p95, done < 20 ms p95.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def stats(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"n": len(xs), "median_ms": 1000 * statistics.median(xs),
            "p95_ms": 1000 * xs[min(len(xs) - 1, int(0.95 * len(xs)))]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--model", default="builtin:default")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("AUDIOLDM_BRIDGE_RUNTIME", tempfile.mkdtemp(prefix="alb-bench-"))
    from pythonosc.osc_message_builder import OscMessageBuilder
    from pythonosc.osc_packet import OscPacket

    from daw_bridge.osc.server import OscBridge, OscConfig
    from engine.request import RenderRequest
    from engine.service import RenderService

    root = Path(tempfile.mkdtemp(prefix="alb-osc-"))
    svc = RenderService(library=root / "lib", journal=root / "jobs.sqlite3", device="cpu",
                        preload_model=args.model, listen=False).start()
    bridge = OscBridge(svc, OscConfig(port=0, allow_dirs=())).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(60)
    target = ("127.0.0.1", bridge.port)

    def send(address: str, *values) -> None:
        b = OscMessageBuilder(address=address)
        for v in values:
            b.add_arg(v)
        sock.sendto(b.build().dgram, target)

    def recv(address: str, first=None):
        while True:
            data, _ = sock.recvfrom(65535)
            now = time.perf_counter()
            for m in OscPacket(data).messages:
                if m.message.address == address and (first is None or m.message.params[0] == first):
                    return now, list(m.message.params)

    try:
        st = svc.wait_ready(180)
        while svc.status().model != args.model:  # warm: the model is loaded before we measure
            time.sleep(0.1)
        warm = svc.submit(RenderRequest(prompt="warm up", duration_s=1.0, steps=args.steps, seed=0, model=args.model))
        svc.wait(warm, 120)
        ping = []
        for _ in range(50):
            t0 = time.perf_counter()
            send("/audioldm/ping")
            t1, _ = recv("/audioldm/pong")
            ping.append(t1 - t0)
        accepted, done = [], []
        for i in range(args.jobs):
            jid = f"bench-{i}-{time.time_ns()}"
            t0 = time.perf_counter()
            send("/audioldm/generate", jid, "a low kick drum", 1.0, "steps", args.steps, "seed", i,
                 "model", args.model)
            t1, _ = recv("/audioldm/accepted", jid)
            accepted.append(t1 - t0)
            _, params = recv("/audioldm/done", jid)
            arrived = time.time()
            written = Path(params[1]).stat().st_mtime_ns / 1e9
            done.append(arrived - written)
        submit = []
        for i in range(args.jobs):
            t0 = time.perf_counter()
            job = svc.submit(RenderRequest(prompt="a low kick drum", duration_s=1.0, steps=args.steps, seed=i,
                                           model=args.model))
            submit.append(time.perf_counter() - t0)
            svc.wait(job, 120)
    finally:
        sock.close()
        bridge.close()
        svc.stop()
    results = {"ping_pong": stats(ping), "request_to_accepted": stats(accepted), "file_to_done": stats(done),
               "in_process_submit": stats(submit), "engine": {"device": st.device, "model": args.model},
               "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for key in ("ping_pong", "in_process_submit", "request_to_accepted", "file_to_done"):
        r = results[key]
        print(f"{key:<22} median {r['median_ms']:7.2f} ms   p95 {r['p95_ms']:7.2f} ms   (n={r['n']})")
    ref = results["in_process_submit"]["median_ms"]
    print(f"accepted / in-process submit (median): {results['request_to_accepted']['median_ms'] / ref:.1f}x; "
          f"targets: accepted p95 < 5 ms, done p95 < 20 ms; machine {os.cpu_count()} cpus, "
          f"load {results['machine']['load_avg_1m']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
