"""Behaviour of the real built-in default model (trained here, shipped in the package)."""

from __future__ import annotations

import numpy as np
import pytest

from engine import descriptors as D
from engine import loader, paths
from engine.griffinlim import GriffinLimVocoder
from engine.pipeline import generate_waveforms
from engine.request import RenderRequest

pytestmark = pytest.mark.skipif(not (paths.default_model_dir() / "model_index.json").is_file(),
                                reason="the trained default model is not bundled in this checkout")
SR = 16000


@pytest.fixture(scope="module")
def model():
    return loader.load("builtin:default", device="cpu")


def render(model, prompt, seed=0, duration=2.56):
    req = RenderRequest(prompt=prompt, duration_s=duration, seed=seed, raw=True, guidance_scale=3.0)
    return generate_waveforms(model, req).audio[0]


def test_loads_through_the_checkpoint_code_path(model):
    assert model.family == "audioldm" and model.name == "builtin:default"
    assert isinstance(model.vocoder, GriffinLimVocoder)
    assert model.clap is not None  # its small CLAP audio branch re-ranks candidates
    size = sum(f.stat().st_size for f in paths.default_model_dir().rglob("*") if f.is_file())
    assert size < 30e6


def test_low_prompts_are_lower_than_high_prompts(model):
    for seed in (0, 1):
        low = render(model, "a low-pitched sine tone held steadily", seed)
        high = render(model, "a high-pitched sine tone held steadily", seed)
        assert D.spectral_centroid_hz(low, SR) < D.spectral_centroid_hz(high, SR)


def test_noise_is_noisier_than_a_tone(model):
    for seed in (0, 1):
        noise = render(model, "constant white noise static", seed)
        tone = render(model, "a clean pure sine tone", seed)
        assert D.noisiness(noise, SR) > D.noisiness(tone, SR)


def test_a_kick_is_percussive_and_a_pad_is_sustained(model):
    for seed in (0, 1):
        kick = render(model, "a kick drum played once", seed)
        pad = render(model, "a major pad held for a long time", seed)
        assert D.effective_duration_s(kick, SR) < D.effective_duration_s(pad, SR)


def test_lengths_from_half_a_second_to_ten(model):
    for duration in (0.5, 10.0):
        audio = render(model, "rain", 0, duration)
        assert audio.shape == (round(duration * SR),) and np.all(np.isfinite(audio)) and np.std(audio) > 0
