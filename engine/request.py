"""The one request type that describes every render.

The CLI, the GUI, OSC and MIDI only *build* a :class:`RenderRequest`; it validates itself once,
in ``__post_init__``, and every message says which parameter is wrong and what range is allowed.
Checks that need the model (its maximum duration) happen in the pipeline, also with clear text.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidRequest

Mode = Literal["generate", "style_transfer", "inpaint", "upsample"]
MODES: tuple[str, ...] = ("generate", "style_transfer", "inpaint", "upsample")
SCHEDULERS: tuple[str, ...] = ("ddim", "dpmpp")
SAMPLE_FORMATS: tuple[str, ...] = ("pcm16", "pcm24", "float32")

#: Text-to-audio's output rate when the request leaves it unset.
DEFAULT_SAMPLE_RATE = 48_000
#: The model works at 16 kHz; the writer resamples to any of these DAW rates.
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
#: Shortest clip the engine renders (one VAE-aligned latent block is 40 ms; 0.5 s is the product's floor).
MIN_DURATION_S = 0.5
#: Absolute ceiling before the model is known; each model also has its own maximum.
MAX_DURATION_S = 600.0
MAX_STEPS = 1000
MAX_CANDIDATES = 16
MAX_VARIATIONS = 16
MAX_PROMPT_CHARS = 1000
#: Sampler settings used when neither the request nor the model's ``audioldm_bridge.json`` sets them
#: (plain classifier-free guidance: no separate ``guidance_low``).
DEFAULT_SAMPLER: dict[str, Any] = {"steps": 20, "guidance_scale": 2.5, "guidance_low": None,
                                   "guidance_until": None}
#: The sampler settings a model's ``audioldm_bridge.json`` may give and a request may leave unset.
SAMPLER_FIELDS: tuple[str, ...] = tuple(DEFAULT_SAMPLER)

#: Version of the request's stored form (journal rows, presets, OSC and client JSON): ``"schema"``
#: in :meth:`RenderRequest.to_dict`. Older versions are migrated by :func:`migrate`.
SCHEMA_VERSION = 6

# Which fields apply to which mode, in one place. A field that does not apply to a request's mode
# must keep its default: setting it is refused (it would otherwise be silently ignored).
_SAMPLING = ("mode", "prompt", "negative_prompt", "steps", "guidance_scale", "guidance_low", "guidance_until",
             "seed", "scheduler", "eta", "variations", "candidates", "model")
#: Edits keep the source region's length, rate, channels and sample format, and add no gain.
_REGION = ("source_path", "region_start_s", "region_end_s", "timeline_position_s")
MODE_FIELDS: dict[str, tuple[str, ...]] = {
    "generate": _SAMPLING + ("duration_s", "sample_rate", "channels", "sample_format", "raw", "peak_dbfs", "finish"),
    "style_transfer": _SAMPLING + _REGION + ("strength",),
    "inpaint": _SAMPLING + _REGION + ("gap_start_s", "gap_end_s"),
    "upsample": _SAMPLING + _REGION + ("cutoff_hz", "sample_rate"),
}


#: Limits of the finishing chain (engine/finishing.py applies it).
MAX_FX = 16
MAX_TAIL_S = 30.0
MAX_FADE_S = 10.0


@dataclass(frozen=True)
class Effect:
    """One effect of a finishing chain: a built-in effect by ``name`` (engine.finishing.EFFECTS)
    with its parameters, or ``name="plugin"`` with the ``path`` of a VST3 (or, on macOS, AU) plugin
    and parameters by the plugin's own names. ``params`` is a tuple of ``(name, value)`` pairs."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    path: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "effect") -> "Effect":
        if isinstance(data, Effect):
            return data
        if not isinstance(data, dict):
            raise InvalidRequest(f"{where} must be a table with a name, got {data!r}")
        data = dict(data)
        name = data.pop("name", None)
        path = data.pop("path", None)
        params = data.pop("params", None)
        if params is None:
            params = data  # the flat TOML form: name = "reverb", room_size = 0.3
        elif data:
            raise InvalidRequest(f"{where}: give parameters either in params or beside name, not both")
        if isinstance(params, dict):
            params = tuple(params.items())
        return cls(name=name, params=tuple((str(k), v) for k, v in params), path=path)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.path is not None:
            out["path"] = self.path
        out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class Finish:
    """What is done to a rendered clip at the output rate, before it is written (in this order):
    tune the sound to ``tune_to``, trim leading and trailing silence below ``trim_silence_db``, fades,
    pad ``tail_s`` of room for reverb and delay tails, the ``fx`` chain, then integrated loudness to
    ``loudness_lufs`` with the true peak held under ``true_peak_dbtp`` by a limiter. Recorded in
    provenance: a re-render is exact."""

    fx: tuple[Effect, ...] = ()
    loudness_lufs: float | None = None
    true_peak_dbtp: float = -1.0
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    trim_silence_db: float | None = None
    tail_s: float = 0.0
    #: Tune the render's fundamental to a pitch (engine/pitch.py): "prompt" (the one pitch the prompt
    #: names, if it names one), a note name ("A3", "C#4") or a frequency in Hz. None: as rendered.
    tune_to: str | float | None = None

    @classmethod
    def from_dict(cls, data: Any) -> "Finish":
        if isinstance(data, Finish):
            return data
        if not isinstance(data, dict):
            raise InvalidRequest(f"finish must be a table of finishing settings, got {data!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidRequest(f"unknown finish field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
        data = dict(data)
        fx = data.pop("fx", ())
        if not isinstance(fx, (list, tuple)):
            raise InvalidRequest(f"finish.fx must be a list of effects, got {fx!r}")
        return cls(fx=tuple(Effect.from_dict(e, f"finish.fx[{i}]") for i, e in enumerate(fx)), **data)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["fx"] = [e.to_dict() for e in self.fx]
        return out


def random_seed() -> int:
    """A fresh seed in the range every torch generator accepts; recorded so renders can be repeated."""
    return secrets.randbelow(2**31 - 1)


@dataclass(frozen=True)
class RenderRequest:
    """Everything needed to render, and re-render exactly, one clip (or several variations).

    Units: seconds for times, Hz for rates. ``seed`` seeds a CPU ``torch.Generator`` (as diffusers
    does), variation ``i`` candidate ``j`` uses ``seed + i * candidates + j`` so every output file
    can be reproduced from its own recorded seed with ``variations=candidates=1``.
    """

    mode: Mode = "generate"
    prompt: str = ""
    negative_prompt: str = ""
    #: Length of a generated clip (mode "generate"); edits use the source region's length.
    duration_s: float = 5.0
    #: Sampling steps and classifier-free guidance scale; None means the model's own default
    #: (``sampler`` in its ``audioldm_bridge.json``, else 20 and 2.5). See :meth:`resolved`.
    steps: int | None = None
    guidance_scale: float | None = None
    #: Frequency-decoupled guidance: the scale for the mel-smooth part of the guidance (the spectral
    #: tilt; :func:`engine.sampling.guide`). None: the model's default, which is plain
    #: classifier-free guidance (this equal to ``guidance_scale``) except for the built-in model.
    guidance_low: float | None = None
    #: Guidance interval: the fraction of the steps, from the first, that use classifier-free
    #: guidance; the rest run the conditional branch alone, at half the UNet work per step
    #: (:func:`engine.sampling.denoise`). None: the model's default (every step, except where its
    #: ``audioldm_bridge.json`` says otherwise); 1 guides every step.
    guidance_until: float | None = None
    seed: int = field(default_factory=random_seed)
    scheduler: str = "dpmpp"
    #: DDIM eta (0 = deterministic, as diffusers' AudioLDMPipeline). Ignored by DPM-Solver++.
    eta: float = 0.0
    #: Number of output clips.
    variations: int = 1
    #: Candidates rendered per output clip; the best by CLAP text-audio similarity is kept.
    candidates: int = 1
    #: Model folder, hub id, or ``builtin:NAME``. None means the built-in default model.
    model: str | None = None

    # --- output ---
    #: Output rate in Hz. None: 48 kHz for text-to-audio; for upsampling, the source's own rate
    #: (at least the model's 16 kHz). Style transfer and inpainting keep the source's rate.
    sample_rate: int | None = None
    channels: int = 1
    sample_format: str = "pcm24"
    #: True: the model's waveform untouched (float32, 16 kHz, mono, no gain, fades or normalisation).
    raw: bool = False
    #: Peak normalisation target in dBFS for non-raw output; None leaves the level alone.
    peak_dbfs: float | None = -1.0

    # --- editing a region of an existing file (style_transfer / inpaint / upsample) ---
    source_path: str | None = None
    region_start_s: float | None = None
    region_end_s: float | None = None
    #: Inpainting gap, in source-file seconds (inside the region).
    gap_start_s: float | None = None
    gap_end_s: float | None = None
    #: Style-transfer strength, 0 (source back) .. 1 (fresh render guided by the prompt).
    strength: float = 0.5
    #: Super-resolution cutoff in Hz; None detects it from the source spectrum.
    cutoff_hz: float | None = None
    #: Where the region starts on the DAW timeline (seconds), written as the BWF time reference.
    timeline_position_s: float | None = None

    # --- finishing (generate): FX chain, loudness, fades, trimming (engine/finishing.py) ---
    finish: Finish | None = None

    def __post_init__(self) -> None:
        if self.finish is not None and not isinstance(self.finish, Finish):
            object.__setattr__(self, "finish", Finish.from_dict(self.finish))
        if self.mode == "generate" and self.sample_rate is None:
            object.__setattr__(self, "sample_rate", DEFAULT_SAMPLE_RATE)  # text-to-audio always has a rate
        _validate(self)

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> "RenderRequest":
        """A validated copy with some fields changed (the request itself is immutable)."""
        return dataclasses.replace(self, **changes)

    def with_finish(self, **changes: Any) -> "RenderRequest":
        """A validated copy with finishing fields changed, on top of its finish (or a new one)."""
        return self.replace(finish=dataclasses.replace(self.finish or Finish(), **changes))

    def resolved(self, defaults: dict[str, Any]) -> "RenderRequest":
        """This request with unset sampler settings (None) taken from a model's defaults
        (:attr:`engine.loader.LoadedModel.sampler_defaults`); set ones are kept."""
        changes = {k: defaults[k] for k in SAMPLER_FIELDS
                   if getattr(self, k) is None and defaults.get(k) is not None}
        return self.replace(**changes) if changes else self

    def to_dict(self) -> dict[str, Any]:
        """The stored form: the schema version and the fields that apply to this mode."""
        fields = MODE_FIELDS.get(self.mode, ())
        out = {"schema": SCHEMA_VERSION}
        for f in dataclasses.fields(self):
            if f.name in fields:
                value = getattr(self, f.name)
                out[f.name] = value.to_dict() if isinstance(value, Finish) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RenderRequest":
        """Build from plain data (JSON, OSC, presets, journal rows): older schema versions are
        migrated; unknown keys are an error that names them, not ignored."""
        if not isinstance(data, dict):
            raise InvalidRequest(f"a request must be an object of fields, got {type(data).__name__}")
        data = migrate(data)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidRequest(
                f"unknown request field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}"
            )
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RenderRequest":
        return cls.from_dict(json.loads(text))

    def seed_for(self, variation: int, candidate: int) -> int:
        return self.seed + variation * self.candidates + candidate

    @property
    def is_edit(self) -> bool:
        return self.mode != "generate"


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 (no ``"schema"`` key) stored every field, including those the mode ignored (an edit
    carried duration_s 5.0 and the CLI's sample_format; text-to-audio a strength of 0.5). They had
    no effect, so they are dropped; the fields that apply are kept as they were."""
    mode = data.get("mode", "generate")
    keep = MODE_FIELDS.get(mode)
    if keep is None:
        return dict(data)  # an unknown mode: let validation say so
    if mode == "upsample" and {"strength", "duration_s", "sample_format"} <= set(data):
        # A full version-1 record (the journal stored every field): its sample_rate was the unused
        # default, and its upsample wrote the source's rate. A preset's hand-written table keeps it.
        keep = tuple(k for k in keep if k != "sample_rate")
    names = {f.name for f in dataclasses.fields(RenderRequest)}
    return {k: v for k, v in data.items() if k in keep or k not in names}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 added ``finish`` (optional, default none): version 2 requests are unchanged."""
    return dict(data)


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """Version 4 let upsample take ``sample_rate`` (the DAW session's rate); version 3 requests,
    which cannot have it, are unchanged."""
    return dict(data)


def _v4_to_v5(data: dict[str, Any]) -> dict[str, Any]:
    """Version 5 added ``guidance_until`` (None: the model's default): version 4 requests are unchanged."""
    return dict(data)


def _v5_to_v6(data: dict[str, Any]) -> dict[str, Any]:
    """Version 6 added ``finish.tune_to`` (None: as rendered): version 5 requests are unchanged."""
    return dict(data)


#: ``MIGRATIONS[n]`` turns a version-n dict into a version n+1 dict.
MIGRATIONS: dict[int, Any] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A stored request dict of any known schema version, as the current version (without the key)."""
    data = dict(data)
    version = data.pop("schema", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidRequest(f"schema must be a whole number >= 1, got {version!r}")
    if version > SCHEMA_VERSION:
        raise InvalidRequest(f"this request was written by a newer audioldm-bridge (request schema {version}; "
                             f"this version reads up to {SCHEMA_VERSION}): update audioldm-bridge")
    for v in range(version, SCHEMA_VERSION):
        data = MIGRATIONS[v](data)
    return data


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RenderRequest)
             if f.default is not dataclasses.MISSING}


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InvalidRequest(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _integer(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise InvalidRequest(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _validate_finish(f: Finish) -> None:
    if len(f.fx) > MAX_FX:
        raise InvalidRequest(f"finish.fx has {len(f.fx)} effects; the limit is {MAX_FX}")
    for i, e in enumerate(f.fx):
        if not isinstance(e.name, str) or not e.name:
            raise InvalidRequest(f"finish.fx[{i}] needs a name (an effect, or \"plugin\" with a path)")
        if (e.name == "plugin") != (e.path is not None):
            raise InvalidRequest(f"finish.fx[{i}]: a plugin needs a path, and only a plugin has one")
        for k, v in e.params:
            if isinstance(v, bool) or isinstance(v, str):
                continue
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InvalidRequest(f"finish.fx[{i}] ({e.name}).{k} must be a finite number, text or "
                                     f"true/false, got {v!r}")
    if f.loudness_lufs is not None and not -60.0 <= _number(f.loudness_lufs, "finish.loudness_lufs") <= 0.0:
        raise InvalidRequest(f"finish.loudness_lufs must be between -60 and 0 LUFS, got {f.loudness_lufs:g}")
    if not -20.0 <= _number(f.true_peak_dbtp, "finish.true_peak_dbtp") <= 0.0:
        raise InvalidRequest(f"finish.true_peak_dbtp must be between -20 and 0 dBTP, got {f.true_peak_dbtp:g}")
    for name in ("fade_in_s", "fade_out_s"):
        if not 0.0 <= _number(getattr(f, name), f"finish.{name}") <= MAX_FADE_S:
            raise InvalidRequest(f"finish.{name} must be between 0 and {MAX_FADE_S:g} s, got {getattr(f, name)!r}")
    if f.trim_silence_db is not None and not -120.0 <= _number(f.trim_silence_db, "finish.trim_silence_db") <= -20.0:
        raise InvalidRequest(f"finish.trim_silence_db must be between -120 and -20 dBFS, got {f.trim_silence_db:g}")
    if not 0.0 <= _number(f.tail_s, "finish.tail_s") <= MAX_TAIL_S:
        raise InvalidRequest(f"finish.tail_s must be between 0 and {MAX_TAIL_S:g} s, got {f.tail_s!r}")
    if f.tune_to is not None:
        from .pitch import parse_target

        try:
            parse_target(f.tune_to)
        except ValueError as exc:
            raise InvalidRequest(f"finish.{exc}") from None


def _validate(r: RenderRequest) -> None:
    if r.mode not in MODES:
        raise InvalidRequest(f"unknown mode {r.mode!r}; use one of: {', '.join(MODES)}")
    if r.mode == "generate" and r.source_path is not None:
        raise InvalidRequest("mode generate takes no source file; use style_transfer, inpaint or upsample")
    for name, default in _DEFAULTS.items():
        if name not in MODE_FIELDS[r.mode] and getattr(r, name) != default:
            users = [m for m in MODES if name in MODE_FIELDS[m]]
            raise InvalidRequest(f"{name} does not apply to mode {r.mode} (it is used by {', '.join(users)}); "
                                 f"leave it out")
    for name in ("prompt", "negative_prompt"):
        text = getattr(r, name)
        if not isinstance(text, str):
            raise InvalidRequest(f"{name} must be text, got {text!r}")
        if len(text) > MAX_PROMPT_CHARS:
            raise InvalidRequest(f"{name} is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}")
    if r.mode in ("generate", "style_transfer") and not r.prompt.strip():
        raise InvalidRequest(f"mode {r.mode} needs a prompt describing the sound, e.g. \"a low kick drum\"")
    duration = _number(r.duration_s, "duration_s")
    if not MIN_DURATION_S <= duration <= MAX_DURATION_S:
        raise InvalidRequest(
            f"duration must be between {MIN_DURATION_S} s and the model's maximum, got {duration:g} s"
        )
    if r.steps is not None:
        _integer(r.steps, "steps", 1, MAX_STEPS)
    for name in ("guidance_scale", "guidance_low"):
        if getattr(r, name) is not None:
            guidance = _number(getattr(r, name), name)
            if not 0.0 <= guidance <= 30.0:
                raise InvalidRequest(f"{name} must be between 0 and 30, got {guidance:g}")
    if r.guidance_until is not None:
        until = _number(r.guidance_until, "guidance_until")
        if not 0.0 < until <= 1.0:
            raise InvalidRequest(f"guidance_until is the fraction of the steps that are guided: more than 0 "
                                 f"and at most 1, got {until:g}")
    _integer(r.seed, "seed", 0, 2**63 - 1)
    if r.scheduler not in SCHEDULERS:
        raise InvalidRequest(f"unknown scheduler {r.scheduler!r}; use one of: {', '.join(SCHEDULERS)}")
    eta = _number(r.eta, "eta")
    if not 0.0 <= eta <= 1.0:
        raise InvalidRequest(f"eta must be between 0 and 1, got {eta:g}")
    _integer(r.variations, "variations", 1, MAX_VARIATIONS)
    _integer(r.candidates, "candidates", 1, MAX_CANDIDATES)
    if r.model is not None and (not isinstance(r.model, str) or not r.model.strip()):
        raise InvalidRequest(f"model must be a folder, a hub id or builtin:NAME, got {r.model!r}")
    if r.sample_rate is not None:
        _integer(r.sample_rate, "sample_rate", MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)
    _integer(r.channels, "channels", 1, 2)
    if r.sample_format not in SAMPLE_FORMATS:
        raise InvalidRequest(
            f"unknown sample_format {r.sample_format!r}; use one of: {', '.join(SAMPLE_FORMATS)}"
        )
    if r.peak_dbfs is not None:
        peak = _number(r.peak_dbfs, "peak_dbfs")
        if not -60.0 <= peak <= 0.0:
            raise InvalidRequest(f"peak_dbfs must be between -60 and 0 dBFS, got {peak:g}")
    strength = _number(r.strength, "strength")
    if not 0.0 <= strength <= 1.0:
        raise InvalidRequest(f"strength must be between 0 and 1, got {strength:g}")
    if r.finish is not None:
        if r.raw:
            raise InvalidRequest("a raw render is the model's waveform untouched: it takes no finish")
        _validate_finish(r.finish)

    if r.is_edit:
        if not r.source_path:
            raise InvalidRequest(f"mode {r.mode} needs a source audio file")
        for name in ("region_start_s", "region_end_s", "gap_start_s", "gap_end_s", "cutoff_hz",
                     "timeline_position_s"):
            value = getattr(r, name)
            if value is not None:
                _number(value, name)
        if r.region_start_s is not None and r.region_start_s < 0:
            raise InvalidRequest(f"region start must be >= 0 s, got {r.region_start_s:g}")
        if (r.region_start_s is not None and r.region_end_s is not None
                and r.region_end_s <= r.region_start_s):
            raise InvalidRequest(
                f"region end ({r.region_end_s:g} s) must be after its start ({r.region_start_s:g} s)"
            )
        if r.mode == "inpaint":
            if r.gap_start_s is None or r.gap_end_s is None:
                raise InvalidRequest("inpaint needs a gap: --gap START END in seconds of the source file")
            if r.gap_end_s <= r.gap_start_s:
                raise InvalidRequest(
                    f"gap end ({r.gap_end_s:g} s) must be after gap start ({r.gap_start_s:g} s)"
                )
            if r.region_start_s is not None and r.gap_start_s < r.region_start_s:
                raise InvalidRequest("the gap must start inside the region")
            if r.region_end_s is not None and r.gap_end_s > r.region_end_s:
                raise InvalidRequest("the gap must end inside the region")
        if r.cutoff_hz is not None and not 500.0 <= r.cutoff_hz <= 7_900.0:
            raise InvalidRequest(
                f"cutoff must be between 500 Hz and 7900 Hz (the model's ceiling is 8 kHz), got {r.cutoff_hz:g}"
            )
