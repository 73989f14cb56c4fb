"""The supervisor's decisions as plain functions and one small class, apart from the loop that acts
on them: when an engine counts as hung, when a crash loop stops the engine, when an audition job
may interrupt a batch job. Times are ``time.monotonic()`` seconds."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .config import ServiceConfig
from .journal import JobRecord


@dataclass
class Running:
    """The job the engine is rendering, as the supervisor tracks it."""

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


class CrashPolicy:
    """"Three crashes in a minute": counts crashes in a sliding window, chooses the restart back-off,
    and says when the engine must stay stopped until someone restarts it."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.times: deque[float] = deque()
        self.total = 0

    def recent(self, now: float) -> int:
        return sum(1 for t in self.times if now - t <= self.config.crash_window_s)

    def record(self, now: float, reason: str) -> tuple[int, str | None, float]:
        """Count a crash: returns (crashes in the window, the halt reason or None, restart time)."""
        self.total += 1
        self.times.append(now)
        while self.times and now - self.times[0] > self.config.crash_window_s:
            self.times.popleft()
        recent = len(self.times)
        if recent >= self.config.crash_limit:
            return recent, (f"the engine crashed {recent} times within {self.config.crash_window_s:g} s "
                            f"(last: {reason}); it stays stopped. Queued jobs are kept; "
                            f"restart it to continue"), now
        backoff = self.config.restart_backoff_s
        return recent, None, now + (backoff[min(recent - 1, len(backoff) - 1)] if backoff else 0.0)

    def clear(self) -> None:
        """After a user's restart: the crash history of the window no longer holds the engine."""
        self.times.clear()


def timeout_reason(cfg: ServiceConfig, phase: str, spawned: float, last_heartbeat: float,
                   loading_since: float | None, loading_model: str | None, running: Running | None,
                   now: float) -> str | None:
    """Why the engine counts as hung now, or None. ``phase``: starting, idle, loading, busy."""
    if phase == "starting":
        if now - spawned > cfg.start_timeout_s:
            return f"the engine did not start within {cfg.start_timeout_s:g} s"
        return None
    if now - last_heartbeat > cfg.heartbeat_timeout_s:
        return f"the engine is hung: no heartbeat for {now - last_heartbeat:.1f} s"
    if phase == "loading" and loading_since is not None and now - loading_since > cfg.load_timeout_s:
        return f"loading model {loading_model or '?'} took longer than {cfg.load_timeout_s:g} s"
    if running is not None and phase != "loading":
        since = running.last_progress if running.acked else running.dispatched
        if now - since > cfg.step_timeout_s:
            return (f"job {running.rec.id} made no progress for {now - since:.1f} s "
                    f"(step timeout {cfg.step_timeout_s:g} s)")
    return None


def may_preempt(cfg: ServiceConfig, running: Running | None, now: float) -> bool:
    """Whether the running job may be interrupted for an audition job (which then runs first)."""
    if not cfg.preempt or running is None or running.cancel_reason is not None or running.rec.lane == "audition":
        return False
    if running.rec.preemptions >= cfg.max_preemptions:
        return False
    if running.render_started is not None and now - running.render_started > cfg.preempt_max_loss_s:
        return False
    if running.step and running.eta_s is not None and running.eta_s < 1.0:
        return False  # almost done: let it finish
    return True
