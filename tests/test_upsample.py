"""2x nearest upsampling + 3x3 convolution as four 2x2 convolutions (engine.nets.upsample, issue 21)."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.upsampling import Upsample2D

from engine.nets import upsample


def _block(channels: int, out: int, bias: bool = True) -> Upsample2D:
    torch.manual_seed(channels + out)
    block = Upsample2D(channels, use_conv=True, out_channels=out, bias=bias).eval()
    with torch.no_grad():
        block.conv.weight.normal_(0, 0.05)
    return block


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("bias", [True, False])
def test_the_phases_compute_what_diffusers_does(layout, bias):
    block = _block(16, 24, bias).to(memory_format=layout)
    assert upsample.install(block) == 1
    g = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for shape in ((2, 16, 5, 3), (1, 16, 1, 1), (1, 16, 8, 16)):
            x = torch.randn(*shape, generator=g).contiguous(memory_format=layout)
            ref, ours = Upsample2D.forward(block, x), block(x)
            assert ours.shape == ref.shape == (shape[0], 24, 2 * shape[2], 2 * shape[3])
            assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max()
            assert ours.is_contiguous(memory_format=layout)  # the layout the next block expects
            same_size = block(x, output_size=(2 * shape[2], 2 * shape[3]))  # an explicit 2x is still 2x
            assert (same_size - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_what_it_does_not_cover_runs_diffusers_forward():
    block = _block(8, 8)
    upsample.install(block)
    x = torch.randn(1, 8, 4, 3)
    with torch.inference_mode():
        odd = block(x, output_size=(9, 6))  # a UNet up block asking for an odd size
        assert torch.equal(odd, Upsample2D.forward(block, x, output_size=(9, 6)))
    trained = block(x)  # gradients on: diffusers' graph, exactly
    assert torch.equal(trained, Upsample2D.forward(block, x)) and trained.requires_grad
    assert upsample.uninstall(block) == 1 and "forward" not in vars(block)
    assert not upsample.covers(Upsample2D(8, use_conv=False)) and upsample.install(Upsample2D(8, use_conv=False)) == 0


def test_a_loaded_model_computes_with_it_on_the_cpu(tiny_model_dir):
    from engine import loader

    model = loader.load(str(tiny_model_dir), device="cpu")
    blocks = [b for m in (model.unet, model.vae) for b in m.modules() if isinstance(b, Upsample2D)]
    assert blocks and model.extra["tuning"]["polyphase_upsamplers"] == len(blocks)
    assert all("_phase_kernels" in vars(b) for b in blocks)
