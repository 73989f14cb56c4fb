"""The Ableton Live remote script against fake Live objects: the selected clip out (markers to
seconds through the song tempo), results back into an empty Session slot or a take lane at the
clip's beat position, and the whole exchange with the bridge's OSC over real UDP."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge.adapters.live import AudioLDMBridge as remote
from daw_bridge.adapters.live.AudioLDMBridge import osc
from daw_bridge.adapters.live.AudioLDMBridge.handler import LiveError, LiveHandler
from daw_bridge.osc import addresses as A


class Clip:
    def __init__(self, path, start=0.0, end=4.0, warping=False, audio=True, arrangement=None):
        self.file_path, self.start_marker, self.end_marker = path, start, end
        self.warping, self.is_audio_clip, self.name = warping, audio, "take"
        self.is_arrangement_clip = arrangement is not None
        self.start_time = arrangement or 0.0


class Slot:
    def __init__(self, clip=None):
        self.clip, self.created = clip, None

    @property
    def has_clip(self):
        return self.clip is not None

    def create_audio_clip(self, path):
        self.created = path
        self.clip = Clip(path)


class Lane:
    def __init__(self):
        self.clips = []

    def create_audio_clip(self, path, at):
        self.clips.append((path, at))


class Track:
    def __init__(self, slots, name="Audio"):
        self.clip_slots, self.name, self.take_lanes, self.arranged = slots, name, [], []

    def create_take_lane(self):
        self.take_lanes.append(Lane())

    def create_audio_clip(self, path, at):
        self.arranged.append((path, at))


class View:
    def __init__(self, track, slot, detail=None):
        self.selected_track, self.highlighted_clip_slot, self.detail_clip = track, slot, detail


class Song:
    def __init__(self, tracks, view, tempo=120.0):
        self.tracks, self.view, self.tempo = tracks, view, tempo


def session(path, **kw):
    slot = Slot(Clip(str(path), **kw))
    track = Track([slot, Slot(), Slot()])
    return Song([Track([Slot()], "Drums"), track], View(track, slot), tempo=90.0), track


def test_the_selected_clip_becomes_a_region_in_seconds(tmp_path):
    song, track = session(tmp_path / "vox.wav", start=3.0, end=9.0)
    c = LiveHandler(song).selected()
    assert (c["start_s"], c["end_s"]) == (2.0, 6.0)  # beats at 90 bpm
    assert (c["track"], c["slot"], c["arrangement_beats"]) == (1, 0, None)


@pytest.mark.parametrize("kw,needle", [
    ({"warping": True}, "is warped"), ({"audio": False}, "MIDI clip"), ({"path": ""}, "gives no file"),
])
def test_clips_live_cannot_hand_over_get_a_clear_message(tmp_path, kw, needle):
    path = kw.pop("path", str(tmp_path / "a.wav"))
    song, _ = session(path, **kw)
    with pytest.raises(LiveError, match=needle):
        LiveHandler(song).selected()
    empty = Song([Track([Slot()])], View(None, None))
    with pytest.raises(LiveError, match="select an audio clip"):
        LiveHandler(empty).selected()


def test_results_go_to_an_empty_slot_or_a_take_lane_never_over_the_original(tmp_path):
    song, track = session(tmp_path / "vox.wav")
    h = LiveHandler(song)
    assert h.insert("/r/1.wav", 1, slot=0) == "'Audio' slot 2"
    assert track.clip_slots[0].clip.file_path.endswith("vox.wav") and track.clip_slots[1].created == "/r/1.wav"
    assert h.insert("/r/2.wav", 1, slot=0) == "'Audio' slot 3"
    with pytest.raises(LiveError, match="no empty clip slot"):
        h.insert("/r/3.wav", 1, slot=0)
    assert "take lane 1" in h.insert("/r/4.wav", 1, beats_at=16.0, take_lane=True)
    assert track.take_lanes[0].clips == [("/r/4.wav", 16.0)]
    with pytest.raises(LiveError, match="no track 5"):
        h.insert("/r/5.wav", 4)


def test_the_remote_script_talks_to_the_bridge_over_udp(tmp_path, monkeypatch):
    source = tmp_path / "vox.wav"
    sf.write(str(source), np.zeros(48000 * 8, np.float32), 48000)
    song, track = session(source, start=3.0, end=6.0)
    bridge = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bridge.bind(("127.0.0.1", 0))
    bridge.settimeout(5)
    monkeypatch.setattr(remote, "PORT", 0)
    monkeypatch.setattr(remote, "BRIDGE", bridge.getsockname())

    class Instance:
        def song(self):
            return song

    script = remote.create_instance(Instance())
    try:
        user = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        user.sendto(osc.encode("/audioldm/live/run", "style_transfer", "a choir", 0.4), script.sock.getsockname())
        time.sleep(0.1)
        script.update_display()
        data, addr = bridge.recvfrom(65535)
        address, args = osc.decode(data)
        # What the script sends is a valid request for the bridge's own address space.
        sub = A.parse_render(address, args, [tmp_path])
        assert (sub.request.mode, sub.request.region_start_s, sub.request.region_end_s) == ("style_transfer", 2.0, 4.0)
        assert (sub.request.prompt, sub.request.strength) == ("a choir", pytest.approx(0.4))
        bridge.sendto(osc.encode("/audioldm/done", sub.job_id, "/lib/choir-j3.wav"), addr)
        time.sleep(0.1)
        script.update_display()
        assert track.clip_slots[1].created == "/lib/choir-j3.wav"
        user.close()
    finally:
        script.disconnect()
        bridge.close()


def test_mini_osc_codec_round_trips():
    data = osc.encode("/audioldm/x", "é text", 3, 2.5)
    assert osc.decode(data) == ("/audioldm/x", ["é text", 3, 2.5])
    from pythonosc.osc_message import OscMessage

    msg = OscMessage(data)  # python-osc reads what the script writes
    assert msg.address == "/audioldm/x" and list(msg.params) == ["é text", 3, 2.5]
