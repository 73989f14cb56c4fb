"""Words of the captions: the :class:`Noun` and :class:`Mention` types, the shared
phrase banks (pitch, brightness, length, envelope, rhythm, tempo, texture), the family-specific
mentions (sweep direction, rain intensity, chord names, ...), and the background phrases and
templates of two-family mixes.  :mod:`.captions` assembles captions from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Noun:
    """One way to name a family's sound.  ``mass`` nouns ("rain", "white
    noise") take no article and have no plural."""

    singular: str
    plural: str = ""
    mass: bool = False

    def form(self, plural: bool) -> str:
        if self.mass or not plural:
            return self.singular
        return self.plural or self.singular + "s"


@dataclass(frozen=True)
class Mention:
    """Candidate phrases expressing one attribute.  Slots: "pre" (adjective
    before the noun), "post" (clause after it), "count" (number word; makes
    the noun plural), "plural_pre" (adjective that makes the noun plural)."""

    key: str
    options: tuple[tuple[str, str], ...]  # (slot, text)
    required: bool = False


# ==========================================================================
# Phrase banks
# ==========================================================================


Phrases = tuple[tuple[str, str], ...]  # (slot, text) pairs; see Mention


def _phrases(pre: Sequence[str] = (), post: Sequence[str] = ()) -> Phrases:
    """Adjectives that go before the noun and clauses that go after it."""
    return tuple(("pre", t) for t in pre) + tuple(("post", t) for t in post)


_PITCH_PHRASES = {
    "low": _phrases(["low", "low-pitched", "bassy"], ["in a low register", "with a low pitch"]),
    "mid": _phrases(["mid-range", "mid-pitched"], ["in the middle register", "at a medium pitch"]),
    "high": _phrases(["high", "high-pitched"], ["in a high register", "with a high pitch"]),
}
_NOTE_PHRASES = _phrases(["{note}"], ["at {note}", "tuned to {note}", "playing {note}", "on the note {note}"])
_HZ_PHRASES = _phrases(["{hz}"], ["at {hz}", "of {hz}", "with a frequency of {hz}"])
_BRIGHTNESS_PHRASES = {
    "bright": _phrases(["bright", "crisp", "brilliant"], ["with a bright tone", "with lots of high end"]),
    "dark": _phrases(["dark", "muffled", "dull", "mellow", "low-passed"],
                     ["with a dark tone", "with the highs rolled off"]),
}
_LENGTH_PHRASES = {
    "hit": {
        "short": _phrases(["short", "tight", "brief"], ["with a short decay", "that ends quickly"]),
        "long": _phrases(["long", "long-decaying"],
                         ["with a long decay", "with a long tail", "that rings out"]),
    },
    "tone": {
        "short": _phrases(["short", "brief"], ["lasting a fraction of a second", "that stops quickly"]),
        "long": _phrases(["long", "long-held"], ["held for a long time", "that goes on for a while"]),
    },
}
_LENGTH_PHRASES["texture"] = _LENGTH_PHRASES["tone"]
_ENVELOPE_PHRASES = {
    "sharp": _phrases(["punchy", "snappy", "percussive"],
                      ["with a sharp attack", "with a fast attack", "with a hard transient"]),
    "fading": _phrases(["fading", "decaying"],
                       ["that fades out", "fading away", "that slowly dies away", "with a fade-out"]),
    "swelling": _phrases(["swelling"], ["that swells up", "that fades in", "growing louder",
                                        "with a slow fade-in", "getting louder"]),
    "steady": _phrases(["steady", "constant"], ["at a constant volume", "held steady"]),
}
_SINGLE_PHRASES = {
    "hit": _phrases(["single", "lone", "isolated"], ["hit once", "played once", "just once"]),
    "tone": _phrases(["single", "lone"], ["played once", "just once"]),
}
_REPEATED_PHRASES = (
    ("count", "{n}"), ("plural_pre", "repeated"), ("plural_pre", "repeating"),
    *_phrases(post=["played {n} times", "{n} times in a row", "over and over", "in a steady rhythm"]),
)
_TEMPO_PHRASES = {
    "fast": _phrases(["fast", "rapid"], ["at a fast tempo", "in quick succession", "at a fast pace"]),
    "slow": _phrases(["slow"], ["at a slow tempo", "at a slow pace", "with long gaps in between"]),
}
_TEXTURE_PHRASES = {
    "tonal": _phrases(["pure", "clean", "tonal"]),
    "noisy": _phrases(["noisy", "hissy", "grainy"]),
}

# Order of pre-noun modifiers ("four fast short bright pure fading low 220 Hz saw tones").
_PRE_ORDER = (
    "rhythm", "tempo", "density", "intensity", "distance", "gusts", "length", "brightness",
    "texture", "envelope", "sweep", "pitch", "chord", "extra",
)

# Counts and frequencies in words ("four kicks", "a 1.5 kHz beep").
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def _format_hz(hz: float, rng: np.random.Generator) -> str:
    """Paraphrase a frequency: '440 Hz', '440Hz', '440 hertz', '1.5 kHz'."""
    if hz >= 1000 and rng.random() < 0.6:
        k = hz / 1000.0
        text = f"{k:g}"
        return str(rng.choice([f"{text} kHz", f"{text}kHz"]))
    n = int(round(hz))
    return str(rng.choice([f"{n} Hz", f"{n}Hz", f"{n} hertz"]))


# ==========================================================================
# Family-specific mentions
# ==========================================================================


def _sweep_mentions(p: dict) -> list[Mention]:
    if p["sweep"] == "rising":
        words = _phrases(["rising", "upward", "ascending"],
                         ["sweeping up", "going up in pitch", "rising in pitch"])
    else:
        words = _phrases(["falling", "downward", "descending"],
                         ["sweeping down", "going down in pitch", "dropping in pitch"])
    return [Mention("sweep", words, required=True)]


def _sweep_range_mention(p: dict) -> list[Mention]:
    def fmt(hz: float) -> str:
        return f"{hz / 1000:g} kHz" if hz >= 1000 else f"{int(hz)} Hz"

    text = f"from {fmt(p['sweep_start_hz'])} to {fmt(p['sweep_end_hz'])}"
    return _sweep_mentions(p) + [Mention("extra", _phrases(post=[text]))]


def _zap_mentions(p: dict) -> list[Mention]:
    return [Mention("sweep", _phrases(["falling", "downward"], ["dropping in pitch", "sweeping down"]))]


def _siren_mentions(p: dict) -> list[Mention]:
    if p["tempo"] == "fast":
        words = _phrases(["fast", "yelping"], ["wobbling quickly", "with a fast warble"])
    else:
        words = _phrases(["slow", "wailing"], ["rising and falling slowly", "with a slow wail"])
    return [Mention("tempo", words)]


def _rain_mentions(p: dict) -> list[Mention]:
    if p["intensity"] == "heavy":
        words = _phrases(["heavy", "pouring", "torrential"], ["pouring down hard"])
    else:
        words = _phrases(["light", "sparse", "drizzly"], ["with a few scattered drops"])
    return [Mention("intensity", words)]


def _wind_mentions(p: dict) -> list[Mention]:
    if p["gusts"] == "gusty":
        words = _phrases(["gusty", "blustery"], ["blowing in gusts", "with strong gusts"])
    else:
        words = _phrases(["steady", "constant"], ["blowing steadily", "without gusts"])
    return [Mention("gusts", words)]


def _thunder_mentions(p: dict) -> list[Mention]:
    if p["distance"] == "close":
        words = _phrases(["close", "nearby", "cracking"], ["right overhead", "with a sharp crack"])
    else:
        words = _phrases(["distant", "remote"], ["in the distance", "from miles away"])
    return [Mention("distance", words)]


def _mains_mentions(p: dict) -> list[Mention]:
    hz = int(p["f0_hz"])
    return [Mention("pitch", _phrases([f"{hz} Hz", f"{hz}Hz"], [f"at {hz} Hz"]), required=True)]


def _chord_mentions(p: dict) -> list[Mention]:
    name = f"{p['root']} {p['chord']}"
    return [Mention("chord", _phrases([name, p["chord"]], [f"playing {name}", f"in {name}"]), required=True)]


def _steps_mentions(p: dict) -> list[Mention]:
    if p["tempo"] == "fast":
        words = _phrases(["running", "fast"], ["at a running pace", "in quick succession"])
    else:
        words = _phrases(["walking", "slow"], ["at a walking pace", "at a slow pace"])
    return [Mention("tempo", words)]


def _heart_mentions(p: dict) -> list[Mention]:
    bpm = int(round(p["bpm"] / 5) * 5)
    if p["tempo"] == "fast":
        words = _phrases(["fast", "rapid"], ["beating fast"])
    else:
        words = _phrases(["slow", "calm"], ["beating slowly"])
    rate = _phrases(post=[f"at about {bpm} bpm", f"around {bpm} beats per minute"])
    return [Mention("tempo", words), Mention("extra", rate)]


def _clock_mentions(p: dict) -> list[Mention]:
    if p["tempo"] == "fast":
        words = _phrases(["fast", "rapid"], ["with rapid ticks", "at a fast pace"])
    else:
        words = _phrases(["slow"], ["with slow ticks", "at a slow pace"])
    return [Mention("tempo", words)]


def _bubble_mentions(p: dict) -> list[Mention]:
    if p["density"] == "dense":
        words = _phrases(["lots of", "many"], ["bubbling constantly"])
    else:
        words = _phrases(["a few", "occasional"], ["popping now and then"])
    return [Mention("density", words)]


def _chimes_mentions(p: dict) -> list[Mention]:
    return [Mention("extra", _phrases(["tuned"], ["ringing randomly", "moving in the breeze"]))]


def _alarm_mentions(p: dict) -> list[Mention]:
    return [Mention("tempo", _TEMPO_PHRASES[p["tempo"]])] if "tempo" in p else []


# ==========================================================================
# Mixes
# ==========================================================================


# Short noun phrases for a family heard in the background of a mix.
_BACKGROUND_PHRASES = {
    "white_noise": ("white noise", "static"), "pink_noise": ("pink noise",),
    "brown_noise": ("brown noise", "brownian noise"),
    "rain": ("rain", "falling rain"), "wind": ("wind", "blowing wind"), "surf": ("ocean waves", "surf"),
    "rumble": ("a low rumble", "rumble"), "engine_hum": ("an engine hum", "a motor hum"),
    "mains_hum": ("electrical hum", "mains hum"), "pad": ("a synth pad", "a pad"),
    "crowd": ("crowd chatter", "a murmur of voices", "people talking"),
}
_MIX_TEMPLATES = (
    "{fg} with {bg} in the background", "{fg} over {bg}", "{fg}, with {bg} behind it",
    "{fg} on top of {bg}", "{fg} and some quiet {bg}", "{fg} with {bg} underneath",
)
