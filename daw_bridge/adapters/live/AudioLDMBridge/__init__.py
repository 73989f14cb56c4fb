"""AudioLDM Bridge remote script for Ableton Live 12 (install: audioldm-bridge daw install live).

Listens on UDP 11010 (127.0.0.1) for:
  /audioldm/live/run <mode:s> <prompt:s> <strength:f>   edit the selected clip (style_transfer,
                                                        upsample) through the bridge's OSC
  /audioldm/live/selected                               reply /audioldm/live/clip <path> <start_s> <end_s> ...
and sends requests to the bridge (127.0.0.1:9137), whose /audioldm/done it receives on the same
port, then puts the result into the next empty Session slot (Session clip) or onto a take lane at
the clip's position (Arrangement clip). All Live calls happen on Live's thread (update_display).
"""

from __future__ import annotations

import socket

try:  # inside Live
    from _Framework.ControlSurface import ControlSurface
except ImportError:  # outside Live (tests): a stand-in base class
    class ControlSurface:  # type: ignore[no-redef]
        def __init__(self, c_instance=None):
            self._c_instance = c_instance

        def song(self):
            return self._c_instance.song()

        def show_message(self, text):
            pass

        def log_message(self, *a):
            pass

from . import osc
from .handler import LiveError, LiveHandler

PORT = 11010
BRIDGE = ("127.0.0.1", 9137)


class AudioLDMBridge(ControlSurface):
    def __init__(self, c_instance):
        ControlSurface.__init__(self, c_instance)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", PORT))
        self.sock.setblocking(False)
        self.pending = {}  # job id -> where the result goes
        self.counter = 0

    def disconnect(self):
        self.sock.close()

    def update_display(self):
        """Live calls this about ten times a second on its own thread: handle what arrived."""
        for _ in range(32):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, OSError):
                return
            try:
                self.handle(*osc.decode(data), addr)
            except (LiveError, ValueError) as exc:
                self.show_message("AudioLDM: %s" % exc)
                self.sock.sendto(osc.encode("/audioldm/live/error", str(exc)), addr)

    def handle(self, address, args, addr):
        handler = LiveHandler(self.song())
        if address == "/audioldm/live/selected":
            c = handler.selected()
            self.sock.sendto(osc.encode("/audioldm/live/clip", c["file_path"], float(c["start_s"]),
                                        float(c["end_s"]), int(c["track"]), int(c["slot"])), addr)
        elif address == "/audioldm/live/run":
            defaults = ["upsample", "", 0.5]
            mode, prompt, strength = (list(args) + defaults[len(args):])[:3]
            c = handler.selected()
            self.counter += 1
            job = "live-%d-%d" % (id(self) % 100000, self.counter)
            if mode == "style_transfer":
                msg = ("/audioldm/style_transfer", job, c["file_path"], float(c["start_s"]), float(c["end_s"]),
                       prompt or "a new sound", float(strength))
            elif mode == "upsample":
                msg = ("/audioldm/upsample", job, c["file_path"], float(c["start_s"]), float(c["end_s"]))
            else:
                raise LiveError("mode must be style_transfer or upsample")
            self.pending[job] = c
            self.sock.sendto(osc.encode(*msg), BRIDGE)
            self.show_message("AudioLDM: %s sent (%s)" % (mode, job))
        elif address == "/audioldm/done" and args and args[0] in self.pending:
            c = self.pending.pop(args[0])
            if c["arrangement_beats"] is not None:
                where = handler.insert(args[1], c["track"], beats_at=c["arrangement_beats"], take_lane=True)
            else:
                where = handler.insert(args[1], c["track"], slot=c["slot"] + 1)
            self.show_message("AudioLDM: result in %s" % where)
        elif address == "/audioldm/error" and args and args[0] in self.pending:
            self.pending.pop(args[0])
            self.show_message("AudioLDM: %s" % args[2])


def create_instance(c_instance):
    return AudioLDMBridge(c_instance)
