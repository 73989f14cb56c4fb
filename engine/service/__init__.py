"""The render service: the engine in a supervised background process behind a durable job queue,
usable from the process that runs it (:class:`RenderService`) and from any other process of the
same user (:class:`ServiceClient`, or :func:`connect` to get whichever applies).

Qt-free and torch-free on the client side: importing this package loads neither; torch lives only
in the engine process. See docs/service.md.

Modules: ``service`` (the in-process API), ``supervisor`` (the thread that keeps the engine),
``policy`` (its decisions), ``engine_handle`` (one engine process), ``worker`` (the engine process
itself), ``journal`` (SQLite queue), ``events``, ``config``, and ``protocol`` / ``server`` /
``client`` (the same API across processes).
"""

from .api import ServiceAPI
from .client import ServiceClient, connect
from .config import ServiceConfig, ServiceError, ServiceStatus
from .events import (EngineCrashed, EngineState, Event, EventStream, JobCancelled, JobDone, JobFailed,
                     JobPreview, JobProgress, JobQueued, JobRequeued, JobStarted, ModelLoaded, ModelLoadFailed,
                     ModelLoading, ServiceConnection)
from .journal import (LANES, STATES, InvalidTransition, JobRecord, Journal, JournalCorrupt, JournalError,
                      JournalLocked)
from .protocol import ServiceUnavailable
from .service import RenderService

__all__ = [
    "ServiceAPI", "RenderService", "ServiceClient", "connect", "ServiceConfig", "ServiceStatus", "ServiceError",
    "ServiceUnavailable",
    "Journal", "JobRecord", "JournalError", "JournalCorrupt", "JournalLocked", "InvalidTransition", "LANES", "STATES",
    "Event", "EventStream", "JobQueued", "JobStarted", "JobProgress", "JobPreview", "JobDone", "JobFailed",
    "JobCancelled", "JobRequeued", "ModelLoading", "ModelLoaded", "ModelLoadFailed", "EngineState", "EngineCrashed",
    "ServiceConnection",
]
