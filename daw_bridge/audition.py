"""Audition through sounddevice: play / stop / loop a clip (or a render's preview) on a chosen
output device, from PortAudio's callback thread: neither the GUI nor the MIDI thread ever waits
on audio. Qt-free; used by the desktop app and the MIDI audition.

The clip is resampled to the device's rate (soxr). Switching clips (a preview, then the finished
render) crossfades over ``XFADE_S``, starting and stopping fade over ``FADE_S``, so no click is
heard. ``position_s`` lets A/B switching keep the playhead; ``first_sound_t`` is when the callback
first wrote a non-silent sample of the current clip (``time.perf_counter()``; benchmarks).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

FADE_S = 0.005
XFADE_S = 0.015


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


def find_device(name_or_index: str | int | None) -> int | None:
    """An output device by index or by (part of) its name; None for the default. Raises
    AudioUnavailable naming the devices there are."""
    if name_or_index is None or name_or_index == "":
        return None
    devices = output_devices()
    if isinstance(name_or_index, int) or str(name_or_index).isdigit():
        index = int(name_or_index)
        if any(d.index == index for d in devices):
            return index
    else:
        for d in devices:
            if str(name_or_index).lower() in d.name.lower():
                return d.index
    names = "; ".join(f"{d.index}: {d.name}" for d in devices) or "none"
    raise AudioUnavailable(f"no output device {name_or_index!r}; there are: {names} "
                           f"(audioldm-bridge audio devices)")


class Player:
    def __init__(self, device: int | None = None) -> None:
        self._lock = threading.Lock()
        self._stream = None
        self._audio: np.ndarray | None = None  # (frames, 2) at the device rate
        self._old: np.ndarray | None = None    # what is fading out after a switch
        self._old_pos = 0
        self._xfade = 0
        self._pos = 0
        self._rate = 48_000
        self.loop = False
        self.gain = 1.0
        self.device: int | None = device
        self.playing_id: str | None = None
        self.first_sound_t: float | None = None
        self._armed = True
        self.frames_played = 0
        self.error: str | None = None

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._audio is not None

    @property
    def position_s(self) -> float:
        return self._pos / self._rate if self._rate else 0.0

    def _device_rate(self) -> int:
        import sounddevice as sd

        try:
            info = (sd.query_devices(self.device, "output") if self.device is not None
                    else sd.query_devices(kind="output"))
        except Exception as exc:
            raise AudioUnavailable(f"no audio output device ({exc})") from None
        return int(info["default_samplerate"])

    def play(self, audio: np.ndarray, sample_rate: int, *, clip_id: str | None = None, start_s: float = 0.0,
             loop: bool | None = None, gain: float | None = None) -> None:
        """Start (or switch to, crossfading) ``audio`` ((frames,) or (frames, channels)) from ``start_s``."""
        from engine.dsp import resample

        rate = self._device_rate() if self._stream is None else self._rate
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] == 1:
            x = np.repeat(x, 2, axis=1)
        x = np.ascontiguousarray(x[:, :2])
        if sample_rate != rate:
            x = np.stack([resample(x[:, c], sample_rate, rate) for c in range(2)], axis=1).astype(np.float32)
        n = min(int(FADE_S * rate), len(x) // 2)
        if n > 1:
            ramp = np.linspace(0, 1, n, dtype=np.float32)[:, None]
            x[:n] *= ramp
            x[-n:] *= ramp[::-1]
        with self._lock:
            if self._audio is not None:  # switching: the old clip fades out under the new one
                self._old, self._old_pos, self._xfade = self._audio, self._pos, int(XFADE_S * rate)
            self._audio = x
            self._rate = rate
            self._pos = min(int(start_s * rate), max(len(x) - 1, 0))
            if loop is not None:
                self.loop = loop
            if gain is not None:
                self.gain = float(gain)
            self.playing_id = clip_id
            self._armed = True
        if self._stream is None:
            import sounddevice as sd

            try:
                self._stream = sd.OutputStream(samplerate=rate, channels=2, dtype="float32", device=self.device,
                                               callback=self._callback)
                self._stream.start()
            except Exception as exc:
                self._stream = None
                self.error = str(exc)
                raise AudioUnavailable(f"cannot open the audio device ({exc})") from None

    def reset_first_sound(self) -> None:
        """Start timing a new "first audible sample" (a note-on, a click on Play): the next clip
        given to :meth:`play` counts, not what is still sounding now."""
        with self._lock:
            self.first_sound_t = None
            self._armed = False

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        with self._lock:
            self._audio = None
            self._old = None
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
            out = np.zeros((frames, 2), np.float32)
            if x is not None:
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
                if self._old is not None and self._xfade > 0:
                    n = min(frames, self._xfade, len(self._old) - self._old_pos)
                    if n > 0:
                        k = np.arange(n, dtype=np.float32)
                        total = max(self._xfade, 1)
                        fade_out = (1.0 - k / total)[:, None]
                        out[:n] = out[:n] * (1.0 - fade_out) + self._old[self._old_pos:self._old_pos + n] * fade_out
                        self._old_pos += n
                        self._xfade -= n
                    if n <= 0 or self._xfade <= 0:
                        self._old = None
                if self.first_sound_t is None and self._armed and np.any(np.abs(out) > 1e-4):
                    self.first_sound_t = time.perf_counter()
                self.frames_played += frames
                if self._pos >= len(x) and not self.loop:
                    self._audio = None
                    self.playing_id = None
            outdata[:] = out * self.gain
