"""A spool folder: how a DAW script with no sockets (a stock REAPER ReaScript) talks to the bridge.

The script writes a request, ``<spool>/inbox/<id>.json`` (written to ``<id>.json.tmp`` and renamed,
so it is never read half-written); the bridge picks it up within ``poll_s``, turns it into one
:class:`~engine.request.RenderRequest` (the item's source, take offset and play rate to a source
region: :mod:`daw_bridge.placement`), submits it with the DAW's id as the idempotency key, and when
the job ends writes ``<spool>/outbox/<id>.json`` (the same way) with the clip paths and where the
clip belongs (item, position, length). A deferred script in the DAW polls the outbox and puts the
results back. Requests already answered are moved to ``inbox/done/``.

Request fields: ``id`` (text), ``mode`` (generate, style_transfer, inpaint, upsample), ``source``
(absolute path), ``offset_s``, ``length_s``, ``playrate``, ``position_s`` (timeline), optional
``gap`` ([t0, t1] on the timeline, inpaint), ``prompt``, ``strength``, ``cutoff_hz``, ``preset``,
``duration_s`` (generate), ``item`` and ``track`` (the DAW's ids, echoed back), ``seed``, ``steps``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import BridgeError
from engine.request import RenderRequest
from engine.service import events as ev

from . import placement
from .osc.addresses import SAFE_ID

log = logging.getLogger("daw_bridge.spool")
KEY_PREFIX = "spool:"
MAX_REQUEST_BYTES = 64 * 1024


def default_folder() -> Path:
    return paths.data_dir() / "spool"


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def request_from(data: dict[str, Any]) -> RenderRequest:
    """A spool request -> the render request (raises BridgeError naming what is wrong)."""
    if not isinstance(data, dict):
        raise BridgeError("a spool request is a JSON object")
    mode = data.get("mode")
    common: dict[str, Any] = {}
    for key in ("prompt", "seed", "steps", "strength", "cutoff_hz"):
        if data.get(key) is not None:
            common[key] = data[key]
    if mode == "generate":
        fields = dict(mode=mode, duration_s=float(data.get("duration_s", 5.0)), **common)
        fields.pop("strength", None)
        fields.pop("cutoff_hz", None)
    elif mode in ("style_transfer", "inpaint", "upsample"):
        source = data.get("source")
        if not isinstance(source, str) or not Path(source).is_absolute() or not Path(source).is_file():
            raise BridgeError(f"the item's source file {source!r} does not exist (or is not an absolute path)")
        region = placement.source_region(float(data.get("offset_s", 0.0)), float(data["length_s"]),
                                         float(data.get("playrate", 1.0)))
        fields = dict(mode=mode, source_path=source, region_start_s=round(region.start_s, 6),
                      region_end_s=round(region.end_s, 6), timeline_position_s=float(data.get("position_s", 0.0)),
                      **common)
        if mode == "inpaint":
            gap = data.get("gap")
            if not isinstance(gap, (list, tuple)) or len(gap) != 2:
                raise BridgeError("inpaint needs a time selection inside the item (the gap)")
            span = placement.timeline_span(float(data.get("position_s", 0.0)), float(data.get("offset_s", 0.0)),
                                           float(data.get("playrate", 1.0)), float(gap[0]), float(gap[1]))
            fields.update(gap_start_s=round(span.start_s, 6), gap_end_s=round(span.end_s, 6))
        if mode != "style_transfer":
            fields.pop("strength", None)
        if mode != "upsample":
            fields.pop("cutoff_hz", None)
    else:
        raise BridgeError(f"unknown mode {mode!r}; use generate, style_transfer, inpaint or upsample")
    preset = data.get("preset")
    if preset:
        from engine import presets

        return presets.load().get(str(preset)).request(**{k: v for k, v in fields.items() if k != "mode"})
    return RenderRequest(**fields)


class SpoolBridge:
    def __init__(self, service: Any, folder: Path | None = None, poll_s: float = 0.25) -> None:
        self.service = service
        self.folder = Path(folder) if folder is not None else default_folder()
        self.inbox, self.outbox = self.folder / "inbox", self.folder / "outbox"
        self.poll_s = poll_s
        self._jobs: dict[int, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stream = None

    def start(self) -> "SpoolBridge":
        for d in (self.inbox, self.outbox, self.inbox / "done"):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._stream = self.service.events(max_pending=5000)
        for target, name in ((self._poll, "spool-poll"), (self._events, "spool-events")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("spool: %s", self.folder)
        return self

    def close(self) -> None:
        self._stop.set()
        if self._stream is not None:
            self._stream.close()
        for t in self._threads:
            t.join(2)

    def __repr__(self) -> str:
        return f"SpoolBridge({self.folder})"

    # ------------------------------------------------------------------ requests
    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                for path in sorted(self.inbox.glob("*.json")):
                    self.take(path)
            except Exception:
                log.exception("spool poll")

    def take(self, path: Path) -> int | None:
        rid = path.stem
        try:
            if path.stat().st_size > MAX_REQUEST_BYTES:
                raise BridgeError(f"the request is over {MAX_REQUEST_BYTES} bytes")
            data = json.loads(path.read_text())
            rid = str(data.get("id") or rid)
            if not SAFE_ID.fullmatch(rid):
                rid = path.stem if SAFE_ID.fullmatch(path.stem) else "bad-request"
                raise BridgeError("a request id is letters, digits, . _ - only (it names the answer file)")
            request = request_from(data)
            job = self.service.submit(request, lane="audition", key=f"{KEY_PREFIX}{rid}")
        except (BridgeError, ValueError, KeyError, TypeError) as exc:
            write_json(self.outbox / f"{rid}.json", {"id": rid, "state": "failed", "error": str(exc),
                                                     "item": _field(path, "item")})
            log.info("spool %s -> refused: %s", rid, exc)
            os.replace(path, self.inbox / "done" / path.name)
            return None
        with self._lock:
            self._jobs[job] = data
        os.replace(path, self.inbox / "done" / path.name)
        log.info("spool %s (%s) -> service job %d", rid, data.get("mode"), job)
        rec = self.service.job(job)
        if rec is not None and rec.terminal:  # a request sent again after it finished
            self._answer(job, rec.state, rec.outputs, rec.error)
        return job

    # ------------------------------------------------------------------ results
    def _events(self) -> None:
        while not self._stop.is_set():
            e = self._stream.get(timeout=0.25)
            if e is None:
                continue
            if isinstance(e, ev.JobDone):
                self._answer(e.job_id, "done", e.outputs, None)
            elif isinstance(e, ev.JobFailed):
                self._answer(e.job_id, "failed", (), e.error)
            elif isinstance(e, ev.JobCancelled):
                self._answer(e.job_id, "cancelled", (), "cancelled")

    def _answer(self, job: int, state: str, outputs, error: str | None) -> None:
        with self._lock:
            data = self._jobs.pop(job, None)
        if data is None:
            return
        rid = str(data.get("id"))
        write_json(self.outbox / f"{rid}.json", {
            "id": rid, "state": state, "mode": data.get("mode"), "outputs": [str(Path(p).resolve()) for p in outputs],
            "item": data.get("item"), "track": data.get("track"), "position_s": data.get("position_s"),
            "length_s": data.get("length_s"), "playrate": data.get("playrate", 1.0), "error": error})
        log.info("spool %s -> %s", rid, state)


def _field(path: Path, key: str) -> Any:
    try:
        return json.loads(path.read_text()).get(key)
    except Exception:
        return None
