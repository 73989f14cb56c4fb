"""The finishing chain: what turns a raw render into a placed sound (:class:`engine.request.Finish`).

Pure functions on arrays (frames, channels) float32 at the output rate, applied by the pipeline
after rendering and before the atomic write, in this order:

1. tune the sound's fundamental to ``tune_to`` (:mod:`engine.pitch`: the prompt's named pitch, a
   note or a frequency; time-preserving, so the length is kept; skipped, with the reason reported,
   for a sound with no steady pitch);
2. trim leading and trailing silence below ``trim_silence_db`` (a short margin is kept);
3. fades in and out (raised cosine) of the rendered sound;
4. pad ``tail_s`` of silence so reverb and delay tails ring out after it (the only way a chain may
   lengthen a clip; the tail's own end gets a 50 ms fade);
5. the ``fx`` chain with pedalboard: its built-in effects by name (:data:`EFFECTS`), or external
   VST3 / AU plugins by path, parameters by name, every name and range checked first;
6. integrated loudness to ``loudness_lufs`` (ITU-R BS.1770, pyloudnorm), with the true peak
   (4x oversampled) held under ``true_peak_dbtp`` by a limiter, not by clipping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidRequest, OutputError
from .request import Effect, Finish

#: Built-in effects: name -> (pedalboard class, {parameter: (low, high)}). Parameter names are
#: pedalboard's own; units are in the names (dB, Hz, ms, seconds), the rest are 0..1 amounts.
EFFECTS: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "gain": ("Gain", {"gain_db": (-60.0, 24.0)}),
    "compressor": ("Compressor", {"threshold_db": (-60.0, 0.0), "ratio": (1.0, 50.0),
                                  "attack_ms": (0.01, 500.0), "release_ms": (1.0, 5000.0)}),
    "limiter": ("Limiter", {"threshold_db": (-60.0, 0.0), "release_ms": (1.0, 5000.0)}),
    "noise_gate": ("NoiseGate", {"threshold_db": (-100.0, 0.0), "ratio": (1.0, 100.0),
                                 "attack_ms": (0.01, 500.0), "release_ms": (1.0, 5000.0)}),
    "highpass": ("HighpassFilter", {"cutoff_frequency_hz": (10.0, 20000.0)}),
    "lowpass": ("LowpassFilter", {"cutoff_frequency_hz": (10.0, 20000.0)}),
    "low_shelf": ("LowShelfFilter", {"cutoff_frequency_hz": (10.0, 20000.0), "gain_db": (-24.0, 24.0),
                                     "q": (0.1, 10.0)}),
    "high_shelf": ("HighShelfFilter", {"cutoff_frequency_hz": (10.0, 20000.0), "gain_db": (-24.0, 24.0),
                                       "q": (0.1, 10.0)}),
    "peak": ("PeakFilter", {"cutoff_frequency_hz": (10.0, 20000.0), "gain_db": (-24.0, 24.0), "q": (0.1, 10.0)}),
    "reverb": ("Reverb", {"room_size": (0.0, 1.0), "damping": (0.0, 1.0), "wet_level": (0.0, 1.0),
                          "dry_level": (0.0, 1.0), "width": (0.0, 1.0)}),
    "delay": ("Delay", {"delay_seconds": (0.0, 5.0), "feedback": (0.0, 0.95), "mix": (0.0, 1.0)}),
    "chorus": ("Chorus", {"rate_hz": (0.01, 100.0), "depth": (0.0, 1.0), "centre_delay_ms": (0.0, 100.0),
                          "feedback": (0.0, 0.95), "mix": (0.0, 1.0)}),
    "phaser": ("Phaser", {"rate_hz": (0.01, 100.0), "depth": (0.0, 1.0), "centre_frequency_hz": (20.0, 20000.0),
                          "feedback": (0.0, 0.95), "mix": (0.0, 1.0)}),
    "distortion": ("Distortion", {"drive_db": (0.0, 60.0)}),
    "bitcrush": ("Bitcrush", {"bit_depth": (1.0, 32.0)}),
    "clipping": ("Clipping", {"threshold_db": (-60.0, 0.0)}),
    "pitch_shift": ("PitchShift", {"semitones": (-24.0, 24.0)}),
}
#: Silence kept before the first and after the last sound when trimming.
TRIM_MARGIN_S = 0.010
LIMITER_RELEASE_MS = 50.0
#: Fade at the very end of a tail the chain added.
END_FADE_S = 0.05


def _pedalboard():
    try:
        import pedalboard
    except ModuleNotFoundError as exc:
        raise InvalidRequest(f"the finishing chain needs pedalboard, which is not installed: "
                             f'pip install "audioldm-bridge[fx]" ({exc.name})') from None
    return pedalboard


def _builtin(effect: Effect, where: str):
    cls_name, ranges = EFFECTS[effect.name]
    params = {}
    for key, value in effect.params:
        if key not in ranges:
            raise InvalidRequest(f"{where}: {effect.name} has no parameter {key!r}; it has: "
                                 f"{', '.join(ranges)}")
        if isinstance(value, (bool, str)) or not isinstance(value, (int, float)):
            raise InvalidRequest(f"{where}: {effect.name}.{key} must be a number, got {value!r}")
        lo, hi = ranges[key]
        if not lo <= value <= hi:
            raise InvalidRequest(f"{where}: {effect.name}.{key} must be between {lo:g} and {hi:g}, got {value:g}")
        params[key] = float(value)
    return getattr(_pedalboard(), cls_name)(**params)


def _plugin(effect: Effect, where: str, sample_rate: float):
    from pathlib import Path

    path = Path(str(effect.path)).expanduser()
    if not path.exists():
        raise InvalidRequest(f"{where}: the plugin file {path} does not exist")
    try:
        plugin = _pedalboard().load_plugin(str(path))
    except Exception as exc:
        first = str(exc).strip().splitlines()
        raise InvalidRequest(f"{where}: {path} could not be loaded as a VST3 or AU plugin "
                             f"({first[-1].strip() if first else type(exc).__name__})") from None
    known = getattr(plugin, "parameters", {})
    for key, value in effect.params:
        if key not in known:
            raise InvalidRequest(f"{where}: the plugin {path.name} has no parameter {key!r}; it has: "
                                 f"{', '.join(sorted(known)) or 'none'}")
        try:
            setattr(plugin, key, value)
        except Exception as exc:
            raise InvalidRequest(f"{where}: {path.name}.{key} = {value!r} was refused: {exc}") from None
    return plugin


def build_chain(fx: tuple[Effect, ...], sample_rate: float = 48_000.0) -> list:
    """The pedalboard plugins for an fx chain; every name, parameter and range is checked."""
    chain = []
    for i, effect in enumerate(fx):
        where = f"finish.fx[{i}]"
        if effect.name == "plugin":
            chain.append(_plugin(effect, where, sample_rate))
        elif effect.name in EFFECTS:
            chain.append(_builtin(effect, where))
        else:
            raise InvalidRequest(f"{where}: unknown effect {effect.name!r}; use one of: "
                                 f"{', '.join(EFFECTS)}, or plugin with a path")
    return chain


def check(finish: Finish) -> None:
    """Build the chain once so a bad effect fails before rendering, not after."""
    build_chain(finish.fx)


# --------------------------------------------------------------------------- pure steps

def trim_silence(audio: np.ndarray, sr: int, threshold_db: float) -> np.ndarray:
    """Cut leading and trailing frames whose level is below ``threshold_db`` (dBFS, any channel),
    keeping ``TRIM_MARGIN_S`` around the sound. All-silent audio is returned unchanged."""
    level = np.max(np.abs(audio), axis=1)
    loud = np.flatnonzero(level > 10 ** (threshold_db / 20))
    if loud.size == 0:
        return audio
    margin = int(round(TRIM_MARGIN_S * sr))
    return audio[max(0, loud[0] - margin):min(len(audio), loud[-1] + 1 + margin)]


def fades(audio: np.ndarray, sr: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    out = audio.copy()
    for seconds, at_end in ((fade_in_s, False), (fade_out_s, True)):
        n = min(int(round(seconds * sr)), len(out))
        if n < 2:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(out.dtype)[:, None]
        if at_end:
            out[-n:] *= ramp[::-1]
        else:
            out[:n] *= ramp
    return out


def true_peak_db(audio: np.ndarray, sr: int) -> float:
    """Peak of the 4x oversampled signal in dBTP (BS.1770-4's true-peak approximation)."""
    from scipy.signal import resample_poly

    if not audio.size:
        return -math.inf
    up = resample_poly(audio.astype(np.float64), 4, 1, axis=0)
    peak = float(np.max(np.abs(up)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def integrated_loudness(audio: np.ndarray, sr: int) -> float:
    """Integrated loudness in LUFS (pyloudnorm); -inf for silence. Clips shorter than the 400 ms
    gating block are measured on a repeat of themselves (the same loudness, measurable)."""
    import pyloudnorm

    x = audio.astype(np.float64)
    block = int(0.4 * sr) + 1
    if len(x) < block:
        x = np.tile(x, (int(math.ceil(block / max(len(x), 1))) + 1, 1))
    with np.errstate(divide="ignore"):
        value = pyloudnorm.Meter(sr).integrated_loudness(x)
    return float(value)


def limit(audio: np.ndarray, sr: int, ceiling_dbtp: float) -> np.ndarray:
    """Hold the true peak under the ceiling: a look-ahead-free limiter (pedalboard's) at a margin
    below it, then a final gain trim if the oversampled peak still pokes through."""
    pb = _pedalboard()
    out = audio
    for margin in (0.5, 1.0, 2.0, 3.0):
        limiter = pb.Limiter(threshold_db=ceiling_dbtp - margin, release_ms=LIMITER_RELEASE_MS)
        out = limiter(audio.T.astype(np.float32), sr).T
        if true_peak_db(out, sr) <= ceiling_dbtp:
            return out
    over = true_peak_db(out, sr) - ceiling_dbtp
    return (out * 10 ** (-(over + 0.05) / 20)).astype(np.float32)


def normalise_loudness(audio: np.ndarray, sr: int, target_lufs: float, ceiling_dbtp: float) -> np.ndarray:
    """Gain to ``target_lufs``; where that pushes the true peak over the ceiling, the limiter holds
    it and the gain is corrected again (a few rounds land within 0.1 LU)."""
    out = audio.astype(np.float32)
    for _ in range(6):
        now = integrated_loudness(out, sr)
        if not math.isfinite(now):
            return out  # silence: nothing to normalise
        if abs(now - target_lufs) < 0.05 and true_peak_db(out, sr) <= ceiling_dbtp:
            return out
        out = (out * 10 ** ((target_lufs - now) / 20)).astype(np.float32)
        if true_peak_db(out, sr) > ceiling_dbtp:
            out = limit(out, sr, ceiling_dbtp)
    return out


@dataclass
class FinishReport:
    """What the chain did, for provenance and the CLI."""

    frames_in: int
    frames_out: int
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    #: What tuning did (:class:`engine.pitch.Tuning` as a dict), when ``tune_to`` was set.
    tuning: dict | None = None


def tune_step(audio: np.ndarray, sr: int, tune_to, prompt: str = "") -> tuple[np.ndarray, dict]:
    """Step 1 on (frames, channels) audio: the target from ``tune_to`` (and the prompt for "prompt")."""
    from . import pitch

    target = pitch.parse_target(tune_to)
    if target == "prompt":
        target, why = pitch.prompt_pitch(prompt)
        if target is None:
            return audio, pitch.Tuning(None, skipped=why).to_dict()
    out, report = pitch.tune(audio, sr, target)
    return out, report.to_dict()


def apply(audio: np.ndarray, sr: int, finish: Finish, prompt: str = "") -> tuple[np.ndarray, FinishReport]:
    """The whole chain on (frames, channels) audio at ``sr`` (``prompt``: the text rendered, for
    ``tune_to="prompt"``). Raises OutputError if it produced non-finite samples (a plugin gone wrong)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    frames_in = len(x)
    tuning = None
    if finish.tune_to is not None:
        x, tuning = tune_step(x, sr, finish.tune_to, prompt)
    if finish.trim_silence_db is not None:
        x = trim_silence(x, sr, finish.trim_silence_db)
    # Fades shape the rendered sound itself; a reverb or delay tail then rings out after it.
    x = fades(x, sr, finish.fade_in_s, finish.fade_out_s)
    if finish.tail_s > 0:
        x = np.concatenate([x, np.zeros((int(round(finish.tail_s * sr)), x.shape[1]), np.float32)])
    chain = build_chain(finish.fx, sr)
    if chain:
        board = _pedalboard().Pedalboard(chain)
        y = board(x.T.copy(), float(sr), reset=True).T
        if y.shape[1] != x.shape[1]:  # a plugin that changes the channel count: keep ours
            y = np.repeat(y.mean(axis=1, keepdims=True), x.shape[1], axis=1)
        x = np.ascontiguousarray(y[:len(x)], dtype=np.float32)
        if finish.tail_s > 0:  # whatever still rings at the end of the tail stops without a click
            x = fades(x, sr, 0.0, min(END_FADE_S, finish.tail_s))
    loudness = peak = None
    if finish.loudness_lufs is not None:
        x = normalise_loudness(x, sr, finish.loudness_lufs, finish.true_peak_dbtp)
        loudness = integrated_loudness(x, sr)
    elif true_peak_db(x, sr) > finish.true_peak_dbtp:
        x = limit(x, sr, finish.true_peak_dbtp)
    if not np.all(np.isfinite(x)):
        raise OutputError("the finishing chain produced non-finite samples (NaN or inf); check its "
                          "effects and plugins")
    peak = true_peak_db(x, sr)
    return x, FinishReport(frames_in=frames_in, frames_out=len(x),
                           loudness_lufs=None if loudness is None or not math.isfinite(loudness) else round(loudness, 2),
                           true_peak_dbtp=None if not math.isfinite(peak) else round(peak, 2), tuning=tuning)


def describe(finish: Finish) -> dict[str, Any]:
    return finish.to_dict()
