"""MIDI mappings: which key renders what, which knob moves which parameter (docs/MIDI.md).

A TOML file in the user config folder (``<config>/midi.toml``), validated with errors that name the
file and the line::

    [settings]
    channel = 0             # 0: any channel (omni); 1-16: only that one
    tempo_bpm = 120         # used when no MIDI clock runs
    velocity_to_gain = true # the key's velocity sets the audition level
    velocity_to_strength = false

    [[note]]
    note = 36               # a number 0-127 or a name: "C2" (middle C is C4 = 60)
    preset = "kick-deep"    # or prompt = "...", with request fields in [note.params]
    mode = "one_shot"       # one_shot (plays to the end) | gate (note-off stops it)
    bank = 0                # program change selects the bank (default 0)
    duration_beats = 1      # optional: the clip's length at the current tempo (or duration_s)

    [[cc]]
    cc = 1
    target = "guidance"     # guidance, guidance_low, strength, steps, duration, seed
    min = 1.0
    max = 8.0
    curve = "linear"        # linear | exp | log

Pure data and functions; the controller (``controller.py``) uses them.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import BridgeError

TARGETS = {"guidance": "guidance_scale", "guidance_low": "guidance_low", "strength": "strength",
           "steps": "steps", "duration": "duration_s", "seed": "seed"}
#: Sensible ranges when a CC mapping gives none.
DEFAULT_RANGES = {"guidance": (0.0, 10.0), "guidance_low": (0.0, 10.0), "strength": (0.0, 1.0),
                  "steps": (4.0, 50.0), "duration": (0.5, 10.0), "seed": (0.0, 127.0)}
CURVES = ("linear", "exp", "log")
MODES = ("one_shot", "gate")
NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAME = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")


class MappingError(BridgeError):
    """A mapping file that cannot be used; the message names the file and the line."""


def note_number(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not a note: {value!r}")
    if isinstance(value, int):
        if 0 <= value <= 127:
            return value
        raise ValueError(f"a note number is 0-127, got {value}")
    m = _NAME.match(str(value).strip())
    if not m:
        raise ValueError(f'a note is a number 0-127 or a name like "C4" (middle C) or "F#2", got {value!r}')
    letter, accidental, octave = m.groups()
    n = (int(octave) + 1) * 12 + NOTE_NAMES[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]
    if not 0 <= n <= 127:
        raise ValueError(f"{value} is outside the MIDI range")
    return n


def note_name(n: int) -> str:
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    return f"{names[n % 12]}{n // 12 - 1}"


def apply_curve(value: int, lo: float, hi: float, curve: str) -> float:
    """A 0-127 controller value onto [lo, hi] along the curve."""
    x = max(0, min(127, value)) / 127.0
    if curve == "exp":
        x = (math.exp(3 * x) - 1) / (math.exp(3) - 1)
    elif curve == "log":
        x = math.log1p(x * (math.e ** 3 - 1)) / 3
    return lo + (hi - lo) * x


@dataclass
class NoteMap:
    note: int
    preset: str | None = None
    prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    mode: str = "one_shot"
    bank: int = 0
    channel: int = 0
    duration_beats: float | None = None
    line: int = 0


@dataclass
class CCMap:
    cc: int
    target: str
    min: float
    max: float
    curve: str = "linear"
    channel: int = 0
    line: int = 0

    def value(self, raw: int) -> float | int:
        v = apply_curve(raw, self.min, self.max, self.curve)
        return int(round(v)) if self.target in ("steps", "seed") else round(v, 4)


@dataclass
class Mapping:
    notes: list[NoteMap] = field(default_factory=list)
    ccs: list[CCMap] = field(default_factory=list)
    channel: int = 0
    tempo_bpm: float = 120.0
    velocity_to_gain: bool = True
    velocity_to_strength: bool = False
    path: Path | None = None

    def note(self, number: int, bank: int, channel: int) -> NoteMap | None:
        """``channel`` is 1-16 (mido's 0-15 plus one)."""
        if self.channel and channel != self.channel:
            return None
        for n in self.notes:
            if n.note == number and n.bank == bank and (not n.channel or n.channel == channel):
                return n
        return None

    def cc(self, number: int, channel: int) -> CCMap | None:
        if self.channel and channel != self.channel:
            return None
        for c in self.ccs:
            if c.cc == number and (not c.channel or c.channel == channel):
                return c
        return None


def default_path() -> Path:
    return paths.config_dir() / "midi.toml"


def _lines_of(text: str, table: str) -> list[int]:
    return [i + 1 for i, line in enumerate(text.splitlines()) if re.match(rf"^\s*\[\[\s*{table}\s*\]\]", line)]


def _key_line(text: str, start: int, key: str) -> int:
    lines = text.splitlines()
    for i in range(max(start, 1) - 1, len(lines)):
        if i > start - 1 and re.match(r"^\s*\[", lines[i]):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start


def _whole(entry: dict, key: str, default: int, lo: int, hi: int, allowed: str, fail, text: str, start: int) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise fail(_key_line(text, start, key), f"{key} must be {allowed}, got {value!r}")
    return value


def parse(text: str, path: Path) -> Mapping:
    def fail(line: int, message: str) -> MappingError:
        return MappingError(f"{path}:{line}: {message}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise fail(int(m.group(1)) if m else 1, f"not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"settings", "note", "cc"})
    if unknown:
        line = next((i + 1 for i, ln in enumerate(text.splitlines()) if unknown[0] in ln), 1)
        raise fail(line, f"unknown section {unknown[0]!r}; a mapping has [settings], [[note]] and [[cc]]")
    mapping = Mapping(path=path)
    settings = data.get("settings", {})
    s_line = next((i + 1 for i, ln in enumerate(text.splitlines()) if ln.strip() == "[settings]"), 1)
    for key, value in settings.items():
        line = _key_line(text, s_line, key)
        if key == "channel":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16:
                raise fail(line, f"channel must be 0 (any) or 1-16, got {value!r}")
            mapping.channel = value
        elif key == "tempo_bpm":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 20 <= value <= 400:
                raise fail(line, f"tempo_bpm must be 20-400, got {value!r}")
            mapping.tempo_bpm = float(value)
        elif key in ("velocity_to_gain", "velocity_to_strength"):
            if not isinstance(value, bool):
                raise fail(line, f"{key} must be true or false, got {value!r}")
            setattr(mapping, key, value)
        else:
            raise fail(line, f"unknown setting {key!r}; settings: channel, tempo_bpm, velocity_to_gain, "
                             f"velocity_to_strength")
    note_lines = _lines_of(text, "note")
    for i, entry in enumerate(data.get("note", [])):
        start = note_lines[i] if i < len(note_lines) else 1
        known = {"note", "preset", "prompt", "params", "mode", "bank", "channel", "duration_beats", "duration_s"}
        for key in entry:
            if key not in known:
                raise fail(_key_line(text, start, key), f"unknown note field {key!r}; fields: {', '.join(sorted(known))}")
        try:
            number = note_number(entry.get("note"))
        except ValueError as exc:
            raise fail(_key_line(text, start, "note"), str(exc)) from None
        preset, prompt = entry.get("preset"), entry.get("prompt")
        if (preset is None) == (prompt is None):
            raise fail(start, "a note maps to a preset or a prompt (one of them)")
        if preset is not None:
            from engine import presets

            try:
                presets.load().get(str(preset))
            except presets.PresetError as exc:
                raise fail(_key_line(text, start, "preset"), str(exc)) from None
        params = dict(entry.get("params", {}))
        if "duration_s" in entry:
            params["duration_s"] = entry["duration_s"]
        mode = entry.get("mode", "one_shot")
        if mode not in MODES:
            raise fail(_key_line(text, start, "mode"), f"mode must be one_shot or gate, got {mode!r}")
        bank = _whole(entry, "bank", 0, 0, 127, "a program number 0-127", fail, text, start)
        channel = _whole(entry, "channel", 0, 0, 16, "0 (any) or 1-16", fail, text, start)
        beats = entry.get("duration_beats")
        if beats is not None and (isinstance(beats, bool) or not isinstance(beats, (int, float)) or not 0 < beats <= 64):
            raise fail(_key_line(text, start, "duration_beats"), f"duration_beats must be 0-64, got {beats!r}")
        note = NoteMap(note=number, preset=preset, prompt=prompt, params=params, mode=mode, bank=bank,
                       channel=channel, duration_beats=float(beats) if beats is not None else None, line=start)
        try:  # the request this key would render, checked now rather than at the first key press
            request_for(note, {}, 120.0, 1.0, mapping.velocity_to_strength)
        except BridgeError as exc:
            raise fail(start, f"note {note_name(number)}: {exc}") from None
        if any(n.note == number and n.bank == bank and n.channel == channel for n in mapping.notes):
            raise fail(start, f"note {note_name(number)} (bank {bank}) is mapped twice")
        mapping.notes.append(note)
    cc_lines = _lines_of(text, "cc")
    for i, entry in enumerate(data.get("cc", [])):
        start = cc_lines[i] if i < len(cc_lines) else 1
        known = {"cc", "target", "min", "max", "curve", "channel"}
        for key in entry:
            if key not in known:
                raise fail(_key_line(text, start, key), f"unknown cc field {key!r}; fields: {', '.join(sorted(known))}")
        number = entry.get("cc")
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 127:
            raise fail(_key_line(text, start, "cc"), f"cc must be a controller number 0-127, got {number!r}")
        target = entry.get("target")
        if target not in TARGETS:
            raise fail(_key_line(text, start, "target"), f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        lo, hi = DEFAULT_RANGES[target]
        lo, hi = entry.get("min", lo), entry.get("max", hi)
        for key, v in (("min", lo), ("max", hi)):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise fail(_key_line(text, start, key), f"{key} must be a number, got {v!r}")
        curve = entry.get("curve", "linear")
        if curve not in CURVES:
            raise fail(_key_line(text, start, "curve"), f"curve must be one of {', '.join(CURVES)}, got {curve!r}")
        channel = _whole(entry, "channel", 0, 0, 16, "0 (any) or 1-16", fail, text, start)
        mapping.ccs.append(CCMap(cc=number, target=target, min=float(lo), max=float(hi), curve=curve,
                                 channel=channel, line=start))
    return mapping


def load(path: Path | None = None) -> Mapping:
    path = path or default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Mapping(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}:1: cannot read it ({exc})") from None
    return parse(text, path)


def request_for(note: NoteMap, cc_values: dict[str, Any], tempo_bpm: float, velocity: float,
                velocity_to_strength: bool):
    """The request a key renders: its preset or prompt, its params, the knobs' current values, the
    tempo for a length in beats, and (optionally) velocity as strength."""
    from engine import presets
    from engine.request import RenderRequest, random_seed

    live: dict[str, Any] = {TARGETS[t]: v for t, v in cc_values.items()}  # knobs: where the mode uses them
    if note.duration_beats is not None:
        live["duration_s"] = round(note.duration_beats * 60.0 / tempo_bpm, 3)
    if velocity_to_strength:
        live["strength"] = round(max(0.0, min(1.0, velocity)), 3)
    mode = presets.load().get(note.preset).mode if note.preset is not None else "generate"
    fields = dict(note.params)  # the mapping's own params: a field the mode ignores is an error
    fields.update({k: v for k, v in live.items() if k in _mode_fields(mode)})  # knobs win over them
    if note.preset is not None:
        return presets.load().get(note.preset).request(**fields)
    fields.setdefault("seed", random_seed())
    return RenderRequest(mode="generate", prompt=note.prompt or "", **fields)


def _mode_fields(mode: str) -> tuple[str, ...]:
    from engine.request import MODE_FIELDS

    return MODE_FIELDS[mode]


def assign(path: Path, target: str, message: Any) -> str:
    """Learn: write the received note or CC into the mapping file for ``target`` and return a line
    saying what was assigned. ``target``: a CC target (guidance, strength...) or ``preset:NAME`` /
    ``prompt:TEXT`` for a note. The file is rewritten atomically; the old one kept as ``.bak``."""
    import os

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    channel = getattr(message, "channel", 0) + 1
    if message.type == "control_change":
        if target not in TARGETS:
            raise MappingError(f"learn: a knob can move {', '.join(TARGETS)}, not {target!r}")
        lo, hi = DEFAULT_RANGES[target]
        block = f'\n[[cc]]\ncc = {message.control}\ntarget = "{target}"\nmin = {lo}\nmax = {hi}\ncurve = "linear"\n'
        said = f"CC {message.control} (channel {channel}) -> {target}"
    elif message.type == "note_on":
        kind, _, value = target.partition(":")
        if kind not in ("preset", "prompt") or not value:
            raise MappingError('learn: a key is assigned to "preset:NAME" or "prompt:TEXT"')
        block = f"\n[[note]]\nnote = {message.note}\n{kind} = {json.dumps(value)}\n"
        said = f"note {note_name(message.note)} (channel {channel}) -> {kind} {value}"
    else:
        raise MappingError(f"learn: a {message.type} cannot be assigned; send a note or a CC")
    new = text.rstrip("\n") + "\n" + block if text.strip() else block.lstrip("\n")
    parse(new, path)  # never write a mapping that would not load
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(new, encoding="utf-8")
    if path.exists():
        os.replace(path, path.with_name(path.name + ".bak"))
    os.replace(tmp, path)
    return said
