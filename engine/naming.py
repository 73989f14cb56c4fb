"""Every output file name, for every mode and every front end, in one place.

* The command line keeps readable names: ``<prompt>-<seed>.wav`` for text-to-audio,
  ``<source stem>-<mode>-<seed>.wav`` for edits; ``-o FILE.wav`` is taken as given (``-v2`` ...
  for more variations) and an existing file is moved to a ``.bak`` name first.
* A service job's files also carry the job id: ``<prompt>-<seed>-j<job>.wav``. Two jobs never share
  a file, however alike their requests ("keep the seed, tweak the guidance"), so a job's journal
  ``outputs`` always point at its own audio, and re-running the same job after a crash replaces
  only its own files.
"""

from __future__ import annotations

import re
from pathlib import Path

from . import paths
from .request import RenderRequest


def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text.lower()).strip("-")
    return (s[:limit].rstrip("-")) or "clip"


def base_name(request: RenderRequest) -> str:
    """What a clip is called before its seed: the prompt, or the source file and the edit mode."""
    if request.is_edit and request.source_path:
        return f"{slug(Path(request.source_path).stem)}-{request.mode.replace('_', '-')}"
    return slug(request.prompt or request.mode)


def clip_name(request: RenderRequest, seed: int, job_id: int | None = None) -> str:
    job = f"-j{int(job_id)}" if job_id is not None else ""
    return f"{base_name(request)}-{seed}{job}.wav"


def clip_paths(request: RenderRequest, seeds: list[int], *, output: str | Path | None = None,
               job_id: int | None = None) -> list[Path]:
    """The files one render writes, one per output seed.

    ``output``: a ``.wav`` file (taken as given, ``-v<i>`` added when there are several), a folder,
    or None (the output library, :func:`engine.paths.output_dir`).
    """
    if output is not None:
        out = Path(output).expanduser()
        if out.suffix.lower() == ".wav":
            if len(seeds) == 1:
                return [out]
            return [out.with_name(f"{out.stem}-v{i + 1}{out.suffix}") for i in range(len(seeds))]
        folder = out
    else:
        folder = paths.output_dir()
    return [folder / clip_name(request, s, job_id) for s in seeds]


def job_temp_pattern(request: RenderRequest, job_id: int) -> re.Pattern[str]:
    """The temp files (``.NAME.wav.XXXX.part``, :func:`engine.audio_io.write_clip`) a job's clips
    and sidecars are written through: what a killed engine may leave behind for that job only."""
    return re.compile(rf"^\.{re.escape(base_name(request))}-\d+-j{int(job_id)}\.wav(\.json)?\..*\.part$")
