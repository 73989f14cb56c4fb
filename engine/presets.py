"""Presets: curated starting points (``presets/*.toml``, shipped) and the user's own
(``<config>/presets/*.toml``, overriding shipped ones by name). Schema: docs/presets.md.

A preset is a named :class:`~engine.request.RenderRequest` template plus what describes it::

    name = "kick-deep"              # the file's stem unless given; letters, digits, - and _
    category = "music"              # foley, ambience, music, design, transfer, restoration
    tags = ["drum", "kick"]
    description = "A deep kick with a short click, compressed"
    midi_note = 36                  # optional: the note the MIDI audition maps it to
    seed = "fresh"                  # "fresh" (a new seed each render) or a whole number (fixed)

    [request]                       # RenderRequest fields (engine/request.py), its schema version
    schema = 4
    mode = "generate"
    prompt = "a deep low kick drum"
    duration_s = 1.0

    [request.finish]                # engine.request.Finish: fx chain, loudness, fades, trimming
    loudness_lufs = -12.0
    [[request.finish.fx]]
    name = "compressor"
    threshold_db = -18.0
    ratio = 4.0

Every problem names the file, the field and what is allowed. A broken user preset never hides
the shipped ones (it is reported, and ``get`` of its name says what to fix).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .errors import BridgeError, InvalidRequest
from .request import SCHEMA_VERSION, RenderRequest, migrate, random_seed

CATEGORIES = ("foley", "ambience", "music", "design", "transfer", "restoration")
PRESET_KEYS = ("name", "category", "tags", "description", "midi_note", "seed", "request")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Stands in for the source file when an edit preset is validated (the user gives the real one).
_PLACEHOLDER_SOURCE = "/source.wav"


class PresetError(BridgeError):
    """A preset file that cannot be used; the message names the file and the field."""


def shipped_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "presets"


def user_dir() -> Path:
    return paths.config_dir() / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    category: str
    mode: str
    #: The request's fields as stored (current schema, no ``schema`` key, no seed).
    fields: dict[str, Any] = field(compare=False)
    tags: tuple[str, ...] = ()
    description: str = ""
    midi_note: int | None = None
    #: None: a fresh seed every render; else the fixed seed.
    seed: int | None = None
    user: bool = False

    def request(self, *, source_path: str | None = None, **overrides: Any) -> RenderRequest:
        """The request this preset describes; ``overrides`` (explicit options) win over it."""
        data = dict(self.fields)
        if source_path is not None:
            data["source_path"] = source_path
        data.update(overrides)
        if "seed" not in overrides:
            data["seed"] = self.seed if self.seed is not None else random_seed()
        return RenderRequest.from_dict({"schema": SCHEMA_VERSION, **data})

    @property
    def source(self) -> str:
        return "user" if self.user else "shipped"


def _fail(path: Path, key: str, message: str) -> PresetError:
    return PresetError(f"{path}: {key}: {message}")


def parse(path: Path, *, user: bool = False, text: str | None = None) -> Preset:
    """Read and validate one preset file."""
    try:
        raw = text if text is not None else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(PRESET_KEYS))
    if unknown:
        raise _fail(path, unknown[0], f"unknown field; a preset has: {', '.join(PRESET_KEYS)}")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not NAME.match(name):
        raise _fail(path, "name", f"must be 1-64 letters, digits, - or _ (starting with a letter or digit), "
                                  f"got {name!r}")
    category = data.get("category")
    if category not in CATEGORIES:
        raise _fail(path, "category", f"must be one of {', '.join(CATEGORIES)}, got {category!r}")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _fail(path, "tags", f"must be a list of words, got {tags!r}")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        raise _fail(path, "description", "must be text of at most 500 characters")
    midi = data.get("midi_note")
    if midi is not None and (isinstance(midi, bool) or not isinstance(midi, int) or not 0 <= midi <= 127):
        raise _fail(path, "midi_note", f"must be a MIDI note number 0-127, got {midi!r}")
    seed = data.get("seed", "fresh")
    if seed == "fresh":
        seed = None
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise _fail(path, "seed", f'must be "fresh" or a whole number >= 0 (fixed), got {seed!r}')
    request = data.get("request")
    if not isinstance(request, dict):
        raise _fail(path, "request", "missing: a [request] table with at least mode and prompt")
    if "seed" in request:
        raise _fail(path, "request.seed", "give the seed policy at the top level (seed = \"fresh\" or a number)")
    for key in ("source_path", "output", "output_path"):
        if key in request:
            raise _fail(path, f"request.{key}", "a preset cannot name a file: the source is given when it is used")
    try:
        fields = migrate(request)  # older request schemas come up to date with the request
        probe = dict(fields, seed=0, schema=SCHEMA_VERSION)
        if probe.get("mode", "generate") != "generate":
            probe["source_path"] = _PLACEHOLDER_SOURCE
        if probe.get("mode") == "inpaint" and "gap_start_s" not in probe:
            probe.update(gap_start_s=0.0, gap_end_s=0.1)  # the gap is given when the preset is used
        validated = RenderRequest.from_dict(probe)
    except InvalidRequest as exc:
        raise _fail(path, "request", str(exc)) from None
    if validated.finish is not None:
        from . import finishing

        try:
            finishing.check(validated.finish)
        except InvalidRequest as exc:
            raise _fail(path, "request.finish", str(exc)) from None
    return Preset(name=name, path=path, category=category, mode=validated.mode, fields=fields,
                  tags=tuple(tags), description=description, midi_note=midi, seed=seed, user=user)


@dataclass
class Library:
    """Shipped and user presets; ``problems`` lists every file that could not be used."""

    presets: dict[str, Preset]
    problems: list[str]
    #: Names whose user preset is broken (its shipped namesake, if any, is still in ``presets``).
    broken_user: dict[str, str]

    def get(self, name: str) -> Preset:
        if name in self.broken_user:
            raise PresetError(f"{self.broken_user[name]} (fix or remove that file to use the shipped "
                              f"preset {name!r})" if name in self.presets else self.broken_user[name])
        if name not in self.presets:
            close = [n for n in self.presets if name.lower() in n.lower()][:5]
            hint = f"; did you mean {', '.join(close)}?" if close else "; see: audioldm-bridge presets list"
            raise PresetError(f"unknown preset {name!r}{hint}")
        return self.presets[name]


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.glob("*.toml") if p.is_file())
    except OSError:
        return []


def load(shipped: Path | None = None, user: Path | None = None) -> Library:
    presets: dict[str, Preset] = {}
    problems: list[str] = []
    broken: dict[str, str] = {}
    for folder, is_user in ((shipped or shipped_dir(), False), (user or user_dir(), True)):
        for path in _files(folder):
            try:
                p = parse(path, user=is_user)
            except PresetError as exc:
                problems.append(str(exc))
                if is_user:
                    broken[path.stem] = str(exc)
                continue
            if not is_user and p.name in presets:
                problems.append(f"{path}: name: {p.name!r} is also {presets[p.name].path}")
                continue
            presets[p.name] = p
    return Library(presets, problems, broken)


# --------------------------------------------------------------------------- writing

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def to_toml(meta: dict[str, Any], request_fields: dict[str, Any]) -> str:
    """A preset file: the top-level fields, then [request] (None values left out), its finish."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in meta.items() if v is not None]
    lines += ["", "[request]", f"schema = {SCHEMA_VERSION}"]
    finish = request_fields.get("finish")
    for k, v in request_fields.items():
        if k in ("schema", "finish", "seed") or v is None:
            continue
        lines.append(f"{k} = {_toml_value(v)}")
    if finish:
        lines += ["", "[request.finish]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in finish.items() if k != "fx" and v is not None]
        for effect in finish.get("fx", []):
            lines += ["", "[[request.finish.fx]]", f"name = {_toml_value(effect['name'])}"]
            if effect.get("path"):
                lines.append(f"path = {_toml_value(effect['path'])}")
            lines += [f"{k} = {_toml_value(v)}" for k, v in effect.get("params", {}).items()]
    return "\n".join(lines) + "\n"


def save_from_clip(name: str, clip: str | Path, *, category: str | None = None, description: str | None = None,
                   folder: Path | None = None) -> Path:
    """A user preset from a clip's provenance (its ``.wav.json`` sidecar): the same request with the
    clip's own seed fixed, so rendering the preset gives the clip again (same model and device).
    An existing user preset of that name is kept as ``NAME.toml.bak-<time>``."""
    if not NAME.match(name):
        raise PresetError(f"preset name {name!r}: use 1-64 letters, digits, - or _")
    clip = Path(clip).expanduser()
    sidecar = clip.with_name(clip.name + ".json")
    try:
        meta = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise PresetError(f"{clip} has no provenance sidecar ({sidecar.name}); only clips rendered by "
                          f"audioldm-bridge can become presets") from None
    except (OSError, ValueError) as exc:
        raise PresetError(f"{sidecar}: unreadable provenance ({exc})") from None
    request = meta.get("request")
    if not isinstance(request, dict):
        raise PresetError(f"{sidecar}: the provenance has no request (rendered by an older version); "
                          f"re-render it, then save the preset")
    fields = migrate(request)
    fields.pop("source_path", None)
    seed = int(meta.get("seed", fields.get("seed", 0)))
    mode = fields.get("mode", "generate")
    text = to_toml({"name": name, "category": category or ("music" if mode == "generate" else "transfer"),
                    "tags": ["saved"], "description": description or f"saved from {clip.name}: "
                    f"{fields.get('prompt', '')!s}"[:500], "seed": seed}, fields)
    folder = folder or user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.toml"
    parse(target, user=True, text=text)  # never write a preset that would not load
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    tmp.write_text(text, encoding="utf-8")
    if target.exists():
        import time

        os.replace(target, target.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}"))
    os.replace(tmp, target)
    return target


__all__ = ["Preset", "Library", "PresetError", "load", "parse", "save_from_clip", "to_toml", "shipped_dir",
           "user_dir", "CATEGORIES"]
