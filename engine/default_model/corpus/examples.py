"""Examples and the corpus: the :class:`Example` type, the plan of an example (family,
parameters, caption, mix) drawn from its seed, synthesis and AudioLDM-style normalisation
(:func:`make_example`), captions without audio (:func:`make_caption`, :func:`caption_variants`),
and corpus seeds (:func:`example_seed`, :func:`make_corpus`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator

import numpy as np

from .synth import _active_rms, DEFAULT_DURATION_S, DEFAULT_MIX_SHARE, DEFAULT_SR, _filter, PEAK_LEVEL
from .params import _choice, _uniform
from .families import BACKGROUND_FAMILIES, FAMILIES, Family, FOREGROUND_FAMILIES
from .captions import _caption, _mixed_caption
from .prompts import held_out_prompts, unseen_vocabulary_prompts, unseen_wording_prompts

_MIX_RANGES = {"background_db": (-18.0, -9.0)}


@dataclass(frozen=True)
class Example:
    """One captioned training example.

    ``audio`` is float32 mono at ``sr`` Hz, mean-removed and peak-normalised
    to 0.5.  ``families`` is ``(family,)`` or ``(foreground, background)``.
    ``attributes`` holds the machine-readable truth (e.g. ``f0_hz``,
    ``brightness``, ``rhythm``, ``n_hits``, ``noise_colour``, ``sweep``,
    ``chord``); ``mentioned`` lists which of those the caption states.
    """

    audio: np.ndarray
    sr: int
    families: tuple[str, ...]
    caption: str
    attributes: dict
    mentioned: tuple[str, ...] = field(default=())
    seed: int = 0


# Parameters exported as attributes (the rest are synthesis details).
ATTRIBUTE_KEYS = (
    "f0_hz", "pitch", "pitch_mode", "note", "brightness", "length", "envelope", "rhythm", "n_hits",
    "tempo", "interval_s", "texture", "noise_colour", "sweep", "sweep_start_hz", "sweep_end_hz",
    "chord", "root", "root_hz", "intensity", "gusts", "distance", "density", "bpm", "n_beats",
    "f0_range_hz", "note_s", "decay_s", "onsets_s", "waveform",
)


def _attributes(fam: Family, p: dict) -> dict:
    attrs = {k: p[k] for k in ATTRIBUTE_KEYS if p.get(k) is not None}
    attrs["family"] = fam.name
    attrs.setdefault("texture", fam.texture)
    return attrs


def synthesize(family: str, params: dict, sr: int, n_samples: int, seed: int = 0) -> np.ndarray:
    """Render ``params`` (as drawn by ``FAMILIES[family].sample_params``) to
    float32 audio of exactly ``n_samples``.  Handy for controlled tests
    (change one parameter, keep the rest)."""
    return FAMILIES[family].synth(np.random.default_rng(seed), params, sr, n_samples)


def _normalise(x: np.ndarray, sr: int) -> np.ndarray:
    """AudioLDM front-end normalisation (mean removal, peak 0.5).

    Sub-sonic content is removed first (20 Hz high-pass): a burst of coloured
    noise has a non-zero mean, and subtracting the clip mean would otherwise
    leave a DC level where there should be silence.
    """
    x = _filter(x.astype(np.float64), sr, "highpass", 20.0, order=2)
    x = x - float(np.mean(x))
    peak = float(np.max(np.abs(x)))
    if peak > 0:
        x *= PEAK_LEVEL / peak
    return x.astype(np.float32)


@dataclass(frozen=True)
class _Plan:
    """Everything about an example except its audio."""

    family: str
    params: dict
    caption: str
    mentioned: tuple[str, ...]
    attributes: dict
    background: str | None = None
    background_params: dict | None = None
    background_db: float = 0.0


def _plan(seed: int, sr: int, duration_s: float, mix_share: float, family: str | None) -> _Plan:
    rng = _streams(seed)[0]
    mix = rng.random() < mix_share
    if family is None:
        family = str(_choice(rng, FOREGROUND_FAMILIES if mix else tuple(FAMILIES)))
    elif mix and FAMILIES[family].role != "foreground":
        mix = False
    fam = FAMILIES[family]
    params = fam.sample_params(rng, duration_s, sr)
    caption, mentioned = _caption(rng, fam, params)
    attributes = _attributes(fam, params)
    if not mix:
        return _Plan(family, params, caption, mentioned, attributes)
    bg_name = str(_choice(rng, BACKGROUND_FAMILIES))
    bg = FAMILIES[bg_name]
    bg_params = bg.sample_params(rng, duration_s, sr)
    gain_db = _uniform(rng, _MIX_RANGES["background_db"])
    caption = _mixed_caption(rng, caption, bg_name)
    attributes.update(
        background=bg_name, background_db=gain_db, background_attributes=_attributes(bg, bg_params)
    )
    return _Plan(family, params, caption, mentioned, attributes, bg_name, bg_params, gain_db)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for (parameters + caption, audio samples), so
    captions can be regenerated without synthesising audio."""
    plan_seq, audio_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(plan_seq), np.random.default_rng(audio_seq)


def make_caption(
    seed: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
    family: str | None = None,
) -> tuple[str, dict]:
    """The ``(caption, attributes)`` that ``make_example`` would produce for
    the same arguments, without synthesising audio (~0.1 ms)."""
    plan = _plan(seed, sr, duration_s, mix_share, family)
    return plan.caption, plan.attributes


def caption_variants(
    seed: int,
    n: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
    family: str | None = None,
) -> list[str]:
    """``n`` further captions of the clip ``make_example`` makes from the same arguments: the same
    sound, other wordings and other choices of what to mention (drawn from their own streams, so
    the clip's own caption and audio are unchanged). Held-out evaluation prompts are never returned."""
    plan = _plan(seed, sr, duration_s, mix_share, family)
    fam = FAMILIES[plan.family]
    out = []
    for j in range(n):
        rng = np.random.default_rng([seed, 0x70A2, j])
        caption, _ = _caption(rng, fam, plan.params)
        if plan.background is not None:
            caption = _mixed_caption(rng, caption, plan.background)
        if caption.lower() not in _evaluation_prompts():
            out.append(caption)
    return out


@lru_cache(maxsize=1)
def _evaluation_prompts() -> frozenset[str]:
    """Every evaluation prompt, lower-cased: training text must never contain one."""
    return frozenset(item["prompt"].lower() for item in held_out_prompts() + unseen_vocabulary_prompts()
                     + unseen_wording_prompts())


def make_example(
    seed: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
    family: str | None = None,
) -> Example:
    """Deterministically synthesise one captioned example from ``seed``.

    ``mix_share`` is the probability of a foreground + background mix.
    ``family`` forces the (foreground) family, e.g. for tests; otherwise
    families are drawn uniformly.
    """
    plan = _plan(seed, sr, duration_s, mix_share, family)
    rng = _streams(seed)[1]
    n = int(round(sr * duration_s))
    audio = FAMILIES[plan.family].synth(rng, plan.params, sr, n).astype(np.float64)
    families: tuple[str, ...] = (plan.family,)
    if plan.background is not None:
        bg_audio = FAMILIES[plan.background].synth(rng, plan.background_params, sr, n).astype(np.float64)
        # Levels are compared while each sound is actually sounding, so a
        # short kick is not drowned by a continuous background.
        fg_level, bg_level = _active_rms(audio, sr), _active_rms(bg_audio, sr)
        if fg_level > 0 and bg_level > 0:
            audio = audio + bg_audio * (fg_level / bg_level) * 10 ** (plan.background_db / 20)
        families = (plan.family, plan.background)
    return Example(
        audio=_normalise(audio, sr), sr=sr, families=families, caption=plan.caption,
        attributes=plan.attributes, mentioned=plan.mentioned, seed=seed,
    )


def example_seed(corpus_seed: int, index: int) -> int:
    """Seed of example ``index`` in the corpus drawn with ``corpus_seed``."""
    return int(np.random.SeedSequence([corpus_seed, index]).generate_state(1)[0])


def make_corpus(
    n: int,
    seed: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
) -> Iterator[Example]:
    """Yield ``n`` examples; example ``i`` is ``make_example(example_seed(seed, i))``,
    so any slice of the corpus can be regenerated independently."""
    for i in range(n):
        yield make_example(example_seed(seed, i), sr=sr, duration_s=duration_s, mix_share=mix_share)
