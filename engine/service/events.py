"""Typed events the render service publishes (plain frozen dataclasses, no Qt).

Every event has ``t`` (wall-clock seconds, ``time.time()``). Job events carry ``job_id``; engine
events describe the worker process. Subscribe with :meth:`RenderService.events`.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Event:
    t: float = field(default_factory=time.time)


# --------------------------------------------------------------------------- jobs

@dataclass(frozen=True, kw_only=True)
class JobQueued(Event):
    job_id: int
    lane: str


@dataclass(frozen=True, kw_only=True)
class JobStarted(Event):
    job_id: int
    attempt: int
    pid: int


@dataclass(frozen=True, kw_only=True)
class ModelLoading(Event):
    job_id: int | None
    model: str


@dataclass(frozen=True, kw_only=True)
class ModelLoaded(Event):
    model: str
    device: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class ModelLoadFailed(Event):
    """A model load outside a job (preload, :meth:`RenderService.load_model`) failed."""

    model: str
    error: str


@dataclass(frozen=True, kw_only=True)
class JobProgress(Event):
    """One sampling step done. ``step``/``total`` count across all variations and candidates."""

    job_id: int
    step: int
    total: int
    elapsed_s: float
    eta_s: float


@dataclass(frozen=True, kw_only=True)
class JobPreview(Event):
    """A draft waveform decoded from the current clean-latent estimate (16 kHz mono float32)."""

    job_id: int
    step: int
    total: int
    sample_rate: int
    audio: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class JobDone(Event):
    job_id: int
    outputs: tuple[str, ...]
    seeds: tuple[int, ...]
    attempts: int
    seconds: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class JobFailed(Event):
    """``error_type``: what kind of failure, for clients that branch on it: the engine's error class
    (InvalidRequest, AudioInputError, ModelNotAvailable, OutputError...), or EngineCrashed when
    the job used up its attempts."""

    job_id: int
    error: str
    attempts: int
    error_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class JobCancelled(Event):
    """``steps_done``: steps the render completed; ``steps_after_cancel``: steps that completed
    after the cancel was requested (the promise is at most one). None when it had not started."""

    job_id: int
    steps_done: int | None = None
    steps_after_cancel: int | None = None


@dataclass(frozen=True, kw_only=True)
class JobRequeued(Event):
    """Back in the queue: after an engine crash (``counted``: the attempt counts towards the
    limit), a clean stop, or preemption by the audition lane."""

    job_id: int
    reason: str
    attempts: int
    counted: bool


# --------------------------------------------------------------------------- engine

@dataclass(frozen=True, kw_only=True)
class EngineState(Event):
    """Lifecycle of the engine process: starting, ready, restarting, stopped."""

    state: str
    reason: str | None = None
    pid: int | None = None


@dataclass(frozen=True, kw_only=True)
class EngineCrashed(Event):
    pid: int | None
    reason: str
    crashes_in_window: int
    will_restart: bool


@dataclass(frozen=True, kw_only=True)
class ServiceConnection(Event):
    """Only on a :class:`~engine.service.ServiceClient`'s streams: the connection to the process
    that runs the service was lost (``connected=False``, with the reason) or made again."""

    connected: bool
    reason: str | None = None
    pid: int | None = None


TERMINAL_EVENTS = (JobDone, JobFailed, JobCancelled)
#: Events a slow subscriber may miss (the next one supersedes them); the others are always kept.
DROPPABLE = (JobProgress, JobPreview)


class EventStream:
    """A subscriber's view of the events: thread-safe, iterable, never blocks the service.

    Progress and preview events are dropped when more than ``max_pending`` events wait unread
    (the next step supersedes them); job and engine state changes are always delivered.
    """

    _CLOSE = object()

    def __init__(self, max_pending: int = 1000, on_close=None) -> None:
        self._q: queue.Queue = queue.Queue()
        self.max_pending = max_pending
        self.dropped = 0
        self._closed = False
        self._on_close = on_close
        self._lock = threading.Lock()

    def put(self, event: Event) -> None:
        if self._closed:
            return
        if isinstance(event, DROPPABLE) and self._q.qsize() >= self.max_pending:
            with self._lock:
                self.dropped += 1
            return
        self._q.put_nowait(event)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds (or once the stream is closed)."""
        try:
            item = self._q.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is self._CLOSE:
            self._q.put_nowait(item)
            return None
        return item

    def drain(self) -> list[Event]:
        """Everything waiting now, without blocking."""
        out = []
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return out
            if item is self._CLOSE:
                self._q.put_nowait(item)
                return out
            out.append(item)

    def __iter__(self) -> Iterator[Event]:
        while True:
            item = self._q.get()
            if item is self._CLOSE:
                self._q.put_nowait(item)
                return
            yield item

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._q.put_nowait(self._CLOSE)
        if self._on_close is not None:
            self._on_close(self)

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class EventHub:
    """Fan-out of events to every :class:`EventStream`, plus a condition that waiters (``wait``,
    ``wait_idle``) sleep on and that job and engine state changes wake."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[EventStream] = []
        self.changed = threading.Condition()

    def subscribe(self, max_pending: int = 1000) -> EventStream:
        stream = EventStream(max_pending, on_close=self._unsubscribe)
        with self._lock:
            self._subscribers.append(stream)
        return stream

    def _unsubscribe(self, stream: EventStream) -> None:
        with self._lock:
            if stream in self._subscribers:
                self._subscribers.remove(stream)

    def publish(self, event: Event) -> None:
        with self._lock:
            subs = list(self._subscribers)
        for s in subs:
            s.put(event)
        if isinstance(event, (*TERMINAL_EVENTS, EngineState)):
            with self.changed:
                self.changed.notify_all()

    def wait_changed(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    def close_all(self) -> None:
        with self._lock:
            subs = list(self._subscribers)
        for s in subs:
            s.close()
