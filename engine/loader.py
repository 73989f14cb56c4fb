"""Finding and loading models: diffusers-format folders, hub ids and built-in models.

A model is named by one string:

* a folder holding a diffusers-format pipeline (``model_index.json`` plus component subfolders),
* a hub id such as ``cvssp/audioldm-s-full-v2``, looked up in the local Hugging Face cache
  (``HF_HOME`` is honoured); rendering never downloads, ``audioldm-bridge models pull ID`` does,
* ``builtin:NAME``: ``builtin:default`` (our trained default model, shipped in the package) or
  ``builtin:random-tiny`` (tiny random weights the code builds, for plumbing only).

Families: the folder's ``model_index.json`` names its pipeline class; :data:`FAMILIES` maps that to
a loader. AudioLDM is the only family today; an AudioLDM 2 loader can register its class name
(``AudioLDM2Pipeline``) and return the same :class:`~engine.model.LoadedModel` shape without touching
callers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

import torch

from . import memory, paths, tuning
from .errors import ModelNotAvailable
# LoadedModel lives in engine/model.py (sampling imports it from there, not from here); re-exported
# so `from engine.loader import LoadedModel` keeps working.
from .model import AUDIOLDM_MAX_DURATION_S, LoadedModel

log = logging.getLogger(__name__)

from .catalog import BUILTIN_PREFIX, DEFAULT_MODEL, KNOWN_HUB_MODELS  # noqa: F401 (re-exported)


# --------------------------------------------------------------------------- devices

def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; any other torch device string (``cpu``,
    ``cuda``, ``cuda:1``, ``mps``) is used as given, with a clear error when that device is absent.
    The one device picker: rendering, the service and training (:mod:`engine.default_model.train`)
    all use it."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(preference)
    except RuntimeError as exc:
        raise ModelNotAvailable(f"unknown device {preference!r}; use auto, cpu, cuda or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelNotAvailable("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelNotAvailable("device mps was asked for but Apple MPS is not available; use --device cpu")
    return device


def pick_dtype(device: torch.device, preference: str = "auto") -> torch.dtype:
    """CUDA: float16 (output is upcast to float32); MPS and CPU: float32 (MPS has no float64)."""
    if preference == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if preference not in table:
        raise ModelNotAvailable(f"unknown dtype {preference!r}; use auto, float32, float16 or bfloat16")
    return table[preference]


# --------------------------------------------------------------------------- resolving names

def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _not_on_disk(name: str, why: str = "") -> ModelNotAvailable:
    where = os.environ.get("HF_HOME") or "~/.cache/huggingface"
    text = (f"model '{name}' is not on this machine{(' (' + why + ')') if why else ''}. "
            f"Fetch it once with: audioldm-bridge models pull {name}  (needs network; stored under "
            f"{where}), or pass --model /path/to/a/diffusers/folder")
    return ModelNotAvailable(text)


def resolve(name: str | None) -> Path:
    """Turn a model name into a folder on disk, or raise :class:`ModelNotAvailable` with advice."""
    name = name or DEFAULT_MODEL
    if name.startswith(BUILTIN_PREFIX):
        return _resolve_builtin(name[len(BUILTIN_PREFIX):])
    path = Path(name).expanduser()
    looks_like_path = name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1
    if path.exists() or looks_like_path:
        if not path.is_dir():
            raise ModelNotAvailable(f"model folder '{name}' does not exist")
        if not (path / "model_index.json").is_file():
            raise ModelNotAvailable(
                f"'{name}' is not a diffusers-format model folder (no model_index.json in it)"
            )
        return path
    if name.count("/") != 1:
        raise ModelNotAvailable(
            f"'{name}' is neither a model folder nor a hub id like cvssp/audioldm-s-full-v2; "
            f"see: audioldm-bridge models list"
        )
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(name, local_files_only=True))
    except Exception as exc:  # LocalEntryNotFoundError, corrupted cache...
        raise _not_on_disk(name, "offline mode" if hub_offline() else "") from exc
    if not (folder / "model_index.json").is_file():
        raise _not_on_disk(name, "the cached copy is incomplete")
    return folder


def pull(name: str, progress: bool = True) -> Path:
    """Download a hub model into the Hugging Face cache (the only place that downloads)."""
    if hub_offline():
        raise ModelNotAvailable(
            f"cannot pull '{name}': HF_HUB_OFFLINE is set. Unset it on a machine with network, or copy "
            f"a diffusers-format folder here and pass --model /path/to/it"
        )
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(name, allow_patterns=["*.json", "*.txt", "*.safetensors",
                                                             "*.model", "merges.txt", "vocab.json"]))
    except Exception as exc:
        raise ModelNotAvailable(
            f"could not download '{name}' ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            f"Check the network and the id (see: audioldm-bridge models list)"
        ) from exc
    return folder


def _resolve_builtin(short: str) -> Path:
    if short == "default":
        folder = paths.default_model_dir()
        if not (folder / "model_index.json").is_file():
            raise ModelNotAvailable(
                "the built-in default model is not bundled in this build yet. Use "
                "--model builtin:random-tiny (random weights: plumbing only, the sound is noise) or a "
                "real checkpoint such as --model cvssp/audioldm-s-full-v2"
            )
        return folder
    if short == "random-tiny":
        from .random_model import build_random_audioldm

        folder = paths.cache_dir() / "models" / "random-tiny"
        if not (folder / "model_index.json").is_file():
            build_random_audioldm(folder, size="tiny", seed=0)
        return folder
    raise ModelNotAvailable(f"unknown built-in model 'builtin:{short}'; use builtin:default or builtin:random-tiny")


# --------------------------------------------------------------------------- families

def read_model_index(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "model_index.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelNotAvailable(f"cannot read {folder / 'model_index.json'}: {exc}") from exc


def _load_audioldm(folder: Path, name: str, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import AutoTokenizer, ClapTextModelWithProjection, SpeechT5HifiGan

    def part(sub: str, loader: Callable[[str], Any]) -> Any:
        where = folder / sub
        if not where.is_dir():
            raise ModelNotAvailable(f"model '{name}' is incomplete: the folder has no {sub}/ component")
        try:
            return loader(str(where))
        except ModelNotAvailable:
            raise
        except Exception as exc:
            raise ModelNotAvailable(
                f"model '{name}': cannot load {sub}/ ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                f"the download may be partial: pull it again"
            ) from exc

    meta: dict[str, Any] = {}
    meta_file = folder / "audioldm_bridge.json"
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text())

    unet = part("unet", UNet2DConditionModel.from_pretrained)
    vae = part("vae", AutoencoderKL.from_pretrained)
    text_encoder = part("text_encoder", ClapTextModelWithProjection.from_pretrained)
    tokenizer = part("tokenizer", AutoTokenizer.from_pretrained)
    if meta.get("vocoder") == "griffin-lim":
        from .griffinlim import GriffinLimVocoder

        inverter = None
        if (folder / "mel_inverter" / "config.json").is_file():
            # The default model's learned mel -> magnitude step (engine/nets/mel_inverter.py).
            from .nets.mel_inverter import MelInverter

            inverter = part("mel_inverter", MelInverter.from_pretrained)
        vocoder = GriffinLimVocoder(**meta.get("griffin_lim", {}), magnitude_model=inverter)
    else:
        vocoder = part("vocoder", SpeechT5HifiGan.from_pretrained)
    sched_file = folder / "scheduler" / "scheduler_config.json"
    try:
        scheduler_config = json.loads(sched_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelNotAvailable(f"model '{name}': cannot read {sched_file}: {exc}") from exc

    clap = clap_processor = None
    clap_dir = folder / "clap"
    if (clap_dir / "config.json").is_file():
        from transformers import ClapFeatureExtractor, ClapModel

        clap = part("clap", ClapModel.from_pretrained)
        clap_processor = part("clap", ClapFeatureExtractor.from_pretrained)
    elif (folder / "clap_audio" / "config.json").is_file():
        # The default model's small CLAP audio branch (a CNN on the same log-mel).
        from .nets.clap_audio import SmallClapAudio

        clap = part("clap_audio", SmallClapAudio.from_pretrained)
    text_prior = None
    if (folder / "clap_prior" / "config.json").is_file():
        from .nets.clap_audio import TextToAudioPrior

        text_prior = part("clap_prior", TextToAudioPrior.from_pretrained)

    for module in (unet, vae, text_encoder, vocoder, clap, text_prior):
        if module is not None:
            module.eval().requires_grad_(False)
    for module in (unet, vae, text_encoder, vocoder, text_prior):
        # Always cast: weights may be stored in float16 (the default model is) but run in float32.
        if module is not None:
            module.to(device=device, dtype=dtype)
    if clap is not None:
        # CLAP only scores candidates; float32 keeps the HTSAT front end stable on every device.
        clap.to(device, torch.float32)
    model = LoadedModel(
        name=name, folder=folder, family="audioldm", device=device, dtype=dtype,
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, vocoder=vocoder,
        scheduler_config=scheduler_config, clap=clap, clap_processor=clap_processor, text_prior=text_prior,
        max_duration_s=float(meta.get("max_duration_s", AUDIOLDM_MAX_DURATION_S)), extra=dict(meta),
    )
    # Speed choices measured per model (engine.tuning): channels-last helps the small UNet on the CPU
    # and slows AudioLDM-S's; the VAE and the attention implementation likewise.
    width = model.mel_bins // model.vae_scale_factor
    choice = tuning.choose_memory_format(unet, width, folder, device, dtype)
    vae_choice = tuning.choose_memory_format(vae, width, folder, device, dtype, tuning.measure_vae, part="vae")
    attention = tuning.choose_attention(unet, width, folder, device, dtype)
    voc_choice = tuning.choose_vocoder(vocoder, model.mel_bins, folder, device, dtype)
    model.vocoder_layout = voc_choice["vocoder_layout"]
    # 2x upsampling + 3x3 convolution as four 2x2 convolutions of the small image (engine.nets.upsample):
    # fewer than half the multiply-adds; on the CPU, where that is what a convolution costs.
    polyphase = 0
    if device.type == "cpu":
        from .nets import upsample

        polyphase = upsample.install(unet) + upsample.install(vae)
    # Memory-mapped weights go back to the OS between stages on the CPU (engine.memory).
    mapped = memory.mapped_bytes(unet, vae, text_encoder, vocoder)
    model.release_weights = memory.should_release(mapped, device)
    model.extra["tuning"] = {
        **choice, "vae_memory_format": vae_choice["memory_format"], "vae_decode_s": vae_choice["step_s"],
        "vae_source": vae_choice["source"], "attention": attention["attention"],
        "attention_step_s": attention["step_s"], "attention_source": attention["source"],
        "vocoder_layout": voc_choice["vocoder_layout"], "vocoder_s": voc_choice["step_s"],
        "vocoder_source": voc_choice["source"], "polyphase_upsamplers": polyphase,
        "threads": torch.get_num_threads(), "release_weights": model.release_weights,
        "mapped_weights_mb": round(mapped / 2**20)}
    return model


#: model_index.json ``_class_name`` -> loader. Add ``"AudioLDM2Pipeline": _load_audioldm2`` here.
FAMILIES: dict[str, Callable[[Path, str, torch.device, torch.dtype], LoadedModel]] = {
    "AudioLDMPipeline": _load_audioldm,
}


def load(name: str | None = None, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Resolve ``name`` and load its components onto the chosen device."""
    name = name or DEFAULT_MODEL
    folder = resolve(name)
    index = read_model_index(folder)
    cls = index.get("_class_name", "")
    loader = FAMILIES.get(cls)
    if loader is None:
        raise ModelNotAvailable(
            f"model '{name}' is a {cls or 'unknown'} pipeline; supported: {', '.join(FAMILIES)}"
        )
    dev = pick_device(device)
    return loader(folder, name, dev, pick_dtype(dev, dtype))


class ModelCache:
    """Keeps one model loaded; asking for another evicts it first (memory is the scarce thing)."""

    def __init__(self, device: str = "auto", dtype: str = "auto") -> None:
        self.device = device
        self.dtype = dtype
        self._model: LoadedModel | None = None
        self._lock = threading.Lock()

    def get(self, name: str | None) -> LoadedModel:
        name = name or DEFAULT_MODEL
        with self._lock:
            if self._model is not None and self._model.name == name:
                return self._model
            self.evict_locked()
            self._model = load(name, self.device, self.dtype)
            return self._model

    def evict_locked(self) -> None:
        if self._model is None:
            return
        device = self._model.device
        self._model = None
        import gc

        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()

    @property
    def current(self) -> LoadedModel | None:
        return self._model
