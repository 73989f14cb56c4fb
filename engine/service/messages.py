"""The supervisor's reading of the engine: the pipe and process sentinel it waits on, and what each
message from the engine process means for the running job, the journal and the events.

A mixin of :class:`~engine.service.supervisor.Supervisor` (it runs on the supervisor's thread and
works on its state); kept apart so the protocol with the engine reads in one place. Messages are
``(kind, data)`` tuples of plain data (:func:`engine.service.worker._plain`).
"""

from __future__ import annotations

import logging
import multiprocessing.connection
import time
from typing import Any

from .engine_handle import EngineHandle, exit_reason
from .events import (EngineState, JobCancelled, JobDone, JobFailed, JobPreview, JobProgress, JobRequeued,
                     JobStarted, ModelLoaded, ModelLoadFailed, ModelLoading)
from .journal import InvalidTransition, JobRecord
from .policy import Running

log = logging.getLogger("engine.service")


class EngineMessages:
    """Reads and acts on the engine's messages (see the module docstring)."""

    def _publish_settled(self, rec: JobRecord, reason: str, counted: bool) -> None:
        if rec.state == "queued":
            self._publish(JobRequeued(job_id=rec.id, reason=reason, attempts=rec.attempts, counted=counted))
        elif rec.state == "failed":
            self._publish(JobFailed(job_id=rec.id, error=rec.error or reason, attempts=rec.attempts,
                                    error_type="EngineCrashed" if counted else None))
        elif rec.state == "cancelled":
            self._publish(JobCancelled(job_id=rec.id))

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

    def _read(self, h: EngineHandle, ready: list, on_message, on_lost) -> None:
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

    def _on_spare_message(self, sp: EngineHandle, kind: str, d: dict[str, Any]) -> None:
        sp.last_heartbeat = time.monotonic()
        if kind == "heartbeat":
            sp.rss = d.get("rss")
        elif kind == "ready":
            sp.phase = "idle"
            sp.device = d.get("device")
            sp.ready_at = time.monotonic()

    @staticmethod
    def _dead_reason(w: EngineHandle) -> str:
        w.proc.join(2)
        return exit_reason(w.proc.exitcode)

    def _on_message(self, w: EngineHandle, kind: str, d: dict[str, Any]) -> None:
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

    def _finish(self, w: EngineHandle, r: Running, kind: str, d: dict[str, Any]) -> None:
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
                self._publish(JobFailed(job_id=job_id, error=rec.error or "", attempts=rec.attempts,
                                        error_type=d.get("kind")))
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
