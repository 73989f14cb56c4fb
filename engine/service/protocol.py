"""The one wire protocol between a :class:`~engine.service.ServiceClient` and the process that runs
the service (:mod:`engine.service.server`); both ends import this module, and so does the stand-in
engine of the tests, through the same events.

Transport: :mod:`multiprocessing.connection` (a Unix domain socket in the user runtime folder on
Linux and macOS, a named pipe on Windows), authenticated with a per-start random key that only the
user can read (:class:`Endpoint`). Messages are JSON objects sent with ``send_bytes`` (no pickle):

* call  ``{"id": N, "method": "submit", "args": {...}}`` -> reply ``{"id": N, "ok": true, "value": ...}``
  or ``{"id": N, "ok": false, "error": "InvalidRequest", "message": "..."}``;
* a connection whose first call is ``subscribe`` then only receives ``{"event": {...}}`` and, every
  ``HEARTBEAT_S``, ``{"heartbeat": t}``. A :class:`~engine.service.events.JobPreview` travels as the
  path of a float32 file (``audio_path``, ``frames``), not as megabytes of JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import errors, paths
from . import events as ev
from .config import ServiceError, ServiceStatus, status_from_dict
from .journal import JobRecord

PROTOCOL = 1
HEARTBEAT_S = 1.0
#: A subscription that hears nothing (not even a heartbeat) for this long counts as lost.
SILENCE_S = 5.0
#: Calls a client may make; the server refuses any other name.
METHODS: tuple[str, ...] = ("ping", "submit", "cancel", "retry", "load_model", "restart", "status", "job",
                            "job_by_key", "jobs", "subscribe")
MAX_MESSAGE = 1 << 20


class ServiceUnavailable(ServiceError):
    """No service is running for this journal, or it stopped or stopped answering."""


# --------------------------------------------------------------------------- where a service listens

@dataclass(frozen=True)
class Endpoint:
    """The socket and info file of the service that owns one journal (one service per journal)."""

    journal: Path

    @property
    def key(self) -> str:
        return hashlib.sha256(str(self.journal.resolve()).encode()).hexdigest()[:12]

    @property
    def info_file(self) -> Path:
        return paths.runtime_dir() / f"service-{self.key}.json"

    @property
    def address(self) -> str:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            return rf"\\.\pipe\audioldm-bridge-{self.key}"
        return str(paths.runtime_dir() / f"service-{self.key}.sock")

    @property
    def family(self) -> str:
        return "AF_PIPE" if sys.platform == "win32" else "AF_UNIX"

    @property
    def preview_dir(self) -> Path:
        return paths.runtime_dir() / f"previews-{self.key}"

    def new_authkey(self) -> bytes:
        return secrets.token_bytes(32)

    def publish(self, authkey: bytes, library: Path) -> None:
        """Write the info file (user-only, atomically) once the socket listens."""
        info = {"protocol": PROTOCOL, "address": self.address, "family": self.family,
                "authkey": authkey.hex(), "pid": os.getpid(), "journal": str(self.journal),
                "library": str(library), "started": time.time()}
        tmp = self.info_file.with_name(f".{self.info_file.name}.{os.getpid()}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        os.replace(tmp, self.info_file)

    def read(self) -> dict[str, Any]:
        """The running service's info; raises ServiceUnavailable when there is none."""
        try:
            info = json.loads(self.info_file.read_text())
        except FileNotFoundError:
            raise ServiceUnavailable(self.not_running()) from None
        except (OSError, ValueError) as exc:
            raise ServiceUnavailable(f"cannot read {self.info_file} ({exc}); {self.not_running()}") from None
        if info.get("protocol") != PROTOCOL:
            raise ServiceUnavailable(
                f"the render service (pid {info.get('pid')}) speaks protocol {info.get('protocol')}, this "
                f"program {PROTOCOL}: restart the service with this version of audioldm-bridge")
        return info

    def withdraw(self) -> None:
        for p in (self.info_file, Path(self.address)):
            if sys.platform == "win32" and p != self.info_file:
                continue
            try:
                p.unlink()
            except OSError:
                pass

    def not_running(self) -> str:
        return (f"no render service is running for the journal {self.journal} "
                f"(start one with: audioldm-bridge serve)")


# --------------------------------------------------------------------------- messages

def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=_default).encode()


def decode(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"message of {len(data)} bytes is over the {MAX_MESSAGE}-byte limit")
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def _default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot cross the service socket")


def error_reply(call_id: Any, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, errors.BridgeError):
        return {"id": call_id, "ok": False, "error": type(exc).__name__, "message": str(exc)}
    return {"id": call_id, "ok": False, "error": "InternalError",
            "message": f"internal error in the render service: {type(exc).__name__}: {exc}"}


def raise_error(reply: dict[str, Any]) -> None:
    """Re-raise a server-side error as the same user-facing error class where we know it."""
    from . import journal

    known = {cls.__name__: cls for cls in (errors.InvalidRequest, errors.ModelNotAvailable, errors.AudioInputError,
                                           errors.OutputError, journal.JournalError, journal.InvalidTransition,
                                           journal.JournalLocked, ServiceError, ServiceUnavailable)}
    raise known.get(reply.get("error"), ServiceError)(str(reply.get("message") or "the render service refused"))


# --------------------------------------------------------------------------- values

def record_to_wire(rec: JobRecord | None) -> dict[str, Any] | None:
    return None if rec is None else asdict(rec)


def record_from_wire(data: dict[str, Any] | None) -> JobRecord | None:
    if data is None:
        return None
    names = {f.name for f in fields(JobRecord)}
    data = {k: v for k, v in data.items() if k in names}
    data["outputs"] = tuple(data.get("outputs") or ())
    data["notes"] = tuple(data.get("notes") or ())
    return JobRecord(**data)


def status_to_wire(status: ServiceStatus) -> dict[str, Any]:
    return status.to_dict()


def status_from_wire(data: dict[str, Any]) -> ServiceStatus:
    return status_from_dict(data)


EVENT_TYPES: dict[str, type[ev.Event]] = {
    cls.__name__: cls for cls in (ev.JobQueued, ev.JobStarted, ev.ModelLoading, ev.ModelLoaded, ev.ModelLoadFailed,
                                  ev.JobProgress, ev.JobPreview, ev.JobDone, ev.JobFailed, ev.JobCancelled,
                                  ev.JobRequeued, ev.EngineState, ev.EngineCrashed, ev.ServiceConnection)}


def event_to_wire(event: ev.Event, preview_path: Path | None = None) -> dict[str, Any]:
    """Plain data; a preview's audio stays behind (``preview_path`` is where it was written)."""
    data = {f.name: getattr(event, f.name) for f in fields(event) if f.name != "audio"}
    if isinstance(event, ev.JobPreview):
        data["audio_path"] = str(preview_path) if preview_path is not None else None
        data["frames"] = int(len(event.audio))
    return {"type": type(event).__name__, **data}


def event_from_wire(data: dict[str, Any]) -> ev.Event | None:
    """The typed event back; None for an unknown type (a newer service) or a preview whose file is gone."""
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
    if cls is ev.JobPreview:
        try:
            kw["audio"] = np.fromfile(str(data["audio_path"]), dtype="<f4")
        except (OSError, KeyError, TypeError, ValueError):
            return None  # previews are superseded by the next one: a missed one is no loss
    return cls(**kw)


class PreviewStore:
    """Writes each preview once (however many subscribers) as a float32 file, and removes a job's
    files a while after the job ended (a subscriber reads its file as soon as the event arrives)."""

    KEEP_S = 30.0

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._written: dict[tuple[int, int], Path] = {}
        self._ended: dict[int, float] = {}
        self._lock = threading.Lock()

    def path_for(self, event: ev.JobPreview) -> Path:
        with self._lock:
            return self._path_for(event)

    def _path_for(self, event: ev.JobPreview) -> Path:
        key = (event.job_id, event.step)
        path = self._written.get(key)
        if path is None:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.folder / f"job{event.job_id}-step{event.step}.f32"
            tmp = path.with_name(f".{path.name}.part")
            np.ascontiguousarray(event.audio, dtype="<f4").tofile(str(tmp))
            os.replace(tmp, path)
            self._written[key] = path
        return path

    def job_ended(self, job_id: int) -> None:
        with self._lock:
            self._ended.setdefault(job_id, time.monotonic())
        self.sweep()

    def sweep(self, now: float | None = None, everything: bool = False) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if everything:
                self._ended.update({k[0]: -1e18 for k in self._written})
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for job_id, t in list(self._ended.items()):
            if now - t < self.KEEP_S:
                continue
            for key in [k for k in self._written if k[0] == job_id]:
                try:
                    self._written.pop(key).unlink()
                except OSError:
                    pass
            del self._ended[job_id]
