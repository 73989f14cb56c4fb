"""Resident memory of memory-mapped weights (issue 21, item 2).

diffusers and transformers load ``.safetensors`` weights as private, read-only memory maps of the
files: nothing is copied at load, and a weight page becomes resident (counted in the process's
RSS) the first time a stage reads it. After one render every page of every component is resident
at once: for AudioLDM-S on the CPU, 1.7 GB of float32 weights (text encoder 0.48 GB, UNet 0.71,
VAE 0.21, vocoder 0.21) on top of the activations and torch itself, 2.4 GB in all.

A stage's weights are not needed while the other stages run, so :func:`release` hands their pages
back to the OS (``madvise(MADV_DONTNEED)``) when the stage is done: the next read faults them in
again from the page cache (the file's pages stay cached by the kernel, outside this process's
RSS), so the next render pays a fraction of a second of page faults and nothing is re-read from
disk unless the machine needs the memory. Only mappings that are exactly the weight files and
hold no written (copy-on-write) page are released, so the values read back are always the file's,
which are the weights in use: a component that was copied at load (another dtype, channels-last)
is not memory-mapped and is left alone.

The loader turns it on for models whose memory-mapped weights pass :data:`THRESHOLD_BYTES` on the
CPU (``LoadedModel.release_weights``); ``AUDIOLDM_BRIDGE_RELEASE_WEIGHTS=0|1`` overrides. Linux
only (``/proc/self/smaps``); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache

ENV = "AUDIOLDM_BRIDGE_RELEASE_WEIGHTS"
#: Below this much memory-mapped weight (the built-in model has 30 MB) releasing saves nothing that matters.
THRESHOLD_BYTES = 256 * 2**20
MADV_DONTNEED = 4
WEIGHT_SUFFIXES = (".safetensors",)
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")


@dataclass
class Mapping:
    start: int
    end: int
    path: str
    rss_bytes: int = 0
    anonymous_bytes: int = 0  # copy-on-write pages: written after mapping (never released)


def supported() -> bool:
    return sys.platform.startswith("linux") and os.path.exists("/proc/self/smaps")


def weight_mappings() -> list[Mapping]:
    """This process's memory maps of weight files, from ``/proc/self/smaps``."""
    out: list[Mapping] = []
    current: Mapping | None = None
    with open("/proc/self/smaps") as f:
        for line in f:
            m = _HEADER.match(line)
            if m:
                path = m.group(4)
                current = Mapping(int(m.group(1), 16), int(m.group(2), 16), path) if path.endswith(WEIGHT_SUFFIXES) else None
                if current is not None:
                    out.append(current)
            elif current is not None:
                if line.startswith("Rss:"):
                    current.rss_bytes = int(line.split()[1]) * 1024
                elif line.startswith("Anonymous:"):
                    current.anonymous_bytes = int(line.split()[1]) * 1024
    return out


def _tensor_starts(module) -> list[int]:
    tensors = list(module.parameters()) + list(module.buffers())
    return [t.data_ptr() for t in tensors if t.device.type == "cpu"]


def mapped_bytes(*modules) -> int:
    """How many bytes of these modules' weights live in memory-mapped weight files."""
    modules = [m for m in modules if m is not None]
    if not modules or not supported():
        return 0
    starts = [p for m in modules for p in _tensor_starts(m)]
    return sum(m.end - m.start for m in weight_mappings() if any(m.start <= p < m.end for p in starts))


@lru_cache(maxsize=1)
def _madvise():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc.madvise


def release(module) -> int:
    """Hand the resident pages of ``module``'s memory-mapped weights back to the OS; returns the
    bytes that were resident. Safe to call at any time: the pages come back on the next read."""
    if module is None or not supported():
        return 0
    starts = _tensor_starts(module)
    madvise = _madvise()
    released = 0
    for m in weight_mappings():
        if m.anonymous_bytes or not m.rss_bytes or not any(m.start <= p < m.end for p in starts):
            continue
        if madvise(m.start, m.end - m.start, MADV_DONTNEED) == 0:
            released += m.rss_bytes
    return released


def should_release(mapped: int, device) -> bool:
    """The loader's choice: on the CPU, when ``mapped`` bytes of weights (:func:`mapped_bytes`) pass
    :data:`THRESHOLD_BYTES` (``AUDIOLDM_BRIDGE_RELEASE_WEIGHTS`` overrides)."""
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1" and supported()
    if getattr(device, "type", str(device)) != "cpu" or not supported():
        return False
    return mapped >= THRESHOLD_BYTES
