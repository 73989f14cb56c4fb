"""The family registry: the :class:`Family` type and :data:`FAMILIES`, which ties each
kind of sound (kick, pink noise, FM bell, ...) to its nouns, parameter ranges, sampler, synth and
family-specific mentions.  The samplers and synths live in :mod:`.drums`, :mod:`.tones`,
:mod:`.textures` and :mod:`.effects`; the words in :mod:`.phrases`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .drums import (
    _clap_params, _CLAP_RANGES, _clap_synth, _hat_params, _HAT_RANGES, _hat_synth, _kick_params,
    _KICK_RANGES, _kick_synth, _rim_params, _RIM_RANGES, _rim_synth, _snare_params, _SNARE_RANGES,
    _snare_synth, _tom_params, _TOM_RANGES, _tom_synth,
)
from .tones import (
    _alarm_params, _ALARM_RANGES, _beep_params, _BEEP_RANGES, _bell_params, _BELL_RANGES, _bell_synth,
    _CHIME_RANGES, _chimes_params, _chimes_synth, _chord_params, _chord_synth, _pad_params, _PAD_RANGES,
    _pad_synth, _pluck_params, _PLUCK_RANGES, _pluck_synth, _siren_params, _SIREN_RANGES, _siren_synth,
    _sweep_params, _SWEEP_RANGES, _sweep_synth, _tone_params, _TONE_RANGES, _tone_synth, _zap_params,
    _ZAP_RANGES, _zap_synth,
)
from .textures import (
    _engine_params, _ENGINE_RANGES, _engine_synth, _mains_params, _mains_synth, _noise_params,
    _noise_synth, _rain_params, _RAIN_RANGES, _rain_synth, _rumble_params, _RUMBLE_RANGES, _rumble_synth,
    _surf_params, _SURF_RANGES, _surf_synth, _thunder_params, _THUNDER_RANGES, _thunder_synth,
    _wind_params, _WIND_RANGES, _wind_synth,
)
from .effects import (
    _BUBBLE_RANGES, _bubbles_params, _bubbles_synth, _clock_params, _CLOCK_RANGES, _clock_synth,
    _glitch_params, _GLITCH_RANGES, _glitch_synth, _heart_params, _HEART_RANGES, _heart_synth,
    _STEP_RANGES, _steps_params, _steps_synth, _whoosh_params, _WHOOSH_RANGES, _whoosh_synth,
)
from .voices import (
    _CROWD_RANGES, _crowd_params, _crowd_synth, _SING_RANGES, _speaker_mentions, _sung_params, _sung_synth,
    _talk_params, _talk_synth, _VOICE_RANGES, _whisper_params, _whisper_synth,
)
from .phrases import (
    _alarm_mentions, _bubble_mentions, _chimes_mentions, _chord_mentions, _clock_mentions,
    _heart_mentions, _mains_mentions, Mention, Noun, _rain_mentions, _siren_mentions, _steps_mentions,
    _sweep_range_mention, _thunder_mentions, _wind_mentions, _zap_mentions,
)


@dataclass(frozen=True)
class Family:
    """A kind of sound: how to draw its parameters, synthesise it and name it.

    ``param_ranges`` documents the numeric ranges the sampler draws from
    (seconds, Hz, dB); ``sample_params(rng, duration_s, sr)`` returns the
    parameter dict; ``synth(rng, params, sr, n_samples)`` returns float32
    audio of exactly ``n_samples``; ``mentions(params)`` adds family-specific
    phrases (chord names, rain intensity, ...) to the shared attribute
    phrases.  ``role`` says whether it can be the main sound or the
    background of a mix; ``kind`` ("hit", "tone" or "texture") selects
    wording such as "hit once" vs "played once".
    """

    name: str
    nouns: tuple[Noun, ...]
    param_ranges: Mapping[str, object]
    sample_params: Callable[[np.random.Generator, float, int], dict]
    synth: Callable[[np.random.Generator, dict, int, int], np.ndarray]
    kind: str = "hit"
    texture: str = "mixed"  # "tonal" | "noisy" | "mixed"
    role: str = "foreground"  # "foreground" | "background"
    mentions: Callable[[dict], list[Mention]] | None = None
    generic_rhythm: bool = True  # use the shared single/repeated phrases
    mention_texture: bool = False


def _nouns(*names: str) -> tuple[Noun, ...]:
    """Countable nouns ("kick drum" / "kick drums")."""
    return tuple(Noun(name) for name in names)


def _mass(*names: str) -> tuple[Noun, ...]:
    """Uncountable or inherently plural nouns ("rain", "footsteps"): no
    article, no plural."""
    return tuple(Noun(name, mass=True) for name in names)


# Keyword arguments: kind (wording), texture, role (mix side), family-specific
# mentions, whether the shared single/repeated phrases apply.
_TONE = {"kind": "tone", "texture": "tonal"}
_BED = {"kind": "texture", "texture": "noisy", "role": "background"}
FAMILIES: dict[str, Family] = {f.name: f for f in (
    # drums
    Family("kick", _nouns("kick drum", "kick", "bass drum", "kick hit"), _KICK_RANGES, _kick_params,
           _kick_synth),
    Family("snare", _nouns("snare drum", "snare", "snare hit"), _SNARE_RANGES, _snare_params, _snare_synth),
    Family("closed_hihat", _nouns("closed hi-hat", "closed hihat", "closed hat", "hi-hat tick"), _HAT_RANGES,
           _hat_params(False), _hat_synth, texture="noisy", mention_texture=True),
    Family("open_hihat", _nouns("open hi-hat", "open hihat", "open hat"), _HAT_RANGES,
           _hat_params(True), _hat_synth, texture="noisy", mention_texture=True),
    Family("clap", _nouns("clap", "hand clap", "handclap"), _CLAP_RANGES, _clap_params, _clap_synth,
           texture="noisy"),
    Family("rimshot", _nouns("rim shot", "rimshot", "rim click", "side stick"), _RIM_RANGES, _rim_params,
           _rim_synth),
    Family("tom", _nouns("tom", "tom drum", "tom-tom", "tom hit"), _TOM_RANGES, _tom_params, _tom_synth),
    # tones
    Family("sine_tone", _nouns("sine tone", "sine wave", "sine", "test tone"), _TONE_RANGES,
           _tone_params("sine"), _tone_synth, mention_texture=True, **_TONE),
    Family("square_tone", _nouns("square wave", "square tone", "square-wave synth tone", "chiptune square"),
           _TONE_RANGES, _tone_params("square"), _tone_synth, **_TONE),
    Family("saw_tone", _nouns("sawtooth wave", "saw tone", "sawtooth synth", "saw wave"), _TONE_RANGES,
           _tone_params("saw"), _tone_synth, **_TONE),
    Family("beep", _nouns("beep", "bleep", "electronic beep", "tone beep"), _BEEP_RANGES, _beep_params,
           _tone_synth, **_TONE),
    Family("alarm", _mass("alarm beeps", "warning beeps", "alert beeps") + _nouns("beeping alarm"),
           _ALARM_RANGES, _alarm_params, _tone_synth, generic_rhythm=False, mentions=_alarm_mentions, **_TONE),
    # pitch movement
    Family("rising_sweep", _nouns("sweep", "pitch sweep", "riser", "uplifter", "tone sweep"), _SWEEP_RANGES,
           _sweep_params("rising"), _sweep_synth, mentions=_sweep_range_mention, **_TONE),
    Family("falling_sweep", _nouns("sweep", "pitch sweep", "pitch drop", "downlifter", "tone sweep"),
           _SWEEP_RANGES, _sweep_params("falling"), _sweep_synth, mentions=_sweep_range_mention, **_TONE),
    Family("siren", _nouns("siren", "police siren", "emergency siren", "alarm siren"), _SIREN_RANGES,
           _siren_params, _siren_synth, mentions=_siren_mentions, generic_rhythm=False, **_TONE),
    Family("laser_zap", _nouns("laser zap", "laser shot", "sci-fi zap", "zap", "pew laser"), _ZAP_RANGES,
           _zap_params, _zap_synth, texture="tonal", mentions=_zap_mentions),
    # noise
    Family("white_noise", _mass("white noise", "static", "white noise hiss"), {"exponent": 0.0},
           _noise_params("white"), _noise_synth, **_BED),
    Family("pink_noise", _mass("pink noise", "1/f noise"), {"exponent": 1.0}, _noise_params("pink"),
           _noise_synth, **_BED),
    Family("brown_noise", _mass("brown noise", "brownian noise", "red noise"), {"exponent": 2.0},
           _noise_params("brown"), _noise_synth, **_BED),
    # nature textures
    Family("rain", _mass("rain", "falling rain", "raindrops") + _nouns("rain shower"), _RAIN_RANGES,
           _rain_params, _rain_synth, mentions=_rain_mentions, **_BED),
    Family("wind", _mass("wind", "blowing wind", "wind noise"), _WIND_RANGES, _wind_params, _wind_synth,
           mentions=_wind_mentions, **_BED),
    Family("surf", _mass("ocean waves", "surf", "waves breaking on a beach", "sea waves"), _SURF_RANGES,
           _surf_params, _surf_synth, **_BED),
    Family("rumble", _nouns("rumble", "low-frequency rumble", "sub rumble", "earth rumble"), _RUMBLE_RANGES,
           _rumble_params, _rumble_synth, **_BED),
    Family("thunder", _mass("thunder") + _nouns("thunderclap", "thunder strike", "thunderstorm rumble"),
           _THUNDER_RANGES, _thunder_params, _thunder_synth, kind="texture", texture="noisy",
           mentions=_thunder_mentions),
    # machines
    Family("engine_hum", _nouns("engine hum", "idling engine", "motor hum", "machine hum"), _ENGINE_RANGES,
           _engine_params, _engine_synth, kind="texture", texture="tonal", role="background"),
    Family("mains_hum", _nouns("electrical hum", "mains hum", "ground loop hum", "transformer hum"),
           {"f0_hz": (50.0, 60.0)}, _mains_params, _mains_synth, kind="texture", texture="tonal",
           role="background", mentions=_mains_mentions),
    # bells & strings
    Family("bell", _nouns("bell", "FM bell", "bell strike", "metallic bell"), _BELL_RANGES, _bell_params,
           _bell_synth, texture="tonal"),
    Family("chimes", _mass("wind chimes", "chimes", "metal chimes"), _CHIME_RANGES, _chimes_params,
           _chimes_synth, texture="tonal", generic_rhythm=False, mentions=_chimes_mentions),
    Family("pluck", _nouns("plucked string", "pluck", "guitar-like pluck", "harp-like pluck", "string pluck"),
           _PLUCK_RANGES, _pluck_params, _pluck_synth, texture="tonal"),
    Family("pad", _nouns("pad", "synth pad", "pad chord", "ambient pad"), _PAD_RANGES, _pad_params,
           _pad_synth, role="background", mentions=_chord_mentions, **_TONE),
    Family("chord", _nouns("chord", "synth chord", "chord stab", "organ-like chord"), _PAD_RANGES,
           _chord_params, _chord_synth, mentions=_chord_mentions, **_TONE),
    # sound effects
    Family("whoosh", _nouns("whoosh", "swoosh", "swish", "woosh"), _WHOOSH_RANGES, _whoosh_params,
           _whoosh_synth, kind="tone", texture="noisy"),
    Family("footsteps", _mass("footsteps", "steps", "footfalls"), _STEP_RANGES, _steps_params, _steps_synth,
           texture="noisy", generic_rhythm=False, mentions=_steps_mentions),
    Family("heartbeat", _nouns("heartbeat", "heartbeat thump") + _mass("heart beating"), _HEART_RANGES,
           _heart_params, _heart_synth, generic_rhythm=False, mentions=_heart_mentions),
    Family("clock_ticking", _mass("clock ticking") + _nouns("ticking clock", "clock tick-tock", "clock"),
           _CLOCK_RANGES, _clock_params, _clock_synth, generic_rhythm=False, mentions=_clock_mentions),
    Family("bubbles", _mass("bubbles", "air bubbles", "underwater bubbles"), _BUBBLE_RANGES, _bubbles_params,
           _bubbles_synth, generic_rhythm=False, mentions=_bubble_mentions),
    Family("glitch", _nouns("glitch", "digital glitch", "bitcrushed glitch", "glitchy stutter",
                            "lo-fi bitcrushed texture"), _GLITCH_RANGES, _glitch_params, _glitch_synth),
    # voices (issue 20: broadband acoustic material for super-resolution)
    Family("talking", _nouns("talking voice", "speaking voice", "voice talking", "spoken voice")
           + _mass("speech", "someone talking"), _VOICE_RANGES, _talk_params, _talk_synth, kind="texture",
           generic_rhythm=False, mentions=_speaker_mentions),
    Family("singing", _nouns("sung note", "singing voice", "hummed note", "hummed melody", "sung melody"),
           _SING_RANGES, _sung_params, _sung_synth, kind="tone", texture="tonal", generic_rhythm=False,
           mentions=_speaker_mentions),
    Family("whisper", _nouns("whisper", "whispered voice", "whispering voice") + _mass("whispered speech"),
           _VOICE_RANGES, _whisper_params, _whisper_synth, kind="texture",
           generic_rhythm=False, mentions=_speaker_mentions),
    Family("crowd", _mass("crowd babble", "crowd chatter", "people talking", "chattering crowd"),
           _CROWD_RANGES, _crowd_params, _crowd_synth, kind="texture", role="background",
           generic_rhythm=False),
)}

BACKGROUND_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.role == "background")
FOREGROUND_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.role == "foreground")
