"""The service's handle on one engine process (spawned with :func:`engine.service.worker.worker_main`)."""

from __future__ import annotations

import signal
import time
from typing import Any

from .worker import worker_main


class EngineHandle:
    """The service's handle on one engine process: its pipes, shared cancel flag and what it last said."""

    def __init__(self, ctx, cfg: dict[str, Any]) -> None:
        cmd_r, self.cmd_w = ctx.Pipe(duplex=False)
        self.evt_r, evt_w = ctx.Pipe(duplex=False)
        self.cancel_seq = ctx.RawValue("q", 0)
        self.cancel_time = ctx.RawValue("d", 0.0)
        self.proc = ctx.Process(target=worker_main, name="audioldm-bridge-engine", daemon=True,
                                args=(cmd_r, evt_w, self.cancel_seq, self.cancel_time, cfg))
        self.spawned = time.monotonic()
        self.proc.start()
        # Close our copies of the child's ends so its death reads as EOF here.
        cmd_r.close()
        evt_w.close()
        self.pid: int | None = self.proc.pid
        self.phase = "starting"  # starting | idle | loading | busy
        self.ready_at: float | None = None
        self.last_heartbeat = self.spawned
        self.loading_since: float | None = None
        self.device: str | None = None
        self.model: str | None = None
        self.loading_model: str | None = None
        self.rss: int | None = None
        self.gpu: int | None = None
        self.shutdown_sent = False

    def send(self, kind: str, **data: Any) -> bool:
        try:
            self.cmd_w.send((kind, data))
            return True
        except (BrokenPipeError, EOFError, OSError):
            return False

    def cancel(self, job_id: int) -> None:
        self.cancel_time.value = time.monotonic()
        self.cancel_seq.value = job_id

    def clear_cancel(self) -> None:
        self.cancel_seq.value = 0
        self.cancel_time.value = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            try:
                self.proc.kill()
            except (OSError, ValueError):
                pass
        self.proc.join(5)

    def close(self) -> None:
        for c in (self.cmd_w, self.evt_r):
            try:
                c.close()
            except OSError:
                pass
        try:
            self.proc.close()
        except ValueError:
            pass


def exit_reason(code: int | None) -> str:
    if code is None:
        return "engine process vanished"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"engine process killed by {name}"
    if code == 0:
        return "engine process exited unexpectedly"
    return f"engine process exited with code {code}"
