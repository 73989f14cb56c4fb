"""Moved: the small CLAP audio branch and the text-to-audio prior are runtime networks and live in
:mod:`engine.nets.clap_audio`.

This alias exists only because ``tests/test_generate.py`` still imports ``TextToAudioPrior`` from
here; delete it once that import reads ``from engine.nets.clap_audio import TextToAudioPrior``.
"""

from __future__ import annotations

from ..nets.clap_audio import SmallClapAudio, TextToAudioPrior

__all__ = ["SmallClapAudio", "TextToAudioPrior"]
