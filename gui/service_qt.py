"""The service's events as Qt signals (Carla's ``HostSignals`` pattern): a thread reads the
subscription and emits; Qt delivers to the GUI thread (queued connections). The GUI never calls
anything that waits on the engine: the service API returns at once, in-process or over its socket."""

from __future__ import annotations

import threading
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from engine.service import events as ev


class ServiceSignals(QObject):
    received = pyqtSignal(object)       # every event, typed (engine.service.events)
    status = pyqtSignal(object)         # ServiceStatus, about once a second
    lost = pyqtSignal(str)              # the service (another process) went away

    def __init__(self, service: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._stream = service.events(max_pending=5000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="gui-events", daemon=True)
        self._thread.start()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.poll_status)
        self._timer.start(1000)

    def _read(self) -> None:
        while not self._stop.is_set():
            e = self._stream.get(timeout=0.25)
            if e is None:
                continue
            if isinstance(e, ev.ServiceConnection) and not e.connected:
                self.lost.emit(e.reason or "the render service stopped")
            self.received.emit(e)

    def poll_status(self) -> None:
        try:
            self.status.emit(self.service.status())
        except Exception as exc:  # a service in another process that died: say so, keep going
            self.lost.emit(str(exc))

    def close(self) -> None:
        self._stop.set()
        self._timer.stop()
        self._stream.close()
