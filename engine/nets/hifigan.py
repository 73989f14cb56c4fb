"""HiFi-GAN (transformers' ``SpeechT5HifiGan``, AudioLDM's vocoder) computed on planar tensors.

The same maths as ``SpeechT5HifiGan.forward`` on the same weights, but every 1-D convolution runs
as a 2-D one over ``(batch, channels, 1, samples)`` in the channels-last layout. oneDNN's 1-D
(NCW) kernels are slow on the long, narrow tensors of the last upsampling stages: on the 2-core CPU
a 32-channel, kernel-11 convolution over 163840 samples took 24.6 ms as ``conv1d`` and 11.6 ms
planar channels-last; 256 channels over 20480 samples 69.6 against 44.0 ms. The weights are read
as views (no copy is kept), so the vocoder's memory-mapped weights can still be released after a
render. Whether it is faster for a given model on a given machine is measured at load
(:mod:`engine.tuning`), not assumed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_CL = torch.channels_last


def _conv(x: torch.Tensor, conv: torch.nn.Conv1d) -> torch.Tensor:
    return F.conv2d(x, conv.weight.unsqueeze(2), conv.bias, stride=(1, conv.stride[0]),
                    padding=(0, conv.padding[0]), dilation=(1, conv.dilation[0]), groups=conv.groups)


def _conv_transpose(x: torch.Tensor, conv: torch.nn.ConvTranspose1d) -> torch.Tensor:
    return F.conv_transpose2d(x, conv.weight.unsqueeze(2), conv.bias, stride=(1, conv.stride[0]),
                              padding=(0, conv.padding[0]), output_padding=(0, conv.output_padding[0]),
                              groups=conv.groups, dilation=(1, conv.dilation[0]))


def _resblock(x: torch.Tensor, block) -> torch.Tensor:
    slope = block.leaky_relu_slope
    for conv1, conv2 in zip(block.convs1, block.convs2):
        h = _conv(F.leaky_relu(x, slope), conv1)
        h = _conv(F.leaky_relu_(h, slope), conv2)  # in place: fresh tensors, nothing else holds them
        x = h.add_(x)
    return x


def planar_forward(vocoder, spectrogram: torch.Tensor) -> torch.Tensor:
    """``vocoder(spectrogram)`` for a ``SpeechT5HifiGan``: (B, frames, mels) or (frames, mels)
    log-mel -> (B, samples) or (samples,) waveform."""
    cfg = vocoder.config
    if cfg.normalize_before:
        spectrogram = (spectrogram - vocoder.mean) / vocoder.scale
    batched = spectrogram.dim() == 3
    if not batched:
        spectrogram = spectrogram.unsqueeze(0)
    x = spectrogram.transpose(2, 1).unsqueeze(2).contiguous(memory_format=_CL)
    x = _conv(x, vocoder.conv_pre)
    k = vocoder.num_kernels
    for i in range(vocoder.num_upsamples):
        x = _conv_transpose(F.leaky_relu(x, cfg.leaky_relu_slope), vocoder.upsampler[i])
        res = _resblock(x, vocoder.resblocks[i * k])
        for j in range(1, k):
            res.add_(_resblock(x, vocoder.resblocks[i * k + j]))
        x = res.div_(k)
    x = torch.tanh_(_conv(F.leaky_relu_(x), vocoder.conv_post))  # transformers: default slope here
    wav = x[:, 0, 0, :].contiguous()
    return wav if batched else wav[0]
