"""Teach the default model's text encoder wordings past its caption templates (issue 20, item 4).

    python -m engine.default_model.text_tune [--model builtin:default] [--out DIR|builtin:default]
        [--steps 3000] [--batch 64] [--clips 12000] [--seed N] [--threads N]

The default model hears a prompt through its CLAP text encoder, then the text-to-audio prior, then
the UNet, which was trained on CLAP *audio* embeddings. Only the first link knows words, so wording
is taught there alone: a copy of the text encoder (the student) learns to give every rewrite of a
training caption (:class:`corpus.augment.Augmenter`: WordNet synonyms, numbers in words, other
orders, everyday framings) the embedding the original text encoder (the teacher) gives the caption
itself, and to keep the teacher's embedding of the caption unchanged. The prior, the UNet and
everything after see the same inputs as before, so nothing else is retrained; on the 2-core CPU it
takes minutes, not the hours a full retraining would.

Captions come from the training corpus's own seeds (:func:`corpus.make_caption`, and
``--variants`` more wordings of each clip), no audio is synthesised. Evaluation prompts are never
trained on (augmented captions equal to one are dropped). The result is a whole model folder in
``--out`` (default: ``text-tuned/`` in the user cache) with only ``text_encoder/`` changed and a
``"text_tune"`` record in ``audioldm_bridge.json``; an existing folder there is kept as
``<out>.previous``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import paths
from .train import BUILTIN_OUT, CLIP_S, log, lr_at, output_folder


#: A named pitch in a caption: a frequency ("440 Hz", "1.5 kHz") or a note name ("A4", "C#3").
NAMED_PITCH = re.compile(r"\d\s*k?hz\b|\b[A-G][#b]?\d\b", re.IGNORECASE)


def training_captions(seed: int, clips: int, variants: int) -> list[str]:
    """The corpus's captions for its first ``clips`` seeds and ``variants`` more wordings of each."""
    from .corpus import caption_variants, example_seed, make_caption

    out = []
    for i in range(clips):
        s = example_seed(seed, i)
        out.append(make_caption(s, duration_s=CLIP_S)[0])
        out += caption_variants(s, variants, duration_s=CLIP_S)
    return sorted(set(out))


def tune(model_dir: Path, out: Path, steps: int = 3000, batch: int = 64, clips: int = 12000, variants: int = 2,
         seed: int = 20261201, keep_weight: float = 2.0, lr: float = 3e-4,
         prior_weight: float = 2.0, mix: float = 1.0, pitch_weight: float = 1.0,
         number_rewrites: float | None = None) -> dict:
    from transformers import AutoTokenizer, ClapTextModelWithProjection

    from .corpus.augment import Augmenter
    from .corpus.examples import _evaluation_prompts

    meta = json.loads((model_dir / "audioldm_bridge.json").read_text())
    training_seed = int(meta.get("training", {}).get("seed", 20261125))
    t0 = time.perf_counter()
    captions = training_captions(training_seed, clips, variants)
    if number_rewrites is None:  # a model that reads "four hundred and forty hertz" as "440 Hz" never
        number_rewrites = 0.0 if meta.get("prompt_numbers") == "digits" else 0.5  # hears numbers in words
    augment = Augmenter(p_numbers=number_rewrites)
    log(f"text-tune: {len(captions)} captions, {len(augment.synonyms)} words with WordNet synonyms "
        f"({time.perf_counter() - t0:.0f} s)")
    tokenizer = AutoTokenizer.from_pretrained(model_dir / "tokenizer")
    teacher = ClapTextModelWithProjection.from_pretrained(model_dir / "text_encoder").float().eval()

    def embed(encoder, texts: list[str]) -> torch.Tensor:
        # Padded to the batch's longest text, not to the tokenizer's maximum: the masked positions
        # change nothing (the pooled first token attends to real tokens only) and cost 3x the time.
        tok = tokenizer(texts, padding="longest", max_length=tokenizer.model_max_length, truncation=True,
                        return_tensors="pt")
        return F.normalize(encoder(tok.input_ids, attention_mask=tok.attention_mask).text_embeds, dim=-1)

    student = ClapTextModelWithProjection.from_pretrained(model_dir / "text_encoder").float().train()
    # The UNet hears the prior's output, so the rewrites must match there too (where a small turn of
    # the text embedding can move a named pitch); the prior itself stays as it is.
    prior = None
    if prior_weight and (model_dir / "clap_prior" / "config.json").is_file():
        from ..nets.clap_audio import TextToAudioPrior

        prior = TextToAudioPrior.from_pretrained(model_dir / "clap_prior").float().eval().requires_grad_(False)
    with torch.no_grad():
        target = torch.cat([embed(teacher, captions[i:i + 512]) for i in range(0, len(captions), 512)])
        target_prior = prior(target) if prior is not None else None
    forbidden = _evaluation_prompts()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.01)

    history = []
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.choice(len(captions), batch, replace=False)
        rewrites = [augment(captions[i], rng) for i in idx]
        keep = [k for k, r in enumerate(rewrites) if r.lower() not in forbidden]
        idx, rewrites = idx[keep], [rewrites[k] for k in keep]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr)
        goal = target[torch.from_numpy(idx)]
        both = embed(student, rewrites + [captions[i] for i in idx])
        moved, kept = both[: len(idx)], both[len(idx):]
        # Captions that name a pitch weigh ``pitch_weight`` times more: a small turn of their embedding
        # moves the pitch the UNet renders ("2 kHz" came out at 1.55 kHz with equal weights).
        w = torch.tensor([pitch_weight if NAMED_PITCH.search(captions[i]) else 1.0 for i in idx])
        w = w / w.mean()

        def distance(a, b):
            return (w * (1 - (a * b).sum(-1))).mean()

        loss_rewrite, loss_keep = distance(moved, goal), distance(kept, goal)
        loss = loss_rewrite + keep_weight * loss_keep
        if prior is not None:
            heard = prior(both)
            goal_prior = target_prior[torch.from_numpy(idx)]
            loss = loss + prior_weight * (distance(heard[: len(idx)], goal_prior)
                                          + keep_weight * distance(heard[len(idx):], goal_prior))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        history.append((loss_rewrite.item(), loss_keep.item()))
        if (step + 1) % 100 == 0:
            r, k = np.mean(history[-100:], axis=0)
            log(f"text-tune step {step + 1}/{steps}: rewrites at cosine {1 - r:.3f} of their caption's "
                f"embedding, captions at {1 - k:.3f} ({(time.perf_counter() - t0) / (step + 1):.2f} s/step)")

    if mix != 1.0:
        # Weight-space ensembling (WiSE-FT, Wortsman et al. 2022): part of the way from the original
        # weights to the tuned ones, which keeps more of what the original knew (named pitches).
        with torch.no_grad():
            for p_s, p_t in zip(student.parameters(), teacher.parameters()):
                p_s.copy_(p_t + mix * (p_s - p_t))
    record = {"steps": steps, "batch": batch, "mix": mix, "pitch_weight": pitch_weight, "clips": clips,
              "variants": variants, "seed": seed,
              "keep_weight": keep_weight, "lr": lr, "prior_weight": prior_weight if prior is not None else 0.0,
              "number_rewrites": number_rewrites,
              "captions": len(captions),
              "synonym_words": len(augment.synonyms),
              "final_rewrite_cosine": float(1 - np.mean([h[0] for h in history[-100:]])),
              "final_caption_cosine": float(1 - np.mean([h[1] for h in history[-100:]])),
              "minutes": (time.perf_counter() - t0) / 60,
              "wordnet": "Princeton WordNet 3.0 (Debian wordnet-base), NLTK reader"}
    # fp16, as exported models are
    export_model(model_dir, out, {"text_encoder": student.half()}, {"text_tune": record}, "text-tune")
    return record


def export_model(model_dir: Path, out: Path, parts: dict, meta_update: dict, tag: str) -> None:
    """``model_dir`` copied to ``out`` with the sub-folders named in ``parts`` replaced by those modules
    (``save_pretrained``) and ``meta_update`` merged into ``audioldm_bridge.json``, atomically; a folder
    already at ``out`` is moved to ``<out>.previous``."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model_dir, tmp, ignore=shutil.ignore_patterns("__pycache__"))
    for name, module in parts.items():
        shutil.rmtree(tmp / name)
        module.eval().save_pretrained(tmp / name)
    meta = {**json.loads((model_dir / "audioldm_bridge.json").read_text()), **meta_update}
    (tmp / "audioldm_bridge.json").write_text(json.dumps(meta, indent=2, default=list))
    if out.exists():
        backup = out.with_name(out.name + ".previous")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(out, backup)
        log(f"{tag}: the model that was in {out} is now in {backup}")
    os.replace(tmp, out)
    log(f"{tag}: wrote {out}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin:default", help="the model whose text encoder is tuned")
    ap.add_argument("--out", default=None, help=f"default: text-tuned/ in the user cache; {BUILTIN_OUT} "
                                                "replaces the bundled weights (kept as weights.previous)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--clips", type=int, default=12000)
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--keep-weight", type=float, default=2.0,
                    help="weight of keeping the captions' own embeddings against learning the rewrites")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--prior-weight", type=float, default=2.0,
                    help="weight of matching after the text-to-audio prior too (0: text embeddings only)")
    ap.add_argument("--pitch-weight", type=float, default=1.0,
                    help="how much more captions that name a pitch (Hz, kHz, a note) weigh")
    ap.add_argument("--mix", type=float, default=1.0,
                    help="how far the written encoder goes from the original towards the tuned one (0-1)")
    ap.add_argument("--number-rewrites", type=float, default=None,
                    help="share of rewrites with numbers in words (default: 0 for a model that reads them as "
                         "digits, \"prompt_numbers\": \"digits\"; else 0.5)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if not 0.0 < args.mix <= 1.0:
        raise SystemExit(f"--mix {args.mix:g}: give a fraction in (0, 1], 1 = the tuned weights as trained")
    if args.threads:
        torch.set_num_threads(args.threads)
    from .corpus.augment import WordNetMissing

    model_dir = paths.default_model_dir() if args.model == BUILTIN_OUT else Path(args.model).expanduser()
    if not (model_dir / "text_encoder").is_dir():
        raise SystemExit(f"{model_dir} is not a default-model folder (no text_encoder/ in it)")
    out = paths.cache_dir() / "text-tuned" if args.out is None else output_folder(args.out, paths.cache_dir())
    if out.resolve() == model_dir.resolve() and args.out != BUILTIN_OUT:
        raise SystemExit("--out is the model being tuned: give another folder, or builtin:default to "
                         "replace the bundled weights on purpose")
    try:
        record = tune(model_dir, out, args.steps, args.batch, args.clips, args.variants, args.seed,
                      args.keep_weight, args.lr, args.prior_weight, args.mix, args.pitch_weight,
                      args.number_rewrites)
    except WordNetMissing as exc:
        raise SystemExit(str(exc)) from None
    log(f"text-tune finished in {record['minutes']:.1f} min")
    print(f"evaluate it:  audioldm-bridge eval-default --model {out}", flush=True)


if __name__ == "__main__":
    main()
