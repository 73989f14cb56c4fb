"""``audioldm-bridge serve`` and ``audioldm-bridge jobs``: the render service from the command line.

``serve`` runs the service headless and prints its events; other rooms attach to it through
``audioldm_bridge.serve_hooks`` entry points (:mod:`engine.commands`: the DAW bridge adds OSC and
MIDI that way) without this module knowing them. ``jobs`` lists the queue and history, adds,
cancels, retries and watches jobs: through the running service (:class:`ServiceClient`) when there
is one, else on the journal alone, which the next ``serve`` picks up.
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
from .. import commands
from ..errors import BridgeError


def _add_journal_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", default=None,
                   help="job journal (default: jobs.sqlite3 in the user data folder; AUDIOLDM_BRIDGE_DATA)")


# --------------------------------------------------------------------------- serve

def service_config(args: argparse.Namespace):
    """The :class:`ServiceConfig` that ``serve``'s options describe (hooks may adjust it first)."""
    from .config import ServiceConfig

    return ServiceConfig(library=args.library, journal=args.journal, device=args.device, dtype=args.dtype,
                         preload_model=args.preload, max_attempts=args.max_attempts,
                         load_timeout_s=args.load_timeout, step_timeout_s=args.step_timeout)


def event_line(event, as_json: bool = False, quiet: bool = False) -> str | None:
    """One line of ``serve`` output for an event (None: nothing to print)."""
    from .events import (EngineCrashed, EngineState, JobCancelled, JobDone, JobFailed, JobPreview, JobProgress,
                         JobQueued, JobRequeued, JobStarted, ModelLoaded, ModelLoading, ServiceConnection)

    if as_json:
        if isinstance(event, JobPreview):
            data = {"job_id": event.job_id, "step": event.step, "total": event.total,
                    "sample_rate": event.sample_rate, "frames": int(len(event.audio))}
        else:
            data = {k: v for k, v in vars(event).items()}
        return json.dumps({"event": type(event).__name__, **data}, default=str)
    if isinstance(event, JobProgress):
        return None if quiet else f"job {event.job_id}: step {event.step}/{event.total}, eta {event.eta_s:.1f} s"
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
        ServiceConnection: lambda e: ("connected to the render service" + (f" (pid {e.pid})" if e.pid else "")
                                      if e.connected else f"lost the render service: {e.reason}"),
    }.get(type(event))
    return text(event) if text else None


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from .service import RenderService

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    hooks = [h for h in args.serve_hooks if h.hook is not None]
    for h in args.serve_hooks:
        if h.error:
            commands.warn(h.error)
    service = RenderService(service_config(args))
    stream = service.events()
    done = threading.Event()

    def on_signal(signum, frame) -> None:
        done.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    attached = []
    exit_code = 0
    try:
        service.start()
        st = service.status()
        print(f"serving: library {st.library}, journal {st.journal}, {st.queue.get('queued', 0)} queued; "
              f"front ends connect on {st.endpoint}", file=sys.stderr)
        if st.journal_recovered_from:
            print(f"warning: the journal was unreadable and was moved to {st.journal_recovered_from}",
                  file=sys.stderr)
        for h in hooks:  # the rooms that attach to a running service (OSC, MIDI ...)
            handle = h.hook.attach(service, args)
            if handle is not None:
                attached.append(handle)
        exit_code = _serve_loop(service, stream, done, args)
    finally:
        print("stopping ...", file=sys.stderr)
        for handle in reversed(attached):
            try:
                handle.close()
            except Exception as exc:  # one room failing to close must not keep the engine running
                commands.warn(f"closing {handle!r} failed: {exc}")
        service.stop()
        for s, h in old.items():
            signal.signal(s, h)
    return exit_code


def _serve_loop(service, stream, done: threading.Event, args: argparse.Namespace) -> int:
    while not done.is_set():
        event = stream.get(timeout=0.2)
        if event is not None:
            text = event_line(event, args.json, args.quiet)
            if text:
                print(text, flush=True)
            continue
        if args.until_idle:
            st = service.status()
            if st.state == "stopped":
                print(f"engine stopped: {st.reason}", file=sys.stderr)
                return 1
            if st.queue.get("queued", 0) == 0 and st.queue.get("running", 0) == 0 and st.state == "ready":
                return 0
    return 0


# --------------------------------------------------------------------------- jobs

def _time(t: float | None) -> str:
    return _dt.datetime.fromtimestamp(t).strftime("%m-%d %H:%M:%S") if t else "-"


def cmd_jobs(args: argparse.Namespace) -> int:
    """Through the running service when there is one (so it hears of jobs and cancels at once),
    else on the journal alone (the next ``serve`` picks the jobs up)."""
    from .client import ServiceClient
    from .protocol import ServiceUnavailable

    action = getattr(args, "jobs_cmd", None) or "list"
    try:
        api = ServiceClient(args.journal)
    except ServiceUnavailable as exc:
        if action in ("status", "watch"):
            raise BridgeError(str(exc)) from None
        api = None
    journal = None
    if api is None:
        from .journal import Journal

        journal = Journal(args.journal)
    try:
        return _JOBS[action](args, api, journal)
    finally:
        (api or journal).close()


def _jobs_list(args, api, journal) -> int:
    states = args.state or None
    rows = (api.jobs(states, args.limit, newest_first=True) if api is not None
            else journal.list(states, limit=args.limit, newest_first=True))
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
        what = f"{req.get('mode', 'generate')}: {req.get('prompt', '')[:40]!r}"
        tail = (r.error or "") if r.state == "failed" else (", ".join(Path(p).name for p in r.outputs))
        print(f"{r.id:>5}  {r.state:<9}  {r.lane:<8}  {r.attempts:>3}  {_time(r.created):<14}  {took:>7}  "
              f"{what}{'  ' + tail if tail else ''}")
    counts = api.status().queue if api is not None else journal.counts()
    where = f"service pid {api.server_pid}" if api is not None else "journal only: no service running"
    print("  ".join(f"{k} {v}" for k, v in counts.items()) + f"  ({where})", file=sys.stderr)
    return 0


def _jobs_show(args, api, journal) -> int:
    rec = api.job(args.id) if api is not None else journal.get(args.id)
    if rec is None:
        raise BridgeError(f"no job {args.id}")
    print(json.dumps(rec.to_dict(), indent=2))
    return 0


def _jobs_cancel(args, api, journal) -> int:
    if api is not None:
        result = api.cancel(args.id)
        before = {"cancelled": "queued", "cancelling": "running"}.get(result, result)
        state = result
    else:
        before, rec = journal.cancel(args.id)
        state = rec.state if rec is not None else "unknown"
    if before in (None, "unknown"):
        raise BridgeError(f"no job {args.id}")
    if before == "queued":
        print(f"job {args.id}: cancelled")
    elif before == "running":
        print(f"job {args.id}: cancelling (the service stops it before its next step)")
    else:
        print(f"job {args.id} is already {state}")
    return 0


def _jobs_retry(args, api, journal) -> int:
    job = api.retry(args.id) if api is not None else journal.retry(args.id).id
    print(f"job {job}: queued again")
    return 0


def _jobs_add(args, api, journal) -> int:
    if args.output is not None:
        raise BridgeError("jobs add cannot choose an output file: the service writes into its output "
                          "library (set it with: audioldm-bridge serve --library DIR)")
    request = _cli.request_from_args(args, dict(
        mode="generate", prompt=args.prompt or "", duration_s=args.duration, variations=args.variations,
        sample_rate=args.sample_rate, channels=args.channels, sample_format=args.sample_format,
        **_cli.common_request_fields(args)))
    if api is not None:
        job = api.submit(request, args.lane, preview_every=args.preview_every)
        print(f"job {job}: queued ({args.lane}, seed {request.seed}) on the service (pid {api.server_pid})")
    else:
        rec, _ = journal.add(request.to_json(), args.lane, preview_every=args.preview_every)
        print(f"job {rec.id}: queued ({args.lane}, seed {request.seed}); no service is running: "
              f"start one with: audioldm-bridge serve")
    return 0


def _jobs_status(args, api, journal) -> int:
    st = api.status()
    print(json.dumps(st.to_dict(), indent=2) if args.json else st.summary())
    return 0


def _jobs_watch(args, api, journal) -> int:
    """Print the running service's events (of one job, until it ends), like ``serve`` does."""
    from .events import TERMINAL_EVENTS, ServiceConnection

    stream = api.events()
    try:
        if args.id is not None:
            rec = api.job(args.id)
            if rec is None:
                raise BridgeError(f"no job {args.id}")
            if rec.terminal:
                print(f"job {rec.id}: {rec.state}" + (f" -> {', '.join(rec.outputs)}" if rec.outputs else ""))
                return 0 if rec.state == "done" else 1
        while True:
            event = stream.get(timeout=0.5)
            if event is None:
                continue
            if args.id is not None and getattr(event, "job_id", args.id) != args.id \
                    and not isinstance(event, ServiceConnection):
                continue
            text = event_line(event, args.json, args.quiet)
            if text:
                print(text, flush=True)
            if args.id is not None and isinstance(event, TERMINAL_EVENTS):
                return 0 if type(event).__name__ == "JobDone" else 1
    except KeyboardInterrupt:
        return 0
    finally:
        stream.close()


_JOBS = {"list": _jobs_list, "show": _jobs_show, "cancel": _jobs_cancel, "retry": _jobs_retry,
         "add": _jobs_add, "status": _jobs_status, "watch": _jobs_watch}


# --------------------------------------------------------------------------- registration

def register_serve(sub: argparse._SubParsersAction) -> None:
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
    hooks = commands.load_serve_hooks()
    for h in hooks:  # other rooms' options (OSC, MIDI ...), declared as serve-hook entry points
        if h.hook is not None:
            h.hook.add_arguments(s)
    s.set_defaults(func=cmd_serve, serve_hooks=hooks)


def register_jobs(sub: argparse._SubParsersAction) -> None:
    j = sub.add_parser("jobs", help="the render queue and history: add, cancel, retry, watch jobs")
    _add_journal_option(j)
    j.add_argument("--state", action="append", choices=("queued", "running", "done", "failed", "cancelled"),
                   help="only jobs in this state (repeatable)")
    j.add_argument("--limit", type=int, default=50, help="newest N jobs (default 50)")
    j.add_argument("--json", action="store_true", help="machine-readable output")
    j.add_argument("-q", "--quiet", action="store_true", help="watch: no per-step lines")
    j.set_defaults(func=cmd_jobs, jobs_cmd=None)
    jsub = j.add_subparsers(dest="jobs_cmd")
    jsub.add_parser("list", help="the queue and history (default)")
    for name, text in (("show", "one job in full, as JSON"), ("cancel", "cancel a queued or running job"),
                       ("retry", "queue a failed or cancelled job again")):
        p = jsub.add_parser(name, help=text)
        p.add_argument("id", type=int)
    jsub.add_parser("status", help="the running service's state (engine, model, memory, queue)")
    w = jsub.add_parser("watch", help="follow the running service's events (of one job, until it ends)")
    w.add_argument("id", type=int, nargs="?", default=None)
    a = jsub.add_parser("add", help="queue a text-to-audio render for the service")
    a.add_argument("prompt", nargs="?", default=None, help="what to hear (optional with --preset)")
    a.add_argument("--duration", type=float, default=5.0, help="seconds (default 5)")
    a.add_argument("--variations", type=int, default=1)
    a.add_argument("--lane", choices=("batch", "audition"), default="batch")
    a.add_argument("--preview-every", type=int, default=0, help="preview waveform every N steps (0: none)")
    _cli.add_render_options(a)
    _cli.add_output_format_options(a)
