"""Releasing memory-mapped weights between render stages (engine/memory.py, issue 21)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import memory
from engine.pipeline import generate_waveforms
from engine.request import RenderRequest

pytestmark = pytest.mark.skipif(not memory.supported(), reason="needs Linux /proc/self/smaps")


def _mapping_of(module):
    starts = [p.data_ptr() for p in module.parameters()]
    found = [m for m in memory.weight_mappings() if any(m.start <= p < m.end for p in starts)]
    assert len(found) == 1, found
    return found[0]


def test_a_released_component_gives_its_pages_back_and_computes_the_same(tiny_model_dir):
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_model_dir / "unet").eval()
    assert memory.mapped_bytes(unet) > 0  # diffusers maps .safetensors weights rather than copying them
    x = torch.randn(2, unet.config.in_channels, 16, 16, generator=torch.Generator().manual_seed(0))
    labels = torch.randn(2, unet.config.projection_class_embeddings_input_dim)
    with torch.inference_mode():
        before = unet(x, 10, encoder_hidden_states=None, class_labels=labels).sample
    assert _mapping_of(unet).rss_bytes > 0
    released = memory.release(unet)
    assert released > 0 and _mapping_of(unet).rss_bytes == 0
    with torch.inference_mode():
        after = unet(x, 10, encoder_hidden_states=None, class_labels=labels).sample
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert _mapping_of(unet).rss_bytes > 0  # read back in on use


def test_weights_copied_at_load_are_never_touched(tiny_model_dir):
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_model_dir / "unet").eval()
    unet.to(dtype=torch.float64)  # a copy in anonymous memory: nothing to release, nothing to lose
    assert memory.mapped_bytes(unet) == 0
    weight = next(unet.parameters()).detach().clone()
    assert memory.release(unet) == 0
    torch.testing.assert_close(next(unet.parameters()), weight, rtol=0, atol=0)


def test_the_loader_decides_by_size_and_the_environment_overrides(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(memory.ENV, raising=False)
    small = torch.nn.Linear(4, 4)
    assert memory.mapped_bytes(small) == 0  # not memory-mapped at all
    assert memory.should_release(memory.mapped_bytes(small), cpu) is False
    assert memory.should_release(memory.THRESHOLD_BYTES, cpu) is True
    assert memory.should_release(memory.THRESHOLD_BYTES, torch.device("meta")) is False
    monkeypatch.setenv(memory.ENV, "1")
    assert memory.should_release(0, cpu) is True
    monkeypatch.setenv(memory.ENV, "0")
    assert memory.should_release(memory.THRESHOLD_BYTES, cpu) is False


def test_a_render_that_releases_weights_between_stages_sounds_the_same(tiny_model_dir, models):
    model = models.get(str(tiny_model_dir))
    assert model.release_weights is False  # the tiny model is far under the threshold
    assert model.extra["tuning"]["release_weights"] is False
    req = RenderRequest(prompt="a low kick drum", duration_s=0.6, steps=3, seed=5, raw=True, model=str(tiny_model_dir))
    kept = generate_waveforms(model, req).audio[0]
    model.release_weights = True
    try:
        released = generate_waveforms(model, req).audio[0]
        again = generate_waveforms(model, req).audio[0]
    finally:
        model.release_weights = False
    np.testing.assert_array_equal(released, kept)
    np.testing.assert_array_equal(again, kept)
    assert _mapping_of(model.text_encoder).rss_bytes == 0  # handed back after the prompt was encoded
