"""Caption building: which attributes of a parameter dict to mention and in what
words and order (:func:`_caption`), two-family mix captions, every literal phrase the builder can
emit (:func:`training_phrases`), and the held-out-term test (:func:`is_training_caption`).
"""

from __future__ import annotations

import re

import numpy as np

from .synth import DEFAULT_DURATION_S, DEFAULT_SR
from .params import _choice
from .phrases import (
    _BACKGROUND_PHRASES, _BRIGHTNESS_PHRASES, _ENVELOPE_PHRASES, _format_hz, _HZ_PHRASES,
    _LENGTH_PHRASES, Mention, _MIX_TEMPLATES, _NOTE_PHRASES, _NUMBER_WORDS, _PITCH_PHRASES, _PRE_ORDER,
    _REPEATED_PHRASES, _SINGLE_PHRASES, _TEMPO_PHRASES, _TEXTURE_PHRASES,
)
from .families import FAMILIES, Family
from .prompts import HELD_OUT_TERMS


def _standard_mentions(fam: Family, p: dict, rng: np.random.Generator) -> list[Mention]:
    """Mentions for the attributes shared by many families."""
    out: list[Mention] = []
    kind = fam.kind
    if p.get("f0_hz") is not None and fam.name not in ("engine_hum",):
        mode = p.get("pitch_mode")
        # A pitch drawn as a note or a round Hz value is drawn to be named: always say it. (Optional,
        # it was named in 4 captions of 10, and a named pitch was in only 7 % of the corpus.)
        if mode == "note" and p.get("note"):
            out.append(Mention("pitch", tuple((s, t.format(note=p["note"])) for s, t in _NOTE_PHRASES), True))
        elif mode == "hz":
            hz = _format_hz(p["f0_hz"], rng)
            out.append(Mention("pitch", tuple((s, t.format(hz=hz)) for s, t in _HZ_PHRASES), True))
        elif p.get("pitch"):
            out.append(Mention("pitch", _PITCH_PHRASES[p["pitch"]]))
    elif p.get("pitch"):
        out.append(Mention("pitch", _PITCH_PHRASES[p["pitch"]]))
    if p.get("brightness") in _BRIGHTNESS_PHRASES:
        out.append(Mention("brightness", _BRIGHTNESS_PHRASES[p["brightness"]]))
    # Tones and textures that are not held steadily say so (issue 20): unsaid length and envelope then
    # mean a sustained sound that fills the clip, which is what a user asking for "a sine tone" wants.
    sustained_default = kind != "hit"
    if p.get("length") in ("short", "long"):
        out.append(Mention("length", _LENGTH_PHRASES[kind][p["length"]],
                           sustained_default and p["length"] == "short"))
    if p.get("envelope") in _ENVELOPE_PHRASES:
        out.append(Mention("envelope", _ENVELOPE_PHRASES[p["envelope"]],
                           sustained_default and p["envelope"] != "steady" and p.get("length") != "short"))
    if fam.generic_rhythm and p.get("rhythm") == "single":
        out.append(Mention("rhythm", _SINGLE_PHRASES["hit" if kind == "hit" else "tone"]))
    if fam.generic_rhythm and p.get("rhythm") == "repeated":
        n_hits = p["n_hits"]
        options = [
            (s, t) for s, t in _REPEATED_PHRASES if "{n}" not in t or n_hits <= 8
        ]
        number = _NUMBER_WORDS.get(n_hits, str(n_hits)) if rng.random() < 0.7 else str(n_hits)
        out.append(Mention("rhythm", tuple((s, t.format(n=number)) for s, t in options)))
    if p.get("tempo") in _TEMPO_PHRASES and fam.generic_rhythm:
        out.append(Mention("tempo", _TEMPO_PHRASES[p["tempo"]]))
    if fam.mention_texture and p.get("texture") in _TEXTURE_PHRASES:
        out.append(Mention("texture", _TEXTURE_PHRASES[p["texture"]]))
    return out


# ==========================================================================
# Captions
# ==========================================================================


def _article(word: str) -> str:
    """'a' or 'an' by the sound of the first word ('an A4 ...', 'an 880 Hz ...')."""
    w = word.lower()
    if re.match(r"^[aeiou]", w) and not w.startswith(("uni", "one", "eu")):
        return "an"
    if re.match(r"^(8|11\D|11$|18\D|18$)", w):
        return "an"
    first = w.split()[0] if w.split() else w
    if re.match(r"^[aef][#b]?\d", first) or first == "fm":  # A4, E3, F#2, FM read "ay", "ee", "ef"
        return "an"
    return "a"


def _caption(rng: np.random.Generator, fam: Family, p: dict) -> tuple[str, tuple[str, ...]]:
    """Build a caption for ``p``.  Returns (caption, keys of the attributes
    it mentions)."""
    mentions = _standard_mentions(fam, p, rng) + (fam.mentions(p) if fam.mentions else [])
    # A family-specific mention replaces a generic one with the same key.
    by_key: dict[str, Mention] = {}
    for m in mentions:
        by_key[m.key] = m
    mentions = list(by_key.values())
    required = [m for m in mentions if m.required]
    optional = [m for m in mentions if not m.required]
    k = int(rng.integers(0, min(3, len(optional)) + 1))
    chosen = sorted(rng.choice(len(optional), k, replace=False)) if optional else []
    picked = required + [optional[i] for i in chosen]

    pre: list[tuple[int, str]] = []
    post: list[str] = []
    count: str | None = None
    plural = p.get("rhythm") == "repeated" and fam.generic_rhythm
    for m in picked:
        slot, text = m.options[int(rng.integers(len(m.options)))]
        if slot == "count":
            count = text
        elif slot == "post":
            post.append(text)
            if m.key == "rhythm":
                plural = False  # "a kick played four times"
        else:
            pre.append((_PRE_ORDER.index(m.key), text))
    noun = fam.nouns[int(rng.integers(len(fam.nouns)))]
    words = [t for _, t in sorted(pre, key=lambda item: item[0])] + [noun.form(plural)]
    phrase = " ".join(words)
    if count:
        phrase = f"{count} {phrase}"
    elif not (noun.mass or plural) and rng.random() < 0.75:
        phrase = f"{_article(phrase)} {phrase}"
    order = rng.permutation(len(post))
    for i in order:
        phrase += (", " if rng.random() < 0.3 else " ") + post[i]
    if rng.random() < 0.15:
        phrase = "the sound of " + phrase
    return phrase, tuple(m.key for m in picked)


def _background_phrase(rng: np.random.Generator, name: str) -> str:
    return str(_choice(rng, _BACKGROUND_PHRASES[name]))


def _mixed_caption(rng: np.random.Generator, foreground: str, background: str) -> str:
    """A mix's caption: the foreground caption placed in a template that names the background."""
    return str(_choice(rng, _MIX_TEMPLATES)).format(fg=foreground, bg=_background_phrase(rng, background))


# ==========================================================================
# Training vocabulary
# ==========================================================================


def training_phrases() -> list[str]:
    """Every literal phrase the caption builder can emit (phrase banks, nouns,
    templates); numbers and note names are filled in at run time."""
    texts: list[str] = []

    def add_options(options):
        texts.extend(t for _, t in options)

    banks = (
        _PITCH_PHRASES, _BRIGHTNESS_PHRASES, _ENVELOPE_PHRASES, _TEMPO_PHRASES, _TEXTURE_PHRASES, _SINGLE_PHRASES,
    )
    for bank in banks:
        for options in bank.values():
            add_options(options)
    for kind in _LENGTH_PHRASES.values():
        for options in kind.values():
            add_options(options)
    for options in (_NOTE_PHRASES, _HZ_PHRASES, _REPEATED_PHRASES):
        add_options(options)
    for fam in FAMILIES.values():
        for noun in fam.nouns:
            texts += [noun.singular, noun.form(True)]
    for phrases in _BACKGROUND_PHRASES.values():
        texts += list(phrases)
    texts += list(_MIX_TEMPLATES) + ["the sound of"]
    # Family-specific phrases depend on parameters: collect them from many
    # sampled parameter sets so every branch is seen.
    for fam in FAMILIES.values():
        if fam.mentions is None:
            continue
        rng = np.random.default_rng(0)
        for _ in range(40):
            for m in fam.mentions(fam.sample_params(rng, DEFAULT_DURATION_S, DEFAULT_SR)):
                add_options(m.options)
    return sorted(set(texts))


# Whole words only: "deep" must not match "deeper-lying" text fragments, and
# hyphenated words count as one word ("sub-bass" is not "bass").
_HELD_OUT_RE = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(t) for t in HELD_OUT_TERMS) + r")(?![\w-])")


def is_training_caption(text: str) -> bool:
    """False if ``text`` contains a held-out term, which training captions
    never do (by construction; the tests check it on many seeds).  True does
    not mean the exact caption was generated, only that it could be."""
    return _HELD_OUT_RE.search(text.lower()) is None
