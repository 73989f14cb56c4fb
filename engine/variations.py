"""The variation x candidate loop every mode shares: ``variations`` outputs, each the best of
``candidates`` renders by CLAP text-audio similarity, with progress (and previews) reported across
all of them. Variation *i*, candidate *j* uses seed ``seed + i*K + j`` (:meth:`RenderRequest.seed_for`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

import numpy as np

from .model import LoadedModel
from .request import RenderRequest
from .sampling import ProgressFn, StageTimes, StepInfo, clap_scores

T = TypeVar("T")


@dataclass
class Pick(Generic[T]):
    """The kept candidate of one variation."""

    output: T
    seed: int
    score: float | None


def no_rerank_reason(model: LoadedModel, request: RenderRequest) -> str | None:
    """Why several candidates cannot be re-ranked (then the first of each variation is kept)."""
    if request.candidates <= 1:
        return None
    if model.clap is None:
        return (f"this model has no CLAP audio branch, so {request.candidates} candidates cannot be re-ranked; "
                f"the first candidate of each variation is kept")
    if not request.prompt.strip():
        return ("candidates are re-ranked by their match to the prompt, and there is none; "
                "the first candidate of each variation is kept")
    return None


def best_of_candidates(model: LoadedModel, request: RenderRequest,
                       run: Callable[[int, ProgressFn], T], audio_of: Callable[[T], np.ndarray | None], *,
                       progress: ProgressFn | None, times: StageTimes, rerank: bool) -> list[Pick[T]]:
    """``run(seed, report)`` renders one candidate, calling ``report`` after each of its steps;
    ``audio_of(output)`` is the 16 kHz mono audio CLAP scores, or None when nothing was generated
    (then the other candidates would be the same: they are skipped)."""
    total_runs = request.variations * request.candidates
    picks: list[Pick[T]] = []
    for v in range(request.variations):
        outs: list[T] = []
        seeds: list[int] = []
        for c in range(request.candidates):
            seed = request.seed_for(v, c)
            run_index = v * request.candidates + c

            def report(info: StepInfo, run_index: int = run_index) -> None:
                if progress is None:
                    return
                done = run_index * info.total + info.step
                whole = total_runs * info.total
                progress(StepInfo(step=done, total=whole, elapsed_s=info.elapsed_s,
                                  eta_s=info.elapsed_s / max(info.step, 1) * (whole - done), preview=info.preview))

            out = run(seed, report)
            outs.append(out)
            seeds.append(seed)
            if audio_of(out) is None:
                break
        best, score = 0, None
        audios = [audio_of(o) for o in outs]
        if rerank and len(outs) > 1 and all(a is not None for a in audios):
            t0 = time.perf_counter()
            sims = clap_scores(model, request.prompt, np.stack(audios))
            times.clap += time.perf_counter() - t0
            if sims is not None:
                best = int(np.argmax(sims))
                score = float(sims[best])
        picks.append(Pick(outs[best], seeds[best], score))
    return picks
