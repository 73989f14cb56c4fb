"""What a caller chooses about the render service (:class:`ServiceConfig`) and what it reports
(:class:`ServiceStatus`), shared by the in-process service and its client in another process."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import BridgeError


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
    #: Listen on a local socket so other processes (the GUI, ``audioldm-bridge jobs``, a second front
    #: end) can use this service through :class:`engine.service.ServiceClient` (docs/service.md).
    listen: bool = True
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
    #: Pid of the process that runs the service (differs from the caller's for a ServiceClient).
    service_pid: int | None = None
    #: The local socket other processes reach the service on (None: not listening).
    endpoint: str | None = None

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


def status_from_dict(data: dict[str, Any]) -> ServiceStatus:
    """The inverse of :meth:`ServiceStatus.to_dict` (keys a newer service adds are ignored)."""
    names = {f.name for f in fields(ServiceStatus)}
    return ServiceStatus(**{k: v for k, v in data.items() if k in names})
