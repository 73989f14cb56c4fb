"""MIDI ports (mido with python-rtmidi): the virtual input "AudioLDM Bridge", or a connection to a
named source port, kept alive: a source that disappears (controller unplugged, JACK restarted) is
connected again when it comes back, and messages go to the callback meanwhile from whatever is
connected.

On Linux the JACK API is used when a JACK server runs (the ALSA sequencer needs /dev/snd); with
JACK, routing a source to our port is a JACK connection (``jack_connect``, what qjackctl does),
because rtmidi's JACK back end does not connect ports opened by name.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
from typing import Any, Callable

from engine.errors import BridgeError

log = logging.getLogger("daw_bridge.midi")
PORT_NAME = "AudioLDM Bridge"
_backend: str | None = None


class MidiUnavailable(BridgeError):
    """No MIDI back end (python-rtmidi missing, no JACK server or ALSA sequencer)."""


def _jack_running() -> bool:
    if not shutil.which("jack_lsp"):
        return False
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=3).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def backend() -> str:
    """Choose (once) and return the mido back end: rtmidi's JACK API on Linux when JACK runs."""
    global _backend
    if _backend is not None:
        return _backend
    try:
        import mido
        import rtmidi

        del rtmidi  # only: is python-rtmidi there
    except ModuleNotFoundError as exc:
        raise MidiUnavailable(f"MIDI needs {exc.name}: pip install \"audioldm-bridge[bridge]\"") from None
    name = "mido.backends.rtmidi"
    if sys.platform.startswith("linux") and _jack_running():
        name = "mido.backends.rtmidi/UNIX_JACK"
    mido.set_backend(name)
    _backend = name
    return name


def is_jack() -> bool:
    return backend().endswith("UNIX_JACK")


def input_names() -> list[str]:
    import mido

    backend()
    try:
        return list(mido.get_input_names())
    except Exception as exc:
        raise MidiUnavailable(f"cannot list MIDI ports ({exc}); on Linux start a JACK server or load the "
                              f"ALSA sequencer (snd-seq)") from None


def source_names() -> list[str]:
    """Ports that can send to us (controllers, DAW outputs)."""
    import mido

    backend()
    try:
        names = list(mido.get_output_names()) if is_jack() else list(mido.get_input_names())
    except Exception as exc:
        raise MidiUnavailable(f"cannot list MIDI ports ({exc})") from None
    return [n for n in names if not n.startswith(f"{PORT_NAME}:")]


def _jack_ports() -> list[str]:
    try:
        out = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


class MidiInput:
    """Our input port, kept open and connected; ``callback(message)`` runs on rtmidi's thread."""

    def __init__(self, callback: Callable[[Any], None], *, source: str | None = None, virtual: bool = True,
                 watch_s: float = 1.0) -> None:
        self.callback = callback
        self.source = source
        self.virtual = virtual or source is None
        self.watch_s = watch_s
        self._port = None
        self._connected_to: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reconnects = 0

    @property
    def name(self) -> str:
        return f"{PORT_NAME}:{PORT_NAME}" if is_jack() else PORT_NAME

    def start(self) -> "MidiInput":
        backend()
        self._open()
        self._thread = threading.Thread(target=self._watch, name="midi-watch", daemon=True)
        self._thread.start()
        return self

    def _open(self) -> None:
        import mido

        try:
            if self.virtual or is_jack():
                self._port = mido.open_input(PORT_NAME, virtual=True, client_name=PORT_NAME, callback=self._on)
            else:
                self._port = mido.open_input(self._match(self.source), callback=self._on)
                self._connected_to = self.source
        except MidiUnavailable:
            raise
        except Exception as exc:
            raise MidiUnavailable(f"cannot open the MIDI port {PORT_NAME!r} ({exc})") from None
        self._connect_source()

    def _match(self, wanted: str | None) -> str:
        names = input_names()
        for n in names:
            if wanted and wanted.lower() in n.lower():
                return n
        raise MidiUnavailable(f"no MIDI port {wanted!r}; there are: {', '.join(names) or 'none'} "
                              f"(audioldm-bridge midi ports)")

    def _connect_source(self) -> None:
        if self.source is None or not is_jack():
            return
        ports = _jack_ports()
        match = next((p for p in ports if self.source.lower() in p.lower() and not p.startswith(f"{PORT_NAME}:")),
                     None)
        if match is None:
            self._connected_to = None
            return
        r = subprocess.run(["jack_connect", match, self.name], capture_output=True, text=True, timeout=5)
        if r.returncode == 0 or "already" in (r.stderr + r.stdout):
            if self._connected_to != match:
                log.info("MIDI: %s -> %s", match, self.name)
            self._connected_to = match

    def _on(self, message: Any) -> None:
        try:
            self.callback(message)
        except Exception:
            log.exception("MIDI callback failed")

    def _watch(self) -> None:
        """Re-open a port that died and re-connect a source that came back."""
        while not self._stop.wait(self.watch_s):
            try:
                if self.source is not None:
                    if is_jack():
                        ports = _jack_ports()
                        alive = self._connected_to in ports if self._connected_to else False
                        if not alive:
                            self._connect_source()
                            if self._connected_to:
                                self.reconnects += 1
                    elif self.source and not any(self.source.lower() in n.lower() for n in input_names()):
                        self._connected_to = None
                    elif self._connected_to is None:
                        self._close_port()
                        self._open()
                        self.reconnects += 1
                if is_jack() and self.name not in _jack_ports():  # JACK restarted: our port is gone
                    self._close_port()
                    self._open()
                    self.reconnects += 1
            except BridgeError as exc:
                log.info("MIDI: waiting for the port: %s", exc)
            except Exception:
                log.exception("MIDI watchdog")

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:
                pass

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3)
        self._close_port()

    def __repr__(self) -> str:
        return f"MidiInput({self.name}{' <- ' + self.source if self.source else ''})"
