"""The render service from another process: :class:`ServiceClient` has the API of the in-process
:class:`~engine.service.RenderService` (:class:`~engine.service.api.ServiceAPI`), over the local
socket of the process that runs it (:mod:`engine.service.protocol`).

A client never hangs on a dead server: the serving process's death closes the socket, so a call in
flight fails at once with :class:`~engine.service.protocol.ServiceUnavailable` (a server that is
alive but does not answer fails after ``timeout_s``); the next call connects again, to whichever
service then runs for the journal. An event subscription says ``ServiceConnection(connected=False)``
when the connection drops and keeps trying to reconnect until it is closed.

:func:`connect` is what a front end calls: the running service's client, or a service of its own.
"""

from __future__ import annotations

import itertools
import threading
import time
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any, Iterable

from ..request import RenderRequest
from . import protocol
from .api import ServiceAPI
from .config import ServiceError, ServiceStatus
from .events import EventStream, ServiceConnection
from .journal import JobRecord, JournalLocked, default_path
from .protocol import ServiceUnavailable


def _close_quietly(conn: Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except OSError:
            pass


def _open(endpoint: protocol.Endpoint) -> tuple[Connection, dict[str, Any]]:
    info = endpoint.read()
    try:
        conn = Client(info["address"], family=info["family"], authkey=bytes.fromhex(info["authkey"]))
    except (OSError, EOFError) as exc:
        # A file left by a service that died: nobody listens on its socket.
        raise ServiceUnavailable(f"{endpoint.not_running()}; the last one (pid {info.get('pid')}) is gone "
                                 f"({type(exc).__name__})") from None
    except Exception as exc:  # AuthenticationError: a stale key, or someone else's socket
        raise ServiceUnavailable(f"the render service at {info['address']} refused this client ({exc})") from None
    return conn, info


class ServiceClient(ServiceAPI):
    """Submit, cancel and watch renders of a service running in another process.

    >>> client = ServiceClient()              # the service for the default journal    # doctest: +SKIP
    >>> job = client.submit(RenderRequest(prompt="a low kick drum", duration_s=1.0))  # doctest: +SKIP
    >>> client.wait(job).outputs                                                    # doctest: +SKIP
    """

    def __init__(self, journal: str | Path | None = None, *, timeout_s: float = 10.0) -> None:
        self.journal_path = Path(journal).expanduser() if journal is not None else default_path()
        self.endpoint = protocol.Endpoint(self.journal_path)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._conn: Connection | None = None
        self.server_pid: int | None = None
        self._streams: list[_Subscription] = []
        self._closed = False
        self._connect()

    # ------------------------------------------------------------------ connection
    def _connect(self) -> None:
        self._conn, info = _open(self.endpoint)
        self.server_pid = info.get("pid")
        self.library = info.get("library")

    def _lost(self, why: str) -> ServiceUnavailable:
        _close_quietly(self._conn)
        self._conn = None
        return ServiceUnavailable(f"the render service (pid {self.server_pid}) {why}; "
                                  f"start it again with: audioldm-bridge serve")

    def _call(self, method: str, **args: Any) -> Any:
        if self._closed:
            raise ServiceError("this client is closed")
        with self._lock:
            if self._conn is None:
                self._connect()
            call_id = next(self._ids)
            try:
                self._conn.send_bytes(protocol.encode({"id": call_id, "method": method, "args": args}))
                if not self._conn.poll(self.timeout_s):
                    raise self._lost(f"did not answer {method} within {self.timeout_s:g} s")
                reply = protocol.decode(self._conn.recv_bytes(protocol.MAX_MESSAGE))
            except (EOFError, OSError):
                raise self._lost("stopped") from None
        if not reply.get("ok"):
            protocol.raise_error(reply)
        return reply.get("value")

    def close(self) -> None:
        """Hang up (the service keeps running) and close this client's event streams."""
        self._closed = True
        for s in list(self._streams):
            s.stream.close()
        with self._lock:
            _close_quietly(self._conn)
            self._conn = None

    def stop(self, timeout: float | None = None) -> None:
        """For a client, stop means hang up: the service belongs to the process that started it."""
        self.close()

    def start(self) -> "ServiceClient":
        return self

    # ------------------------------------------------------------------ the API
    def ping(self) -> dict[str, Any]:
        return self._call("ping")

    def submit(self, request: RenderRequest | dict | str, lane: str = "batch", *, preview_every: int = 0,
               key: str | None = None) -> int:
        payload = request.to_dict() if isinstance(request, RenderRequest) else request
        return int(self._call("submit", request=payload, lane=lane, preview_every=preview_every, key=key))

    def cancel(self, job_id: int) -> str:
        return str(self._call("cancel", job_id=int(job_id)))

    def retry(self, job_id: int) -> int:
        return int(self._call("retry", job_id=int(job_id)))

    def load_model(self, name: str | None) -> None:
        self._call("load_model", name=name)

    def restart(self) -> None:
        self._call("restart")

    def status(self) -> ServiceStatus:
        return protocol.status_from_wire(self._call("status"))

    def job(self, job_id: int) -> JobRecord | None:
        return protocol.record_from_wire(self._call("job", job_id=int(job_id)))

    def job_by_key(self, key: str) -> JobRecord | None:
        return protocol.record_from_wire(self._call("job_by_key", key=str(key)))

    def jobs(self, states: Iterable[str] | None = None, limit: int | None = None, *,
             newest_first: bool = False) -> list[JobRecord]:
        return [protocol.record_from_wire(r)
                for r in self._call("jobs", states=list(states) if states is not None else None, limit=limit,
                                    newest_first=bool(newest_first))]

    def events(self, max_pending: int = 1000) -> EventStream:
        """A subscription on a connection of its own (a slow reader never delays calls)."""
        sub = _Subscription(self, max_pending)
        self._streams.append(sub)
        return sub.stream

    def __enter__(self) -> "ServiceClient":
        return self


class _Subscription:
    """Reads events from the service into an :class:`EventStream` on a thread; reconnects."""

    RETRY_S = 0.25

    def __init__(self, client: ServiceClient, max_pending: int) -> None:
        self.client = client
        self.max_pending = max_pending
        self.stream = EventStream(max_pending, on_close=self._closed)
        self._conn: Connection | None = None
        self._conn_lock = threading.Lock()
        self._subscribe()  # the first subscription is made before events() returns: nothing is missed
        threading.Thread(target=self._run, name="service-events", daemon=True).start()

    def _subscribe(self) -> int | None:
        conn, info = _open(self.client.endpoint)
        try:
            conn.send_bytes(protocol.encode({"id": 0, "method": "subscribe",
                                             "args": {"max_pending": self.max_pending}}))
            if not conn.poll(self.client.timeout_s):
                raise ServiceUnavailable("the render service did not answer the subscription")
            protocol.decode(conn.recv_bytes(protocol.MAX_MESSAGE))
        except (EOFError, OSError):
            conn.close()
            raise ServiceUnavailable("the render service hung up during the subscription") from None
        with self._conn_lock:
            self._conn = conn
        return info.get("pid")

    def _closed(self, stream: EventStream) -> None:
        with self._conn_lock:
            conn, self._conn = self._conn, None
        _close_quietly(conn)
        if self in self.client._streams:
            self.client._streams.remove(self)

    def _run(self) -> None:
        while not self.stream.closed:
            reason = self._pump()
            if self.stream.closed:
                return
            self.stream.put(ServiceConnection(connected=False, reason=reason, pid=self.client.server_pid))
            while not self.stream.closed:
                time.sleep(self.RETRY_S)
                try:
                    pid = self._subscribe()
                except ServiceError:
                    continue
                self.client.server_pid = pid
                self.stream.put(ServiceConnection(connected=True, pid=pid))
                break

    def _pump(self) -> str:
        """Forward events until the connection is lost; returns why."""
        while True:
            conn = self._conn
            if conn is None:
                return "closed"
            try:
                if not conn.poll(protocol.SILENCE_S):
                    self._drop(conn)
                    return f"the render service sent nothing for {protocol.SILENCE_S:g} s"
                message = protocol.decode(conn.recv_bytes(protocol.MAX_MESSAGE))
            except (EOFError, OSError, ValueError):
                self._drop(conn)
                return "the render service stopped"
            if "event" in message:
                event = protocol.event_from_wire(message["event"])
                if event is not None:
                    self.stream.put(event)

    def _drop(self, conn: Connection) -> None:
        with self._conn_lock:
            if self._conn is conn:
                self._conn = None
        _close_quietly(conn)


def connect(journal: str | Path | None = None, *, start: bool = True, **config: Any) -> ServiceAPI:
    """The service for ``journal``: a :class:`ServiceClient` when one runs (in ``serve``, or in the
    app), else, with ``start``, a :class:`~engine.service.RenderService` started in this process
    with ``config`` (which then serves the others). Raises ServiceUnavailable when none runs and
    ``start`` is False."""
    from .service import RenderService

    deadline = time.monotonic() + 5.0
    while True:
        try:
            return ServiceClient(journal)
        except ServiceUnavailable:
            if not start:
                raise
        try:
            return RenderService(journal=journal, **config).start()
        except JournalLocked:
            # Another process started one a moment ago (or holds the lock without listening yet).
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
