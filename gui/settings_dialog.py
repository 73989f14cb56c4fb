"""Settings: output folder, rate, bit depth, audio device, the folders DAW requests may read, OSC
port and allowed senders, MIDI port and mapping (with a learn button per target), presets folder.
Validated before they are kept (QSettings, ``settings/...``); the service options apply the next time
the app starts its own service (a running one keeps what it was started with)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout, QGroupBox, QLabel,
                             QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QVBoxLayout)

from daw_bridge.audition import output_devices

RATES = (44_100, 48_000, 88_200, 96_000)
FORMATS = (("24-bit", "pcm24"), ("16-bit", "pcm16"), ("32-bit float", "float32"))
LEARN_TARGETS = ("guidance", "guidance_low", "strength", "steps", "duration", "seed")


def read(settings: QSettings) -> dict[str, Any]:
    """The saved settings with their defaults."""
    from engine import paths

    def get(key: str, default: Any) -> Any:
        v = settings.value(f"settings/{key}", None)
        return default if v is None else v

    return {
        "library": str(get("library", paths.output_dir())),
        "rate": int(get("rate", 48_000)), "format": str(get("format", "pcm24")),
        "device": str(get("device", "")),
        "allow_dirs": [d for d in str(get("allow_dirs", "")).splitlines() if d.strip()],
        "osc_port": int(get("osc_port", 9137)),
        "allow_senders": [s for s in str(get("allow_senders", "")).split(",") if s.strip()],
        "midi_in": str(get("midi_in", "")), "midi_map": str(get("midi_map", "")),
    }


def validate(values: dict[str, Any]) -> list[str]:
    """Problems, each naming the setting and what is allowed; empty when all is well."""
    problems = []
    library = Path(values["library"]).expanduser()
    if not library.is_dir() and not library.parent.is_dir():
        problems.append(f"Output folder: {library} does not exist and cannot be made (its parent is missing)")
    for d in values["allow_dirs"]:
        if not Path(d).expanduser().is_dir():
            problems.append(f"Allowed folders: {d} is not a folder")
    if not 1024 <= int(values["osc_port"]) <= 65535:
        problems.append(f"OSC port: {values['osc_port']} is not 1024-65535")
    for s in values["allow_senders"]:
        try:
            ipaddress.ip_address(socket.gethostbyname(s.strip()))
        except (OSError, ValueError):
            problems.append(f"Allowed senders: {s.strip()!r} is not an address this computer can resolve")
    if values["midi_map"] and not Path(values["midi_map"]).expanduser().parent.is_dir():
        problems.append(f"MIDI mapping: the folder of {values['midi_map']} does not exist")
    return problems


class SettingsDialog(QDialog):
    learned = pyqtSignal(str)

    def __init__(self, settings: QSettings, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        v = read(settings)
        self.library = QLineEdit(v["library"])
        self.rate = QComboBox()
        for r in RATES:
            self.rate.addItem(f"{r / 1000:g} kHz", r)
        self.rate.setCurrentIndex(max(0, self.rate.findData(v["rate"])))
        self.fmt = QComboBox()
        for label, f in FORMATS:
            self.fmt.addItem(label, f)
        self.fmt.setCurrentIndex(max(0, self.fmt.findData(v["format"])))
        self.device = QComboBox()
        self.device.addItem("Default output", "")
        for d in output_devices():
            self.device.addItem(d.name, d.name)
        self.device.setCurrentIndex(max(0, self.device.findData(v["device"])))
        self.allow_dirs = QPlainTextEdit("\n".join(v["allow_dirs"]))
        self.allow_dirs.setPlaceholderText("one folder a line (default: your music folder and the output library)")
        self.allow_dirs.setMaximumHeight(70)
        self.osc_port = QSpinBox(minimum=1, maximum=65535, value=v["osc_port"])
        self.allow_senders = QLineEdit(", ".join(v["allow_senders"]))
        self.allow_senders.setPlaceholderText("addresses allowed to send OSC from the network (comma separated)")
        self.midi_in = QLineEdit(v["midi_in"])
        self.midi_in.setPlaceholderText('a source port (empty: the virtual port "AudioLDM Bridge")')
        self.midi_map = QLineEdit(v["midi_map"])
        from daw_bridge.midi.mapping import default_path

        self.midi_map.setPlaceholderText(str(default_path()))
        from engine.presets import user_dir

        self.presets_dir = QLabel(str(user_dir()))
        self.learn_state = QLabel("")
        self.problems = QLabel("", objectName="crash")
        self.problems.setWordWrap(True)

        out = QFormLayout()
        out.addRow("Output folder", self.library)
        out.addRow("Sample rate", self.rate)
        out.addRow("Bit depth", self.fmt)
        out.addRow("Audio device", self.device)
        out.addRow("Presets folder", self.presets_dir)
        out_box = QGroupBox("Output")
        out_box.setLayout(out)
        daw = QFormLayout()
        daw.addRow("Allowed folders", self.allow_dirs)
        daw.addRow("OSC port", self.osc_port)
        daw.addRow("Allowed senders", self.allow_senders)
        daw_box = QGroupBox("DAW bridge (OSC)")
        daw_box.setLayout(daw)
        midi = QGridLayout()
        midi.addWidget(QLabel("MIDI input"), 0, 0)
        midi.addWidget(self.midi_in, 0, 1, 1, 3)
        midi.addWidget(QLabel("Mapping file"), 1, 0)
        midi.addWidget(self.midi_map, 1, 1, 1, 3)
        self.learn_buttons: dict[str, QPushButton] = {}
        for i, target in enumerate(LEARN_TARGETS):
            b = QPushButton(f"Learn {target}")
            b.clicked.connect(lambda _=False, t=target: self.learn(t))
            self.learn_buttons[target] = b
            midi.addWidget(b, 2 + i // 3, i % 3 + 1)
        midi.addWidget(self.learn_state, 4, 0, 1, 4)
        midi_box = QGroupBox("MIDI")
        midi_box.setLayout(midi)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (out_box, daw_box, midi_box, self.problems, buttons):
            lay.addWidget(w)
        self.learned.connect(self.learn_state.setText)

    def values(self) -> dict[str, Any]:
        return {"library": self.library.text().strip(), "rate": self.rate.currentData(),
                "format": self.fmt.currentData(), "device": self.device.currentData() or "",
                "allow_dirs": [d.strip() for d in self.allow_dirs.toPlainText().splitlines() if d.strip()],
                "osc_port": self.osc_port.value(),
                "allow_senders": [s.strip() for s in self.allow_senders.text().split(",") if s.strip()],
                "midi_in": self.midi_in.text().strip(), "midi_map": self.midi_map.text().strip()}

    def save(self) -> bool:
        values = self.values()
        problems = validate(values)
        if problems:
            self.problems.setText("\n".join(problems))
            return False
        s = self.settings
        for key, value in values.items():
            if isinstance(value, list):
                value = ("\n" if key == "allow_dirs" else ",").join(value)
            s.setValue(f"settings/{key}", value)
        s.sync()
        self.problems.setText("")
        self.accept()
        return True

    def learn(self, target: str) -> bool:
        """Drive the MIDI controller's learn mode (when MIDI runs in this process)."""
        from daw_bridge import rooms

        midi = rooms.midi()
        if midi is None:
            self.learn_state.setText("MIDI is off: start the app or serve with --midi-virtual, then learn")
            return False
        midi.learn(target, done=self.learned.emit)
        self.learn_state.setText(f"learn {target}: turn a knob on your controller …")
        return True
