"""Our engine against diffusers' deprecated AudioLDMPipeline, on the same tiny random weights.

The deprecated class is used only here (and in the benchmark), as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import loader
from engine.pipeline import generate_waveforms
from engine.nets import upsample
from engine.request import RenderRequest
from engine.tuning import VOCODER_LAYOUTS


def reference_pipeline(model):
    from diffusers import DDIMScheduler
    from diffusers.pipelines.deprecated.audioldm import AudioLDMPipeline

    return AudioLDMPipeline(vae=model.vae, text_encoder=model.text_encoder, tokenizer=model.tokenizer,
                            unet=model.unet, scheduler=DDIMScheduler.from_config(model.scheduler_config),
                            vocoder=model.vocoder).to("cpu")


CASES = [
    # (model fixture, prompt, negative, duration needing rounding, steps, guidance, seed)
    ("tiny_model_dir", "a low kick drum", "", 1.0, 3, 2.5, 0),
    ("tiny_model_dir", "rain on a tin roof", "hum", 1.23, 4, 3.0, 7),
    ("tiny3_model_dir", "a rising sweep", "", 0.77, 3, 2.5, 42),
    ("tiny3_model_dir", "white noise", "", 2.5, 2, 1.0, 3),  # guidance 1: no CFG branch
]


@pytest.mark.parametrize("fixture,prompt,negative,duration,steps,guidance,seed", CASES)
def test_ddim_raw_matches_diffusers_reference(request, fixture, prompt, negative, duration, steps, guidance, seed):
    model = loader.load(str(request.getfixturevalue(fixture)), device="cpu")
    req = RenderRequest(prompt=prompt, negative_prompt=negative, duration_s=duration, steps=steps,
                        guidance_scale=guidance, seed=seed, scheduler="ddim", raw=True)
    # Both vocoder layouts the loader may measure faster (engine.tuning.choose_vocoder) match diffusers.
    by_layout = {}
    for layout in VOCODER_LAYOUTS:
        model.vocoder_layout = layout
        by_layout[layout] = generate_waveforms(model, req).audio[0]

    assert model.device.type != "cpu" or model.extra["tuning"]["polyphase_upsamplers"] > 0
    upsample.uninstall(model.unet)  # the reference runs diffusers' own blocks
    upsample.uninstall(model.vae)
    pipe = reference_pipeline(model)
    ref = pipe(prompt, audio_length_in_s=duration, num_inference_steps=steps, guidance_scale=guidance,
               negative_prompt=negative or None, generator=torch.Generator("cpu").manual_seed(seed)).audios[0]

    peak = np.max(np.abs(ref))
    assert peak > 0
    for ours in by_layout.values():
        assert ours.dtype == np.float32
        assert ours.shape == ref.shape == (int(round(duration * 16000)),)
        assert np.max(np.abs(ours - ref)) <= 1e-4 * peak


def test_different_seed_gives_different_audio(tiny_model_dir):
    model = loader.load(str(tiny_model_dir), device="cpu")
    a = generate_waveforms(model, RenderRequest(prompt="x", duration_s=0.5, steps=2, seed=1, raw=True)).audio[0]
    b = generate_waveforms(model, RenderRequest(prompt="x", duration_s=0.5, steps=2, seed=2, raw=True)).audio[0]
    assert np.max(np.abs(a - b)) > 0.05 * np.max(np.abs(a))
