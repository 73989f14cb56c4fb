"""Placement functions, the external-editor mode (edit in place, undo bit for bit) and the Bitwig push."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge import placement as P
from engine.errors import BridgeError, InvalidRequest

VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")


def test_item_offset_and_play_rate_to_a_source_region():
    r = P.source_region(offset_s=1.5, length_s=2.0, playrate=1.5)
    assert (r.start_s, r.end_s) == (1.5, 4.5)
    assert P.source_region(0.5, 10.0, 1.0, source_length_s=3.0).end_s == 3.0  # clipped to the source
    with pytest.raises(InvalidRequest, match="past the end"):
        P.source_region(5.0, 1.0, 1.0, source_length_s=3.0)
    with pytest.raises(InvalidRequest, match="play rate"):
        P.source_region(0.0, 1.0, 0.0)
    gap = P.timeline_span(item_position_s=10.0, offset_s=2.0, playrate=2.0, t0=11.0, t1=11.5)
    assert (gap.start_s, gap.end_s) == (4.0, 5.0)


def test_bwf_time_reference_and_tempo_maps():
    assert P.time_reference(61.5, 48_000) == 2_952_000 and P.timeline_seconds(2_952_000, 48_000) == 61.5
    with pytest.raises(InvalidRequest):
        P.time_reference(-1.0, 48_000)
    tempo = [(0, 120.0), (8, 60.0), (16, 180.0)]  # 4 s at 120, then 8 s at 60, then 180
    assert P.beats_to_seconds(4, tempo) == 2.0 and P.beats_to_seconds(12, tempo) == 8.0
    assert P.beats_to_seconds(19, tempo) == 12.0 + 3 * 60 / 180
    for beats in (0.0, 3.3, 8.0, 11.0, 17.25, 40.0):
        assert abs(P.seconds_to_beats(P.beats_to_seconds(beats, tempo), tempo) - beats) < 1e-9
    with pytest.raises(InvalidRequest, match="starts at beat 0"):
        P.beats_to_seconds(1, [(4, 120.0)])


@pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")
@pytest.mark.parametrize("suffix,subtype", [(".wav", "PCM_16"), (".flac", "PCM_24")])
def test_edit_in_place_keeps_the_format_and_undo_restores_it_bit_for_bit(tmp_path, monkeypatch, suffix, subtype):
    from engine import cli

    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path / "cache"))
    audio, sr = sf.read(str(VOICE))
    take = tmp_path / f"take{suffix}"
    sf.write(str(take), audio, sr, subtype=subtype)
    original = take.read_bytes()
    before = sf.info(str(take))
    assert cli.main(["edit", str(take), "--mode", "upsample", "--cutoff", "4000", "--steps", "1",
                     "--model", "builtin:random-tiny", "--seed", "3", "--device", "cpu"]) == 0
    after = sf.info(str(take))
    assert take.read_bytes() != original
    assert (after.samplerate, after.channels, after.frames, after.format, after.subtype) == \
        (before.samplerate, before.channels, before.frames, before.format, before.subtype)
    assert cli.main(["edit", str(take), "--undo"]) == 0
    assert take.read_bytes() == original
    assert cli.main(["edit", str(take), "--undo"]) == 2  # nothing left to undo: a clear error


def test_bitwig_insert_sends_drivenbymoss_addresses(tmp_path):
    from pythonosc.osc_message import OscMessage

    from daw_bridge.install import bitwig_insert

    clip = tmp_path / "clip.wav"
    sf.write(str(clip), np.zeros(480, np.float32), 48000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as moss:
        moss.bind(("127.0.0.1", 0))
        moss.settimeout(5)
        port = moss.getsockname()[1]
        assert bitwig_insert(str(clip), 2, 3, port=port) == "/track/2/clip/3/insertFile"
        msg = OscMessage(moss.recvfrom(65535)[0])
        assert (msg.address, list(msg.params)) == ("/track/2/clip/3/insertFile", [str(clip.resolve())])
        bitwig_insert(str(clip), port=port)
        assert OscMessage(moss.recvfrom(65535)[0]).address == "/clip/insertFile"
    for kw, needle in (({"track": 2}, "both --track and --slot"), ({"track": 9, "slot": 1}, "1-8")):
        with pytest.raises(BridgeError, match=needle):
            bitwig_insert(str(clip), port=port, **kw)
    with pytest.raises(BridgeError, match="does not exist"):
        bitwig_insert(str(tmp_path / "nope.wav"), port=port)
