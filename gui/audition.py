"""Audition through sounddevice: play / stop / loop a clip (or a render's preview) on a chosen
output device, from a callback thread (the GUI thread never waits on audio). Qt-free.

The clip is resampled to the device's rate (soxr); a short fade at each start and stop keeps
playback free of clicks. ``position_s`` lets A/B switching keep the playhead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

FADE_S = 0.005


@dataclass
class Device:
    index: int
    name: str
    default_rate: int


class AudioUnavailable(RuntimeError):
    """No output device (or no PortAudio): audition is off, everything else works."""


def output_devices() -> list[Device]:
    try:
        import sounddevice as sd

        return [Device(i, d["name"], int(d["default_samplerate"])) for i, d in enumerate(sd.query_devices())
                if d["max_output_channels"] > 0]
    except Exception:
        return []


class Player:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stream = None
        self._audio: np.ndarray | None = None  # (frames, 2) at the device rate
        self._pos = 0
        self._rate = 48_000
        self.loop = False
        self.device: int | None = None
        self.playing_id: str | None = None
        self._fade_out = 0

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._audio is not None

    @property
    def position_s(self) -> float:
        return self._pos / self._rate if self._rate else 0.0

    def play(self, audio: np.ndarray, sample_rate: int, *, clip_id: str | None = None, start_s: float = 0.0,
             loop: bool | None = None) -> None:
        """Start (or switch to) ``audio`` ((frames,) or (frames, channels)) from ``start_s``."""
        import sounddevice as sd

        from engine.dsp import resample

        device = self.device
        try:
            info = sd.query_devices(device, "output") if device is not None else sd.query_devices(kind="output")
        except Exception as exc:
            raise AudioUnavailable(f"no audio output device ({exc})") from None
        rate = int(info["default_samplerate"])
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] == 1:
            x = np.repeat(x, 2, axis=1)
        x = x[:, :2]
        if sample_rate != rate:
            x = np.stack([resample(x[:, c], sample_rate, rate) for c in range(2)], axis=1).astype(np.float32)
        n = min(int(FADE_S * rate), len(x) // 2)
        if n > 1:
            ramp = np.linspace(0, 1, n, dtype=np.float32)[:, None]
            x[:n] *= ramp
            x[-n:] *= ramp[::-1]
        with self._lock:
            self._audio = x
            self._rate = rate
            self._pos = min(int(start_s * rate), max(len(x) - 1, 0))
            self._fade_out = 0
            if loop is not None:
                self.loop = loop
            self.playing_id = clip_id
        if self._stream is None:
            try:
                self._stream = sd.OutputStream(samplerate=rate, channels=2, dtype="float32", device=device,
                                               callback=self._callback, finished_callback=self._finished)
                self._stream.start()
            except Exception as exc:
                self._stream = None
                raise AudioUnavailable(f"cannot open the audio device ({exc})") from None

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        with self._lock:
            self._audio = None
            self.playing_id = None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass

    def _callback(self, outdata, frames, time_info, status) -> None:
        with self._lock:
            x = self._audio
            if x is None:
                outdata.fill(0)
                return
            out = np.zeros((frames, 2), np.float32)
            written = 0
            while written < frames:
                chunk = x[self._pos:self._pos + frames - written]
                out[written:written + len(chunk)] = chunk
                written += len(chunk)
                self._pos += len(chunk)
                if self._pos >= len(x):
                    if not self.loop:
                        break
                    self._pos = 0
            outdata[:] = out
            if self._pos >= len(x) and not self.loop:
                self._audio = None
                self.playing_id = None

    def _finished(self) -> None:
        pass
