"""The OSC control surface on the render service (docs/OSC.md).

Three threads, none of which a packet can kill or stall:

* **receive**: ``recvfrom`` on one UDP socket; drops packets from senders that are not allowed
  and from senders over their rate (token bucket), and queues the rest (bounded: a flood is
  dropped and counted, never buffered without end). No parsing here.
* **handle**: parses each packet with python-osc inside a catch-all (bad UTF-8, truncated, lying
  blob sizes, nested or future-timed bundles: time tags are ignored, messages run at once),
  validates every argument into one :class:`~engine.request.RenderRequest`
  (:mod:`daw_bridge.osc.addresses`) and submits it to the service with the client's job id as the
  idempotency key; answers ``/audioldm/accepted`` once the job is on disk.
* **events**: turns the service's events into ``/audioldm/progress`` (at most ``progress_hz`` per
  job), ``/audioldm/done`` and ``/audioldm/error``, to the job's sender and to subscribers.

Replies go to the sender's address and port, or to ``reply_port`` on the sender's host.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from engine import __version__
from engine.errors import BridgeError
from engine.service.events import JobCancelled, JobDone, JobFailed, JobProgress

from ..paths import default_allowed_dirs
from . import addresses as A
from .addresses import PREFIX, OscError

log = logging.getLogger("daw_bridge.osc")

#: Not used by REAPER (8000/9000), AbletonOSC (11000/11001), Ardour (3819), DrivenByMoss (8000/9000),
#: TouchOSC (8000/9000), Open Stage Control (8080) or SuperCollider (57120).
DEFAULT_PORT = 9137
KEY_PREFIX = "osc:"
MAX_DATAGRAM = 65535


@dataclass
class OscConfig:
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    #: Senders (IP addresses or host names) accepted when ``host`` is not a loopback address.
    allow_senders: tuple[str, ...] = ()
    reply_port: int | None = None
    #: Folders source files may be read from (default: the music folder and the output library).
    allow_dirs: tuple[Path, ...] | None = None
    #: Per sender: sustained packets per second, and the burst allowed above it.
    rate_per_s: float = 500.0
    burst: int = 1000
    max_queue: int = 2000
    progress_hz: float = 10.0
    verbose: bool = False
    #: The spool folder for ``answer spool`` requests (default: daw_bridge.spool.default_folder()).
    spool: Path | None = None


@dataclass
class _Job:
    client_id: str
    reply_to: tuple[str, int] | None
    last_progress: float = 0.0
    ended: bool = False
    answer_spool: bool = False
    position_s: float | None = None


@dataclass
class Counters:
    received: int = 0
    refused_sender: int = 0
    rate_limited: int = 0
    dropped_busy: int = 0
    malformed: int = 0
    requests: int = 0
    errors: int = 0
    by_sender_limited: dict[str, int] = field(default_factory=dict)


class _PythonOscNoise(logging.Filter):
    """python-osc logs a warning on the root logger for every bundle element it cannot identify:
    under a flood of garbage that is thousands of lines. We count malformed packets instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname.replace("\\", "/")


def _quiet_python_osc() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _PythonOscNoise) for f in root.filters):
        root.addFilter(_PythonOscNoise())


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


class OscBridge:
    """Serves the OSC address space for ``service`` (anything with the service API)."""

    def __init__(self, service: Any, config: OscConfig | None = None) -> None:
        self.service = service
        self.config = cfg = config or OscConfig()
        if not _is_loopback(cfg.host) and not cfg.allow_senders:
            raise BridgeError(f"OSC on {cfg.host} would take packets from anyone on the network; name the "
                              f"computers allowed to send with --allow-sender ADDR (or keep the default "
                              f"--host 127.0.0.1)")
        try:
            self._allowed = {socket.gethostbyname(s) for s in cfg.allow_senders}
        except OSError as exc:
            raise BridgeError(f"--allow-sender: cannot resolve {exc}") from None
        if cfg.allow_dirs is not None:
            self.allow_dirs = tuple(cfg.allow_dirs)
        else:  # the music folder, the output library and this service's library
            library = getattr(service, "library", None)
            extra = (Path(library).resolve(),) if library is not None else ()
            self.allow_dirs = tuple(dict.fromkeys(default_allowed_dirs() + extra))
        self.counters = Counters()
        self._queue: queue.Queue = queue.Queue(cfg.max_queue)
        self._buckets: dict[str, list[float]] = {}
        self._jobs: dict[int, _Job] = {}
        self._not_ours: set[int] = set()  # service jobs from other front ends (GUI, jobs command)
        self._jobs_lock = threading.Lock()
        self._subscribers: set[tuple[str, int]] = set()
        self._closed = threading.Event()
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._stream = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "OscBridge":
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise BridgeError(f"cannot listen for OSC on {self.config.host}:{self.config.port} ({exc.strerror}); "
                              f"choose another port with --osc-port P") from None
        try:  # room for bursts (the kernel caps it at net.core.rmem_max)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        sock.settimeout(0.25)
        self._sock = sock
        _quiet_python_osc()
        self._stream = self.service.events(max_pending=10_000)
        for target, name in ((self._receive, "osc-receive"), (self._handle_loop, "osc-handle"),
                             (self._events_loop, "osc-events")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        from .. import rooms

        rooms.audition_listeners.append(self._on_audition)
        log.info("OSC listening on %s:%d (sources from %s)", self.config.host, self.port,
                 ", ".join(map(str, self.allow_dirs)))
        return self

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1] if self._sock is not None else self.config.port

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        from .. import rooms

        if self._on_audition in rooms.audition_listeners:
            rooms.audition_listeners.remove(self._on_audition)
        if self._stream is not None:
            self._stream.close()
        for t in self._threads:
            t.join(2)
        if self._sock is not None:
            self._sock.close()

    def __repr__(self) -> str:
        return f"OscBridge({self.config.host}:{self.port})"

    # ------------------------------------------------------------------ receive
    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data, addr = self._sock.recvfrom(MAX_DATAGRAM)
            except socket.timeout:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                continue
            self.counters.received += 1
            host = addr[0]
            if self._allowed and host not in self._allowed and not _is_loopback(host):
                self.counters.refused_sender += 1
                continue
            if not self._take_token(host):
                self.counters.rate_limited += 1
                self.counters.by_sender_limited[host] = self.counters.by_sender_limited.get(host, 0) + 1
                continue
            try:
                self._queue.put_nowait((data, addr))
            except queue.Full:
                self.counters.dropped_busy += 1

    def _take_token(self, host: str) -> bool:
        now = time.monotonic()
        bucket = self._buckets.get(host)
        if bucket is None:
            if len(self._buckets) > 10_000:  # spoofed sources must not grow this without end
                self._buckets.clear()
            bucket = self._buckets[host] = [float(self.config.burst), now]
        tokens, last = bucket
        tokens = min(float(self.config.burst), tokens + (now - last) * self.config.rate_per_s)
        if tokens < 1.0:
            bucket[0], bucket[1] = tokens, now
            return False
        bucket[0], bucket[1] = tokens - 1.0, now
        return True

    # ------------------------------------------------------------------ handle
    def _handle_loop(self) -> None:
        while not self._closed.is_set():
            try:
                data, addr = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            try:
                self._handle_packet(data, addr)
            except Exception:  # never let one packet take the bridge down
                self.counters.errors += 1
                log.exception("OSC: unexpected error handling a packet from %s", addr[0])

    def _handle_packet(self, data: bytes, addr: tuple) -> None:
        if self.config.verbose:
            log.debug("OSC packet from %s:%s: %r", addr[0], addr[1], data[:256])
        try:
            messages = [m.message for m in OscPacket(data).messages]
        except Exception:  # ParseError, UnicodeDecodeError, RecursionError, struct.error ...
            self.counters.malformed += 1
            return
        for msg in messages:
            try:
                address, params = msg.address, list(msg.params)
            except Exception:
                self.counters.malformed += 1
                continue
            if not isinstance(address, str) or not address.startswith(PREFIX + "/"):
                continue  # someone else's address space: not ours to answer
            self.counters.requests += 1
            self._dispatch(address, params, addr)

    def _reply_to(self, addr: tuple) -> tuple[str, int]:
        return (addr[0], self.config.reply_port or addr[1])

    def _dispatch(self, address: str, args: list, addr: tuple) -> None:
        reply = self._reply_to(addr)
        job_id = ""
        try:
            if address in A.RENDER_ADDRESSES:
                job_id = A.job_id_of(args, address)
                self._submit(address, args, reply, addr)
                return
            handler = self._QUERIES.get(address)
            if handler is None:
                raise OscError("unknown_address", f"unknown address {address}; see docs/OSC.md for the "
                                                  f"address space")
            handler(self, args, reply, addr)
        except OscError as exc:
            self.send(reply, f"{PREFIX}/error", job_id, exc.code, exc.message)
            log.info("OSC %s %s job=%s -> %s: %s", addr[0], address, job_id or "-", exc.code, exc.message)

    def _submit(self, address: str, args: list, reply: tuple[str, int], addr: tuple) -> None:
        t0 = time.perf_counter()
        sub = A.parse_render(address, args, self.allow_dirs)
        existing = self.service.job_by_key(KEY_PREFIX + sub.job_id)
        try:
            service_id = self.service.submit(sub.request, key=KEY_PREFIX + sub.job_id)
        except BridgeError as exc:
            raise OscError("bad_args", str(exc)) from None
        with self._jobs_lock:
            job = self._jobs.setdefault(service_id, _Job(sub.job_id, reply))
            job.reply_to = reply
            job.answer_spool = job.answer_spool or sub.answer_spool
            job.position_s = sub.request.timeline_position_s
        self.send(reply, f"{PREFIX}/accepted", sub.job_id)
        log.info("OSC %s %s job=%s -> accepted as service job %d%s (%.1f ms)", addr[0], address, sub.job_id,
                 service_id, " (again: the same job)" if existing is not None else "",
                 1000 * (time.perf_counter() - t0))
        if existing is not None and existing.terminal:
            self._announce_end(existing, reply)  # a retried packet after the end: say it again

    # ------------------------------------------------------------------ queries
    def _ping(self, args: list, reply: tuple[str, int], addr: tuple) -> None:
        if args:
            reply = (addr[0], A.port_of(args, f"{PREFIX}/ping"))
        self.send(reply, f"{PREFIX}/pong", __version__)

    def _subscribe(self, args: list, reply: tuple[str, int], addr: tuple) -> None:
        target = (addr[0], A.port_of(args, f"{PREFIX}/subscribe"))
        self._subscribers.add(target)
        self.send(target, f"{PREFIX}/subscribed", target[1])

    def _unsubscribe(self, args: list, reply: tuple[str, int], addr: tuple) -> None:
        self._subscribers.discard((addr[0], A.port_of(args, f"{PREFIX}/unsubscribe")))

    def _cancel(self, args: list, reply: tuple[str, int], addr: tuple) -> None:
        job_id = A.job_id_of(args, f"{PREFIX}/cancel")
        rec = self.service.job_by_key(KEY_PREFIX + job_id)
        if rec is None:
            raise OscError("unknown_job", f"no job {job_id!r} was accepted")
        result = self.service.cancel(rec.id)
        if result == "cancelling":
            self.send(reply, f"{PREFIX}/cancelling", job_id)
        # "cancelled" (it was queued) reaches the client as /audioldm/error <id> cancelled via the event

    def _status(self, args: list, reply: tuple[str, int], addr: tuple) -> None:
        st = self.service.status()
        c = self.counters
        from .. import tempo

        self.send(reply, f"{PREFIX}/status", st.state, st.model or "", st.device or "",
                  int(st.queue.get("queued", 0)), int(st.queue.get("running", 0)),
                  int(c.rate_limited), int(c.malformed), int(c.dropped_busy),
                  float(tempo.shared.bpm), tempo.shared.source)

    def _midi_learn(self, args: list, reply: tuple[str, int], addr: tuple) -> None:
        from .. import rooms
        from engine.errors import BridgeError as _BridgeError

        if not args or not isinstance(args[0], str):
            raise OscError("bad_args", f"{PREFIX}/midi/learn takes <target:s> (a knob target or preset:NAME)")
        midi = rooms.midi()
        if midi is None:
            raise OscError("unknown_address", "MIDI is off: start the service with --midi-virtual or --midi-in NAME")
        try:
            midi.learn(args[0], done=lambda said: self.send(reply, f"{PREFIX}/midi/learned", said))
        except _BridgeError as exc:
            raise OscError("bad_args", str(exc)) from None

    def _on_audition(self, client_id: str, state: str) -> None:
        for t in set(self._subscribers):
            self.send(t, f"{PREFIX}/audition", client_id, state)

    def _job(self, args: list, reply: tuple[str, int], addr: tuple) -> None:
        job_id = A.job_id_of(args, f"{PREFIX}/job")
        rec = self.service.job_by_key(KEY_PREFIX + job_id)
        if rec is None:
            raise OscError("unknown_job", f"no job {job_id!r} was accepted")
        self.send(reply, f"{PREFIX}/job", job_id, rec.state, *rec.outputs)

    _QUERIES = {f"{PREFIX}/ping": _ping, f"{PREFIX}/subscribe": _subscribe, f"{PREFIX}/unsubscribe": _unsubscribe,
                f"{PREFIX}/cancel": _cancel, f"{PREFIX}/status": _status, f"{PREFIX}/job": _job,
                f"{PREFIX}/midi/learn": _midi_learn}

    # ------------------------------------------------------------------ events
    def _events_loop(self) -> None:
        while not self._closed.is_set():
            event = self._stream.get(timeout=0.25)
            if event is None:
                continue
            try:
                self._on_event(event)
            except Exception:
                self.counters.errors += 1
                log.exception("OSC: could not forward %s", type(event).__name__)

    def _job_for(self, service_id: int) -> _Job | None:
        with self._jobs_lock:
            job = self._jobs.get(service_id)
        if job is not None or service_id in self._not_ours:
            return job
        rec = self.service.job(service_id)  # accepted before a restart: known by its key
        if rec is None or not (rec.client_key or "").startswith(KEY_PREFIX):
            self._not_ours.add(service_id)
            return None
        with self._jobs_lock:
            return self._jobs.setdefault(service_id, _Job(rec.client_key[len(KEY_PREFIX):], None))

    def _targets(self, job: _Job) -> set[tuple[str, int]]:
        return set(self._subscribers) | ({job.reply_to} if job.reply_to else set())

    def _on_event(self, event: Any) -> None:
        if not isinstance(event, (JobProgress, JobDone, JobFailed, JobCancelled)):
            return
        job = self._job_for(event.job_id)
        if job is None:
            return
        if isinstance(event, JobProgress):
            now = time.monotonic()
            if now - job.last_progress < 1.0 / self.config.progress_hz and event.step < event.total:
                return
            job.last_progress = now
            for t in self._targets(job):
                self.send(t, f"{PREFIX}/progress", job.client_id, float(event.step / max(event.total, 1)),
                          float(event.eta_s))
            return
        with self._jobs_lock:
            if job.ended:
                return  # exactly one end per job
            job.ended = True
        targets = self._targets(job)
        if job.answer_spool:
            self._answer_in_spool(job, event)
        if isinstance(event, JobDone):
            for t in targets:
                self.send(t, f"{PREFIX}/done", job.client_id, *[str(Path(p).resolve()) for p in event.outputs])
            log.info("OSC job=%s -> done: %s", job.client_id, ", ".join(event.outputs))
        elif isinstance(event, JobFailed):
            code = A.ENGINE_ERRORS.get(event.error_type or "", "render_failed")
            for t in targets:
                self.send(t, f"{PREFIX}/error", job.client_id, code, event.error)
            log.info("OSC job=%s -> %s: %s", job.client_id, code, event.error)
        else:
            for t in targets:
                self.send(t, f"{PREFIX}/error", job.client_id, "cancelled", "the job was cancelled")

    def _answer_in_spool(self, job: _Job, event: Any) -> None:
        from .. import spool

        outbox = Path(self.config.spool or spool.default_folder()) / "outbox"
        outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = {JobDone: "done", JobFailed: "failed"}.get(type(event), "cancelled")
        spool.write_json(outbox / f"{job.client_id}.json", {
            "id": job.client_id, "state": state, "position_s": job.position_s,
            "outputs": [str(Path(p).resolve()) for p in getattr(event, "outputs", ())],
            "error": getattr(event, "error", None)})

    def _announce_end(self, rec: Any, reply: tuple[str, int]) -> None:
        client_id = rec.client_key[len(KEY_PREFIX):]
        if rec.state == "done":
            self.send(reply, f"{PREFIX}/done", client_id, *rec.outputs)
        elif rec.state == "cancelled":
            self.send(reply, f"{PREFIX}/error", client_id, "cancelled", "the job was cancelled")
        else:
            code = "engine_crashed" if "crashed" in (rec.error or "") else "render_failed"
            self.send(reply, f"{PREFIX}/error", client_id, code, rec.error or "failed")

    # ------------------------------------------------------------------ sending
    def send(self, target: tuple[str, int], address: str, *args: Any) -> None:
        builder = OscMessageBuilder(address=address)
        for a in args:
            if isinstance(a, bool):
                a = int(a)
            builder.add_arg(a if isinstance(a, (int, float)) else str(a))
        try:
            self._sock.sendto(builder.build().dgram, target)
        except (OSError, AttributeError) as exc:
            log.debug("OSC: cannot send %s to %s: %s", address, target, exc)


#: Every address the bridge answers (the docs test checks docs/OSC.md against this).
HANDLED_ADDRESSES: tuple[str, ...] = tuple(A.RENDER_ADDRESSES) + tuple(OscBridge._QUERIES)
assert set(OscBridge._QUERIES) == set(A.QUERY_ADDRESSES)

__all__ = ["OscBridge", "OscConfig", "DEFAULT_PORT", "HANDLED_ADDRESSES", "Counters"]
