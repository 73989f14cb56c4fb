"""The Ableton Live side: what the AudioLDM Bridge remote script does with Live's objects.

Kept free of Live's runtime (``Live``, ``_Framework``) so it runs against fake objects in the
tests: :class:`LiveHandler` takes the Song. ``selected()`` reports the selected clip (file path,
markers, warping, where it sits); ``insert()`` puts a rendered file back, never replacing the
user's clip: into an empty Session slot (the next one down from the original), onto the
Arrangement at a position in beats, or into a take lane beside the original.

Markers: Live gives an audio clip's ``start_marker`` / ``end_marker`` in beats. For an unwarped
clip those beats are the song's tempo applied to seconds of the file, so the region is
``marker * 60 / tempo`` seconds. Warped clips map beats to the file through warp markers that the
API does not let us read reliably, so they are refused with a message (unwarp or consolidate).
"""

from __future__ import annotations


class LiveError(Exception):
    """A message for the user, sent back as an error."""


def seconds(beats: float, tempo: float) -> float:
    return beats * 60.0 / tempo


def beats(secs: float, tempo: float) -> float:
    return secs * tempo / 60.0


class LiveHandler:
    def __init__(self, song) -> None:
        self.song = song

    def _selected_slot(self):
        view = self.song.view
        slot = getattr(view, "highlighted_clip_slot", None)
        track = view.selected_track
        return track, slot

    def selected(self) -> dict:
        track, slot = self._selected_slot()
        clip = getattr(self.song.view, "detail_clip", None)
        if clip is None and slot is not None and slot.has_clip:
            clip = slot.clip
        if clip is None:
            raise LiveError("select an audio clip first (click it in Session or Arrangement view)")
        if not getattr(clip, "is_audio_clip", False):
            raise LiveError(f"'{clip.name}' is a MIDI clip; select an audio clip")
        path = getattr(clip, "file_path", "") or ""
        if not path:
            raise LiveError(f"Live gives no file for '{clip.name}' (a recording not yet saved, or a frozen "
                            f"track); save the set or consolidate the clip (Ctrl+J), then try again")
        if clip.warping:
            raise LiveError(f"'{clip.name}' is warped: its markers do not map to seconds of the file. Turn "
                            f"warping off for the clip (or consolidate it) and try again")
        tempo = float(self.song.tempo)
        tracks = list(self.song.tracks)
        track_index = tracks.index(track) if track in tracks else -1
        slots = list(track.clip_slots) if track_index >= 0 else []
        slot_index = slots.index(slot) if slot in slots else -1
        return {
            "file_path": path, "name": clip.name, "tempo": tempo,
            "start_s": seconds(float(clip.start_marker), tempo), "end_s": seconds(float(clip.end_marker), tempo),
            "track": track_index, "slot": slot_index,
            "arrangement_beats": float(getattr(clip, "start_time", 0.0)) if getattr(clip, "is_arrangement_clip", False) else None,
        }

    def insert(self, path: str, track: int, *, slot: int | None = None, beats_at: float | None = None,
               take_lane: bool = False) -> str:
        """Put ``path`` back: a take lane (Arrangement, beside the original), the Arrangement at
        ``beats_at``, or the first empty Session slot from ``slot`` down. Returns what was done."""
        tracks = list(self.song.tracks)
        if not 0 <= track < len(tracks):
            raise LiveError(f"there is no track {track + 1}")
        t = tracks[track]
        if not getattr(t, "has_audio_input", True):
            raise LiveError(f"track '{t.name}' is not an audio track")
        if take_lane or beats_at is not None:
            at = float(beats_at or 0.0)
            if take_lane:
                lanes = list(getattr(t, "take_lanes", []))
                if not lanes:
                    t.create_take_lane()
                    lanes = list(t.take_lanes)
                lanes[-1].create_audio_clip(path, at)
                return f"take lane {len(lanes)} of '{t.name}' at beat {at:g}"
            t.create_audio_clip(path, at)
            return f"'{t.name}' at beat {at:g}"
        slots = list(t.clip_slots)
        start = max(0, slot if slot is not None else 0)
        for i in range(start, len(slots)):
            if not slots[i].has_clip:
                slots[i].create_audio_clip(path)
                return f"'{t.name}' slot {i + 1}"
        raise LiveError(f"no empty clip slot below slot {start + 1} on '{t.name}'; add a scene and try again")
