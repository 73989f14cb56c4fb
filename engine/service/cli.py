"""``audioldm-bridge serve`` and ``audioldm-bridge jobs``: the render service from the command line.

``serve`` runs the service headless (the DAW bridge adds OSC/MIDI on top) and prints its events;
``jobs`` lists the queue and history, and adds, cancels or retries jobs. ``jobs`` works whether or
not a ``serve`` is running: it only talks to the journal, and a running service picks up new jobs
and cancel requests from there within ``poll_s``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import signal
import sys
import threading
from pathlib import Path

from .. import cli as _cli
from ..errors import BridgeError
from ..request import RenderRequest


def _add_journal_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", default=None,
                   help="job journal (default: jobs.sqlite3 in the user data folder; AUDIOLDM_BRIDGE_DATA)")


# --------------------------------------------------------------------------- serve

def cmd_serve(args: argparse.Namespace) -> int:
    from .events import (EngineCrashed, EngineState, JobCancelled, JobDone, JobFailed, JobPreview, JobProgress,
                         JobQueued, JobRequeued, JobStarted, ModelLoaded, ModelLoading)
    from .supervisor import RenderService, ServiceConfig

    config = ServiceConfig(library=args.library, journal=args.journal, device=args.device, dtype=args.dtype,
                           preload_model=args.preload, max_attempts=args.max_attempts,
                           load_timeout_s=args.load_timeout, step_timeout_s=args.step_timeout)
    service = RenderService(config)
    stream = service.events()
    done = threading.Event()

    def on_signal(signum, frame) -> None:
        done.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    service.start()
    st = service.status()
    print(f"serving: library {st.library}, journal {st.journal}, {st.queue.get('queued', 0)} queued",
          file=sys.stderr)
    if st.journal_recovered_from:
        print(f"warning: the journal was unreadable and was moved to {st.journal_recovered_from}",
              file=sys.stderr)

    def line(event) -> str | None:
        if args.json:
            if isinstance(event, JobPreview):
                data = {"job_id": event.job_id, "step": event.step, "total": event.total,
                        "sample_rate": event.sample_rate, "frames": int(len(event.audio))}
            else:
                data = {k: v for k, v in vars(event).items()}
            return json.dumps({"event": type(event).__name__, **data}, default=str)
        if isinstance(event, JobProgress):
            return None if args.quiet else f"job {event.job_id}: step {event.step}/{event.total}, eta {event.eta_s:.1f} s"
        if isinstance(event, JobPreview):
            return None
        text = {
            JobQueued: lambda e: f"job {e.job_id}: queued ({e.lane})",
            JobStarted: lambda e: f"job {e.job_id}: started (attempt {e.attempt})",
            JobDone: lambda e: f"job {e.job_id}: done in {e.seconds:.2f} s -> {', '.join(e.outputs)}",
            JobFailed: lambda e: f"job {e.job_id}: failed: {e.error}",
            JobCancelled: lambda e: f"job {e.job_id}: cancelled",
            JobRequeued: lambda e: f"job {e.job_id}: re-queued ({e.reason})",
            ModelLoading: lambda e: f"loading model {e.model} ...",
            ModelLoaded: lambda e: f"model {e.model} loaded on {e.device} in {e.seconds:.1f} s",
            EngineState: lambda e: f"engine {e.state}" + (f": {e.reason}" if e.reason else ""),
            EngineCrashed: lambda e: f"engine crashed: {e.reason}" + ("; restarting" if e.will_restart else ""),
        }.get(type(event))
        return text(event) if text else None

    exit_code = 0
    try:
        while not done.is_set():
            event = stream.get(timeout=0.2)
            if event is not None:
                text = line(event)
                if text:
                    print(text, flush=True)
                continue
            if args.until_idle:
                st = service.status()
                if st.state == "stopped":
                    print(f"engine stopped: {st.reason}", file=sys.stderr)
                    exit_code = 1
                    break
                if st.queue.get("queued", 0) == 0 and st.queue.get("running", 0) == 0 and st.state == "ready":
                    break
    finally:
        print("stopping ...", file=sys.stderr)
        service.stop()
        for s, h in old.items():
            signal.signal(s, h)
    return exit_code


# --------------------------------------------------------------------------- jobs

def _time(t: float | None) -> str:
    return _dt.datetime.fromtimestamp(t).strftime("%m-%d %H:%M:%S") if t else "-"


def cmd_jobs(args: argparse.Namespace) -> int:
    from .journal import Journal

    journal = Journal(args.journal)
    try:
        action = getattr(args, "jobs_cmd", None) or "list"
        if action == "list":
            states = args.state or None
            rows = journal.list(states, limit=args.limit, newest_first=True)
            rows.reverse()
            if args.json:
                print(json.dumps([r.to_dict() for r in rows], indent=2))
                return 0
            if not rows:
                print("no jobs" + (f" in state {', '.join(states)}" if states else ""))
                return 0
            print(f"{'id':>5}  {'state':<9}  {'lane':<8}  {'try':>3}  {'created':<14}  {'took':>7}  what")
            for r in rows:
                took = f"{r.finished - r.started:.1f}s" if r.finished and r.started else "-"
                req = r.request_dict
                what = f"{req.get('mode')}: {req.get('prompt', '')[:40]!r}"
                tail = (r.error or "") if r.state == "failed" else (", ".join(Path(p).name for p in r.outputs))
                print(f"{r.id:>5}  {r.state:<9}  {r.lane:<8}  {r.attempts:>3}  {_time(r.created):<14}  {took:>7}  "
                      f"{what}{'  ' + tail if tail else ''}")
            counts = journal.counts()
            print("  ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
            return 0
        if action == "show":
            rec = journal.get(args.id)
            if rec is None:
                raise BridgeError(f"no job {args.id}")
            print(json.dumps(rec.to_dict(), indent=2))
            return 0
        if action == "cancel":
            before, rec = journal.cancel(args.id)
            if rec is None:
                raise BridgeError(f"no job {args.id}")
            if before == "queued":
                print(f"job {args.id}: cancelled")
            elif before == "running":
                print(f"job {args.id}: cancelling (the service stops it before its next step)")
            else:
                print(f"job {args.id} is already {rec.state}")
            return 0
        if action == "retry":
            rec = journal.retry(args.id)
            print(f"job {rec.id}: queued again")
            return 0
        if action == "add":
            if args.output is not None:
                raise BridgeError("jobs add cannot choose an output file: the service writes into its output "
                                  "library (set it with: audioldm-bridge serve --library DIR)")
            request = RenderRequest(
                mode="generate", prompt=args.prompt, duration_s=args.duration, variations=args.variations,
                sample_rate=args.sample_rate, channels=args.channels, **_cli.common_request_fields(args))
            rec, _ = journal.add(request.to_json(), args.lane, preview_every=args.preview_every)
            print(f"job {rec.id}: queued ({args.lane}, seed {request.seed})")
            return 0
        raise BridgeError("use: audioldm-bridge jobs [list] | show ID | add PROMPT | cancel ID | retry ID")
    finally:
        journal.close()


# --------------------------------------------------------------------------- registration

def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="run the render service headless (durable queue, supervised engine)")
    s.add_argument("--library", default=None,
                   help="output library folder (default: the user's music folder; AUDIOLDM_BRIDGE_OUTPUT)")
    _add_journal_option(s)
    _cli.add_model_options(s)
    s.add_argument("--preload", default=None, metavar="MODEL", help="load this model as soon as the engine starts")
    s.add_argument("--max-attempts", type=int, default=3, help="engine crashes a job may cause before it fails (3)")
    s.add_argument("--load-timeout", type=float, default=300.0, help="seconds a model load may take (300)")
    s.add_argument("--step-timeout", type=float, default=120.0,
                   help="seconds without render progress before the engine counts as hung (120)")
    s.add_argument("--until-idle", action="store_true", help="exit once the queue is empty")
    s.add_argument("--json", action="store_true", help="print events as JSON lines")
    s.add_argument("-q", "--quiet", action="store_true", help="no per-step lines")
    s.set_defaults(func=cmd_serve)

    j = sub.add_parser("jobs", help="list the render queue and history; add, cancel or retry jobs")
    _add_journal_option(j)
    j.add_argument("--state", action="append", choices=("queued", "running", "done", "failed", "cancelled"),
                   help="only jobs in this state (repeatable)")
    j.add_argument("--limit", type=int, default=50, help="newest N jobs (default 50)")
    j.add_argument("--json", action="store_true", help="machine-readable output")
    j.set_defaults(func=cmd_jobs, jobs_cmd=None)
    jsub = j.add_subparsers(dest="jobs_cmd")
    jsub.add_parser("list", help="the queue and history (default)")
    for name, text in (("show", "one job in full, as JSON"), ("cancel", "cancel a queued or running job"),
                       ("retry", "queue a failed or cancelled job again")):
        p = jsub.add_parser(name, help=text)
        p.add_argument("id", type=int)
    a = jsub.add_parser("add", help="queue a text-to-audio render for the service")
    a.add_argument("prompt")
    a.add_argument("--duration", type=float, default=5.0, help="seconds (default 5)")
    a.add_argument("--variations", type=int, default=1)
    a.add_argument("--sample-rate", type=int, default=48_000)
    a.add_argument("--channels", type=int, default=1, choices=(1, 2))
    a.add_argument("--lane", choices=("batch", "audition"), default="batch")
    a.add_argument("--preview-every", type=int, default=0, help="preview waveform every N steps (0: none)")
    _cli.add_render_options(a)


_cli.EXTENSIONS.append(register)
