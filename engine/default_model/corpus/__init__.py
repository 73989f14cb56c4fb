"""Captioned synthetic sound corpus for training the built-in default model.

Nothing here is stored as audio: every example is synthesised on demand from
an integer seed, so the corpus is reproducible, unlimited and tiny to ship.

How an example is made (:func:`make_example`):

1. A :class:`Family` (kick, pink noise, FM bell, ...) is drawn from
   :data:`FAMILIES`; with probability ``mix_share`` a second, background
   family is drawn as well ("a kick drum with rain in the background").
2. The family samples a parameter dict.  The dict is the single source of
   truth: the synth function turns it into audio and the caption builder turns
   the same values into words, so every attribute a caption states (pitch,
   brightness, length, envelope, rhythm, texture, noise colour, sweep
   direction, chord quality, ...) is true of the audio by construction.  The
   test-suite re-measures them with :mod:`engine.descriptors`.
3. The caption is assembled from phrase banks with several paraphrases per
   attribute value, in random order and with a random subset of the optional
   attributes, so the model sees many wordings of the same facts.
4. Audio is mean-removed and peak-normalised to 0.5, matching AudioLDM's
   front-end preprocessing.

Parameters and captions come from a random stream separate from the audio's,
so :func:`make_caption` gives an example's caption and attributes without
synthesising it.  The ``texture`` attribute is "tonal" or "noisy" only where
:func:`engine.descriptors.noisiness` agrees robustly; short chord stabs,
short low plucks, fast saw sweeps, bubbles and glitches are "mixed".

Evaluation uses :func:`held_out_prompts`: prompts whose wording is never
produced by the training captions (each contains a term from
:data:`HELD_OUT_TERMS`, which no phrase bank uses), with machine-checkable
expectations.  :func:`check_expectations` and :func:`ordering_holds` turn
those expectations into pass/fail using the DSP descriptors.

All synthesis is NumPy/SciPy, works at any sample rate, and takes a few
milliseconds per 2.56 s example.

Modules, lowest layer first (each imports only those above it):

* :mod:`.synth` - DSP primitives (oscillators, filters, noise, envelopes,
  Karplus-Strong) and the audio format (``DEFAULT_SR``, ``PEAK_LEVEL``, ...);
* :mod:`.params` - pitch vocabulary (note names, registers) and the shared
  random draws (pitch, rhythm, note shape, brightness, hit length);
* :mod:`.drums`, :mod:`.tones`, :mod:`.textures`, :mod:`.effects` - each
  family's parameter ranges, sampler and synth;
* :mod:`.phrases` - :class:`Noun`, :class:`Mention`, the phrase banks and the
  family-specific mentions;
* :mod:`.families` - :class:`Family` and the :data:`FAMILIES` registry;
* :mod:`.prompts` - held-out, unseen-vocabulary and unseen-wording evaluation prompts;
* :mod:`.augment` - caption augmentation (WordNet synonyms, numbers in words, other orders);
* :mod:`.captions` - caption building, :func:`training_phrases`,
  :func:`is_training_caption`;
* :mod:`.examples` - :class:`Example`, :func:`make_example`,
  :func:`make_caption`, :func:`caption_variants`, :func:`make_corpus`;
* :mod:`.checks` - :func:`check_expectations`, :data:`ORDERINGS`,
  :func:`ordering_holds`.

This package re-exports the public names (and the few private tables the tests
read), so ``from engine.default_model import corpus; corpus.make_example(...)``
keeps working.
"""

from __future__ import annotations

from .captions import is_training_caption, training_phrases
from .checks import ORDERINGS, check_expectations, ordering_holds
from .drums import _TOM_REGISTERS
from .examples import (
    ATTRIBUTE_KEYS, Example, caption_variants, example_seed, make_caption, make_corpus, make_example,
    synthesize,
)
from .families import BACKGROUND_FAMILIES, FAMILIES, FOREGROUND_FAMILIES, Family
from .params import COMMON_HZ, NOTE_NAMES, TONE_REGISTERS, hz_to_midi, midi_to_hz, note_name
from .phrases import _BACKGROUND_PHRASES, Mention, Noun, Phrases
from .prompts import HELD_OUT_TERMS, held_out_prompts, unseen_vocabulary_prompts, unseen_wording_prompts
from .synth import DEFAULT_DURATION_S, DEFAULT_MIX_SHARE, DEFAULT_SR, PEAK_LEVEL

__all__ = [
    "Example",
    "Family",
    "Noun",
    "FAMILIES",
    "BACKGROUND_FAMILIES",
    "FOREGROUND_FAMILIES",
    "HELD_OUT_TERMS",
    "make_example",
    "make_caption",
    "make_corpus",
    "example_seed",
    "synthesize",
    "held_out_prompts",
    "unseen_vocabulary_prompts",
    "unseen_wording_prompts",
    "is_training_caption",
    "training_phrases",
    "check_expectations",
    "ordering_holds",
    "ORDERINGS",
    "midi_to_hz",
    "note_name",
]
