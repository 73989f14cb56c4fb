"""Tempo: from MIDI clock (24 pulses per quarter note) when it runs, else the set tempo. One
shared tracker per process, so the OSC status can report what the MIDI input measured."""

from __future__ import annotations

import threading
import time
from collections import deque

PPQN = 24


class TempoTracker:
    def __init__(self, bpm: float = 120.0) -> None:
        self.set_bpm = float(bpm)
        self._ticks: deque[float] = deque(maxlen=PPQN * 2 + 1)
        self._lock = threading.Lock()

    def clock(self, t: float | None = None) -> None:
        """One MIDI clock pulse (``t``: its time in seconds, default now)."""
        with self._lock:
            self._ticks.append(time.monotonic() if t is None else t)

    def stop(self) -> None:
        with self._lock:
            self._ticks.clear()

    @property
    def clock_bpm(self) -> float | None:
        """The tempo the clock gives (over the last two beats), or None without a running clock."""
        with self._lock:
            ticks = list(self._ticks)
        if len(ticks) < PPQN // 2 or time.monotonic() - ticks[-1] > 1.0:
            return None
        span = ticks[-1] - ticks[0]
        if span <= 0:
            return None
        return round(60.0 / (span / (len(ticks) - 1) * PPQN), 2)

    @property
    def bpm(self) -> float:
        return self.clock_bpm or self.set_bpm

    @property
    def source(self) -> str:
        return "clock" if self.clock_bpm else "set"

    def beats_to_s(self, beats: float) -> float:
        return beats * 60.0 / self.bpm


shared = TempoTracker()
