"""Build AudioLDM-shaped models with random weights, saved in diffusers format.

Used by the tests (tiny components, as diffusers' own fast tests do), by the benchmark (the full
AudioLDM-S architecture) and by ``builtin:random-tiny``. No download: the tokenizer is a byte-level
BPE trained here on a few sentences and saved in RoBERTa format, like a real checkpoint's.

Every size keeps AudioLDM's real layout (64 mel bins, hop 160 at 16 kHz, 8 latent channels) so the
front end, inpainting masks and super-resolution bins behave as with real checkpoints.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

# Scheduler of the cvssp/audioldm-* checkpoints.
AUDIOLDM_SCHEDULER = dict(
    num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear",
    steps_offset=1, clip_sample=False, set_alpha_to_one=False, prediction_type="epsilon",
)

_TOKENIZER_TEXT = [
    "a low kick drum", "a dog barking in the rain", "a high pitched beep at 440 Hz",
    "white noise", "pink noise", "brown noise", "a rising sweep", "children singing",
    "a trumpet playing a melody", "room tone", "footsteps on gravel", "thunder and wind",
    "bright open hi-hat", "a dark muffled rumble", "a bell ringing", "laser zap", "glitch",
]


@dataclass(frozen=True)
class Size:
    unet_blocks: tuple[int, ...]
    unet_layers: int
    unet_head_dim: int | tuple[int, ...]
    unet_norm_groups: int
    vae_blocks: tuple[int, ...]
    vae_layers: int
    vae_norm_groups: int
    text_hidden: int
    text_layers: int
    text_heads: int
    text_intermediate: int
    text_vocab: int
    projection_dim: int
    vocoder_channels: int
    vocoder_rates: tuple[int, ...]
    vocoder_kernels: tuple[int, ...]
    resblock_kernels: tuple[int, ...]
    resblock_dilations: tuple[tuple[int, ...], ...]
    unet_sample_size: int
    vae_sample_size: int
    tokenizer_max_length: int


SIZES: dict[str, Size] = {
    # Small enough for a test to render in well under a second.
    "tiny": Size(unet_blocks=(32, 64), unet_layers=1, unet_head_dim=8, unet_norm_groups=8,
                 vae_blocks=(16, 16, 32), vae_layers=1, vae_norm_groups=8,
                 text_hidden=32, text_layers=2, text_heads=4, text_intermediate=37, text_vocab=1000,
                 projection_dim=32, vocoder_channels=32, vocoder_rates=(5, 4, 2, 2, 2),
                 vocoder_kernels=(10, 8, 4, 4, 4), resblock_kernels=(3,), resblock_dilations=((1, 3),),
                 unet_sample_size=32, vae_sample_size=64, tokenizer_max_length=77),
    "tiny3": Size(unet_blocks=(32, 32, 64), unet_layers=1, unet_head_dim=8, unet_norm_groups=8,
                  vae_blocks=(16, 16, 32), vae_layers=1, vae_norm_groups=8,
                  text_hidden=32, text_layers=2, text_heads=4, text_intermediate=37, text_vocab=1000,
                  projection_dim=32, vocoder_channels=32, vocoder_rates=(5, 4, 2, 2, 2),
                  vocoder_kernels=(10, 8, 4, 4, 4), resblock_kernels=(3,), resblock_dilations=((1, 3),),
                  unet_sample_size=32, vae_sample_size=64, tokenizer_max_length=77),
    # The real AudioLDM-S architecture (shared/reference/audioldm.md), 421 M parameters.
    "s": Size(unet_blocks=(128, 256, 384, 640), unet_layers=2, unet_head_dim=8, unet_norm_groups=32,
              vae_blocks=(128, 256, 512), vae_layers=2, vae_norm_groups=32,
              text_hidden=768, text_layers=12, text_heads=12, text_intermediate=3072, text_vocab=50265,
              projection_dim=512, vocoder_channels=1024, vocoder_rates=(5, 4, 2, 2, 2),
              vocoder_kernels=(16, 16, 8, 4, 4), resblock_kernels=(3, 7, 11),
              resblock_dilations=((1, 3, 5),) * 3, unet_sample_size=128, vae_sample_size=512,
              tokenizer_max_length=512),
}


def _unet_blocks(n: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1)
    up = ("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",)
    return down, up


def train_bpe_tokenizer(texts: list[str], vocab_size: int, max_length: int, min_frequency: int = 1):
    """A ``RobertaTokenizerFast`` from a byte-level BPE trained on ``texts`` (no download).

    Same layout as a real CLAP/RoBERTa tokenizer: ByteLevel pre-tokenizer and decoder, special tokens
    ``<s> <pad> </s> <unk> <mask>`` and a RoBERTa post-processor; ``save_pretrained`` writes the
    files a real checkpoint has.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import RobertaTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=min_frequency,
    )
    bpe.train_from_iterator(texts, trainer)
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return RobertaTokenizerFast(tokenizer_object=bpe, model_max_length=max_length,
                                bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>")


def build_tokenizer(max_length: int):
    return train_bpe_tokenizer(_TOKENIZER_TEXT, 400, max_length)


def build_components(size: str = "tiny", seed: int = 0, with_clap: bool = False) -> dict:
    """Random-weight AudioLDM components in memory: unet, vae, text_encoder, tokenizer, vocoder,
    scheduler (a DDIMScheduler) and, with ``with_clap``, a tiny full ClapModel + feature extractor."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import (ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan,
                              SpeechT5HifiGanConfig)

    cfg = SIZES[size]
    torch.manual_seed(seed)
    down, up = _unet_blocks(len(cfg.unet_blocks))
    unet = UNet2DConditionModel(
        sample_size=cfg.unet_sample_size, in_channels=8, out_channels=8,
        layers_per_block=cfg.unet_layers, block_out_channels=cfg.unet_blocks,
        down_block_types=down, up_block_types=up, cross_attention_dim=cfg.unet_blocks,
        attention_head_dim=cfg.unet_head_dim, norm_num_groups=cfg.unet_norm_groups,
        class_embed_type="simple_projection", projection_class_embeddings_input_dim=cfg.projection_dim,
        class_embeddings_concat=True,
    )
    torch.manual_seed(seed + 1)
    nvae = len(cfg.vae_blocks)
    vae = AutoencoderKL(
        in_channels=1, out_channels=1, latent_channels=8, sample_size=cfg.vae_sample_size,
        block_out_channels=cfg.vae_blocks, layers_per_block=cfg.vae_layers,
        down_block_types=("DownEncoderBlock2D",) * nvae, up_block_types=("UpDecoderBlock2D",) * nvae,
        norm_num_groups=cfg.vae_norm_groups, scaling_factor=0.5,
    )
    torch.manual_seed(seed + 2)
    text_config = ClapTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=cfg.text_hidden,
        intermediate_size=cfg.text_intermediate, num_attention_heads=cfg.text_heads,
        num_hidden_layers=cfg.text_layers, vocab_size=cfg.text_vocab, projection_dim=cfg.projection_dim,
        max_position_embeddings=cfg.tokenizer_max_length + 2, layer_norm_eps=1e-5,
    )
    text_encoder = ClapTextModelWithProjection(text_config)
    torch.manual_seed(seed + 3)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=64, sampling_rate=16000, upsample_initial_channel=cfg.vocoder_channels,
        upsample_rates=list(cfg.vocoder_rates), upsample_kernel_sizes=list(cfg.vocoder_kernels),
        resblock_kernel_sizes=list(cfg.resblock_kernels),
        resblock_dilation_sizes=[list(d) for d in cfg.resblock_dilations], normalize_before=False,
    ))
    # HiFi-GAN's own init (std 0.01) makes a random vocoder output ~1e-11, and with default init
    # its biases swamp the signal. Zero biases and a gain of 1.7 give an audible output (~0.015 rms)
    # that depends strongly on the latents, so tests comparing waveforms can fail when they should.
    for module in vocoder.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            module.reset_parameters()
            torch.nn.init.zeros_(module.bias)
            module.weight.data.mul_(1.7)
    parts = dict(
        unet=unet.eval(), vae=vae.eval(), text_encoder=text_encoder.eval(),
        tokenizer=build_tokenizer(cfg.tokenizer_max_length), vocoder=vocoder.eval(),
        scheduler=DDIMScheduler(**AUDIOLDM_SCHEDULER),
    )
    if with_clap:
        parts.update(build_tiny_clap(seed + 4, cfg.projection_dim))
    return parts


def build_tiny_clap(seed: int, projection_dim: int) -> dict:
    """A tiny full CLAP (text + HTSAT audio branch), shaped as diffusers' AudioLDM2 fast tests."""
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    torch.manual_seed(seed)
    audio = ClapAudioConfig(spec_size=64, window_size=4, num_mel_bins=64, intermediate_size=37,
                            layer_norm_eps=1e-5, depths=[2, 2], num_attention_heads=[2, 2],
                            num_hidden_layers=2, hidden_size=192, projection_dim=projection_dim,
                            patch_size=2, patch_stride=2, patch_embed_input_channels=4)
    text = ClapTextConfig(bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=16,
                          intermediate_size=37, layer_norm_eps=1e-5, num_attention_heads=2,
                          num_hidden_layers=2, vocab_size=1000, projection_dim=projection_dim)
    clap = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(),
                                projection_dim=projection_dim)).eval()
    # hop 7900 at 48 kHz makes the 10 s input ~64 frames, matching spec_size (diffusers' trick).
    processor = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=7900,
                                     max_length_s=10, fft_window_size=1024)
    return {"clap": clap, "clap_processor": processor}


def save_components(parts: dict, folder: Path) -> Path:
    """Write components in the diffusers layout a ``cvssp/audioldm-*`` repository has."""
    import diffusers

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name in ("unet", "vae", "text_encoder", "tokenizer", "vocoder", "scheduler"):
        parts[name].save_pretrained(tmp / name)
    index = {
        "_class_name": "AudioLDMPipeline",
        "_diffusers_version": diffusers.__version__,
        "scheduler": ["diffusers", type(parts["scheduler"]).__name__],
        "text_encoder": ["transformers", "ClapTextModelWithProjection"],
        "tokenizer": ["transformers", "RobertaTokenizerFast"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "vocoder": ["transformers", "SpeechT5HifiGan"],
    }
    (tmp / "model_index.json").write_text(json.dumps(index, indent=2))
    if parts.get("clap") is not None:
        parts["clap"].save_pretrained(tmp / "clap")
        parts["clap_processor"].save_pretrained(tmp / "clap")
    # Publish the folder in one rename so a crash never leaves a half-written model behind.
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def build_random_audioldm(folder: Path, size: str = "tiny", seed: int = 0, with_clap: bool = False) -> Path:
    return save_components(build_components(size, seed, with_clap), folder)
