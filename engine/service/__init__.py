"""The render service: the engine in a supervised background process behind a durable job queue.

Qt-free and torch-free on the client side: importing this package loads neither; torch lives only
in the engine process. See docs/service.md.
"""

from .events import (EngineCrashed, EngineState, Event, EventStream, JobCancelled, JobDone, JobFailed,
                     JobPreview, JobProgress, JobQueued, JobRequeued, JobStarted, ModelLoaded, ModelLoadFailed, ModelLoading)
from .journal import LANES, STATES, InvalidTransition, JobRecord, Journal, JournalError, JournalLocked
from .supervisor import RenderService, ServiceConfig, ServiceError, ServiceStatus

__all__ = [
    "RenderService", "ServiceConfig", "ServiceStatus", "ServiceError",
    "Journal", "JobRecord", "JournalError", "JournalLocked", "InvalidTransition", "LANES", "STATES",
    "Event", "EventStream", "JobQueued", "JobStarted", "JobProgress", "JobPreview", "JobDone", "JobFailed",
    "JobCancelled", "JobRequeued", "ModelLoading", "ModelLoaded", "ModelLoadFailed", "EngineState", "EngineCrashed",
]
