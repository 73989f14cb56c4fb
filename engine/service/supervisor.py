"""The supervisor: one thread that owns the engine process and drives the queue.

It starts, watches and restarts the engine (:class:`~engine.service.engine_handle.EngineHandle`),
dispatches jobs from the journal, reads the engine's messages and turns them into journal
transitions and events. Its decisions (hung or not, crash loop or not, preempt or not) are the
plain functions of :mod:`engine.service.policy`. The client API (:class:`RenderService`) only
queues commands for it and reads its :meth:`Supervisor.snapshot`, so no API call ever waits on the
engine.

Supervision (after Carla's plugin bridge and the "three crashes in a minute" rule):

* heartbeat every ``heartbeat_s`` from a thread in the engine, even mid-step; none for
  ``heartbeat_timeout_s`` -> the engine is hung: killed and restarted;
* per-operation timeouts: engine start, model load, render progress (no step for
  ``step_timeout_s``) -> killed and restarted;
* a crash re-queues the running job (its attempt counts; after ``max_attempts`` it fails with the
  reason) and the engine restarts; ``crash_limit`` crashes within ``crash_window_s`` -> the engine
  stays stopped with the reason in the status, queued jobs stay queued, and a restart starts it again.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from .config import ServiceConfig
from .engine_handle import EngineHandle
from .events import EngineCrashed, EngineState, Event, EventHub, JobCancelled, JobQueued
from .journal import InvalidTransition, JobRecord, Journal
from .messages import EngineMessages
from .policy import CrashPolicy, Running, may_preempt, timeout_reason

log = logging.getLogger("engine.service")


class Supervisor(EngineMessages):
    """The engine's keeper (see the module docstring). Thread-safe entry points: :meth:`start`,
    :meth:`command`, :meth:`add_job`, :meth:`snapshot`, :meth:`join`, :meth:`emergency_stop`;
    everything else runs on its own thread."""

    def __init__(self, config: ServiceConfig, library: Path, journal: Journal, hub: EventHub,
                 release_lock: Callable[[], None]) -> None:
        self.config = config
        self.library = library
        self.journal = journal
        self.hub = hub
        self._release_lock = release_lock
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.RLock()
        self._commands: queue.Queue = queue.Queue()
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        #: Held while a job is added and announced, and while one is claimed: JobQueued always
        #: reaches subscribers before JobStarted.
        self._queue_lock = threading.Lock()
        #: The highest job id announced with JobQueued (jobs other processes add are announced too).
        self._announced = journal.max_id()
        self._thread: threading.Thread | None = None
        self._started = False
        self._stop_claimed = False
        self._worker: EngineHandle | None = None
        self._spare: EngineHandle | None = None
        self._spare_deaths: deque[float] = deque()
        self._spare_at = 0.0
        self._running: Running | None = None
        self._halted: str | None = None
        self._stopped = False
        self._crashes = CrashPolicy(config)
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
        self._last_model: str | None = config.preload_model

    # ================================================================== entry points (any thread)
    def start(self) -> None:
        with self._lock:
            self._started = True
            self._thread = threading.Thread(target=self._supervise, name="render-supervisor", daemon=True)
            self._thread.start()

    @property
    def started(self) -> bool:
        return self._started

    @property
    def stopped(self) -> bool:
        return self._stopped

    def claim_stop(self) -> bool:
        """True for the one caller of stop() that should stop the loop (False if it never started
        or another caller already did)."""
        with self._lock:
            if self._stop_claimed or not self._started:
                return False
            self._stop_claimed = True
            return True

    def join(self, timeout: float) -> bool:
        """Wait for the loop to end; False if it is still running after ``timeout``."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def command(self, *cmd: Any) -> None:
        self._commands.put(cmd)
        self.wake()

    def add_job(self, add: Callable[[], tuple[JobRecord, bool]]) -> tuple[JobRecord, bool]:
        """Run ``add`` (a journal insert or retry) and announce the job, in order with dispatch."""
        with self._queue_lock:
            rec, created = add()
            if created:
                self._announced = max(self._announced, rec.id)
                self._publish(JobQueued(job_id=rec.id, lane=rec.lane))
        if created:
            if rec.lane == "audition":
                self._audition_hint = True
            self.wake()
        return rec, created

    def wake(self) -> None:
        with self._wake_lock:
            if self._wake_pending or self._stopped:
                return
            self._wake_pending = True
            try:
                self._wake_w.send_bytes(b"!")
            except OSError:
                pass

    def snapshot(self) -> dict[str, Any]:
        """The supervisor's side of :class:`~engine.service.ServiceStatus` (no journal reads)."""
        now = time.monotonic()
        with self._lock:
            w, r, sp = self._worker, self._running, self._spare
            return dict(
                state=self.state_name(), reason=self._halted, pid=w.pid if w else None,
                device=w.device if w else None, model=w.model if w else None,
                rss_bytes=w.rss if w else None, gpu_bytes=w.gpu if w else None,
                running_job=r.rec.id if r else None, step=r.step if r else None, total=r.total if r else None,
                crash_count=self._crashes.total, recent_crashes=self._crashes.recent(now),
                restarts=self._restarts, heartbeat_age_s=(now - w.last_heartbeat) if w else None,
                cold_start_s=self._cold_start_s, last_restart_s=self._last_restart_s,
                spare_pid=sp.pid if sp else None,
                spare_state=None if sp is None else "starting" if sp.phase == "starting" else "ready",
            )

    def _publish(self, event: Event) -> None:
        self.hub.publish(event)

    def _announce_new_jobs(self) -> None:
        """JobQueued for jobs another process put in the journal (call with ``_queue_lock`` held)."""
        for rec in self.journal.queued_after(self._announced):
            self._announced = max(self._announced, rec.id)
            self._publish(JobQueued(job_id=rec.id, lane=rec.lane))

    # ================================================================== the loop (own thread)
    def state_name(self) -> str:
        if not self._started:
            return "not_started"
        if self._halted is not None or self._stopped:
            return "stopped"
        w = self._worker
        if w is None:
            return "restarting" if self._crashes.total else "starting"
        if w.phase == "starting":
            return "restarting" if self._crashed_at is not None else "starting"
        if w.phase == "loading":
            return "loading"
        if self._running is not None:
            return "busy"
        return "ready"

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
                self._release_lock()
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
                    self._crashes.clear()
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
        w = EngineHandle(self._ctx, self._worker_config())
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
        self._spare = EngineHandle(self._ctx, self._worker_config(preload=False))

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

    def emergency_stop(self) -> None:
        """Process exit without stop(): kill the engine, put its job back (not counted)."""
        try:
            with self._lock:
                self._stopped = True
            self._kill_worker_and_release("the app exited while this job was running")
            self._release_lock()
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
            self._cleanup.append({"request": r.rec.request_json, "job": r.rec.id,
                                  "since": r.rec.started or time.time(), "library": str(self.library)})
        if intentional:
            kind = self._retiring["kind"]
            self._publish(EngineState(state="stopped" if kind == "stop" else "restarting", reason=reason, pid=pid))
            return
        now = time.monotonic()
        with self._lock:
            recent, halted, restart_at = self._crashes.record(now, reason)
            self._crashed_at = now
            if halted is not None:
                self._halted = halted
            else:
                self._restart_at = restart_at
        if self._halted is not None and self._spare is not None:
            self._spare_lost("the engine is stopped")
        log.warning("engine lost: %s", reason)
        self._publish(EngineCrashed(pid=pid, reason=reason, crashes_in_window=recent,
                                    will_restart=self._halted is None))
        if self._halted is not None:
            self._publish(EngineState(state="stopped", reason=self._halted, pid=pid))

    def _settle_lost_job(self, r: Running, reason: str, intentional: bool) -> None:
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

    # ------------------------------------------------------------------ timeouts
    def _check_timeouts(self, now: float) -> None:
        sp, cfg = self._spare, self.config
        if sp is not None:
            if sp.phase == "starting" and now - sp.spawned > cfg.start_timeout_s:
                self._spare_lost(f"the spare engine did not start within {cfg.start_timeout_s:g} s")
            elif sp.phase != "starting" and now - sp.last_heartbeat > cfg.heartbeat_timeout_s:
                self._spare_lost("the spare engine is hung (no heartbeat)")
        w = self._worker
        if w is None:
            return
        reason = timeout_reason(cfg, w.phase, w.spawned, w.last_heartbeat, w.loading_since, w.loading_model,
                                self._running, now)
        if reason is not None:
            self._worker_lost(reason, kill=True)

    # ------------------------------------------------------------------ scheduling
    def _poll_journal(self, now: float) -> None:
        """Jobs added and cancels requested by other processes (``audioldm-bridge jobs``)."""
        if now < self._next_poll:
            return
        self._next_poll = now + self.config.poll_s
        try:
            with self._queue_lock:
                self._announce_new_jobs()
        except Exception:
            log.exception("journal poll failed")
        r, w = self._running, self._worker
        if r is not None and w is not None and r.cancel_reason != "user":
            try:
                if self.journal.cancel_requested(r.rec.id):
                    r.cancel_reason = "user"
                    w.cancel(r.rec.id)
            except Exception:
                log.exception("journal poll failed")

    def _maybe_preempt(self, now: float) -> None:
        r, w = self._running, self._worker
        if w is None or not may_preempt(self.config, r, now):
            self._audition_hint = False
            return
        if not self._audition_hint and now < self._next_preempt_check:
            return
        self._audition_hint = False
        self._next_preempt_check = now + self.config.poll_s
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
            self._announce_new_jobs()  # JobQueued before JobStarted, whoever added the job
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
            self._running = Running(rec=rec, dispatched=now, last_progress=now)
            w.phase = "busy"
        if rec.cancel_requested:  # cancelled between claim and dispatch
            self._running.cancel_reason = "user"
            w.cancel(rec.id)
        if not w.send("job", job=rec.id, request=rec.request_json, preview_every=rec.preview_every,
                      attempt=rec.attempts, library=str(self.library)):
            self._worker_lost("the engine pipe is closed", kill=True)
