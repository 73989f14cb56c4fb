"""The render service: a durable queue in front of one supervised engine process.

:class:`RenderService` is the Qt-free client API the CLI ``serve`` command uses now and the GUI and
DAW bridge use later. Every call returns quickly whatever the engine is doing (loading, hung,
dead, crash-looping): calls only touch the journal and in-memory state, and one supervisor thread
does all the talking to the engine process.

Supervision (after Carla's plugin bridge and the "three crashes in a minute" rule):

* heartbeat every ``heartbeat_s`` from a thread in the engine, even mid-step; none for
  ``heartbeat_timeout_s`` -> the engine is hung: killed and restarted;
* per-operation timeouts: engine start, model load, render progress (no step for
  ``step_timeout_s``) -> killed and restarted;
* a crash re-queues the running job (its attempt counts; after ``max_attempts`` it fails with the
  reason) and the engine restarts; ``crash_limit`` crashes within ``crash_window_s`` -> the engine
  stays stopped with the reason in :meth:`RenderService.status`, queued jobs stay queued, and
  :meth:`RenderService.restart` starts it again.
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing
import multiprocessing.connection
import queue
import signal
import threading
import time
import weakref
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import BridgeError, InvalidRequest
from ..request import RenderRequest
from .events import (EngineCrashed, EngineState, Event, EventStream, JobCancelled, JobDone, JobFailed,
                     JobPreview, JobProgress, JobQueued, JobRequeued, JobStarted, ModelLoaded,
                     ModelLoadFailed, ModelLoading)
from .journal import LANES, InvalidTransition, JobRecord, Journal, ServiceLock
from .worker import worker_main

log = logging.getLogger("engine.service")


class ServiceError(BridgeError):
    """The service cannot do what was asked (not started, already running elsewhere...)."""


@dataclass
class ServiceConfig:
    """Everything about the service a caller may choose. Times in seconds."""

    #: The output library: every file a request produces goes here, nowhere else.
    #: Default: :func:`engine.paths.output_dir` (``AUDIOLDM_BRIDGE_OUTPUT`` overrides).
    library: str | Path | None = None
    #: The SQLite journal. Default: ``jobs.sqlite3`` in :func:`engine.paths.data_dir`.
    journal: str | Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    #: Load this model as soon as the engine starts (warm first render).
    preload_model: str | None = None
    #: Starts of one job before it fails (each engine crash during the job counts one).
    max_attempts: int = 3
    #: This many crashes within ``crash_window_s`` -> the engine stays stopped until restart().
    crash_limit: int = 3
    crash_window_s: float = 60.0
    #: Pauses before restart after the 1st, 2nd, ... crash in the window.
    restart_backoff_s: tuple[float, ...] = (0.0, 0.5, 2.0)
    heartbeat_s: float = 0.5
    heartbeat_timeout_s: float = 30.0
    #: Spawn -> ready (importing torch and diffusers).
    start_timeout_s: float = 180.0
    load_timeout_s: float = 300.0
    #: No progress (step, preview, done) for this long while rendering -> hung.
    step_timeout_s: float = 120.0
    #: stop()/restart(): how long a running job may take to stop (one step) before the engine is killed.
    stop_grace_s: float = 10.0
    #: An audition job interrupts a running batch job (which is re-queued, its attempt not counted)
    #: if that job has rendered for less than ``preempt_max_loss_s`` and was preempted fewer than
    #: ``max_preemptions`` times; otherwise the audition runs next.
    preempt: bool = True
    preempt_max_loss_s: float = 20.0
    max_preemptions: int = 3
    #: When set, edit requests may only read source files under these folders (the DAW bridge
    #: sets it; the local GUI and CLI may leave it None).
    source_roots: tuple[str | Path, ...] | None = None
    #: How often the supervisor looks at the journal when nothing wakes it (jobs added and
    #: cancels requested by other processes, e.g. ``audioldm-bridge jobs add``).
    poll_s: float = 0.25
    torch_threads: int | None = None
    #: Keep a second engine process started (torch imported, no model loaded) to take over at once
    #: after a crash: restart in about a model load instead of a full start, for the memory of
    #: one idle engine (~400 MB RSS; no GPU memory until it loads a model). Off by default.
    spare_engine: bool = False
    #: Test hooks that make the engine misbehave on purpose (see worker.py). Never set in the app.
    faults: dict[str, Any] | None = None


@dataclass(frozen=True)
class ServiceStatus:
    """A snapshot of the service for a status bar or ``audioldm-bridge serve``."""

    #: not_started | starting | ready | loading | busy | restarting | stopped
    state: str
    reason: str | None
    pid: int | None
    device: str | None
    model: str | None
    rss_bytes: int | None
    gpu_bytes: int | None
    running_job: int | None
    step: int | None
    total: int | None
    queue: dict[str, int]
    crash_count: int
    recent_crashes: int
    restarts: int
    heartbeat_age_s: float | None
    cold_start_s: float | None
    last_restart_s: float | None
    library: str
    journal: str
    journal_recovered_from: str | None = None
    #: The warm spare engine (``spare_engine=True``): its pid and state (starting, ready).
    spare_pid: int | None = None
    spare_state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        mem = f"{self.rss_bytes / 2**20:.0f} MiB" if self.rss_bytes else "?"
        job = f", job {self.running_job} step {self.step}/{self.total}" if self.running_job else ""
        why = f" ({self.reason})" if self.reason else ""
        q = self.queue
        return (f"engine {self.state}{why}; device {self.device or '?'}, model {self.model or 'none'}, "
                f"memory {mem}{job}; queued {q.get('queued', 0)}, done {q.get('done', 0)}, "
                f"failed {q.get('failed', 0)}, crashes {self.crash_count}")


@dataclass
class _Running:
    rec: JobRecord
    dispatched: float
    acked: bool = False
    loading_since: float | None = None
    render_started: float | None = None
    last_progress: float = 0.0
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    #: Why the engine was asked to stop this job: user, preempt, stop, restart.
    cancel_reason: str | None = None


class _Worker:
    """The parent's handle on one engine process."""

    def __init__(self, ctx, cfg: dict[str, Any]) -> None:
        cmd_r, self.cmd_w = ctx.Pipe(duplex=False)
        self.evt_r, evt_w = ctx.Pipe(duplex=False)
        self.cancel_seq = ctx.RawValue("q", 0)
        self.cancel_time = ctx.RawValue("d", 0.0)
        self.proc = ctx.Process(target=worker_main, name="audioldm-bridge-engine", daemon=True,
                                args=(cmd_r, evt_w, self.cancel_seq, self.cancel_time, cfg))
        self.spawned = time.monotonic()
        self.proc.start()
        # Close our copies of the child's ends so its death reads as EOF here.
        cmd_r.close()
        evt_w.close()
        self.pid: int | None = self.proc.pid
        self.phase = "starting"  # starting | idle | loading | busy
        self.ready_at: float | None = None
        self.last_heartbeat = self.spawned
        self.loading_since: float | None = None
        self.device: str | None = None
        self.model: str | None = None
        self.loading_model: str | None = None
        self.rss: int | None = None
        self.gpu: int | None = None
        self.shutdown_sent = False

    def send(self, kind: str, **data: Any) -> bool:
        try:
            self.cmd_w.send((kind, data))
            return True
        except (BrokenPipeError, EOFError, OSError):
            return False

    def cancel(self, job_id: int) -> None:
        self.cancel_time.value = time.monotonic()
        self.cancel_seq.value = job_id

    def clear_cancel(self) -> None:
        self.cancel_seq.value = 0
        self.cancel_time.value = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            try:
                self.proc.kill()
            except (OSError, ValueError):
                pass
        self.proc.join(5)

    def close(self) -> None:
        for c in (self.cmd_w, self.evt_r):
            try:
                c.close()
            except OSError:
                pass
        try:
            self.proc.close()
        except ValueError:
            pass


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "engine process vanished"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"engine process killed by {name}"
    if code == 0:
        return "engine process exited unexpectedly"
    return f"engine process exited with code {code}"


class RenderService:
    """Submit, cancel and watch renders; the engine runs in a supervised background process.

    >>> service = RenderService(library="~/Music/AudioLDM Bridge")   # doctest: +SKIP
    >>> service.start()                                             # doctest: +SKIP
    >>> job = service.submit(RenderRequest(prompt="a low kick drum", duration_s=1.0))  # doctest: +SKIP
    >>> service.wait(job).outputs                                   # doctest: +SKIP
    """

    def __init__(self, config: ServiceConfig | None = None, **overrides: Any) -> None:
        cfg = config or ServiceConfig()
        if overrides:
            cfg = ServiceConfig(**{**asdict(cfg), **overrides})
        self.config = cfg
        self.library = Path(cfg.library).expanduser() if cfg.library is not None else paths.output_dir()
        self.library = self.library.resolve()
        self.journal = Journal(cfg.journal)
        self._source_roots = (None if cfg.source_roots is None
                              else tuple(Path(p).expanduser().resolve() for p in cfg.source_roots))
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._subscribers: list[EventStream] = []
        self._commands: queue.Queue = queue.Queue()
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        #: Held while a job is added and announced, and while one is claimed: JobQueued always
        #: reaches subscribers before JobStarted.
        self._queue_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._service_lock = ServiceLock(self.journal.path)
        # supervisor state (written by the supervisor thread, read under _lock)
        self._started = False
        self._worker: _Worker | None = None
        self._spare: _Worker | None = None
        self._spare_deaths: deque[float] = deque()
        self._spare_at = 0.0
        self._running: _Running | None = None
        self._halted: str | None = None
        self._stopped = False
        self._crash_times: deque[float] = deque()
        self._crash_total = 0
        self._restarts = 0
        self._restart_at = 0.0
        self._crashed_at: float | None = None
        self._cold_start_s: float | None = None
        self._last_restart_s: float | None = None
        self._retiring: dict[str, Any] | None = None
        self._want_model: str | None = None
        self._cleanup: list[dict[str, Any]] = []
        self._next_poll = 0.0
        self._next_preempt_check = 0.0
        self._audition_hint = False
        self._last_model: str | None = cfg.preload_model
        self._atexit = None

    # ================================================================== client API
    def start(self) -> "RenderService":
        """Take the journal, re-queue what a dead service left running and start the engine.
        Returns at once; the engine warms up in the background (see :meth:`wait_ready`)."""
        with self._lock:
            if self._started:
                return self
            if self._stopped:
                raise ServiceError("this service was stopped; create a new RenderService")
            self.library.mkdir(parents=True, exist_ok=True)
            self._service_lock.acquire()
            try:
                for rec in self.journal.recover(self.config.max_attempts):
                    self._publish(JobRequeued(job_id=rec.id, reason="recovered after the app stopped",
                                              attempts=rec.attempts, counted=True)
                                  if rec.state == "queued" else
                                  JobFailed(job_id=rec.id, error=rec.error or "", attempts=rec.attempts)
                                  if rec.state == "failed" else JobCancelled(job_id=rec.id))
            except BaseException:
                self._service_lock.release()
                raise
            self._started = True
            self._thread = threading.Thread(target=self._supervise, name="render-supervisor", daemon=True)
            self._thread.start()
            ref = weakref.ref(self)
            self._atexit = lambda: (lambda s: s and s._emergency_stop())(ref())
            atexit.register(self._atexit)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the engine: a running job is interrupted (within one step) and put back in the queue
        (its attempt not counted), queued jobs stay queued for the next start. Blocks until the
        engine is gone (at most ``stop_grace_s`` plus a few seconds; then it is killed)."""
        with self._lock:
            started, already = self._started, self._stopped
            self._stopped = self._stopped or not started
        if started and not already:
            self._command("stop")
            self._thread.join(timeout if timeout is not None else self.config.stop_grace_s + 15)
            if self._thread.is_alive():  # the supervisor itself is stuck: do it from here
                self._emergency_stop()
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None
        self._service_lock.release()
        for s in list(self._subscribers):
            s.close()
        self.journal.close()

    def restart(self) -> None:
        """Start the engine again: clears a crash-loop stop (and its crash history); a running
        engine is stopped cleanly first (its job re-queued, not counted)."""
        self._require_started()
        self._command("restart")

    def submit(self, request: RenderRequest | dict | str, lane: str = "batch", *, preview_every: int = 0,
               key: str | None = None) -> int:
        """Queue a render and return its job id once the job is on disk. Never waits for the engine.

        ``lane``: ``"batch"`` or ``"audition"`` (short live previews, run first). ``preview_every``:
        send a :class:`JobPreview` draft waveform every N steps (0: none). ``key``: an idempotency
        key; submitting the same key again returns the first job's id instead of a duplicate.
        Requests cannot choose where files go: the service writes into its output library.
        """
        req = self._coerce(request)
        if lane not in LANES:
            raise InvalidRequest(f"unknown lane {lane!r}; use one of: {', '.join(LANES)}")
        if isinstance(preview_every, bool) or not isinstance(preview_every, int) or preview_every < 0:
            raise InvalidRequest(f"preview_every must be a whole number >= 0, got {preview_every!r}")
        self._check_source(req)
        with self._queue_lock:
            rec, created = self.journal.add(req.to_json(), lane, preview_every=preview_every, client_key=key)
            if created:
                self._publish(JobQueued(job_id=rec.id, lane=lane))
        if created:
            if lane == "audition":
                self._audition_hint = True
            self._wake()
        return rec.id

    def cancel(self, job_id: int) -> str:
        """Cancel a job. Returns ``"cancelled"`` (it was queued: it is out of the queue now),
        ``"cancelling"`` (it is running: it stops before its next sampling step), the final state
        of a job that had already finished, or ``"unknown"``."""
        before, rec = self.journal.cancel(job_id)
        if rec is None:
            return "unknown"
        if before == "queued":
            self._publish(JobCancelled(job_id=rec.id))
            return "cancelled"
        if before == "running":
            self._command("cancel", rec.id)
            return "cancelling"
        return rec.state

    def retry(self, job_id: int) -> int:
        """Queue a failed or cancelled job again (same request, same seed, same file names)."""
        with self._queue_lock:
            rec = self.journal.retry(job_id)
            self._publish(JobQueued(job_id=rec.id, lane=rec.lane))
        self._wake()
        return rec.id

    def load_model(self, name: str | None) -> None:
        """Load (warm) a model now, when the engine is idle; the previous one is evicted."""
        self._command("load", name)

    def events(self, max_pending: int = 1000) -> EventStream:
        """A new subscription to every event from now on (iterate it, or ``get(timeout)``);
        ``close()`` it when done."""
        stream = EventStream(max_pending, on_close=self._unsubscribe)
        with self._lock:
            self._subscribers.append(stream)
        return stream

    def status(self) -> ServiceStatus:
        """A snapshot; never waits for the engine."""
        try:
            counts = self.journal.counts()
        except Exception:  # a busy or closed journal must not break a status bar
            counts = {}
        now = time.monotonic()
        with self._lock:
            w, r = self._worker, self._running
            return ServiceStatus(
                state=self._state_name(), reason=self._halted, pid=w.pid if w else None,
                device=w.device if w else None, model=w.model if w else None,
                rss_bytes=w.rss if w else None, gpu_bytes=w.gpu if w else None,
                running_job=r.rec.id if r else None, step=r.step if r else None, total=r.total if r else None,
                queue=counts, crash_count=self._crash_total,
                recent_crashes=sum(1 for t in self._crash_times if now - t <= self.config.crash_window_s),
                restarts=self._restarts,
                heartbeat_age_s=(now - w.last_heartbeat) if w else None,
                cold_start_s=self._cold_start_s, last_restart_s=self._last_restart_s,
                library=str(self.library), journal=str(self.journal.path),
                journal_recovered_from=str(self.journal.recovered_from) if self.journal.recovered_from else None,
                spare_pid=self._spare.pid if self._spare else None,
                spare_state=(None if self._spare is None else
                             "starting" if self._spare.phase == "starting" else "ready"),
            )

    def job(self, job_id: int) -> JobRecord | None:
        return self.journal.get(job_id)

    def jobs(self, states=None, limit: int | None = None) -> list[JobRecord]:
        return self.journal.list(states, limit=limit)

    def wait(self, job_id: int, timeout: float | None = None) -> JobRecord:
        """Block until the job is done, failed or cancelled; raises TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rec = self.journal.get(job_id)
            if rec is None:
                raise ServiceError(f"no job {job_id}")
            if rec.terminal:
                return rec
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"job {job_id} is still {rec.state}")
            with self._changed:
                self._changed.wait(0.5 if left is None else min(0.5, left))

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until no job is queued or running; raises TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            counts = self.journal.counts()
            if counts["queued"] == 0 and counts["running"] == 0:
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"{counts['queued']} queued, {counts['running']} running")
            with self._changed:
                self._changed.wait(0.5 if left is None else min(0.5, left))

    def wait_ready(self, timeout: float | None = None) -> ServiceStatus:
        """Block until the engine is up (ready or busy); raises TimeoutError, or ServiceError if it
        stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st = self.status()
            if st.state in ("ready", "busy", "loading") and st.pid is not None:
                return st
            if st.state == "stopped":
                raise ServiceError(f"the engine is stopped: {st.reason}")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"engine still {st.state}")
            with self._changed:
                self._changed.wait(0.1)

    def __enter__(self) -> "RenderService":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ client helpers
    def _coerce(self, request: RenderRequest | dict | str) -> RenderRequest:
        if isinstance(request, RenderRequest):
            return request
        if isinstance(request, str):
            try:
                request = json.loads(request)
            except json.JSONDecodeError as exc:
                raise InvalidRequest(f"request is not valid JSON: {exc}") from exc
        if isinstance(request, dict):
            if "output" in request or "output_path" in request:
                raise InvalidRequest("a request cannot choose its output file; the service writes into "
                                     f"its output library ({self.library})")
            return RenderRequest.from_dict(request)
        raise InvalidRequest(f"a request must be a RenderRequest, a dict or JSON text, got {type(request).__name__}")

    def _check_source(self, req: RenderRequest) -> None:
        if req.source_path is None or self._source_roots is None:
            return
        src = Path(req.source_path).expanduser().resolve()
        for root in self._source_roots:
            try:
                src.relative_to(root)
                return
            except ValueError:
                continue
        raise InvalidRequest(f"source file {req.source_path} is outside the folders this service may read "
                             f"({', '.join(str(r) for r in self._source_roots)})")

    def _require_started(self) -> None:
        if not self._started:
            raise ServiceError("the service is not started; call start() first")

    def _command(self, *cmd: Any) -> None:
        self._commands.put(cmd)
        self._wake()

    def _wake(self) -> None:
        with self._wake_lock:
            if self._wake_pending or self._stopped:
                return
            self._wake_pending = True
            try:
                self._wake_w.send_bytes(b"!")
            except OSError:
                pass

    def _unsubscribe(self, stream: EventStream) -> None:
        with self._lock:
            if stream in self._subscribers:
                self._subscribers.remove(stream)

    def _publish(self, event: Event) -> None:
        with self._lock:
            subs = list(self._subscribers)
        for s in subs:
            s.put(event)
        if isinstance(event, (JobDone, JobFailed, JobCancelled, EngineState)):
            with self._changed:
                self._changed.notify_all()

    def _state_name(self) -> str:
        if not self._started:
            return "not_started"
        if self._halted is not None or self._stopped:
            return "stopped"
        w = self._worker
        if w is None:
            return "restarting" if self._crash_total else "starting"
        if w.phase == "starting":
            return "restarting" if self._crashed_at is not None else "starting"
        if w.phase == "loading":
            return "loading"
        if self._running is not None:
            return "busy"
        return "ready"

    # ================================================================== supervisor thread
    def _supervise(self) -> None:
        try:
            while True:
                now = time.monotonic()
                if self._handle_commands():
                    break
                if self._retiring is not None and self._advance_retire(now):
                    break
                self._ensure_worker(now)
                self._ensure_spare(now)
                self._poll_journal(now)
                self._maybe_preempt(now)
                self._dispatch()
                self._pump(self.config.poll_s)
                # After reading the pipe: a heartbeat waiting unread is not a missing heartbeat.
                self._check_timeouts(time.monotonic())
        except BaseException as exc:  # never die silently: say why, and leave the jobs queued
            log.exception("render supervisor failed")
            with self._lock:
                self._halted = f"supervisor error: {type(exc).__name__}: {exc}"
            self._kill_worker_and_release("the service stopped after an internal error")
        finally:
            with self._lock:
                self._stopped = True
            try:
                self._service_lock.release()
            except OSError:
                pass
            self._publish(EngineState(state="stopped", reason=self._halted or "stopped"))

    # ------------------------------------------------------------------ commands
    def _handle_commands(self) -> bool:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return False
            kind = cmd[0]
            if kind == "stop":
                if self._worker is None:
                    if self._spare is not None:
                        self._spare_lost("stopped")
                    return True
                self._retire("stop")
            elif kind == "restart":
                with self._lock:
                    self._halted = None
                    self._crash_times.clear()
                    self._restart_at = 0.0
                    self._crashed_at = None
                if self._worker is not None:
                    self._retire("restart")
                else:
                    self._publish(EngineState(state="starting", reason="restart requested"))
            elif kind == "cancel":
                r = self._running
                if r is not None and r.rec.id == cmd[1] and self._worker is not None:
                    if r.cancel_reason is None or r.cancel_reason == "preempt":
                        r.cancel_reason = "user"
                    self._worker.cancel(r.rec.id)
            elif kind == "load":
                self._want_model = cmd[1] or "builtin:default"

    # ------------------------------------------------------------------ engine lifecycle
    def _worker_config(self, preload: bool = True) -> dict[str, Any]:
        cfg = self.config
        return {
            "library": str(self.library), "device": cfg.device, "dtype": cfg.dtype,
            "heartbeat_s": cfg.heartbeat_s, "preload_model": self._last_model if preload else None,
            "torch_threads": cfg.torch_threads, "faults": dict(cfg.faults or {}),
        }

    def _ensure_worker(self, now: float) -> None:
        if self._worker is not None or self._halted is not None or self._retiring is not None:
            return
        if now < self._restart_at:
            return
        spare = self._spare
        if spare is not None and spare.proc.is_alive():
            # The warm spare takes over: no imports to wait for, only the model to load.
            with self._lock:
                self._spare = None
                self._worker = spare
                if self._crashed_at is not None:
                    self._restarts += 1
                    if spare.phase != "starting":
                        self._last_restart_s = now - self._crashed_at
                        self._crashed_at = None
                if self._last_model is not None:
                    self._want_model = self._last_model
                self._spare_at = now + 3.0  # let the model load before the next spare imports torch
            self._publish(EngineState(state="ready" if spare.phase != "starting" else "restarting", pid=spare.pid,
                                      reason="the spare engine took over"))
            return
        w = _Worker(self._ctx, self._worker_config())
        with self._lock:
            self._worker = w
            if self._crashed_at is not None:
                self._restarts += 1
        self._publish(EngineState(state="restarting" if self._crashed_at is not None else "starting", pid=w.pid))

    def _ensure_spare(self, now: float) -> None:
        """Keep one warm spare engine (``spare_engine``), started only once the main engine is up
        (two processes importing torch at once would slow the first start)."""
        w = self._worker
        if (not self.config.spare_engine or self._spare is not None or w is None or w.phase == "starting"
                or self._halted is not None or self._retiring is not None or now < self._spare_at):
            return
        while self._spare_deaths and now - self._spare_deaths[0] > self.config.crash_window_s:
            self._spare_deaths.popleft()
        if len(self._spare_deaths) >= self.config.crash_limit:
            return  # spares keep dying: run without one
        self._spare = _Worker(self._ctx, self._worker_config(preload=False))

    def _spare_lost(self, reason: str) -> None:
        sp = self._spare
        if sp is None:
            return
        sp.kill()
        sp.close()
        with self._lock:
            self._spare = None
        now = time.monotonic()
        self._spare_deaths.append(now)
        self._spare_at = now + 5.0
        log.warning("spare engine lost: %s", reason)

    def _retire(self, kind: str) -> None:
        """Stop the engine cleanly: interrupt the running job, then shut the process down."""
        self._retiring = {"kind": kind, "deadline": time.monotonic() + self.config.stop_grace_s,
                          "shutdown_deadline": None}
        if kind == "stop" and self._spare is not None:
            self._spare.send("shutdown")
            self._spare.proc.join(1)
            self._spare_lost("stopped")
        r, w = self._running, self._worker
        if r is not None and w is not None and r.cancel_reason != "user":
            r.cancel_reason = kind
            w.cancel(r.rec.id)

    def _advance_retire(self, now: float) -> bool:
        """Returns True when the service should leave its loop (a stop is complete)."""
        info = self._retiring
        w = self._worker
        if w is None:
            self._retiring = None
            if info["kind"] == "stop":
                if self._spare is not None:
                    self._spare_lost("stopped")
                return True
            self._restart_at = 0.0
            return False
        if self._running is not None and now < info["deadline"]:
            return False  # the job stops within one step; wait for its message
        if info["shutdown_deadline"] is None and self._running is None:
            w.send("shutdown")
            info["shutdown_deadline"] = now + 5.0
            return False
        if self._running is not None or now >= info["shutdown_deadline"]:
            self._worker_lost(f"engine stopped ({info['kind']})", kill=True)
        return False

    def _kill_worker_and_release(self, note: str) -> None:
        sp = self._spare
        if sp is not None:
            sp.kill()
            sp.close()
            self._spare = None
        w = self._worker
        if w is not None:
            w.kill()
            w.close()
        r = self._running
        self._worker = None
        self._running = None
        if r is not None:
            try:
                self.journal.release(r.rec.id, note)
            except Exception:
                pass

    def _emergency_stop(self) -> None:
        """Process exit without stop(): kill the engine, put its job back (not counted)."""
        try:
            with self._lock:
                self._stopped = True
            self._kill_worker_and_release("the app exited while this job was running")
            self._service_lock.release()
        except Exception:
            pass

    def _worker_lost(self, reason: str, *, kill: bool = False) -> None:
        """The engine is gone (or about to be killed): settle its job, count the crash, plan a restart."""
        w = self._worker
        if w is None:
            return
        if kill:
            w.kill()
        else:
            w.proc.join(2)
            if w.proc.is_alive():
                w.kill()
        pid = w.pid
        w.close()
        intentional = self._retiring is not None
        if intentional:
            reason = f"engine stopped ({self._retiring['kind']})"
        r = self._running
        with self._lock:
            self._worker = None
            self._running = None
        if r is not None:
            self._settle_lost_job(r, reason, intentional)
            self._cleanup.append({"request": r.rec.request_json, "since": r.rec.started or time.time(),
                                  "library": str(self.library)})
        if intentional:
            kind = self._retiring["kind"]
            self._publish(EngineState(state="stopped" if kind == "stop" else "restarting", reason=reason, pid=pid))
            return
        now = time.monotonic()
        with self._lock:
            self._crash_total += 1
            self._crash_times.append(now)
            while self._crash_times and now - self._crash_times[0] > self.config.crash_window_s:
                self._crash_times.popleft()
            recent = len(self._crash_times)
            self._crashed_at = now
            if recent >= self.config.crash_limit:
                self._halted = (f"the engine crashed {recent} times within {self.config.crash_window_s:g} s "
                                f"(last: {reason}); it stays stopped. Queued jobs are kept; "
                                f"restart it to continue")
            else:
                backoff = self.config.restart_backoff_s
                self._restart_at = now + (backoff[min(recent - 1, len(backoff) - 1)] if backoff else 0.0)
        if self._halted is not None and self._spare is not None:
            self._spare_lost("the engine is stopped")
        log.warning("engine lost: %s", reason)
        self._publish(EngineCrashed(pid=pid, reason=reason, crashes_in_window=recent,
                                    will_restart=self._halted is None))
        if self._halted is not None:
            self._publish(EngineState(state="stopped", reason=self._halted, pid=pid))

    def _settle_lost_job(self, r: _Running, reason: str, intentional: bool) -> None:
        job_id = r.rec.id
        try:
            if r.cancel_reason == "user":
                rec = self.journal.mark_cancelled(job_id, f"engine lost while cancelling: {reason}")
                self._publish(JobCancelled(job_id=job_id, steps_done=r.step))
            elif intentional or r.cancel_reason in ("stop", "restart", "preempt"):
                rec = self.journal.release(job_id, f"re-queued: {reason}", preempted=r.cancel_reason == "preempt")
                self._publish_settled(rec, reason, counted=False)
            else:
                rec = self.journal.requeue_after_crash(job_id, reason, self.config.max_attempts)
                self._publish_settled(rec, reason, counted=True)
        except InvalidTransition as exc:
            log.warning("job %s: %s", job_id, exc)

    def _publish_settled(self, rec: JobRecord, reason: str, counted: bool) -> None:
        if rec.state == "queued":
            self._publish(JobRequeued(job_id=rec.id, reason=reason, attempts=rec.attempts, counted=counted))
        elif rec.state == "failed":
            self._publish(JobFailed(job_id=rec.id, error=rec.error or reason, attempts=rec.attempts))
        elif rec.state == "cancelled":
            self._publish(JobCancelled(job_id=rec.id))

    # ------------------------------------------------------------------ timeouts
    def _check_timeouts(self, now: float) -> None:
        sp, cfg = self._spare, self.config
        if sp is not None:
            if sp.phase == "starting" and now - sp.spawned > cfg.start_timeout_s:
                self._spare_lost(f"the spare engine did not start within {cfg.start_timeout_s:g} s")
            elif sp.phase != "starting" and now - sp.last_heartbeat > cfg.heartbeat_timeout_s:
                self._spare_lost("the spare engine is hung (no heartbeat)")
        w, r = self._worker, self._running
        if w is None:
            return
        reason = None
        if w.phase == "starting":
            if now - w.spawned > cfg.start_timeout_s:
                reason = f"the engine did not start within {cfg.start_timeout_s:g} s"
        elif now - w.last_heartbeat > cfg.heartbeat_timeout_s:
            reason = f"the engine is hung: no heartbeat for {now - w.last_heartbeat:.1f} s"
        elif w.phase == "loading" and w.loading_since is not None and now - w.loading_since > cfg.load_timeout_s:
            reason = f"loading model {w.loading_model or '?'} took longer than {cfg.load_timeout_s:g} s"
        elif r is not None and w.phase != "loading":
            since = r.last_progress if r.acked else r.dispatched
            if now - since > cfg.step_timeout_s:
                reason = (f"job {r.rec.id} made no progress for {now - since:.1f} s "
                          f"(step timeout {cfg.step_timeout_s:g} s)")
        if reason is not None:
            self._worker_lost(reason, kill=True)

    # ------------------------------------------------------------------ scheduling
    def _poll_journal(self, now: float) -> None:
        """Cancels requested by other processes (``audioldm-bridge jobs cancel``)."""
        if now < self._next_poll:
            return
        self._next_poll = now + self.config.poll_s
        r, w = self._running, self._worker
        if r is not None and w is not None and r.cancel_reason != "user":
            try:
                if self.journal.cancel_requested(r.rec.id):
                    r.cancel_reason = "user"
                    w.cancel(r.rec.id)
            except Exception:
                log.exception("journal poll failed")

    def _maybe_preempt(self, now: float) -> None:
        cfg, r, w = self.config, self._running, self._worker
        if not cfg.preempt or r is None or w is None or r.cancel_reason is not None or r.rec.lane == "audition":
            self._audition_hint = False
            return
        if not self._audition_hint and now < self._next_preempt_check:
            return
        self._audition_hint = False
        self._next_preempt_check = now + cfg.poll_s
        if r.rec.preemptions >= cfg.max_preemptions:
            return
        if r.render_started is not None and now - r.render_started > cfg.preempt_max_loss_s:
            return
        if r.step and r.eta_s is not None and r.eta_s < 1.0:
            return  # almost done: let it finish
        if self.journal.has_queued("audition"):
            r.cancel_reason = "preempt"
            w.cancel(r.rec.id)

    def _dispatch(self) -> None:
        w = self._worker
        if (w is None or w.phase != "idle" or self._running is not None or self._retiring is not None
                or self._halted is not None):
            return
        while self._cleanup:
            w.send("cleanup", **self._cleanup.pop())
        with self._queue_lock:
            rec = self.journal.claim_next()
        if rec is None:
            if self._want_model is not None:
                model, self._want_model = self._want_model, None
                if model != w.model:
                    w.send("load", model=model)
                    w.phase = "loading"
                    w.loading_since = time.monotonic()
                    w.loading_model = model
            return
        now = time.monotonic()
        w.clear_cancel()
        with self._lock:
            self._running = _Running(rec=rec, dispatched=now, last_progress=now)
            w.phase = "busy"
        if rec.cancel_requested:  # cancelled between claim and dispatch
            self._running.cancel_reason = "user"
            w.cancel(rec.id)
        if not w.send("job", job=rec.id, request=rec.request_json, preview_every=rec.preview_every,
                      attempt=rec.attempts, library=str(self.library)):
            self._worker_lost("the engine pipe is closed", kill=True)

    # ------------------------------------------------------------------ messages
    def _pump(self, timeout: float) -> None:
        w, sp = self._worker, self._spare
        waits: list[Any] = [self._wake_r]
        for h in (w, sp):
            if h is not None:
                waits += [h.evt_r, h.proc.sentinel]
        if self._restart_at > time.monotonic():
            timeout = min(timeout, self._restart_at - time.monotonic())
        ready = multiprocessing.connection.wait(waits, max(0.0, timeout))
        if self._wake_r in ready:
            with self._wake_lock:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
                self._wake_pending = False
        if w is not None:
            self._read(w, ready, self._on_message, self._worker_lost)
        if sp is not None and self._spare is sp:
            self._read(sp, ready, self._on_spare_message, self._spare_lost)

    def _read(self, h: _Worker, ready: list, on_message, on_lost) -> None:
        if h.evt_r not in ready and h.proc.sentinel not in ready:
            return
        dead = h.proc.sentinel in ready
        try:
            # Read what was sent (all of it when the process has died: a "done" may be in there).
            budget = 500
            while (dead or budget) and h.evt_r.poll():
                budget -= 1
                kind, data = h.evt_r.recv()
                on_message(h, kind, data)
                if h is not self._worker and h is not self._spare:
                    return
        except (EOFError, OSError):
            on_lost(self._dead_reason(h))
            return
        except Exception:
            log.exception("bad message from the engine")
        if dead or not h.proc.is_alive():
            on_lost(self._dead_reason(h))

    def _on_spare_message(self, sp: _Worker, kind: str, d: dict[str, Any]) -> None:
        sp.last_heartbeat = time.monotonic()
        if kind == "heartbeat":
            sp.rss = d.get("rss")
        elif kind == "ready":
            sp.phase = "idle"
            sp.device = d.get("device")
            sp.ready_at = time.monotonic()

    @staticmethod
    def _dead_reason(w: _Worker) -> str:
        w.proc.join(2)
        return _exit_reason(w.proc.exitcode)

    def _on_message(self, w: _Worker, kind: str, d: dict[str, Any]) -> None:
        now = time.monotonic()
        if kind != "heartbeat":
            log.debug("engine %s: %s %s", w.pid, kind, {k: v for k, v in d.items() if k != "audio"})
        w.last_heartbeat = now
        r = self._running
        job_id = d.get("job")
        mine = r is not None and job_id == r.rec.id
        if kind == "heartbeat":
            w.rss, w.gpu = d.get("rss"), d.get("gpu")
        elif kind == "hello":
            w.pid = d.get("pid", w.pid)
        elif kind == "bye":
            w.shutdown_sent = True
        elif kind == "ready":
            with self._lock:
                w.phase = "idle" if w.phase == "starting" else w.phase
                w.device = d.get("device")
                w.ready_at = now
                self._cold_start_s = now - w.spawned
                if self._crashed_at is not None:
                    self._last_restart_s = now - self._crashed_at
                    self._crashed_at = None
            self._publish(EngineState(state="ready", pid=w.pid))
        elif kind == "loading":
            with self._lock:
                w.phase = "loading"
                w.loading_since = now
                w.loading_model = d.get("model")
                w.model = None  # the previous model is evicted first
                if mine:
                    r.loading_since = now
            self._publish(ModelLoading(job_id=job_id, model=d.get("model")))
        elif kind == "loaded":
            with self._lock:
                w.model = d.get("model")
                w.device = d.get("device") or w.device
                w.loading_since = None
                w.loading_model = None
                w.phase = "busy" if self._running is not None else "idle"
                self._last_model = w.model
                if r is not None:  # a load (the job's, or a preload the job waited for) is progress
                    r.last_progress = now
                    if not r.acked:
                        r.dispatched = now
            self._publish(ModelLoaded(model=d.get("model"), device=d.get("device"), seconds=d.get("seconds", 0.0)))
        elif kind == "load_failed":
            with self._lock:
                w.model = None
                w.loading_model = None
                w.loading_since = None
                w.phase = "busy" if self._running is not None else "idle"
                if self._last_model == d.get("model"):
                    self._last_model = None
            self._publish(ModelLoadFailed(model=d.get("model"), error=d.get("error", "")))
        elif not mine:
            log.warning("engine message %s for job %s, which is not running", kind, job_id)
        elif kind == "started":
            r.acked = True
            r.render_started = now
            r.last_progress = now
            self._publish(JobStarted(job_id=job_id, attempt=r.rec.attempts, pid=d.get("pid") or w.pid))
        elif kind == "step":
            r.step, r.total, r.eta_s = d["step"], d["total"], d.get("eta")
            r.last_progress = now
            self._publish(JobProgress(job_id=job_id, step=d["step"], total=d["total"],
                                      elapsed_s=d.get("elapsed", 0.0), eta_s=d.get("eta", 0.0)))
        elif kind == "preview":
            r.last_progress = now
            self._publish(JobPreview(job_id=job_id, step=d["step"], total=d["total"], sample_rate=d["rate"],
                                     audio=d["audio"]))
        elif kind in ("done", "failed", "cancelled"):
            self._finish(w, r, kind, d)

    def _finish(self, w: _Worker, r: _Running, kind: str, d: dict[str, Any]) -> None:
        job_id = r.rec.id
        with self._lock:
            self._running = None
            w.phase = "idle"
        w.clear_cancel()
        try:
            if kind == "done":
                clips = d.get("clips", [])
                rec = self.journal.finish(job_id, [c["path"] for c in clips])
                self._publish(JobDone(job_id=job_id, outputs=tuple(c["path"] for c in clips),
                                      seeds=tuple(c["seed"] for c in clips), attempts=rec.attempts,
                                      seconds=d.get("seconds", 0.0), warnings=tuple(d.get("warnings", ()))))
            elif kind == "failed":
                if d.get("traceback"):
                    log.error("job %s failed in the engine:\n%s", job_id, d["traceback"])
                rec = self.journal.fail(job_id, d.get("error") or "failed")
                self._publish(JobFailed(job_id=job_id, error=rec.error or "", attempts=rec.attempts))
            else:  # cancelled
                reason = r.cancel_reason
                if reason is None and self.journal.cancel_requested(job_id):
                    reason = "user"
                if reason == "user":
                    self.journal.mark_cancelled(job_id, f"cancelled after {d.get('steps_done')} steps")
                    self._publish(JobCancelled(job_id=job_id, steps_done=d.get("steps_done"),
                                               steps_after_cancel=d.get("steps_after")))
                else:
                    why = {"preempt": "preempted by an audition job", "stop": "the service stopped",
                           "restart": "the engine restarted"}.get(reason or "", "interrupted")
                    rec = self.journal.release(job_id, f"re-queued: {why}", preempted=reason == "preempt")
                    self._publish_settled(rec, why, counted=False)
        except InvalidTransition as exc:
            log.warning("job %s: %s", job_id, exc)
