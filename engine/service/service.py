"""The in-process render service: the client API in front of the journal and the supervisor.

:class:`RenderService` is what ``audioldm-bridge serve`` and an app that starts its own service
hold. Every call returns quickly whatever the engine is doing (loading, hung, dead, crash-looping):
calls only touch the journal and in-memory state, and the supervisor thread
(:mod:`engine.service.supervisor`) does all the talking to the engine process. When started with
``listen=True`` (the default) it also serves the same API to other processes on a local socket
(:mod:`engine.service.server`; the other end is :class:`engine.service.ServiceClient`).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import weakref
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from .. import paths
from ..errors import InvalidRequest
from ..request import RenderRequest
from .api import ServiceAPI
from .config import ServiceConfig, ServiceError, ServiceStatus
from .events import EventHub, EventStream, JobCancelled, JobFailed, JobRequeued
from .journal import LANES, JobRecord, Journal, JournalCorrupt, ServiceLock, default_path

log = logging.getLogger("engine.service")


class RenderService(ServiceAPI):
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
        self.journal_path = Path(cfg.journal).expanduser() if cfg.journal is not None else default_path()
        try:
            self._journal: Journal | None = Journal(self.journal_path)
        except JournalCorrupt:
            self._journal = None  # moved aside by start(), once this service holds the lock
        self._source_roots = (None if cfg.source_roots is None
                              else tuple(Path(p).expanduser().resolve() for p in cfg.source_roots))
        self.hub = EventHub()
        self._service_lock = ServiceLock(self.journal_path)
        self._supervisor = None
        self._server = None
        self._stopped = False
        self._atexit = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.journal_path)  # raises JournalCorrupt with what to do
        return self._journal

    # ================================================================== lifecycle
    def start(self) -> "RenderService":
        """Take the journal, re-queue what a dead service left running, start the engine and listen
        for other front ends. Returns at once; the engine warms up in the background
        (see :meth:`wait_ready`)."""
        from .supervisor import Supervisor

        if self._supervisor is not None:
            return self
        if self._stopped:
            raise ServiceError("this service was stopped; create a new RenderService")
        self.library.mkdir(parents=True, exist_ok=True)
        self._service_lock.acquire()
        try:
            if self._journal is None:  # unreadable: only the lock holder may move it aside
                self._journal = Journal(self.journal_path, recover=True)
            for rec in self._journal.recover(self.config.max_attempts):
                self.hub.publish(JobRequeued(job_id=rec.id, reason="recovered after the app stopped",
                                             attempts=rec.attempts, counted=True)
                                 if rec.state == "queued" else
                                 JobFailed(job_id=rec.id, error=rec.error or "", attempts=rec.attempts,
                                           error_type="EngineCrashed")
                                 if rec.state == "failed" else JobCancelled(job_id=rec.id))
            self._supervisor = Supervisor(self.config, self.library, self._journal, self.hub,
                                          self._service_lock.release)
            if self.config.listen:
                from .server import ServiceServer

                try:
                    self._server = ServiceServer(self, self.journal_path).start()
                except OSError as exc:  # renders must not depend on the socket: run without it
                    self._server = None
                    log.warning("the service runs without its local socket (other front ends cannot "
                                "reach it): %s", exc)
        except BaseException:
            self._supervisor = None
            self._service_lock.release()
            raise
        self._supervisor.start()
        ref = weakref.ref(self)
        self._atexit = lambda: (lambda s: s and s._emergency_stop())(ref())
        atexit.register(self._atexit)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the engine: a running job is interrupted (within one step) and put back in the queue
        (its attempt not counted), queued jobs stay queued for the next start. Blocks until the
        engine is gone (at most ``stop_grace_s`` plus a few seconds; then it is killed)."""
        self._stopped = True
        sup = self._supervisor
        if self._server is not None:
            self._server.close()
        if sup is not None and sup.claim_stop():
            sup.command("stop")
            if not sup.join(timeout if timeout is not None else self.config.stop_grace_s + 15):
                sup.emergency_stop()  # the supervisor itself is stuck: do it from here
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None
        self._service_lock.release()
        self.hub.close_all()
        if self._journal is not None:
            self._journal.close()

    def _emergency_stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._supervisor is not None:
            self._supervisor.emergency_stop()

    def restart(self) -> None:
        """Start the engine again: clears a crash-loop stop (and its crash history); a running
        engine is stopped cleanly first (its job re-queued, not counted)."""
        self._require_started().command("restart")

    # ================================================================== jobs
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
        if key is not None and (not isinstance(key, str) or not key or len(key) > 200):
            raise InvalidRequest(f"key must be text of 1 to 200 characters, got {key!r}")
        self._check_source(req)

        def add() -> tuple[JobRecord, bool]:
            return self.journal.add(req.to_json(), lane, preview_every=preview_every, client_key=key)

        sup = self._supervisor
        rec, _ = sup.add_job(add) if sup is not None else add()
        return rec.id

    def cancel(self, job_id: int) -> str:
        """Cancel a job. Returns ``"cancelled"`` (it was queued: it is out of the queue now),
        ``"cancelling"`` (it is running: it stops before its next sampling step), the final state
        of a job that had already finished, or ``"unknown"``."""
        before, rec = self.journal.cancel(job_id)
        if rec is None:
            return "unknown"
        if before == "queued":
            self.hub.publish(JobCancelled(job_id=rec.id))
            return "cancelled"
        if before == "running":
            if self._supervisor is not None:
                self._supervisor.command("cancel", rec.id)
            return "cancelling"
        return rec.state

    def retry(self, job_id: int) -> int:
        """Queue a failed or cancelled job again (same request, same seed, same file names)."""
        def again() -> tuple[JobRecord, bool]:
            return self.journal.retry(job_id), True

        sup = self._supervisor
        rec, _ = sup.add_job(again) if sup is not None else again()
        return rec.id

    def load_model(self, name: str | None) -> None:
        """Load (warm) a model now, when the engine is idle; the previous one is evicted."""
        self._require_started().command("load", name)

    def events(self, max_pending: int = 1000) -> EventStream:
        """A new subscription to every event from now on (iterate it, or ``get(timeout)``);
        ``close()`` it when done."""
        return self.hub.subscribe(max_pending)

    def status(self) -> ServiceStatus:
        """A snapshot; never waits for the engine."""
        try:
            counts = self.journal.counts()
        except Exception:  # a busy, closed or unreadable journal must not break a status bar
            counts = {}
        sup = self._supervisor
        engine = sup.snapshot() if sup is not None else dict(
            state="stopped" if self._stopped else "not_started", reason=None, pid=None, device=None,
            model=None, rss_bytes=None, gpu_bytes=None, running_job=None, step=None, total=None,
            crash_count=0, recent_crashes=0, restarts=0, heartbeat_age_s=None, cold_start_s=None,
            last_restart_s=None)
        recovered = self._journal.recovered_from if self._journal is not None else None
        return ServiceStatus(
            **engine, queue=counts, library=str(self.library), journal=str(self.journal_path),
            journal_recovered_from=str(recovered) if recovered else None, service_pid=os.getpid(),
            endpoint=self._server.address_text if self._server is not None else None)

    def job(self, job_id: int) -> JobRecord | None:
        return self.journal.get(job_id)

    def job_by_key(self, key: str) -> JobRecord | None:
        return self.journal.get_by_key(key)

    def jobs(self, states: Iterable[str] | None = None, limit: int | None = None, *,
             newest_first: bool = False) -> list[JobRecord]:
        return self.journal.list(states, limit=limit, newest_first=newest_first)

    def _wait_changed(self, timeout: float) -> None:
        self.hub.wait_changed(timeout)

    # ================================================================== helpers
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

    def _require_started(self):
        if self._supervisor is None:
            raise ServiceError("the service is not started; call start() first")
        return self._supervisor

    def __enter__(self) -> "RenderService":
        return self.start()

