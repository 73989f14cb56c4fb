"""A learned mel -> linear magnitude inversion for the default model's Griffin-Lim vocoder.

Griffin-Lim itself is not what loses attributes: on 184 corpus attributes, the clips' true STFT
magnitude through the same 16 Griffin-Lim iterations passes every check the original audio passes
(85.3 %), and the magnitude estimated from the mel by non-negative least squares passes 79.9 %. The
loss is the mel -> magnitude step: below about 600 Hz one mel band spans three or more FFT bins, so
a low hum, a chord's lower notes and a rumble all look alike band by band. Across neighbouring bands
and frames they do not (a rumble flickers and covers every low band, a chord's partials sit on a
comb), and a network that has heard the corpus can tell them apart where a per-frame least-squares
fit cannot.

:class:`MelInverter` is that network: 1-D convolutions over time with the 64 mel bands as channels
(as Tacotron's post-net), predicting the log magnitude of the 513 STFT bins as a residual over a
fixed interpolation of the mel onto the linear axis. Its output layer starts at zero, so an
untrained inverter returns that interpolation (exact for a flat spectrum). It is trained on corpus
clips (stage ``vocoder`` of :mod:`engine.default_model.train`), L1 on log magnitude plus spectral
convergence, and saved as ``mel_inverter/`` in the model folder; :mod:`engine.loader` loads it and
:class:`engine.griffinlim.GriffinLimVocoder` uses it in place of least squares when the folder is there.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import frontend
from .clap_audio import _SmallModule

N_BINS = frontend.N_FFT // 2 + 1


def interpolation_matrix() -> np.ndarray:
    """(513, 64): linear magnitude of each FFT bin from the linear mel bands, each band divided by its
    filter's area and shared among the bins it covers in proportion to its weight there. A flat
    magnitude spectrum comes back exactly."""
    basis = frontend.mel_basis().astype(np.float64)  # (64, 513)
    area = basis.sum(axis=1, keepdims=True)
    coverage = basis.sum(axis=0, keepdims=True)
    share = np.divide(basis, coverage, out=np.zeros_like(basis), where=coverage > 1e-12)
    return (share / np.maximum(area, 1e-12)).T


class MelInverter(_SmallModule):
    """(B, T, 64) natural-log mel -> (B, 513, T) natural-log STFT magnitude."""

    def __init__(self, channels: int = 256, blocks: int = 6) -> None:
        super().__init__()
        self.config = {"channels": channels, "blocks": blocks}
        self.register_buffer("interp", torch.from_numpy(interpolation_matrix().astype(np.float32)),
                             persistent=False)
        self.inp = nn.Conv1d(frontend.N_MELS, channels, 5, padding=2)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LeakyReLU(0.1), nn.Conv1d(channels, channels, 3, dilation=d, padding=d),
                          nn.LeakyReLU(0.1), nn.Conv1d(channels, channels, 1))
            for d in ((1, 2, 4)[i % 3] for i in range(blocks)))
        self.out = nn.Conv1d(channels, N_BINS, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = log_mel.transpose(1, 2)
        base = torch.log((self.interp @ torch.exp(x)).clamp(min=frontend.LOG_FLOOR))
        h = self.inp((x + 5.0) / 4.0)  # silence is log(1e-5) = -11.5; loud bands near 0
        for block in self.blocks:
            h = h + block(h)
        return base + self.out(F.leaky_relu(h, 0.1))


def log_magnitude(wav: torch.Tensor) -> torch.Tensor:
    """(B, N) 16 kHz waveform -> (B, 513, frames) natural-log STFT magnitude, framed exactly as
    :func:`engine.frontend.log_mel` (so frame t of both describe the same samples)."""
    return torch.log(frontend.stft_magnitude(wav).clamp(min=frontend.LOG_FLOOR))


def inversion_loss(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, log-magnitude L1, spectral convergence) between predicted and true log magnitudes."""
    l1 = (pred - target).abs().mean()
    p, t = torch.exp(pred).flatten(1), torch.exp(target).flatten(1)
    sc = (torch.linalg.norm(p - t, dim=1) / torch.linalg.norm(t, dim=1).clamp(min=1e-8)).mean()
    return l1 + sc, l1, sc
