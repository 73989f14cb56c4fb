"""The default model's small CLAP beyond its text encoder: the audio branch and a text-to-audio prior.

:class:`SmallClapAudio`: the real CLAP audio branch (HTSAT) is far too large to train on this
project's CPU; this CNN reads the same 64-bin log-mel the rest of the model uses, so it needs no
second front end. It is trained contrastively with the CLAP text encoder
(``ClapTextModelWithProjection``) and re-ranks candidates (:meth:`SmallClapAudio.score`, against text
embeddings the caller computes) exactly like a full CLAP model.

:class:`TextToAudioPrior`: the UNet is conditioned on CLAP *audio* embeddings (as AudioLDM) and
sampled from text. The small CLAP leaves a wide gap between the two (cosine 0.6 between "constant
pink noise hiss" and the mean embedding of pink-noise clips), and the UNet renders what lies across
it: conditioned on that text, pink noise came out at -0.8 dB/octave, on the audio mean at -2.6 (pink
is -3). The
prior maps a text embedding to the expected audio embedding of its caption (DALL-E 2's "prior",
here a residual MLP regressed with a cosine loss), so sampling sees what training saw.

Both are runtime networks of the default model, loaded by :mod:`engine.loader` from ``clap_audio/`` and
``clap_prior/``; they are trained by :mod:`engine.default_model.train`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class _SmallModule(nn.Module):
    """``save_pretrained`` / ``from_pretrained`` for a small module whose ``config`` dict is its
    constructor's arguments: ``config.json`` + fp16 ``model.safetensors``."""

    config: dict

    def save_pretrained(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_NAME).write_text(json.dumps(self.config, indent=2))
        save_file({k: v.detach().half().contiguous() for k, v in self.state_dict().items()},
                  str(folder / WEIGHTS_NAME))

    @classmethod
    def from_pretrained(cls, folder: str | Path):
        from safetensors.torch import load_file

        folder = Path(folder)
        model = cls(**json.loads((folder / CONFIG_NAME).read_text()))
        model.load_state_dict({k: v.float() for k, v in load_file(str(folder / WEIGHTS_NAME)).items()})
        return model.eval()


class SmallClapAudio(_SmallModule):
    def __init__(self, projection_dim: int = 128, channels: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        self.config = {"projection_dim": projection_dim, "channels": list(channels)}
        layers: list[nn.Module] = []
        c_in = 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.SiLU(),
                       nn.Conv2d(c, c, 3, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(2 * c_in, 256), nn.SiLU(), nn.Linear(256, projection_dim))

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(B, T, 64) log-mel -> (B, D) L2-normalised audio embedding."""
        # Centre the log-mel roughly (silence is log(1e-5) = -11.5) so the first conv starts sane.
        h = self.body(((log_mel + 5.0) / 4.0)[:, None])
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return F.normalize(self.head(pooled), dim=-1)

    # ------------------------------------------------------------------ re-ranking
    @torch.inference_mode()
    def score(self, waveforms: np.ndarray, text_embeds: torch.Tensor) -> np.ndarray:
        """(B, N) 16 kHz waveforms and (T, D) CLAP text embeddings -> (B, T) cosine similarities.

        The caller computes the text embeddings (:func:`engine.sampling.clap_scores` uses the model's
        CLAP text encoder and prior, :func:`engine.sampling.encode_text`); this branch embeds the audio
        on its own log-mel front end and compares."""
        from ..frontend import log_mel, preprocess_waveform

        wav = torch.from_numpy(preprocess_waveform(np.asarray(waveforms, dtype=np.float32)))
        device = next(self.parameters()).device
        audio = self(log_mel(wav.to(device)))
        text = text_embeds.float().to(device)
        return (audio @ F.normalize(text, dim=-1).T).cpu().numpy()


class TextToAudioPrior(_SmallModule):
    """(B, D) L2-normalised CLAP text embedding -> (B, D) L2-normalised expected audio embedding.

    ``normalize(t + MLP(t))``; the MLP's last layer starts at zero, so an untrained prior is the
    identity (sampling from the text embedding itself, as AudioLDM).
    """

    def __init__(self, dim: int = 128, hidden: int = 512) -> None:
        super().__init__()
        self.config = {"dim": dim, "hidden": hidden}
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, text_embeds: torch.Tensor) -> torch.Tensor:
        return F.normalize(text_embeds + self.mlp(text_embeds), dim=-1)
