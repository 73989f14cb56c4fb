"""The local socket of a running service: other processes (the GUI, ``audioldm-bridge jobs``, a
second front end) call the same API through it (:mod:`engine.service.protocol`).

One thread accepts connections; each connection gets a thread of its own. A connection either
makes calls (one at a time, each answered) or, after ``subscribe``, only receives events. Whatever
arrives (garbage, unknown methods, wrong argument types, a client that vanishes mid-call) gets an
error reply or a closed connection, and the service keeps running.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..errors import InvalidRequest
from . import protocol
from .events import TERMINAL_EVENTS, JobPreview

log = logging.getLogger("engine.service")


def _int(args: dict, name: str) -> int:
    value = args.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be a whole number, got {value!r}")
    return value


def _text(args: dict, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be text, got {value!r}")
    return value


def _states(args: dict) -> list[str] | None:
    states = args.get("states")
    if states is None:
        return None
    if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
        raise InvalidRequest(f"states must be a list of state names, got {states!r}")
    return states


def _limit(args: dict) -> int | None:
    return None if args.get("limit") is None else _int(args, "limit")


#: method -> (service, args) -> JSON-able value. The service's own methods validate the rest.
HANDLERS: dict[str, Callable[[Any, dict], Any]] = {
    "ping": lambda svc, a: {"pid": os.getpid(), "version": __version__, "protocol": protocol.PROTOCOL},
    "submit": lambda svc, a: svc.submit(a.get("request"), a.get("lane", "batch"),
                                        preview_every=a.get("preview_every", 0), key=a.get("key")),
    "cancel": lambda svc, a: svc.cancel(_int(a, "job_id")),
    "retry": lambda svc, a: svc.retry(_int(a, "job_id")),
    "load_model": lambda svc, a: svc.load_model(a.get("name")),
    "restart": lambda svc, a: svc.restart(),
    "status": lambda svc, a: protocol.status_to_wire(svc.status()),
    "job": lambda svc, a: protocol.record_to_wire(svc.job(_int(a, "job_id"))),
    "job_by_key": lambda svc, a: protocol.record_to_wire(svc.job_by_key(_text(a, "key"))),
    "jobs": lambda svc, a: [protocol.record_to_wire(r)
                            for r in svc.jobs(_states(a), _limit(a), newest_first=a.get("newest_first") is True)],
}
assert set(HANDLERS) | {"subscribe"} == set(protocol.METHODS)


class ServiceServer:
    """Serves ``service`` (a started :class:`~engine.service.RenderService`) on its journal's endpoint."""

    def __init__(self, service: Any, journal_path: Path) -> None:
        self.service = service
        self.endpoint = protocol.Endpoint(Path(journal_path))
        self.previews = protocol.PreviewStore(self.endpoint.preview_dir)
        self._listener: Listener | None = None
        self._closed = threading.Event()
        self._conns: set[Connection] = set()
        self._lock = threading.Lock()
        self.address_text: str | None = None

    def start(self) -> "ServiceServer":
        """Listen (the caller holds the journal lock, so a socket file left by a dead service is stale)."""
        authkey = self.endpoint.new_authkey()
        self.endpoint.withdraw()
        self._listener = Listener(self.endpoint.address, family=self.endpoint.family, authkey=authkey)
        if sys.platform != "win32":
            os.chmod(self.endpoint.address, 0o600)
        self.endpoint.publish(authkey, self.service.library)
        self.address_text = self.endpoint.address
        threading.Thread(target=self._accept_loop, name="service-accept", daemon=True).start()
        return self

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self.endpoint.withdraw()
        listener, self._listener = self._listener, None
        if listener is not None:
            self._wake_accept()
            try:
                listener.close()
            except OSError:
                pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            _hang_up(c)  # each connection's thread sees EOF and closes its own end
        self.previews.sweep(everything=True)

    def _wake_accept(self) -> None:
        """accept() does not return when the socket is closed from another thread: connect to it."""
        if self.endpoint.family != "AF_UNIX":
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(self.endpoint.address)
        except OSError:
            pass

    # ------------------------------------------------------------------ connections
    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                conn = listener.accept()
            except Exception as exc:  # a wrong key, a client gone during the handshake, the close
                if not self._closed.is_set():
                    log.info("service socket: refused a connection: %s", exc)
                continue
            if self._closed.is_set():
                _close(conn)
                return
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="service-conn", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        try:
            while not self._closed.is_set():
                try:
                    data = conn.recv_bytes(protocol.MAX_MESSAGE)
                except (EOFError, OSError):
                    return
                try:
                    message = protocol.decode(data)
                except (ValueError, UnicodeDecodeError) as exc:
                    conn.send_bytes(protocol.encode(protocol.error_reply(None, InvalidRequest(
                        f"not a service message ({exc})"))))
                    continue
                if message.get("method") == "subscribe":
                    self._stream(conn, message)
                    return
                conn.send_bytes(protocol.encode(self._call(message)))
        except (EOFError, OSError):
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            _close(conn)

    def _call(self, message: dict) -> dict:
        call_id = message.get("id")
        method = message.get("method")
        args = message.get("args") or {}
        try:
            if method not in HANDLERS:
                raise InvalidRequest(f"unknown service call {method!r}; use one of: {', '.join(protocol.METHODS)}")
            if not isinstance(args, dict):
                raise InvalidRequest("the arguments of a service call must be a JSON object")
            return {"id": call_id, "ok": True, "value": HANDLERS[method](self.service, args)}
        except Exception as exc:
            return protocol.error_reply(call_id, exc)

    def _stream(self, conn: Connection, message: dict) -> None:
        """Forward every event to a subscriber until it hangs up or the service stops."""
        args = message.get("args") if isinstance(message.get("args"), dict) else {}
        max_pending = args.get("max_pending", 1000)
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            max_pending = 1000
        stream = self.service.events(max_pending)
        try:
            conn.send_bytes(protocol.encode({"id": message.get("id"), "ok": True,
                                             "value": {"pid": os.getpid()}}))
            last_sent = time.monotonic()
            while not self._closed.is_set():
                event = stream.get(timeout=0.25)
                if event is not None:
                    path = self.previews.path_for(event) if isinstance(event, JobPreview) else None
                    conn.send_bytes(protocol.encode({"event": protocol.event_to_wire(event, path)}))
                    last_sent = time.monotonic()
                    if isinstance(event, TERMINAL_EVENTS):
                        self.previews.job_ended(event.job_id)
                    continue
                if stream.closed:
                    return
                if conn.poll(0):  # a subscriber only speaks to hang up
                    conn.recv_bytes(protocol.MAX_MESSAGE)
                if time.monotonic() - last_sent >= protocol.HEARTBEAT_S:
                    conn.send_bytes(protocol.encode({"heartbeat": time.time()}))
                    last_sent = time.monotonic()
        except (EOFError, OSError):
            return
        finally:
            stream.close()


def _hang_up(conn: Connection) -> None:
    """Shut the socket down under a thread blocked reading it (closing it would not wake that thread)."""
    try:
        s = socket.socket(fileno=os.dup(conn.fileno()))
    except (OSError, ValueError):
        return
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        s.close()


def _close(conn: Connection) -> None:
    try:
        conn.close()
    except OSError:
        pass
