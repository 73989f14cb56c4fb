"""What a loaded model is: :class:`LoadedModel`, the components of one model on one device.

:mod:`engine.loader` builds it (finding the folder, picking the device, loading each part);
:mod:`engine.sampling` and the modes that render with it only read it. Keeping the type here, apart
from the loader, lets the sampling code name it without importing the loader (and, through the
loader, every network a model folder may hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

#: AudioLDM was trained on 10.24 s clips; longer single renders drift, so edits window instead.
AUDIOLDM_MAX_DURATION_S = 10.24


@dataclass
class LoadedModel:
    """The components of one model, on one device, ready to sample from."""

    name: str
    folder: Path
    family: str
    device: torch.device
    dtype: torch.dtype
    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    vocoder: Any
    scheduler_config: dict[str, Any]
    #: Full CLAP model (text + audio branch) for re-ranking candidates, when one is available.
    clap: Any = None
    clap_processor: Any = None
    #: Maps CLAP text embeddings into the audio-embedding space the UNet was conditioned on
    #: (the default model's ``clap_prior/``); None samples from text embeddings directly, as AudioLDM.
    text_prior: Any = None
    max_duration_s: float = AUDIOLDM_MAX_DURATION_S
    extra: dict[str, Any] = field(default_factory=dict)
    #: Release each component's memory-mapped weights when its stage of a render is done
    #: (:mod:`engine.memory`; the loader decides).
    release_weights: bool = False
    #: How a HiFi-GAN vocoder runs (:func:`engine.tuning.choose_vocoder`): ``"planar"`` or ``"module"``.
    vocoder_layout: str = "module"

    def done_with(self, *parts: str) -> None:
        """A render needs these components no more for now: with :attr:`release_weights`, their
        memory-mapped weight pages go back to the OS (read again, from the page cache, when next used)."""
        if not self.release_weights:
            return
        from . import memory

        for name in parts:
            memory.release(getattr(self, name, None))

    def vocode(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, frames, mels) log-mel -> (B, samples) waveform through the vocoder, in its measured layout."""
        if self.vocoder_layout == "planar":
            from .nets.hifigan import planar_forward

            return planar_forward(self.vocoder, mel)
        return self.vocoder(mel)

    @property
    def sampler_defaults(self) -> dict[str, Any]:
        """Sampler settings for requests that leave them unset: the model's own (``"sampler"`` in
        ``audioldm_bridge.json``), else 20 steps at guidance 2.5, plain classifier-free guidance."""
        from .request import DEFAULT_SAMPLER

        own = {**DEFAULT_SAMPLER, **self.extra.get("sampler", {})}
        low, until = own["guidance_low"], own["guidance_until"]
        return {"steps": int(own["steps"]), "guidance_scale": float(own["guidance_scale"]),
                "guidance_low": None if low is None else float(low),
                "guidance_until": None if until is None else float(until)}

    @property
    def sample_rate(self) -> int:
        return int(self.vocoder.config.sampling_rate)

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def hop_length(self) -> int:
        rates = self.vocoder.config.upsample_rates
        out = 1
        for r in rates:
            out *= int(r)
        return out

    @property
    def mel_bins(self) -> int:
        return int(self.vocoder.config.model_in_dim)

    def parameter_counts(self) -> dict[str, int]:
        parts = {"unet": self.unet, "vae": self.vae, "text_encoder": self.text_encoder,
                 "vocoder": self.vocoder}
        if self.clap is not None:
            parts["clap"] = self.clap
        return {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
