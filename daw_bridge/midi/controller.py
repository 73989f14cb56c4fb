"""The MIDI instrument: notes render and audition, knobs move parameters, program changes pick a
bank, clock gives the tempo, learn assigns the next note or knob (docs/MIDI.md).

:meth:`MidiController.handle` takes mido messages from any thread (the port's callback) and only
does quick things: it updates state and calls the service API, which returns at once. Audition
runs from the service's events on a thread of its own and plays through
:class:`daw_bridge.audition.Player` (PortAudio's thread): nothing here waits on the engine or on audio.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine.errors import BridgeError
from engine.service import events as ev

from .. import tempo as tempo_mod
from ..audition import AudioUnavailable, Player
from . import mapping as M

log = logging.getLogger("daw_bridge.midi")
KEY_PREFIX = "midi:"
PREVIEW_EVERY = 3


@dataclass
class Voice:
    """The audition job a key started."""

    job: int
    note: M.NoteMap
    velocity: float
    t_note_on: float
    client_id: str
    gate_open: bool = True
    t_first_sound: float | None = None
    t_done: float | None = None
    played_final: bool = False
    events: list[str] = field(default_factory=list)


class MidiController:
    def __init__(self, service: Any, mapping: M.Mapping, *, player: Player | None = None,
                 tempo: tempo_mod.TempoTracker | None = None, audition: bool = True) -> None:
        self.service = service
        self.mapping = mapping
        self.player = player if player is not None else (Player() if audition else None)
        self.tempo = tempo or tempo_mod.shared
        self.tempo.set_bpm = mapping.tempo_bpm
        self.bank = 0
        self.cc_values: dict[str, Any] = {}
        self.voice: Voice | None = None
        self.voices: dict[int, Voice] = {}
        self.status_line: str | None = None
        self._learn: tuple[str, Callable[[str], None] | None] | None = None
        self._lock = threading.Lock()
        #: Called with (client job id, state) for started, preview, final, stopped (OSC mirrors them).
        self.audition_listeners: list[Callable[[str, str], None]] = []
        self._stream = service.events(max_pending=5000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._events, name="midi-audition", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._stream.close()
        if self.player is not None:
            self.player.stop()

    # ------------------------------------------------------------------ learn
    def learn(self, target: str, done: Callable[[str], None] | None = None) -> None:
        """The next note or CC received is assigned to ``target`` (a CC target, or "preset:NAME" /
        "prompt:TEXT" for a key) and written to the mapping file."""
        if target not in M.TARGETS and not target.startswith(("preset:", "prompt:")):
            raise BridgeError(f"learn target {target!r}: use one of {', '.join(M.TARGETS)}, preset:NAME or "
                              f"prompt:TEXT")
        with self._lock:
            self._learn = (target, done)

    def _learned(self, msg: Any) -> None:
        target, done = self._learn
        self._learn = None
        path = self.mapping.path or M.default_path()
        try:
            said = M.assign(path, target, msg)
            self.mapping = M.load(path)
        except BridgeError as exc:
            said = f"learn failed: {exc}"
        log.info("MIDI learn: %s", said)
        self.status_line = said
        if done is not None:
            done(said)

    # ------------------------------------------------------------------ messages
    def handle(self, msg: Any) -> None:
        try:
            self._handle(msg)
        except BridgeError as exc:
            self.status_line = str(exc)
            log.warning("MIDI: %s", exc)
        except Exception:  # one bad message never stops the instrument
            log.exception("MIDI: could not handle %s", msg)

    def _handle(self, msg: Any) -> None:
        kind = msg.type
        if kind == "clock":
            self.tempo.clock()
            return
        if kind in ("start", "continue"):
            return
        if kind == "stop":
            self.tempo.stop()
            return
        with self._lock:
            learning = self._learn is not None
        if learning and (kind == "control_change" or (kind == "note_on" and msg.velocity > 0)):
            self._learned(msg)
            return
        channel = getattr(msg, "channel", 0) + 1
        if kind == "note_on" and msg.velocity > 0:
            self.note_on(msg.note, msg.velocity, channel)
        elif kind == "note_off" or (kind == "note_on" and msg.velocity == 0):
            self.note_off(msg.note, channel)
        elif kind == "control_change":
            cc = self.mapping.cc(msg.control, channel)
            if cc is not None:
                self.cc_values[cc.target] = cc.value(msg.value)
        elif kind == "program_change":
            if self.mapping.channel and channel != self.mapping.channel:
                return
            self.bank = msg.program

    def note_on(self, number: int, velocity: int, channel: int = 1) -> int | None:
        t0 = time.perf_counter()
        note = self.mapping.note(number, self.bank, channel)
        if note is None:
            return None
        v = velocity / 127.0
        request = M.request_for(note, self.cc_values, self.tempo.bpm, v, self.mapping.velocity_to_strength)
        previous = self.voice
        if previous is not None and previous.t_done is None:
            try:  # a new note supersedes the audition it interrupts
                self.service.cancel(previous.job)
            except BridgeError:
                pass
        client_id = f"{KEY_PREFIX}{uuid.uuid4().hex[:12]}"
        job = self.service.submit(request, lane="audition", preview_every=PREVIEW_EVERY, key=client_id)
        voice = Voice(job=job, note=note, velocity=v, t_note_on=t0, client_id=client_id)
        with self._lock:
            self.voice = voice
            self.voices[job] = voice
        if self.player is not None:
            self.player.reset_first_sound()
        self._announce(voice, "started")
        log.info("MIDI note %s (velocity %d, bank %d) -> job %d: %s", M.note_name(number), velocity, self.bank,
                 job, request.prompt)
        return job

    def note_off(self, number: int, channel: int = 1) -> None:
        voice = self.voice
        if voice is None or voice.note.note != number:
            return
        voice.gate_open = False
        if voice.note.mode == "gate" and self.player is not None:
            self.player.stop()
            self._announce(voice, "stopped")

    # ------------------------------------------------------------------ audition
    def _announce(self, voice: Voice, state: str) -> None:
        from .. import rooms

        voice.events.append(state)
        for listener in list(self.audition_listeners) + list(rooms.audition_listeners):
            try:
                listener(voice.client_id, state)
            except Exception:
                log.exception("audition listener failed")

    def _events(self) -> None:
        while not self._stop.is_set():
            e = self._stream.get(timeout=0.25)
            if e is None:
                continue
            try:
                self._on_event(e)
            except Exception:
                log.exception("MIDI audition: could not handle %s", type(e).__name__)

    def _audible(self, voice: Voice) -> bool:
        return voice is self.voice and (voice.gate_open or voice.note.mode == "one_shot")

    def _play(self, voice: Voice, audio: Any, rate: int, what: str) -> None:
        if self.player is None:
            return
        gain = voice.velocity if self.mapping.velocity_to_gain else 1.0
        try:
            self.player.play(audio, rate, clip_id=f"{voice.job}:{what}", gain=gain, loop=False)
        except AudioUnavailable as exc:  # a status line, never a crash
            self.status_line = f"audition is off: {exc}"
            log.warning("MIDI audition: %s", exc)
            return
        self._announce(voice, what)

    def _on_event(self, e: Any) -> None:
        voice = self.voices.get(getattr(e, "job_id", -1))
        if voice is None:
            return
        if isinstance(e, ev.JobPreview):
            if self._audible(voice) and not voice.played_final:
                self._play(voice, e.audio, e.sample_rate, "preview")
        elif isinstance(e, ev.JobDone):
            voice.t_done = time.perf_counter()
            if e.outputs and self._audible(voice):
                import soundfile as sf

                audio, rate = sf.read(e.outputs[0], dtype="float32", always_2d=True)
                voice.played_final = True
                self._play(voice, audio, rate, "final")
        elif isinstance(e, (ev.JobFailed, ev.JobCancelled)):
            voice.t_done = time.perf_counter()
            if isinstance(e, ev.JobFailed):
                self.status_line = f"note {M.note_name(voice.note.note)}: {e.error}"
            self._announce(voice, "stopped")

    def first_sound_s(self, voice: Voice) -> float | None:
        """Note-on -> the first audible sample of its audition (from the player's callback)."""
        t = self.player.first_sound_t if self.player is not None else None
        return None if t is None else t - voice.t_note_on


def controller_for(service: Any, path: Path | None = None, **kw: Any) -> MidiController:
    return MidiController(service, M.load(path), **kw)
