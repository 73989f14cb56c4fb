"""Prompt adherence of a model, measured with DSP descriptors on held-out prompts.

    audioldm-bridge eval-default [--model builtin:default] [--seeds 4] [--steps N] [--json out.json]

Every held-out prompt (:func:`corpus.held_out_prompts`: wordings and combinations that no training
caption has) is rendered with ``seeds`` seeds. Absolute expectations (f0 within two semitones, noise
colour window, single/repeated onsets, fading/swelling, rising/falling, tonal/noisy, short/long,
chord quality) are judged per clip by :func:`corpus.check_expectations`; relative ones (low < high,
dark < bright, slow < fast, ...) are judged across the prompts of a pair by
:func:`corpus.ordering_holds`. The report gives accuracy per attribute, per family and overall, then
:func:`duration_fill_check` (sustained prompts at 0.5-10 s) and :func:`superres_check`
(super-resolution on real recordings band-limited at 4 kHz), both from issue 20.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from . import corpus

RELATIVE = {"pitch", "brightness", "tempo", "density", "intensity", "distance", "gusts"}


@dataclass
class Report:
    checks: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    render_s_per_clip: float = 0.0
    #: The renders of prompts that name a pitch, by (prompt, seed), for :func:`named_pitch_check`.
    pitched: dict = field(default_factory=dict)

    def _acc(self, key) -> dict[str, tuple[int, int]]:
        table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in self.checks:
            k = key(c)
            table[k][0] += int(c["passed"])
            table[k][1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(table.items())}

    def by_attribute(self):
        return self._acc(lambda c: c["attribute"])

    def by_family(self):
        return self._acc(lambda c: c["family"])

    def by_seed(self):
        return self._acc(lambda c: c["seed"])

    @property
    def overall(self) -> float:
        return sum(c["passed"] for c in self.checks) / max(1, len(self.checks))

    def format(self) -> str:
        lines = [f"{len(self.checks)} checks, overall accuracy {100 * self.overall:.1f} %  "
                 f"({self.render_s_per_clip:.2f} s per clip, {self.seconds:.0f} s in all)", "", "by attribute:"]
        lines += [f"  {k:<14}{p:>4}/{n:<4}{100 * p / n:6.1f} %" for k, (p, n) in self.by_attribute().items()]
        lines += ["", "by seed: " + ", ".join(f"{k}: {100 * p / n:.1f} %" for k, (p, n) in self.by_seed().items())]
        lines += ["", "by family:"]
        lines += [f"  {k:<14}{p:>4}/{n:<4}{100 * p / n:6.1f} %" for k, (p, n) in self.by_family().items()]
        failed = [c for c in self.checks if not c["passed"]]
        if failed:
            lines += ["", "failed:"] + [f"  {c['prompt']!r} seed {c['seed']}: {c['attribute']}" for c in failed]
        return "\n".join(lines)


def family_of(item: dict) -> str:
    if "family" in item:
        return item["family"]
    return next(iter(item["expect"]))


def evaluate(render, prompts: list[dict] | None = None, seeds: int = 2, sr: int = 16_000) -> Report:
    """``render(prompt, seed) -> waveform`` at ``sr``; returns the report."""
    prompts = prompts if prompts is not None else corpus.held_out_prompts()
    report = Report()
    t0 = time.perf_counter()
    audio: dict[tuple[str, int], np.ndarray] = {}
    for item in prompts:
        for s in range(seeds):
            audio[(item["prompt"], s)] = render(item["prompt"], s)
    report.render_s_per_clip = (time.perf_counter() - t0) / max(1, len(audio))
    named = {item["prompt"] for item in prompts if "f0_hz" in item["expect"]}
    report.pitched = {key: wav for key, wav in audio.items() if key[0] in named}
    for item in prompts:
        absolute = {k: v for k, v in item["expect"].items() if k not in RELATIVE}
        for s in range(seeds):
            results = corpus.check_expectations(audio[(item["prompt"], s)], sr, absolute)
            for key, passed in results.items():
                report.checks.append({"prompt": item["prompt"], "seed": s, "attribute": key,
                                      "family": family_of(item), "passed": bool(passed)})
    pairs: dict[str, list[dict]] = defaultdict(list)
    for item in prompts:
        if "pair" in item:
            pairs[item["pair"]].append(item)
    for pair_id, items in pairs.items():
        keys = {k for it in items for k in it["expect"] if k in corpus.ORDERINGS}
        for key in sorted(keys):
            labelled = [it for it in items if key in it["expect"]]
            if len({it["expect"][key] for it in labelled}) < 2:
                continue
            for s in range(seeds):
                clips = {it["expect"][key]: audio[(it["prompt"], s)] for it in labelled}
                report.checks.append({"prompt": " / ".join(it["prompt"] for it in labelled), "seed": s,
                                      "attribute": f"{key} order", "family": family_of(labelled[0]),
                                      "passed": bool(corpus.ordering_holds(key, clips, sr))})
    report.seconds = time.perf_counter() - t0
    return report


def named_pitch_check(render, prompt_sets: dict[str, list[dict]], seeds: int = 4, sr: int = 16_000,
                      rendered: dict | None = None) -> dict:
    """Named pitch as rendered, and after the finishing chain's tuning to the prompt's pitch
    (``finish.tune_to = "prompt"``, :mod:`engine.pitch`): for every prompt with an ``f0_hz``
    expectation, the render's error in semitones (None: no pitch found) before and after.
    ``rendered``: renders already made, by (prompt, seed) (:attr:`Report.pitched`); others are rendered."""
    rendered = rendered or {}
    from .. import descriptors, pitch

    rows = []
    for set_name, prompts in prompt_sets.items():
        for item in prompts:
            want = item["expect"].get("f0_hz")
            if want is None:
                continue
            target, _ = pitch.prompt_pitch(item["prompt"])
            for s in range(seeds):
                wav = rendered[(item["prompt"], s)] if (item["prompt"], s) in rendered else render(item["prompt"], s)
                tuned = wav if target is None else pitch.tune(wav[:, None], sr, target)[0][:, 0]

                def error(x):
                    f0 = descriptors.fundamental_hz(x, sr)
                    return None if f0 is None else float(12 * np.log2(f0 / float(want)))

                rows.append({"set": set_name, "prompt": item["prompt"], "seed": s, "parsed_hz": target,
                             "raw_st": error(wav), "tuned_st": error(tuned)})

    def within(key, tol, set_name):
        part = [r for r in rows if r["set"] == set_name]
        return sum(r[key] is not None and abs(r[key]) <= tol for r in part), len(part)

    return {"rows": rows, "summary": {name: {f"{key} within {tol:g}": within(key, tol, name)
                                             for key in ("raw_st", "tuned_st") for tol in (1.0, 2.0)}
                                      for name in prompt_sets}}


def format_named_pitch(check: dict) -> str:
    lines = ["named pitch (f0 within 1 / 2 semitones), as rendered and tuned to the prompt's pitch by the "
             "finishing chain (finish.tune_to = \"prompt\"):"]
    for name, s in check["summary"].items():
        parsed = sum(r["parsed_hz"] is not None for r in check["rows"] if r["set"] == name)
        n = s["raw_st within 1"][1]
        lines.append(f"  {name}: as rendered {s['raw_st within 1'][0]} / {s['raw_st within 2'][0]} of {n}, "
                     f"tuned {s['tuned_st within 1'][0]} / {s['tuned_st within 2'][0]} of {n} "
                     f"(a pitch read from the prompt in {parsed} of {n})")
    return "\n".join(lines)


CHECKABLE = ("f0_hz", "noise_colour", "rhythm", "envelope", "sweep", "texture", "length", "chord")


def expectations_of(example) -> dict:
    """The absolute, measurable attributes of a single-family corpus example, as expectations."""
    expect = {k: example.attributes[k] for k in CHECKABLE if k in example.attributes}
    if "chord" in expect:
        expect["root"] = example.attributes["root"]
    return expect


def mr_stft_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-resolution STFT distance (spectral convergence + log-magnitude L1, FFT 512/1024/2048)."""
    import torch

    x, y = torch.from_numpy(np.asarray(a, np.float32)), torch.from_numpy(np.asarray(b, np.float32))
    n = min(len(x), len(y))
    total = 0.0
    for fft, hop in ((512, 128), (1024, 256), (2048, 512)):
        win = torch.hann_window(fft)
        X = torch.stft(x[:n], fft, hop, window=win, return_complex=True).abs()
        Y = torch.stft(y[:n], fft, hop, window=win, return_complex=True).abs()
        sc = torch.linalg.norm(X - Y) / torch.linalg.norm(X).clamp(min=1e-8)
        mag = (torch.log(X.clamp(min=1e-5)) - torch.log(Y.clamp(min=1e-5))).abs().mean()
        total += float(sc + mag)
    return total / 3


def plain_griffin_lim():
    """The reference vocoder: Griffin-Lim on the least-squares magnitude, no learned part."""
    from ..griffinlim import GriffinLimVocoder

    return GriffinLimVocoder()


def vocoder_ceiling(vocoders: dict, n: int = 60, seed: int = 7) -> dict:
    """How much each vocoder alone costs: the same checks on corpus clips and on their
    mel -> vocoder resynthesis, plus the multi-resolution STFT distance between the two.
    ``vocoders`` maps a name to a module taking (1, T, 64) log-mel."""
    import torch

    from ..frontend import log_mel

    passed = {"original": 0, **{name: 0 for name in vocoders}}
    distances: dict[str, list[float]] = {name: [] for name in vocoders}
    total = 0
    for i in range(n):
        ex = corpus.make_example(corpus.example_seed(seed, i), mix_share=0.0)
        expect = expectations_of(ex)
        mel = log_mel(torch.from_numpy(ex.audio))[None, : len(ex.audio) // 160]
        passed["original"] += sum(corpus.check_expectations(ex.audio, ex.sr, expect).values())
        for name, vocoder in vocoders.items():
            with torch.inference_mode():
                resynth = vocoder(mel.to(vocoder.device, vocoder.dtype))[0].float().cpu().numpy()[: len(ex.audio)]
            distances[name].append(mr_stft_distance(ex.audio, resynth))
            passed[name] += sum(corpus.check_expectations(resynth, ex.sr, expect).values())
        total += len(expect)
    return {"checks": total, "accuracy": {k: v / max(1, total) for k, v in passed.items()},
            "mr_stft_distance": {k: float(np.mean(v)) for k, v in distances.items()}}


class MelRecorder:
    """Wraps a model's vocoder and keeps every mel it decodes, so the same renders can be decoded
    again by another vocoder (:func:`redecode`) without sampling them twice."""

    def __init__(self, vocoder) -> None:
        self.inner = vocoder
        self.config = vocoder.config
        self.mels: dict = {}
        self.key = None

    def __getattr__(self, name):  # device, dtype, ... of the wrapped vocoder
        return getattr(self.inner, name)

    def __call__(self, mel):
        self.mels[self.key] = mel.detach().float().cpu().clone()
        return self.inner(mel)


def redecode(recorder: MelRecorder, vocoder, n_samples: int):
    """``render(prompt, seed)`` that decodes the mel ``recorder`` kept for it with ``vocoder``."""
    import torch

    def render(prompt: str, seed: int) -> np.ndarray:
        with torch.inference_mode():
            return vocoder(recorder.mels[(prompt, seed)])[0].float().numpy()[:n_samples]

    return render


def model_renderer(model_name: str | None, steps: int | None, guidance: float | None, scheduler: str,
                   duration: float, device: str = "cpu", guidance_low: float | None = None,
                   guidance_until: float | None = None):
    """``render(prompt, seed)`` for :func:`evaluate`; None for a sampler setting means the model's default."""
    from ..loader import ModelCache
    from ..pipeline import generate_waveforms
    from ..request import RenderRequest

    cache = ModelCache(device=device, dtype="float32")  # the figures must match a CPU render
    model = cache.get(model_name)
    if not isinstance(model.vocoder, MelRecorder):
        model.vocoder = MelRecorder(model.vocoder)

    def render(prompt: str, seed: int) -> np.ndarray:
        req = RenderRequest(prompt=prompt, duration_s=duration, steps=steps, guidance_scale=guidance,
                            guidance_low=guidance_low, guidance_until=guidance_until, seed=1000 + seed,
                            scheduler=scheduler, raw=True, model=model_name)
        model.vocoder.key = (prompt, seed)
        return generate_waveforms(model, req).audio[0]

    used = RenderRequest(prompt="x", steps=steps, guidance_scale=guidance, guidance_low=guidance_low,
                         guidance_until=guidance_until).resolved(model.sampler_defaults)
    low = "" if used.guidance_low is None else f" (spectral tilt {used.guidance_low:g})"
    until = "" if used.guidance_until is None else f", guided for the first {used.guidance_until:g} of the steps"
    render.model = model
    render.settings = (f"{scheduler} {used.steps} steps, guidance {used.guidance_scale:g}{low}{until}, "
                       f"{duration:g} s clips")
    return render


#: Sustained sounds in a user's words (issue 20's failures among them): each should sound for the
#: whole requested length.
SUSTAINED_PROMPTS = ("a clean pure sine tone", "a sine tone at 440 Hz", "deep brown noise rumble",
                     "a steady droning organ note that goes on and on", "steady heavy rain", "white noise hiss")
FILL_DURATIONS_S = (0.5, 2.0, 5.0, 10.0)


def duration_fill_check(model, seeds: int = 4, prompts=SUSTAINED_PROMPTS, durations=FILL_DURATIONS_S,
                        steps: int | None = None, scheduler: str = "dpmpp", threshold: float = 0.9,
                        guidance: float | None = None, guidance_low: float | None = None,
                        guidance_until: float | None = None) -> dict:
    """Does a sustained sound fill the requested duration? For each prompt, duration and seed, the
    active part (time within 30 dB of the peak, :func:`engine.descriptors.effective_duration_s`)
    over the requested length; a render passes at ``threshold`` (issue 20: 90 %)."""
    from .. import descriptors
    from ..pipeline import generate_waveforms
    from ..request import RenderRequest

    durations = [d for d in durations if d <= model.max_duration_s]
    rows = []
    for prompt in prompts:
        for d in durations:
            for seed in range(seeds):
                if isinstance(model.vocoder, MelRecorder):
                    model.vocoder.key = ("fill", prompt, d, seed)
                req = RenderRequest(prompt=prompt, duration_s=d, steps=steps, seed=1000 + seed,
                                    guidance_scale=guidance, guidance_low=guidance_low,
                                    guidance_until=guidance_until, scheduler=scheduler, raw=True)
                wav = generate_waveforms(model, req).audio[0][: int(round(d * model.sample_rate))]
                fill = descriptors.effective_duration_s(wav, model.sample_rate) / d
                rows.append({"prompt": prompt, "duration_s": d, "seed": seed, "fill": fill,
                             "passed": bool(fill >= threshold)})
    by_duration = {d: (sum(r["passed"] for r in rows if r["duration_s"] == d),
                       sum(1 for r in rows if r["duration_s"] == d)) for d in durations}
    by_prompt = {p: (sum(r["passed"] for r in rows if r["prompt"] == p),
                     sum(1 for r in rows if r["prompt"] == p)) for p in prompts}
    by_seed = [float(np.mean([r["passed"] for r in rows if r["seed"] == s])) for s in range(seeds)]
    return {"threshold": threshold, "rows": rows, "passed": sum(r["passed"] for r in rows), "renders": len(rows),
            "by_duration": by_duration, "by_prompt": by_prompt,
            "seed_spread": float(np.ptp(by_seed)) if rows else 0.0}


def format_fill(check: dict) -> str:
    lines = [f"duration fill (sustained prompts, active part >= {100 * check['threshold']:.0f} % of the length): "
             f"{check['passed']}/{check['renders']}, spread between seeds {100 * check['seed_spread']:.0f} points"]
    lines.append("  by duration: " + ", ".join(f"{d:g} s {p}/{n}" for d, (p, n) in check["by_duration"].items()))
    lines += [f"  {p!r}: {k}/{n}, fill " + " ".join(
        f"{r['fill']:.2f}" for r in check["rows"] if r["prompt"] == p) for p, (k, n) in check["by_prompt"].items()]
    return "\n".join(lines)


#: Real recordings nobody here synthesised: the alsa-utils test voices (Debian's alsa-utils /
#: libasound2-data, 48 kHz speech). ``--recordings`` adds others (instrument samples, festival voices).
REAL_RECORDINGS = tuple(f"/usr/share/sounds/alsa/{n}.wav" for n in
                        ("Front_Center", "Front_Left", "Rear_Right", "Side_Left"))
#: Recorded instrument samples (22.05-22.5 kHz, so they reach 8 kHz) in Debian's timgm6mb-soundfont.
SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
SOUNDFONT_SAMPLES = ("TrumpD#6", "Oboe C#", "TubeBell", "SopLowE", "FluteA#5", "A#2 FrenchHorn1")


def soundfont_samples(path: str, names, folder) -> list[str]:
    """Write the named samples of a SoundFont 2 file (RIFF ``sdta/smpl`` 16-bit PCM, located by the
    ``pdta/shdr`` headers) to WAV files in ``folder``; returns their paths (none if the file is absent)."""
    import struct
    from pathlib import Path

    import soundfile as sf

    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError(f"{path} is not a SoundFont 2 file")
    lists = {}
    off = 12
    while off + 8 <= len(data):
        cid, size = data[off:off + 4], struct.unpack("<I", data[off + 4:off + 8])[0]
        if cid == b"LIST":
            sub = off + 12
            while sub + 8 <= off + 8 + size:
                c2, s2 = data[sub:sub + 4], struct.unpack("<I", data[sub + 4:sub + 8])[0]
                lists[c2] = (sub + 8, s2)
                sub += 8 + s2 + (s2 & 1)
        off += 8 + size + (size & 1)
    smpl_off, _ = lists[b"smpl"]
    shdr_off, shdr_size = lists[b"shdr"]
    out = []
    for i in range(shdr_size // 46):
        rec = data[shdr_off + 46 * i:shdr_off + 46 * (i + 1)]
        name = rec[:20].split(b"\0")[0].decode("latin-1")
        if name not in names:
            continue
        start, end, _, _, rate = struct.unpack("<5I", rec[20:40])
        pcm = np.frombuffer(data, dtype="<i2", count=end - start, offset=smpl_off + 2 * start)
        dest = Path(folder) / (re.sub(r"[^\w]+", "_", name) + ".wav")
        sf.write(str(dest), pcm.astype(np.float32) / 32768, rate, subtype="PCM_16")
        out.append(str(dest))
    return out


def _band_db(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    from scipy.signal import welch

    f, p = welch(np.asarray(x, dtype=np.float64).mean(axis=1) if x.ndim > 1 else x, sr, nperseg=4096)
    return float(10 * np.log10(np.mean(p[(f >= lo) & (f < hi)]) + 1e-30))


def superres_check(model, recordings, seeds: int = 4, cutoff_hz: float = 4000.0, steps: int | None = None,
                   workdir=None) -> dict:
    """Super-resolution on real recordings: each is band-limited at ``cutoff_hz`` (the phone case),
    upsampled by the model, and its 4.5-7.5 kHz band compared with the original's (the goal: within
    6 dB); the band below the cutoff must change by under 1 dB. Returns per-recording, per-seed rows
    and the mean and spread over seeds. Recordings that do not exist are skipped and listed."""
    import tempfile
    from pathlib import Path

    import soundfile as sf

    from .. import regions
    from ..editing import render_edit
    from ..request import RenderRequest

    rows, missing = [], [str(r) for r in recordings if not Path(r).is_file()]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for rec in (Path(r) for r in recordings if Path(r).is_file()):
            original, sr = sf.read(str(rec), always_2d=True)
            limited = regions.band_filter(original, sr, None, cutoff_hz)
            src = Path(tmp) / f"{rec.stem}-limited.wav"
            sf.write(str(src), limited, sr, subtype="FLOAT")
            orig_band = _band_db(original, sr, 4500, 7500)
            lim_band = _band_db(limited, sr, 4500, 7500)
            for seed in range(seeds):
                req = RenderRequest(mode="upsample", source_path=str(src), cutoff_hz=cutoff_hz, steps=steps,
                                    seed=1000 + seed)
                clip = render_edit(model, req, output=Path(tmp) / f"{rec.stem}-{seed}.wav").clips[0]
                out, _ = sf.read(str(clip.path), always_2d=True)
                rows.append({"recording": str(rec), "seed": seed,
                             "band_vs_original_db": _band_db(out, sr, 4500, 7500) - orig_band,
                             "limited_vs_original_db": lim_band - orig_band,
                             "low_band_change_db": abs(_band_db(out, sr, 300, 0.9 * cutoff_hz)
                                                       - _band_db(limited, sr, 300, 0.9 * cutoff_hz))})
    gaps = np.array([r["band_vs_original_db"] for r in rows]) if rows else np.zeros(0)
    per_seed = [float(np.mean([r["band_vs_original_db"] for r in rows if r["seed"] == s])) for s in range(seeds)]
    return {"cutoff_hz": cutoff_hz, "rows": rows, "missing": missing,
            "within_6db": int(np.sum(np.abs(gaps) <= 6.0)), "renders": len(rows),
            "mean_band_vs_original_db": float(gaps.mean()) if rows else None,
            "seed_spread_db": float(np.ptp(per_seed)) if rows else None,
            "max_low_band_change_db": max((r["low_band_change_db"] for r in rows), default=None)}


def format_superres(check: dict) -> str:
    from pathlib import Path

    if not check["rows"]:
        return f"super-resolution on real recordings: none found ({', '.join(check['missing'])})"
    limited = np.mean([r["limited_vs_original_db"] for r in check["rows"]])
    return (f"super-resolution on real recordings (band-limited at {check['cutoff_hz']:g} Hz, "
            f"{check['renders']} renders): 4.5-7.5 kHz band {check['mean_band_vs_original_db']:+.1f} dB "
            f"against the original (band-limited input: {limited:+.1f} dB), {check['within_6db']}/"
            f"{check['renders']} within 6 dB, spread between seeds {check['seed_spread_db']:.1f} dB; "
            f"below the cutoff at most {check['max_low_band_change_db']:.2f} dB changed\n  by recording: " + ", ".join(
                f"{Path(rec).stem} {np.mean(g):+.1f} dB ({sum(abs(v) <= 6 for v in g)}/{len(g)})"
                for rec, g in _by_recording(check["rows"]).items()))


def _by_recording(rows) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        out[r["recording"]].append(r["band_vs_original_db"])
    return out


def seed_spread(report: Report) -> float:
    """Largest minus smallest per-seed accuracy, in points."""
    per_seed = [p / n for p, n in report.by_seed().values()]
    return 100 * (max(per_seed) - min(per_seed)) if per_seed else 0.0


def format_set(name: str, report: Report) -> str:
    """One evaluation set in a few lines: overall, seeds and their spread, per attribute, per family."""
    seeds = ", ".join(f"{100 * p / n:.1f}" for p, n in report.by_seed().values())
    lines = [f"{name}: {100 * report.overall:.1f} % of {len(report.checks)} checks (by seed {seeds}; "
             f"spread {seed_spread(report):.1f} points)"]
    lines.append("  by attribute: " + ", ".join(f"{k} {p}/{n}" for k, (p, n) in report.by_attribute().items()))
    lines.append("  by family: " + ", ".join(f"{k} {p}/{n}" for k, (p, n) in report.by_family().items()))
    return "\n".join(lines)


def main(args) -> int:
    until = getattr(args, "guidance_until", None)
    render = model_renderer(args.model, args.steps, args.guidance, args.scheduler, args.duration,
                            args.device, args.guidance_low, until)
    report = evaluate(render, seeds=args.seeds)
    print(f"sampler: {render.settings}")
    print(report.format())
    recorder = render.model.vocoder
    plain = plain_griffin_lim()
    reference = evaluate(redecode(recorder, plain, int(round(args.duration * 16_000))), seeds=args.seeds)
    print(f"\nthe same renders through plain Griffin-Lim (least-squares magnitude) instead of the model's "
          f"vocoder: {100 * reference.overall:.1f} %")
    print("  " + ", ".join(f"{k} {p}/{n}" for k, (p, n) in reference.by_attribute().items()))
    print()
    print(format_set("main held-out set", report))
    unseen = evaluate(render, corpus.unseen_vocabulary_prompts(), seeds=args.seeds)
    print(format_set("unseen-vocabulary set (words no caption template has)", unseen))
    wording = evaluate(render, corpus.unseen_wording_prompts(), seeds=args.seeds)
    print(format_set("unseen-wording set (a user's own sentences)", wording))
    named = named_pitch_check(render, {"main held-out set": corpus.held_out_prompts(),
                                       "unseen-wording set": corpus.unseen_wording_prompts()}, seeds=args.seeds,
                              rendered={**report.pitched, **wording.pitched})  # not rendered again
    print(format_named_pitch(named))
    ceiling = vocoder_ceiling({"plain Griffin-Lim": plain, "model's vocoder": recorder.inner})
    acc, dist = ceiling["accuracy"], ceiling["mr_stft_distance"]
    print(f"vocoder: the same checks on {ceiling['checks']} corpus attributes pass "
          f"{100 * acc['original']:.1f} % on the original audio; after mel -> vocoder: " + ", ".join(
              f"{name} {100 * acc[name]:.1f} % (MR-STFT distance {dist[name]:.3f})" for name in dist))
    fill = duration_fill_check(render.model, seeds=args.seeds, steps=args.steps, scheduler=args.scheduler,
                               guidance=args.guidance, guidance_low=args.guidance_low, guidance_until=until)
    print(format_fill(fill))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        instruments = soundfont_samples(SOUNDFONT, SOUNDFONT_SAMPLES, tmp)
        superres = superres_check(render.model, list(REAL_RECORDINGS) + instruments + list(args.recordings or []),
                                  seeds=args.seeds, steps=args.steps)
    print(format_superres(superres))
    if args.json:
        def summary(r: Report) -> dict:
            return {"overall": r.overall, "by_attribute": r.by_attribute(), "by_family": r.by_family(),
                    "by_seed": r.by_seed(), "seed_spread_points": seed_spread(r)}

        with open(args.json, "w") as f:
            json.dump({**summary(report), "checks": report.checks, "settings": render.settings,
                       "unseen_vocabulary": summary(unseen), "unseen_wording": summary(wording),
                       "plain_griffin_lim": {"overall": reference.overall, "by_attribute": reference.by_attribute()},
                       "vocoder_ceiling": ceiling, "duration_fill": {**fill, "by_duration": {str(k): v for k, v in fill["by_duration"].items()}},
                       "superres": superres, "named_pitch": named}, f, indent=2)
    return 0
