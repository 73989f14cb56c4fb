"""Time and placement between a DAW timeline and a source file, as pure functions.

* A DAW item (REAPER take, Ardour region) plays its source from ``offset_s`` at ``playrate``:
  ``length_s`` of timeline is ``length_s * playrate`` of source. :func:`source_region` gives the
  region of the source file the item shows; :func:`timeline_span` maps a time selection on the
  timeline into source seconds (for an inpainting gap).
* BWF ``bext`` TimeReference is samples since midnight at the file's rate: :func:`time_reference`
  and :func:`timeline_seconds` convert.
* A tempo map is a list of (beat, bpm) changes from beat 0: :func:`seconds_to_beats` and
  :func:`beats_to_seconds` integrate it (constant tempo between changes).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

from engine.errors import InvalidRequest


@dataclass(frozen=True)
class SourceRegion:
    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def source_region(offset_s: float, length_s: float, playrate: float = 1.0,
                  source_length_s: float | None = None) -> SourceRegion:
    """The part of the source an item plays: from ``offset_s`` (the take's start offset), for
    ``length_s * playrate`` seconds; clipped to the source when its length is known (a looped item
    longer than its source renders the source's end)."""
    if not playrate > 0:
        raise InvalidRequest(f"the play rate must be above 0, got {playrate!r}")
    if length_s <= 0:
        raise InvalidRequest(f"the item length must be above 0 s, got {length_s!r}")
    start = max(0.0, float(offset_s))
    end = start + float(length_s) * float(playrate)
    if source_length_s is not None:
        end = min(end, float(source_length_s))
        if end <= start:
            raise InvalidRequest(f"the item starts at {start:g} s, past the end of its source "
                                 f"({source_length_s:g} s)")
    return SourceRegion(start, end)


def timeline_span(item_position_s: float, offset_s: float, playrate: float, t0: float, t1: float,
                  ) -> SourceRegion:
    """A timeline span [t0, t1] over an item, in source seconds (an inpainting gap chosen on the
    timeline)."""
    if t1 <= t0:
        raise InvalidRequest(f"the time selection must end after it starts ({t0:g} to {t1:g} s)")
    a = offset_s + (t0 - item_position_s) * playrate
    b = offset_s + (t1 - item_position_s) * playrate
    return SourceRegion(a, b)


def time_reference(timeline_s: float, sample_rate: int) -> int:
    """BWF TimeReference (samples since midnight at ``sample_rate``) of a timeline position."""
    if timeline_s < 0:
        raise InvalidRequest(f"a timeline position cannot be negative, got {timeline_s:g} s")
    return int(round(timeline_s * sample_rate))


def timeline_seconds(time_reference_samples: int, sample_rate: int) -> float:
    return time_reference_samples / float(sample_rate)


def _segments(tempo_map: Sequence[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """(start beat, start seconds, bpm) per tempo segment."""
    if not tempo_map or tempo_map[0][0] != 0:
        raise InvalidRequest("a tempo map starts at beat 0: [(0, bpm), (beat, bpm), ...]")
    out, seconds = [], 0.0
    for i, (beat, bpm) in enumerate(tempo_map):
        if not bpm > 0:
            raise InvalidRequest(f"tempo must be above 0 bpm, got {bpm!r}")
        if i:
            prev_beat, prev_s, prev_bpm = out[-1]
            if beat <= prev_beat:
                raise InvalidRequest("tempo changes must be in increasing beat order")
            seconds = prev_s + (beat - prev_beat) * 60.0 / prev_bpm
        out.append((float(beat), seconds, float(bpm)))
    return out


def beats_to_seconds(beats: float, tempo_map: Sequence[tuple[float, float]]) -> float:
    segs = _segments(tempo_map)
    i = max(0, bisect.bisect_right([s[0] for s in segs], beats) - 1)
    beat, seconds, bpm = segs[i]
    return seconds + (beats - beat) * 60.0 / bpm


def seconds_to_beats(seconds: float, tempo_map: Sequence[tuple[float, float]]) -> float:
    segs = _segments(tempo_map)
    i = max(0, bisect.bisect_right([s[1] for s in segs], seconds) - 1)
    beat, start_s, bpm = segs[i]
    return beat + (seconds - start_s) * bpm / 60.0
