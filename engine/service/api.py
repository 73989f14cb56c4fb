"""The render service's API, shared by the in-process :class:`~engine.service.RenderService` and
the :class:`~engine.service.ServiceClient` that reaches one in another process: a front end codes
against this and does not care which it holds."""

from __future__ import annotations

import time
from typing import Any, Iterable

from ..request import RenderRequest
from .config import ServiceError, ServiceStatus
from .events import EventStream
from .journal import JobRecord


class ServiceAPI:
    """submit · cancel · retry · load_model · restart · status · job · jobs · events, plus the
    blocking helpers ``wait``, ``wait_idle`` and ``wait_ready`` built on them."""

    # ------------------------------------------------------------------ to implement
    def submit(self, request: RenderRequest | dict | str, lane: str = "batch", *, preview_every: int = 0,
               key: str | None = None) -> int:
        raise NotImplementedError

    def cancel(self, job_id: int) -> str:
        raise NotImplementedError

    def retry(self, job_id: int) -> int:
        raise NotImplementedError

    def load_model(self, name: str | None) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        raise NotImplementedError

    def status(self) -> ServiceStatus:
        raise NotImplementedError

    def job(self, job_id: int) -> JobRecord | None:
        raise NotImplementedError

    def job_by_key(self, key: str) -> JobRecord | None:
        """The job submitted with this idempotency ``key`` (see :meth:`submit`), if any."""
        raise NotImplementedError

    def jobs(self, states: Iterable[str] | None = None, limit: int | None = None, *,
             newest_first: bool = False) -> list[JobRecord]:
        raise NotImplementedError

    def events(self, max_pending: int = 1000) -> EventStream:
        raise NotImplementedError

    def stop(self, timeout: float | None = None) -> None:
        raise NotImplementedError

    def _wait_changed(self, timeout: float) -> None:
        """Sleep until something may have changed (at most ``timeout`` seconds)."""
        time.sleep(min(timeout, 0.05))

    # ------------------------------------------------------------------ built on them
    def wait(self, job_id: int, timeout: float | None = None) -> JobRecord:
        """Block until the job is done, failed or cancelled; raises TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rec = self.job(job_id)
            if rec is None:
                raise ServiceError(f"no job {job_id}")
            if rec.terminal:
                return rec
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"job {job_id} is still {rec.state}")
            self._wait_changed(0.5 if left is None else min(0.5, left))

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until no job is queued or running; raises TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            counts = self.status().queue
            if counts.get("queued", 0) == 0 and counts.get("running", 0) == 0:
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"{counts.get('queued', 0)} queued, {counts.get('running', 0)} running")
            self._wait_changed(0.5 if left is None else min(0.5, left))

    def wait_ready(self, timeout: float | None = None) -> ServiceStatus:
        """Block until the engine is up (ready, busy or loading); raises TimeoutError, or
        ServiceError if it stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st = self.status()
            if st.state in ("ready", "busy", "loading") and st.pid is not None:
                return st
            if st.state == "stopped":
                raise ServiceError(f"the engine is stopped: {st.reason}")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"engine still {st.state}")
            self._wait_changed(0.1)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
