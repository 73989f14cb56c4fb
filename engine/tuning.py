"""Per-model speed choices, measured on this machine rather than assumed (issue 21, item 1).

The UNet's memory format is the first: channels-last helps the small built-in UNet on the CPU
(oneDNN skips a reorder per convolution: 0.94 s instead of 1.03-1.07 s per render) but slowed the
full-size AudioLDM-S UNet step by 13 % (2.20 s against 1.94 s, batch 2, 10.24 s latent). So at the
first CPU load of a model, :func:`choose_memory_format` times a guided UNet step both ways
(interleaved, best of ``reps``) and keeps the faster; the figures are stored in
``<cache>/tuning.json`` under the model folder, torch version and thread count, so later loads
reuse them at no cost. ``AUDIOLDM_BRIDGE_MEMORY_FORMAT=channels_last|contiguous`` overrides.
The choice and its figures are reported by ``models info`` and in each clip's provenance.

The VAE's memory format is chosen the same way (:func:`measure_vae`; channels-last decodes
AudioLDM-S's 10.24 s latent in 2.18 s against 2.36 s), and so is the UNet's attention
implementation (:func:`choose_attention`: PyTorch's scaled-dot-product attention against diffusers'
plain processor; AudioLDM-S, batch 2, 10.24 s: 0.77 s against 1.12 s per step). The thread count is
torch's (all cores): on the 2-core CPU one thread took 1.46 s for that step, so it is recorded
(``threads``) rather than searched.

The HiFi-GAN vocoder's layout is measured too (:func:`choose_vocoder`): transformers' 1-D
convolutions against the same maths on planar channels-last tensors (:mod:`engine.nets.hifigan`);
AudioLDM-S's vocoder on 10.24 s took 3.45-3.83 s as it is and 2.83-2.87 s planar.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch

from . import paths
from .errors import BridgeError

FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
ENV = "AUDIOLDM_BRIDGE_MEMORY_FORMAT"
#: The latent of a 2.56 s clip at AudioLDM's 25 latent frames per second (the audition length).
CALIBRATION_FRAMES = 64


def _store() -> Path:
    return paths.cache_dir() / "tuning.json"


def _key(folder: Path, device: torch.device) -> str:
    return f"{Path(folder).resolve()}|{device.type}|torch {torch.__version__}|{torch.get_num_threads()} threads"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # missing or damaged: measure again (it is only a cache)


def _write(path: Path, data: dict) -> None:
    # Models that are gone (deleted folders, test models in temp folders) are forgotten.
    data = {k: v for k, v in data.items() if Path(k.split("|", 1)[0]).exists()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _step_inputs(unet, width: int, device: torch.device, dtype: torch.dtype):
    cfg = unet.config
    g = torch.Generator().manual_seed(0)  # its own stream: loading a model leaves torch's global RNG alone
    x = torch.randn(2, int(cfg.in_channels), CALIBRATION_FRAMES, width, generator=g).to(device, dtype)
    labels = None
    dim = getattr(cfg, "projection_class_embeddings_input_dim", None)
    if getattr(cfg, "class_embed_type", None) is not None and dim:
        labels = torch.randn(2, int(dim), generator=g).to(device, dtype)
    return x, labels


def measure(unet, width: int, device: torch.device, dtype: torch.dtype, reps: int = 2,
            timer: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Seconds per guided UNet step (batch 2, a 2.56 s latent) in each memory format, best of ``reps``
    after one warm-up each, the formats interleaved so that load drift hits both alike."""
    x, labels = _step_inputs(unet, width, device, dtype)
    t = torch.tensor(500, device=device)
    variants = {name: (lambda fmt=fmt: unet.to(memory_format=fmt),
                       lambda fmt=fmt: unet(x.contiguous(memory_format=fmt), t, encoder_hidden_states=None,
                                            class_labels=labels))
                for name, fmt in FORMATS.items()}
    return _interleaved_best(variants, reps, timer)


def _interleaved_best(variants: dict[str, tuple[Callable[[], Any], Callable[[], Any]]], reps: int,
                      timer: Callable[[], float]) -> dict[str, float]:
    """Seconds of each variant's run (``(setup, run)``; the setup is not timed), best of ``reps``
    rounds after a warm-up round, the variants interleaved so that load drift hits all alike."""
    best = {name: float("inf") for name in variants}
    with torch.inference_mode():
        for rep in range(reps + 1):
            for name, (setup, run) in variants.items():
                setup()
                start = timer()
                run()
                if rep:  # the first round warms up every variant
                    best[name] = min(best[name], timer() - start)
    return best


def measure_vae(vae, width: int, device: torch.device, dtype: torch.dtype, reps: int = 2,
                timer: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Seconds per VAE decode of a 2.56 s latent in each memory format, as :func:`measure`."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1, int(vae.config.latent_channels), CALIBRATION_FRAMES, width, generator=g).to(device, dtype)
    variants = {name: (lambda fmt=fmt: vae.to(memory_format=fmt),
                       lambda fmt=fmt: vae.decode(z.contiguous(memory_format=fmt)))
                for name, fmt in FORMATS.items()}
    return _interleaved_best(variants, reps, timer)


def _stored_or_measured(key: str, field: str, choices, measure_once: Callable[[], dict[str, float]]):
    """``(entry, "stored"|"measured")``: the choice stored under ``key`` when it names one of
    ``choices``, else measured now (the fastest of ``measure_once()``'s seconds) and stored."""
    store = _store()
    data = _read(store)
    entry = data.get(key)
    if isinstance(entry, dict) and entry.get(field) in choices:
        return entry, "stored"
    step_s = measure_once()
    entry = {field: min(step_s, key=step_s.get), "step_s": step_s}
    data[key] = entry
    try:
        _write(store, data)
    except OSError:
        pass  # a read-only cache measures again next time; the choice still stands
    return entry, "measured"


def choose_memory_format(unet, width: int, folder: Path, device: torch.device, dtype: torch.dtype,
                         measure_fn: Callable[..., dict[str, float]] = measure, part: str = "unet") -> dict[str, Any]:
    """Put ``unet`` (or, with ``part="vae"``, the VAE measured by :func:`measure_vae`) in the memory
    format that measured faster for this model here (``width``: the latent's mel width, mel bins /
    VAE factor); returns ``{"memory_format", "source": "override"|"stored"|"measured"|"default", "step_s"}``."""
    forced = os.environ.get(ENV, "").strip()
    if forced:
        if forced not in FORMATS:
            raise BridgeError(f"{ENV}={forced!r} is not a memory format; use one of {', '.join(FORMATS)} "
                              f"or unset it to let the engine measure")
        unet.to(memory_format=FORMATS[forced])
        return {"memory_format": forced, "source": "override", "step_s": None}
    if device.type != "cpu":  # cuDNN picks its own layouts; nothing measured to go on
        return {"memory_format": "contiguous", "source": "default", "step_s": None}
    key = _key(folder, device) + ("" if part == "unet" else f"|{part}")
    try:
        entry, source = _stored_or_measured(key, "memory_format", FORMATS,
                                            lambda: measure_fn(unet, width, device, dtype))
    except (RuntimeError, ValueError, TypeError) as exc:  # an unusual UNet: render as it is
        unet.to(memory_format=torch.contiguous_format)
        return {"memory_format": "contiguous", "source": f"default (not measured: {exc})", "step_s": None}
    unet.to(memory_format=FORMATS[entry["memory_format"]])
    return {"memory_format": entry["memory_format"], "source": source, "step_s": entry.get("step_s")}


def _processors():
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    return {"sdpa": AttnProcessor2_0, "default": AttnProcessor}


def measure_attention(unet, width: int, device: torch.device, dtype: torch.dtype, reps: int = 2,
                      timer: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Seconds per guided UNet step with each attention implementation (PyTorch's
    scaled-dot-product attention, diffusers' default since torch 2, against the plain processor)."""
    x, labels = _step_inputs(unet, width, device, dtype)
    x = x.contiguous(memory_format=torch.channels_last) if _is_channels_last(unet) else x
    t = torch.tensor(500, device=device)
    variants = {name: (lambda proc=proc: unet.set_attn_processor(proc()),
                       lambda: unet(x, t, encoder_hidden_states=None, class_labels=labels))
                for name, proc in _processors().items()}
    return _interleaved_best(variants, reps, timer)


def _is_channels_last(module) -> bool:
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1 and m.kernel_size != (1, 1):
            return m.weight.is_contiguous(memory_format=torch.channels_last) and not m.weight.is_contiguous()
    return False


def choose_attention(unet, width: int, folder: Path, device: torch.device, dtype: torch.dtype,
                     measure_fn: Callable[..., dict[str, float]] = measure_attention) -> dict[str, Any]:
    """Give ``unet`` the attention implementation that measured faster for this model here
    (stored like the memory format); a UNet without attention layers keeps what it has."""
    if not getattr(unet, "attn_processors", None):
        return {"attention": "none", "source": "no attention layers", "step_s": None}
    if device.type != "cpu":
        unet.set_attn_processor(_processors()["sdpa"]())
        return {"attention": "sdpa", "source": "default", "step_s": None}
    try:
        entry, source = _stored_or_measured(_key(folder, device) + "|attention", "attention", _processors(),
                                            lambda: measure_fn(unet, width, device, dtype))
    except (RuntimeError, ValueError, TypeError) as exc:
        unet.set_attn_processor(_processors()["sdpa"]())
        return {"attention": "sdpa", "source": f"default (not measured: {exc})", "step_s": None}
    unet.set_attn_processor(_processors()[entry["attention"]]())
    return {"attention": entry["attention"], "source": source, "step_s": entry.get("step_s")}


#: How the HiFi-GAN vocoder runs: ``planar`` (:func:`engine.nets.hifigan.planar_forward`) or
#: ``module`` (transformers' own forward).
VOCODER_LAYOUTS = ("planar", "module")
#: Mel frames of a 2.56 s clip at AudioLDM's 100 frames per second.
VOCODER_CALIBRATION_FRAMES = 256


def _vocoder_runs(vocoder) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    from .nets.hifigan import planar_forward

    return {"planar": lambda mel: planar_forward(vocoder, mel), "module": vocoder}


def measure_vocoder(vocoder, n_mels: int, device: torch.device, dtype: torch.dtype, reps: int = 1,
                    timer: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Seconds to vocode a 2.56 s mel in each layout, as :func:`measure`."""
    g = torch.Generator().manual_seed(0)
    mel = torch.randn(1, VOCODER_CALIBRATION_FRAMES, n_mels, generator=g).to(device, dtype)
    return _interleaved_best({name: (lambda: None, lambda run=run: run(mel))
                              for name, run in _vocoder_runs(vocoder).items()}, reps, timer)


def choose_vocoder(vocoder, n_mels: int, folder: Path, device: torch.device, dtype: torch.dtype,
                   measure_fn: Callable[..., dict[str, float]] = measure_vocoder) -> dict[str, Any]:
    """The layout a HiFi-GAN vocoder runs in, measured for this model here and stored like the
    memory format: ``{"vocoder_layout", "source", "step_s"}``. Other vocoders (the default model's
    Griffin-Lim) run as they are."""
    from transformers import SpeechT5HifiGan

    if not isinstance(vocoder, SpeechT5HifiGan):
        return {"vocoder_layout": "module", "source": "not a HiFi-GAN", "step_s": None}
    if device.type != "cpu":  # cuDNN's 1-D kernels are not oneDNN's; nothing measured to go on
        return {"vocoder_layout": "module", "source": "default", "step_s": None}
    try:
        entry, source = _stored_or_measured(_key(folder, device) + "|vocoder", "vocoder_layout",
                                            VOCODER_LAYOUTS, lambda: measure_fn(vocoder, n_mels, device, dtype))
    except (RuntimeError, ValueError, TypeError, AttributeError) as exc:  # an unusual vocoder
        return {"vocoder_layout": "module", "source": f"default (not measured: {exc})", "step_s": None}
    return {"vocoder_layout": entry["vocoder_layout"], "source": source, "step_s": entry.get("step_s")}
