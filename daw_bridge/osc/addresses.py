"""The OSC address space (docs/OSC.md): what each address takes, validated into one
:class:`~engine.request.RenderRequest`, and the error codes a client can act on.

Pure functions on already-parsed OSC arguments (no sockets): the server feeds them, the tests call
them directly. Every refusal is an :class:`OscError` with a code and a message naming the problem
and what to send instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from engine.errors import InvalidRequest
from engine.request import RenderRequest

from ..paths import PathRefused, check_source

PREFIX = "/audioldm"
#: Ids that may name a file in the spool folder.
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_JOB_ID = 128

#: Error codes of ``/audioldm/error <job_id> <code> <message>``.
ERROR_CODES: dict[str, str] = {
    "bad_args": "the arguments do not fit the address (types, count, ranges, unknown names)",
    "unknown_address": "no such address under /audioldm",
    "path_refused": "the source is not an existing audio file under an allowed folder",
    "unreadable_audio": "the source file could not be decoded (corrupt, absurd rate or length, NaN)",
    "model_missing": "the model is not on this machine (audioldm-bridge models pull ID)",
    "engine_crashed": "the engine crashed on this job as many times as allowed",
    "cancelled": "the job was cancelled",
    "output_error": "the output could not be written (disk full, library not writable)",
    "render_failed": "any other failure while rendering (the message says what)",
    "unknown_job": "no job with this id was ever accepted",
    "busy": "the bridge is receiving faster than it can answer; the packet was dropped",
}

#: Exception class names from the engine (JobFailed.error_type) -> error codes.
ENGINE_ERRORS = {"InvalidRequest": "bad_args", "AudioInputError": "unreadable_audio",
                 "ModelNotAvailable": "model_missing", "OutputError": "output_error",
                 "EngineCrashed": "engine_crashed"}


class OscError(Exception):
    def __init__(self, code: str, message: str) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OscError("bad_args", f"{name} must be a number (OSC f or i), got {value!r}")
    return float(value)


def _int(value: Any, name: str) -> int:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OscError("bad_args", f"{name} must be a whole number (OSC i), got {value!r}")
    return value


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise OscError("bad_args", f"{name} must be a string (OSC s), got {value!r}")
    return value


def _pitch(value: Any, name: str) -> str | float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise OscError("bad_args", f"{name} must be a note name, \"prompt\" (OSC s) or Hz (OSC f), got {value!r}")
    return value


def job_id_of(args: list, address: str) -> str:
    if not args:
        raise OscError("bad_args", f"{address} needs a job id first (a string you choose, e.g. a GUID)")
    job_id = args[0]
    if isinstance(job_id, int) and not isinstance(job_id, bool):
        job_id = str(job_id)
    if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > MAX_JOB_ID \
            or not job_id.isprintable():
        raise OscError("bad_args", f"the job id must be printable text of 1 to {MAX_JOB_ID} characters, "
                                   f"got {str(args[0])[:40]!r}")
    return job_id


#: Optional ``name value`` pairs after the positional arguments -> (request field, parser).
NAMED: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "steps": ("steps", _int), "guidance": ("guidance_scale", _float), "guidance_low": ("guidance_low", _float),
    "guidance_until": ("guidance_until", _float), "seed": ("seed", _int), "negative": ("negative_prompt", _str), "candidates": ("candidates", _int),
    "variations": ("variations", _int), "model": ("model", _str), "sample_rate": ("sample_rate", _int),
    "channels": ("channels", _int), "sample_format": ("sample_format", _str), "strength": ("strength", _float),
    "timeline_position_s": ("timeline_position_s", _float), "cutoff": ("cutoff_hz", _float),
    # finish.tune_to (text-to-audio): "prompt", a note ("A3") or Hz; on top of a preset's finish.
    "tune_to": ("tune_to", _pitch),
    # A preset (engine/presets.py) the request starts from; everything sent overrides it.
    "preset": ("preset", _str),
    # "spool": also answer in the spool outbox (a DAW script that can send OSC but not receive it: Ardour).
    "answer": ("answer", _str),
}


def named(pairs: list, address: str) -> dict[str, Any]:
    if len(pairs) % 2:
        raise OscError("bad_args", f"{address}: named parameters come in pairs (name value); "
                                   f"{pairs[-1]!r} has no value")
    out: dict[str, Any] = {}
    for name, value in zip(pairs[0::2], pairs[1::2]):
        if not isinstance(name, str) or name not in NAMED:
            raise OscError("bad_args", f"{address}: unknown parameter {name!r}; "
                                       f"known: {', '.join(sorted(NAMED))}")
        field, parse = NAMED[name]
        out[field] = parse(value, name)
    return out


@dataclass(frozen=True)
class Submission:
    """A validated render request from one packet."""

    job_id: str
    request: RenderRequest
    #: Also write the answer to the spool outbox (``answer spool``).
    answer_spool: bool = False


@dataclass(frozen=True)
class Positional:
    name: str
    parse: Callable[[Any, str], Any]


#: address -> (mode, positional arguments after the job id). The request is built from these.
RENDER_ADDRESSES: dict[str, tuple[str, tuple[Positional, ...]]] = {
    f"{PREFIX}/generate": ("generate", (Positional("prompt", _str), Positional("duration_s", _float))),
    f"{PREFIX}/style_transfer": ("style_transfer", (
        Positional("source_path", _str), Positional("region_start_s", _float), Positional("region_end_s", _float),
        Positional("prompt", _str), Positional("strength", _float))),
    f"{PREFIX}/inpaint": ("inpaint", (
        Positional("source_path", _str), Positional("region_start_s", _float), Positional("region_end_s", _float),
        Positional("gap_start_s", _float), Positional("gap_end_s", _float), Positional("prompt", _str))),
    f"{PREFIX}/upsample": ("upsample", (
        Positional("source_path", _str), Positional("region_start_s", _float), Positional("region_end_s", _float))),
}


def parse_render(address: str, args: list, allowed_dirs: Iterable[Path]) -> Submission:
    """A render address's arguments -> a validated request (paths checked against ``allowed_dirs``)."""
    mode, positional = RENDER_ADDRESSES[address]
    job_id = job_id_of(args, address)
    rest = args[1:]
    if len(rest) < len(positional):
        names = " ".join(f"<{p.name}>" for p in positional)
        raise OscError("bad_args", f"{address} takes <job_id> {names} [name value]...; got {len(args)} "
                                   f"argument(s)")
    fields: dict[str, Any] = {"mode": mode}
    for p, value in zip(positional, rest):
        fields[p.name] = p.parse(value, p.name)
    extra = named(list(rest[len(positional):]), address)
    clash = sorted(set(extra) & set(fields))
    if clash:
        raise OscError("bad_args", f"{address}: {', '.join(clash)} is already given by position")
    fields.update(extra)
    preset_name = fields.pop("preset", None)
    tune_to = fields.pop("tune_to", None)
    answer = fields.pop("answer", None)
    if answer not in (None, "spool"):
        raise OscError("bad_args", f"{address}: answer must be \"spool\", got {answer!r}")
    if answer == "spool" and not SAFE_ID.fullmatch(job_id):
        raise OscError("bad_args", f"{address}: a job answered in the spool folder needs an id of letters, digits, "
                                   f". _ - only, got {job_id!r}")
    if "source_path" in fields:
        try:
            fields["source_path"] = str(check_source(fields["source_path"], allowed_dirs))
        except PathRefused as exc:
            raise OscError("path_refused", str(exc)) from None
        if fields.get("region_end_s") is not None and fields["region_end_s"] <= 0:
            fields["region_end_s"] = None  # 0 or less: to the end of the file
    try:
        if preset_name is None:
            request = RenderRequest(**fields)
        else:
            request = _from_preset(preset_name, mode, fields, address)
        if tune_to is not None:
            request = request.with_finish(tune_to=tune_to)
    except InvalidRequest as exc:
        raise OscError("bad_args", f"{address}: {exc}") from None
    return Submission(job_id, request, answer_spool=answer == "spool")


def _from_preset(name: str, mode: str, fields: dict[str, Any], address: str) -> RenderRequest:
    from engine import presets

    try:
        preset = presets.load().get(name)
    except presets.PresetError as exc:
        raise OscError("bad_args", f"{address}: {exc}") from None
    if preset.mode != mode:
        raise OscError("bad_args", f"{address}: preset {name} is a {preset.mode} preset; send it to "
                                   f"{PREFIX}/{preset.mode}")
    overrides = {k: v for k, v in fields.items() if k != "mode" and not (k == "prompt" and v == "")}
    return preset.request(**overrides)


#: Addresses that answer at once (no render). The server implements them; the docs list them all.
QUERY_ADDRESSES: tuple[str, ...] = (f"{PREFIX}/ping", f"{PREFIX}/subscribe", f"{PREFIX}/unsubscribe",
                                    f"{PREFIX}/cancel", f"{PREFIX}/status", f"{PREFIX}/job", f"{PREFIX}/midi/learn")
#: Addresses the bridge sends.
REPLY_ADDRESSES: tuple[str, ...] = (f"{PREFIX}/pong", f"{PREFIX}/accepted", f"{PREFIX}/progress",
                                    f"{PREFIX}/done", f"{PREFIX}/error", f"{PREFIX}/status",
                                    f"{PREFIX}/job", f"{PREFIX}/subscribed", f"{PREFIX}/cancelling",
                                    f"{PREFIX}/audition", f"{PREFIX}/midi/learned")


def port_of(args: list, address: str, index: int = 0) -> int:
    if len(args) <= index:
        raise OscError("bad_args", f"{address} needs a port (OSC i)")
    port = _int(args[index], "port")
    if not 1 <= port <= 65535:
        raise OscError("bad_args", f"port must be between 1 and 65535, got {port}")
    return port
